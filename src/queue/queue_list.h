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
#include "queue/queue_spool.h"

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
 * (The attempts line is indented like the others.)  Recipient states:
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
 * Prints failed/ (spool opened with QUEUE_SPOOL_FAILED or _DAEMON) in
 * the same form, every recipient with its state and last reply, and
 * "(attempts: N, moved to failed/: TIME)" in place of the attempts
 * line; "No failed messages" when there is none.  Returns 0 or -1.
 */
int queue_list_print_failed(struct queue_spool *sp, FILE *out) RQ_WUR;

#endif
