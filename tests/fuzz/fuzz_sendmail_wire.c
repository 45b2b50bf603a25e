/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for line canonicalisation and dot-stuffing, as a
 * round-trip property.  The input (after one option byte: bit 0 is -i)
 * is a message body with no header section; sendmail_msg turns it into
 * wire form.  Then:
 *  - the output passes the spool's wire-form check (queue_env_wire);
 *  - no wire line is a lone "." (no premature end of data) and none is
 *    longer than 998 octets plus the stuffed dot;
 *  - un-stuffing the body gives back canon(input), where canon() is
 *    written here from the rules in sendmail_msg.c's header comment
 *    (LF, CRLF or CR+LF end a line; a run of CRs before another byte is
 *    a line break; 998 octets and the line goes on is a break; EOF in a
 *    line adds the line end; without -i a real input line "." ends the
 *    message);
 *  - independently of those rules, with -i the body holds exactly the
 *    input's bytes other than CR and LF, in order (nothing lost, nothing
 *    added but line ends), and without -i a prefix of them;
 *  - a NUL in the input fails the message (unless it comes after a "."
 *    line that ended it), and only a NUL does.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/queue_env.h"
#include "sendmail/sendmail_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sink: collects the wire bytes. */
static int
fuzz_sendmail_wire_sink(void *arg, const char *p, size_t len)
{
	return buf_add(arg, p, len);
}

/* canon() state: the current piece and whether it starts a real line. */
struct canon {
	struct buf out;
	char seg[SENDMAIL_MSG_LINE_MAX];
	size_t seglen;
	int seg_first, ended, ignore_dots;
	size_t end_at; /* input index of the line end that ended it */
};

/* Ends the current piece; hard is an LF or EOF ending. */
static void
fuzz_sendmail_wire_piece(struct canon *c, int hard)
{
	if (hard && c->seg_first && !c->ignore_dots && c->seglen == 1 &&
	    c->seg[0] == '.') {
		c->ended = 1;
		return;
	}
	if (buf_add(&c->out, c->seg, c->seglen) == -1 ||
	    buf_add(&c->out, "\r\n", 2) == -1)
		abort();
	c->seglen = 0;
	c->seg_first = hard;
}

/* The reference canonicaliser. */
static void
fuzz_sendmail_wire_canon(struct canon *c, const unsigned char *p, size_t n)
{
	size_t ncr = 0;

	c->seglen = 0;
	c->seg_first = 1;
	for (size_t i = 0; i < n && !c->ended; i++) {
		if (p[i] == '\r') {
			ncr++;
			continue;
		}
		if (p[i] == '\n') {
			ncr = 0;
			fuzz_sendmail_wire_piece(c, 1);
			c->end_at = i;
			continue;
		}
		if (ncr > 0) {
			ncr = 0;
			fuzz_sendmail_wire_piece(c, 0);
		}
		if (c->seglen == SENDMAIL_MSG_LINE_MAX)
			fuzz_sendmail_wire_piece(c, 0);
		c->seg[c->seglen++] = (char)p[i];
	}
	if (!c->ended && (ncr > 0 || c->seglen > 0))
		fuzz_sendmail_wire_piece(c, 1);
	if (!c->ended)
		c->end_at = n;
}

/* Checks one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sendmail_msg_params p;
	struct sendmail_msg m;
	struct queue_env_wire w;
	struct canon c;
	struct buf out, body;
	const char *errstr, *s, *end;
	size_t used, k = 0;
	int rc = -1, has_nul;

	if (size < 1)
		return 0;
	memset(&p, 0, sizeof(p));
	p.ignore_dots = data[0] & 1;
	data++;
	size--;
	/* canon() first: a NUL after a terminating "." line is discarded. */
	memset(&c, 0, sizeof(c));
	c.ignore_dots = p.ignore_dots;
	buf_init(&c.out, 64 * 1024 * 1024);
	fuzz_sendmail_wire_canon(&c, data, size);
	has_nul = memchr(data, '\0', c.end_at) != NULL;
	p.sender = "me@example.org";
	p.domain = "example.org";
	p.hostname = "host.example.org";
	p.flush_at = 4096;
	p.now = 1700000000;
	p.pid = 42;
	p.msgid_rand = 1;
	p.sink = fuzz_sendmail_wire_sink;
	p.sink_arg = &out;
	buf_init(&out, 64 * 1024 * 1024);
	sendmail_msg_init(&m, &p);
	/* An empty first line: no header section at all. */
	if (sendmail_msg_feed(&m, "\n", 1, &used) == -1 || used != 1 ||
	    !sendmail_msg_headers_done(&m) || sendmail_msg_start_body(&m) == -1)
		abort();
	if (sendmail_msg_feed(&m, (const char *)data, size, &used) == 0 &&
	    sendmail_msg_end_input(&m) == 0 && sendmail_msg_finish(&m) == 0)
		rc = 0;
	if ((rc == -1) != has_nul ||
	    (rc == -1 && m.error != SENDMAIL_MSG_ERR_NUL))
		abort();
	sendmail_msg_free(&m);
	if (rc == -1) {
		buf_free(&out);
		buf_free(&c.out);
		return 0;
	}

	queue_env_wire_init(&w);
	if (queue_env_wire_feed(&w, out.data, out.len, &errstr) == -1 ||
	    queue_env_wire_end(&w, &errstr) == -1)
		abort();
	/* The body starts after the first empty line. */
	s = out.data;
	end = out.data + out.len;
	while (s < end && !(s + 1 < end && s[0] == '\r' && s[1] == '\n')) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));

		if (eol == NULL)
			abort();
		s = eol + 1;
	}
	if (s >= end)
		abort();
	s += 2;
	/* Un-stuff, checking each line. */
	buf_init(&body, 64 * 1024 * 1024);
	while (s < end) {
		const char *eol = memchr(s, '\r', (size_t)(end - s));
		size_t len;

		if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
			abort();
		len = (size_t)(eol - s);
		if (len == 1 && s[0] == '.')
			abort(); /* a premature end of data */
		if (len > SENDMAIL_MSG_LINE_MAX + 1)
			abort();
		if (len > 0 && s[0] == '.') {
			if (len < 2 || s[1] != '.')
				abort(); /* not stuffed */
			s++;
			len--;
		}
		if (len > SENDMAIL_MSG_LINE_MAX ||
		    buf_add(&body, s, len) == -1 ||
		    buf_add(&body, "\r\n", 2) == -1)
			abort();
		s = eol + 2;
	}
	if (c.out.len != body.len ||
	    (body.len > 0 && memcmp(c.out.data, body.data, body.len) != 0))
		abort();
	/* Independent of canon(): the non-CR/LF bytes, in order. */
	for (size_t i = 0; i < body.len; i++) {
		if (body.data[i] == '\r' || body.data[i] == '\n')
			continue;
		while (k < size && (data[k] == '\r' || data[k] == '\n'))
			k++;
		if (k >= size || data[k] != (unsigned char)body.data[i])
			abort();
		k++;
	}
	while (
	    p.ignore_dots && k < size && (data[k] == '\r' || data[k] == '\n'))
		k++;
	if (p.ignore_dots && k != size)
		abort(); /* something was lost */
	buf_free(&c.out);
	buf_free(&body);
	buf_free(&out);
	return 0;
}
