/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for src/common: strict numbers, durations, sizes,
 * sanitising, bounded formatting and the bounded buffer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/strutil.h"
#include "tap.h"

#define REPL STR_REPLACEMENT

/*
 * str_clean_text(): untrusted text made one line of displayable UTF-8,
 * idempotent; and str_unsanitize() undoing str_sanitize() exactly.
 */
static void
test_clean_text(void)
{
	char out[64], again[64], all[256], esc[1100], back[260];
	size_t n;

	n = str_clean_text(out, sizeof(out),
	    "451 a\\b c\xe9\x64\te\xc2\x9b\x66", 16);
	is_str(out, "451 a\\b c" REPL "d e" REPL "f",
	    "clean: backslash kept, 0xe9 and C1 U+009B are U+FFFD, tab a "
	    "space");
	is_int(n, strlen(out), "clean: returns the length");
	str_clean_text(out, sizeof(out), "a\r\nb\x1b[31m\x7f\0z", 12);
	is_str(out, "a" REPL REPL "b" REPL "[31m" REPL REPL "z",
	    "clean: CR, LF, ESC, DEL and NUL are U+FFFD");
	str_clean_text(out, sizeof(out),
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	    "\xc2\xa0",
	    17);
	is_str(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0",
	    "clean: well-formed UTF-8 (and U+00A0) kept as it is");
	str_clean_text(out, sizeof(out), "\xc3(\xe2\x82\xed\xa0\x80\xc0\xaf",
	    9);
	is_str(out, REPL "(" REPL REPL REPL REPL REPL REPL REPL,
	    "clean: cut, surrogate and overlong sequences: U+FFFD a byte");
	str_clean_text(out, sizeof(out),
	    "a\xe2\x80\xae\x62\xe2\x80\xa8\xe2\x81\xa6\xe2\x80\x8f\xe2\x80\x94",
	    17);
	is_str(out, "a" REPL "b" REPL REPL REPL "\xe2\x80\x94",
	    "clean: U+202E, U+2028, U+2066, U+200F are U+FFFD, U+2014 kept");
	str_clean_text(out, 6, "ab\xc3\xa9\xc3\xa9", 6);
	is_str(out, "ab\xc3\xa9", "clean: truncated at a character boundary");
	str_clean_text(out, 5, "ab\xff", 3);
	is_str(out, "ab", "clean: a U+FFFD that does not fit is left out");
	str_clean_text(out, sizeof(out), "x\\\\xe9", 6);
	is_str(out, "x\\\\xe9", "clean: escapes are text, never undone");

	/* Idempotent: every byte, and every pair of bytes after 'a'. */
	for (int c = 0; c < 256; c++)
		all[c] = (char)c;
	{
		char big[1024], big2[1024];
		int same = 1;

		n = str_clean_text(big, sizeof(big), all, sizeof(all));
		ok(str_is_clean_text(big, n), "clean: the result is clean");
		str_clean_text(big2, sizeof(big2), big, n);
		ok(strcmp(big, big2) == 0,
		    "clean: cleaning twice changes nothing");
		for (int c = 0; c < 256 && same; c++)
			for (int d = 0; d < 256 && same; d++) {
				char in[3] = { 'a', (char)c, (char)d };

				n = str_clean_text(out, sizeof(out), in, 3);
				str_clean_text(again, sizeof(again), out, n);
				same = strcmp(out, again) == 0 &&
				    str_is_clean_text(out, n);
			}
		ok(same, "clean: idempotent for every two-byte input");
	}
	{
		static const char *const trim[][2] = {
			{ "ab\xe2\x82\xac", "ab\xe2\x82\xac" }, /* whole */
			{ "ab\xe2\x82", "ab" },			/* cut */
			{ "ab\xf0\x9f\x98", "ab" },		/* cut */
			{ "a\xf0\x9f\x98\x80", "a\xf0\x9f\x98\x80" },
			{ "", "" },
		};

		for (size_t i = 0; i < sizeof(trim) / sizeof(trim[0]); i++) {
			strlcpy(out, trim[i][0], sizeof(out));
			str_utf8_trim(out);
			is_str(out, trim[i][1],
			    "utf8_trim %zu: only a character cut short goes",
			    i);
		}
	}
	ok(!str_is_clean_text("a\tb", 3), "a tab is not clean");
	ok(!str_is_clean_text("\xe9", 1), "a lone 0xe9 is not clean");
	ok(str_is_clean_text(REPL " \\ ok", 8), "U+FFFD and a backslash are");

	/* str_unsanitize() inverts str_sanitize(), every byte included. */
	str_sanitize(esc, sizeof(esc), all, sizeof(all));
	is_int(str_sanitize_len(all, sizeof(all)), strlen(esc),
	    "sanitize_len is the escaped length");
	n = str_unsanitize(back, sizeof(back), esc, strlen(esc));
	ok(n == sizeof(all) && memcmp(back, all, n) == 0,
	    "unsanitize(sanitize(x)) == x for every byte");
	n = str_unsanitize(back, sizeof(back), "a\\b\\xzz\\x4", 10);
	is_str(back, "a\\b\\xzz\\x4", "unsanitize: other backslashes kept");
	n = str_unsanitize(back, sizeof(back), "\\\\\\\\xe9", 7);
	is_str(back, "\\\\xe9", "unsanitize undoes one level only");
}

int
main(void)
{
	long long v = -1;
	const char *errstr = NULL;
	char out[64];
	struct buf b;

	ok(str_to_ll("25", 0, 100, &v, &errstr) == 0 && v == 25, "25");
	ok(str_to_ll("025", 0, 100, &v, &errstr) == 0 && v == 25,
	    "025 is decimal, not octal");
	ok(str_to_ll("25x", 0, 100, &v, &errstr) == -1, "trailing junk");
	ok(str_to_ll("", 0, 100, &v, &errstr) == -1, "empty");
	ok(str_to_ll("-1", 0, 100, &v, &errstr) == -1, "sign refused");
	ok(str_to_ll("101", 0, 100, &v, &errstr) == -1 &&
		strcmp(errstr, "too large") == 0,
	    "range checked");
	ok(str_to_ll("99999999999999999999999", 0, 100, &v, &errstr) == -1,
	    "overflow refused");
	ok(str_to_duration("30", &v, &errstr) == 0 && v == 30, "30 = 30s");
	ok(str_to_duration("30s", &v, &errstr) == 0 && v == 30, "30s");
	ok(str_to_duration("5m", &v, &errstr) == 0 && v == 300, "5m");
	ok(str_to_duration("2h", &v, &errstr) == 0 && v == 7200, "2h");
	ok(str_to_duration("5d", &v, &errstr) == 0 && v == 432000, "5d");
	ok(str_to_duration("5w", &v, &errstr) == -1, "unknown unit");
	ok(str_to_duration("m", &v, &errstr) == -1, "unit alone");
	{
		long long n = -1, per = -1;

		ok(str_to_rate("30/1m", &n, &per, &errstr) == 0 && n == 30 &&
			per == 60,
		    "rate 30/1m");
		ok(str_to_rate("2000/1d", &n, &per, &errstr) == 0 &&
			n == 2000 && per == 86400,
		    "rate 2000/1d");
		ok(str_to_rate("5/1", &n, &per, &errstr) == 0 && n == 5 &&
			per == 1,
		    "rate 5/1: a bare duration is seconds");
		n = per = -1;
		ok(str_to_rate("30", &n, &per, &errstr) == -1 && n == -1 &&
			per == -1,
		    "rate without a slash refused, nothing set");
		ok(str_to_rate("0/1m", &n, &per, &errstr) == -1, "rate 0/1m");
		ok(str_to_rate("/1m", &n, &per, &errstr) == -1, "rate /1m");
		ok(str_to_rate("30/", &n, &per, &errstr) == -1, "rate 30/");
		ok(str_to_rate("30/0s", &n, &per, &errstr) == -1, "rate 30/0s");
		ok(str_to_rate("30/1w", &n, &per, &errstr) == -1, "rate 30/1w");
		ok(str_to_rate("30/367d", &n, &per, &errstr) == -1,
		    "rate 30/367d: longer than a year");
		ok(str_to_rate("-1/1m", &n, &per, &errstr) == -1, "rate -1/1m");
		ok(str_to_rate("30/1m/2", &n, &per, &errstr) == -1,
		    "rate 30/1m/2");
		ok(str_to_rate("1000000001/1d", &n, &per, &errstr) == -1,
		    "rate N above 10^9");
		ok(str_to_rate("30 / 1m", &n, &per, &errstr) == -1 &&
			strstr(errstr, "N/DURATION") != NULL,
		    "rate with blanks refused, the error names N/DURATION");
	}
	ok(str_to_size("64k", &v, &errstr) == 0 && v == 65536, "64k");
	ok(str_to_size("50M", &v, &errstr) == 0 && v == 52428800, "50M");

	str_sanitize(out, sizeof(out), "a\r\nb\\c\x01\xff", 8);
	is_str(out, "a\\x0d\\x0ab\\\\c\\x01\\xff", "control bytes escaped");
	str_sanitize(out, 8, "abcdefghijkl", 12);
	is_str(out, "abcdefg", "truncated to the buffer");
	str_sanitize(out, 6, "ab\x01", 3);
	is_str(out, "ab", "an escape is never cut in half");
	ok(str_has_ctl("a\tb", 3), "tab is a control character");
	ok(!str_has_ctl("ab", 2), "plain text has none");
	{
		char t[40];
		size_t found = 0;

		memset(t, 'a', sizeof(t));
		ok(!str_has_8bit(t, sizeof(t)), "ASCII has no 8-bit byte");
		/* In every place: the 8-byte words and the tail. */
		for (size_t i = 0; i < sizeof(t); i++) {
			t[i] = (char)0x80;
			found +=
			    str_has_8bit(t, sizeof(t)) && !str_has_8bit(t, i);
			t[i] = 'a';
		}
		ok(found == sizeof(t),
		    "an 8-bit byte is found in every place, and not before it");
		ok(!str_has_8bit(t, 0), "an empty run has none");
	}
	ok(rq_snprintf(out, 4, "%s", "abcd") == -1 && errno == ENAMETOOLONG,
	    "rq_snprintf reports truncation");
	ok(rq_snprintf(out, 5, "%s", "abcd") == 4, "rq_snprintf fits");

	{
		char cmd[] = "  /bin/x -a\tb  c ", many[80];
		char *argv[STR_ARGV_MAX + 1];

		is_int(str_split_words(cmd, argv, STR_ARGV_MAX), 4,
		    "split: four words");
		ok(strcmp(argv[0], "/bin/x") == 0 &&
			strcmp(argv[1], "-a") == 0 &&
			strcmp(argv[2], "b") == 0 &&
			strcmp(argv[3], "c") == 0 && argv[4] == NULL,
		    "split: words in order, NULL terminated");
		strlcpy(many, "a b c d", sizeof(many));
		is_int(str_split_words(many, argv, 3), -1, "split: too many");
		strlcpy(many, " \t ", sizeof(many));
		is_int(str_split_words(many, argv, 3), 0, "split: blank");
	}

	(void)setenv("TZ", "UTC", 1);
	tzset();
	str_localtime(out, sizeof(out), 86400 + 3661, STR_TIME_ZONE);
	is_str(out, "1970-01-02 01:01:01 +0000", "local time with zone");
	str_localtime(out, sizeof(out), 3661, STR_TIME_CLOCK);
	is_str(out, "01:01:01", "clock only");
	str_localtime(out, 8, 3661, STR_TIME_DATE);
	is_str(out, "3661", "too small for the date: seconds");

	buf_init(&b, 8);
	ok(buf_adds(&b, "abcd") == 0, "buf add");
	ok(buf_addf(&b, "%d", 1234) == 0 && b.len == 8, "buf addf to max");
	ok(buf_add(&b, "x", 1) == -1 && errno == EMSGSIZE, "buf max enforced");
	is_str(b.data, "abcd1234", "buf content intact after refusal");
	buf_drain(&b, 4);
	is_str(b.data, "1234", "buf drain");
	buf_free(&b);
	test_clean_text();
	return done_testing();
}
