/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the front end's message rewriting: header
 * parsing, -t recipient extraction, the added fields and the body
 * (sendmail_msg.c).  The first three input bytes choose the options
 * (-i, -t, bare local parts kept, masquerading, Received:, a full name,
 * a size limit) and the chunk size the rest is fed in.  Checked:
 *  - a finished message is in wire form (queue_env_wire), has its
 *    header section first (every line a "name:" field, obsolete white
 *    space before the colon allowed, or a folded continuation) then the
 *    empty line, and no line longer than 998
 *    octets plus a stuffed dot;
 *  - feeding in chunks gives byte-for-byte the same output as feeding
 *    all at once;
 *  - every -t recipient is a valid address (or, kept bare, a clean local
 *    part);
 *  - a failure always names an error.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/buf.h"
#include "queue/queue_env.h"
#include "sendmail/sendmail_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	struct buf out;
	struct addr_list rcpts;
	int rc;
	enum sendmail_msg_error error;
};

/* The sink: collects the wire bytes. */
static int
fuzz_sendmail_msg_sink(void *arg, const char *p, size_t len)
{
	struct fuzz_run *r = arg;

	return buf_add(&r->out, p, len);
}

/* Runs the input through sendmail_msg in chunks of chunk bytes. */
static void
fuzz_sendmail_msg_run(struct fuzz_run *r, unsigned flags, long long max_size,
    const char *in, size_t len, size_t chunk)
{
	struct sendmail_msg_params p;
	struct sendmail_msg m;
	size_t off = 0, used, nbad;
	const char *errstr;

	memset(&p, 0, sizeof(p));
	p.ignore_dots = flags & 1;
	p.keep_bare = (flags >> 2) & 1;
	p.undisclosed = (flags >> 3) & 1;
	p.masquerade = (flags & 0x10) ? "masq.example.org" : "";
	p.received = (flags & 0x20) ? "local" : NULL;
	p.fullname = (flags & 0x40) ? "Fuzz \"Q\" User" : NULL;
	p.sender = (flags & 0x80) ? "" : "me@example.org";
	p.domain = "example.org";
	p.hostname = "host.example.org";
	p.max_size = max_size;
	p.flush_at = 1000;
	p.now = 1700000000;
	p.pid = 42;
	p.msgid_rand = 0x1234;
	p.uid = 1000;
	p.sink = fuzz_sendmail_msg_sink;
	p.sink_arg = r;
	buf_init(&r->out, 16 * 1024 * 1024);
	addr_list_init(&r->rcpts);
	r->rc = -1;
	sendmail_msg_init(&m, &p);
	while (!sendmail_msg_headers_done(&m)) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (n == 0) {
			if (sendmail_msg_end_input(&m) == -1)
				goto out;
			break;
		}
		if (sendmail_msg_feed(&m, in + off, n, &used) == -1)
			goto out;
		if (used > n)
			abort();
		off += used;
	}
	if (flags & 2)
		(void)sendmail_msg_rcpts(&m, &r->rcpts, &nbad, &errstr);
	if (sendmail_msg_start_body(&m) == -1)
		goto out;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (sendmail_msg_feed(&m, in + off, n, &used) == -1)
			goto out;
		if (used != n)
			abort(); /* the body phase consumes everything */
		off += n;
	}
	if (sendmail_msg_end_input(&m) == -1 || sendmail_msg_finish(&m) == -1)
		goto out;
	r->rc = 0;
out:
	r->error = m.error;
	if (r->rc == -1 && r->error == SENDMAIL_MSG_ERR_NONE)
		abort();
	sendmail_msg_free(&m);
}

/* Aborts unless out is a well-formed message in wire form. */
static void
fuzz_sendmail_msg_check(const struct buf *out)
{
	struct queue_env_wire w;
	const char *errstr, *p = out->data, *end = out->data + out->len;
	int in_header = 1;

	queue_env_wire_init(&w);
	if (queue_env_wire_feed(&w, p, out->len, &errstr) == -1 ||
	    queue_env_wire_end(&w, &errstr) == -1)
		abort();
	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));
		size_t len;

		if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
			abort();
		len = (size_t)(eol - p);
		if (len > SENDMAIL_MSG_LINE_MAX + 1)
			abort();
		if (in_header) {
			if (len == 0)
				in_header = 0;
			else if (p[0] != ' ' && p[0] != '\t') {
				const char *colon = memchr(p, ':', len);
				const char *q = p;

				/* name *WSP ":" (RFC 5322 4.5.3 obs-optional) */
				if (colon == NULL || colon == p)
					abort();
				while (q < colon && (unsigned char)*q > 0x20 &&
				    (unsigned char)*q < 0x7f)
					q++;
				if (q == p)
					abort();
				while (q < colon && (*q == ' ' || *q == '\t'))
					q++;
				if (q != colon)
					abort();
			}
		}
		p = eol + 2;
	}
	if (in_header)
		abort(); /* the empty line is always written */
}

/* Feeds one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run a, b;
	const char *errstr;
	unsigned flags;
	size_t chunk;
	long long max_size;

	if (size < 3)
		return 0;
	flags = data[0];
	chunk = (size_t)data[1] % 64 + 1;
	max_size = data[2] == 0 ? 0 : (long long)data[2] * 64;
	data += 3;
	size -= 3;
	fuzz_sendmail_msg_run(&a, flags, max_size, (const char *)data, size,
	    chunk);
	fuzz_sendmail_msg_run(&b, flags, max_size, (const char *)data, size,
	    size + 1);
	if (a.rc != b.rc || a.error != b.error)
		abort();
	if (a.rc == 0) {
		if (a.out.len != b.out.len ||
		    memcmp(a.out.data, b.out.data, a.out.len) != 0)
			abort();
		fuzz_sendmail_msg_check(&a.out);
		if (a.rcpts.n != b.rcpts.n)
			abort();
	}
	for (size_t i = 0; i < a.rcpts.n; i++) {
		const char *r = a.rcpts.v[i], *at = strrchr(r, '@');

		/* kept bare: no '@', or only inside a quoted local part */
		if ((flags & 4) &&
		    (at == NULL || (r[0] == '"' && strrchr(r, '"') > at))) {
			for (const char *q = r; *q != '\0'; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f)
					abort();
			if (r[0] == '\0')
				abort();
		} else if (addr_check(r, &errstr) == -1)
			abort();
	}
	buf_free(&a.out);
	buf_free(&b.out);
	addr_list_free(&a.rcpts);
	addr_list_free(&b.rcpts);
	return 0;
}
