/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Publishes relayqd's counters in <spool>/stats (format in
 * relayqd_stats.h).  Only this module writes that file.  A failed write
 * is logged once per run of failures and retried at the next change.
 * Its one-second timer is also the "something changed" point for the
 * systemd STATUS line and the alert conditions (relayqd_notify.c,
 * relayqd_alert.c): they run from it, so they cost nothing while idle.
 */
#include "config.h"

#include "relayqd/relayqd_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/buf.h"
#include "common/hoststats.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_alert.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_notify.h"
#include "relayqd/relayqd_rate.h"
#include "relayqd/relayqd_sched.h"

#define RELAYQD_STATS_TEXT_MAX 256

static int relayqd_stats_put(struct relayd *, const char *, size_t);

struct relayqd_stats {
	struct relayd *rd; /* borrowed */
	struct event *ev;  /* owned: one-shot, armed while dirty */
	int dirty;
	int failing; /* the last write failed (logged) */
	long long started;
	long long last_success;
	long long last_error_time;
	char last_error[RELAYQD_STATS_TEXT_MAX];
	int host_down;	      /* rd->dests[0]->down as last seen */
	long long host_since; /* when it last changed */
};

/*
 * Takes each destination's up or down change since the last call: a
 * destination not seen yet (at start, or one a reload added) counts
 * from now.
 */
static void
relayqd_stats_sample(struct relayd *rd, long long now)
{
	for (size_t i = 0; i < rd->ndests; i++) {
		struct relayqd_dest_stats *ds = rd->dests[i]->stats;

		if (ds->since == 0 || ds->down != rd->dests[i]->down) {
			ds->down = rd->dests[i]->down;
			ds->since = now;
		}
	}
}

/* Appends one "smarthost=" line per destination to b (hoststats.h). */
static int
relayqd_stats_hosts(struct relayd *rd, long long now_ms, struct buf *b)
{
	char line[512];

	for (size_t i = 0; i < rd->ndests; i++) {
		struct relayqd_dest *d = rd->dests[i];
		struct relayqd_rate_view rv;
		struct hoststats hs;

		memset(&hs, 0, sizeof(hs));
		if (strlcpy(hs.name, relayqd_dest_sh(d)->name,
			sizeof(hs.name)) >= sizeof(hs.name))
			return -1;
		hs.up = !d->down;
		hs.since = d->stats->since;
		hs.sent = (long long)d->stats->sent;
		hs.deferred = (long long)d->stats->deferred;
		hs.failed = (long long)d->stats->failed;
		if (d->rate != NULL) {
			relayqd_rate_view(d->rate, now_ms, &rv);
			hs.pace = rv.pace;
			hs.throttled = rv.throttled;
			hs.bucket = rv.messages;
			hs.bucket_size = rv.messages_size;
			hs.rcpt_bucket = rv.recipients;
			hs.rcpt_bucket_size = rv.recipients_size;
			/* relayq stats refills them to its own now. */
			hs.stamp = now_ms;
			hs.bucket_per = relayqd_dest_sh(d)->rate_limit.per;
			hs.rcpt_bucket_per =
			    relayqd_dest_sh(d)->recipient_limit.per;
		}
		if (hoststats_format(&hs, line, sizeof(line)) == -1 ||
		    buf_addf(b, "smarthost=%s\n", line) == -1)
			return -1;
	}
	return 0;
}

/* Writes <spool>/stats.tmp and renames it over <spool>/stats. */
static int
relayqd_stats_write(struct relayqd_stats *st)
{
	struct relayd *rd = st->rd;
	struct relayqd_rate_view rv;
	struct buf all;
	char buf[1024];
	int n;
	long long now_ms = relayqd_now_ms();

	relayqd_rate_view(rd->dests[0]->rate, now_ms, &rv);
	n = rq_snprintf(buf, sizeof(buf),
	    "relayq-stats 1\npid=%ld\nstarted=%lld\nupdated=%lld\n"
	    "delivered=%llu\ndeferred=%llu\nfailed=%llu\nbounces=%llu\n"
	    "smarthost_up=%d\nsmarthost_since=%lld\nlast_success=%lld\n"
	    "last_error_time=%lld\nlast_error=%s\n"
	    "pace=%.6f\nthrottled=%d\nbucket=%.3f\nbucket_size=%lld\n"
	    "rcpt_bucket=%.3f\nrcpt_bucket_size=%lld\n",
	    (long)getpid(), st->started, relayqd_now(), rd->n_delivered,
	    rd->n_deferred, rd->n_failed, rd->n_bounces, !rd->dests[0]->down,
	    st->host_since, st->last_success, st->last_error_time,
	    st->last_error, rv.pace, rv.throttled, rv.messages,
	    rv.messages_size, rv.recipients, rv.recipients_size);
	if (n == -1)
		return -1;
	/* The smarthosts' lines follow the global keys. */
	relayqd_stats_sample(rd, relayqd_now());
	buf_init(&all, RELAYQD_STATS_FILE_MAX);
	if (buf_add(&all, buf, (size_t)n) == -1 ||
	    relayqd_stats_hosts(rd, now_ms, &all) == -1) {
		buf_free(&all);
		errno = EMSGSIZE;
		return -1;
	}
	n = relayqd_stats_put(rd, all.data, all.len);
	buf_free(&all);
	return n;
}

/* Writes len bytes of data as the new <spool>/stats. */
static int
relayqd_stats_put(struct relayd *rd, const char *data, size_t len)
{
	int fd, saved;

	if ((fd = openat(rd->spool.rootfd, "stats.tmp",
		 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		 0644)) == -1)
		return -1;
	if (fchmod(fd, 0644) == -1 || write(fd, data, len) != (ssize_t)len) {
		saved = errno != 0 ? errno : EIO;
		(void)close(fd);
		(void)unlinkat(rd->spool.rootfd, "stats.tmp", 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 ||
	    renameat(rd->spool.rootfd, "stats.tmp", rd->spool.rootfd,
		"stats") == -1) {
		saved = errno;
		(void)unlinkat(rd->spool.rootfd, "stats.tmp", 0);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Writes the file if dirty; logs the first of a run of failures.  During
 * a spool-full incident (issue 18) a write that gets through ends no
 * run: room comes and goes, and the incident is one run.
 */
static void
relayqd_stats_flush(struct relayqd_stats *st)
{
	if (!st->dirty)
		return;
	st->dirty = 0;
	if (relayqd_stats_write(st) == -1) {
		if (!st->failing)
			log_warn("cannot write %s/stats", st->rd->spool.path);
		st->failing = 1;
	} else if (st->rd->spool_full_since == 0)
		st->failing = 0;
}

/* The one-second timer: publish what changed meanwhile. */
static void
relayqd_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_stats *st = arg;
	struct relayqd_stats_view v;

	(void)fd;
	(void)what;
	relayqd_stats_flush(st);
	relayqd_stats_view(st->rd, &v);
	relayqd_notify_status(st->rd->notify, &v);
	relayqd_alert_update(st->rd->alert, &v);
}

/* Creates the publisher and writes the first file soon. */
struct relayqd_stats *
relayqd_stats_new(struct relayd *rd)
{
	struct relayqd_stats *st = xcalloc(1, sizeof(*st));

	st->rd = rd;
	st->started = relayqd_now();
	st->host_down = rd->dests[0]->down;
	st->host_since = st->started;
	relayqd_stats_sample(rd, st->started);
	if ((st->ev = evtimer_new(rd->base, relayqd_stats_cb, st)) == NULL)
		fatalx("cannot create the stats timer");
	return st;
}

/* Final write and free. */
void
relayqd_stats_free(struct relayqd_stats *st)
{
	if (st == NULL)
		return;
	relayqd_stats_flush(st);
	event_free(st->ev);
	free(st);
}

/* Marks dirty and arms the timer unless it is pending. */
void
relayqd_stats_touch(struct relayd *rd)
{
	struct relayqd_stats *st = rd->stats;
	struct timeval one = { 1, 0 };

	if (st == NULL)
		return;
	/* relayqd_outcome.c touches us right after each up/down change. */
	if (rd->dests[0]->down != st->host_down) {
		st->host_down = rd->dests[0]->down;
		st->host_since = relayqd_now();
	}
	relayqd_stats_sample(rd, relayqd_now());
	st->dirty = 1;
	if (!evtimer_pending(st->ev, NULL) && evtimer_add(st->ev, &one) == -1)
		relayqd_stats_flush(st);
}

/* Notes an accepted recipient. */
void
relayqd_stats_success(struct relayd *rd)
{
	if (rd->stats != NULL)
		rd->stats->last_success = relayqd_now();
	relayqd_stats_touch(rd);
}

/* Notes an error. */
void
relayqd_stats_error(struct relayd *rd, const char *text)
{
	struct relayqd_stats *st = rd->stats;

	if (st == NULL)
		return;
	st->last_error_time = relayqd_now();
	(void)str_clean_text(st->last_error, sizeof(st->last_error), text,
	    strlen(text));
	relayqd_stats_touch(rd);
}

/* Takes a snapshot for the STATUS line and the alerts. */
void
relayqd_stats_view(struct relayd *rd, struct relayqd_stats_view *v)
{
	struct relayqd_stats *st = rd->stats;

	v->now = relayqd_now();
	/* Mail listed in incoming/ but not yet taken counts too. */
	v->queued = relayqd_sched_waiting(rd->sched) +
	    relayqd_sched_busy(rd->sched) + (rd->pick.n - rd->pick_next);
	v->oldest = relayqd_sched_oldest(rd->sched);
	v->host_up = !rd->dests[0]->down;
	v->host_since =
	    st->host_down == rd->dests[0]->down ? st->host_since : v->now;
	v->last_error_time = st->last_error_time;
	v->last_error = st->last_error;
}
