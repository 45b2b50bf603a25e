/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The SMTP client state machine, free of I/O.  Parsed replies go in with
 * smtp_client_on_reply(); commands come out through ops->write.  The glue
 * (relayqd_conn) owns the socket, TLS and timers.
 *
 * Session: banner -> EHLO (HELO if EHLO is refused) -> [STARTTLS ->
 * ops->starttls -> smtp_client_tls_done() -> EHLO] -> [AUTH: 334
 * challenges answered through ops->auth_step, until 235] -> ready.  In ready,
 * smtp_client_send() starts a transaction: MAIL, RCPT..., DATA, pipelined
 * when the server offers PIPELINING (a FIFO of sent commands dispatches
 * each reply to the command it answers); 354 -> ops->send_body, after
 * which the glue writes the dot-stuffed body and ".\r\n" itself; then the
 * final reply.  Each recipient gets exactly one ops->rcpt_done per
 * transaction, then ops->msg_done, then the session is ready again (RSET
 * is sent first when the transaction failed part-way).  A message with
 * no_data set stops after the RCPT replies and sends RSET: msg_done gets
 * RQ_OK when every recipient was accepted, and nothing is delivered.
 * smtp_client_quit()
 * sends QUIT; ops->closed is called exactly once when the session ends,
 * for any reason, after which the glue closes the connection and frees
 * the client.
 *
 * Calling back in: ready, starttls and send_body are always the last
 * thing the client does in a call, so the glue may call smtp_client_send,
 * _quit or _tls_done from inside them.  From any op the glue may call
 * smtp_client_fail (write, rcpt_done, msg_done included); the client
 * then reports what is outstanding and closes, and the interrupted work
 * becomes a no-op.  set_timeout comes before the pending op, so on 354
 * SMTP_TMO_DOT is armed before send_body is called.
 *
 * AUTH (RFC 4954), when conf->auth is set, comes after the last EHLO.  It
 * is never sent in clear unless conf->allow_plaintext_auth: the session
 * counts as encrypted after smtp_client_tls_done() or with
 * conf->tls_on_connect.  The SASL mechanisms live in the glue, behind
 * ops->auth_start/auth_step/auth_done, which compute and must not call
 * back into the client.  Every AUTH failure (no AUTH offered, no usable
 * mechanism, a 4xx or 5xx such as 535, a rejected challenge) closes the
 * session as RQ_TEMPFAIL: a credentials problem never bounces mail.  The
 * trace log shows "AUTH MECH <redacted>" and "<redacted>" for every
 * response line; the client wipes its copies of responses before free.
 */
#ifndef RELAYQ_SMTP_SMTP_CLIENT_H
#define RELAYQ_SMTP_SMTP_CLIENT_H

#include <stddef.h>

#include "common/status.h"
#include "smtp/smtp_reply.h"

enum smtp_timeout {
	SMTP_TMO_GREETING, /* banner */
	SMTP_TMO_COMMAND,  /* EHLO, MAIL, RCPT, RSET, QUIT, STARTTLS... */
	SMTP_TMO_DATA,	   /* DATA's 354 */
	SMTP_TMO_DOT,	   /* reply after the final dot */
};

/*
 * Longest AUTH command or response line the client sends, CRLF included
 * (servers must accept 12288 octets, RFC 4954 section 4).
 */
#define SMTP_AUTH_LINE_MAX 12288
/* Most 334 challenges answered in one AUTH exchange. */
#define SMTP_AUTH_STEPS_MAX 8

/* Server extensions learnt from EHLO (reset by STARTTLS). */
#define SMTP_EXT_PIPELINING 0x01
#define SMTP_EXT_SIZE 0x02
#define SMTP_EXT_8BITMIME 0x04
#define SMTP_EXT_STARTTLS 0x08
#define SMTP_EXT_SMTPUTF8 0x10
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x20
#define SMTP_EXT_AUTH 0x40
#define SMTP_EXT_DSN 0x80

struct smtp_caps {
	unsigned ext;		     /* SMTP_EXT_* */
	unsigned long long size_max; /* SIZE value, 0 if none given */
	char auth[256];		     /* AUTH mechanisms as offered */
};

struct smtp_client_conf {
	const char *helo_name;	  /* borrowed for the client's lifetime */
	int starttls;		  /* nonzero: STARTTLS is required */
	int no_pipelining;	  /* nonzero: never pipeline */
	int auth;		  /* nonzero: AUTH is required before mail */
	int tls_on_connect;	  /* nonzero: implicit TLS, already encrypted */
	int allow_plaintext_auth; /* nonzero: AUTH may be sent in clear */
};

struct smtp_msg {
	const char *id;		  /* borrowed: queue id, for logs */
	const char *sender;	  /* borrowed; "" is the null sender */
	const char *const *rcpts; /* borrowed */
	size_t nrcpt;
	unsigned long long size; /* message size for SIZE=, 0 unknown */
	int body_8bit;		 /* nonzero: BODY=8BITMIME if offered */
	int smtputf8;		 /* nonzero: needs SMTPUTF8 */
	/* DSN (RFC 3461), sent only when the server offers DSN. */
	const char *dsn_ret;	      /* borrowed: "FULL"/"HDRS" or NULL */
	const char *dsn_envid;	      /* borrowed: decoded, or NULL */
	const unsigned *dsn_notify;   /* borrowed: SMTP_CMD_NOTIFY_* per
					   recipient (0 none), or NULL */
	const char *const *dsn_orcpt; /* borrowed: "type;addr" per
					   recipient (NULL none), or NULL */
	int no_data; /* nonzero: a test (relayq probe): MAIL and RCPT,
			then RSET instead of DATA; nothing is sent */
};

struct smtp_client_ops {
	/* Sends bytes to the server (a whole command or pipelined group). */
	void (*write)(void *arg, const char *data, size_t len);
	/* Arms the reply timer for what is now awaited. */
	void (*set_timeout)(void *arg, enum smtp_timeout kind);
	/* 220 to STARTTLS arrived: start the handshake, then call
	 * smtp_client_tls_done() (or smtp_client_fail()). */
	void (*starttls)(void *arg);
	/* The session is ready for smtp_client_send() or _quit(). */
	void (*ready)(void *arg);
	/* 354 arrived: write the body and ".\r\n" now. */
	void (*send_body)(void *arg);
	/* Outcome for recipient idx of the current message. */
	void (*rcpt_done)(void *arg, size_t idx, enum rq_status st,
	    const struct rq_reason *why);
	/* The current transaction is over; st is the overall outcome
	 * (RQ_OK when the final dot got 2xx). */
	void (*msg_done)(void *arg, enum rq_status st,
	    const struct rq_reason *why);
	/* The session ended (QUIT answered, refused, or failed).  st is
	 * RQ_OK after a clean QUIT.  Called exactly once. */
	void (
	    *closed)(void *arg, enum rq_status st, const struct rq_reason *why);
	/*
	 * AUTH begins (only with conf->auth): choose a mechanism from offered
	 * (caps.auth, space-separated names).  *mech is borrowed (a static
	 * name such as "PLAIN"); *resp is a malloc'd base64 initial response,
	 * "=" for an empty one, or NULL to send "AUTH MECH" alone.  Returns 0,
	 * or -1 with why->text filled (no usable mechanism, secret
	 * unavailable); nothing is then written.  why never holds a secret.
	 */
	int (*auth_start)(void *arg, const char *offered, const char **mech,
	    char **resp, struct rq_reason *why);
	/*
	 * A 334 challenge: the base64 text as sent (len bytes, NUL-terminated,
	 * possibly empty) -> *resp, a malloc'd base64 response line ("" for an
	 * empty line).  -1 (why filled) makes the client send "*" and close
	 * the session as RQ_TEMPFAIL.
	 */
	int (*auth_step)(void *arg, const char *challenge, size_t len,
	    char **resp, struct rq_reason *why);
	/*
	 * Optional (NULL accepts): AUTH got 2xx.  Returns 0, or -1 with why
	 * filled when the mechanism has not finished (SCRAM: the server's
	 * signature was never verified); the session then closes as
	 * RQ_TEMPFAIL.
	 */
	int (*auth_done)(void *arg, struct rq_reason *why);
};

struct smtp_client;

/* Creates a client awaiting the banner; arms SMTP_TMO_GREETING. */
struct smtp_client *smtp_client_new(const struct smtp_client_conf *conf,
    const struct smtp_client_ops *ops, void *arg);
/* Frees the client; NULL is a no-op.  Never call from inside an op. */
void smtp_client_free(struct smtp_client *c);

/*
 * Feeds one complete reply.  Returns 0, or -1 when the session is over
 * (ops->closed has been called).
 */
int smtp_client_on_reply(struct smtp_client *c, const struct smtp_reply *r);

/*
 * Starts a transaction for m (which must stay valid until msg_done).
 * Only valid after ops->ready.  Returns 0, or -1 (wrong state, or an
 * address that cannot be sent) with nothing written.  When m cannot go
 * to this server at all (SIZE above the server's limit: 552 5.3.4;
 * SMTPUTF8 not offered: 553 5.6.7) nothing is written either, but it
 * returns 0 after every rcpt_done (PERMFAIL), msg_done and ops->ready
 * have been called from inside it.
 */
int smtp_client_send(struct smtp_client *c, const struct smtp_msg *m);

/* Sends QUIT from the ready state; ops->closed follows its reply. */
void smtp_client_quit(struct smtp_client *c);

/* The TLS handshake succeeded: the client discards caps and re-EHLOs. */
void smtp_client_tls_done(struct smtp_client *c);

/*
 * The connection failed (I/O error, timeout, TLS failure, bad reply).
 * Reports every outstanding recipient and the message as st, then
 * ops->closed.  Idempotent once closed.
 */
void smtp_client_fail(struct smtp_client *c, enum rq_status st,
    const char *text);

/* Returns the capabilities learnt from the last EHLO. */
const struct smtp_caps *smtp_client_caps(const struct smtp_client *c);
/* Returns the current state's name, for logs. */
const char *smtp_client_state_name(const struct smtp_client *c);
/* True when the session is waiting for smtp_client_send()/quit(). */
int smtp_client_is_ready(const struct smtp_client *c);

#endif
