/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The wake FIFO's byte protocol, read by relayqd.  The FIFO is writable
 * by the front end's group, so what comes through it is untrusted input:
 * it can only make the daemon look at the queue sooner, never name a
 * file.  Records:
 *
 *	any single byte but 'I' and 'R'  a poke: look at incoming/ now
 *	'F'                              also: retry every waiting message
 *	"I" + 20 upper-case hex + "\n"   retry that queued message now
 *	                                 (sendmail -qR/-qS/-qI)
 *	"R" + 20 upper-case hex + "\n"   the same, written by relayq
 *	                                 (release, requeue, flush ID)
 *
 * Only the log tells I from R: both are a user's flush.  A record is one
 * write of 22 bytes, so it is atomic (PIPE_BUF); a malformed one is
 * skipped up to its newline, and its bytes are never read as 'F'.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_WAKE_H
#define RELAYQ_RELAYQD_RELAYQD_WAKE_H

#include <stddef.h>

#include "queue/queue_scan.h"

struct relayqd_sched;

#define RELAYQD_WAKE_FLUSH 0x01	      /* an 'F' byte came */
#define RELAYQD_WAKE_BY_SENDMAIL 0x02 /* an 'I' record named an id */
#define RELAYQD_WAKE_BY_RELAYQ 0x04   /* an 'R' record named an id */
#define RELAYQD_WAKE_REC_LEN (1 + QUEUE_ID_LEN + 1)
#define RELAYQD_WAKE_IDS_MAX 4096 /* ids kept from one drain */

/*
 * Parses len bytes; appends each valid id record to ids (up to
 * RELAYQD_WAKE_IDS_MAX) and sets *used to the bytes consumed (an
 * incomplete record at the end is left).  Returns RELAYQD_WAKE_* flags.
 */
int relayqd_wake_parse(const char *buf, size_t len, struct queue_idlist *ids,
    size_t *used);

/*
 * Reads everything the FIFO fd holds (bounded) and parses it.  ids must
 * start empty ({ NULL, 0 }); the caller frees it with queue_idlist_free.
 * Returns RELAYQD_WAKE_* flags.
 */
int relayqd_wake_drain(int fd, struct queue_idlist *ids);

/*
 * Makes each listed message that is waiting in s due at now; busy or
 * unknown ids are ignored.  Returns how many were moved.
 */
size_t relayqd_wake_flush_ids(struct relayqd_sched *s,
    const struct queue_idlist *ids, long long now);

#endif
