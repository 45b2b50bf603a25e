/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * failed_retention: relayqd removes what has been in failed/ (null-sender
 * mail that failed and is never bounced) for longer than
 * [delivery] failed_retention; 0 keeps it forever.  The age of an entry
 * is the ctime of failed/<id>, which the rename into failed/ sets.
 *
 * Nothing is added to the per-message path and nothing polls: failed/
 * is purged at start-up and after a reload, and then by a one-shot
 * timer armed for the moment the oldest remaining entry expires; a
 * message moved into failed/ arms it (for retention from now) when it is
 * not armed yet.  An idle relayqd with an empty failed/ has no timer.
 * Purges are logged as "purged N messages from failed/ (older than Ds)".
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_PURGE_H
#define RELAYQ_RELAYQD_RELAYQD_PURGE_H

struct relayd;
struct relayqd_purge;

/* Creates the purger of rd (its timer is not armed).  Never NULL. */
struct relayqd_purge *relayqd_purge_new(struct relayd *rd);
/* Purges failed/ now and arms the timer for what is left. */
void relayqd_purge_run(struct relayqd_purge *p);
/* A message was just moved into failed/: arms the timer if needed. */
void relayqd_purge_arm(struct relayqd_purge *p);
/* Frees p (NULL is a no-op). */
void relayqd_purge_free(struct relayqd_purge *p);

#endif
