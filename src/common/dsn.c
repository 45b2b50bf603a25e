/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * RFC 3461 xtext and ORCPT lengths (dsn.h).  Pure functions: nothing
 * here allocates or validates syntax; queue_env checks the values and
 * smtp_cmd formats the lines.
 */
#include "config.h"

#include "common/dsn.h"

#include <string.h>

/* True for a byte xtext writes as "+HH". */
static int
dsn_xtext_is_escaped(unsigned char c)
{
	return c < 0x21 || c > 0x7e || c == '+' || c == '=';
}

/* xtext-encodes s into out. */
int
dsn_xtext(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (dsn_xtext_is_escaped(c)) {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		}
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Returns the xtext-encoded length of s. */
size_t
dsn_xtext_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += dsn_xtext_is_escaped((unsigned char)*s) ? 3 : 1;
	return n;
}

/* Returns the wire length of an ORCPT value. */
size_t
dsn_orcpt_wire_len(const char *orcpt)
{
	size_t tlen = strcspn(orcpt, ";");

	if (orcpt[tlen] == '\0')
		return tlen;
	return tlen + 1 + dsn_xtext_len(orcpt + tlen + 1);
}
