/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for queue_state: the round trip, cleaning of hostile reply
 * text (made safe once, escaped in the file once, never shown escaped),
 * files of older versions, torn files (every truncation) and altered
 * files rejected, and a recipient count that does not match the message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_state.h"
#include "tap.h"

/* ok() whose condition is evaluated before the message arguments. */
#define okv(cond, ...)                     \
	do {                               \
		int okv_pass = !!(cond);   \
		ok(okv_pass, __VA_ARGS__); \
	} while (0)

static const char id1[] = "0194A3F2C0004D1E2A7B";

/* Fills s with a state of three recipients in different states. */
static void
make_state(struct queue_state *s)
{
	queue_state_init(s, id1, 3);
	s->tries = 4;
	s->first_try = 1700000000;
	s->last_try = 1700000600;
	s->next_try = 1700001800;
	s->held = 1;
	s->warned = 1700000900;
	queue_state_set_error(s, "451 4.7.1 try later");
	queue_state_set_rcpt(s, 0, QUEUE_RCPT_DONE, "250 2.1.5 ok");
	queue_state_set_rcpt(s, 1, QUEUE_RCPT_FAILED,
	    "550 5.1.1 no such user\r\nMAIL FROM:<evil@x>");
	queue_state_set_rcpt(s, 2, QUEUE_RCPT_PENDING, NULL);
}

/* Parses an image; returns 0 or -1 and frees the result. */
static int
try_parse(const char *img, size_t len, size_t nrcpt, const char **errstr)
{
	struct queue_state s;
	int r;

	*errstr = "";
	r = queue_state_parse(&s, img, len, nrcpt, errstr);
	queue_state_free(&s);
	return r;
}

static void
test_round_trip(void)
{
	struct queue_state s, p;
	const char *errstr = "";
	char *img;
	size_t len;

	make_state(&s);
	is_int(queue_state_pending(&s), 1, "one recipient pending");
	ok(strchr(s.rcpt_reply[1], '\r') == NULL &&
		strchr(s.rcpt_reply[1], '\n') == NULL,
	    "CR/LF in a reply is replaced: %s", s.rcpt_reply[1]);
	okv(queue_state_format(&s, &img, &len) == 0, "format");
	okv(queue_state_parse(&p, img, len, 3, &errstr) == 0, "parse (%s)",
	    errstr);
	is_str(p.id, id1, "id");
	is_int(p.tries, 4, "tries");
	is_int(p.first_try, 1700000000, "first try");
	is_int(p.last_try, 1700000600, "last try");
	is_int(p.next_try, 1700001800, "next try");
	is_int(p.held, 1, "held");
	is_int(p.warned, 1700000900, "delay notice time");
	is_str(p.last_error, "451 4.7.1 try later", "last error");
	is_int(p.rcpt_st[0], QUEUE_RCPT_DONE, "recipient 0 done");
	is_int(p.rcpt_st[1], QUEUE_RCPT_FAILED, "recipient 1 failed");
	is_int(p.rcpt_st[2], QUEUE_RCPT_PENDING, "recipient 2 pending");
	is_str(p.rcpt_reply[0], "250 2.1.5 ok", "reply 0");
	is_str(p.rcpt_reply[1], s.rcpt_reply[1], "reply 1 (cleaned)");
	ok(p.rcpt_reply[2] == NULL, "no reply 2");
	queue_state_free(&p);
	free(img);

	/* An empty reply is kept apart from no reply. */
	queue_state_set_rcpt(&s, 2, QUEUE_RCPT_PENDING, "");
	queue_state_set_error(&s, NULL);
	okv(queue_state_format(&s, &img, &len) == 0 &&
		queue_state_parse(&p, img, len, 3, &errstr) == 0,
	    "round trip with empty texts");
	ok(p.rcpt_reply[2] != NULL && *p.rcpt_reply[2] == '\0',
	    "empty reply kept");
	is_str(p.last_error, "", "no last error");
	queue_state_free(&p);
	free(img);
	queue_state_free(&s);

	/* A fresh state: all pending, nothing else. */
	queue_state_init(&s, id1, 2);
	okv(queue_state_format(&s, &img, &len) == 0 &&
		queue_state_parse(&p, img, len, 2, &errstr) == 0,
	    "fresh state round trip");
	is_int(queue_state_pending(&p), 2, "all pending");
	is_int(p.held, 0, "not held");
	queue_state_free(&p);
	free(img);
	queue_state_free(&s);
}

static void
test_long_text(void)
{
	struct queue_state s;
	char *big = xmalloc(5000);

	memset(big, 'x', 4999);
	big[4999] = '\0';
	queue_state_init(&s, id1, 1);
	queue_state_set_error(&s, big);
	ok(strlen(s.last_error) <= QUEUE_STATE_TEXT_MAX,
	    "long error truncated to %d", QUEUE_STATE_TEXT_MAX);
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_PENDING, big);
	ok(strlen(s.rcpt_reply[0]) <= QUEUE_STATE_TEXT_MAX,
	    "long reply truncated");
	queue_state_free(&s);
	free(big);
}

/*
 * Builds a state image with the given magic, optional D record and X
 * value x (as on disk: escaped).
 */
static size_t
make_image(char *out, size_t outsz, const char *magic, const char *drec,
    const char *x)
{
	char body[1024];
	int n;

	n = snprintf(body, sizeof(body),
	    "%sI20:%s\nN1:2\nA10:1700000000\nL10:1700000600\n"
	    "W10:1700001800\nH1:0\n%sX%zu:%s\nP3:0 p\n",
	    magic, id1, drec, strlen(x), x);
	return (size_t)snprintf(out, outsz, "%sE8:%08lx\n", body,
	    (unsigned long)queue_env_crc32(0, body, (size_t)n));
}

#define REPL "\xef\xbf\xbd"

/*
 * A hostile reply is made clean once: a backslash stays one backslash, a
 * byte that is not UTF-8 and a control character become U+FFFD, a tab a
 * space; setting a clean text again changes nothing; the file holds it
 * escaped once and the parser gives it back as it was.
 */
static void
test_clean(void)
{
	static const char raw[] = "451 4.3.0 a\\b c\xe9\x64\te\xc2\x9b\x66";
	static const char want[] = "451 4.3.0 a\\b c" REPL "d e" REPL "f";
	static const char infile[] =
	    "\n451 4.3.0 a\\\\b c\\xef\\xbf\\xbdd e\\xef\\xbf\\xbdf\n";
	struct queue_state s, p;
	const char *errstr = "";
	char *img, *copy;
	size_t len;

	queue_state_init(&s, id1, 1);
	queue_state_set_error(&s, raw);
	is_str(s.last_error, want, "last error cleaned, nothing escaped");
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_PENDING, raw);
	is_str(s.rcpt_reply[0], want, "reply cleaned, nothing escaped");
	copy = xstrdup(s.last_error);
	queue_state_set_error(&s, copy);
	is_str(s.last_error, want, "a clean text set again is unchanged");
	free(copy);
	okv(queue_state_format(&s, &img, &len) == 0, "format");
	ok(memmem(img, len, "X44:451", 7) != NULL &&
		memmem(img, len, infile + 1, sizeof(infile) - 3) != NULL,
	    "the file holds the text escaped once (printable ASCII)");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0, "parse (%s)",
	    errstr);
	is_str(p.last_error, want, "parsed last error is the clean text");
	is_str(p.rcpt_reply[0], want, "parsed reply is the clean text");
	queue_state_free(&p);
	free(img);
	queue_state_free(&s);
}

/*
 * A file written by an older version holds a reply escaped twice (by the
 * reply parser, then by the state writer): it is read with the writer's
 * escape undone, so it shows as that version meant it, escaped once.
 */
static void
test_old_file(void)
{
	struct queue_state p;
	const char *errstr = "";
	char img[2048], x[600];
	size_t len;

	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n", "D1:0\n",
	    "451 4.3.0 a\\\\\\\\b c\\\\xe9d");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "an older file is read (%s)", errstr);
	is_str(p.last_error, "451 4.3.0 a\\\\b c\\xe9d",
	    "its text keeps one level of escapes, not two");
	queue_state_free(&p);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n", "D1:0\n",
	    "x\\x1b[31m\\xe9 \\t");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "an older file with escaped bytes is read (%s)", errstr);
	is_str(p.last_error, "x" REPL "[31m" REPL " \\t",
	    "escaped ESC and 0xe9 come back as U+FFFD, never raw");
	queue_state_free(&p);
	/* 128 "\xe9" fill the record; each is 12 bytes escaped as U+FFFD. */
	x[0] = '\0';
	for (int i = 0; i < 128; i++)
		strlcat(x, "\\xe9", sizeof(x));
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n", "D1:0\n", x);
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "an older file with a full record is read (%s)", errstr);
	{
		char *out = NULL;
		size_t olen;

		okv(queue_state_format(&p, &out, &olen) == 0,
		    "and written again: its text still fits the record");
		free(out);
	}
	queue_state_free(&p);
}

/* Long 8-bit texts are cut at a character so the escaped form fits. */
static void
test_long_utf8(void)
{
	struct queue_state s, p;
	const char *errstr = "";
	char big[1200], *img;
	size_t len;

	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	queue_state_init(&s, id1, 1);
	queue_state_set_error(&s, big);
	is_int(strlen(s.last_error), 2 * (QUEUE_STATE_TEXT_MAX / 8),
	    "UTF-8 cut to what fits escaped (8 bytes a character)");
	memset(big, 0xe9, 600);
	big[600] = '\0';
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_PENDING, big);
	is_int(strlen(s.rcpt_reply[0]), 3 * (QUEUE_STATE_TEXT_MAX / 12),
	    "U+FFFD cut to what fits escaped (12 bytes each)");
	okv(queue_state_format(&s, &img, &len) == 0 &&
		queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "round trip (%s)", errstr);
	is_str(p.last_error, s.last_error, "long UTF-8 error kept exactly");
	is_str(p.rcpt_reply[0], s.rcpt_reply[0], "long reply kept exactly");
	queue_state_free(&p);
	free(img);
	queue_state_free(&s);
}

static void
test_torn(void)
{
	struct queue_state s;
	const char *errstr;
	char *img;
	size_t len, rejected = 0;

	make_state(&s);
	if (queue_state_format(&s, &img, &len) == -1)
		abort();
	for (size_t n = 0; n < len; n++)
		if (try_parse(img, n, 3, &errstr) == -1)
			rejected++;
	is_int(rejected, len, "all %zu torn lengths rejected", len);

	/* Flip each byte in turn: the checksum or the syntax catches it. */
	rejected = 0;
	for (size_t i = 0; i < len; i++) {
		img[i] ^= 0x01;
		if (try_parse(img, len, 3, &errstr) == -1)
			rejected++;
		img[i] ^= 0x01;
	}
	is_int(rejected, len, "every single-bit change rejected");
	okv(try_parse(img, len, 3, &errstr) == 0, "original still valid");
	free(img);
	queue_state_free(&s);
}

static void
test_wrong_nrcpt(void)
{
	struct queue_state s;
	const char *errstr;
	char *img;
	size_t len;

	make_state(&s);
	if (queue_state_format(&s, &img, &len) == -1)
		abort();
	okv(try_parse(img, len, 2, &errstr) == -1, "fewer recipients: %s",
	    errstr);
	okv(try_parse(img, len, 4, &errstr) == -1, "more recipients: %s",
	    errstr);
	okv(try_parse(img, len, 0, &errstr) == -1, "no recipients: %s", errstr);
	free(img);
	queue_state_free(&s);
}

static void
test_format_refuses(void)
{
	struct queue_state s;
	char *img = NULL;
	size_t len;

	queue_state_init(&s, "bad id", 1);
	ok(queue_state_format(&s, &img, &len) == -1, "invalid id refused");
	queue_state_free(&s);

	queue_state_init(&s, id1, 1);
	free(s.last_error);
	s.last_error = xstrdup("x\r\nP3:0 d");
	ok(queue_state_format(&s, &img, &len) == -1,
	    "raw CR/LF in the last error refused");
	free(s.last_error);
	s.last_error = xstrdup("a\tb");
	ok(queue_state_format(&s, &img, &len) == -1, "a raw tab refused");
	free(s.last_error);
	s.last_error = xstrdup("caf\xe9");
	ok(queue_state_format(&s, &img, &len) == -1,
	    "a byte that is not UTF-8 refused");
	queue_state_set_error(&s, "fine");
	s.rcpt_st[0] = 'z';
	ok(queue_state_format(&s, &img, &len) == -1, "bad status refused");
	queue_state_free(&s);
}

static void
test_bad_files(void)
{
	static const char *bad[] = {
		"",
		"RELAYQ-STATE 2\n",
		"RELAYQ-STATE 1\nI20:0194A3F2C0004D1E2A7B\n",
	};
	const char *errstr;

	for (size_t i = 0; i < RQ_NELEM(bad); i++)
		okv(try_parse(bad[i], strlen(bad[i]), 0, &errstr) == -1,
		    "bad file %zu: %s", i, errstr);
}

/* Version 1 files (no D record) are still read; version 2 needs D. */
static void
test_versions(void)
{
	struct queue_state p;
	const char *errstr = "";
	char img[1024];
	size_t len;

	len = make_image(img, sizeof(img), "RELAYQ-STATE 1\n", "", "err");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "version 1 file read (%s)", errstr);
	is_int(p.warned, 0, "version 1: no delay notice yet");
	is_int(p.next_try, 1700001800, "version 1: next try kept");
	queue_state_free(&p);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n",
	    "D10:1700000700\n", "err");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "version 2 file read (%s)", errstr);
	is_int(p.warned, 1700000700, "version 2: D record read");
	queue_state_free(&p);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n", "", "err");
	okv(try_parse(img, len, 1, &errstr) == -1,
	    "version 2 without D refused: %s", errstr);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 1\n",
	    "D10:1700000700\n", "err");
	okv(try_parse(img, len, 1, &errstr) == -1,
	    "version 1 with D refused: %s", errstr);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 3\n",
	    "D10:1700000700\n", "err");
	okv(try_parse(img, len, 1, &errstr) == -1, "unknown version refused");
}

int
main(void)
{
	test_versions();
	test_round_trip();
	test_long_text();
	test_clean();
	test_old_file();
	test_long_utf8();
	test_torn();
	test_wrong_nrcpt();
	test_format_refuses();
	test_bad_files();
	return done_testing();
}
