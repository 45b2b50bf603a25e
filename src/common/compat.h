/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Compiler attributes and the few libc functions glibc lacks.  Every
 * other header of the project may include this one; it includes nothing
 * but <stddef.h>.
 */
#ifndef RELAYQ_COMMON_COMPAT_H
#define RELAYQ_COMMON_COMPAT_H

#include <stddef.h>

#define RQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RQ_NORETURN __attribute__((noreturn))
#define RQ_WUR __attribute__((warn_unused_result))
#define RQ_UNUSED __attribute__((unused))

#define RQ_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#ifndef HAVE_STRLCPY
size_t strlcpy(char *dst, const char *src, size_t dsize);
#endif
#ifndef HAVE_STRLCAT
size_t strlcat(char *dst, const char *src, size_t dsize);
#endif
#ifndef HAVE_EXPLICIT_BZERO
void explicit_bzero(void *p, size_t n);
#endif

#endif
