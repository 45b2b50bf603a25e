/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the SMTP reply parser: well-formed single and multiline
 * replies, enhanced status codes, every rejected form (codes, separators,
 * mixed codes, length and line-count limits), control bytes in the text
 * (accepted, stored as U+FFFD), text truncation, line access and the
 * one-line summary.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_reply.h"
#include "tap.h"

/*
 * Feeds the '\n'-separated lines of s into a fresh r and returns the last
 * result; *errstr gets the error, if any.
 */
static int
feed(struct smtp_reply *r, const char *s, const char **errstr)
{
	const char *p = s, *nl;
	int rv = 0;

	smtp_reply_init(r);
	*errstr = NULL;
	for (;;) {
		nl = strchr(p, '\n');
		rv = smtp_reply_feed(r, p, nl ? (size_t)(nl - p) : strlen(p),
		    errstr);
		if (rv != 0 || nl == NULL)
			return rv;
		p = nl + 1;
	}
}

/* Feeds a single line of len bytes into a fresh r. */
static int
feed1(struct smtp_reply *r, const char *line, size_t len, const char **errstr)
{
	smtp_reply_init(r);
	*errstr = NULL;
	return smtp_reply_feed(r, line, len, errstr);
}

/* Returns line i of r as a NUL-terminated string, or "(none)". */
static const char *
line_of(const struct smtp_reply *r, size_t i)
{
	static char buf[SMTP_REPLY_LINE_MAX + 1];
	const char *p;
	size_t len;

	if (smtp_reply_line(r, i, &p, &len) == -1)
		return "(none)";
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/* Single-line replies and the bare form. */
static void
test_single(void)
{
	struct smtp_reply r;
	const char *err;
	char sum[256];

	is_int(feed(&r, "250 OK", &err), 1, "single line completes");
	is_int(r.code, 250, "code");
	is_int(r.nlines, 1, "one line");
	ok(r.complete, "complete flag");
	is_str(r.text, "OK", "text");
	is_str(r.esc, "", "no esc");
	is_str(line_of(&r, 0), "OK", "line 0");
	is_str(line_of(&r, 1), "(none)", "no line 1");

	is_int(feed(&r, "250", &err), 1, "bare 250 completes");
	is_int(r.code, 250, "bare code");
	is_str(r.text, "", "bare text empty");
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "250", "bare summary");

	is_int(feed(&r, "250 ", &err), 1, "250 with space completes");
	is_str(r.text, "", "empty text");

	is_int(feed(&r, "220 mx.example.org ESMTP ready\r", &err), 1,
	    "stray CR tolerated");
	is_str(r.text, "mx.example.org ESMTP ready", "CR stripped");

	is_int(feed(&r, "250 a\tb", &err), 1, "tab allowed");
	is_str(r.text, "a\tb", "tab kept");

	is_int(feed(&r, "599 x", &err), 1, "599 accepted");
	is_int(feed(&r, "200 x", &err), 1, "200 accepted");
	is_int(feed(&r, "354 go ahead", &err), 1, "354 accepted");
	is_int(feed(&r, "250 caf\xc3\xa9", &err), 1, "8-bit text accepted");
}

/* Multiline replies and line access. */
static void
test_multi(void)
{
	struct smtp_reply r;
	const char *err;
	char sum[256];

	smtp_reply_init(&r);
	is_int(smtp_reply_feed(&r, "250-mx.example.org", 18, &err), 0,
	    "continuation needs more");
	ok(!r.complete, "not complete yet");
	is_int(smtp_reply_feed(&r, "250-PIPELINING", 14, &err), 0,
	    "second continuation");
	is_int(smtp_reply_feed(&r, "250 SIZE 1000", 13, &err), 1,
	    "final line completes");
	is_int(r.nlines, 3, "three lines");
	is_str(r.text, "mx.example.org\nPIPELINING\nSIZE 1000", "joined text");
	is_int(r.textlen, strlen(r.text), "textlen");
	is_str(line_of(&r, 0), "mx.example.org", "line 0");
	is_str(line_of(&r, 1), "PIPELINING", "line 1");
	is_str(line_of(&r, 2), "SIZE 1000", "line 2");
	is_str(line_of(&r, 3), "(none)", "line 3 absent");
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "250 mx.example.org", "summary uses the first line");

	is_int(feed(&r, "220-first\n220-\n220", &err), 1,
	    "empty continuation and bare final");
	is_str(r.text, "first\n\n", "empty lines kept");
	is_str(line_of(&r, 1), "", "empty line 1");
	is_str(line_of(&r, 2), "", "empty line 2");

	is_int(feed(&r, "250 done", &err), 1, "complete");
	is_int(smtp_reply_feed(&r, "250 again", 9, &err), -1,
	    "feeding a complete reply fails");
	is_str(err, "reply already complete", "errstr");
}

/* Enhanced status codes on the first line. */
static void
test_esc(void)
{
	struct smtp_reply r;
	const char *err;
	char sum[256];

	feed(&r, "550 5.1.1 <a@example.org>: User unknown", &err);
	is_str(r.esc, "5.1.1", "5.1.1");
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "550 5.1.1 <a@example.org>: User unknown", "summary");
	feed(&r, "250 2.0.0", &err);
	is_str(r.esc, "2.0.0", "esc alone");
	feed(&r, "451 4.7.1\tgreylisted", &err);
	is_str(r.esc, "4.7.1", "esc followed by tab");
	feed(&r, "552 5.123.456 too big", &err);
	is_str(r.esc, "5.123.456", "three-digit subject and detail");
	feed(&r, "550 4.1.1 mismatch", &err);
	is_str(r.esc, "", "class must match the code");
	feed(&r, "550 5.1234.1 x", &err);
	is_str(r.esc, "", "four-digit subject refused");
	feed(&r, "550 5.1.1234 x", &err);
	is_str(r.esc, "", "four-digit detail refused");
	feed(&r, "550 5.1.1x", &err);
	is_str(r.esc, "", "junk after the esc");
	feed(&r, "550 5.1. x", &err);
	is_str(r.esc, "", "missing detail");
	feed(&r, "550 5..1 x", &err);
	is_str(r.esc, "", "missing subject");
	feed(&r, "550 x 5.1.1", &err);
	is_str(r.esc, "", "not at the start");
	feed(&r, "550-First line\n550 5.1.1 second", &err);
	is_str(r.esc, "", "only the first line counts");
	feed(&r, "550-5.7.1 first\n550 5.7.1 second", &err);
	is_str(r.esc, "5.7.1", "multiline esc");
}

/* Every malformed form is refused, and the error sticks. */
static void
test_errors(void)
{
	struct smtp_reply r;
	const char *err;

	is_int(feed(&r, "250-a\n251 b", &err), -1, "mismatched codes");
	is_str(err, "reply code changed", "errstr");
	is_int(feed(&r, "250-a\n550 b", &err), -1, "mismatched class");
	is_int(feed(&r, "199 x", &err), -1, "1xx refused");
	is_str(err, "bad reply code", "errstr");
	is_int(feed(&r, "600 x", &err), -1, "600 refused");
	is_int(feed(&r, "099 x", &err), -1, "099 refused");
	is_int(feed(&r, "2a0 x", &err), -1, "letter in code");
	is_int(feed(&r, "25 x", &err), -1, "two-digit code");
	is_int(feed(&r, "25", &err), -1, "too short");
	is_str(err, "reply line too short", "errstr");
	is_int(feed(&r, "", &err), -1, "empty line");
	is_int(feed(&r, "250x", &err), -1, "bad separator");
	is_str(err, "bad reply separator", "errstr");
	is_int(feed(&r, "2500 x", &err), -1, "four digits");
	is_int(feed(&r, "250\tx", &err), -1, "tab separator");
	is_int(feed(&r, "hello world", &err), -1, "lowercase garbage");
	is_int(feed(&r, "ehlo", &err), -1, "short garbage");
	is_int(feed(&r, "+OK pop3", &err), -1, "POP3 greeting");
	is_int(feed(&r, "HTTP/1.1 200 OK", &err), -1, "HTTP status line");
	is_int(feed1(&r, "250\0", 4, &err), -1, "NUL separator refused");
	is_str(err, "bad reply separator", "errstr");
	is_int(feed(&r, "25\x1b x", &err), -1, "ESC in the code refused");
	is_str(err, "bad reply code", "errstr");

	is_int(feed(&r, "250-a\n25x b", &err), -1, "bad second line");
	is_int(smtp_reply_feed(&r, "250 ok", 6, &err), -1,
	    "failure sticks until init");
	is_str(err, "reply parser in error state", "errstr");
	smtp_reply_init(&r);
	is_int(smtp_reply_feed(&r, "250 ok", 6, &err), 1, "init clears it");
}

#define FFFD "\xef\xbf\xbd"

/*
 * A control byte in the text does not make a reply malformed: its code
 * counts (a 250 after the final dot refused for an ESC was sent again,
 * o14 F4), and the byte is stored as U+FFFD.
 */
static void
test_controls(void)
{
	static char line[SMTP_REPLY_LINE_MAX];
	struct smtp_reply r;
	const char *err, *p;
	char sum[256];
	size_t len;
	static const struct {
		const char *in;
		size_t len;
		int code;
		const char *text, *what;
	} cases[] = {
		{ "250 ok\x1b[2J", 10, 250, "ok" FFFD "[2J", "ESC" },
		{ "250 2.0.0 a\0b", 13, 250, "2.0.0 a" FFFD "b", "NUL" },
		{ "550 5.7.1 no\x01\x7f!", 15, 550, "5.7.1 no" FFFD FFFD "!",
		    "SOH and DEL" },
		{ "451 a\rb", 7, 451, "a" FFFD "b", "inner CR" },
		{ "250 a\r\r", 7, 250, "a" FFFD, "two CRs: one stray dropped" },
		{ "250 a\nb", 7, 250, "a" FFFD "b", "inner LF" },
		{ "250 a\tb", 7, 250, "a\tb", "tab kept" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(feed1(&r, cases[i].in, cases[i].len, &err), 1,
		    "%s: a reply", cases[i].what);
		is_int(r.code, cases[i].code, "%s: its code counts",
		    cases[i].what);
		is_str(r.text, cases[i].text, "%s: control bytes as U+FFFD",
		    cases[i].what);
	}
	is_int(feed1(&r, "250 2.0.0 a\0b", 13, &err), 1, "NUL again");
	is_str(r.esc, "2.0.0", "its enhanced code");
	is_int(r.textlen, 11, "its length");
	is_int(feed1(&r, "250 a\nb", 7, &err), 1, "inner LF again");
	is_int(r.nwhole, 1, "one whole line");
	is_int(feed(&r, "250-x\x1b\n250 y\x07", &err), 1,
	    "controls in a multi-line reply");
	is_int(r.nwhole, 2, "both lines whole");
	ok(smtp_reply_line(&r, 1, &p, &len) == 0 && len == 4 &&
		memcmp(p, "y\xef\xbf\xbd", 4) == 0,
	    "second line with U+FFFD");
	feed(&r, "550 5.7.1 bad\x1b[31m text", &err);
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "550 5.7.1 bad\xef\xbf\xbd[31m text",
	    "the summary is the clean text");

	/* Expanded controls still fit in, or are cut at, the text limit. */
	memset(line, 0x1b, sizeof(line));
	memcpy(line, "250 ", 4);
	is_int(feed1(&r, line, sizeof(line), &err), 1, "a line of 2044 ESCs");
	is_int(r.textlen, (SMTP_REPLY_TEXT_MAX - 1) / 3 * 3,
	    "cut before a U+FFFD that does not fit");
	is_int(r.nwhole, 0, "not whole");
	is_int(strlen(r.text), r.textlen, "no NUL inside");
}

/* Line length, line count and text truncation limits. */
static void
test_limits(void)
{
	static char line[SMTP_REPLY_LINE_MAX + 2];
	struct smtp_reply r;
	const char *err, *p;
	size_t len, i;
	int rv = 0;

	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	is_int(feed1(&r, line, SMTP_REPLY_LINE_MAX, &err), 1,
	    "line of exactly the maximum");
	is_int(r.textlen, SMTP_REPLY_LINE_MAX - 4, "its text");
	is_int(feed1(&r, line, SMTP_REPLY_LINE_MAX + 1, &err), -1,
	    "one byte over the maximum");
	is_str(err, "reply line too long", "errstr");
	line[SMTP_REPLY_LINE_MAX] = '\r';
	is_int(feed1(&r, line, SMTP_REPLY_LINE_MAX + 1, &err), -1,
	    "the limit counts a stray CR");

	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
		rv |= smtp_reply_feed(&r, "250-x", 5, &err);
	is_int(rv, 0, "99 continuation lines");
	is_int(smtp_reply_feed(&r, "250 end", 7, &err), 1,
	    "100th line may be final");
	is_int(r.nlines, SMTP_REPLY_LINES_MAX, "100 lines");

	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		rv |= smtp_reply_feed(&r, "250-x", 5, &err);
	is_int(rv, 0, "100 continuation lines");
	is_int(smtp_reply_feed(&r, "250 end", 7, &err), -1,
	    "101st line refused");
	is_str(err, "too many reply lines", "errstr");

	/* 3 lines of 2000 text bytes overflow the 4096-byte text */
	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	is_int(smtp_reply_feed(&r, line, 2004, &err), 0, "long line 1");
	is_int(smtp_reply_feed(&r, line, 2004, &err), 0, "long line 2");
	line[3] = ' ';
	is_int(smtp_reply_feed(&r, line, 2004, &err), 1,
	    "long final line still completes");
	is_int(r.textlen, SMTP_REPLY_TEXT_MAX - 1, "text truncated");
	is_int(strlen(r.text), SMTP_REPLY_TEXT_MAX - 1, "text terminated");
	is_int(r.nlines, 3, "all lines counted");
	ok(smtp_reply_line(&r, 1, &p, &len) == 0 && len == 2000,
	    "whole line 1 available");
	is_int(smtp_reply_line(&r, 2, &p, &len), -1, "cut line 2 withheld");

	smtp_reply_init(&r);
	memcpy(line, "250-", 4);
	for (i = 0; i < 50; i++)
		rv |= smtp_reply_feed(&r, line, 200, &err);
	is_int(rv, 0, "50 lines of 196 bytes");
	is_int(smtp_reply_feed(&r, "250 last", 8, &err), 1, "then final");
	is_int(r.textlen, SMTP_REPLY_TEXT_MAX - 1, "truncated at the max");
	is_int(r.nwhole, 20, "20 whole lines kept");
	is_int(smtp_reply_line(&r, 19, &p, &len), 0, "line 19 whole");
	is_int(len, 196, "line 19 length");
	is_int(smtp_reply_line(&r, 20, &p, &len), -1, "line 20 cut");
	is_int(smtp_reply_line(&r, 50, &p, &len), -1, "final line cut");
}

/* The summary is one clean (not escaped), bounded line. */
static void
test_summary(void)
{
	struct smtp_reply r;
	const char *err;
	char sum[256], tiny[8];

	feed(&r, "554 bad\tthing caf\xc3\xa9 \\ back", &err);
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "554 bad thing caf\xc3\xa9 \\ back",
	    "UTF-8 and a backslash kept as they are, a tab is a space");
	feed(&r, "451 4.3.0 a\\b c\xe9\x64 \xc2\x9b", &err);
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "451 4.3.0 a\\b c\xef\xbf\xbd\x64 \xef\xbf\xbd",
	    "a byte that is not UTF-8 and a C1 control are U+FFFD, once");
	feed(&r, "250 \xc3\xa9\xc3\xa9", &err);
	smtp_reply_summary(&r, tiny, 7);
	is_str(tiny, "250 \xc3\xa9", "truncated at a character boundary");
	feed(&r, "250 0123456789", &err);
	smtp_reply_summary(&r, tiny, sizeof(tiny));
	is_str(tiny, "250 012", "truncated summary");
	smtp_reply_summary(&r, tiny, 3);
	is_str(tiny, "25", "tiny buffer keeps part of the code");
	smtp_reply_summary(&r, tiny, 0);
	ok(1, "zero-size buffer is a no-op");
	smtp_reply_init(&r);
	smtp_reply_summary(&r, sum, sizeof(sum));
	is_str(sum, "(no reply)", "empty reply");
}

/* Runs every test and prints the TAP plan. */
int
main(void)
{
	test_single();
	test_multi();
	test_esc();
	test_errors();
	test_controls();
	test_limits();
	test_summary();
	return done_testing();
}
