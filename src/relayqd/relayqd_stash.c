/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The in-memory delivery states that the spool could not take (see
 * relayqd_stash.h).  A short list: entries exist only while the disk is
 * full (or a bounce cannot be queued), so a linear search is enough.
 * Invariant: an entry's state has the recipient count of its message,
 * and its owed array is that long.
 */
#include "config.h"

#include "relayqd/relayqd_stash.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/xmalloc.h"

struct relayqd_stash_ent {
	TAILQ_ENTRY(relayqd_stash_ent) entry;
	struct queue_state st; /* owned: the state as it really is */
	unsigned char *owed;   /* owned: st.nrcpt marks, or NULL */
	unsigned flags;	       /* RELAYQD_STASH_* */
	unsigned fails;	       /* failed writes so far */
	long long retry_at;    /* next write attempt */
};

TAILQ_HEAD(relayqd_stash_list, relayqd_stash_ent);

struct relayqd_stash {
	struct relayqd_stash_list ents;
	size_t n;
};

/* Copies state src into dst (initialised here). */
static void
relayqd_stash_copy(struct queue_state *dst, const struct queue_state *src)
{
	queue_state_init(dst, src->id, src->nrcpt);
	dst->tries = src->tries;
	dst->first_try = src->first_try;
	dst->last_try = src->last_try;
	dst->next_try = src->next_try;
	dst->held = src->held;
	dst->warned = src->warned;
	queue_state_set_error(dst, src->last_error);
	for (size_t i = 0; i < src->nrcpt; i++)
		queue_state_set_rcpt(dst, i,
		    (enum queue_rcpt_st)src->rcpt_st[i], src->rcpt_reply[i]);
}

/* Finds the entry of id. */
static struct relayqd_stash_ent *
relayqd_stash_find(const struct relayqd_stash *st, const char *id)
{
	struct relayqd_stash_ent *e;

	TAILQ_FOREACH(e, &st->ents, entry)
		if (strcmp(e->st.id, id) == 0)
			return e;
	return NULL;
}

/* Creates an empty stash. */
struct relayqd_stash *
relayqd_stash_new(void)
{
	struct relayqd_stash *st = xcalloc(1, sizeof(*st));

	TAILQ_INIT(&st->ents);
	return st;
}

/* Frees one entry. */
static void
relayqd_stash_ent_free(struct relayqd_stash_ent *e)
{
	queue_state_free(&e->st);
	free(e->owed);
	free(e);
}

/* Frees the stash. */
void
relayqd_stash_free(struct relayqd_stash *st)
{
	struct relayqd_stash_ent *e;

	if (st == NULL)
		return;
	while ((e = TAILQ_FIRST(&st->ents)) != NULL) {
		TAILQ_REMOVE(&st->ents, e, entry);
		relayqd_stash_ent_free(e);
	}
	free(st);
}

/* Keeps a copy of s after a failed write. */
unsigned
relayqd_stash_keep(struct relayqd_stash *st, const struct queue_state *s,
    const unsigned char *owed, unsigned flags)
{
	struct relayqd_stash_ent *e = relayqd_stash_find(st, s->id);

	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		TAILQ_INSERT_TAIL(&st->ents, e, entry);
		st->n++;
	} else {
		queue_state_free(&e->st);
		free(e->owed);
		e->owed = NULL;
	}
	relayqd_stash_copy(&e->st, s);
	if (owed != NULL && s->nrcpt > 0) {
		e->owed = xmalloc(s->nrcpt);
		memcpy(e->owed, owed, s->nrcpt);
	}
	e->flags = flags;
	return ++e->fails;
}

/* Sets the retry time of id. */
void
relayqd_stash_retry(struct relayqd_stash *st, const char *id, long long when)
{
	struct relayqd_stash_ent *e = relayqd_stash_find(st, id);

	if (e != NULL)
		e->retry_at = when;
}

/* Drops the entry of id. */
void
relayqd_stash_forget(struct relayqd_stash *st, const char *id)
{
	struct relayqd_stash_ent *e = relayqd_stash_find(st, id);

	if (e == NULL)
		return;
	TAILQ_REMOVE(&st->ents, e, entry);
	st->n--;
	relayqd_stash_ent_free(e);
}

/* True when id has an entry. */
int
relayqd_stash_has(const struct relayqd_stash *st, const char *id)
{
	return relayqd_stash_find(st, id) != NULL;
}

/* Replaces *s with the kept state. */
int
relayqd_stash_overlay(const struct relayqd_stash *st, struct queue_state *s)
{
	struct relayqd_stash_ent *e = relayqd_stash_find(st, s->id);
	int held;

	if (e == NULL || e->st.nrcpt != s->nrcpt)
		return 0;
	held = s->held;
	queue_state_free(s);
	relayqd_stash_copy(s, &e->st);
	s->held = held;
	return 1;
}

/* Ors the owed marks of id into mark. */
size_t
relayqd_stash_owed(const struct relayqd_stash *st, const char *id,
    unsigned char *mark, size_t nrcpt)
{
	struct relayqd_stash_ent *e = relayqd_stash_find(st, id);
	size_t n = 0;

	if (e == NULL || e->owed == NULL || e->st.nrcpt != nrcpt)
		return 0;
	for (size_t i = 0; i < nrcpt; i++) {
		if (e->owed[i] == 0)
			continue;
		if (mark[i] == 0)
			mark[i] = e->owed[i];
		n++;
	}
	return n;
}

/* Number of entries. */
size_t
relayqd_stash_count(const struct relayqd_stash *st)
{
	return st->n;
}

/* Number of entries with any of flags. */
size_t
relayqd_stash_flagged(const struct relayqd_stash *st, unsigned flags)
{
	struct relayqd_stash_ent *e;
	size_t n = 0;

	TAILQ_FOREACH(e, &st->ents, entry)
		n += (e->flags & flags) != 0;
	return n;
}

/* Flags of id's entry. */
unsigned
relayqd_stash_flags(const struct relayqd_stash *st, const char *id)
{
	const struct relayqd_stash_ent *e = relayqd_stash_find(st, id);

	return e != NULL ? e->flags : 0;
}

/* Makes every entry due. */
void
relayqd_stash_hurry(struct relayqd_stash *st, long long now)
{
	struct relayqd_stash_ent *e;

	TAILQ_FOREACH(e, &st->ents, entry)
		if (e->retry_at > now)
			e->retry_at = now;
}

/* Lists the ids due at now. */
void
relayqd_stash_due(const struct relayqd_stash *st, long long now,
    struct queue_idlist *out)
{
	struct relayqd_stash_ent *e;

	out->n = 0;
	out->ids = NULL;
	TAILQ_FOREACH(e, &st->ents, entry) {
		if (e->retry_at > now)
			continue;
		out->ids =
		    xreallocarray(out->ids, out->n + 1, sizeof(*out->ids));
		memcpy(out->ids[out->n++], e->st.id, sizeof(out->ids[0]));
	}
}

/* Earliest retry time. */
long long
relayqd_stash_next(const struct relayqd_stash *st)
{
	struct relayqd_stash_ent *e;
	long long next = -1;

	TAILQ_FOREACH(e, &st->ents, entry)
		if (next == -1 || e->retry_at < next)
			next = e->retry_at;
	return next;
}
