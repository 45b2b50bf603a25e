/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the scheduler index: ordering by due time then id,
 * busy hand-out, reschedule, remove and flush.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "relayqd/relayqd_sched.h"
#include "common/compat.h"
#include "tap.h"

#define ID(n) "0000000000000000000" #n

int
main(void)
{
	struct relayqd_sched *s = relayqd_sched_new();
	const char *id;
	char saved[32];

	is_int(relayqd_sched_add(s, ID(3), 30), 1, "add 3");
	is_int(relayqd_sched_add(s, ID(1), 10), 1, "add 1");
	is_int(relayqd_sched_add(s, ID(2), 10), 1, "add 2");
	is_int(relayqd_sched_add(s, ID(2), 5), 0, "duplicate add refused");
	is_int(relayqd_sched_add(s, "../etc/passwd", 5), 0,
	    "invalid id refused");
	is_int(relayqd_sched_next_due(s), 10, "next due is the earliest");
	ok(relayqd_sched_pop_due(s, 9) == NULL, "nothing due before 10");
	id = relayqd_sched_pop_due(s, 10);
	is_str(id, ID(1), "ties broken by id (arrival)");
	is_int(relayqd_sched_busy(s), 1, "one busy");
	ok(relayqd_sched_has(s, ID(1)), "busy message still known");
	is_str(relayqd_sched_pop_due(s, 10), ID(2), "then id 2");
	ok(relayqd_sched_pop_due(s, 10) == NULL, "3 not due yet");
	relayqd_sched_reschedule(s, ID(1), 50);
	relayqd_sched_remove(s, ID(2));
	is_int(relayqd_sched_busy(s), 0, "none busy");
	is_int(relayqd_sched_waiting(s), 2, "two waiting");
	ok(!relayqd_sched_has(s, ID(2)), "removed message forgotten");
	is_str(relayqd_sched_pop_due(s, 100), ID(3), "3 due at 30");
	strlcpy(saved, ID(3), sizeof(saved));
	relayqd_sched_reschedule(s, saved, 200);
	relayqd_sched_flush(s, 100);
	ok(relayqd_sched_next_due(s) <= 100, "flush makes all due now");
	is_str(relayqd_sched_pop_due(s, 100), ID(1), "flush keeps id order");
	is_str(relayqd_sched_pop_due(s, 100), ID(3), "then 3");
	ok(relayqd_sched_pop_due(s, 1000) == NULL, "empty");
	relayqd_sched_remove(s, ID(1));
	relayqd_sched_remove(s, ID(3));
	is_int(relayqd_sched_next_due(s), -1, "no next due when empty");
	/* Many entries come out sorted. */
	{
		char idb[21];
		long long last = -1;
		int sorted = 1;

		for (int i = 0; i < 500; i++) {
			snprintf(idb, sizeof(idb), "%020X", i);
			relayqd_sched_add(s, idb, (i * 7919) % 1000);
		}
		for (int i = 0; i < 500; i++) {
			long long due = relayqd_sched_next_due(s);

			if (due < last)
				sorted = 0;
			last = due;
			id = relayqd_sched_pop_due(s, 2000);
			relayqd_sched_remove(s, id);
		}
		ok(sorted, "500 entries come out in due order");
		is_int(relayqd_sched_waiting(s), 0, "all popped");
	}
	relayqd_sched_free(s);
	return done_testing();
}
