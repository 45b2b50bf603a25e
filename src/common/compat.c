/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Fallbacks for strlcpy, strlcat and explicit_bzero on C libraries that
 * lack them (glibc before 2.38).  Compiled to nothing where they exist.
 */
#include "config.h"

#include "common/compat.h"

#include <string.h>

#ifndef HAVE_STRLCPY
/* Copy src into dst of size dsize, always terminating; returns strlen(src). */
size_t
strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t len = strlen(src);

	if (dsize > 0) {
		size_t n = len < dsize - 1 ? len : dsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif

#ifndef HAVE_STRLCAT
/* Append src to dst of size dsize; returns the length it tried to make. */
size_t
strlcat(char *dst, const char *src, size_t dsize)
{
	size_t dlen = strnlen(dst, dsize);

	if (dlen == dsize)
		return dsize + strlen(src);
	return dlen + strlcpy(dst + dlen, src, dsize - dlen);
}
#endif

#ifndef HAVE_EXPLICIT_BZERO
/* Zero n bytes at p in a way the compiler may not elide. */
void
explicit_bzero(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}
#endif
