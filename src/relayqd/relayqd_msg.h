/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One delivery attempt of one queued message: the locked message file,
 * its envelope and persisted state, the recipients still pending (what
 * the SMTP client is asked to deliver), and the per-recipient results
 * gathered during the transaction.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_MSG_H
#define RELAYQ_RELAYQD_RELAYQD_MSG_H

#include <stddef.h>

#include "common/status.h"
#include "queue/queue_env.h"
#include "queue/queue_state.h"
#include "smtp/smtp_client.h"

struct relayd;

/* Why relayqd_msg_open() skipped a message. */
#define RELAYQD_MSG_HELD 1     /* operator hold: leave it alone */
#define RELAYQD_MSG_FINISHED 2 /* nothing pending: remove it */

struct relayqd_msg {
	struct queue_env env;	  /* owned */
	struct queue_state state; /* owned */
	int fd;			  /* message file, flock'd; owned */
	char *data;		  /* owned: the file when small, or NULL */
	int has_state;		  /* state/<id> existed when loaded */
	size_t n;		  /* recipients in this attempt */
	size_t *map;		  /* owned: attempt index -> env index */
	const char **rcpts;	  /* owned array; strings borrowed from env */
	enum rq_status *rst;	  /* owned: result per attempt index */
	struct rq_reason *rwhy;	  /* owned: reason per attempt index */
	char *rdone;		  /* owned: result seen per attempt index */
	unsigned *dsn_notify;	  /* owned: NOTIFY per attempt index, or NULL */
	const char **dsn_orcpt;	  /* owned array (strings borrowed), or NULL */
	struct smtp_msg smsg;	  /* points into the fields above */
	double started;		  /* time the attempt began */
};

/*
 * Opens and locks queue/<id>, loads its state and lists the pending
 * recipients.  Returns the attempt, or NULL with err filled (errno
 * EWOULDBLOCK when another runner holds it; ENOENT when it is gone).
 * When held or with nothing pending, *skip is set to RELAYQD_MSG_HELD or
 * RELAYQD_MSG_FINISHED and NULL returned; otherwise *skip is 0.
 */
struct relayqd_msg *relayqd_msg_open(struct relayd *rd, const char *id,
    int *skip, struct rq_err *err);
/*
 * The first half of relayqd_msg_open(): opens and locks queue/<id> and
 * loads its state, with what relayqd keeps in memory for it (see
 * relayqd_stash.h) in place of state/<id>; no recipient list (n is 0).
 * Returns it, or NULL with err filled and errno as for _open().
 */
struct relayqd_msg *relayqd_msg_load(struct relayd *rd, const char *id,
    struct rq_err *err);
/* Closes the file (dropping the lock) and frees the attempt. */
void relayqd_msg_free(struct relayqd_msg *m);
/* Records recipient idx's result (first one wins). */
void relayqd_msg_rcpt_result(struct relayqd_msg *m, size_t idx,
    enum rq_status st, const struct rq_reason *why);

#endif
