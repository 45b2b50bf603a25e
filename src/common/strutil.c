/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * String helpers.  Nothing here allocates.
 */
#include "config.h"

#include "common/strutil.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Bounded snprintf: -1 on truncation or error. */
int
rq_snprintf(char *buf, size_t bufsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, bufsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

/* Strict decimal parser with range check. */
int
str_to_ll(const char *s, long long min, long long max, long long *out,
    const char **errstr)
{
	long long v = 0;
	const char *p = s;

	if (s == NULL || *s == '\0') {
		*errstr = "invalid";
		return -1;
	}
	for (; *p != '\0'; p++) {
		int d;

		if (*p < '0' || *p > '9') {
			*errstr = "invalid";
			return -1;
		}
		d = *p - '0';
		if (v > (LLONG_MAX - d) / 10) {
			*errstr = "too large";
			return -1;
		}
		v = v * 10 + d;
	}
	if (v < min) {
		*errstr = "too small";
		return -1;
	}
	if (v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

/* Parses digits with a one-letter unit suffix; mult gives the factors. */
static int
str_to_scaled(const char *s, const char *units, const long long *mult,
    long long *out, const char **errstr)
{
	char num[32];
	size_t len;
	long long v, m = 1;
	const char *u;

	if (s == NULL || (len = strlen(s)) == 0 || len >= sizeof(num)) {
		*errstr = "invalid";
		return -1;
	}
	memcpy(num, s, len + 1);
	if ((u = strchr(units, num[len - 1])) != NULL && num[len - 1] != '\0') {
		m = mult[u - units];
		num[len - 1] = '\0';
	}
	if (str_to_ll(num, 0, LLONG_MAX / m, &v, errstr) == -1)
		return -1;
	*out = v * m;
	return 0;
}

/* Parses "30", "30s", "5m", "1h", "5d". */
int
str_to_duration(const char *s, long long *secs, const char **errstr)
{
	static const long long mult[] = { 1, 60, 3600, 86400 };

	return str_to_scaled(s, "smhd", mult, secs, errstr);
}

/* Parses "30/1m", "2000/1d", "5/1" (N per DURATION). */
int
str_to_rate(const char *s, long long *n, long long *per, const char **errstr)
{
	char num[32];
	const char *slash;
	long long v, d;

	if (s == NULL || (slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(num)) {
		*errstr = "expected N/DURATION, e.g. 30/1m or 2000/1d";
		return -1;
	}
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (str_to_ll(num, 1, STR_RATE_N_MAX, &v, errstr) == -1) {
		*errstr = "N of N/DURATION must be a number from 1 to 10^9";
		return -1;
	}
	if (str_to_duration(slash + 1, &d, errstr) == -1 || d < 1 ||
	    d > STR_RATE_PER_MAX) {
		*errstr = "DURATION of N/DURATION must be 1s to 366d (30s, 1m, "
			  "1h, 1d)";
		return -1;
	}
	*n = v;
	*per = d;
	return 0;
}

/* Parses "1000", "64k", "50M", "1G". */
int
str_to_size(const char *s, long long *bytes, const char **errstr)
{
	static const long long mult[] = { 1024, 1024, 1048576, 1048576,
		1073741824, 1073741824 };

	return str_to_scaled(s, "kKmMgG", mult, bytes, errstr);
}

/* Escapes control and 8-bit bytes so the result is one printable line. */
void
str_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstsz == 0)
		return;
	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\t' || (c >= 0x20 && c < 0x7f && c != '\\')) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else {
			if (o + 4 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

/* Length of str_sanitize()'s output for src, were dst large enough. */
size_t
str_sanitize_len(const char *src, size_t srclen)
{
	size_t n = 0;

	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\t' || (c >= 0x20 && c < 0x7f && c != '\\'))
			n += 1;
		else if (c == '\\')
			n += 2;
		else
			n += 4;
	}
	return n;
}

/* Value of hex digit c, or -1. */
static int
str_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undoes str_sanitize(); other backslashes are kept as they are. */
size_t
str_unsanitize(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	size_t o = 0;
	int hi, lo;

	if (dstsz == 0)
		return 0;
	for (size_t i = 0; i < srclen && o + 1 < dstsz; i++) {
		if (src[i] == '\\' && i + 1 < srclen && src[i + 1] == '\\') {
			dst[o++] = '\\';
			i++;
		} else if (src[i] == '\\' && i + 3 < srclen &&
		    src[i + 1] == 'x' &&
		    (hi = str_hex_digit(src[i + 2])) != -1 &&
		    (lo = str_hex_digit(src[i + 3])) != -1) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else
			dst[o++] = src[i];
	}
	dst[o] = '\0';
	return o;
}

/*
 * True for the 3-byte UTF-8 character at u that moves text on a
 * terminal: U+2028 and U+2029 (line and paragraph separators) and the
 * bidirectional controls U+200E, U+200F, U+202A to U+202E and U+2066 to
 * U+2069 (which can make a line display otherwise than it reads).
 */
static int
str_is_layout_char(const unsigned char *u)
{
	if (u[0] != 0xe2)
		return 0;
	if (u[1] == 0x80)
		return u[2] == 0x8e || u[2] == 0x8f ||
		    (u[2] >= 0xa8 && u[2] <= 0xae);
	return u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9;
}

/*
 * One character of str_clean_text(): sets *in to the bytes of s (n > 0)
 * it takes and *outlen to the length of what replaces them, returned
 * (s itself when they are kept).
 */
static const char *
str_clean_step(const char *s, size_t n, size_t *in, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = str_utf8_len(u, n);

	*in = k > 0 ? k : 1;
	if (k == 1 && u[0] == '\t') {
		*outlen = 1;
		return " ";
	}
	/*
	 * Not UTF-8; C0 or DEL; C1 (U+0080 to U+009F: 0xc2 0x80..0x9f);
	 * a line separator or a bidirectional control.
	 */
	if (k == 0 || (k == 1 && (u[0] < 0x20 || u[0] == 0x7f)) ||
	    (k == 2 && u[0] == 0xc2 && u[1] < 0xa0) ||
	    (k == 3 && str_is_layout_char(u))) {
		*outlen = sizeof(STR_REPLACEMENT) - 1;
		return STR_REPLACEMENT;
	}
	*outlen = k;
	return s;
}

/* Copies untrusted text as one line of displayable UTF-8. */
size_t
str_clean_text(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	const char *rep;
	size_t o = 0, in, len;

	if (dstsz == 0)
		return 0;
	for (size_t i = 0; i < srclen; i += in) {
		rep = str_clean_step(src + i, srclen - i, &in, &len);
		if (o + len >= dstsz)
			break;
		memcpy(dst + o, rep, len);
		o += len;
	}
	dst[o] = '\0';
	return o;
}

/* True when str_clean_text() keeps s as it is. */
int
str_is_clean_text(const char *s, size_t len)
{
	size_t in, outlen;

	for (size_t i = 0; i < len; i += in)
		if (str_clean_step(s + i, len - i, &in, &outlen) != s + i)
			return 0;
	return 1;
}

/* Cuts a last UTF-8 character that was cut short. */
void
str_utf8_trim(char *s)
{
	size_t n = strlen(s), i = n;

	/* Back over continuation bytes to the last lead byte (at most 3). */
	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xc0 &&
	    str_utf8_len((const unsigned char *)s + i - 1, n - i + 1) == 0)
		s[i - 1] = '\0';
}

/* Control-character test. */
int
str_has_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Length of the UTF-8 sequence at s. */
size_t
str_utf8_len(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fu;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Formats the IP address of a socket address. */
void
str_sockaddr(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	const void *a;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)bufsz) == NULL)
		strlcpy(buf, "?", bufsz);
}

/* True when one of the n bytes at s has its high bit set (8 at a time). */
int
str_has_8bit(const char *s, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x8080808080808080ULL) != 0;
}

/* Case-insensitive ASCII prefix test. */
int
str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Splits a command line on blanks, in place. */
int
str_split_words(char *s, char **argv, int max)
{
	int n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		if (n == max)
			return -1;
		argv[n++] = s;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
	}
	argv[n] = NULL;
	return n;
}

/* Formats a local time, or the number of seconds when it cannot. */
void
str_localtime(char *buf, size_t bufsz, long long t, enum str_time how)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (bufsz == 0)
		return;
	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, bufsz,
		how == STR_TIME_CLOCK	   ? "%H:%M:%S"
		    : how == STR_TIME_ZONE ? "%Y-%m-%d %H:%M:%S %z"
					   : "%Y-%m-%d %H:%M:%S",
		&tm) == 0)
		(void)snprintf(buf, bufsz, "%lld", t);
}
