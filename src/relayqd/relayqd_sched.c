/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Scheduler index: one min-heap of waiting entries per route keyed by
 * due time (ties broken by id, that is by arrival), plus a heap of the
 * entries whose route is not known yet, and a tsearch(3) tree of all
 * entries by id.  Each entry knows its route and its heap slot (-1 when
 * busy), so reschedule and remove are O(log n).  With one route (one
 * smarthost) every entry is added to route 0: nothing is resolved.
 */
#include "config.h"

#include "relayqd/relayqd_sched.h"

#include <limits.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/queue_id.h"

struct relayqd_sched_ent {
	char id[QUEUE_ID_LEN + 1];
	long long due;
	long slot;	 /* index in its heap, -1 when busy */
	long route;	 /* its route, or RELAYQD_SCHED_UNROUTED */
	unsigned flags;	 /* RELAYQD_SCHED_F_* */
	long long early; /* due time before a user's flush, or 0 */
};

struct relayqd_sched_heap {
	struct relayqd_sched_ent **ent;
	size_t n, cap;
};

struct relayqd_sched {
	void *tree; /* tsearch root of struct relayqd_sched_ent * */
	/* heaps[0]: unrouted entries; heaps[r + 1]: route r's */
	struct relayqd_sched_heap *heaps;
	size_t nroutes; /* >= 1 */
	size_t busy;
};

/* Orders tree nodes by id. */
static int
relayqd_sched_cmp_id(const void *a, const void *b)
{
	const struct relayqd_sched_ent *x = a, *y = b;

	return strcmp(x->id, y->id);
}

/* Heap order: earlier due first, then lower id. */
static int
relayqd_sched_before(const struct relayqd_sched_ent *a,
    const struct relayqd_sched_ent *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return strcmp(a->id, b->id) < 0;
}

/* The heap of route (RELAYQD_SCHED_UNROUTED: the unrouted one). */
static struct relayqd_sched_heap *
relayqd_sched_heap(const struct relayqd_sched *s, long route)
{
	return &s->heaps[route + 1];
}

/* Places e at slot i. */
static void
relayqd_sched_put(struct relayqd_sched_heap *h, size_t i,
    struct relayqd_sched_ent *e)
{
	h->ent[i] = e;
	e->slot = (long)i;
}

/* Moves the entry at i up while it is before its parent. */
static void
relayqd_sched_up(struct relayqd_sched_heap *h, size_t i)
{
	struct relayqd_sched_ent *e = h->ent[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!relayqd_sched_before(e, h->ent[p]))
			break;
		relayqd_sched_put(h, i, h->ent[p]);
		i = p;
	}
	relayqd_sched_put(h, i, e);
}

/* Moves the entry at i down while a child is before it. */
static void
relayqd_sched_down(struct relayqd_sched_heap *h, size_t i)
{
	struct relayqd_sched_ent *e = h->ent[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct relayqd_sched_ent *best = e;

		if (l < h->n && relayqd_sched_before(h->ent[l], best)) {
			m = l;
			best = h->ent[l];
		}
		if (l + 1 < h->n && relayqd_sched_before(h->ent[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		relayqd_sched_put(h, i, h->ent[m]);
		i = m;
	}
	relayqd_sched_put(h, i, e);
}

/* Restores the heap order of every heap after keys were lowered. */
static void
relayqd_sched_heapify(struct relayqd_sched *s)
{
	for (size_t r = 0; r <= s->nroutes; r++)
		for (size_t i = s->heaps[r].n / 2; i-- > 0;)
			relayqd_sched_down(&s->heaps[r], i);
}

/* Inserts e into the heap of its route. */
static void
relayqd_sched_push(struct relayqd_sched *s, struct relayqd_sched_ent *e)
{
	struct relayqd_sched_heap *h = relayqd_sched_heap(s, e->route);

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->ent = xreallocarray(h->ent, h->cap, sizeof(*h->ent));
	}
	relayqd_sched_put(h, h->n++, e);
	relayqd_sched_up(h, h->n - 1);
}

/* Takes e out of its heap (it must be in it). */
static void
relayqd_sched_unlink(struct relayqd_sched *s, struct relayqd_sched_ent *e)
{
	struct relayqd_sched_heap *h = relayqd_sched_heap(s, e->route);
	size_t i = (size_t)e->slot;

	e->slot = -1;
	if (--h->n == i)
		return;
	relayqd_sched_put(h, i, h->ent[h->n]);
	relayqd_sched_down(h, i);
	relayqd_sched_up(h, (size_t)h->ent[i]->slot);
}

/* Finds an entry by id. */
static struct relayqd_sched_ent *
relayqd_sched_find(const struct relayqd_sched *s, const char *id)
{
	struct relayqd_sched_ent key;
	void *const *node;

	if (strlen(id) != QUEUE_ID_LEN)
		return NULL;
	memcpy(key.id, id, QUEUE_ID_LEN + 1);
	node = tfind(&key, &s->tree, relayqd_sched_cmp_id);
	return node != NULL ? *(struct relayqd_sched_ent *const *)node : NULL;
}

/* Creates an empty index. */
struct relayqd_sched *
relayqd_sched_new(void)
{
	struct relayqd_sched *s = xcalloc(1, sizeof(*s));

	s->nroutes = 1;
	s->heaps = xcalloc(2, sizeof(*s->heaps));
	return s;
}

/* tdestroy callback. */
static void
relayqd_sched_free_ent(void *p)
{
	free(p);
}

/* Frees everything. */
void
relayqd_sched_free(struct relayqd_sched *s)
{
	if (s == NULL)
		return;
	tdestroy(s->tree, relayqd_sched_free_ent);
	for (size_t r = 0; r <= s->nroutes; r++)
		free(s->heaps[r].ent);
	free(s->heaps);
	free(s);
}

/* Adds a message unless known. */
int
relayqd_sched_add(struct relayqd_sched *s, const char *id, long long due)
{
	struct relayqd_sched_ent *e;
	void *node;

	if (!queue_id_is_valid(id) || relayqd_sched_find(s, id) != NULL)
		return 0;
	e = xcalloc(1, sizeof(*e));
	memcpy(e->id, id, QUEUE_ID_LEN + 1);
	e->due = due;
	e->route = s->nroutes == 1 ? 0 : RELAYQD_SCHED_UNROUTED;
	if ((node = tsearch(e, &s->tree, relayqd_sched_cmp_id)) == NULL)
		fatalx("out of memory (tsearch)");
	relayqd_sched_push(s, e);
	return 1;
}

/* Membership test. */
int
relayqd_sched_has(struct relayqd_sched *s, const char *id)
{
	return relayqd_sched_find(s, id) != NULL;
}

/* The route whose heap holds the earliest waiting entry, or -2. */
static long
relayqd_sched_first(const struct relayqd_sched *s)
{
	const struct relayqd_sched_ent *best = NULL;
	long route = -2;

	for (size_t r = 0; r <= s->nroutes; r++)
		if (s->heaps[r].n > 0 &&
		    (best == NULL ||
			relayqd_sched_before(s->heaps[r].ent[0], best))) {
			best = s->heaps[r].ent[0];
			route = (long)r - 1;
		}
	return route;
}

/* Pops the earliest due message of route. */
const char *
relayqd_sched_pop_route(struct relayqd_sched *s, long route, long long now)
{
	struct relayqd_sched_heap *h;
	struct relayqd_sched_ent *e;

	if (route < RELAYQD_SCHED_UNROUTED || route >= (long)s->nroutes)
		return NULL;
	h = relayqd_sched_heap(s, route);
	if (h->n == 0 || h->ent[0]->due > now)
		return NULL;
	e = h->ent[0];
	relayqd_sched_unlink(s, e);
	s->busy++;
	return e->id;
}

/* Pops the earliest due message, whatever its route. */
const char *
relayqd_sched_pop_due(struct relayqd_sched *s, long long now)
{
	long route = relayqd_sched_first(s);

	return route == -2 ? NULL : relayqd_sched_pop_route(s, route, now);
}

/* Puts a message back with a new due time. */
void
relayqd_sched_reschedule(struct relayqd_sched *s, const char *id, long long due)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL)
		return;
	if (e->slot == -1)
		s->busy--;
	else
		relayqd_sched_unlink(s, e);
	e->due = due;
	relayqd_sched_push(s, e);
}

/* Forgets a message. */
void
relayqd_sched_remove(struct relayqd_sched *s, const char *id)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL)
		return;
	if (e->slot == -1)
		s->busy--;
	else
		relayqd_sched_unlink(s, e);
	(void)tdelete(e, &s->tree, relayqd_sched_cmp_id);
	free(e);
}

/* Makes every waiting message due now. */
void
relayqd_sched_flush(struct relayqd_sched *s, long long now)
{
	for (size_t r = 0; r <= s->nroutes; r++) {
		struct relayqd_sched_heap *h = &s->heaps[r];

		for (size_t i = 0; i < h->n; i++) {
			h->ent[i]->early = 0; /* root's flush: attempts count */
			if (h->ent[i]->due > now)
				h->ent[i]->due = now;
		}
	}
	/* Lowering every key to now may break the id tie order: rebuild. */
	relayqd_sched_heapify(s);
}

/*
 * A user's flush: makes e (waiting) due at now, remembering the due time
 * it had.  Returns 1 when it was moved.
 */
static int
relayqd_sched_hurry_ent(struct relayqd_sched_ent *e, long long now)
{
	if (e->slot == -1 || e->due <= now)
		return 0;
	if (e->early == 0)
		e->early = e->due;
	e->due = now;
	return 1;
}

/* A user's flush of every waiting message. */
size_t
relayqd_sched_hurry_all(struct relayqd_sched *s, long long now)
{
	size_t moved = 0;

	for (size_t r = 0; r <= s->nroutes; r++)
		for (size_t i = 0; i < s->heaps[r].n; i++)
			moved +=
			    (size_t)relayqd_sched_hurry_ent(s->heaps[r].ent[i],
				now);
	relayqd_sched_heapify(s);
	return moved;
}

/* A user's flush of one message. */
int
relayqd_sched_hurry(struct relayqd_sched *s, const char *id, long long now)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL || !relayqd_sched_hurry_ent(e, now))
		return 0;
	relayqd_sched_up(relayqd_sched_heap(s, e->route), (size_t)e->slot);
	return 1;
}

/* Returns and forgets the due time a user's flush brought forward. */
long long
relayqd_sched_early_take(struct relayqd_sched *s, const char *id)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);
	long long early;

	if (e == NULL)
		return 0;
	early = e->early;
	e->early = 0;
	return early;
}

/* Takes a waiting message out of the heap, whatever its due time. */
long long
relayqd_sched_take(struct relayqd_sched *s, const char *id)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL || e->slot == -1)
		return -1;
	relayqd_sched_unlink(s, e);
	s->busy++;
	e->early = 0; /* asked for by root or the owner: the attempt counts */
	return e->due;
}

/* Sets entry flags. */
void
relayqd_sched_set_flags(struct relayqd_sched *s, const char *id, unsigned flags)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e != NULL)
		e->flags |= flags;
}

/* Lists waiting messages older than born without the skip flags. */
void
relayqd_sched_older(const struct relayqd_sched *s, long long born,
    unsigned skip, struct queue_idlist *out)
{
	size_t n = relayqd_sched_waiting(s);

	out->ids = NULL;
	out->n = 0;
	for (size_t r = 0; r <= s->nroutes; r++)
		for (size_t i = 0; i < s->heaps[r].n; i++) {
			const struct relayqd_sched_ent *e = s->heaps[r].ent[i];

			if ((e->flags & skip) != 0 ||
			    queue_id_time(e->id) > born)
				continue;
			if (out->ids == NULL)
				out->ids =
				    xreallocarray(NULL, n, sizeof(*out->ids));
			memcpy(out->ids[out->n++], e->id, QUEUE_ID_LEN + 1);
		}
}

/*
 * The retry delay.  The base doubles without overflow (it stops at max),
 * and the jitter is integer arithmetic: 800 + rnd * 401 / 2^32 thousandths.
 */
/* min doubled tries - 1 times, without overflow, capped at max (>= min). */
static long long
relayqd_sched_base(long long min, long long max, unsigned tries)
{
	long long base = min > 0 ? min : 1;

	if (max < base)
		max = base;
	for (unsigned i = 1; i < tries && base < max; i++)
		base = base > max / 2 ? max : base * 2;
	return base > max ? max : base;
}

long long
relayqd_sched_backoff(long long min, long long max, unsigned tries,
    uint32_t rnd)
{
	long long base = relayqd_sched_base(min, max, tries), d;
	unsigned permille;

	if (base > LLONG_MAX / 2000) /* keeps base * permille in range */
		base = LLONG_MAX / 2000;
	permille = 1000 - RELAYQD_SCHED_JITTER +
	    (unsigned)(((uint64_t)rnd * (2 * RELAYQD_SCHED_JITTER + 1)) >> 32);
	d = (base * (long long)permille + 500) / 1000;
	return d > 0 ? d : 1;
}

/* Earliest waiting due time. */
long long
relayqd_sched_next_due(const struct relayqd_sched *s)
{
	long route = relayqd_sched_first(s);

	return route == -2 ? -1 : relayqd_sched_heap(s, route)->ent[0]->due;
}

/* Earliest waiting due time of route. */
long long
relayqd_sched_next_route(const struct relayqd_sched *s, long route)
{
	const struct relayqd_sched_heap *h;

	if (route < RELAYQD_SCHED_UNROUTED || route >= (long)s->nroutes)
		return -1;
	h = relayqd_sched_heap(s, route);
	return h->n > 0 ? h->ent[0]->due : -1;
}

/* Number waiting. */
size_t
relayqd_sched_waiting(const struct relayqd_sched *s)
{
	size_t n = 0;

	for (size_t r = 0; r <= s->nroutes; r++)
		n += s->heaps[r].n;
	return n;
}

/* Moves a known message to route. */
void
relayqd_sched_set_route(struct relayqd_sched *s, const char *id, long route)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL || route < RELAYQD_SCHED_UNROUTED ||
	    route >= (long)s->nroutes || e->route == route)
		return;
	if (e->slot == -1) {
		e->route = route; /* busy: goes there when put back */
		return;
	}
	relayqd_sched_unlink(s, e);
	e->route = route;
	relayqd_sched_push(s, e);
}

/* twalk_r action: forgets the route of every entry (busy ones too). */
static void
relayqd_sched_unroute_cb(const void *node, VISIT v, void *arg)
{
	struct relayqd_sched_ent *e = *(struct relayqd_sched_ent *const *)node;
	const struct relayqd_sched *s = arg;

	if (v == postorder || v == leaf)
		e->route = s->nroutes == 1 ? 0 : RELAYQD_SCHED_UNROUTED;
}

/* Sets the number of routes; every message's route is forgotten. */
void
relayqd_sched_set_routes(struct relayqd_sched *s, size_t nroutes)
{
	struct relayqd_sched_heap *old = s->heaps;
	size_t nold = s->nroutes;

	if (nroutes < 1)
		nroutes = 1;
	s->heaps = xcalloc(nroutes + 1, sizeof(*s->heaps));
	s->nroutes = nroutes;
	twalk_r(s->tree, relayqd_sched_unroute_cb, s);
	for (size_t r = 0; r <= nold; r++) {
		for (size_t i = 0; i < old[r].n; i++)
			relayqd_sched_push(s, old[r].ent[i]);
		free(old[r].ent);
	}
	free(old);
}

/* Number of routes. */
size_t
relayqd_sched_routes(const struct relayqd_sched *s)
{
	return s->nroutes;
}

/* Number busy. */
size_t
relayqd_sched_busy(const struct relayqd_sched *s)
{
	return s->busy;
}

/* twalk_r action: keeps the lowest id, that is the earliest arrival. */
static void
relayqd_sched_oldest_cb(const void *node, VISIT v, void *arg)
{
	const struct relayqd_sched_ent *e =
	    *(const struct relayqd_sched_ent *const *)node;
	const struct relayqd_sched_ent **min = arg;

	if ((v == postorder || v == leaf) &&
	    (*min == NULL || strcmp(e->id, (*min)->id) < 0))
		*min = e;
}

/* Arrival time of the oldest known message (ids sort by arrival). */
long long
relayqd_sched_oldest(const struct relayqd_sched *s)
{
	return relayqd_sched_oldest_route(s, NULL);
}

/* The same, and its route in *route (when not NULL). */
long long
relayqd_sched_oldest_route(const struct relayqd_sched *s, long *route)
{
	const struct relayqd_sched_ent *min = NULL;

	if (s->tree != NULL)
		twalk_r(s->tree, relayqd_sched_oldest_cb, &min);
	if (route != NULL)
		*route = min != NULL ? min->route : RELAYQD_SCHED_UNROUTED;
	return min != NULL ? queue_id_time(min->id) : -1;
}

/*
 * The probe wait: full jitter over the upper half of the interval, in
 * milliseconds: base + rnd * (base + 1) / 2^32 with base = half of it.
 */
long long
relayqd_sched_probe_delay(long long min, long long max, long long cap,
    unsigned tries, uint32_t rnd)
{
	long long full = relayqd_sched_base(min, max, tries), half;

	if (cap > 0 && full > cap)
		full = cap;
	if (full > 4000000) /* 46 days: keeps rnd * ms below 2^64 */
		full = 4000000;
	full *= 1000;
	half = full / 2;
	return half +
	    (long long)(((uint64_t)rnd * (uint64_t)(full - half + 1)) >> 32);
}
