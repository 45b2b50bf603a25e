/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayqd: the queue runner.  main() owns the one event_base and the
 * struct relayd passed to every module, and tears down in reverse order
 * of set-up.  This file also holds the dispatcher: it picks up new mail
 * from incoming/ (on a poke through the wake FIFO, and on an inotify
 * event for a drop that nobody announced), hands due messages to idle
 * sessions and opens new sessions up to max_connections.  Pick-up goes
 * in batches of RELAYQD_PICKUP_BATCH files: each batch is renamed into
 * queue/, made durable with one fsync of queue/ and one of incoming/,
 * and only then scheduled; the next batch runs after one pass of the
 * event loop, so delivery starts after the first batch.  When the smarthost is down (see
 * relayqd_dest_mark_down) no session is opened except one probe at a
 * time, at the destination's own retry time; due messages simply wait
 * in the scheduler, so a dead smarthost costs one connection per probe
 * interval, not one per message.  The probe carries a real message; when
 * it gets as far as the ready state every waiting message is due and the
 * queue drains over max_connections sessions.  New mail lets the probe
 * start at once unless one started less than retry_min ago; root's
 * `relayq flush` (on the -v socket, which tells the uid) and SIGUSR1
 * always do, at most one per RELAYQD_WAKE_GAP.  A user's flush (the
 * FIFO byte 'F' or "I<id>" records, whose writer is unknown, or a flush
 * on the socket from another uid) is taken at most once per probe_max,
 * probes only when the last probe is probe_max old, and what it brings
 * forward does not count as an attempt (relayqd_sched_hurry_all,
 * relayqd_outcome_early).  Still one probe at a time, so a burst of new
 * mail or of flushes cannot storm the smarthost.
 *
 * Several smarthosts (issue 15): there is one destination per smarthost
 * section (relayqd_dest.h), each with its own sessions, credentials,
 * pace and probe state.  A message's route is the smarthost its sender
 * routes to (conf_route), set at pick-up from the envelope the accept
 * read, else looked up when it is first due (one read of its envelope;
 * with one smarthost there is nothing to look up), and again after a
 * reload, so a config change reroutes queued mail.  The
 * scheduler keeps one heap per route.  Mail of a route goes to the first
 * destination of the route's chain (itself, then its fallbacks) that is
 * not down (relayqd_dest_pick); a down destination's probe carries mail
 * of a route only when every candidate before it is down too
 * (relayqd_dest_probe_for), so the primary is probed with its own mail
 * while a fallback carries the rest, and mail returns to it as soon as a
 * probe gets ready.  Credentials never leave their destination: a
 * session is opened to one destination and carries only what that
 * destination's dispatch hands it.  A reload may add, remove, rename or
 * change sections (relayqd_reload): a destination whose section is gone
 * or changed is retired, and its sessions finish the transaction in
 * flight and QUIT before it is freed (relayqd_reap_retired).
 *
 * Start-up rebuilds the scheduler from queue/: each message is due at
 * the next_try saved in its state file (now when it has none; state/ is
 * listed once, and only messages with a state file are read), so a
 * restart keeps the schedule; a held one stays out of it until `relayq
 * release`.  The periodic scan sweeps waiting messages for expiry and
 * the delay notice (relayqd_outcome_sweep), which matters while the
 * smarthost is down and nothing is attempted.  It is armed only while
 * messages wait (or when there is no inotify), so an idle relayqd with
 * an empty queue has no timer at all.
 *
 * Signals: SIGTERM/SIGINT exit cleanly (idle sessions say QUIT, within
 * a short bound; in-flight messages stay queued),
 * SIGHUP reloads the configuration, SIGUSR1 retries everything now.
 */
#include "config.h"

#include "relayqd/relayqd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif
#include <sysexits.h>
#include <sys/un.h>
#ifdef HAVE_SYS_INOTIFY_H
#include <sys/inotify.h>
#endif
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_scan.h"
#include "queue/queue_env.h"
#include "relayqd/relayqd_closer.h"
#include "relayqd/relayqd_alert.h"
#include "relayqd/relayqd_conn.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_pwcmd.h"
#include "relayqd/relayqd_dial.h"
#include "relayqd/relayqd_msg.h"
#include "relayqd/relayqd_notify.h"
#include "relayqd/relayqd_oauth2.h"
#include "relayqd/relayqd_purge.h"
#include "relayqd/relayqd_outcome.h"
#include "relayqd/relayqd_rate.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_stash.h"
#include "relayqd/relayqd_stats.h"
#include "relayqd/relayqd_submit.h"
#include "relayqd/relayqd_verbose.h"
#include "relayqd/relayqd_wake.h"

/* Temporary files older than this are left-overs of a dead writer. */
#define RELAYQD_TMP_MAX_AGE 3600
/* getopt_long's value for --version (no short option). */
#define RELAYQD_OPT_VERSION 256
/* Flushes start a probe of a smarthost that is down at most this often. */
#define RELAYQD_WAKE_GAP 1
/* Files taken from incoming/ per directory fsync (and per loop pass). */
#define RELAYQD_PICKUP_BATCH 256
/* Messages given their route per dispatcher run (each costs a read). */
#define RELAYQD_ROUTE_BATCH 256
/* inotify events read per callback (each at most NAME_MAX + 17 bytes). */
#define RELAYQD_NOTIFY_BUF 4096
/*
 * An unannounced drop is picked up this many seconds after inotify saw
 * it: sendmail -v commits without a poke and then asks for the delivery
 * itself.  A request that comes later (a loaded machine) still gets the
 * outcome of the attempt under way (relayqd_verbose_request).
 */
#define RELAYQD_NOTIFY_DELAY 1
/* The smarthost's pace in the spool (relayqd_rate.h). */
#define RELAYQD_RATE_FILE "rate"

static void relayqd_run(struct relayd *rd);

/* Current time in seconds. */
long long
relayqd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec;
}

/* Current time in milliseconds. */
long long
relayqd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 32 random bits from random(), which main() seeds (relayqd_seed). */
uint32_t
relayqd_random(void)
{
	return (uint32_t)random() << 16 ^ (uint32_t)random();
}

/*
 * Seeds random() from the kernel (getrandom, else /dev/urandom), mixed
 * with the time and pid: a fleet booted from one image starts relayqd
 * with the same pid in the same second, and time ^ pid would give every
 * host the same jitter, keeping them in lockstep (issue 17).
 */
static void
relayqd_seed(void)
{
	struct timespec ts;
	unsigned seed = 0;
	ssize_t n = -1;
	int fd;

#ifdef HAVE_GETRANDOM
	n = getrandom(&seed, sizeof(seed), GRND_NONBLOCK);
#endif
	if (n != (ssize_t)sizeof(seed) &&
	    (fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, &seed, sizeof(seed));
		(void)close(fd);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	seed ^= (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec ^
	    (unsigned)getpid() << 16;
	srandom(seed);
}

/* Arms d's ev_rate for when its pace lets a message start. */
static void
relayqd_arm_rate(struct relayd *rd, struct relayqd_dest *d, long long wait_ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000 * 1000);
	event_del(d->ev_rate);
	if (!rd->stopping)
		event_add(d->ev_rate, &tv);
}

/* The destination route r's mail goes to now (relayqd.h). */
struct relayqd_dest *
relayqd_route_dest(struct relayd *rd, size_t r)
{
	const struct conf_smarthost *sh = &rd->conf.smarthosts[r];

	return relayqd_dest_pick(rd->dests, sh->chain, sh->nchain);
}

/*
 * The destination before the one route r's mail goes to now that is
 * down with its probe due and its pace allowing a message, or NULL: the
 * route's next due message is left for that probe (failback), not taken
 * by the fallback's sessions.
 */
static struct relayqd_dest *
relayqd_route_prober(struct relayd *rd, size_t r, long long now_ms)
{
	const struct conf_smarthost *sh = &rd->conf.smarthosts[r];

	for (size_t i = 0; i < sh->nchain; i++) {
		struct relayqd_dest *c = rd->dests[sh->chain[i]];

		if (!c->down)
			return NULL;
		if (relayqd_dest_may_probe(c, now_ms) &&
		    relayqd_rate_wait(c->rate, now_ms) == 0)
			return c;
	}
	return NULL;
}

/*
 * The route with the earliest message due at or before now among those
 * whose mail d may carry: those that go to d (probe 0), or those whose
 * mail d's probe may carry (probe 1, relayqd_dest_probe_for).  Returns
 * it, or -1.
 */
static long
relayqd_route_for(struct relayd *rd, const struct relayqd_dest *d,
    long long now, int probe)
{
	long best = -1;
	long long due, best_due = -1, now_ms = relayqd_now_ms();

	for (size_t r = 0; r < rd->ndests; r++) {
		const struct conf_smarthost *sh = &rd->conf.smarthosts[r];

		due = relayqd_sched_next_route(rd->sched, (long)r);
		if (due == -1 || due > now ||
		    (best_due != -1 && due >= best_due))
			continue;
		if (probe ? !relayqd_dest_probe_for(rd->dests, sh->chain,
				sh->nchain, d, now_ms)
			  : relayqd_route_dest(rd, r) != d ||
			    relayqd_route_prober(rd, r, now_ms) != NULL)
			continue;
		best = (long)r;
		best_due = due;
	}
	return best;
}

/*
 * True when d has a recipient_limit and a session of d holds a message
 * admitted but not yet charged (relayqd_conn_is_uncharged): the next
 * message waits until it is, or a message could start on tokens that
 * one takes (o15: three sessions opened at once overshot the limit).
 * The session kicks the dispatcher when it charges, or ends.
 */
static int
relayqd_dest_rcpts_unknown(const struct relayqd_dest *d)
{
	struct relayqd_conn *rc;

	if (!relayqd_rate_counts_rcpts(d->rate))
		return 0;
	for (rc = TAILQ_FIRST(&d->conns); rc != NULL;
	     rc = relayqd_conn_next(rc))
		if (relayqd_conn_is_uncharged(rc))
			return 1;
	return 0;
}

/*
 * Pops a message due for d (a probe's when probe) if d's pace allows;
 * *route (when not NULL) gets its route.
 */
static const char *
relayqd_pop_for(struct relayd *rd, struct relayqd_dest *d, long long now,
    int probe, long *route)
{
	long r = relayqd_route_for(rd, d, now, probe);
	long long ms;

	if (route != NULL)
		*route = r;
	if (r == -1 || relayqd_dest_rcpts_unknown(d))
		return NULL;
	/* Unlimited, it only notes the pace (what a throttle halves). */
	ms = relayqd_now_ms();
	if (!relayqd_rate_admit(d->rate, ms)) {
		relayqd_arm_rate(rd, d, relayqd_rate_wait(d->rate, ms));
		return NULL;
	}
	return relayqd_sched_pop_route(rd->sched, r, now);
}

/* Pops a due message for d when its pace allows (relayqd.h). */
const char *
relayqd_pop_due(struct relayd *rd, struct relayqd_dest *d, long long now)
{
	return relayqd_pop_for(rd, d, now, 0, NULL);
}

/*
 * Destination i of all that have sessions: rd->dests, then the retired
 * ones (i < rd->ndests + rd->nretired).
 */
static struct relayqd_dest *
relayqd_any_dest(const struct relayd *rd, size_t i)
{
	return i < rd->ndests ? rd->dests[i] : rd->retired[i - rd->ndests];
}

/* True when no destination has a session left. */
static int
relayqd_no_session(const struct relayd *rd)
{
	for (size_t i = 0; i < rd->ndests + rd->nretired; i++)
		if (!TAILQ_EMPTY(&relayqd_any_dest(rd, i)->conns))
			return 0;
	return 1;
}

/* A wake-up for every destination (relayqd_dest_wake). */
static void
relayqd_wake_dests(struct relayd *rd, long long gap)
{
	long long now_ms = relayqd_now_ms();

	for (size_t i = 0; i < rd->ndests; i++)
		relayqd_dest_wake(rd->dests[i], now_ms, gap);
}

/*
 * The route of message id (relayqd.h): only the sender is read, so the
 * lock is not needed.  A message that cannot be read takes route 0; its
 * attempt deals with it.
 */
long
relayqd_route_read(struct relayd *rd, const char *id)
{
	struct queue_env env;
	const char *errstr;
	long r = 0;
	int fd;

	if ((fd = openat(rd->spool.dirfd[QUEUE_DIR_QUEUE], id,
		 O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	if (queue_env_read_fd(&env, fd, 0, &errstr) == 0) {
		r = (long)conf_route(&rd->conf, env.sender);
		queue_env_free(&env);
	}
	(void)close(fd);
	return r;
}

/*
 * With more than one smarthost: gives each due message whose route is
 * not known yet its route (at most RELAYQD_ROUTE_BATCH per run: they
 * cost a read each; the rest on the next pass).  The route holds until a
 * reload (relayqd_sched_set_routes).
 */
static void
relayqd_route_resolve(struct relayd *rd, long long now)
{
	char id[QUEUE_ID_LEN + 1];
	const char *p;
	int n;

	for (n = 0; n < RELAYQD_ROUTE_BATCH &&
	     (p = relayqd_sched_pop_route(rd->sched, RELAYQD_SCHED_UNROUTED,
		  now)) != NULL;
	     n++) {
		memcpy(id, p, sizeof(id));
		relayqd_sched_set_route(rd->sched, id,
		    relayqd_route_read(rd, id));
		relayqd_sched_reschedule(rd->sched, id, now);
	}
	if (n == RELAYQD_ROUTE_BATCH)
		relayqd_kick(rd);
}

/*
 * Schedules a dispatcher run.  While stopping, ends the loop instead once
 * the last session is gone (a freed session kicks).
 */
void
relayqd_kick(struct relayd *rd)
{
	if (rd->stopping) {
		if (relayqd_no_session(rd) && rd->noauth2_orphans == 0 &&
		    rd->base != NULL)
			event_base_loopbreak(rd->base);
		return;
	}
	if (rd->ev_kick != NULL)
		event_active(rd->ev_kick, EV_TIMEOUT, 0);
}

/* Asks for a pick-up of incoming/ on this loop pass. */
static void
relayqd_pickup_request(struct relayd *rd)
{
	rd->pick_rescan = 1;
	if (!rd->stopping)
		event_active(rd->ev_pickup, EV_TIMEOUT, 0);
}

/* Lists incoming/ into rd->pick.  Returns 0, or -1 (logged). */
static int
relayqd_pickup_list(struct relayd *rd)
{
	size_t nbad = 0;
	int n;

	/* Dead writers' files; at pick-up, as relayqd has no idle timer. */
	n = queue_spool_clean_tmp(&rd->spool, QUEUE_SPOOL_TMP_MIN_AGE);
	if (n > 0)
		log_info("removed %d stale temporary files", n);
	else if (n == -1)
		log_warn("cannot clean %s/tmp", rd->spool.path);
	queue_idlist_free(&rd->pick);
	rd->pick_next = 0;
	if (queue_scan_dir(&rd->spool, QUEUE_DIR_INCOMING, &rd->pick, &nbad) ==
	    -1) {
		log_warn("cannot scan %s/incoming", rd->spool.path);
		return -1;
	}
	if (nbad > 0)
		log_warnx("%zu unexpected names in incoming/ ignored", nbad);
	return 0;
}

/*
 * Accepts the next batch of rd->pick: validates and renames each file
 * into queue/, makes the batch durable with one fsync of queue/ and one
 * of incoming/, and only then schedules it (nothing is delivered before
 * its pick-up is durable).  Returns the number scheduled.
 */
static size_t
relayqd_pickup_batch(struct relayd *rd)
{
	char(*ids)[QUEUE_ID_LEN + 1];
	size_t n = rd->pick.n - rd->pick_next, k = 0;
	long routes[RELAYQD_PICKUP_BATCH];
	struct queue_env e;
	struct rq_err err;
	long long now;

	/* A rescan that found incoming/ empty: ids is NULL (NULL + 0 is UB). */
	if (n == 0)
		return 0;
	ids = rd->pick.ids + rd->pick_next;
	if (n > RELAYQD_PICKUP_BATCH)
		n = RELAYQD_PICKUP_BATCH;
	rd->pick_next += n;
	for (size_t i = 0; i < n; i++) {
		if (queue_spool_accept_move_env(&rd->spool, ids[i], &e, &err) ==
		    -1) {
			if (errno == EBADMSG)
				log_warnx("%s: moved to corrupt/: %s", ids[i],
				    err.msg);
			else if (errno == ENOENT) /* taken by a -v watch */
				log_debug("%s: gone from incoming/", ids[i]);
			else
				log_warnx("%s: not accepted yet: %s", ids[i],
				    err.msg);
			continue;
		}
		/* The route while the sender is at hand: no read for it later. */
		routes[k] = (long)conf_route(&rd->conf, e.sender);
		queue_env_free(&e);
		/* The accepted ones move to the front, in order. */
		if (k != i)
			memcpy(ids[k], ids[i], sizeof(ids[k]));
		k++;
	}
	if (k == 0)
		return 0;
	if (queue_spool_accept_sync(&rd->spool, &err) == -1) {
		/* In queue/ but maybe not durably: the next start takes them. */
		log_warnx("%zu messages moved to queue/ but not scheduled: %s",
		    k, err.msg);
		return 0;
	}
	now = relayqd_now();
	for (size_t i = 0; i < k; i++) {
		log_debug("%s: accepted", ids[i]);
		relayqd_sched_add(rd->sched, ids[i], now);
		relayqd_sched_set_route(rd->sched, ids[i], routes[i]);
	}
	return k;
}

/*
 * ev_pickup: one batch from incoming/ (listing it first when a pick-up
 * was asked for and no list is being worked through), then the
 * dispatcher.  The next batch runs after one pass of the loop, so that
 * sessions make progress in between.
 */
static void
relayqd_pickup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayd *rd = arg;
	struct timeval zero = { 0, 0 };
	size_t n;

	(void)fd;
	(void)what;
	if (rd->stopping)
		return;
	if (rd->pick_next >= rd->pick.n) {
		if (!rd->pick_rescan)
			return;
		rd->pick_rescan = 0;
		if (relayqd_pickup_list(rd) == -1)
			return;
	}
	n = relayqd_pickup_batch(rd);
	if (rd->pick_next >= rd->pick.n) {
		queue_idlist_free(&rd->pick);
		rd->pick_next = 0;
	}
	if (rd->pick.n > 0 || rd->pick_rescan)
		event_add(rd->ev_pickup, &zero);
	if (n > 0) {
		relayqd_stats_touch(rd); /* queue size: STATUS, alerts */
		relayqd_wake_dests(rd, rd->conf.delivery_retry_min);
		relayqd_run(rd);
	}
}

/*
 * Returns when queued message id, which has a state file, is due by it:
 * its next_try, no later than one jittered retry_max from now (in case
 * the clock went back), or now when it cannot be read (at-least-once: a
 * message is never left unscheduled); -1 when it is on hold (`relayq
 * release` takes it up again).
 */
static long long
relayqd_saved_due(struct relayd *rd, const char *id, long long now)
{
	long long latest = now + rd->conf.delivery_retry_max +
	    rd->conf.delivery_retry_max / 5 + 1;
	long long due = now;
	struct queue_state st;
	struct queue_env e;
	const char *errstr;
	int fd;

	fd = openat(rd->spool.dirfd[QUEUE_DIR_QUEUE], id,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return now;
	if (queue_env_read_fd(&e, fd, 0, &errstr) == -1) {
		(void)close(fd);
		return now;
	}
	(void)close(fd);
	if (queue_spool_peek_state(&rd->spool, id, e.nrcpt, &st, &errstr) ==
	    0) {
		if (st.held)
			due = -1;
		else if (st.next_try > now)
			due = st.next_try < latest ? st.next_try : latest;
		queue_state_free(&st);
	}
	queue_env_free(&e);
	return due;
}

/*
 * Start-up: removes what dead writers and crashes left behind, moves
 * badly named entries to corrupt/, and schedules every queued message:
 * now when it has no state file (state/ is listed once, and both lists
 * are sorted), else at the time its state file says (relayqd_saved_due).
 * Returns how many are on hold (not scheduled).
 */
static size_t
relayqd_scan_queue(struct relayd *rd)
{
	struct queue_idlist l, st;
	size_t nbad = 0, nlater = 0, nheld = 0, j = 0;
	long long now = relayqd_now();
	int n;

	if ((n = queue_scan_clean_tmp(&rd->spool, RELAYQD_TMP_MAX_AGE)) > 0)
		log_info("removed %d stale temporary files", n);
	if ((n = queue_scan_quarantine_bad(&rd->spool, QUEUE_DIR_INCOMING)) > 0)
		log_warnx("moved %d badly named entries of incoming/ to "
			  "corrupt/",
		    n);
	if ((n = queue_scan_quarantine_bad(&rd->spool, QUEUE_DIR_QUEUE)) > 0)
		log_warnx("moved %d badly named entries of queue/ to corrupt/",
		    n);
	if ((n = queue_scan_clean_state(&rd->spool)) > 0)
		log_info("removed %d orphaned state files", n);
	if (queue_scan_dir(&rd->spool, QUEUE_DIR_QUEUE, &l, &nbad) == -1)
		fatal("cannot scan %s/queue", rd->spool.path);
	if (queue_scan_dir(&rd->spool, QUEUE_DIR_STATE, &st, NULL) == -1)
		fatal("cannot scan %s/state", rd->spool.path);
	for (size_t i = 0; i < l.n; i++) {
		long long due = now;
		int c = 1;

		while (j < st.n && (c = strcmp(st.ids[j], l.ids[i])) < 0)
			j++;
		if (j < st.n && c == 0)
			due = relayqd_saved_due(rd, l.ids[i], now);
		if (due == -1) {
			nheld++;
			continue;
		}
		if (due > now)
			nlater++;
		relayqd_sched_add(rd->sched, l.ids[i], due);
	}
	if (l.n > 0)
		log_info("%zu queued messages found, %zu of them scheduled "
			 "later by their saved state, %zu on hold",
		    l.n, nlater, nheld);
	queue_idlist_free(&st);
	queue_idlist_free(&l);
	return nheld;
}

/*
 * Handles a message the sweep could not open: gone, held or finished
 * ones leave the scheduler (a finished one also the queue), others go
 * back where they were.
 */
static void
relayqd_sweep_skip(struct relayd *rd, const char *id, int skip, long long due,
    const struct rq_err *err)
{
	if (skip == RELAYQD_MSG_FINISHED) {
		relayqd_sched_remove(rd->sched, id);
		if (queue_spool_remove(&rd->spool, id) == -1)
			log_warn("%s: cannot remove finished message", id);
	} else if (skip == RELAYQD_MSG_HELD || errno == ENOENT ||
	    errno == EBADMSG) {
		if (errno == EBADMSG)
			log_warnx("%s: quarantined: %s", id, err->msg);
		relayqd_sched_remove(rd->sched, id);
	} else
		relayqd_sched_reschedule(rd->sched, id, due);
}

/*
 * Sweeps the waiting messages that arrived at or before born and lack
 * the skip flags: each is taken, checked for expiry and the delay
 * notice without an attempt, and put back (or finished).
 */
static void
relayqd_sweep_older(struct relayd *rd, long long born, unsigned skip)
{
	struct queue_idlist l;

	relayqd_sched_older(rd->sched, born, skip, &l);
	for (size_t i = 0; i < l.n && !rd->stopping; i++) {
		struct relayqd_msg *m;
		struct rq_err err;
		long long due;
		int why;

		if ((due = relayqd_sched_take(rd->sched, l.ids[i])) == -1)
			continue;
		if ((m = relayqd_msg_open(rd, l.ids[i], &why, &err)) == NULL) {
			relayqd_sweep_skip(rd, l.ids[i], why, due, &err);
			continue;
		}
		relayqd_outcome_sweep(rd, m, due);
		relayqd_msg_free(m);
	}
	queue_idlist_free(&l);
}

/* Expiry and delay notices for messages that wait (no attempt made). */
static void
relayqd_sweep(struct relayd *rd)
{
	long long now = relayqd_now();

	relayqd_sweep_older(rd, now - rd->conf.delivery_max_queue_lifetime, 0);
	if (rd->conf.delivery_delay_warning > 0)
		relayqd_sweep_older(rd, now - rd->conf.delivery_delay_warning,
		    RELAYQD_SCHED_F_WARNED);
}

/*
 * Keeps the slow scan (the expiry sweep, and a look at incoming/) armed
 * while messages wait.  A drop that was never announced (sendmail -odq,
 * or a front end killed between its rename and its poke) comes in
 * through the inotify watch, so with one and an empty schedule there is
 * no timer: an idle relayqd sleeps until something happens.  Without
 * inotify the scan stays armed as the only way in for such a drop.
 */
static void
relayqd_arm_scan(struct relayd *rd)
{
	struct timeval tv;

	if (rd->ev_notify != NULL && relayqd_sched_waiting(rd->sched) == 0) {
		event_del(rd->ev_scan);
		return;
	}
	if (event_pending(rd->ev_scan, EV_TIMEOUT, NULL))
		return;
	tv.tv_sec = (time_t)rd->conf.delivery_scan_interval;
	tv.tv_usec = 0;
	event_add(rd->ev_scan, &tv);
}

/* Lowers *when (ms, -1: none) to t (-1: none). */
static void
relayqd_when_min(long long *when, long long t)
{
	if (t != -1 && (*when == -1 || t < *when))
		*when = t;
}

/*
 * When the probe of d, a down candidate of a route whose next message
 * is due at due (s), may carry it (ms), or -1 when something else runs
 * the dispatcher then: a running probe (or straggler session) at its
 * end, or d's ev_rate when d's own pace holds the probe back.  Only d's
 * own bucket paces its probe: a fallback that waits for its pace must
 * not hold back the primary's probe (failback).
 */
static long long
relayqd_probe_when(struct relayd *rd, struct relayqd_dest *d, long long due,
    long long now_ms)
{
	long long t, wait;

	if (d->probing || d->nconns > 0)
		return -1;
	t = d->probe_ms > due * 1000 ? d->probe_ms : due * 1000;
	if (t <= now_ms && (wait = relayqd_rate_wait(d->rate, now_ms)) > 0) {
		if (!event_pending(d->ev_rate, EV_TIMEOUT, NULL))
			relayqd_arm_rate(rd, d, wait);
		return -1;
	}
	return t;
}

/*
 * When route r's next message may go (ms), or -1 when something else
 * runs the dispatcher then: a busy destination's sessions, a running
 * probe, or the destination's ev_rate.  The down candidates before the
 * destination the route's mail goes to (or all of them, when every one
 * is down) count with their next probe, whatever that destination
 * waits for.
 */
static long long
relayqd_route_when(struct relayd *rd, size_t r, long long now)
{
	const struct conf_smarthost *sh = &rd->conf.smarthosts[r];
	long long due = relayqd_sched_next_route(rd->sched, (long)r);
	long long when = -1, wait, now_ms = relayqd_now_ms();
	struct relayqd_dest *d;

	if (due == -1)
		return -1;
	/* The probes of the candidates before the one that is up. */
	for (size_t i = 0; i < sh->nchain; i++) {
		d = rd->dests[sh->chain[i]];
		if (!d->down)
			break;
		relayqd_when_min(&when, relayqd_probe_when(rd, d, due, now_ms));
	}
	if ((d = relayqd_route_dest(rd, r)) == NULL || due > now)
		return d == NULL ? when : due * 1000;
	/*
	 * Every session is busy: ready sessions pull due messages, and a
	 * closing one kicks the dispatcher.  Arming a 0 s timer here would
	 * spin the loop while the sessions wait on the server.
	 */
	if (d->nconns >= relayqd_dest_limit(d) || relayqd_dest_rcpts_unknown(d))
		return when;
	/* Due messages that wait for the pace: ev_rate runs us. */
	if ((wait = relayqd_rate_wait(d->rate, now_ms)) > 0) {
		if (!event_pending(d->ev_rate, EV_TIMEOUT, NULL))
			relayqd_arm_rate(rd, d, wait);
		return when;
	}
	return due * 1000;
}

/* Arms the due timer for the next message or destination probe. */
static void
relayqd_arm_due(struct relayd *rd, long long now)
{
	long long when = -1, now_ms, ms, t;
	struct timeval tv;

	/* Unrouted messages get their route when due. */
	if ((t = relayqd_sched_next_route(rd->sched, RELAYQD_SCHED_UNROUTED)) !=
	    -1)
		when = t * 1000;
	for (size_t r = 0; r < rd->ndests; r++)
		relayqd_when_min(&when, relayqd_route_when(rd, r, now));
	relayqd_arm_scan(rd);
	event_del(rd->ev_due);
	if (when == -1)
		return;
	now_ms = relayqd_now_ms();
	ms = when > now_ms ? when - now_ms : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	event_add(rd->ev_due, &tv);
}

/* Opens sessions to d: its probe when it is down, else up to its limit. */
static void
relayqd_run_dest(struct relayd *rd, struct relayqd_dest *d, long long now)
{
	const char *id;
	long r;

	if (d->down) {
		/* One probe at a time, once the destination's backoff ends. */
		if (relayqd_dest_may_probe(d, relayqd_now_ms()) &&
		    (id = relayqd_pop_for(rd, d, now, 1, &r)) != NULL) {
			const struct conf_smarthost *sh =
			    &rd->conf.smarthosts[r];

			log_info("smarthost %s: probe after %u failure%s, with "
				 "%s",
			    d->label, d->fails, d->fails == 1 ? "" : "s", id);
			d->probing = 1;
			d->last_probe = now;
			/*
			 * Another smarthost of the route is up: a probe that
			 * hangs (a server that never greets) gives the
			 * message back after connect_timeout, so it is not
			 * held for greeting_timeout.
			 */
			relayqd_conn_new_probe(rd, d, id,
			    relayqd_dest_pick(rd->dests, sh->chain,
				sh->nchain) != NULL
				? rd->conf.delivery_connect_timeout
				: 0);
		}
		return;
	}
	/*
	 * A session that fails at once marks the destination down; one
	 * that gets ready ends the slow start and kicks us.
	 */
	while (!d->down && d->nconns < relayqd_dest_limit(d) &&
	    (id = relayqd_pop_due(rd, d, now)) != NULL) {
		d->last_probe = now;
		relayqd_conn_new(rd, d, id);
	}
}

/* Frees the retired destinations whose last session is gone. */
static void
relayqd_reap_retired(struct relayd *rd)
{
	size_t k = 0;

	for (size_t i = 0; i < rd->nretired; i++) {
		struct relayqd_dest *d = rd->retired[i];

		if (d->nconns > 0) {
			rd->retired[k++] = d;
			continue;
		}
		log_info("smarthost %s: its last session is closed; freed",
		    d->label);
		relayqd_dest_free(d);
	}
	rd->nretired = k;
}

/* The dispatcher: feeds idle sessions and opens new ones. */
static void
relayqd_run(struct relayd *rd)
{
	struct relayqd_conn *rc, *next;
	long long now = relayqd_now();

	if (rd->stopping)
		return;
	relayqd_reap_retired(rd);
	if (rd->ndests > 1)
		relayqd_route_resolve(rd, now);
	for (size_t i = 0; i < rd->ndests; i++)
		for (rc = TAILQ_FIRST(&rd->dests[i]->conns); rc != NULL;
		     rc = next) {
			next = relayqd_conn_next(rc);
			relayqd_conn_pull(rc);
		}
	/* Probes first: they take the mail left for them (failback). */
	for (size_t i = 0; i < rd->ndests; i++)
		if (rd->dests[i]->down)
			relayqd_run_dest(rd, rd->dests[i], now);
	for (size_t i = 0; i < rd->ndests; i++)
		if (!rd->dests[i]->down)
			relayqd_run_dest(rd, rd->dests[i], now);
	relayqd_arm_due(rd, now);
}

/* Arms the stash timer. */
void
relayqd_arm_stash(struct relayd *rd)
{
	long long when = relayqd_stash_next(rd->stash), now = relayqd_now();
	struct timeval tv;

	event_del(rd->ev_stash);
	if (when == -1 || rd->stopping)
		return;
	tv.tv_sec = (time_t)(when > now ? when - now : 0);
	tv.tv_usec = 0;
	event_add(rd->ev_stash, &tv);
}

/* ev_stash: writes again what the disk could not take (issue 18). */
static void
relayqd_stash_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayd *rd = arg;
	struct queue_idlist l;

	(void)fd;
	(void)what;
	relayqd_stash_due(rd->stash, relayqd_now(), &l);
	for (size_t i = 0; i < l.n && !rd->stopping; i++)
		relayqd_outcome_resave(rd, l.ids[i]);
	queue_idlist_free(&l);
	relayqd_arm_stash(rd);
	relayqd_run(rd);
}

/*
 * At shutdown, once the sessions are gone: each held write is tried once
 * more, since the disk may have room now (the stash timer may not have
 * come round yet); only what still fails is reported.
 */
static void
relayqd_stash_last_try(struct relayd *rd)
{
	struct queue_idlist l;

	relayqd_stash_due(rd->stash, LLONG_MAX, &l);
	for (size_t i = 0; i < l.n; i++)
		relayqd_outcome_resave(rd, l.ids[i]);
	queue_idlist_free(&l);
}

/* ev_kick: deferred dispatcher run. */
static void
relayqd_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relayqd_run(arg);
}

/* ev_due: something became due. */
static void
relayqd_due_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relayqd_run(arg);
}

/*
 * Flush: every waiting message is due now, and a smarthost that is down
 * is probed at once (still one probe; the rest follows when it answers).
 * A user's flush is limited (relayqd.h).
 */
int
relayqd_flush(struct relayd *rd, const char *who,
    const struct queue_idlist *ids, int privileged)
{
	long long now = relayqd_now(), gap = rd->conf.delivery_probe_max;
	size_t moved = 0;

	if (privileged) {
		if (ids == NULL) {
			log_info("flush requested by %s: %zu waiting messages "
				 "due now",
			    who, relayqd_sched_waiting(rd->sched));
			relayqd_sched_flush(rd->sched, now);
		} else
			log_info("queue run requested by %s for %zu messages, "
				 "%zu waiting made due now",
			    who, ids->n,
			    relayqd_wake_flush_ids(rd->sched, ids, now));
		relayqd_wake_dests(rd, RELAYQD_WAKE_GAP);
		/* Held writes too: the operator may have made room. */
		relayqd_stash_hurry(rd->stash, now);
		relayqd_arm_stash(rd);
		relayqd_kick(rd);
		return 0;
	}
	if (rd->user_flush_last != 0 && now >= rd->user_flush_last &&
	    now - rd->user_flush_last < gap) {
		log_debug("flush requested by %s ignored: a user's flush is "
			  "taken at most once every %llds",
		    who, gap);
		return -1;
	}
	rd->user_flush_last = now;
	if (ids == NULL)
		moved = relayqd_sched_hurry_all(rd->sched, now);
	else
		for (size_t i = 0; i < ids->n; i++)
			moved += (size_t)relayqd_sched_hurry(rd->sched,
			    ids->ids[i], now);
	log_info("queue run requested for %zu messages by %s, %zu waiting "
		 "made due now (a user's: not counted as attempts, at most "
		 "one every %llds)",
	    ids == NULL ? relayqd_sched_waiting(rd->sched) : ids->n, who, moved,
	    gap);
	relayqd_wake_dests(rd, gap);
	relayqd_kick(rd);
	return 0;
}

/*
 * Schedules the named messages that are in queue/ but not in the
 * schedule: relayqd drops a held message when it meets it, so `relayq
 * release` (and requeue) name it here to have it taken up again.  One
 * that is on hold still, or being delivered, is dropped or rescheduled
 * again when the sweep opens it.
 */
static void
relayqd_wake_adopt(struct relayd *rd, const struct queue_idlist *ids)
{
	for (size_t i = 0; i < ids->n; i++) {
		if (relayqd_sched_has(rd->sched, ids->ids[i]) ||
		    faccessat(rd->spool.dirfd[QUEUE_DIR_QUEUE], ids->ids[i],
			F_OK, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		log_debug("%s: taken up again on request", ids->ids[i]);
		relayqd_sched_add(rd->sched, ids->ids[i], relayqd_now());
	}
}

/* ev_wake: the front end or relayq poked the FIFO. */
static void
relayqd_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayd *rd = arg;
	struct queue_idlist ids = { NULL, 0 };
	const char *by;
	int flags, flush;

	(void)what;
	/*
	 * Bounded drain; "I<id>" records come from sendmail -qR/-qS/-qI,
	 * "R<id>" ones from relayq (release, requeue, flush ID).
	 */
	flags = relayqd_wake_drain(fd, &ids);
	flush = flags & RELAYQD_WAKE_FLUSH;
	if (!(flags & RELAYQD_WAKE_BY_RELAYQ))
		by = "sendmail -qR/-qS/-qI";
	else if (flags & RELAYQD_WAKE_BY_SENDMAIL)
		by = "sendmail -qR/-qS/-qI and relayq";
	else
		by = "relayq";
	relayqd_pickup_request(rd);
	relayqd_wake_adopt(rd, &ids);
	/* The FIFO cannot tell who wrote: a user's flush (relayqd.h). */
	if (flush)
		(void)relayqd_flush(rd, "sendmail -q", NULL, 0);
	else if (ids.n > 0)
		(void)relayqd_flush(rd, by, &ids, 0);
	queue_idlist_free(&ids);
	relayqd_run(rd);
}

/* ev_scan: slow fallback scan of incoming/, and the expiry sweep. */
static void
relayqd_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayd *rd = arg;

	(void)fd;
	(void)what;
	/* A -v socket that could not be made (no room, no inode) at last. */
	if (rd->verbose == NULL && !rd->stopping)
		rd->verbose = relayqd_verbose_new(rd, 1);
	relayqd_pickup_request(arg);
	relayqd_sweep(arg);
	relayqd_run(arg);
}

/* ev_notify: something was renamed or written into incoming/. */
static void
relayqd_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayd *rd = arg;
	char buf[RELAYQD_NOTIFY_BUF];
	int got = 0;

	(void)what;
	/* Only "look now" matters, not which file: drain it, bounded. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			got = 1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (got && !rd->stopping) {
		struct timeval tv = { RELAYQD_NOTIFY_DELAY, 0 };

		/* A pending (sooner) pick-up sees the rescan flag. */
		rd->pick_rescan = 1;
		if (!event_pending(rd->ev_pickup, EV_TIMEOUT, NULL))
			event_add(rd->ev_pickup, &tv);
	}
}

/*
 * Watches incoming/ with inotify (IN_MOVED_TO: a front end's commit;
 * IN_CLOSE_WRITE: a file written in place), so that a drop nobody
 * announced is picked up within RELAYQD_NOTIFY_DELAY and no timer is
 * needed while idle.
 * Leaves rd->ev_notify NULL when inotify is not available.
 */
static void
relayqd_inotify_new(struct relayd *rd)
{
#ifdef HAVE_SYS_INOTIFY_H
	const uint32_t mask = IN_MOVED_TO | IN_CLOSE_WRITE;
	char path[PATH_MAX];
	int fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify; relying on the periodic scan");
		return;
	}
	/* The directory we hold open; by name when /proc is not mounted. */
	if ((rq_snprintf(path, sizeof(path), "/proc/self/fd/%d",
		 rd->spool.dirfd[QUEUE_DIR_INCOMING]) == -1 ||
		inotify_add_watch(fd, path, mask) == -1) &&
	    (rq_snprintf(path, sizeof(path), "%s/incoming", rd->spool.path) ==
		    -1 ||
		inotify_add_watch(fd, path, mask) == -1)) {
		log_warn("cannot watch %s/incoming; relying on the periodic "
			 "scan",
		    rd->spool.path);
		(void)close(fd);
		return;
	}
	rd->notifyfd = fd;
	if ((rd->ev_notify = event_new(rd->base, fd, EV_READ | EV_PERSIST,
		 relayqd_inotify_cb, rd)) == NULL ||
	    event_add(rd->ev_notify, NULL) == -1)
		fatalx("cannot watch the inotify fd");
#else
	(void)rd;
#endif
}

/*
 * Sets d up in the running daemon: its timer for the pace, its pace
 * with the state loaded from the spool (a restart keeps a daily quota):
 * <spool>/rate for [smarthost], <spool>/rate.NAME for [smarthost NAME],
 * and its password_command runner (freed with it).
 */
static void
relayqd_dest_start(struct relayd *rd, struct relayqd_dest *d)
{
	const char *name = relayqd_dest_sh(d)->name;
	char file[64];

	if ((d->ev_rate = evtimer_new(rd->base, relayqd_due_cb, rd)) == NULL)
		fatalx("event_new failed");
	if (d->index == 0)
		strlcpy(file, RELAYQD_RATE_FILE, sizeof(file));
	else if (rq_snprintf(file, sizeof(file), "%s.%s", RELAYQD_RATE_FILE,
		     name) == -1)
		fatalx("smarthost name too long: %s", name);
	relayqd_dest_rate_start(d, rd->spool.rootfd, rd->spool.path, file,
	    relayqd_now_ms());
	d->pwcmd = relayqd_pwcmd_new(rd->base, relayqd_conn_secret_done, d);
}

/* Logs a problem in the aliases file. */
void
relayqd_aliases_warn(void *arg, const char *path, int line, const char *msg)
{
	(void)arg;
	if (line > 0)
		log_warnx("%s:%d: %s", path, line, msg);
	else
		log_warnx("%s: %s", path, msg);
}

/*
 * Loads the aliases file of c into a (empty when there is none or it
 * cannot be read, with a log line): bounces to a local sender go
 * through it as sendmail's recipients do.
 */
static void
relayqd_aliases_load(const struct conf *c, struct aliases *a)
{
	aliases_init(a);
	if (c->aliases[0] == '\0')
		return;
	if (aliases_load(a, c->aliases, relayqd_aliases_warn, NULL) == -1) {
		log_warn("cannot read aliases file %s; bounces go to senders "
			 "unaliased",
		    c->aliases);
		aliases_free(a);
		aliases_init(a);
	}
}

/*
 * Retires d (a reload removed, renamed or changed its section; h holds
 * the configuration it was made with): its sessions finish what is in
 * flight and QUIT (relayqd_conn_retire), its pace stops writing the file
 * a new destination of the same name takes over, and the dispatcher
 * frees it once its last session is gone (relayqd_reap_retired).
 */
static void
relayqd_retire(struct relayd *rd, struct relayqd_dest *d,
    struct relayqd_dest_hold *h)
{
	struct relayqd_conn *rc, *next;

	relayqd_dest_retire(d, h, &rd->conf);
	for (rc = TAILQ_FIRST(&d->conns); rc != NULL; rc = next) {
		next = relayqd_conn_next(rc);
		relayqd_conn_retire(rc);
	}
	relayqd_rate_detach(d->rate);
	rd->retired =
	    xreallocarray(rd->retired, rd->nretired + 1, sizeof(*rd->retired));
	rd->retired[rd->nretired++] = d;
}

/*
 * Builds the destinations of nc into nd (one per section; fresh[j] set
 * for a new one) and their new keys into k: a section whose name and
 * session settings are unchanged (relayqd_dest_is_same) keeps its
 * destination (kept[i] set for rd->dests[i]): its sessions, backoff and
 * pace; any other section gets a new destination.  Returns 0, or -1
 * with err, having freed what it built.
 */
static int
relayqd_reload_build(struct relayd *rd, struct conf *nc,
    struct relayqd_dest **nd, struct relayqd_dest_keys *k, char *fresh,
    char *kept, struct rq_err *err)
{
	size_t i, j;

	for (j = 0; j < nc->nsmarthosts; j++) {
		for (i = 0; i < rd->ndests; i++)
			if (!kept[i] &&
			    relayqd_dest_is_same(rd->dests[i], nc, j))
				break;
		if (i < rd->ndests) {
			if (relayqd_dest_keys_new(rd, rd->dests[i], nc, j,
				&k[j], err) == -1)
				break;
			nd[j] = rd->dests[i];
			kept[i] = 1;
		} else if ((nd[j] = relayqd_dest_new(rd, nc, j, err)) == NULL)
			break;
		else
			fresh[j] = 1;
	}
	if (j == nc->nsmarthosts)
		return 0;
	while (j-- > 0) {
		relayqd_dest_keys_free(&k[j]);
		if (fresh[j])
			relayqd_dest_free(nd[j]);
	}
	return -1;
}

/*
 * A section that keeps its name but changed its settings keeps its
 * counters: d, its new destination, counts into those of the retired
 * one of the same name among od (kept[i]: od[i] was kept).
 */
static void
relayqd_reload_stats(struct relayqd_dest *d, struct relayqd_dest **od,
    size_t nold, const char *kept)
{
	for (size_t i = 0; i < nold; i++)
		if (!kept[i] &&
		    strcmp(relayqd_dest_sh(od[i])->name,
			relayqd_dest_sh(d)->name) == 0) {
			relayqd_dest_stats_share(d, od[i]);
			return;
		}
}

/*
 * Reloads the configuration; keeps the old one on error.  Sections may
 * be added, removed, renamed or changed (relayqd_reload_build): nothing
 * changes until every destination and key set of the new file is built.
 * The destinations left over are retired (relayqd_retire) after the
 * kept ones took their new keys, and before the new ones load their
 * pace (so a changed section's bucket carries over through its file).
 * Every queued message's route is looked up again (relayqd_sched_set_routes).
 */
static void
relayqd_reload(struct relayd *rd)
{
	struct conf nc;
	struct rq_err err;
	struct relayqd_dest_keys *k;
	struct relayqd_dest **nd, **od = rd->dests;
	struct relayqd_dest_hold *h = NULL;
	size_t i, j, n, nold = rd->ndests;
	char *fresh, *kept;

	if (conf_load(&nc, rd->conf.path, &err) == -1) {
		log_warnx("reload failed, keeping the old configuration: %s",
		    err.msg);
		return;
	}
	n = nc.nsmarthosts;
	nd = xcalloc(n, sizeof(*nd));
	k = xcalloc(n, sizeof(*k));
	fresh = xcalloc(n, 1);
	kept = xcalloc(nold, 1);
	if (relayqd_reload_build(rd, &nc, nd, k, fresh, kept, &err) == -1) {
		log_warnx("reload failed, keeping the old configuration: %s",
		    err.msg);
		free(kept);
		free(fresh);
		free(k);
		free(nd);
		conf_free(&nc);
		return;
	}
	if (strcmp(nc.spool_dir, rd->conf.spool_dir) != 0)
		log_warnx("spool_dir changes need a restart; keeping %s",
		    rd->conf.spool_dir);
	if (strcmp(nc.resolv_conf, rd->conf.resolv_conf) != 0 ||
	    strcmp(nc.hosts_file, rd->conf.hosts_file) != 0)
		log_warnx("resolv_conf and hosts_file changes need a restart");
	free(nc.spool_dir);
	nc.spool_dir = xstrdup(rd->conf.spool_dir);
	/* A retired destination keeps the settings it was made with. */
	for (i = 0; i < nold && kept[i]; i++)
		;
	if (i < nold)
		h = relayqd_dest_hold_new(&rd->conf);
	else
		conf_free(&rd->conf);
	rd->conf = nc;
	aliases_free(&rd->aliases);
	relayqd_aliases_load(&rd->conf, &rd->aliases);
	/* The kept destinations borrow rd->conf: the new settings. */
	for (j = 0; j < n; j++) {
		nd[j]->conf = &rd->conf;
		nd[j]->index = j;
		if (!fresh[j])
			relayqd_dest_reload(nd[j], &k[j], relayqd_now_ms());
	}
	rd->dests = nd;
	rd->ndests = n;
	for (i = 0; i < nold; i++)
		if (!kept[i])
			relayqd_retire(rd, od[i], h);
	relayqd_dest_hold_drop(h);
	for (j = 0; j < n; j++)
		if (fresh[j]) {
			relayqd_reload_stats(nd[j], od, nold, kept);
			relayqd_dest_start(rd, nd[j]);
			log_info("smarthost %s: added by the reload",
			    nd[j]->label);
		}
	free(od);
	free(kept);
	free(fresh);
	free(k);
	/* Senders patterns and sections may have changed: reroute. */
	if (n > 1 || nold > 1)
		relayqd_sched_set_routes(rd->sched, n);
	log_info("configuration reloaded from %s", rd->conf.path);
	/* submit_socket may have moved, or become usable. */
	if (rd->submit != NULL)
		relayqd_submit_reload(rd->submit);
	else
		rd->submit = relayqd_submit_new(rd, -1);
	if (rd->verbose == NULL) /* made room for it, perhaps */
		rd->verbose = relayqd_verbose_new(rd, 0);
	relayqd_purge_run(rd->purge); /* failed_retention may have changed */
	relayqd_kick(rd);
}

/*
 * Drops every session at once.  One already closing keeps its scheduled
 * free (relayqd_conn_abort() leaves it alone), so the list is walked
 * rather than emptied from its head, which would never end.
 */
static void
relayqd_abort_all(struct relayd *rd)
{
	struct relayqd_conn *rc, *next;

	for (size_t i = 0; i < rd->ndests + rd->nretired; i++)
		for (rc = TAILQ_FIRST(&relayqd_any_dest(rd, i)->conns);
		     rc != NULL; rc = next) {
			next = relayqd_conn_next(rc);
			relayqd_conn_abort(rc);
		}
}

/* Signal events. */
static void
relayqd_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relayd *rd = arg;
	struct relayqd_conn *rc, *next;
	struct relayqd_stats_view v;

	(void)what;
	switch (sig) {
	case SIGHUP:
		relayqd_notify_reloading(rd->notify);
		relayqd_reload(rd);
		relayqd_stats_view(rd, &v);
		relayqd_notify_ready(rd->notify, &v);
		relayqd_stats_touch(rd); /* alert_after may have changed */
		return;
	case SIGUSR1:
		(void)relayqd_flush(rd, "SIGUSR1", NULL, 1);
		relayqd_run(rd);
		return;
	default:
		break;
	}
	if (rd->stopping) {
		/* A second signal: no more waiting for QUIT replies. */
		relayqd_abort_all(rd);
		event_base_loopbreak(rd->base);
		return;
	}
	log_info("signal %d: shutting down", (int)sig);
	rd->stopping = 1;
	/*
	 * A refresh that may have spent the refresh token finishes (before
	 * the sessions go: the last one to go ends the loop unless it runs).
	 */
	for (size_t i = 0; i < rd->ndests + rd->nretired; i++)
		relayqd_oauth2_stop(relayqd_any_dest(rd, i)->oauth2);
	/* Idle sessions say QUIT; the last one to go ends the loop. */
	for (size_t i = 0; i < rd->ndests + rd->nretired; i++)
		for (rc = TAILQ_FIRST(&relayqd_any_dest(rd, i)->conns);
		     rc != NULL; rc = next) {
			next = relayqd_conn_next(rc);
			relayqd_conn_stop(rc);
		}
	relayqd_kick(rd);
}

/* Routes libevent's own messages to our log. */
static void
relayqd_event_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * Prints usage on fp and exits: 0 for -h/--help (on stdout), 64 for a
 * usage error (on stderr).
 */
static void
relayqd_usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: relayqd [-fhv] [-c config] [-T trace]\n"
	    "       relayqd --help | --version\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -h       this help\n"
	    "  -v       debug logging\n"
	    "  -T LIST  trace: smtp,state,queue\n",
	    conf_default_path());
	exit(fflush(fp) == EOF && status == 0 ? EX_IOERR : status);
}

/* Parses a -T list into trace masks. */
static int
relayqd_trace_mask(const char *list)
{
	int mask = 0;

	if (strstr(list, "smtp") != NULL)
		mask |= LOG_TRACE_SMTP;
	if (strstr(list, "state") != NULL)
		mask |= LOG_TRACE_STATE;
	if (strstr(list, "queue") != NULL)
		mask |= LOG_TRACE_QUEUE;
	return mask;
}

/*
 * Names the smarthosts for the start line: "smarthost HOST:PORT" for
 * one, "N smarthosts: NAME HOST:PORT, ..." for several (cut with "...").
 */
static void
relayqd_smarthosts_txt(const struct conf *c, char *buf, size_t bufsz)
{
	char addr[300], one[400];

	if (c->nsmarthosts == 1) {
		(void)conf_smarthost_addr(&c->smarthosts[0], addr,
		    sizeof(addr));
		(void)!rq_snprintf(buf, bufsz, "smarthost %s", addr);
		return;
	}
	(void)!rq_snprintf(buf, bufsz, "%zu smarthosts:", c->nsmarthosts);
	for (size_t i = 0; i < c->nsmarthosts; i++) {
		(void)conf_smarthost_addr(&c->smarthosts[i], addr,
		    sizeof(addr));
		(void)!rq_snprintf(one, sizeof(one), "%s %s %s",
		    i > 0 ? "," : "", c->smarthosts[i].name, addr);
		if (strlen(buf) + strlen(one) + 5 > bufsz) {
			(void)strlcat(buf, ", ...", bufsz);
			return;
		}
		(void)strlcat(buf, one, bufsz);
	}
}

/* Creates a persistent signal event. */
static struct event *
relayqd_signal_new(struct relayd *rd, int sig)
{
	struct event *ev = evsignal_new(rd->base, sig, relayqd_signal_cb, rd);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, RELAYQD_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct relayd rd;
	struct rq_err err;
	struct relayqd_stats_view v;
	char heldtxt[48] = "", shtxt[512];
	size_t nheld;
	const char *cfg = NULL;
	int ch, foreground = 0, verbose = 0, trace = 0, submitfd, n;

	memset(&rd, 0, sizeof(rd));
	rd.wakefd = -1;
	rd.notifyfd = -1;
	while (
	    (ch = getopt_long(argc, argv, "c:fhvT:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'T':
			trace |= relayqd_trace_mask(optarg);
			break;
		case 'h':
			relayqd_usage(stdout, EX_OK);
			break;
		case RELAYQD_OPT_VERSION:
			printf("relayqd %s\n", PACKAGE_VERSION);
			return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
		default:
			relayqd_usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc)
		relayqd_usage(stderr, EX_USAGE);

	signal(SIGPIPE, SIG_IGN);
	/* Only for jitter (relayqd_random). */
	relayqd_seed();
	log_init("relayqd", LOG_TO_STDERR, verbose);
	log_set_trace(trace);
	/* Before any secret is read: none may end up in a core file. */
	if (secret_nodump() == -1)
		fatal("cannot turn core dumps off");
	if (conf_load(&rd.conf, conf_path(cfg, 1), &err) == -1)
		fatalx("%s", err.msg);
	rd.ndests = rd.conf.nsmarthosts;
	rd.dests = xcalloc(rd.ndests, sizeof(*rd.dests));
	for (size_t i = 0; i < rd.ndests; i++)
		if ((rd.dests[i] = relayqd_dest_new(&rd, &rd.conf, i, &err)) ==
		    NULL)
			fatalx("%s", err.msg);
	relayqd_aliases_load(&rd.conf, &rd.aliases);
	if (queue_spool_open(&rd.spool, rd.conf.spool_dir,
		QUEUE_SPOOL_DAEMON | QUEUE_SPOOL_CREATE, &err) == -1)
		fatalx("%s", err.msg);
	if (queue_spool_lock(&rd.spool) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("another relayqd is running on %s",
			    rd.spool.path);
		fatal("cannot lock %s", rd.spool.path);
	}
	/* systemd's socket names our pid: take it before daemon() forks. */
	submitfd = relayqd_submit_inherited();
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("relayqd", LOG_TO_SYSLOG, verbose);
	}

	event_set_log_callback(relayqd_event_log_cb);
	if ((rd.base = event_base_new()) == NULL ||
	    event_base_priority_init(rd.base, RELAYQD_SUBMIT_NPRIO) == -1)
		fatalx("event_base_new failed");
	if ((rd.dns = relayqd_dial_dns_new(rd.base, rd.conf.resolv_conf,
		 rd.conf.hosts_file, &err)) == NULL)
		fatalx("%s: %s", rd.conf.path, err.msg);
	rd.sched = relayqd_sched_new();
	relayqd_sched_set_routes(rd.sched, rd.ndests);
	rd.stash = relayqd_stash_new();
	if ((rd.ev_kick = event_new(rd.base, -1, 0, relayqd_kick_cb, &rd)) ==
		NULL ||
	    (rd.ev_due = evtimer_new(rd.base, relayqd_due_cb, &rd)) == NULL ||
	    (rd.ev_scan = event_new(rd.base, -1, EV_PERSIST, relayqd_scan_cb,
		 &rd)) == NULL ||
	    (rd.ev_pickup = evtimer_new(rd.base, relayqd_pickup_cb, &rd)) ==
		NULL ||
	    (rd.ev_stash = evtimer_new(rd.base, relayqd_stash_cb, &rd)) == NULL)
		fatalx("event_new failed");
	for (size_t i = 0; i < RQ_NELEM(sigs); i++)
		rd.ev_sig[i] = relayqd_signal_new(&rd, sigs[i]);
	if ((rd.wakefd = queue_spool_wake_fd(&rd.spool)) == -1)
		log_warn("no wake FIFO; relying on the periodic scan");
	else if ((rd.ev_wake = event_new(rd.base, rd.wakefd,
		      EV_READ | EV_PERSIST, relayqd_wake_cb, &rd)) == NULL ||
	    event_add(rd.ev_wake, NULL) == -1)
		fatalx("cannot watch the wake FIFO");
	relayqd_inotify_new(&rd);
	rd.closer = relayqd_closer_new();
	for (size_t i = 0; i < rd.ndests; i++)
		relayqd_dest_start(&rd, rd.dests[i]);

	rd.notify = relayqd_notify_new(rd.base);
	rd.alert = relayqd_alert_new(&rd);
	rd.verbose = relayqd_verbose_new(&rd, 0);
	rd.stats = relayqd_stats_new(&rd);
	rd.purge = relayqd_purge_new(&rd);
	rd.submit = relayqd_submit_new(&rd, submitfd);
	nheld = relayqd_scan_queue(&rd);
	relayqd_purge_run(rd.purge);
	/*
	 * incoming/ is listed before the start line, so that it and STATUS
	 * count mail submitted while relayqd was stopped; the first batch
	 * is taken from the loop.
	 */
	if (relayqd_pickup_list(&rd) == -1)
		rd.pick_rescan = 1;
	event_active(rd.ev_pickup, EV_TIMEOUT, 0);
	relayqd_stats_touch(&rd);
	relayqd_stats_view(&rd, &v);
	/* Counted as relayq stats counts them: held messages too. */
	if (nheld > 0)
		(void)snprintf(heldtxt, sizeof(heldtxt), " (%zu on hold)",
		    nheld);
	relayqd_smarthosts_txt(&rd.conf, shtxt, sizeof(shtxt));
	log_info("started: spool %s, %s, %zu queued%s", rd.spool.path, shtxt,
	    v.queued + nheld, heldtxt);
	relayqd_notify_ready(rd.notify, &v);
	relayqd_kick(&rd);

	event_base_dispatch(rd.base);

	/* Teardown, in reverse order of set-up. */
	relayqd_notify_stopping(rd.notify);
	rd.stopping = 1;
	relayqd_abort_all(&rd);
	/*
	 * Let frees scheduled with event_base_once() run.  A pass may stop
	 * after the last session's free (it breaks the loop while
	 * stopping), and frees at least one, hence the bound.
	 */
	n = 0;
	for (size_t i = 0; i < rd.ndests + rd.nretired; i++)
		n += relayqd_any_dest(&rd, i)->nconns;
	for (int i = 0; i <= n && !relayqd_no_session(&rd); i++)
		event_base_loop(rd.base, EVLOOP_NONBLOCK);
	event_base_loop(rd.base, EVLOOP_NONBLOCK);
	relayqd_stash_last_try(&rd);
	relayqd_submit_free(rd.submit);
	relayqd_verbose_free(rd.verbose);
	relayqd_closer_free(rd.closer);
	relayqd_purge_free(rd.purge);
	queue_idlist_free(&rd.pick);
	if (rd.ev_notify != NULL)
		event_free(rd.ev_notify);
	if (rd.notifyfd != -1)
		(void)close(rd.notifyfd);
	if (rd.ev_wake != NULL)
		event_free(rd.ev_wake);
	if (rd.wakefd != -1)
		(void)close(rd.wakefd);
	for (size_t i = 0; i < RQ_NELEM(sigs); i++)
		event_free(rd.ev_sig[i]);
	event_free(rd.ev_pickup);
	event_free(rd.ev_stash);
	event_free(rd.ev_scan);
	event_free(rd.ev_due);
	event_free(rd.ev_kick);
	relayqd_stats_free(rd.stats); /* last write */
	for (size_t i = 0; i < rd.ndests; i++)
		(void)relayqd_rate_save(rd.dests[i]->rate); /* logged there */
	relayqd_alert_free(rd.alert);
	relayqd_notify_free(rd.notify);
	relayqd_sched_free(rd.sched);
	n = (int)relayqd_stash_flagged(rd.stash, RELAYQD_STASH_UNSAVED);
	if (n > 0)
		log_warnx("stopping with %d messages whose delivery state "
			  "could not be written (tried once more); they "
			  "restart from their state files",
		    n);
	if (relayqd_stash_count(rd.stash) > (size_t)n)
		log_warnx("stopping with %zu messages whose bounce could not "
			  "be queued; their failed recipients are tried again "
			  "at the next start",
		    relayqd_stash_count(rd.stash) - (size_t)n);
	relayqd_stash_free(rd.stash);
	/* A refresh still in flight (a second signal) is cancelled. */
	for (size_t i = 0; i < rd.ndests + rd.nretired; i++)
		relayqd_dest_free(relayqd_any_dest(&rd, i));
	relayqd_oauth2_orphans_free(&rd);
	free(rd.dests);
	free(rd.retired);
	evdns_base_free(rd.dns, 1);
	event_base_free(rd.base);
	queue_spool_close(&rd.spool);
	log_info("stopped: %llu sent, %llu deferred, %llu failed, %llu "
		 "reports queued",
	    rd.n_delivered, rd.n_deferred, rd.n_failed, rd.n_bounces);
	aliases_free(&rd.aliases);
	conf_free(&rd.conf);
	return 0;
}
