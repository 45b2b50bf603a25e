/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Allocation wrappers: out of memory is fatal (fatalx), so callers never
 * check for NULL.  Sizes that come from outside must be bounded by the
 * caller before they get here.
 */
#ifndef RELAYQ_COMMON_XMALLOC_H
#define RELAYQ_COMMON_XMALLOC_H

#include <stddef.h>

#include "common/compat.h"

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int xasprintf(char **ret, const char *fmt, ...) RQ_PRINTF(2, 3);

#endif
