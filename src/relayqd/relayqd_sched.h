/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The in-memory index of queued messages, ordered by next attempt: a
 * binary min-heap for "what is due next" plus a tsearch(3) tree for
 * lookup by id.  It holds no file descriptors and does no I/O; the queue
 * directory stays the source of truth and a start-up scan rebuilds this.
 * A message handed out by relayqd_sched_pop_due() or _take() is "busy"
 * until the caller gives it back with _reschedule() or _remove().  It
 * also computes retry delays (relayqd_sched_backoff), which are pure
 * arithmetic so that unit tests can check the schedule exactly.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_SCHED_H
#define RELAYQ_RELAYQD_RELAYQD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue_id.h"
#include "queue/queue_scan.h"

struct relayqd_sched;

/* Entry flags (relayqd_sched_set_flags). */
#define RELAYQD_SCHED_F_WARNED 0x01 /* delay notice dealt with */

/* The route of a message whose sender was not looked at yet. */
#define RELAYQD_SCHED_UNROUTED (-1L)

/* Jitter of a retry delay, in thousandths either side (20%). */
#define RELAYQD_SCHED_JITTER 200

/*
 * Returns the delay in seconds before the next attempt after tries
 * failed ones (tries 0 counts as 1): min doubled tries - 1 times and
 * capped at max, then scaled by a factor in [0.8, 1.2] taken from rnd
 * (uniform over 32 bits; 0 gives 0.8, UINT32_MAX gives 1.2), rounded,
 * and at least 1.  With min = 60 and max = 3600 the bases are 60, 120,
 * 240, ..., 3600; a jittered delay may exceed max by up to 20%.
 */
long long relayqd_sched_backoff(long long min, long long max, unsigned tries,
    uint32_t rnd);

/*
 * Returns the wait in milliseconds before the next probe of a
 * destination whose probes failed tries times in a row: the interval is
 * min doubled tries - 1 times, capped at max and at cap (cap <= 0: no
 * cap), and the wait is uniform in [interval / 2, interval] (full jitter
 * over the upper half) from rnd (uniform over 32 bits; 0 gives the
 * half, UINT32_MAX the whole interval).  So hosts that failed together
 * spread their probes over half an interval at the first one and drift
 * further apart with each, and a probe is never more than the interval
 * away (the recovery bound).
 */
long long relayqd_sched_probe_delay(long long min, long long max, long long cap,
    unsigned tries, uint32_t rnd);

/* Creates an empty index. */
struct relayqd_sched *relayqd_sched_new(void);
/* Frees the index; NULL is a no-op. */
void relayqd_sched_free(struct relayqd_sched *s);

/*
 * Adds id due at time due, unless it is already known.  Returns 1 when
 * added, 0 when it was known already.
 */
int relayqd_sched_add(struct relayqd_sched *s, const char *id, long long due);
/* True when id is known (waiting or busy). */
int relayqd_sched_has(struct relayqd_sched *s, const char *id);

/*
 * Takes the earliest message due at or before now and marks it busy.
 * Returns its id (borrowed until _reschedule/_remove), or NULL.
 */
const char *relayqd_sched_pop_due(struct relayqd_sched *s, long long now);

/*
 * Routes (issue 15): each message belongs to one route (the index of the
 * smarthost its sender routes to, conf_route) or is unrouted
 * (RELAYQD_SCHED_UNROUTED) until the daemon looks at its sender; each
 * route has its own heap, so that mail of a route whose smarthosts are
 * down or busy never stands in front of another route's.  An index
 * starts with one route, and every message added then belongs to route
 * 0 (nothing to resolve).
 *
 * Sets the number of routes (at least 1) and forgets every message's
 * route (a reload reroutes queued mail): with more than one route, every
 * message is unrouted until _set_route.
 */
void relayqd_sched_set_routes(struct relayqd_sched *s, size_t nroutes);
/* Returns the number of routes. */
size_t relayqd_sched_routes(const struct relayqd_sched *s);
/* Moves the known message id (waiting or busy) to route. */
void relayqd_sched_set_route(struct relayqd_sched *s, const char *id,
    long route);
/*
 * As _pop_due and _next_due, for the messages of route only
 * (RELAYQD_SCHED_UNROUTED: those whose route is not known yet).
 */
const char *relayqd_sched_pop_route(struct relayqd_sched *s, long route,
    long long now);
long long relayqd_sched_next_route(const struct relayqd_sched *s, long route);

/* Puts a busy (or waiting) message back, due at time due. */
void relayqd_sched_reschedule(struct relayqd_sched *s, const char *id,
    long long due);
/* Forgets id (delivered, deleted, or held). */
void relayqd_sched_remove(struct relayqd_sched *s, const char *id);
/* Makes every waiting message due now (root's flush; see _hurry_all). */
void relayqd_sched_flush(struct relayqd_sched *s, long long now);

/*
 * A flush asked by a user (not root): makes every waiting message (or
 * the waiting message id) due at now, as _flush does, but remembers the
 * due time each had, so that an attempt it brought forward does not
 * count as one (relayqd_sched_early_take); _flush and _take forget
 * that.  Return how many were moved.
 */
size_t relayqd_sched_hurry_all(struct relayqd_sched *s, long long now);
int relayqd_sched_hurry(struct relayqd_sched *s, const char *id, long long now);
/*
 * Returns the due time a user's flush brought id forward from (0 when
 * none) and forgets it.
 */
long long relayqd_sched_early_take(struct relayqd_sched *s, const char *id);
/*
 * Takes the waiting message id (whatever its due time) and marks it
 * busy.  Returns the due time it had, or -1 when it is not waiting.
 */
long long relayqd_sched_take(struct relayqd_sched *s, const char *id);
/* Sets flags (RELAYQD_SCHED_F_*) on a known message. */
void relayqd_sched_set_flags(struct relayqd_sched *s, const char *id,
    unsigned flags);
/*
 * Fills out with the waiting messages whose id says they arrived at or
 * before born and that have none of the flags in skip (the caller frees
 * it with queue_idlist_free(); it is empty when there are none).
 */
void relayqd_sched_older(const struct relayqd_sched *s, long long born,
    unsigned skip, struct queue_idlist *out);

/* Returns the earliest due time of the waiting messages, or -1. */
long long relayqd_sched_next_due(const struct relayqd_sched *s);
/* Counts of waiting and busy messages. */
size_t relayqd_sched_waiting(const struct relayqd_sched *s);
size_t relayqd_sched_busy(const struct relayqd_sched *s);
/*
 * Returns the arrival time of the oldest known message (waiting or
 * busy), or -1 when there is none.  O(n): for status and alerts, which
 * run at most once a second.
 */
long long relayqd_sched_oldest(const struct relayqd_sched *s);
/*
 * The same, and the route of that message in *route (when not NULL;
 * RELAYQD_SCHED_UNROUTED when it has none yet or nothing is queued).
 */
long long relayqd_sched_oldest_route(const struct relayqd_sched *s,
    long *route);

#endif
