/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the DSN builder: reply parsing, status derivation,
 * and the structure of generated reports, which are parsed back here
 * (top-level header, the three MIME parts, the delivery-status fields
 * per recipient) and checked for wire form (CRLF only, no bare dot
 * lines, lines within 998 octets).  Also reading the original's header
 * or whole body from a file, and queueing a report into a spool.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/compat.h"
#include "queue/queue_env.h"
#include "queue/queue_spool.h"
#include "relayqd/relayqd_bounce.h"
#include "tap.h"

/* One MIME part found in a report. */
struct part {
	const char *head; /* points into the report copy */
	size_t headlen;
	const char *body;
	size_t bodylen;
};

/* Returns the value of field name (first one) in head, into out. */
static int
field(const char *head, size_t len, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL || eol > end)
			eol = end;
		if ((size_t)(eol - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			size_t o = 0;
			const char *v = p + nlen + 1;

			/* Unfold continuation lines. */
			for (;;) {
				while (v < eol && o + 1 < outsz)
					out[o++] = *v++;
				if (eol + 2 < end &&
				    (eol[2] == ' ' || eol[2] == '\t')) {
					v = eol + 2;
					eol = strstr(v, "\r\n");
					if (eol == NULL || eol > end)
						eol = end;
					continue;
				}
				break;
			}
			out[o] = '\0';
			/* Trim leading white space. */
			o = strspn(out, " \t");
			memmove(out, out + o, strlen(out + o) + 1);
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

/* Counts the occurrences of needle in the n bytes at hay. */
static int
count(const char *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle);
	int c = 0;

	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(hay + i, needle, len) == 0)
			c++;
	return c;
}

/* A failed-kind report from alice@example.org about rr. */
static void
setup(struct relayqd_bounce *b, const struct relayqd_bounce_rcpt *rr, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->kind = RELAYQD_BOUNCE_FAILED;
	b->hostname = "relayq.test";
	b->sender = "alice@example.org";
	b->queue_id = "0194A3F2C0004D1E2A7B";
	b->msgid = "0194A3F2C0004D1E2AFF";
	b->now = 1700000200;
	b->rcpts = rr;
	b->nrcpt = n;
}

/* Checks wire form: CRLF only, no line starting with one '.', <= 998. */
static int
wire_ok(const char *p, size_t n)
{
	size_t start = 0;

	if (n < 2 || memcmp(p + n - 2, "\r\n", 2) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			return 0;
		if (p[i] == '\n') {
			if (i == 0 || p[i - 1] != '\r')
				return 0;
			if (i - 1 - start > 998)
				return 0;
			if (p[start] == '.' &&
			    (i - 1 - start == 1 || p[start + 1] != '.'))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/*
 * Splits a multipart body at boundary into up to 4 parts.  Returns the
 * number of parts, or -1 when the closing delimiter is missing.
 */
static int
split(const char *msg, size_t n, const char *boundary, struct part *parts)
{
	char delim[160];
	const char *p, *next, *end = msg + n;
	int np = 0;

	snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	if ((p = strstr(msg, delim + 2)) == NULL)
		return -1;
	for (;;) {
		p += strlen(delim + 2);
		if (strncmp(p, "--", 2) == 0)
			return np;
		p += 2; /* CRLF after the delimiter */
		if ((next = strstr(p, delim)) == NULL || next > end || np == 4)
			return -1;
		parts[np].head = p;
		{
			const char *hb = strstr(p, "\r\n\r\n");

			parts[np].headlen = (size_t)(hb - p) + 2;
			parts[np].body = hb + 4;
			parts[np].bodylen = (size_t)(next - (hb + 4));
		}
		np++;
		p = next + 2;
	}
}

/* Reply parsing and status derivation. */
static void
test_parse(void)
{
	struct relayqd_bounce_rcpt r = { "a@b.example", NULL, "", 0, 0 };
	const char *text;
	char esc[16], st[16];
	int code;

	relayqd_bounce_parse_reply("550 5.1.1 no such user", &code, esc, &text);
	is_int(code, 550, "code parsed");
	is_str(esc, "5.1.1", "enhanced code parsed");
	is_str(text, "no such user", "text after the codes");
	relayqd_bounce_parse_reply("451 try later", &code, esc, &text);
	ok(code == 451 && esc[0] == '\0' && strcmp(text, "try later") == 0,
	    "reply without enhanced code");
	relayqd_bounce_parse_reply("connect to x: refused", &code, esc, &text);
	ok(code == 0 && esc[0] == '\0' &&
		strcmp(text, "connect to x: refused") == 0,
	    "local error has no code");
	relayqd_bounce_parse_reply("5500 odd", &code, esc, &text);
	is_int(code, 0, "four digits are not a code");
	relayqd_bounce_parse_reply("552 5.3.4.1 x", &code, esc, &text);
	ok(code == 552 && esc[0] == '\0', "malformed enhanced code ignored");
	relayqd_bounce_parse_reply(NULL, &code, esc, &text);
	ok(code == 0 && strcmp(text, "") == 0, "NULL reply");

	r.reply = "550 5.1.1 no such user";
	relayqd_bounce_status(RELAYQD_BOUNCE_FAILED, &r, st);
	is_str(st, "5.1.1", "status from the enhanced code");
	r.reply = "554 rejected";
	relayqd_bounce_status(RELAYQD_BOUNCE_FAILED, &r, st);
	is_str(st, "5.0.0", "5.0.0 derived when the server gave none");
	r.reply = "451 4.3.0 later";
	relayqd_bounce_status(RELAYQD_BOUNCE_DELAYED, &r, st);
	is_str(st, "4.3.0", "delayed keeps a 4.x.x code");
	r.reply = "451 later";
	relayqd_bounce_status(RELAYQD_BOUNCE_DELAYED, &r, st);
	is_str(st, "4.0.0", "4.0.0 derived when the server gave none");
	r.reply = "connect to host: Connection refused";
	relayqd_bounce_status(RELAYQD_BOUNCE_DELAYED, &r, st);
	is_str(st, "4.4.1", "no answer from host: 4.4.1");
	relayqd_bounce_status(RELAYQD_BOUNCE_FAILED, &r, st);
	is_str(st, "5.0.0", "local permanent failure: 5.0.0");
	r.reply = "451 4.3.0 later";
	r.expired = 1;
	relayqd_bounce_status(RELAYQD_BOUNCE_FAILED, &r, st);
	is_str(st, "5.4.7", "expired: 5.4.7 whatever the last reply");
	r.expired = 0;
	r.reply = "450 4.2.0 mailbox busy";
	relayqd_bounce_status(RELAYQD_BOUNCE_FAILED, &r, st);
	is_str(st, "5.0.0", "class mismatch: the report's class wins");
}

static const char orig_msg[] = "Subject: hello\r\n"
			       "From: Alice <alice@example.org>\r\n"
			       "Message-ID: <m1@example.org>\r\n"
			       "\r\n"
			       "..a dot-stuffed line\r\n"
			       "body\r\n";
/* Length of orig_msg's header lines, without the blank line. */
#define ORIG_HDR_LEN (16 + 33 + 30)

/* A failed report with headers only, parsed back. */
static void
test_failed(void)
{
	struct relayqd_bounce_rcpt rr[2] = {
		{ "bob@example.net", "rfc822;Bob@Example.NET",
		    "550 5.1.1 <bob@example.net>: no such user\x01\xef\xbf\xbd",
		    1700000000, 0 },
		{ "carol@example.net", NULL, "451 4.3.0 try again later",
		    1700000100, 1 },
	};
	struct relayqd_bounce b;
	struct part parts[4];
	struct buf out;
	char v[1024], boundary[128];
	const char *hdrend;
	int np;

	memset(&b, 0, sizeof(b));
	b.kind = RELAYQD_BOUNCE_FAILED;
	b.hostname = "relayq.test";
	b.remote_mta = "smtp.example.org";
	b.sender = "alice@example.org";
	b.queue_id = "0194A3F2C0004D1E2A7B";
	b.envid = "env-1";
	b.msgid = "0194A3F2C0004D1E2AFF";
	b.now = 1700000200;
	b.arrival = 1699990000;
	b.lifetime = 5 * 86400;
	b.rcpts = rr;
	b.nrcpt = 2;
	b.orig = orig_msg;
	b.orig_len = ORIG_HDR_LEN; /* the header lines only */

	buf_init(&out, RELAYQD_BOUNCE_MAX);
	ok(relayqd_bounce_build(&b, &out) == 0, "failed report built");
	ok(wire_ok(out.data, out.len), "report is in wire form");
	hdrend = strstr(out.data, "\r\n\r\n");
	ok(hdrend != NULL, "top-level header ends");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "From", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "Mail Delivery System <MAILER-DAEMON@relayq.test>") ==
		    0,
	    "From: MAILER-DAEMON@hostname (%s)", v);
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "To", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "<alice@example.org>") == 0,
	    "To: the envelope sender");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "Auto-Submitted", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "auto-replied") == 0,
	    "Auto-Submitted: auto-replied");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "Date", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "Tue, 14 Nov 2023 22:16:40 +0000") == 0,
	    "Date in RFC 5322 form (%s)", v);
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "Message-ID", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "<0194A3F2C0004D1E2AFF@relayq.test>") == 0,
	    "Message-ID");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "MIME-Version", v,
	       sizeof(v)) == 0,
	    "MIME-Version");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "Content-Type", v,
	       sizeof(v)) == 0 &&
		strncmp(v, "multipart/report; report-type=delivery-status;",
		    46) == 0,
	    "multipart/report; report-type=delivery-status (%s)", v);
	ok(sscanf(strstr(v, "boundary=\""), "boundary=\"%127[^\"]\"",
	       boundary) == 1,
	    "boundary parameter");
	np = split(out.data, out.len, boundary, parts);
	is_int(np, 3, "three parts and a closing delimiter");
	if (np != 3) {
		buf_free(&out);
		return;
	}
	ok(field(parts[0].head, parts[0].headlen, "Content-Type", v,
	       sizeof(v)) == 0 &&
		strncmp(v, "text/plain", 10) == 0,
	    "part 1 is text/plain");
	ok(count(parts[0].body, parts[0].bodylen,
	       "    550 5.1.1 <bob@example.net>: no such user??\r\n") == 1,
	    "human part quotes the server's reply, sanitised: one '?' a "
	    "character, U+FFFD included");
	ok(count(parts[0].body, parts[0].bodylen, "<carol@example.net>:") ==
		    1 &&
		count(parts[0].body, parts[0].bodylen, "(5 days)") == 1,
	    "human part explains the expiry");
	ok(field(parts[1].head, parts[1].headlen, "Content-Type", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "message/delivery-status") == 0,
	    "part 2 is message/delivery-status");
	{
		const char *p = parts[1].body, *end = p + parts[1].bodylen;
		const char *blk[3];
		size_t blen[3];
		int nb = 0;

		/* Blocks separated by empty lines. */
		while (p < end && nb < 3) {
			const char *e = strstr(p, "\r\n\r\n");

			if (e == NULL || e > end)
				e = end;
			blk[nb] = p;
			blen[nb] = (size_t)(e - p) + 2;
			nb++;
			p = e + 4;
		}
		is_int(nb, 3, "per-message block and two recipient blocks");
		if (nb == 3) {
			ok(field(blk[0], blen[0], "Reporting-MTA", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "dns; relayq.test") == 0,
			    "Reporting-MTA: dns; hostname");
			ok(field(blk[0], blen[0], "Arrival-Date", v,
			       sizeof(v)) == 0,
			    "Arrival-Date");
			ok(field(blk[0], blen[0], "Original-Envelope-Id", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "env-1") == 0,
			    "Original-Envelope-Id from ENVID");
			ok(field(blk[1], blen[1], "Final-Recipient", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "rfc822; bob@example.net") == 0,
			    "Final-Recipient: rfc822; addr");
			ok(field(blk[1], blen[1], "Original-Recipient", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "rfc822; Bob@Example.NET") == 0,
			    "Original-Recipient from ORCPT");
			ok(field(blk[1], blen[1], "Action", v, sizeof(v)) ==
				    0 &&
				strcmp(v, "failed") == 0,
			    "Action: failed");
			ok(field(blk[1], blen[1], "Status", v, sizeof(v)) ==
				    0 &&
				strcmp(v, "5.1.1") == 0,
			    "Status: 5.1.1");
			ok(field(blk[1], blen[1], "Remote-MTA", v, sizeof(v)) ==
				    0 &&
				strcmp(v, "dns; smtp.example.org") == 0,
			    "Remote-MTA");
			ok(field(blk[1], blen[1], "Diagnostic-Code", v,
			       sizeof(v)) == 0 &&
				strcmp(v,
				    "smtp; 550 5.1.1 <bob@example.net>: no "
				    "such user??") == 0,
			    "Diagnostic-Code: smtp; reply (%s)", v);
			ok(field(blk[1], blen[1], "Last-Attempt-Date", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "Tue, 14 Nov 2023 22:13:20 +0000") ==
				    0,
			    "Last-Attempt-Date");
			ok(field(blk[2], blen[2], "Status", v, sizeof(v)) ==
				    0 &&
				strcmp(v, "5.4.7") == 0,
			    "expired recipient: Status 5.4.7");
			ok(field(blk[2], blen[2], "Diagnostic-Code", v,
			       sizeof(v)) == 0 &&
				strcmp(v, "smtp; 451 4.3.0 try again later") ==
				    0,
			    "expired recipient: the last error quoted");
			ok(field(blk[2], blen[2], "Will-Retry-Until", v,
			       sizeof(v)) == -1,
			    "no Will-Retry-Until in a failure report");
		}
	}
	ok(field(parts[2].head, parts[2].headlen, "Content-Type", v,
	       sizeof(v)) == 0 &&
		strcmp(v, "text/rfc822-headers") == 0,
	    "part 3 is text/rfc822-headers");
	ok(parts[2].bodylen == ORIG_HDR_LEN &&
		memcmp(parts[2].body, orig_msg, ORIG_HDR_LEN) == 0,
	    "original header returned as is");
	buf_free(&out);
}

/* A delay notice, and a full return with an awkward original. */
static void
test_delayed_full(void)
{
	static const char tricky[] = "Subject: x\r\n\r\n"
				     "--=_0194A3F2C0004D1E2A7B/M1\r\n"
				     "..\r\n";
	struct relayqd_bounce_rcpt rr = { "bob@example.net", NULL,
		"connect to smtp.example.org[127.0.0.1]:25: Connection "
		"refused",
		1700000000, 0 };
	struct relayqd_bounce b;
	struct part parts[4];
	struct buf out;
	char v[1024], boundary[128];
	const char *hdrend;

	memset(&b, 0, sizeof(b));
	b.kind = RELAYQD_BOUNCE_DELAYED;
	b.hostname = "relayq.test";
	b.sender = "alice@example.org";
	b.queue_id = "0194A3F2C0004D1E2A7B";
	b.msgid = "M1";
	b.now = 1700000200;
	b.arrival = 1699990000;
	b.retry_until = 1699990000 + 5 * 86400;
	b.rcpts = &rr;
	b.nrcpt = 1;
	b.orig = tricky;
	b.orig_len = sizeof(tricky) - 1;
	b.orig_full = 1;
	buf_init(&out, RELAYQD_BOUNCE_MAX);
	ok(relayqd_bounce_build(&b, &out) == 0, "delay notice built");
	ok(wire_ok(out.data, out.len), "delay notice in wire form");
	hdrend = strstr(out.data, "\r\n\r\n");
	ok(field(out.data, (size_t)(hdrend - out.data) + 2, "Subject", v,
	       sizeof(v)) == 0 &&
		strstr(v, "Delayed") != NULL,
	    "delay subject");
	field(out.data, (size_t)(hdrend - out.data) + 2, "Content-Type", v,
	    sizeof(v));
	sscanf(strstr(v, "boundary=\""), "boundary=\"%127[^\"]\"", boundary);
	ok(strcmp(boundary, "=_0194A3F2C0004D1E2A7B/M1") != 0,
	    "boundary changed because the original contains it (%s)", boundary);
	is_int(split(out.data, out.len, boundary, parts), 3,
	    "three parts despite the tricky original");
	ok(count(out.data, out.len, "Action: delayed\r\n") == 1,
	    "Action: delayed");
	ok(count(out.data, out.len, "Status: 4.4.1\r\n") == 1,
	    "connection refused: Status 4.4.1");
	ok(count(out.data, out.len, "Will-Retry-Until: ") == 1,
	    "Will-Retry-Until given");
	ok(count(out.data, out.len, "Diagnostic-Code: X-Relayq; connect to") ==
		1,
	    "local error as an X-Relayq diagnostic");
	ok(count(out.data, out.len, "Remote-MTA") == 0,
	    "no Remote-MTA without a server reply");
	ok(count(out.data, out.len, "Content-Type: message/rfc822\r\n") == 1,
	    "full return as message/rfc822");
	ok(count(out.data, out.len, "\r\n..\r\n") == 1,
	    "dot-stuffed line of the original kept stuffed");
	buf_free(&out);

	/* Refusals. */
	b.nrcpt = 0;
	buf_init(&out, RELAYQD_BOUNCE_MAX);
	ok(relayqd_bounce_build(&b, &out) == -1 && errno == EINVAL,
	    "no recipient: EINVAL");
	buf_free(&out);
	b.nrcpt = 1;
	buf_init(&out, 200);
	ok(relayqd_bounce_build(&b, &out) == -1 && errno == EMSGSIZE,
	    "buffer maximum: EMSGSIZE");
	buf_free(&out);
}

/* Long replies are folded; 8-bit addresses use utf-8 types. */
static void
test_fold(void)
{
	char reply[520];
	struct relayqd_bounce_rcpt rr = { "j\xc3\xb6rg@example.net", NULL,
		reply, 0, 0 };
	struct relayqd_bounce b;
	struct buf out;

	memset(reply, 0, sizeof(reply));
	strcpy(reply, "550 5.7.1");
	while (strlen(reply) < 500)
		strcat(reply, " policy");
	setup(&b, &rr, 1);
	b.msgid = "M2";
	buf_init(&out, RELAYQD_BOUNCE_MAX);
	ok(relayqd_bounce_build(&b, &out) == 0, "report with a long reply");
	ok(wire_ok(out.data, out.len), "still wire form");
	{
		size_t maxline = 0, start = 0;

		for (size_t i = 0; i + 1 < out.len; i++)
			if (out.data[i] == '\r') {
				if (i - start > maxline)
					maxline = i - start;
				start = i + 2;
			}
		ok(maxline <= 78, "every line folded within 78 (%zu)", maxline);
	}
	ok(count(out.data, out.len, "Final-Recipient: utf-8; j\xc3\xb6rg") == 1,
	    "non-ASCII recipient: utf-8 address type");
	ok(count(out.data, out.len, "<j?rg@example.net>:") == 1,
	    "non-ASCII shown as '?' in the text part, one a character");
	buf_free(&out);
}

/*
 * Issue 13: a quoted local part "<53 x> .reject" put ".reject" at the
 * start of a wrapped text line, which the queue writer refused.  Every
 * report must pass the writer's own wire-form check; also with a CR/LF
 * in an address and a 900-octet word.
 */
static void
test_dot_line(void)
{
	char addr[128], word[1000];
	struct relayqd_bounce_rcpt rr[3] = {
		{ addr, NULL, "550 5.1.1 no such user", 0, 0 },
		{ "a\r\n.b@example.net", NULL, "550 5.1.1 x\r\n.\r\ny", 0, 0 },
		{ word, NULL, ".550 .\r\n", 0, 1 },
	};
	struct relayqd_bounce b;
	struct queue_env_wire w;
	const char *errstr = NULL;
	struct buf out;
	int rv;

	(void)snprintf(addr, sizeof(addr), "\"%.53s .reject\"@example.net",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	memset(word, '.', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	setup(&b, rr, 1);
	b.sender = "s@x";
	buf_init(&out, RELAYQD_BOUNCE_MAX);
	ok(relayqd_bounce_build(&b, &out) == 0, "report for the repro built");
	queue_env_wire_init(&w);
	rv = queue_env_wire_feed(&w, out.data, out.len, &errstr) == 0 &&
	    queue_env_wire_end(&w, &errstr) == 0;
	ok(rv, "the queue writer accepts it: %s", rv ? "ok" : errstr);
	ok(count(out.data, out.len, "\r\n..reject\"@example.net>:") == 1,
	    "the wrapped line starting with '.' is dot-stuffed");
	ok(wire_ok(out.data, out.len), "wire form, lines within 998");
	buf_reset(&out);
	b.nrcpt = 3;
	ok(relayqd_bounce_build(&b, &out) == 0, "hostile recipients built");
	queue_env_wire_init(&w);
	rv = queue_env_wire_feed(&w, out.data, out.len, &errstr) == 0 &&
	    queue_env_wire_end(&w, &errstr) == 0;
	ok(rv, "the queue writer accepts CR/LF and 999 dots: %s",
	    rv ? "ok" : errstr);
	ok(wire_ok(out.data, out.len), "wire form, lines within 998 (dots)");
	ok(count(out.data, out.len, "Final-Recipient: rfc822; a??.b") == 1,
	    "CR/LF in an address field shown as '?'");
	buf_free(&out);
}

/* Reading the part of the original to return. */
static void
test_read(void)
{
	char path[] = "/tmp/test_bounce.XXXXXX";
	static const char prefix[] = "ENVELOPE\n";
	struct buf out;
	int fd, full;

	if ((fd = mkstemp(path)) == -1)
		abort();
	unlink(path);
	if (write(fd, prefix, sizeof(prefix) - 1) != sizeof(prefix) - 1 ||
	    write(fd, orig_msg, sizeof(orig_msg) - 1) != sizeof(orig_msg) - 1)
		abort();
	buf_init(&out, RELAYQD_BOUNCE_FULL_MAX);
	ok(relayqd_bounce_read_original(fd, sizeof(prefix) - 1,
	       sizeof(orig_msg) - 1, 0, &out, &full) == 0 &&
		!full,
	    "header read");
	ok(out.len == ORIG_HDR_LEN &&
		memcmp(out.data, orig_msg, ORIG_HDR_LEN) == 0,
	    "header lines without the blank line");
	buf_reset(&out);
	ok(relayqd_bounce_read_original(fd, sizeof(prefix) - 1,
	       sizeof(orig_msg) - 1, 1, &out, &full) == 0 &&
		full,
	    "whole message read");
	ok(out.len == sizeof(orig_msg) - 1 &&
		memcmp(out.data, orig_msg, out.len) == 0,
	    "whole message as stored");
	buf_reset(&out);
	ok(relayqd_bounce_read_original(fd, sizeof(prefix) - 1, 14, 0, &out,
	       &full) == 0 &&
		out.len == 14,
	    "a message without a body is all header");
	buf_reset(&out);
	ok(relayqd_bounce_read_original(fd, sizeof(prefix) - 1, 200, 1, &out,
	       &full) == -1 &&
		errno == EIO,
	    "short file: EIO");
	buf_free(&out);
	close(fd);
}

/* nftw callback: removes one entry. */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* The recipient hook and queueing into a spool. */
static void
test_queue(void)
{
	char dir[] = "/tmp/test_bounce_spool.XXXXXX", sub[512];
	char id[QUEUE_ID_LEN + 1];
	const char atext[] = "root: admin@example.net, ops\n";
	struct relayqd_bounce_rcpt rr = { "bob@example.net", NULL,
		"550 5.1.1 no", 0, 0 };
	struct relayqd_bounce b;
	struct addr_list to;
	struct aliases al;
	const char *rcpts[2] = { "alice@example.org",
		"postmaster@example.org" };
	struct queue_spool sp;
	struct queue_env e;
	struct rq_err err;
	const char *errstr;
	int fd;

	addr_list_init(&to);
	ok(relayqd_bounce_recipients(NULL, "root", "example.org", "h.test", &to,
	       NULL, NULL) == 1 &&
		strcmp(to.v[0], "root@example.org") == 0,
	    "bare sender qualified with default_domain");
	addr_list_free(&to);
	ok(relayqd_bounce_recipients(NULL, "a@b.example", "example.org",
	       "h.test", &to, NULL, NULL) == 1 &&
		strcmp(to.v[0], "a@b.example") == 0,
	    "qualified sender kept");
	addr_list_free(&to);
	ok(relayqd_bounce_recipients(NULL, "", "example.org", "h.test", &to,
	       NULL, NULL) == -1,
	    "null sender: no recipient");
	aliases_init(&al);
	(void)aliases_parse(&al, "aliases", atext, strlen(atext), NULL, NULL);
	ok(relayqd_bounce_recipients(&al, "root", "example.org", "h.test", &to,
	       NULL, NULL) == 2 &&
		strcmp(to.v[0], "admin@example.net") == 0 &&
		strcmp(to.v[1], "ops@example.org") == 0,
	    "bare sender through the aliases (root: admin, ops)");
	addr_list_free(&to);
	ok(relayqd_bounce_recipients(&al, "root@h.test", "example.org",
	       "h.test", &to, NULL, NULL) == 2 &&
		strcmp(to.v[0], "admin@example.net") == 0,
	    "sender at the host name through the aliases");
	addr_list_free(&to);
	ok(relayqd_bounce_recipients(&al, "root@example.net", "example.org",
	       "h.test", &to, NULL, NULL) == 1 &&
		strcmp(to.v[0], "root@example.net") == 0,
	    "sender at another domain kept");
	addr_list_free(&to);
	aliases_free(&al);

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(sub, sizeof(sub), "%s/spool", dir);
	if (queue_spool_open(&sp, sub, QUEUE_SPOOL_DAEMON | QUEUE_SPOOL_CREATE,
		&err) == -1)
		abort();
	setup(&b, &rr, 1);
	b.msgid = "NOT-USED";
	ok(relayqd_bounce_queue(&sp, rcpts, 2, &b, id, &err) == 0,
	    "report queued (%s)", err.msg);
	snprintf(sub, sizeof(sub), "%s/spool/queue/%s", dir, id);
	fd = open(sub, O_RDONLY);
	ok(fd != -1, "report is in queue/");
	ok(fd != -1 && queue_env_read_fd(&e, fd, 1, &errstr) == 0,
	    "report file valid");
	if (fd != -1) {
		char *data = NULL;
		char want[128];
		ssize_t got;

		ok(e.sender[0] == '\0', "null sender");
		data = malloc((size_t)e.body_len + 1);
		got = data != NULL
		    ? pread(fd, data, (size_t)e.body_len, (off_t)e.body_off)
		    : -1;
		(void)snprintf(want, sizeof(want),
		    "\r\nMessage-ID: <%s@relayq.test>\r\n", id);
		ok(got == (ssize_t)e.body_len &&
			count(data, (size_t)got, want) == 1,
		    "its Message-ID is its queue id: %s", want + 2);
		ok(got > 0 && count(data, (size_t)got, "NOT-USED") == 0,
		    "not the caller's msgid");
		free(data);
		ok(e.nrcpt == 2 &&
			strcmp(e.rcpts[1], "postmaster@example.org") == 0,
		    "operator copy recipient");
		queue_env_free(&e);
		close(fd);
	}
	ok(relayqd_bounce_queue(&sp, rcpts, 1, &b, id, &err) == 0 &&
		count(sub, strlen(sub), id) == 0,
	    "a second report gets another id");
	b.nrcpt = 0;
	ok(relayqd_bounce_queue(&sp, rcpts, 1, &b, id, &err) == -1,
	    "a report that cannot be built is refused: %s", err.msg);
	queue_spool_close(&sp);
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_parse();
	test_failed();
	test_delayed_full();
	test_fold();
	test_dot_line();
	test_read();
	test_queue();
	return done_testing();
}
