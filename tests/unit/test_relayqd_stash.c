/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for relayqd_stash: the in-memory delivery states kept while
 * the spool cannot take them (issue 18).
 */
#include "config.h"

#include <string.h>

#include "queue/queue_scan.h"
#include "queue/queue_state.h"
#include "relayqd/relayqd_stash.h"
#include "tap.h"

#define ID1 "0194A3F2C0004D1E2A7B"
#define ID2 "0194A3F2C0004D1E2A7C"

int
main(void)
{
	struct relayqd_stash *st = relayqd_stash_new();
	struct queue_state s, disk;
	struct queue_idlist l;
	unsigned char owed[3] = { 0, 0, 1 }, mark[3] = { 0, 0, 0 };

	queue_state_init(&s, ID1, 3);
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_DONE, "250 2.0.0 ok");
	queue_state_set_rcpt(&s, 1, QUEUE_RCPT_PENDING, "451 4.3.0 later");
	queue_state_set_rcpt(&s, 2, QUEUE_RCPT_FAILED, "550 5.1.1 no");
	s.tries = 2;
	s.next_try = 1000;
	is_int(relayqd_stash_keep(st, &s, owed, RELAYQD_STASH_UNSAVED), 1,
	    "first failed write");
	relayqd_stash_retry(st, ID1, 500);
	ok(relayqd_stash_has(st, ID1) && !relayqd_stash_has(st, ID2),
	    "kept under its id");
	is_int(relayqd_stash_keep(st, &s, owed, RELAYQD_STASH_UNSAVED), 2,
	    "second failed write");
	is_int(relayqd_stash_count(st), 1, "replaced, not added");
	is_int(relayqd_stash_flagged(st, RELAYQD_STASH_UNSAVED), 1,
	    "one unsaved");

	/* The disk says every recipient is pending and the message held. */
	queue_state_init(&disk, ID1, 3);
	disk.held = 1;
	is_int(relayqd_stash_overlay(st, &disk), 1, "overlay applies");
	is_int(disk.rcpt_st[0], QUEUE_RCPT_DONE, "accepted stays done");
	is_int(disk.rcpt_st[2], QUEUE_RCPT_FAILED, "failure remembered");
	is_str(disk.rcpt_reply[2], "550 5.1.1 no", "with its reply");
	is_int(disk.tries, 2, "attempt count kept");
	is_int(disk.next_try, 1000, "next try kept");
	is_int(disk.held, 1, "the operator's hold comes from the disk");
	queue_state_free(&disk);
	queue_state_init(&disk, ID1, 4);
	is_int(relayqd_stash_overlay(st, &disk), 0,
	    "no overlay with another recipient count");
	queue_state_free(&disk);

	mark[0] = 2;
	is_int(relayqd_stash_owed(st, ID1, mark, 3), 1, "one owed");
	ok(mark[0] == 2 && mark[1] == 0 && mark[2] == 1, "owed or'ed in");
	is_int(relayqd_stash_owed(st, ID2, mark, 3), 0, "none for another id");

	relayqd_stash_due(st, 499, &l);
	is_int(l.n, 0, "not due before its retry time");
	queue_idlist_free(&l);
	relayqd_stash_due(st, 500, &l);
	ok(l.n == 1 && strcmp(l.ids[0], ID1) == 0, "due at its retry time");
	queue_idlist_free(&l);
	is_int(relayqd_stash_next(st), 500, "next retry");
	relayqd_stash_hurry(st, 100);
	is_int(relayqd_stash_next(st), 100, "hurried");

	queue_state_free(&s);
	queue_state_init(&s, ID2, 1);
	(void)relayqd_stash_keep(st, &s, NULL, RELAYQD_STASH_NOROOM);
	relayqd_stash_retry(st, ID2, 50);
	is_int(relayqd_stash_flagged(st, RELAYQD_STASH_UNSAVED), 1,
	    "a bounce-only entry is saved");
	is_int(relayqd_stash_flagged(st, RELAYQD_STASH_NOROOM), 1,
	    "one waits for room");
	is_int(relayqd_stash_flagged(st,
		   RELAYQD_STASH_UNSAVED | RELAYQD_STASH_NOROOM),
	    2, "either flag");
	is_int(relayqd_stash_next(st), 50, "earliest of two");
	is_int(relayqd_stash_flags(st, ID1), RELAYQD_STASH_UNSAVED,
	    "flags of one entry");
	is_int(relayqd_stash_flags(st, ID2), RELAYQD_STASH_NOROOM,
	    "and of the other");
	relayqd_stash_forget(st, ID1);
	relayqd_stash_forget(st, ID1);
	is_int(relayqd_stash_count(st), 1, "forgotten (twice is harmless)");
	is_int(relayqd_stash_flags(st, ID1), 0, "no flags once forgotten");
	is_int(relayqd_stash_flagged(st, RELAYQD_STASH_UNSAVED), 0,
	    "nothing unsaved");
	(void)relayqd_stash_keep(st, &s, NULL, 0);
	is_int(relayqd_stash_flagged(st, RELAYQD_STASH_NOROOM), 0,
	    "a new write replaces the flags");
	queue_state_free(&s);
	relayqd_stash_free(st);
	relayqd_stash_free(NULL);
	return done_testing();
}
