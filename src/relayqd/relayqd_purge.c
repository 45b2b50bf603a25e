/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Purging failed/ by age (see relayqd_purge.h).  The removal itself is
 * queue_scan_purge_failed() (message, then its state, one fsync of
 * failed/); this module only decides when, and logs once per pass.
 */
#include "config.h"

#include "relayqd/relayqd_purge.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/queue_scan.h"
#include "relayqd/relayqd.h"

struct relayqd_purge {
	struct relayd *rd;	/* borrowed */
	struct event *ev_timer; /* owned: next expiry in failed/ */
};

/* Arms the timer to fire at when (seconds since the epoch). */
static void
relayqd_purge_at(struct relayqd_purge *p, long long when)
{
	long long now = relayqd_now();
	struct timeval tv = { 1, 0 };

	if (when > now)
		tv.tv_sec = (time_t)(when - now + 1);
	if (event_add(p->ev_timer, &tv) == -1)
		log_warnx("cannot arm the failed/ purge timer");
}

/* The timer: the oldest entry of failed/ has expired. */
static void
relayqd_purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_purge *p = arg;

	(void)fd;
	(void)what;
	relayqd_purge_run(p);
}

/* Creates the purger. */
struct relayqd_purge *
relayqd_purge_new(struct relayd *rd)
{
	struct relayqd_purge *p = xcalloc(1, sizeof(*p));

	p->rd = rd;
	if ((p->ev_timer = evtimer_new(rd->base, relayqd_purge_cb, p)) == NULL)
		fatalx("event_new failed");
	return p;
}

/* Purges failed/ now; arms the timer for the oldest entry left. */
void
relayqd_purge_run(struct relayqd_purge *p)
{
	struct relayd *rd = p->rd;
	struct queue_scan_failed res;
	long long keep = rd->conf.delivery_failed_retention;
	int rc;

	event_del(p->ev_timer);
	if (keep == 0 || rd->spool.dirfd[QUEUE_DIR_FAILED] == -1)
		return;
	rc = queue_scan_purge_failed(&rd->spool, relayqd_now() - keep, &res);
	if (rc == -1)
		log_warn("cannot purge %s/failed", rd->spool.path);
	if (res.purged > 0)
		log_info("purged %zu message%s from failed/ (older than "
			 "%llds)",
		    res.purged, res.purged == 1 ? "" : "s", keep);
	if (res.left > 0)
		relayqd_purge_at(p, res.oldest + keep);
	else if (rc == -1)
		relayqd_purge_at(p, relayqd_now() + keep); /* try again */
}

/* A message entered failed/ now. */
void
relayqd_purge_arm(struct relayqd_purge *p)
{
	long long keep = p->rd->conf.delivery_failed_retention;

	if (keep > 0 && !event_pending(p->ev_timer, EV_TIMEOUT, NULL))
		relayqd_purge_at(p, relayqd_now() + keep);
}

/* Frees the purger. */
void
relayqd_purge_free(struct relayqd_purge *p)
{
	if (p == NULL)
		return;
	event_free(p->ev_timer);
	free(p);
}
