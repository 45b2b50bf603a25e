/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Listing the spool: the valid ids in a directory, sorted (that is, by
 * arrival), and the start-up clean-up of stale temporary files.  Names
 * that are not valid ids are never opened by path joining; they are
 * reported (and quarantined by the caller where that makes sense).
 */
#ifndef RELAYQ_QUEUE_QUEUE_SCAN_H
#define RELAYQ_QUEUE_QUEUE_SCAN_H

#include <stddef.h>

#include "common/compat.h"
#include "queue/queue_id.h"
#include "queue/queue_spool.h"

struct queue_idlist {
	char (*ids)[QUEUE_ID_LEN + 1]; /* owned */
	size_t n;
};

/*
 * Lists the valid ids in directory d of the spool, sorted ascending.
 * Entries that are not valid ids are counted in *nbad (may be NULL) and
 * skipped ("." and ".." excepted; in state/ and tmp/, names with a
 * suffix used by the spool's own temporary files are skipped silently).
 * Returns 0 or -1 (errno).
 */
int queue_scan_dir(struct queue_spool *sp, enum queue_dir d,
    struct queue_idlist *out, size_t *nbad) RQ_WUR;
/* Frees a list. */
void queue_idlist_free(struct queue_idlist *l);

/*
 * Removes the files in tmp/ that queue_spool_clean_tmp() finds stale (no
 * writer holds their lock) and stale state temporaries (state/<id>.tmp),
 * last modified at least max_age seconds ago (max_age >= 0).  Returns the
 * number removed, or -1.
 */
int queue_scan_clean_tmp(struct queue_spool *sp, long long max_age);

/*
 * Removes state/<id> files whose queue/<id> is gone (left by a crash in
 * queue_spool_remove()).  Call at start-up, holding the spool lock.
 * Returns the number removed, or -1.
 */
int queue_scan_clean_state(struct queue_spool *sp) RQ_WUR;

/*
 * Moves every entry of d (QUEUE_DIR_INCOMING or QUEUE_DIR_QUEUE) whose
 * name is not a valid id into corrupt/ (see queue_spool_quarantine()).
 * Returns the number moved, or -1.
 */
int queue_scan_quarantine_bad(struct queue_spool *sp, enum queue_dir d) RQ_WUR;

/* What queue_scan_purge_failed() found. */
struct queue_scan_failed {
	size_t purged;	  /* messages removed */
	size_t left;	  /* messages kept */
	long long oldest; /* ctime of the oldest one kept, 0 if none */
};

/*
 * Removes the entries of failed/ (failed/<id> and failed/<id>.state)
 * that entered it at or before cutoff (seconds since the epoch): their
 * ctime, which the rename into failed/ sets.  The message goes first,
 * then its state; failed/ is fsync'd once when anything was removed.
 * relayqd never reads failed/, so the order only matters for listing.
 * Pass LLONG_MAX to purge everything, -1 (or 0) only to count.  Fills
 * res; returns 0, or -1 with errno (res still counts what was done).
 */
int queue_scan_purge_failed(struct queue_spool *sp, long long cutoff,
    struct queue_scan_failed *res) RQ_WUR;

#endif
