/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for queue_state: the round trip, sanitising of hostile
 * reply text, torn files (every truncation) and altered files rejected,
 * and a recipient count that does not match the message.
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
	    "CR/LF in a reply is escaped: %s", s.rcpt_reply[1]);
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
	is_str(p.rcpt_reply[1], s.rcpt_reply[1], "reply 1 (sanitised)");
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

/* Builds a state image with the given magic and optional D record. */
static size_t
make_image(char *out, size_t outsz, const char *magic, const char *drec)
{
	char body[512];
	int n;

	n = snprintf(body, sizeof(body),
	    "%sI20:%s\nN1:2\nA10:1700000000\nL10:1700000600\n"
	    "W10:1700001800\nH1:0\n%sX3:err\nP3:0 p\n",
	    magic, id1, drec);
	return (size_t)snprintf(out, outsz, "%sE8:%08lx\n", body,
	    (unsigned long)queue_env_crc32(0, body, (size_t)n));
}

/* Version 1 files (no D record) are still read; version 2 needs D. */
static void
test_versions(void)
{
	struct queue_state p;
	const char *errstr = "";
	char img[1024];
	size_t len;

	len = make_image(img, sizeof(img), "RELAYQ-STATE 1\n", "");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "version 1 file read (%s)", errstr);
	is_int(p.warned, 0, "version 1: no delay notice yet");
	is_int(p.next_try, 1700001800, "version 1: next try kept");
	queue_state_free(&p);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n",
	    "D10:1700000700\n");
	okv(queue_state_parse(&p, img, len, 1, &errstr) == 0,
	    "version 2 file read (%s)", errstr);
	is_int(p.warned, 1700000700, "version 2: D record read");
	queue_state_free(&p);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 2\n", "");
	okv(try_parse(img, len, 1, &errstr) == -1,
	    "version 2 without D refused: %s", errstr);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 1\n",
	    "D10:1700000700\n");
	okv(try_parse(img, len, 1, &errstr) == -1,
	    "version 1 with D refused: %s", errstr);
	len = make_image(img, sizeof(img), "RELAYQ-STATE 3\n",
	    "D10:1700000700\n");
	okv(try_parse(img, len, 1, &errstr) == -1, "unknown version refused");
}

int
main(void)
{
	test_versions();
	test_round_trip();
	test_long_text();
	test_torn();
	test_wrong_nrcpt();
	test_format_refuses();
	test_bad_files();
	return done_testing();
}
