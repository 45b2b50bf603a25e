/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Small string helpers: bounded formatting, strict number and duration
 * parsing, and sanitising untrusted text for logs and files.
 */
#ifndef RELAYQ_COMMON_STRUTIL_H
#define RELAYQ_COMMON_STRUTIL_H

#include <stddef.h>

#include "common/compat.h"

/* snprintf that returns -1 (errno ENAMETOOLONG) on truncation, else len. */
int rq_snprintf(char *buf, size_t bufsz, const char *fmt, ...) RQ_PRINTF(3, 4)
    RQ_WUR;

/*
 * Parses a decimal number in [min, max] with no sign or trailing junk.
 * Returns 0, or -1 with *errstr set ("invalid", "too small", "too large").
 */
int str_to_ll(const char *s, long long min, long long max, long long *out,
    const char **errstr);

/*
 * Parses a duration: digits with an optional s, m, h or d suffix (no
 * suffix means seconds).  Returns 0 or -1 with *errstr.
 */
int str_to_duration(const char *s, long long *secs, const char **errstr);

/* Largest N and DURATION of a rate (str_to_rate). */
#define STR_RATE_N_MAX 1000000000LL
#define STR_RATE_PER_MAX (366LL * 86400)

/*
 * Parses a rate "N/DURATION" (30/1m, 2000/1d): N in [1,
 * STR_RATE_N_MAX], DURATION as str_to_duration() reads it (a bare number
 * is seconds), in [1 s, STR_RATE_PER_MAX].  Returns 0 or -1 with *errstr;
 * *n and *per are set only on success.
 */
int str_to_rate(const char *s, long long *n, long long *per,
    const char **errstr);

/*
 * Parses a size: digits with an optional k, M or G suffix (powers of
 * 1024).  Returns 0 or -1 with *errstr.
 */
int str_to_size(const char *s, long long *bytes, const char **errstr);

/*
 * Copies src (srclen bytes, may hold anything) into dst as printable
 * ASCII: tab kept, other control and 8-bit bytes escaped as \xHH,
 * backslash doubled.  Always terminates dst; truncates at dstsz - 1.
 */
void str_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen);

/* Length str_sanitize() gives src without truncation (NUL excluded). */
size_t str_sanitize_len(const char *src, size_t srclen);

/*
 * Undoes str_sanitize(): "\\" becomes one backslash and "\xHH" the byte
 * HH; any other backslash is kept.  The result is never longer than src;
 * writes at most dstsz - 1 bytes and a NUL to dst and returns the length,
 * which may count NUL bytes (from "\x00").
 */
size_t str_unsanitize(char *dst, size_t dstsz, const char *src, size_t srclen);

/* U+FFFD, the replacement character, in UTF-8. */
#define STR_REPLACEMENT "\xef\xbf\xbd"

/*
 * Copies untrusted text (srclen bytes, may hold anything) into dst as one
 * line of displayable UTF-8: a well-formed UTF-8 character is kept, a tab
 * becomes a space, and any other control character (C0, DEL, C1 U+0080
 * to U+009F), the line separators U+2028 and U+2029, a bidirectional
 * control (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) or a byte
 * that is not part of a well-formed sequence becomes U+FFFD.  Nothing is escaped, so the result needs each output's own
 * encoding (JSON, a Prometheus label...) and nothing more.  Truncates at
 * a character boundary to fit dstsz - 1 bytes; always terminates dst.
 * Idempotent: a clean text comes out unchanged (given the room).
 * Returns the length written.
 */
size_t str_clean_text(char *dst, size_t dstsz, const char *src, size_t srclen);

/* Returns nonzero when str_clean_text() would leave s (len bytes) as is. */
int str_is_clean_text(const char *s, size_t len);

/*
 * Cuts s (NUL-terminated) before its last UTF-8 character when that one
 * is not whole, as a byte-bounded copy (snprintf) may leave it.
 */
void str_utf8_trim(char *s);

/* Returns nonzero when s has a byte < 0x20 or 0x7f (tab included). */
int str_has_ctl(const char *s, size_t len);

/*
 * Returns the length (1 to 4) of the well-formed UTF-8 sequence at s (n
 * > 0 bytes), or 0 when s does not start one (a stray continuation
 * byte, an overlong form, a surrogate, beyond U+10FFFF, cut short).
 */
size_t str_utf8_len(const unsigned char *s, size_t n);

struct sockaddr;

/*
 * Formats the address of sa (AF_INET or AF_INET6, no port) into buf
 * (INET6_ADDRSTRLEN bytes suffice); "?" when it cannot.
 */
void str_sockaddr(const struct sockaddr *sa, char *buf, size_t bufsz);

/* Returns nonzero when one of the n bytes at s is >= 0x80. */
int str_has_8bit(const char *s, size_t n);

/* ASCII case-insensitive prefix test; returns nonzero on match. */
int str_has_prefix_ci(const char *s, const char *prefix);

/* str_localtime() formats. */
enum str_time {
	STR_TIME_DATE,	/* 2026-11-28 22:50:01 */
	STR_TIME_CLOCK, /* 22:50:01 */
	STR_TIME_ZONE,	/* 2026-11-28 22:50:01 +0000 */
};

/*
 * Formats t (seconds since the epoch) as local time in format how into
 * buf; falls back to the decimal number of seconds.  Always terminates
 * buf.
 */
void str_localtime(char *buf, size_t bufsz, long long t, enum str_time how);

/* Most words in a command line from the config (password_command...). */
#define STR_ARGV_MAX 32

/*
 * Splits s in place on blanks (space, tab) into argv, NULL terminated;
 * argv must hold max + 1 pointers into s.  No quoting and no shell: a
 * command line from the config is run with execvp(argv[0], argv).
 * Returns the word count, or -1 when there are more than max words.
 */
int str_split_words(char *s, char **argv, int max);

#endif
