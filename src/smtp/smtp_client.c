/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The SMTP client state machine (RFC 5321, 2920, 3207, 1870, 6152, 6531),
 * free of I/O: complete replies go in, command bytes come out through
 * ops->write, and outcomes through the other ops.  It owns the order of
 * the dialogue and the per-recipient bookkeeping; it does not own the
 * socket, TLS, timers, the body, or what a failure means for the queue.
 *
 * Every command sent is pushed on a FIFO with the state that handles its
 * reply; each reply pops the head and goes to that state's handler in
 * smtp_states[], so lock-step and pipelined sessions share the handlers
 * and every status is checked (RFC 2920 section 3.1).  Invariants: while
 * the FIFO is not empty c->state is the state of its head;
 * smtp_client_set_state() is the only writer of c->state and nothing
 * leaves SMTP_ST_CLOSED; each recipient is reported once per message,
 * before the single msg_done; ops->closed is called once.  The ops that
 * may re-enter the client (ready, starttls, send_body) are called last,
 * by smtp_client_settle(), once the state is consistent.
 *
 * AUTH sits between the last EHLO and ready (smtp_client_hello_done):
 * nothing goes out unless the session is encrypted or plaintext AUTH was
 * allowed, every response line is traced as "<redacted>" and wiped
 * before free, and any failure closes the session as RQ_TEMPFAIL.
 */
#include "config.h"

#include "smtp/smtp_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "smtp/smtp_cmd.h"

enum smtp_state {
	SMTP_ST_BANNER,	  /* awaiting the greeting */
	SMTP_ST_EHLO,	  /* EHLO sent */
	SMTP_ST_HELO,	  /* HELO sent after EHLO was refused */
	SMTP_ST_STARTTLS, /* STARTTLS sent */
	SMTP_ST_TLS,	  /* handshake in the glue; no reply awaited */
	SMTP_ST_AUTH,	  /* AUTH or a response line sent */
	SMTP_ST_READY,	  /* idle, waiting for send() or quit() */
	SMTP_ST_MAIL,	  /* MAIL FROM sent */
	SMTP_ST_RCPT,	  /* RCPT TO sent */
	SMTP_ST_DATA,	  /* DATA sent */
	SMTP_ST_DOT,	  /* body being sent / final dot's reply awaited */
	SMTP_ST_NULLDOT,  /* lone "." sent after an unwanted 354 */
	SMTP_ST_RSET,	  /* RSET sent after a failed transaction */
	SMTP_ST_QUIT,	  /* QUIT sent */
	SMTP_ST_CLOSED,	  /* ops->closed was called */
};

/* The op to call once an entry point has finished its work. */
enum smtp_pending {
	SMTP_PEND_NONE,
	SMTP_PEND_READY,
	SMTP_PEND_STARTTLS,
	SMTP_PEND_BODY,
};

/* Per-recipient progress within the current message. */
enum smtp_rcpt_state {
	SMTP_RCPT_WAIT,	    /* no outcome yet */
	SMTP_RCPT_ACCEPTED, /* RCPT got 2xx; outcome comes with the dot */
	SMTP_RCPT_DONE,	    /* rcpt_done was called */
};

/* A command sent and not yet answered. */
struct smtp_sent {
	enum smtp_state state; /* handles the reply */
	size_t rcpt;	       /* recipient index for RCPT */
};

struct smtp_client {
	struct smtp_client_conf conf; /* copy; helo_name borrowed */
	struct smtp_client_ops ops;
	void *arg; /* borrowed: passed to every op */
	enum smtp_state state;
	enum smtp_pending pending;
	struct smtp_caps caps;
	int tls;	/* STARTTLS completed */
	int auth_steps; /* 334 challenges answered in this AUTH */

	struct buf out; /* owned: one command being written */

	struct smtp_sent *fifo; /* owned ring of sent commands */
	size_t fifo_cap, fifo_head, fifo_len;
	size_t cur_rcpt; /* recipient of the reply being handled */

	/* The transaction; msg is NULL when none is in flight. */
	const struct smtp_msg *msg; /* borrowed until msg_done */
	unsigned char *rcpt_state;  /* owned: enum smtp_rcpt_state each */
	size_t rcpt_cap;
	size_t rcpt_next; /* next RCPT to send */
	size_t naccepted;
	struct buf txn; /* owned: MAIL, RCPT..., DATA lines */
	size_t txn_off; /* next unsent byte of txn */
	int pipelined;
	int mail_failed;
	int fail_set; /* fail_st and fail_why hold a failure */
	enum rq_status fail_st;
	struct rq_reason fail_why;
};

typedef enum smtp_state (
    *smtp_client_reply_fn)(struct smtp_client *, const struct smtp_reply *);

static enum smtp_state smtp_client_on_banner(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_ehlo(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_helo(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_starttls(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_auth(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_mail(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_rcpt(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_data(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_dot(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_nulldot(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_rset(struct smtp_client *,
    const struct smtp_reply *);
static enum smtp_state smtp_client_on_quit(struct smtp_client *,
    const struct smtp_reply *);

static const struct smtp_state_desc {
	const char *name;
	enum smtp_timeout tmo; /* armed while this state's reply is awaited */
	smtp_client_reply_fn on_reply;
} smtp_states[] = {
	[SMTP_ST_BANNER] = { "banner", SMTP_TMO_GREETING,
	    smtp_client_on_banner },
	[SMTP_ST_EHLO] = { "ehlo", SMTP_TMO_COMMAND, smtp_client_on_ehlo },
	[SMTP_ST_HELO] = { "helo", SMTP_TMO_COMMAND, smtp_client_on_helo },
	[SMTP_ST_STARTTLS] = { "starttls", SMTP_TMO_COMMAND,
	    smtp_client_on_starttls },
	[SMTP_ST_TLS] = { "tls", SMTP_TMO_COMMAND, NULL },
	[SMTP_ST_AUTH] = { "auth", SMTP_TMO_COMMAND, smtp_client_on_auth },
	[SMTP_ST_READY] = { "ready", SMTP_TMO_COMMAND, NULL },
	[SMTP_ST_MAIL] = { "mail", SMTP_TMO_COMMAND, smtp_client_on_mail },
	[SMTP_ST_RCPT] = { "rcpt", SMTP_TMO_COMMAND, smtp_client_on_rcpt },
	[SMTP_ST_DATA] = { "data", SMTP_TMO_DATA, smtp_client_on_data },
	[SMTP_ST_DOT] = { "dot", SMTP_TMO_DOT, smtp_client_on_dot },
	[SMTP_ST_NULLDOT] = { "nulldot", SMTP_TMO_DOT, smtp_client_on_nulldot },
	[SMTP_ST_RSET] = { "rset", SMTP_TMO_COMMAND, smtp_client_on_rset },
	[SMTP_ST_QUIT] = { "quit", SMTP_TMO_COMMAND, smtp_client_on_quit },
	[SMTP_ST_CLOSED] = { "closed", SMTP_TMO_COMMAND, NULL },
};

/* The only writer of c->state; nothing leaves SMTP_ST_CLOSED. */
static void
smtp_client_set_state(struct smtp_client *c, enum smtp_state next)
{
	if (c->state == SMTP_ST_CLOSED || c->state == next)
		return;
	log_trace(LOG_TRACE_STATE, "smtp: %s -> %s", smtp_states[c->state].name,
	    smtp_states[next].name);
	c->state = next;
	if (next == SMTP_ST_READY)
		c->pending = SMTP_PEND_READY;
}

/* Maps a reply code to a status: 2xx ok, 5xx permanent, else temporary. */
static enum rq_status
smtp_client_status(const struct smtp_reply *r)
{
	switch (r->code / 100) {
	case 2:
		return RQ_OK;
	case 5:
		return RQ_PERMFAIL;
	default:
		return RQ_TEMPFAIL;
	}
}

/* Fills why from a server reply: code, enhanced code and summary. */
static void
smtp_client_reason(struct rq_reason *why, const struct smtp_reply *r)
{
	why->code = r->code;
	why->stage = RQ_STAGE_SESSION;
	(void)strlcpy(why->esc, r->esc, sizeof(why->esc));
	smtp_reply_summary(r, why->text, sizeof(why->text));
}

/* The stage (common/status.h) of a reply awaited in state st. */
static enum rq_stage
smtp_client_stage(enum smtp_state st)
{
	switch (st) {
	case SMTP_ST_MAIL:
		return RQ_STAGE_MAIL;
	case SMTP_ST_RCPT:
		return RQ_STAGE_RCPT;
	case SMTP_ST_DATA:
		return RQ_STAGE_DATA;
	case SMTP_ST_DOT:
		return RQ_STAGE_DOT;
	default:
		return RQ_STAGE_SESSION;
	}
}

/* Traces each command line in data (len bytes), redacting AUTH. */
static void
smtp_client_trace_out(const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl;
	size_t n;

	if (!log_trace_on(LOG_TRACE_SMTP))
		return;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= 5 && strncasecmp(p, "AUTH ", 5) == 0) {
			size_t mech = strcspn(p + 5, " \r\n");

			log_trace_msg("> AUTH %.*s <redacted>", (int)mech,
			    p + 5);
		} else
			log_trace_msg("> %.*s", (int)n, p);
		p = nl < end ? nl + 1 : end;
	}
}

/* Traces every line of a reply. */
static void
smtp_client_trace_in(const struct smtp_reply *r)
{
	const char *p;
	size_t len;

	if (!log_trace_on(LOG_TRACE_SMTP))
		return;
	for (size_t i = 0; i < r->nlines; i++) {
		if (smtp_reply_line(r, i, &p, &len) == -1) {
			log_trace_msg("< %d (%zu more lines)", r->code,
			    r->nlines - i);
			break;
		}
		log_trace_msg("< %d%c%.*s", r->code,
		    i + 1 < r->nlines ? '-' : ' ', (int)len, p);
	}
}

/* Hands bytes to ops->write unless the session is over. */
static void
smtp_client_write(struct smtp_client *c, const char *data, size_t len)
{
	if (c->state == SMTP_ST_CLOSED || len == 0)
		return;
	smtp_client_trace_out(data, len);
	c->ops.write(c->arg, data, len);
}

/* Hands a secret-bearing line to ops->write, tracing it as redacted. */
static void
smtp_client_write_redacted(struct smtp_client *c, const char *data, size_t len)
{
	if (c->state == SMTP_ST_CLOSED || len == 0)
		return;
	log_trace(LOG_TRACE_SMTP, "> <redacted>");
	c->ops.write(c->arg, data, len);
}

/* Makes room for n commands in the (empty) FIFO. */
static void
smtp_client_fifo_reserve(struct smtp_client *c, size_t n)
{
	RQ_ASSERT(c->fifo_len == 0);
	if (n <= c->fifo_cap)
		return;
	c->fifo = xreallocarray(c->fifo, n, sizeof(*c->fifo));
	c->fifo_cap = n;
	c->fifo_head = 0;
}

/* Records a sent command whose reply state will handle. */
static void
smtp_client_push(struct smtp_client *c, enum smtp_state state, size_t rcpt)
{
	struct smtp_sent *e;

	if (c->state == SMTP_ST_CLOSED)
		return;
	RQ_ASSERT(c->fifo_len < c->fifo_cap);
	e = &c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap];
	e->state = state;
	e->rcpt = rcpt;
	c->fifo_len++;
}

/* Removes the FIFO head into *e. */
static void
smtp_client_pop(struct smtp_client *c, struct smtp_sent *e)
{
	RQ_ASSERT(c->fifo_len > 0);
	*e = c->fifo[c->fifo_head];
	c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
	c->fifo_len--;
}

/* Returns the state of the FIFO head, or idle when nothing is awaited. */
static enum smtp_state
smtp_client_head(const struct smtp_client *c, enum smtp_state idle)
{
	return c->fifo_len > 0 ? c->fifo[c->fifo_head].state : idle;
}

/* Reports recipient i once. */
static void
smtp_client_rcpt_report(struct smtp_client *c, size_t i, enum rq_status st,
    const struct rq_reason *why)
{
	if (c->msg == NULL || i >= c->msg->nrcpt ||
	    c->rcpt_state[i] == SMTP_RCPT_DONE)
		return;
	c->rcpt_state[i] = SMTP_RCPT_DONE;
	c->ops.rcpt_done(c->arg, i, st, why);
}

/* Reports every unreported recipient as st, then ends the message. */
static void
smtp_client_msg_report(struct smtp_client *c, enum rq_status st,
    const struct rq_reason *why)
{
	for (size_t i = 0; c->msg != NULL && i < c->msg->nrcpt; i++)
		smtp_client_rcpt_report(c, i, st, why);
	if (c->msg == NULL)
		return;
	c->msg = NULL;
	c->ops.msg_done(c->arg, st, why);
}

/* Ends the session: ops->closed, exactly once. */
static void
smtp_client_close(struct smtp_client *c, enum rq_status st,
    const struct rq_reason *why)
{
	if (c->state == SMTP_ST_CLOSED)
		return;
	smtp_client_set_state(c, SMTP_ST_CLOSED);
	c->fifo_len = 0;
	c->pending = SMTP_PEND_NONE;
	c->ops.closed(c->arg, st, why);
}

/* Fails everything outstanding as st, then closes the session. */
static void
smtp_client_abort(struct smtp_client *c, enum rq_status st,
    const struct rq_reason *why)
{
	if (c->state == SMTP_ST_CLOSED)
		return;
	smtp_client_msg_report(c, st, why);
	smtp_client_close(c, st, why);
}

/* Tempfails the session with a server reply as the reason. */
static enum smtp_state
smtp_client_abort_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct rq_reason why;

	smtp_client_reason(&why, r);
	smtp_client_abort(c, RQ_TEMPFAIL, &why);
	return SMTP_ST_CLOSED;
}

/*
 * Sends the one command just formatted into c->out (rv is the formatter's
 * result) and expects its reply in state.
 */
static enum smtp_state
smtp_client_cmd(struct smtp_client *c, enum smtp_state state, int rv)
{
	char text[64];

	if (rv == -1) {
		buf_reset(&c->out);
		(void)snprintf(text, sizeof(text), "cannot format %s command",
		    smtp_states[state].name);
		smtp_client_fail(c, RQ_TEMPFAIL, text);
		return SMTP_ST_CLOSED;
	}
	smtp_client_push(c, state, 0);
	smtp_client_write(c, c->out.data, c->out.len);
	buf_reset(&c->out);
	return smtp_client_head(c, SMTP_ST_CLOSED);
}

/* Sends the next preformatted transaction line, answered in state. */
static enum smtp_state
smtp_client_send_next(struct smtp_client *c, enum smtp_state state, size_t rcpt)
{
	const char *p = c->txn.data + c->txn_off, *nl;
	size_t n;

	RQ_ASSERT(c->txn_off < c->txn.len);
	nl = memchr(p, '\n', c->txn.len - c->txn_off);
	RQ_ASSERT(nl != NULL);
	n = (size_t)(nl - p) + 1;
	c->txn_off += n;
	smtp_client_push(c, state, rcpt);
	smtp_client_write(c, p, n);
	return smtp_client_head(c, SMTP_ST_CLOSED);
}

/* Remembers the first failure of the transaction (temporary wins). */
static void
smtp_client_note_failure(struct smtp_client *c, enum rq_status st,
    const struct rq_reason *why)
{
	if (c->fail_set && !(st == RQ_TEMPFAIL && c->fail_st != RQ_TEMPFAIL))
		return;
	c->fail_set = 1;
	c->fail_st = st;
	c->fail_why = *why;
}

/*
 * Ends the transaction: every recipient not yet reported gets st, then
 * msg_done(st); RSET follows when rset is set, else the session is ready.
 */
static enum smtp_state
smtp_client_txn_end(struct smtp_client *c, enum rq_status st,
    const struct rq_reason *why, int rset)
{
	smtp_client_msg_report(c, st, why);
	if (c->state == SMTP_ST_CLOSED)
		return SMTP_ST_CLOSED;
	if (rset)
		return smtp_client_cmd(c, SMTP_ST_RSET, smtp_cmd_rset(&c->out));
	return SMTP_ST_READY;
}

/* Ends a transaction that delivered nothing (the failure is noted). */
static enum smtp_state
smtp_client_txn_abandon(struct smtp_client *c)
{
	struct rq_reason why;

	if (!c->fail_set) {
		rq_reason_set(&why, 0, "", "no recipient accepted");
		smtp_client_note_failure(c, RQ_TEMPFAIL, &why);
	}
	return smtp_client_txn_end(c, c->fail_st, &c->fail_why, 1);
}

/* Sends EHLO. */
static enum smtp_state
smtp_client_send_ehlo(struct smtp_client *c)
{
	return smtp_client_cmd(c, SMTP_ST_EHLO,
	    smtp_cmd_ehlo(&c->out, c->conf.helo_name));
}

/* Wipes and frees a response from ops->auth_start/auth_step. */
static void
smtp_client_auth_wipe(char **resp)
{
	if (*resp == NULL)
		return;
	explicit_bzero(*resp, strlen(*resp));
	free(*resp);
	*resp = NULL;
}

/* Closes the session as RQ_TEMPFAIL for an AUTH failure noted in why. */
static enum smtp_state
smtp_client_auth_abort(struct smtp_client *c, struct rq_reason *why)
{
	if (why->text[0] == '\0')
		rq_reason_set(why, 0, "", "AUTH failed");
	smtp_client_abort(c, RQ_TEMPFAIL, why);
	return SMTP_ST_CLOSED;
}

/* Returns nonzero when s is a SASL mechanism name (RFC 4422 section 3.1). */
static int
smtp_client_auth_mech_is_valid(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");

	return n >= 1 && n <= 20 && s[n] == '\0';
}

/* Returns nonzero when s holds only base64 characters (or is empty). */
static int
smtp_client_auth_b64_is_valid(const char *s)
{
	return s[strspn(s,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789+/=")] == '\0';
}

/*
 * Sends one AUTH line: "AUTH mech[ resp]" when mech is set, else the
 * response line resp, each answered in SMTP_ST_AUTH.  The copy is wiped.
 */
static enum smtp_state
smtp_client_auth_send(struct smtp_client *c, const char *mech, const char *resp)
{
	size_t mlen = mech != NULL ? strlen(mech) : 0;
	size_t rlen = resp != NULL ? strlen(resp) : 0;
	size_t n = 0, cap;
	char *line;

	if (rlen > SMTP_AUTH_LINE_MAX || mlen > SMTP_AUTH_LINE_MAX ||
	    mlen + rlen + 8 > SMTP_AUTH_LINE_MAX) {
		if (mech == NULL) /* the server awaits a line: cancel */
			smtp_client_write(c, "*\r\n", 3);
		smtp_client_fail(c, RQ_TEMPFAIL, "AUTH line too long");
		return SMTP_ST_CLOSED;
	}
	cap = mlen + rlen + 8;
	line = xmalloc(cap);
	if (mech != NULL) {
		memcpy(line, "AUTH ", 5);
		memcpy(line + 5, mech, mlen);
		n = 5 + mlen;
		if (rlen > 0)
			line[n++] = ' ';
	}
	if (rlen > 0)
		memcpy(line + n, resp, rlen);
	n += rlen;
	line[n++] = '\r';
	line[n++] = '\n';
	smtp_client_push(c, SMTP_ST_AUTH, 0);
	/* the trace shows "AUTH MECH <redacted>" or "<redacted>" */
	if (mech != NULL)
		smtp_client_write(c, line, n);
	else
		smtp_client_write_redacted(c, line, n);
	explicit_bzero(line, cap);
	free(line);
	return smtp_client_head(c, SMTP_ST_CLOSED);
}

/*
 * Starts AUTH after the last EHLO: refuses to go on in clear, or when
 * the server offers no AUTH, then sends the mechanism ops->auth_start
 * chose.
 */
static enum smtp_state
smtp_client_auth_begin(struct smtp_client *c)
{
	struct rq_reason why;
	const char *mech = NULL;
	char *resp = NULL;
	enum smtp_state next;

	if (!c->tls && !c->conf.tls_on_connect &&
	    !c->conf.allow_plaintext_auth) {
		smtp_client_fail(c, RQ_TEMPFAIL,
		    "refusing to send AUTH over an unencrypted connection");
		return SMTP_ST_CLOSED;
	}
	if ((c->caps.ext & SMTP_EXT_AUTH) == 0 || c->caps.auth[0] == '\0') {
		smtp_client_fail(c, RQ_TEMPFAIL, "server offers no AUTH");
		return SMTP_ST_CLOSED;
	}
	if (c->ops.auth_start == NULL || c->ops.auth_step == NULL) {
		smtp_client_fail(c, RQ_TEMPFAIL,
		    "AUTH required but unavailable");
		return SMTP_ST_CLOSED;
	}
	memset(&why, 0, sizeof(why));
	c->auth_steps = 0;
	if (c->ops.auth_start(c->arg, c->caps.auth, &mech, &resp, &why) == -1) {
		smtp_client_auth_wipe(&resp);
		return smtp_client_auth_abort(c, &why);
	}
	if (mech == NULL || !smtp_client_auth_mech_is_valid(mech) ||
	    (resp != NULL &&
		(resp[0] == '\0' || !smtp_client_auth_b64_is_valid(resp)))) {
		smtp_client_auth_wipe(&resp);
		rq_reason_set(&why, 0, "", "bad AUTH mechanism or response");
		return smtp_client_auth_abort(c, &why);
	}
	next = smtp_client_auth_send(c, mech, resp);
	smtp_client_auth_wipe(&resp);
	return next;
}

/*
 * Answers a 334 challenge through ops->auth_step; on refusal cancels the
 * exchange with "*" (RFC 4954 section 4) and closes the session.
 */
static enum smtp_state
smtp_client_auth_challenge(struct smtp_client *c, const struct smtp_reply *r)
{
	struct rq_reason why;
	const char *p;
	size_t len;
	char *resp = NULL;
	enum smtp_state next;

	memset(&why, 0, sizeof(why));
	if (r->nlines != 1 || smtp_reply_line(r, 0, &p, &len) == -1)
		rq_reason_set(&why, 0, "", "malformed AUTH challenge");
	else if (++c->auth_steps > SMTP_AUTH_STEPS_MAX)
		rq_reason_set(&why, 0, "", "too many AUTH challenges");
	else if (c->ops.auth_step(c->arg, p, len, &resp, &why) == 0) {
		if (resp != NULL && smtp_client_auth_b64_is_valid(resp)) {
			next = smtp_client_auth_send(c, NULL, resp);
			smtp_client_auth_wipe(&resp);
			return next;
		}
		rq_reason_set(&why, 0, "", "bad AUTH response");
	}
	smtp_client_auth_wipe(&resp);
	smtp_client_write(c, "*\r\n", 3);
	return smtp_client_auth_abort(c, &why);
}

/*
 * Handles replies to AUTH and to each response line: 334 -> next step,
 * 2xx -> ready once ops->auth_done agrees, anything else -> tempfail.
 */
static enum smtp_state
smtp_client_on_auth(struct smtp_client *c, const struct smtp_reply *r)
{
	struct rq_reason why;

	if (r->code == 334)
		return smtp_client_auth_challenge(c, r);
	if (r->code / 100 != 2)
		return smtp_client_abort_reply(c, r);
	memset(&why, 0, sizeof(why));
	if (c->ops.auth_done != NULL && c->ops.auth_done(c->arg, &why) == -1)
		return smtp_client_auth_abort(c, &why);
	return SMTP_ST_READY;
}

/*
 * Goes on after a successful EHLO or HELO: STARTTLS when required and not
 * yet done, then AUTH when required, then ready.
 */
static enum smtp_state
smtp_client_hello_done(struct smtp_client *c)
{
	if (c->conf.starttls && !c->tls) {
		if ((c->caps.ext & SMTP_EXT_STARTTLS) == 0) {
			smtp_client_fail(c, RQ_TEMPFAIL,
			    "STARTTLS not offered");
			return SMTP_ST_CLOSED;
		}
		return smtp_client_cmd(c, SMTP_ST_STARTTLS,
		    smtp_cmd_starttls(&c->out));
	}
	if (c->conf.auth)
		return smtp_client_auth_begin(c);
	return SMTP_ST_READY;
}

/* Handles the greeting: 2xx -> EHLO, else the session is over. */
static enum smtp_state
smtp_client_on_banner(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2)
		return smtp_client_abort_reply(c, r);
	return smtp_client_send_ehlo(c);
}

/* Handles EHLO's reply: 2xx -> capabilities, 5xx -> HELO. */
static enum smtp_state
smtp_client_on_ehlo(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		(void)smtp_cmd_parse_ehlo(r, &c->caps);
		return smtp_client_hello_done(c);
	}
	memset(&c->caps, 0, sizeof(c->caps));
	if (r->code / 100 == 5)
		return smtp_client_cmd(c, SMTP_ST_HELO,
		    smtp_cmd_helo(&c->out, c->conf.helo_name));
	return smtp_client_abort_reply(c, r);
}

/* Handles HELO's reply: no extensions after HELO. */
static enum smtp_state
smtp_client_on_helo(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2)
		return smtp_client_abort_reply(c, r);
	memset(&c->caps, 0, sizeof(c->caps));
	return smtp_client_hello_done(c);
}

/* Handles STARTTLS's reply: 220 -> handshake in the glue. */
static enum smtp_state
smtp_client_on_starttls(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2)
		return smtp_client_abort_reply(c, r);
	c->pending = SMTP_PEND_STARTTLS;
	return SMTP_ST_TLS;
}

/*
 * Ends a no_data transaction once every RCPT is answered: the accepted
 * recipients get RQ_OK, the message its first failure (RQ_OK when there
 * was none), then RSET, so that nothing is ever sent.
 */
static enum smtp_state
smtp_client_txn_test_end(struct smtp_client *c)
{
	struct rq_reason why;

	if (c->mail_failed)
		return smtp_client_txn_end(c, c->fail_st, &c->fail_why, 1);
	rq_reason_set(&why, 250, "", "recipient accepted (test: nothing sent)");
	for (size_t i = 0; c->msg != NULL && i < c->msg->nrcpt; i++)
		if (c->rcpt_state[i] == SMTP_RCPT_ACCEPTED)
			smtp_client_rcpt_report(c, i, RQ_OK, &why);
	if (c->fail_set)
		return smtp_client_txn_end(c, c->fail_st, &c->fail_why, 1);
	return smtp_client_txn_end(c, RQ_OK, &why, 1);
}

/* Sends the next RCPT, or DATA, or gives up when nobody was accepted. */
static enum smtp_state
smtp_client_next_lockstep(struct smtp_client *c)
{
	if (c->rcpt_next < c->msg->nrcpt) {
		size_t i = c->rcpt_next++;

		return smtp_client_send_next(c, SMTP_ST_RCPT, i);
	}
	if (c->msg->no_data)
		return smtp_client_txn_test_end(c);
	if (c->naccepted == 0)
		return smtp_client_txn_abandon(c);
	return smtp_client_send_next(c, SMTP_ST_DATA, 0);
}

/* Handles MAIL's reply; a failure is every recipient's outcome. */
static enum smtp_state
smtp_client_on_mail(struct smtp_client *c, const struct smtp_reply *r)
{
	enum rq_status st = smtp_client_status(r);

	if (st != RQ_OK) {
		c->mail_failed = 1;
		c->fail_set = 1;
		c->fail_st = st;
		smtp_client_reason(&c->fail_why, r);
		c->fail_why.stage = RQ_STAGE_MAIL;
		if (c->pipelined) /* RCPT (and DATA) replies still to come */
			return smtp_client_head(c, SMTP_ST_CLOSED);
		return smtp_client_txn_end(c, c->fail_st, &c->fail_why, 1);
	}
	if (c->pipelined)
		return smtp_client_head(c, SMTP_ST_CLOSED);
	return smtp_client_next_lockstep(c);
}

/* Handles one RCPT's reply: 2xx accepted, else reported at once. */
static enum smtp_state
smtp_client_on_rcpt(struct smtp_client *c, const struct smtp_reply *r)
{
	enum rq_status st = smtp_client_status(r);
	struct rq_reason why;
	size_t i = c->cur_rcpt;

	if (!c->mail_failed && c->msg != NULL && i < c->msg->nrcpt) {
		if (st == RQ_OK) {
			if (c->rcpt_state[i] == SMTP_RCPT_WAIT) {
				c->rcpt_state[i] = SMTP_RCPT_ACCEPTED;
				c->naccepted++;
			}
		} else {
			smtp_client_reason(&why, r);
			why.stage = RQ_STAGE_RCPT;
			smtp_client_note_failure(c, st, &why);
			smtp_client_rcpt_report(c, i, st, &why);
			if (c->state == SMTP_ST_CLOSED)
				return SMTP_ST_CLOSED;
		}
	}
	if (c->pipelined && c->msg != NULL && c->msg->no_data &&
	    c->fifo_len == 0)
		return smtp_client_txn_test_end(c);
	if (c->pipelined)
		return smtp_client_head(c, SMTP_ST_CLOSED);
	return smtp_client_next_lockstep(c);
}

/*
 * Handles DATA's reply.  With nobody accepted (only when pipelined) a 354
 * is answered with a lone dot; a refusal is what was expected.
 */
static enum smtp_state
smtp_client_on_data(struct smtp_client *c, const struct smtp_reply *r)
{
	struct rq_reason why;
	enum rq_status st;

	if (c->mail_failed || c->naccepted == 0) {
		if (r->code / 100 == 3)
			return smtp_client_cmd(c, SMTP_ST_NULLDOT,
			    buf_adds(&c->out, ".\r\n"));
		return smtp_client_txn_abandon(c);
	}
	if (r->code / 100 == 3) {
		smtp_client_push(c, SMTP_ST_DOT, 0);
		c->pending = SMTP_PEND_BODY;
		return smtp_client_head(c, SMTP_ST_CLOSED);
	}
	/* 2xx to DATA is as wrong as 4xx: nothing was sent */
	st = r->code / 100 == 5 ? RQ_PERMFAIL : RQ_TEMPFAIL;
	smtp_client_reason(&why, r);
	why.stage = RQ_STAGE_DATA;
	return smtp_client_txn_end(c, st, &why, 1);
}

/* Handles the final dot's reply: it decides every accepted recipient. */
static enum smtp_state
smtp_client_on_dot(struct smtp_client *c, const struct smtp_reply *r)
{
	enum rq_status st = smtp_client_status(r);
	struct rq_reason why;

	smtp_client_reason(&why, r);
	why.stage = RQ_STAGE_DOT;
	return smtp_client_txn_end(c, st, &why, st != RQ_OK);
}

/* Handles the reply to a lone dot: nothing was delivered either way. */
static enum smtp_state
smtp_client_on_nulldot(struct smtp_client *c, const struct smtp_reply *r)
{
	(void)r;
	return smtp_client_txn_abandon(c);
}

/* Handles RSET's reply: 2xx -> ready, else the session is unusable. */
static enum smtp_state
smtp_client_on_rset(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2)
		return smtp_client_abort_reply(c, r);
	return SMTP_ST_READY;
}

/* Handles QUIT's reply: the session is over. */
static enum smtp_state
smtp_client_on_quit(struct smtp_client *c, const struct smtp_reply *r)
{
	struct rq_reason why;

	smtp_client_reason(&why, r);
	smtp_client_close(c, r->code / 100 == 2 ? RQ_OK : RQ_TEMPFAIL, &why);
	return SMTP_ST_CLOSED;
}

/*
 * Finishes an entry point: arms the timer for the reply now awaited, then
 * calls the pending op last, since the glue may re-enter from it.
 */
static void
smtp_client_settle(struct smtp_client *c)
{
	enum smtp_pending p = c->pending;

	c->pending = SMTP_PEND_NONE;
	if (c->state == SMTP_ST_CLOSED)
		return;
	if (c->fifo_len > 0)
		c->ops.set_timeout(c->arg, smtp_states[c->state].tmo);
	switch (p) {
	case SMTP_PEND_NONE:
		break;
	case SMTP_PEND_READY:
		c->ops.ready(c->arg);
		break;
	case SMTP_PEND_STARTTLS:
		c->ops.starttls(c->arg);
		break;
	case SMTP_PEND_BODY:
		c->ops.send_body(c->arg);
		break;
	}
}

/* Creates a client awaiting the banner. */
struct smtp_client *
smtp_client_new(const struct smtp_client_conf *conf,
    const struct smtp_client_ops *ops, void *arg)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->conf = *conf;
	c->ops = *ops;
	c->arg = arg;
	c->state = SMTP_ST_BANNER;
	buf_init(&c->out, SMTP_CMD_LINE_MAX);
	buf_init(&c->txn, 0);
	smtp_client_fifo_reserve(c, 4);
	smtp_client_push(c, SMTP_ST_BANNER, 0);
	smtp_client_settle(c);
	return c;
}

/* Frees a client. */
void
smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	buf_free(&c->out);
	buf_free(&c->txn);
	free(c->fifo);
	free(c->rcpt_state);
	free(c);
}

/* Dispatches one complete reply to the handler of the FIFO head. */
int
smtp_client_on_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_sent e;
	struct rq_reason why;
	enum smtp_state next;
	int n;

	if (c->state == SMTP_ST_CLOSED)
		return -1;
	if (r == NULL || !r->complete) {
		smtp_client_fail(c, RQ_TEMPFAIL, "incomplete reply");
		return -1;
	}
	smtp_client_trace_in(r);
	if (r->code == 421) {
		/* the server is closing: nothing outstanding was done */
		smtp_client_reason(&why, r);
		why.stage = smtp_client_stage(smtp_client_head(c, c->state));
		smtp_client_abort(c, RQ_TEMPFAIL, &why);
		return -1;
	}
	if (c->fifo_len == 0 || smtp_states[c->state].on_reply == NULL) {
		smtp_client_reason(&why, r);
		n = snprintf(why.text, sizeof(why.text),
		    "unexpected reply in %s: ", smtp_states[c->state].name);
		if (n > 0 && (size_t)n < sizeof(why.text))
			smtp_reply_summary(r, why.text + n,
			    sizeof(why.text) - (size_t)n);
		smtp_client_abort(c, RQ_TEMPFAIL, &why);
		return -1;
	}
	smtp_client_pop(c, &e);
	RQ_ASSERT(e.state == c->state);
	c->cur_rcpt = e.rcpt;
	next = smtp_states[e.state].on_reply(c, r);
	smtp_client_set_state(c, next);
	smtp_client_settle(c);
	return c->state == SMTP_ST_CLOSED ? -1 : 0;
}

/*
 * Refuses m locally (SIZE, SMTPUTF8): every recipient and the message get
 * st, and the session stays ready.
 */
static void
smtp_client_refuse(struct smtp_client *c, const struct smtp_msg *m, int code,
    const char *esc, const char *text)
{
	struct rq_reason why;

	rq_reason_set(&why, code, esc, text);
	c->msg = m;
	smtp_client_msg_report(c, RQ_PERMFAIL, &why);
	if (c->state == SMTP_ST_READY)
		c->pending = SMTP_PEND_READY;
	smtp_client_settle(c);
}

/* Formats MAIL, every RCPT and DATA for m into c->txn. */
static int
smtp_client_format_txn(struct smtp_client *c, const struct smtp_msg *m)
{
	unsigned flags = 0;
	unsigned long long size = 0;
	int dsn = (c->caps.ext & SMTP_EXT_DSN) != 0;

	if ((c->caps.ext & SMTP_EXT_SIZE) != 0)
		size = m->size;
	if (m->body_8bit && (c->caps.ext & SMTP_EXT_8BITMIME) != 0)
		flags |= SMTP_CMD_MAIL_8BITMIME;
	if (m->smtputf8)
		flags |= SMTP_CMD_MAIL_SMTPUTF8;
	buf_free(&c->txn);
	buf_init(&c->txn, (m->nrcpt + 2) * SMTP_CMD_DSN_LINE_MAX);
	c->txn_off = 0;
	if (smtp_cmd_mail_dsn(&c->txn, m->sender, size, flags,
		dsn ? m->dsn_ret : NULL, dsn ? m->dsn_envid : NULL) == -1)
		return -1;
	for (size_t i = 0; i < m->nrcpt; i++)
		if (smtp_cmd_rcpt_dsn(&c->txn, m->rcpts[i],
			dsn && m->dsn_notify != NULL ? m->dsn_notify[i] : 0,
			dsn && m->dsn_orcpt != NULL ? m->dsn_orcpt[i] : NULL) ==
		    -1)
			return -1;
	return m->no_data ? 0 : smtp_cmd_data(&c->txn);
}

/* Starts a transaction. */
int
smtp_client_send(struct smtp_client *c, const struct smtp_msg *m)
{
	char text[128];
	enum smtp_state next;

	if (c->state != SMTP_ST_READY || m == NULL || m->sender == NULL ||
	    m->rcpts == NULL || m->nrcpt == 0 ||
	    m->nrcpt > SIZE_MAX / SMTP_CMD_DSN_LINE_MAX - 2)
		return -1;
	if (smtp_client_format_txn(c, m) == -1) {
		buf_reset(&c->txn);
		return -1;
	}

	if (m->nrcpt > c->rcpt_cap) {
		c->rcpt_state = xreallocarray(c->rcpt_state, m->nrcpt, 1);
		c->rcpt_cap = m->nrcpt;
	}
	memset(c->rcpt_state, SMTP_RCPT_WAIT, m->nrcpt);
	c->rcpt_next = 0;
	c->naccepted = 0;
	c->mail_failed = 0;
	c->fail_set = 0;

	if ((c->caps.ext & SMTP_EXT_SIZE) != 0 && c->caps.size_max > 0 &&
	    m->size > c->caps.size_max) {
		(void)snprintf(text, sizeof(text),
		    "message too big for server (%llu > SIZE %llu)", m->size,
		    c->caps.size_max);
		smtp_client_refuse(c, m, 552, "5.3.4", text);
		return 0;
	}
	if (m->smtputf8 && (c->caps.ext & SMTP_EXT_SMTPUTF8) == 0) {
		smtp_client_refuse(c, m, 553, "5.6.7",
		    "SMTPUTF8 required but not offered by server");
		return 0;
	}
	if (m->body_8bit && (c->caps.ext & SMTP_EXT_8BITMIME) == 0)
		log_debug("%s: server lacks 8BITMIME, sending 8-bit body as is",
		    m->id != NULL ? m->id : "-");

	c->msg = m;
	c->pipelined =
	    (c->caps.ext & SMTP_EXT_PIPELINING) != 0 && !c->conf.no_pipelining;
	smtp_client_fifo_reserve(c, m->nrcpt + 2);
	if (c->pipelined) {
		/* MAIL, RCPT... and DATA in one write (RFC 2920) */
		smtp_client_push(c, SMTP_ST_MAIL, 0);
		for (size_t i = 0; i < m->nrcpt; i++)
			smtp_client_push(c, SMTP_ST_RCPT, i);
		if (!m->no_data)
			smtp_client_push(c, SMTP_ST_DATA, 0);
		c->rcpt_next = m->nrcpt;
		c->txn_off = c->txn.len;
		smtp_client_write(c, c->txn.data, c->txn.len);
		next = smtp_client_head(c, SMTP_ST_CLOSED);
	} else
		next = smtp_client_send_next(c, SMTP_ST_MAIL, 0);
	smtp_client_set_state(c, next);
	smtp_client_settle(c);
	return 0;
}

/* Sends QUIT from the ready state. */
void
smtp_client_quit(struct smtp_client *c)
{
	if (c->state != SMTP_ST_READY)
		return;
	smtp_client_set_state(c,
	    smtp_client_cmd(c, SMTP_ST_QUIT, smtp_cmd_quit(&c->out)));
	smtp_client_settle(c);
}

/* Restarts the session over TLS: forget the capabilities, EHLO again. */
void
smtp_client_tls_done(struct smtp_client *c)
{
	if (c->state != SMTP_ST_TLS)
		return;
	memset(&c->caps, 0, sizeof(c->caps));
	c->tls = 1;
	smtp_client_set_state(c, smtp_client_send_ehlo(c));
	smtp_client_settle(c);
}

/* Fails the session with a local reason. */
void
smtp_client_fail(struct smtp_client *c, enum rq_status st, const char *text)
{
	struct rq_reason why;

	if (c->state == SMTP_ST_CLOSED)
		return;
	rq_reason_set(&why, 0, "", text);
	smtp_client_abort(c, st, &why);
}

/* Returns the learnt capabilities. */
const struct smtp_caps *
smtp_client_caps(const struct smtp_client *c)
{
	return &c->caps;
}

/* Returns the state name. */
const char *
smtp_client_state_name(const struct smtp_client *c)
{
	return smtp_states[c->state].name;
}

/* Returns nonzero in the ready state. */
int
smtp_client_is_ready(const struct smtp_client *c)
{
	return c->state == SMTP_ST_READY;
}
