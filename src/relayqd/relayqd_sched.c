/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Scheduler index: a min-heap of waiting entries keyed by due time (ties
 * broken by id, that is by arrival) and a tsearch(3) tree of all entries
 * by id.  Each entry knows its heap slot (-1 when busy), so reschedule
 * and remove are O(log n).
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
	long slot;	 /* index in heap, -1 when busy */
	unsigned flags;	 /* RELAYQD_SCHED_F_* */
	long long early; /* due time before a user's flush, or 0 */
};

struct relayqd_sched {
	void *tree; /* tsearch root of struct relayqd_sched_ent * */
	struct relayqd_sched_ent **heap;
	size_t n, cap;
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

/* Places e at slot i. */
static void
relayqd_sched_put(struct relayqd_sched *s, size_t i,
    struct relayqd_sched_ent *e)
{
	s->heap[i] = e;
	e->slot = (long)i;
}

/* Moves the entry at i up while it is before its parent. */
static void
relayqd_sched_up(struct relayqd_sched *s, size_t i)
{
	struct relayqd_sched_ent *e = s->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!relayqd_sched_before(e, s->heap[p]))
			break;
		relayqd_sched_put(s, i, s->heap[p]);
		i = p;
	}
	relayqd_sched_put(s, i, e);
}

/* Moves the entry at i down while a child is before it. */
static void
relayqd_sched_down(struct relayqd_sched *s, size_t i)
{
	struct relayqd_sched_ent *e = s->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct relayqd_sched_ent *best = e;

		if (l < s->n && relayqd_sched_before(s->heap[l], best)) {
			m = l;
			best = s->heap[l];
		}
		if (l + 1 < s->n && relayqd_sched_before(s->heap[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		relayqd_sched_put(s, i, s->heap[m]);
		i = m;
	}
	relayqd_sched_put(s, i, e);
}

/* Inserts e into the heap. */
static void
relayqd_sched_push(struct relayqd_sched *s, struct relayqd_sched_ent *e)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->heap = xreallocarray(s->heap, s->cap, sizeof(*s->heap));
	}
	relayqd_sched_put(s, s->n++, e);
	relayqd_sched_up(s, s->n - 1);
}

/* Takes e out of the heap (it must be in it). */
static void
relayqd_sched_unlink(struct relayqd_sched *s, struct relayqd_sched_ent *e)
{
	size_t i = (size_t)e->slot;

	e->slot = -1;
	if (--s->n == i)
		return;
	relayqd_sched_put(s, i, s->heap[s->n]);
	relayqd_sched_down(s, i);
	relayqd_sched_up(s, (size_t)s->heap[i]->slot);
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
	return xcalloc(1, sizeof(struct relayqd_sched));
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
	free(s->heap);
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

/* Pops the earliest due message. */
const char *
relayqd_sched_pop_due(struct relayqd_sched *s, long long now)
{
	struct relayqd_sched_ent *e;

	if (s->n == 0 || s->heap[0]->due > now)
		return NULL;
	e = s->heap[0];
	relayqd_sched_unlink(s, e);
	s->busy++;
	return e->id;
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
	for (size_t i = 0; i < s->n; i++) {
		s->heap[i]->early = 0; /* root's flush: attempts count */
		if (s->heap[i]->due > now)
			s->heap[i]->due = now;
	}
	/* Lowering every key to now may break the id tie order: rebuild. */
	for (size_t i = s->n / 2; i-- > 0;)
		relayqd_sched_down(s, i);
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

	for (size_t i = 0; i < s->n; i++)
		moved += (size_t)relayqd_sched_hurry_ent(s->heap[i], now);
	for (size_t i = s->n / 2; i-- > 0;)
		relayqd_sched_down(s, i);
	return moved;
}

/* A user's flush of one message. */
int
relayqd_sched_hurry(struct relayqd_sched *s, const char *id, long long now)
{
	struct relayqd_sched_ent *e = relayqd_sched_find(s, id);

	if (e == NULL || !relayqd_sched_hurry_ent(e, now))
		return 0;
	relayqd_sched_up(s, (size_t)e->slot);
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
	out->ids = NULL;
	out->n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct relayqd_sched_ent *e = s->heap[i];

		if ((e->flags & skip) != 0 || queue_id_time(e->id) > born)
			continue;
		if (out->ids == NULL)
			out->ids = xreallocarray(NULL, s->n, sizeof(*out->ids));
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
	return s->n > 0 ? s->heap[0]->due : -1;
}

/* Number waiting. */
size_t
relayqd_sched_waiting(const struct relayqd_sched *s)
{
	return s->n;
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
	const char **min = arg;

	if ((v == postorder || v == leaf) &&
	    (*min == NULL || strcmp(e->id, *min) < 0))
		*min = e->id;
}

/* Arrival time of the oldest known message (ids sort by arrival). */
long long
relayqd_sched_oldest(const struct relayqd_sched *s)
{
	const char *min = NULL;

	if (s->tree == NULL)
		return -1;
	twalk_r(s->tree, relayqd_sched_oldest_cb, &min);
	return min != NULL ? queue_id_time(min) : -1;
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
