/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * What a delivery result means.  This is the only place that turns SMTP
 * outcomes into queue actions: a recipient accepted is done; a 4xx or a
 * broken session leaves it pending and the message is retried after an
 * exponential backoff; a 5xx fails that recipient, which is reported to
 * the sender in a bounce (queued durably before the recipient is marked
 * failed; when the bounce cannot be queued the failure is kept in
 * memory and the bounce queued later, and past max_queue_lifetime the
 * message goes to failed/ instead).  Past max_queue_lifetime the
 * pending recipients fail as expired; past delay_warning the sender gets
 * one delay notice.  A message with the null sender is never bounced:
 * when it fails it is moved to failed/.  It writes one log line per recipient, then persists
 * the state (or removes the message when nothing is pending) and
 * reschedules.  It also decides when the destination itself is down and
 * when it is back (the probe logic lives in relayqd.c's dispatcher).
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_OUTCOME_H
#define RELAYQ_RELAYQD_RELAYQD_OUTCOME_H

#include "common/status.h"

struct relayd;
struct relayqd_dest;
struct relayqd_msg;

/*
 * Applies a finished (or aborted) transaction of m, which the caller
 * then frees.  relay is "host[addr]:port" and tls the protocol ("none")
 * for the log.
 */
void relayqd_outcome_msg(struct relayd *rd, struct relayqd_dest *d,
    struct relayqd_msg *m, enum rq_status st, const struct rq_reason *why,
    const char *relay, const char *tls);

/*
 * The session opened for m never became ready (the destination is down,
 * relayqd_outcome_host_down() was called first): m counts one attempt
 * with reason why (none when why is a throttle, relayqd_rate_is_throttle)
 * and waits for the destination's next probe, not for a backoff of its
 * own, so that it drains with the rest of the queue.
 */
void relayqd_outcome_host_defer(struct relayd *rd, struct relayqd_dest *d,
    struct relayqd_msg *m, const struct rq_reason *why, const char *relay,
    const char *tls);

/*
 * No attempt: checks m (taken from the scheduler, which had it due at
 * due) for expiry and for the delay notice, then puts it back at due.
 * Used by the periodic sweep, so that mail waiting for a destination
 * that is down still expires and warns on time.
 */
void relayqd_outcome_sweep(struct relayd *rd, struct relayqd_msg *m,
    long long due);

/*
 * A session that never got ready ended with the server's reply why (a
 * 421 greeting...): as relayqd_outcome_host_down(), and a throttling
 * reply (421 4.7.x, relayqd_rate_is_throttle) halves the destination's
 * pace, once per incident, as one at MAIL does; the message the session
 * was opened for then does not count the attempt
 * (relayqd_outcome_host_defer).
 */
void relayqd_outcome_host_refused(struct relayd *rd, struct relayqd_dest *d,
    const struct rq_reason *why);

/*
 * A session failed before it could carry any message (connect refused
 * or timed out, DNS, 421 or no greeting, TLS...).  The destination backs
 * off: the first failure, and every failed probe after it, doubles the
 * wait before the next probe (retry_min to retry_max, with jitter).  A
 * failure of a session that was started before the destination went
 * down does not count again.
 */
void relayqd_outcome_host_down(struct relayd *rd, struct relayqd_dest *d,
    const struct rq_reason *why);

/* The destination answered a session: it is up again; drain the queue. */
void relayqd_outcome_host_up(struct relayd *rd, struct relayqd_dest *d);
/*
 * A message (at least one recipient) was accepted: ends a slow start
 * that waits for one (struct relayqd_dest's need_tx).
 */
void relayqd_outcome_host_accepted(struct relayd *rd, struct relayqd_dest *d);

/*
 * Writes again what the disk could not take for the held message id
 * (relayqd_stash.h): queues the bounces it owes, saves its state, and
 * when both are done forgets the in-memory copy and schedules it at its
 * next_try; otherwise it stays held with a longer wait, and expires or
 * goes to failed/ (a bounce that cannot be queued) when that is due.
 * For the stash timer in relayqd.c.
 */
void relayqd_outcome_resave(struct relayd *rd, const char *id);

/* Returns the delay before the next attempt after tries failures. */
long long relayqd_outcome_retry_delay(const struct relayd *rd, unsigned tries);

#endif
