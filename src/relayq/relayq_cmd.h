/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The relayq subcommands that act on queued messages: show, flush,
 * hold, release, delete and requeue.  A change to a message (hold,
 * release, delete) is made under that message's flock, the same lock
 * relayqd takes while it delivers, so it never races a delivery: when
 * relayqd holds the lock the command fails with "being delivered, try
 * again" (EX_TEMPFAIL).  A message still in incoming/ (relayqd
 * stopped) is accepted into queue/ by the tool first, exactly as relayqd
 * would (queue_spool_accept()), so hold, release and delete work
 * wherever the message is.  Requests to relayqd go through the wake FIFO
 * ('F' flush everything, "R<id>\n" one message; see relayqd_wake.h).
 * Each function returns a sysexits.h code and prints its own errors.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_CMD_H
#define RELAYQ_RELAYQ_RELAYQ_CMD_H

#include "common/conf.h"
#include "queue/queue_spool.h"

/*
 * Tells whether relayqd runs on sp (its wake FIFO has a reader): 1, 0
 * (not running: ENXIO, or no FIFO), or -1 when it cannot tell (EACCES).
 */
int relayq_cmd_running(struct queue_spool *sp);
/*
 * Milliseconds (at now, ms since the epoch) until relayqd's rate bucket
 * of smarthost idx (<spool>/rate, rate.NAME) lets a message start: 0
 * when it may now, has no limit, or the file cannot be read.
 */
long long relayq_cmd_rate_wait(struct queue_spool *sp, const struct conf *c,
    size_t idx, long long now);
/*
 * relayq show ID: envelope, the smarthost the message will use (by its
 * sender's route in c), headers, per-recipient state, attempts.
 */
int relayq_cmd_show(struct queue_spool *sp, const struct conf *c,
    const char *id);
/* relayq flush [ID]: everything due now, or only ID when given. */
int relayq_cmd_flush(struct queue_spool *sp, const char *id);
/*
 * relayq requeue: like flush, and also hands relayqd every queued
 * message that is not on hold by id, so a message relayqd dropped from
 * its schedule (released while it was stopped, say) is taken up again.
 */
int relayq_cmd_requeue(struct queue_spool *sp);
/* relayq hold ID / release ID (hold != 0: set, else clear). */
int relayq_cmd_hold(struct queue_spool *sp, const char *id, int hold);
/* relayq delete ID...: ids[0..n-1]; all != 0: every message in queue/. */
int relayq_cmd_delete(struct queue_spool *sp, char *const *ids, int n, int all);
/*
 * relayq failed --purge: removes the messages in failed/ that entered it
 * more than older seconds ago (older 0: all of them).
 */
int relayq_cmd_purge_failed(struct queue_spool *sp, long long older);

#endif
