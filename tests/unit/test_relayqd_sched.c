/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the scheduler index: ordering by due time then id,
 * busy hand-out, reschedule, remove and flush.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayqd/relayqd_sched.h"
#include "common/compat.h"
#include "tap.h"

#define ID(n) "0000000000000000000" #n

/* take, flags and the sweep listing. */
static void
test_take_older(void)
{
	struct relayqd_sched *s = relayqd_sched_new();
	struct queue_idlist l;
	char old1[21], old2[21], young[21];

	/* Ids carry their arrival time in the first 9 hex digits. */
	snprintf(old1, sizeof(old1), "%09X%011X", 1000, 1);
	snprintf(old2, sizeof(old2), "%09X%011X", 2000, 2);
	snprintf(young, sizeof(young), "%09X%011X", 5000, 3);
	is_int(relayqd_sched_oldest(s), -1, "oldest: none when empty");
	relayqd_sched_add(s, young, 30);
	relayqd_sched_add(s, old2, 20);
	is_int(relayqd_sched_oldest(s), 2000, "oldest: by arrival, not due");
	relayqd_sched_add(s, old1, 10);
	relayqd_sched_older(s, 2000, 0, &l);
	ok(l.n == 2, "two arrived by 2000");
	queue_idlist_free(&l);
	relayqd_sched_set_flags(s, old1, RELAYQD_SCHED_F_WARNED);
	relayqd_sched_older(s, 2000, RELAYQD_SCHED_F_WARNED, &l);
	ok(l.n == 1 && strcmp(l.ids[0], old2) == 0, "flagged entry skipped");
	queue_idlist_free(&l);
	relayqd_sched_older(s, 999, 0, &l);
	ok(l.ids == NULL && l.n == 0, "none arrived by 999");
	is_int(relayqd_sched_take(s, old2), 20, "take returns the due time");
	is_int(relayqd_sched_busy(s), 1, "taken entry is busy");
	is_int(relayqd_sched_take(s, old2), -1, "a busy entry cannot be taken");
	relayqd_sched_older(s, 9000, 0, &l);
	ok(l.n == 2, "busy entries are not listed");
	queue_idlist_free(&l);
	is_int(relayqd_sched_oldest(s), 1000, "oldest: busy entries count");
	is_str(relayqd_sched_pop_due(s, 100), old1, "heap still ordered");
	is_int(relayqd_sched_oldest(s), 1000, "oldest: popped (busy) counts");
	relayqd_sched_remove(s, old1);
	is_int(relayqd_sched_oldest(s), 2000, "oldest: after a removal");
	relayqd_sched_reschedule(s, old2, 5);
	is_int(relayqd_sched_next_due(s), 5, "taken entry put back");
	relayqd_sched_free(s);
}

/* The retry delays: doubling, cap, jitter bounds, no overflow. */
static void
test_backoff(void)
{
	static const long long want[] = { 60, 120, 240, 480, 960, 1920, 3600,
		3600 };
	int in_range = 1, spread = 0;
	long long lo = -1, hi = -1;

	for (unsigned t = 1; t <= RQ_NELEM(want); t++)
		is_int(relayqd_sched_backoff(60, 3600, t, UINT32_MAX / 2 + 1),
		    want[t - 1], "try %u: base %lld", t, want[t - 1]);
	is_int(relayqd_sched_backoff(60, 3600, 0, UINT32_MAX / 2 + 1), 60,
	    "tries 0 counts as 1");
	is_int(relayqd_sched_backoff(60, 3600, 1, 0), 48, "jitter -20%%");
	is_int(relayqd_sched_backoff(60, 3600, 1, UINT32_MAX), 72,
	    "jitter +20%%");
	is_int(relayqd_sched_backoff(60, 3600, 30, UINT32_MAX), 4320,
	    "capped base + 20%%");
	is_int(relayqd_sched_backoff(60, 3600, UINT32_MAX, 0), 2880,
	    "huge try count does not overflow");
	is_int(relayqd_sched_backoff(86400 * 30, 86400 * 30, 5, UINT32_MAX),
	    86400 * 36, "largest configurable delay");
	is_int(relayqd_sched_backoff(1, 1, 1, 0), 1, "at least 1 second");
	is_int(relayqd_sched_backoff(0, 0, 1, 0), 1, "zero minimum gives 1");
	is_int(relayqd_sched_backoff(100, 50, 3, UINT32_MAX / 2 + 1), 100,
	    "max below min: min wins");
	/* A pseudo-random sweep stays within +-20% and does spread out. */
	for (uint32_t x = 12345, i = 0; i < 10000; i++) {
		long long d;

		x = x * 1664525u + 1013904223u;
		d = relayqd_sched_backoff(240, 3600, 1, x);
		if (d < 192 || d > 288)
			in_range = 0;
		if (lo == -1 || d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	spread = hi - lo >= 80;
	ok(in_range, "10000 jittered delays within [192, 288]");
	ok(spread, "jitter spreads them (%lld..%lld)", lo, hi);
}

/* The probe wait: capped interval, full jitter over its upper half. */
static void
test_probe_delay(void)
{
	long long lo = -1, hi = -1, sum = 0, d;
	int in_range = 1;

	is_int(relayqd_sched_probe_delay(60, 3600, 10, 1, 0), 5000,
	    "probe: capped at 10 s, lowest wait is half (ms)");
	is_int(relayqd_sched_probe_delay(60, 3600, 10, 1, UINT32_MAX), 10000,
	    "probe: highest wait is the whole interval");
	is_int(relayqd_sched_probe_delay(1, 2, 10, 1, UINT32_MAX), 1000,
	    "probe: below the cap, the backoff interval (1 s)");
	is_int(relayqd_sched_probe_delay(1, 2, 10, 5, UINT32_MAX), 2000,
	    "probe: backoff doubles up to retry_max");
	is_int(relayqd_sched_probe_delay(60, 3600, 0, 2, 0), 60000,
	    "probe: no cap, second try: half of 120 s");
	is_int(relayqd_sched_probe_delay(86400 * 30, 86400 * 30, 0, UINT32_MAX,
		   UINT32_MAX),
	    86400LL * 30 * 1000, "probe: largest interval does not overflow");
	for (uint32_t x = 12345, i = 0; i < 10000; i++) {
		x = x * 1664525u + 1013904223u;
		d = relayqd_sched_probe_delay(1, 3600, 10, 30, x);
		if (d < 5000 || d > 10000)
			in_range = 0;
		if (lo == -1 || d < lo)
			lo = d;
		if (d > hi)
			hi = d;
		sum += d;
	}
	ok(in_range, "10000 probe waits within [5000, 10000] ms");
	ok(lo < 5100 && hi > 9900, "they cover the range (%lld..%lld)", lo, hi);
	ok(sum / 10000 > 7400 && sum / 10000 < 7600,
	    "uniform: mean %lld ms, about 7500", sum / 10000);
}

/* A user's flush remembers due times; root's flush and take forget them. */
static void
test_hurry(void)
{
	struct relayqd_sched *s = relayqd_sched_new();

	relayqd_sched_add(s, ID(1), 500);
	relayqd_sched_add(s, ID(2), 50);
	relayqd_sched_add(s, ID(3), 900);
	is_int((long long)relayqd_sched_hurry_all(s, 100), 2,
	    "hurry_all moves the two not yet due");
	is_int(relayqd_sched_next_due(s), 50, "...and not the one due before");
	is_str(relayqd_sched_pop_due(s, 100), ID(2), "2 first (due at 50)");
	is_str(relayqd_sched_pop_due(s, 100), ID(1), "then 1, hurried");
	is_int(relayqd_sched_early_take(s, ID(1)), 500, "1 remembers 500");
	is_int(relayqd_sched_early_take(s, ID(1)), 0, "...once");
	is_int(relayqd_sched_early_take(s, ID(2)), 0, "2 was not hurried");
	relayqd_sched_reschedule(s, ID(1), 700);
	is_int(relayqd_sched_hurry(s, ID(1), 120), 1, "hurry one");
	is_int(relayqd_sched_hurry(s, ID(1), 130), 0, "already due: no-op");
	is_int(relayqd_sched_hurry(s, ID(2), 130), 0, "busy: no-op");
	is_int(relayqd_sched_take(s, ID(1)), 120, "take 1");
	is_int(relayqd_sched_early_take(s, ID(1)), 0, "take forgets it");
	relayqd_sched_reschedule(s, ID(1), 800);
	relayqd_sched_flush(s, 200);
	is_int(relayqd_sched_early_take(s, ID(3)), 0,
	    "root's flush forgets 3's");
	relayqd_sched_free(s);
}

/* Routes: one heap each, unrouted until set, forgotten at set_routes. */
static void
test_routes(void)
{
	struct relayqd_sched *s = relayqd_sched_new();
	struct queue_idlist l;

	is_int(relayqd_sched_routes(s), 1, "one route to begin with");
	relayqd_sched_add(s, ID(1), 10);
	is_int(relayqd_sched_next_route(s, 0), 10, "one route: added to 0");
	is_int(relayqd_sched_next_route(s, RELAYQD_SCHED_UNROUTED), -1,
	    "one route: nothing unrouted");

	relayqd_sched_set_routes(s, 3);
	is_int(relayqd_sched_next_route(s, 0), -1,
	    "more routes: the route is forgotten");
	is_int(relayqd_sched_next_route(s, RELAYQD_SCHED_UNROUTED), 10,
	    "and the message is unrouted");
	relayqd_sched_add(s, ID(2), 5);
	relayqd_sched_add(s, ID(3), 20);
	relayqd_sched_add(s, ID(4), 7);
	is_str(relayqd_sched_pop_route(s, RELAYQD_SCHED_UNROUTED, 100), ID(2),
	    "the earliest unrouted one");
	relayqd_sched_set_route(s, ID(2), 2); /* busy: goes there when back */
	relayqd_sched_reschedule(s, ID(2), 5);
	relayqd_sched_set_route(s, ID(1), 1);
	relayqd_sched_set_route(s, ID(3), 1);
	relayqd_sched_set_route(s, ID(4), 2);
	is_int(relayqd_sched_waiting(s), 4, "four waiting");
	is_int(relayqd_sched_next_route(s, 1), 10, "route 1: its earliest");
	is_int(relayqd_sched_next_route(s, 2), 5, "route 2: its earliest");
	is_int(relayqd_sched_next_due(s), 5, "the earliest of all");
	ok(relayqd_sched_pop_route(s, 1, 9) == NULL,
	    "route 1 has nothing due at 9, though route 2 has");
	is_str(relayqd_sched_pop_route(s, 1, 10), ID(1), "route 1 at 10");
	is_str(relayqd_sched_pop_route(s, 1, 100), ID(3), "then the next");
	ok(relayqd_sched_pop_route(s, 1, 100) == NULL, "route 1 is empty");
	ok(relayqd_sched_pop_route(s, 3, 100) == NULL &&
		relayqd_sched_next_route(s, 7) == -1,
	    "a route out of range has nothing");
	relayqd_sched_flush(s, 0);
	is_int(relayqd_sched_next_route(s, 2), 0, "flush reaches every route");
	relayqd_sched_older(s, 0, 0, &l);
	ok(l.n == 2, "older lists every route's waiting messages");
	queue_idlist_free(&l);
	is_str(relayqd_sched_pop_due(s, 0), ID(2), "pop_due takes any route");
	relayqd_sched_remove(s, ID(2));

	/* A reload with other routes: everything unrouted again. */
	relayqd_sched_set_routes(s, 2);
	is_int(relayqd_sched_next_route(s, RELAYQD_SCHED_UNROUTED), 0,
	    "set_routes: waiting messages unrouted again");
	is_str(relayqd_sched_pop_route(s, RELAYQD_SCHED_UNROUTED, 0), ID(4),
	    "and can be routed afresh");
	relayqd_sched_set_routes(s, 1);
	relayqd_sched_reschedule(s, ID(1), 0);
	relayqd_sched_reschedule(s, ID(3), 3);
	relayqd_sched_reschedule(s, ID(4), 4);
	is_int(relayqd_sched_next_route(s, 0), 0,
	    "back to one route: all in route 0, busy ones too");
	is_int(relayqd_sched_waiting(s), 3, "nothing lost");
	relayqd_sched_free(s);
}

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
	test_take_older();
	test_backoff();
	test_probe_delay();
	test_hurry();
	test_routes();
	return done_testing();
}
