/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * What the disk could not take yet (issue 18).  When the outcome of an
 * attempt cannot be written (state/<id> or a bounce fails, typically
 * ENOSPC), relayqd keeps the message's delivery state here, in memory,
 * so that what the smarthost said is not forgotten:
 *
 *  - the state as it really is: recipients accepted are done, so they
 *    are never sent again in this daemon's lifetime; the attempt count
 *    and next_try advance as usual;
 *  - the recipients "owed" a report: they failed (5xx or expired) but
 *    their bounce could not be queued; they are not sent to the
 *    smarthost again, and the bounce is queued when there is room.
 *
 * Each entry says why it waits (RELAYQD_STASH_*): its state is not
 * written yet, and/or its last write failed for lack of room (ENOSPC,
 * EDQUOT); relayqd_outcome.c's spool-full incident lasts while an entry
 * has either.
 *
 * A message with an entry here is held: the scheduler keeps it busy, so
 * no attempt is made, and relayqd.c's stash timer retries the write
 * (relayqd_outcome_resave) with a backoff of its own.  When everything
 * is written the entry goes and the message is scheduled at its
 * next_try.  Nothing here is durable: a crash loses it, and the message
 * then restarts from state/<id> (the "crash before the state write"
 * window of doc/delivery.md section 6).  The module does no I/O.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_STASH_H
#define RELAYQ_RELAYQD_RELAYQD_STASH_H

#include <stddef.h>

#include "queue/queue_scan.h"
#include "queue/queue_state.h"

struct relayqd_stash;

/* Why an entry waits (flags). */
#define RELAYQD_STASH_UNSAVED 0x1 /* state/<id> is behind */
#define RELAYQD_STASH_NOROOM 0x2  /* its last write lacked room */

/* Creates an empty stash. */
struct relayqd_stash *relayqd_stash_new(void);
/* Frees it and every entry; NULL is a no-op. */
void relayqd_stash_free(struct relayqd_stash *st);

/*
 * Keeps a copy of s after a failed write (keyed by s->id, replacing an
 * entry it had) with owed (s->nrcpt marks, nonzero for a recipient owed
 * a report; NULL for none; copied) and flags (RELAYQD_STASH_*, which
 * replace the ones it had).  Returns how many writes of this entry
 * failed, this one included; the caller then sets the retry time with
 * relayqd_stash_retry().
 */
unsigned relayqd_stash_keep(struct relayqd_stash *st,
    const struct queue_state *s, const unsigned char *owed, unsigned flags);
/* Sets when the write of id is tried again. */
void relayqd_stash_retry(struct relayqd_stash *st, const char *id,
    long long when);
/* Drops the entry of id, if any. */
void relayqd_stash_forget(struct relayqd_stash *st, const char *id);
/* True when id has an entry. */
int relayqd_stash_has(const struct relayqd_stash *st, const char *id);
/*
 * Replaces *s (loaded from state/<id>, for a message of the same
 * recipients) with the kept state of s->id, keeping the operator's hold
 * flag from the disk.  Returns 1 when it did, 0 when id has no entry.
 */
int relayqd_stash_overlay(const struct relayqd_stash *st,
    struct queue_state *s);
/*
 * Ors the owed marks of id into mark (nrcpt bytes): a marked recipient
 * gets value (when it had none).  Returns how many were owed.
 */
size_t relayqd_stash_owed(const struct relayqd_stash *st, const char *id,
    unsigned char *mark, size_t nrcpt);
/* Number of entries, and of entries with any of flags. */
size_t relayqd_stash_count(const struct relayqd_stash *st);
size_t relayqd_stash_flagged(const struct relayqd_stash *st, unsigned flags);
/* The flags (RELAYQD_STASH_*) of id's entry; 0 when it has none. */
unsigned relayqd_stash_flags(const struct relayqd_stash *st, const char *id);
/* Makes every entry due at now (there may be room again). */
void relayqd_stash_hurry(struct relayqd_stash *st, long long now);
/* Fills out with the ids due at now (caller frees with queue_idlist_free). */
void relayqd_stash_due(const struct relayqd_stash *st, long long now,
    struct queue_idlist *out);
/* Returns the earliest retry time, or -1 when empty. */
long long relayqd_stash_next(const struct relayqd_stash *st);

#endif
