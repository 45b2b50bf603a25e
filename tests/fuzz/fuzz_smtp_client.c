/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the SMTP client state machine (smtp_client.c),
 * curl-fuzzer style: the input is a fuzzed server byte stream.  The
 * first two bytes choose the client configuration (STARTTLS required,
 * AUTH required, implicit TLS, plaintext AUTH allowed, no pipelining)
 * and the message (1-4 recipients, 8-bit, SMTPUTF8, DSN); the rest is
 * cut into lines, parsed with smtp_reply_feed() as relayqd_conn does,
 * and each complete reply is fed to the client.  The ops behave like
 * the glue: the message is sent at the first ready, QUIT at the next;
 * STARTTLS "succeeds" at once.  Checked on every call:
 *  - everything written is whole CRLF-terminated lines with no other
 *    CR, LF or NUL;
 *  - no AUTH line and no MAIL before TLS when TLS is required, no AUTH
 *    in clear unless allowed, no MAIL before AUTH succeeded when AUTH is
 *    required;
 *  - send_body only right after DATA's 3xx (354) reply, at most once
 *    per message;
 *  - each recipient gets exactly one rcpt_done per transaction, all of
 *    them before msg_done; closed comes exactly once, and nothing after.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_client.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_cl {
	struct smtp_client *c;
	struct smtp_client_conf conf;
	struct smtp_msg msg;
	int last_code;	    /* code of the reply being handled */
	int tls;	    /* the session is encrypted */
	int authed;	    /* auth_done was called */
	int sent;	    /* the message was handed to smtp_client_send */
	int in_msg;	    /* between send and msg_done */
	int body;	    /* send_body calls for this message */
	int closed;	    /* closed calls */
	int tls_pending;    /* starttls asked; finish after the op */
	int tls_fail;	    /* make the handshake fail */
	unsigned rcpt_seen; /* bits: rcpt_done this transaction */
};

static struct fuzz_cl F;

/* ops->write: whole, clean lines, in an allowed order. */
static void
fuzz_cl_write(void *arg, const char *p, size_t len)
{
	struct fuzz_cl *f = arg;
	const char *end = p + len;

	if (f->closed || len == 0)
		abort();
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (eol == NULL || eol == p || eol[-1] != '\r')
			abort();
		n = (size_t)(eol - p) - 1;
		if (n + 2 > SMTP_AUTH_LINE_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
				abort();
		if (n >= 5 && strncmp(p, "AUTH ", 5) == 0) {
			if (f->conf.starttls && !f->tls)
				abort(); /* AUTH before TLS */
			if (!f->tls && !f->conf.allow_plaintext_auth)
				abort(); /* AUTH in clear */
		}
		if (n >= 10 && strncmp(p, "MAIL FROM:", 10) == 0) {
			if (f->conf.starttls && !f->tls)
				abort(); /* mail before TLS */
			if (f->conf.auth && !f->authed)
				abort(); /* mail before AUTH */
		}
		p = eol + 1;
	}
}

static void
fuzz_cl_set_timeout(void *arg, enum smtp_timeout kind)
{
	(void)arg;
	if ((int)kind < SMTP_TMO_GREETING || kind > SMTP_TMO_DOT)
		abort();
}

static void
fuzz_cl_starttls(void *arg)
{
	struct fuzz_cl *f = arg;

	if (f->tls || f->last_code / 100 != 2)
		abort();
	f->tls_pending = 1;
}

static void
fuzz_cl_ready(void *arg)
{
	struct fuzz_cl *f = arg;

	if (f->in_msg || f->closed)
		abort();
	if (f->conf.starttls && !f->tls)
		abort(); /* ready without the required TLS */
	if (f->conf.auth && !f->authed)
		abort(); /* ready without the required AUTH */
	if (!f->sent) {
		f->sent = 1;
		f->in_msg = 1;
		f->body = 0;
		f->rcpt_seen = 0;
		if (smtp_client_send(f->c, &f->msg) == -1)
			f->in_msg = 0;
	} else
		smtp_client_quit(f->c);
}

static void
fuzz_cl_send_body(void *arg)
{
	struct fuzz_cl *f = arg;

	/* Any 3xx is DATA's go-ahead (RFC 5321 4.2.1; Postfix does the same). */
	if (!f->in_msg || f->last_code / 100 != 3 || f->body++ > 0)
		abort();
}

static void
fuzz_cl_rcpt_done(void *arg, size_t idx, enum rq_status st,
    const struct rq_reason *why)
{
	struct fuzz_cl *f = arg;

	(void)why;
	if (!f->in_msg || idx >= f->msg.nrcpt || (f->rcpt_seen & (1u << idx)))
		abort();
	if (st != RQ_OK && st != RQ_TEMPFAIL && st != RQ_PERMFAIL)
		abort();
	f->rcpt_seen |= 1u << idx;
}

static void
fuzz_cl_msg_done(void *arg, enum rq_status st, const struct rq_reason *why)
{
	struct fuzz_cl *f = arg;

	(void)why;
	if (!f->in_msg || f->rcpt_seen != (1u << f->msg.nrcpt) - 1)
		abort();
	if (st == RQ_OK && f->body != 1)
		abort(); /* delivered without a body */
	f->in_msg = 0;
}

static void
fuzz_cl_closed(void *arg, enum rq_status st, const struct rq_reason *why)
{
	struct fuzz_cl *f = arg;

	(void)st;
	(void)why;
	if (f->closed++ > 0 || f->in_msg)
		abort();
}

static int
fuzz_cl_auth_start(void *arg, const char *offered, const char **mech,
    char **resp, struct rq_reason *why)
{
	struct fuzz_cl *f = arg;

	(void)offered;
	(void)why;
	if (f->conf.starttls && !f->tls)
		abort();
	*mech = "PLAIN";
	*resp = strdup("AHVzZXIAcGFzcw==");
	return *resp == NULL ? -1 : 0;
}

static int
fuzz_cl_auth_step(void *arg, const char *challenge, size_t len, char **resp,
    struct rq_reason *why)
{
	(void)arg;
	(void)why;
	if (strlen(challenge) != len)
		abort();
	*resp = strdup(len % 2 ? "" : "dGVzdA==");
	return *resp == NULL ? -1 : 0;
}

static int
fuzz_cl_auth_done(void *arg, struct rq_reason *why)
{
	struct fuzz_cl *f = arg;

	(void)why;
	f->authed = 1;
	return 0;
}

static const struct smtp_client_ops fuzz_cl_ops = {
	.write = fuzz_cl_write,
	.set_timeout = fuzz_cl_set_timeout,
	.starttls = fuzz_cl_starttls,
	.ready = fuzz_cl_ready,
	.send_body = fuzz_cl_send_body,
	.rcpt_done = fuzz_cl_rcpt_done,
	.msg_done = fuzz_cl_msg_done,
	.closed = fuzz_cl_closed,
	.auth_start = fuzz_cl_auth_start,
	.auth_step = fuzz_cl_auth_step,
	.auth_done = fuzz_cl_auth_done,
};

/* Plays one server stream. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *rcpts[] = { "a@example.org", "b@example.org",
		"c@example.org", "d@example.org" };
	static const unsigned notify[] = { 2, 4, 8, 1 };
	static const char *orcpt[] = { "rfc822;a@example.org", NULL,
		"rfc822;c@example.org", NULL };
	static struct smtp_reply r;
	const char *p, *end, *errstr;
	unsigned a, b;

	if (size < 2)
		return 0;
	a = data[0];
	b = data[1];
	memset(&F, 0, sizeof(F));
	F.conf.helo_name = "client.example.org";
	/* relayqd_conn sets at most one of starttls and tls_on_connect */
	F.conf.tls_on_connect = (a >> 2) & 1;
	F.conf.starttls = (a & 1) && !F.conf.tls_on_connect;
	F.conf.auth = (a >> 1) & 1;
	F.conf.allow_plaintext_auth = (a >> 3) & 1;
	F.conf.no_pipelining = (a >> 4) & 1;
	F.tls_fail = (a >> 5) & 1;
	F.tls = F.conf.tls_on_connect;
	F.msg.id = "0000000000000000F022";
	F.msg.sender = (b & 0x80) ? "" : "s@example.org";
	F.msg.rcpts = rcpts;
	F.msg.nrcpt = (b & 3) + 1;
	F.msg.size = (b & 4) ? 12345 : 0;
	F.msg.body_8bit = (b >> 3) & 1;
	F.msg.smtputf8 = (b >> 4) & 1;
	if (b & 0x20) {
		F.msg.dsn_ret = "HDRS";
		F.msg.dsn_envid = "env+id";
		F.msg.dsn_notify = notify;
		F.msg.dsn_orcpt = orcpt;
	}
	F.c = smtp_client_new(&F.conf, &fuzz_cl_ops, &F);
	if (F.c == NULL)
		abort();
	smtp_reply_init(&r);
	p = (const char *)data + 2;
	end = (const char *)data + size;
	while (p < end && !F.closed) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int rv;

		if (nl == NULL)
			nl = end;
		rv = smtp_reply_feed(&r, p, (size_t)(nl - p), &errstr);
		p = nl < end ? nl + 1 : end;
		if (rv == -1) {
			smtp_client_fail(F.c, RQ_TEMPFAIL, errstr);
			break;
		}
		if (rv == 0)
			continue;
		F.last_code = r.code;
		if (smtp_client_on_reply(F.c, &r) == -1) {
			if (!F.closed)
				abort(); /* -1 means closed was called */
			break;
		}
		smtp_reply_init(&r);
		if (F.tls_pending) {
			F.tls_pending = 0;
			if (F.tls_fail)
				smtp_client_fail(F.c, RQ_TEMPFAIL, "handshake");
			else {
				F.tls = 1;
				smtp_client_tls_done(F.c);
			}
		}
		F.last_code = 0;
	}
	if (!F.closed)
		smtp_client_fail(F.c, RQ_TEMPFAIL, "connection closed");
	if (F.closed != 1 || F.in_msg)
		abort();
	smtp_client_free(F.c);
	return 0;
}
