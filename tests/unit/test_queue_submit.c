/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for queue_submit: the submission frame parser fed whole and
 * one byte at a time (same events), every frame error it must refuse
 * (unknown key, wrong order, over-long or badly written length, missing
 * newline, NUL, bad address, too many recipients, wrong version, body
 * longer or shorter than declared, data after the end), stickiness of an
 * error, the reply side, the encoder, and the Received: field.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/queue_submit.h"
#include "tap.h"

static const char good[] = "H15:relayq-submit/1\n"
			   "S13:a@example.org\n"
			   "R13:b@example.org\n"
			   "N15:SUCCESS,FAILURE\n"
			   "R13:c@example.org\n"
			   "P5:local\n"
			   "Z1:7\n"
			   "M4:ab\r\n\n"
			   "M3:c\r\n\n"
			   "E0:\n";

struct run {
	char keys[64]; /* frame keys in order; 'M' once per piece */
	char body[64]; /* body bytes */
	size_t nbody;
	int end;	 /* END seen */
	const char *err; /* ERROR seen */
	size_t consumed;
};

/* Feeds s in pieces of step bytes. */
static void
feed(enum queue_submit_role role, const char *s, size_t len, size_t step,
    size_t max_rcpt, struct run *r)
{
	struct queue_submit_parser p;
	struct queue_submit_ev ev;
	const char *errstr = NULL;
	size_t off = 0, nk = 0, used;

	memset(r, 0, sizeof(*r));
	queue_submit_init(&p, role, max_rcpt);
	while (off < len && r->err == NULL) {
		size_t end = off + step < len ? off + step : len;

		switch (queue_submit_parse(&p, s + off, end - off, &used, &ev,
		    &errstr)) {
		case QUEUE_SUBMIT_EV_FRAME:
			if (nk + 1 < sizeof(r->keys))
				r->keys[nk++] = ev.key;
			break;
		case QUEUE_SUBMIT_EV_BODY:
			if (r->nbody + ev.len < sizeof(r->body)) {
				memcpy(r->body + r->nbody, ev.val, ev.len);
				r->nbody += ev.len;
			}
			break;
		case QUEUE_SUBMIT_EV_END:
			r->end = 1;
			break;
		case QUEUE_SUBMIT_EV_ERROR:
			r->err = errstr;
			break;
		default:
			break;
		}
		off += used;
	}
	r->consumed = off;
}

/* Expects len bytes of s (a server stream) to fail with want. */
static void
badn(const char *s, size_t len, const char *want, const char *what)
{
	struct run r;

	feed(QUEUE_SUBMIT_SERVER, s, len, 1, 4, &r);
	ok(r.err != NULL && strstr(r.err, want) != NULL, "%s: refused (%s)",
	    what, r.err != NULL ? r.err : "accepted");
}

/* Expects the string s (a server stream) to fail with want. */
static void
bad(const char *s, const char *want, const char *what)
{
	badn(s, strlen(s), want, what);
}

/* Wraps body in a whole server stream: envelope, Z, one M, E. */
static size_t
stream(char *out, size_t outsz, const char *body)
{
	size_t n = strlen(body);
	int k = snprintf(out, outsz,
	    "H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ%zu:%zu\nM%zu:%s\nE0:\n",
	    (size_t)snprintf(NULL, 0, "%zu", n), n, n, body);

	return k > 0 && (size_t)k < outsz ? (size_t)k : 0;
}

/*
 * Feeds body (in a whole stream) in pieces of step bytes (0: at once);
 * returns the error or NULL.
 */
static const char *
body_err_step(const char *body, size_t step)
{
	static char st[8192];
	struct run r;
	size_t n = stream(st, sizeof(st), body);

	feed(QUEUE_SUBMIT_SERVER, st, n, step == 0 ? n : step, 4, &r);
	if (n == 0)
		return "stream too long";
	if (r.err != NULL)
		return r.err;
	return r.end ? NULL : "no end";
}

/* body_err_step in pieces of 7 bytes. */
static const char *
body_err(const char *body)
{
	return body_err_step(body, 7);
}

int
main(void)
{
	struct queue_submit_parser p;
	struct queue_submit_ev ev;
	const char *errstr = NULL;
	struct run r1, r2;
	struct buf b;
	size_t used;

	/* A whole stream, at once and byte by byte. */
	feed(QUEUE_SUBMIT_SERVER, good, strlen(good), strlen(good), 4, &r1);
	feed(QUEUE_SUBMIT_SERVER, good, strlen(good), 1, 4, &r2);
	is_str(r1.keys, "HSRNRPZ", "whole: envelope frames in order");
	ok(r1.end && r1.err == NULL, "whole: ends without error");
	ok(r1.nbody == 7 && memcmp(r1.body, "ab\r\nc\r\n", 7) == 0,
	    "whole: body bytes handed out");
	is_str(r2.keys, "HSRNRPZ", "byte by byte: same frames");
	ok(r2.end && r2.nbody == 7 && memcmp(r2.body, "ab\r\nc\r\n", 7) == 0,
	    "byte by byte: same body, end");

	/* The Z value is available on its event, before any body byte. */
	queue_submit_init(&p, QUEUE_SUBMIT_SERVER, 4);
	{
		const char *s = good;
		size_t len = strlen(good);
		int seen_z = 0;

		while (len > 0 && !seen_z) {
			if (queue_submit_parse(&p, s, len, &used, &ev,
				&errstr) == QUEUE_SUBMIT_EV_FRAME &&
			    ev.key == 'Z')
				seen_z = 1;
			s += used;
			len -= used;
		}
		ok(seen_z && p.declared == 7 && p.body == 0,
		    "Z event: declared size 7, no body read yet");
	}

	/* Frame errors. */
	bad("Q0:\n", "out of order", "unknown key (Q)");
	bad("x", "not a frame key", "not a key");
	bad("S13:a@example.org\n", "out of order", "S before H");
	bad("H15:relayq-submit/1\nR13:b@example.org\n", "out of order",
	    "R before S");
	bad("H15:relayq-submit/2\n", "version", "wrong version");
	bad("H015:relayq-submit/1\n", "length", "leading zero in a length");
	bad("H12345678:", "length", "length of 8 digits");
	bad("H:relayq\n", "too long", "empty length");
	bad("H99:", "too long", "H value over its bound, before the bytes");
	bad("H15:relayq-submit/1\nS300:", "too long", "address over 256");
	bad("H15:relayq-submit/1X", "newline", "value not ended by LF");
	badn("H15:relayq-submit/1\nS3:a\0b\n", 27, "NUL", "NUL in a value");
	bad("H15:relayq-submit/1\nS3:a b\n", "sender", "bad sender");
	bad("H15:relayq-submit/1\nS0:\nR3:bob\n", "recipient",
	    "unqualified recipient");
	bad("H15:relayq-submit/1\nS0:\nR9:x y@y.org\n", "recipient",
	    "recipient with a space");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nR5:a@b.c\nR5:a@b.c\n"
	    "R5:a@b.c\nR5:a@b.c\n",
	    "too many", "fifth recipient over a limit of 4");
	bad("H15:relayq-submit/1\nS0:\nN5:NEVER\n", "out of order",
	    "N without its R");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nN3:bad\n", "NOTIFY",
	    "bad NOTIFY");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:3\nM4:abcd\n", "longer",
	    "M longer than declared");
	badn("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:5\nM5:a\0b\r\n\nE0:\n", 51,
	    "NUL byte", "NUL in an M (body) frame");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:3\nM2:ab\nE0:\n", "shorter",
	    "E before the declared size");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:0\nM0:\n", "empty M frame",
	    "empty M frame: said so, not \"too long\"");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:3\nM3:ab\r\nE0:\n",
	    "does not end with CRLF", "a body whose last line has no CRLF");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:3\nM3:abc\nE0:\n",
	    "does not end with CRLF", "a body with no line end at all");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ14:99999999999999\n", "size",
	    "Z over the size bound");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nZ1:0\nE0:\nH", "after",
	    "data after E");
	bad("H15:relayq-submit/1\nS0:\nR5:a@b.c\nM1:a\n", "out of order",
	    "M before Z");

	/* The front end's rules on the body: lines, Received: hops. */
	{
		static char bd[4096];
		const char *e;
		size_t o = 0;

		memset(bd, 'x', 998);
		memcpy(bd + 998, "\r\n", 3);
		ok(body_err(bd) == NULL, "a line of 998 octets is accepted");
		memset(bd, 'x', 999);
		memcpy(bd + 999, "\r\n", 3);
		e = body_err(bd);
		ok(e != NULL && strstr(e, "998") != NULL,
		    "a line of 999 octets is refused (%s)", e ? e : "accepted");
		/* At once (a line's rest in one piece) and byte by byte. */
		for (size_t step = 0; step <= 1; step++) {
			e = body_err_step(bd, step);
			ok(e != NULL && strstr(e, "998") != NULL,
			    "a line of 999 octets is refused, in pieces of "
			    "%zu (%s)",
			    step, e ? e : "accepted");
		}
		bd[0] = '.'; /* 998 and a stuffed dot */
		ok(body_err(bd) == NULL, "a stuffed dot does not count");
		ok(body_err_step(bd, 0) == NULL,
		    "a stuffed dot does not count, at once");
		memcpy(bd + 999, "x\r\n", 4);
		e = body_err_step(bd, 0);
		ok(e != NULL && strstr(e, "998") != NULL,
		    "a stuffed dot and 999 octets are refused, at once (%s)",
		    e ? e : "accepted");
		for (int i = 0; i < 51; i++)
			o += (size_t)snprintf(bd + o, sizeof(bd) - o,
			    "%s: x%d\r\n", i % 2 ? "Received" : "RECEIVED", i);
		memcpy(bd + o, "\r\nbody\r\n", 9);
		e = body_err(bd);
		ok(e != NULL && strstr(e, "Received") != NULL,
		    "51 Received: fields are a loop (%s)", e ? e : "accepted");
		e = body_err_step(bd, 0);
		ok(e != NULL && strstr(e, "Received") != NULL,
		    "51 Received: fields are a loop, at once (%s)",
		    e ? e : "accepted");
		/* 50 in the header, one more in the body: accepted. */
		o = 0;
		for (int i = 0; i < 50; i++)
			o += (size_t)snprintf(bd + o, sizeof(bd) - o,
			    "Received: x%d\r\n", i);
		memcpy(bd + o, "\r\nReceived: body\r\n", 19);
		ok(body_err(bd) == NULL,
		    "50 Received: fields, and one in the body, are accepted");
		ok(body_err_step(bd, 0) == NULL && body_err_step(bd, 1) == NULL,
		    "the same at once and byte by byte");
	}

	/* An error is sticky. */
	queue_submit_init(&p, QUEUE_SUBMIT_SERVER, 4);
	(void)queue_submit_parse(&p, "?", 1, &used, &ev, &errstr);
	is_int(queue_submit_parse(&p, good, strlen(good), &used, &ev, &errstr),
	    QUEUE_SUBMIT_EV_ERROR, "after an error every call fails");

	/* The reply side. */
	feed(QUEUE_SUBMIT_CLIENT, "G0:\nK20:0123456789ABCDEF0123\n", 29, 1, 0,
	    &r1);
	is_str(r1.keys, "GK", "client: G then K");
	feed(QUEUE_SUBMIT_CLIENT, "X6:75 bad\n", 10, 3, 0, &r1);
	is_str(r1.keys, "X", "client: an X reply");
	feed(QUEUE_SUBMIT_CLIENT, "K3:abc\n", 7, 7, 0, &r1);
	ok(r1.err != NULL, "client: a K with a bad queue id is refused");
	feed(QUEUE_SUBMIT_CLIENT, "X3:bad\n", 7, 7, 0, &r1);
	ok(r1.err != NULL, "client: an X without a code is refused");
	feed(QUEUE_SUBMIT_CLIENT, "H15:relayq-submit/1\n", 20, 20, 0, &r1);
	ok(r1.err != NULL, "client: a server frame is refused");

	/* Encoder. */
	buf_init(&b, 1024);
	ok(queue_submit_frame(&b, 'R', "a@b.c", 5) == 0 && b.len == 9 &&
		memcmp(b.data, "R5:a@b.c\n", 9) == 0,
	    "frame encoding");
	buf_reset(&b);
	ok(queue_submit_error(&b, 75, "two\nlines") == 0 &&
		memchr(b.data + 3, '\n', b.len - 4) == NULL &&
		memcmp(b.data, "X", 1) == 0 &&
		strstr(b.data, ":75 two") != NULL,
	    "error reply: code first, newline in the text sanitised");
	buf_reset(&b);
	ok(queue_submit_received(&b, "mx.example.org", 65534, "local", NULL,
	       1700000000) == 0 &&
		strstr(b.data,
		    "Received: by mx.example.org (relayq, from "
		    "userid 65534)\r\n\twith local;") != NULL,
	    "Received: with the uid");
	buf_reset(&b);
	ok(queue_submit_received(&b, "mx.example.org", 7, "ESMTP", "cli\r\nent",
	       1700000000) == 0 &&
		strstr(b.data,
		    "Received: from client (uid 7)\r\n\tby "
		    "mx.example.org (relayq) with ESMTP;") != NULL,
	    "Received: with a HELO name, filtered");
	{
		char helo[QUEUE_SUBMIT_HELO_MAX + 1];

		memset(helo, 'h', QUEUE_SUBMIT_HELO_MAX);
		helo[QUEUE_SUBMIT_HELO_MAX] = '\0';
		buf_reset(&b);
		ok(queue_submit_received(&b, "mx.example.org", 7, "ESMTP", helo,
		       1700000000) == 0 &&
			strstr(b.data, helo) != NULL,
		    "Received: keeps a HELO name of %d characters whole",
		    QUEUE_SUBMIT_HELO_MAX);
	}
	buf_free(&b);
	return done_testing();
}
