/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The in-memory index of queued messages, ordered by next attempt: a
 * binary min-heap for "what is due next" plus a tsearch(3) tree for
 * lookup by id.  It holds no file descriptors and does no I/O; the queue
 * directory stays the source of truth and a start-up scan rebuilds this.
 * A message handed out by relayqd_sched_pop_due() is "busy" until the
 * caller gives it back with _reschedule() or _remove().
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_SCHED_H
#define RELAYQ_RELAYQD_RELAYQD_SCHED_H

#include <stddef.h>

struct relayqd_sched;

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

/* Puts a busy (or waiting) message back, due at time due. */
void relayqd_sched_reschedule(struct relayqd_sched *s, const char *id,
    long long due);
/* Forgets id (delivered, deleted, or held). */
void relayqd_sched_remove(struct relayqd_sched *s, const char *id);
/* Makes every waiting message due now (flush). */
void relayqd_sched_flush(struct relayqd_sched *s, long long now);

/* Returns the earliest due time of the waiting messages, or -1. */
long long relayqd_sched_next_due(const struct relayqd_sched *s);
/* Counts of waiting and busy messages. */
size_t relayqd_sched_waiting(const struct relayqd_sched *s);
size_t relayqd_sched_busy(const struct relayqd_sched *s);

#endif
