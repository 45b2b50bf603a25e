/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Delivery results shared by the SMTP client, the daemon and the queue:
 * a three-way status and the reason that goes with it.  Whoever saw a
 * failure fills the reason; only relayqd_outcome decides what it means.
 */
#ifndef RELAYQ_COMMON_STATUS_H
#define RELAYQ_COMMON_STATUS_H

enum rq_status { RQ_OK, RQ_TEMPFAIL, RQ_PERMFAIL };

/*
 * Which command a reply answered: a RCPT's 4xx concerns that recipient
 * only, a MAIL's or the final dot's the whole message, anything else
 * (greeting, EHLO, AUTH, a 421, a local error) the session.
 */
enum rq_stage {
	RQ_STAGE_SESSION,
	RQ_STAGE_MAIL,
	RQ_STAGE_RCPT,
	RQ_STAGE_DATA,
	RQ_STAGE_DOT
};

struct rq_reason {
	int code;	     /* SMTP reply code, 0 when no server reply */
	char esc[16];	     /* enhanced status code "4.7.1", or "" */
	char text[256];	     /* reply or local error, clean (str_clean_text) */
	enum rq_stage stage; /* the command the reply answered */
};

/* A user-facing error message. */
struct rq_err {
	char msg[256];
};

/* Formats a user-facing error into err (truncated, never fails). */
void rq_err_set(struct rq_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns "ok", "tempfail" or "permfail". */
const char *rq_status_name(enum rq_status st);

/*
 * Fills r with a local (non-SMTP) failure, stage RQ_STAGE_SESSION.  The
 * text is cleaned (str_clean_text: idempotent, so a reply summary passes
 * unchanged) and truncated.
 */
void rq_reason_set(struct rq_reason *r, int code, const char *esc,
    const char *text);

#endif
