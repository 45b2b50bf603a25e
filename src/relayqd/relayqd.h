/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The daemon's shared state, owned by main() in relayqd.c and passed
 * explicitly to every module: the event base, the configuration, the
 * spool, the scheduler index and the destinations (relayqd_dest.h: one
 * per smarthost, each with its sessions, credentials, pace and probe
 * state).  Also
 * declares the few entry points the modules call back into (relayqd_kick
 * to run the dispatcher after something changed).
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_H
#define RELAYQ_RELAYQD_RELAYQD_H

#include <stdint.h>

#include "common/aliases.h"
#include "common/conf.h"
#include "queue/queue_scan.h"
#include "queue/queue_spool.h"

struct event_base;
struct event;
struct evdns_base;
struct relayqd_sched;
struct relayqd_dest;
struct relayqd_verbose;
struct relayqd_stats;
struct relayqd_notify;
struct relayqd_alert;
struct relayqd_closer;
struct relayqd_purge;
struct relayqd_stash;
struct relayqd_submit;

struct relayd {
	struct event_base *base;	 /* owned by main */
	struct evdns_base *dns;		 /* owned */
	struct conf conf;		 /* owned */
	struct aliases aliases;		 /* owned: for bounce recipients */
	struct queue_spool spool;	 /* owned */
	struct relayqd_sched *sched;	 /* owned */
	struct relayqd_dest **dests;	 /* owned: one per conf.smarthosts[i] */
	size_t ndests;			 /* conf.nsmarthosts */
	struct relayqd_verbose *verbose; /* owned: -v socket, or NULL */
	struct relayqd_stats *stats;	 /* owned: <spool>/stats, or NULL */
	struct relayqd_notify *notify;	 /* owned: systemd notifications */
	struct relayqd_alert *alert;	 /* owned: alert_command runner */
	struct relayqd_closer *closer;	 /* owned: closes deleted files */
	struct relayqd_purge *purge;	 /* owned: failed_retention */
	struct relayqd_stash *stash;	 /* owned: states not written yet */
	struct event *ev_stash;		 /* owned: retries those writes */
	long long spool_full_since;	 /* state writes failing since, or 0 */
	struct relayqd_submit *submit;	 /* owned: submit_socket, or NULL */
	int wakefd;			 /* wake FIFO, -1 if none */
	struct event *ev_wake;		 /* owned */
	struct event *ev_scan;	   /* owned: expiry sweep and fallback scan */
	struct event *ev_pickup;   /* owned: next batch from incoming/ */
	struct event *ev_notify;   /* owned: inotify on incoming/, or NULL */
	int notifyfd;		   /* inotify fd, -1 if none */
	struct queue_idlist pick;  /* owned: incoming/ ids being taken */
	size_t pick_next;	   /* next index in pick */
	int pick_rescan;	   /* list incoming/ again after pick */
	struct event *ev_due;	   /* owned: next due message / host retry */
	struct event *ev_kick;	   /* owned: deferred dispatcher run */
	struct event *ev_sig[5];   /* owned: TERM, INT, HUP, USR1, CHLD */
	long long user_flush_last; /* last flush a user (not root) had */
	int stopping;
	unsigned long long n_delivered, n_deferred, n_failed, n_bounces;
	/* Owned: retired by a reload, their last sessions finishing. */
	struct relayqd_dest **retired;
	size_t nretired;
	/*
	 * Owned: OAuth2 refreshes whose destination is gone (retired,
	 * stopping), finishing so that a rotated token is stored.
	 */
	struct relayqd_oauth2_orphan **oauth2_orphans;
	size_t noauth2_orphans;
};

/* Returns the current time in seconds. */
long long relayqd_now(void);
/* Returns the current time in milliseconds (the same clock). */
long long relayqd_now_ms(void);
/*
 * Returns 32 random bits for jitter, from a generator seeded from the
 * kernel at start, so that hosts started together do not draw the same
 * waits (same pid, same second: a fleet booted from one image).
 */
uint32_t relayqd_random(void);

/*
 * Takes the earliest message due at or before now among the routes whose
 * mail goes to d now (relayqd_dest_pick), when d's pace lets one start
 * (relayqd_rate_admit); otherwise leaves it waiting (not an attempt) and
 * arms d's timer for when one may.  Returns its id as
 * relayqd_sched_pop_due() does, or NULL.
 */
const char *relayqd_pop_due(struct relayd *rd, struct relayqd_dest *d,
    long long now);

/*
 * The destination that mail of route r (an index of conf.smarthosts, as
 * conf_route returns) goes to now, or NULL when every candidate of its
 * chain is down.
 */
struct relayqd_dest *relayqd_route_dest(struct relayd *rd, size_t r);

/*
 * The route of queued message id: conf_route() of its sender (read from
 * its envelope without the lock), or 0 when it cannot be read.
 */
long relayqd_route_read(struct relayd *rd, const char *id);

/* Schedules a dispatcher run on the next loop pass. */
void relayqd_kick(struct relayd *rd);

/*
 * Flushes: ids NULL for every waiting message, else the listed ones.
 * who names the requester for the log.  A flush by root (privileged) is
 * the old one: all due now, a smarthost that is down probed at once.
 * One by anybody else (sendmail -q, -qR, -qS, -qI through the wake FIFO,
 * or a user on the -v socket) is taken at most once every probe_max,
 * never probes a smarthost that is down more than once in probe_max,
 * and the attempts it brings forward do not count as tries (issue 13).
 * Returns 0, or -1 when a user's flush was refused by that limit.
 */
int relayqd_flush(struct relayd *rd, const char *who,
    const struct queue_idlist *ids, int privileged);

/* Logs a problem found in the aliases file (an aliases_warn_fn). */
void relayqd_aliases_warn(void *arg, const char *path, int line,
    const char *msg);

/* Arms the stash timer for the earliest retry of a held write. */
void relayqd_arm_stash(struct relayd *rd);

#endif
