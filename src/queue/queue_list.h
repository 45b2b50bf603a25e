/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The mailq listing shared by `mailq`, `sendmail -bp` and `relayq
 * queue`: messages in incoming/ (not yet picked up) and queue/, in
 * arrival order, with their size, arrival time, sender, last error and
 * pending recipients, in the spirit of Postfix's `postqueue -p`.  It only
 * reads the spool: nothing is moved, locked or quarantined.
 */
#ifndef RELAYQ_QUEUE_QUEUE_LIST_H
#define RELAYQ_QUEUE_QUEUE_LIST_H

#include <stdio.h>

#include "common/compat.h"
#include "queue/queue_env.h"
#include "queue/queue_spool.h"
#include "queue/queue_state.h"

#define QUEUE_LIST_ALL_RCPTS 0x01 /* also recipients done or failed */

/*
 * Prints the listing of the spool (opened with QUEUE_SPOOL_READER or
 * QUEUE_SPOOL_DAEMON) to out:
 *
 *	-Queue ID-            --Size-- ----Arrival Time--- -Sender/Recipient--
 *	0194A3F2C0004D1E2A7B!     1234 Sat Nov 28 19:52:36  alice@example.org
 *	                                                    (last error)
 *	    (attempts: 3, last: Sat Nov 28 19:58:36, next: Sat Nov 28 20:02:36)
 *	                                                    bob@example.net  (deferred)
 *	                                                    carol@example.net  (failed)
 *	                                                      (550 5.1.1 no such user)
 *	                                                    (1 recipient delivered)
 *
 *	-- 2 Kbytes in 1 Request.
 *
 * (The attempts line is indented like the others; so is the line
 * "(smarthost: NAME)" that queue_list_print_route() adds under the
 * sender when several smarthosts are configured.)  Recipient states:
 * pending (no attempt yet), deferred (retried later; its last reply
 * follows unless it is the last error), failed (bounced), delivered
 * (only listed with QUEUE_LIST_ALL_RCPTS, otherwise counted).  The next
 * attempt is "now" when it is due; a smarthost that is down can still
 * hold it back (relayqd probes it first).
 * '!' after the id marks a message on hold; the size is the message's
 * size in bytes (wire form); the null sender is shown as MAILER-DAEMON.
 * A file that cannot be read or parsed is shown as "<id> (unreadable:
 * reason)".  An empty spool prints "Mail queue is empty".  Returns 0, or
 * -1 with errno when queue/ cannot be read or writing to out failed.
 */
int queue_list_print(struct queue_spool *sp, FILE *out, int flags) RQ_WUR;
/*
 * queue_list_print() of the messages whose envelope U record (the
 * submitting user's uid) is uid; uid -1 lists all.  Other users'
 * messages, and files whose owner cannot be read, are left out
 * silently and not counted (mailq_all_users = no).
 */
int queue_list_print_uid(struct queue_spool *sp, FILE *out, int flags,
    long long uid) RQ_WUR;

/*
 * Names the smarthost that mail from sender (an address, "" for the null
 * sender) will go to, as a string borrowed until the listing ends, or
 * NULL to say nothing (only one smarthost is configured).
 */
typedef const char *(*queue_list_route_fn)(const void *arg, const char *sender);
/*
 * queue_list_print_uid() with, when route is not NULL, a line
 * "(smarthost: NAME)" under each message's sender line for the names
 * route gives (route(arg, sender) == NULL: no line).
 */
int queue_list_print_route(struct queue_spool *sp, FILE *out, int flags,
    long long uid, queue_list_route_fn route, const void *arg) RQ_WUR;

/*
 * Prints failed/ (spool opened with QUEUE_SPOOL_FAILED or _DAEMON) in
 * the same form, every recipient with its state and last reply, and
 * "(attempts: N, moved to failed/: TIME)" in place of the attempts
 * line; "No failed messages" when there is none.  Returns 0 or -1.
 */
int queue_list_print_failed(struct queue_spool *sp, FILE *out) RQ_WUR;

/*
 * The pieces every listing shares (mailq, relayq queue --json, relayq
 * show, relayq stats and requeue), so that they read the spool the same
 * way.
 */

/*
 * Opens message id for reading in *d, without a lock; one that is not in
 * incoming/ any more is looked for in queue/ (relayqd moved it), and *d
 * then says so.  Returns the fd, or -1 with errno (ENOENT: it left).
 */
int queue_list_open(struct queue_spool *sp, enum queue_dir *d, const char *id)
    RQ_WUR;
/*
 * Reads the envelope of message id from fd (opened in d) into e, and its
 * state into s: state/<id> for queue/, failed/<id>.state for failed/;
 * a fresh state (every recipient pending, no attempt) for incoming/ or
 * when none can be read, *staterr (unless NULL) then saying why (it is
 * NULL otherwise).  Returns 0 (free both), or -1 with errno and *errstr
 * when the envelope cannot be read (EBADMSG: malformed).
 */
int queue_list_read(struct queue_spool *sp, enum queue_dir d, const char *id,
    int fd, struct queue_env *e, struct queue_state *s, const char **errstr,
    const char **staterr) RQ_WUR;
/*
 * The state of recipient i for show and JSON: "delivered", "failed",
 * "deferred" (pending after an attempt) or "pending".
 */
const char *queue_list_rcpt_state(const struct queue_state *s, size_t i);

/* Called by queue_list_walk() for each message id found in d. */
typedef void (*queue_list_walk_fn)(struct queue_spool *sp, enum queue_dir d,
    const char *id, void *arg);
/*
 * Calls fn for each id in incoming/ and queue/, merged in arrival order;
 * an id in both (moved between the two scans) comes once, as queue/'s.
 * A missing queue/ is an empty one.  *in_err gets the errno of a failed
 * scan of incoming/ (0 if none: only mail not yet picked up is then not
 * walked).  Returns 0, or -1 with errno when queue/ cannot be scanned
 * (fn not called).
 */
int queue_list_walk(struct queue_spool *sp, queue_list_walk_fn fn, void *arg,
    int *in_err) RQ_WUR;

#endif
