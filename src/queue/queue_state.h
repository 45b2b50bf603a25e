/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Per-message delivery state, kept by relayqd in state/<id> beside the
 * immutable message file: attempts so far, the next attempt time, the
 * last error, and each recipient's progress.  A message without a state
 * file has had no attempt: every recipient is pending.  Same record
 * encoding and trailer rule as the message file (see queue_env.h).
 */
#ifndef RELAYQ_QUEUE_QUEUE_STATE_H
#define RELAYQ_QUEUE_QUEUE_STATE_H

#include <stddef.h>

#include "common/compat.h"
#include "queue/queue_id.h"

#define QUEUE_STATE_MAGIC "RELAYQ-STATE 2\n"
#define QUEUE_STATE_MAGIC_V1 "RELAYQ-STATE 1\n" /* read, never written */
#define QUEUE_STATE_TEXT_MAX 512 /* last error and replies, bytes */
#define QUEUE_STATE_SIZE_MAX (64 * 1024 * 1024) /* whole file bound */

enum queue_rcpt_st {
	QUEUE_RCPT_PENDING = 'p',
	QUEUE_RCPT_DONE = 'd',	 /* accepted by the smarthost */
	QUEUE_RCPT_FAILED = 'f', /* permanent failure */
};

struct queue_state {
	char id[QUEUE_ID_LEN + 1];
	unsigned tries;
	long long first_try; /* seconds, 0 if none */
	long long last_try;  /* seconds, 0 if none */
	long long next_try;  /* seconds, 0 means now */
	int held;	     /* nonzero: operator hold */
	long long warned;    /* delay notice queued at (seconds), 0 if none */
	char *last_error;    /* owned, clean text, "" if none */
	size_t nrcpt;
	char *rcpt_st;	   /* owned, nrcpt bytes of enum queue_rcpt_st */
	char **rcpt_reply; /* owned: last reply per recipient, or NULL */
};

/* Initialises a state for nrcpt pending recipients (id is copied). */
void queue_state_init(struct queue_state *s, const char *id, size_t nrcpt);
/* Frees owned fields. */
void queue_state_free(struct queue_state *s);
/*
 * Sets the last error (copied and cleaned by str_clean_text(), which
 * leaves a clean text as it is; cut so that its escaped form in the file
 * is at most QUEUE_STATE_TEXT_MAX bytes; NULL means none).
 */
void queue_state_set_error(struct queue_state *s, const char *text);
/*
 * Sets recipient i (< nrcpt) status and reply (copied and cleaned like
 * the last error; may be NULL).
 */
void queue_state_set_rcpt(struct queue_state *s, size_t i,
    enum queue_rcpt_st st, const char *reply);
/* Number of recipients still pending. */
size_t queue_state_pending(const struct queue_state *s);

/*
 * Serialises s into a malloc'd buffer (owned by the caller).  Returns 0,
 * or -1 with errno EINVAL when a field is invalid (bad id or status, a
 * text that is not clean or too long).
 */
int queue_state_format(const struct queue_state *s, char **buf, size_t *len)
    RQ_WUR;
/*
 * Parses a state file image into s (initialised here; on failure left
 * empty).  nrcpt must match the message's recipient count.  A torn or
 * altered file fails its trailer check.  Texts come back clean (see
 * queue_state.c).  Returns 0, or -1 with *errstr.
 */
int queue_state_parse(struct queue_state *s, const char *data, size_t size,
    size_t nrcpt, const char **errstr) RQ_WUR;

#endif
