/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The destination: one smarthost as one object.  It owns what relayqd
 * needs to reach that server and to decide whether to try: its dial
 * settings, its TLS context, AUTH policy and OAuth2 token cache
 * (credentials never leave it), its sessions, its backoff and probe state
 * (down, slow start, the next probe) and its pace (the rate bucket).  It
 * decides nothing about messages (relayqd_outcome.c does) and opens no
 * session (the dispatcher in relayqd.c does, asking relayqd_dest_limit()
 * and relayqd_dest_may_probe()).
 *
 * Invariants: while down, no session is opened except one probe at a
 * time, from probe_ms on; until ok (a session got as far as ready since
 * the start, since it was last down or since its last session closed)
 * at most one session is open (slow start, issue 17).  When a session
 * that was ready failed (a throttle at MAIL or RCPT, a 421), need_tx is
 * set and only an accepted message ends the slow start (issue 17: a
 * probe that gets ready must not open max_connections sessions that are
 * each throttled again).  Probe waits are drawn from the upper half of
 * the interval (relayqd_sched_probe_delay), so hosts that lost the same
 * smarthost do not probe it in lockstep.
 *
 * relayqd has one destination per smarthost section (index i serves
 * conf->smarthosts[i]); the credentials of each are built from its own
 * section only, so a session to one destination never offers another's.
 * The dispatch choice among them (which destination a route's mail goes
 * to, whose probe may carry it, when a failed message is due again) is
 * pure arithmetic over their down and probe state: relayqd_dest_pick(),
 * relayqd_dest_probe_for(), relayqd_dest_route_due() (issue 15).
 *
 * A reload keeps the destination of a section whose name and session
 * settings (relayqd_dest_is_same) are unchanged, and retires the others
 * (relayqd_dest_retire): a retired destination is no candidate of any
 * route; it keeps the settings it was made with (the old configuration,
 * shared by the destinations retired with it, is freed with the last of
 * them), so its sessions finish the transaction in flight with the server
 * and credentials they began with, then QUIT; the daemon frees it once
 * its last session is gone.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_DEST_H
#define RELAYQ_RELAYQD_RELAYQD_DEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct conf;
struct conf_smarthost;
struct rq_err;
struct event;
struct relayd;
struct smarthost_tls;
struct smarthost_auth;
struct relayqd_oauth2;
struct relayqd_pwcmd;
struct relayqd_rate;
struct relayqd_conn;
struct relayqd_dial_conf;
struct relayqd_dest_hold;

TAILQ_HEAD(relayqd_conn_list, relayqd_conn);

/*
 * A destination's figures for `relayq stats` (issue 15).  They belong
 * to the section's name: a reload that keeps the section keeps them (as
 * it keeps relayqd's global counters), and one that changes a section
 * that keeps its name hands them to the new destination, which shares
 * them with the retired one (relayqd_dest_stats_share), so what the
 * retired sessions still finish counts for that name too.  A restart
 * starts from zero, and so does a section that a reload adds or
 * renames (a section removed and added back later too).
 * relayqd_outcome.c counts; relayqd_stats.c takes down and since, and
 * publishes them.
 */
struct relayqd_dest_stats {
	unsigned refs;		     /* destinations that count into it */
	unsigned long long sent;     /* recipients accepted */
	unsigned long long deferred; /* recipient attempts deferred */
	unsigned long long failed;   /* recipients refused (5xx) */
	int down;		     /* d->down when since was taken */
	long long since;	     /* when it went up or down (s); 0: not
					yet seen by relayqd_stats.c */
};

struct relayqd_dest {
	const struct conf *conf;	/* borrowed: the daemon's, kept valid */
	size_t index;			/* its conf->smarthosts[index] */
	struct smarthost_tls *tls;	/* owned; NULL when tls = none */
	struct smarthost_auth *auth;	/* owned; NULL when AUTH is off */
	struct relayqd_oauth2 *oauth2;	/* owned; NULL without OAuth2 */
	struct relayqd_pwcmd *pwcmd;	/* owned (made by relayqd.c): its
					   password_command runs */
	struct relayqd_rate *rate;	/* owned: its pace (rate_limit...) */
	struct event *ev_rate;		/* owned: runs the dispatcher */
	struct relayqd_conn_list conns; /* its sessions (each owns itself) */
	int nconns;
	/* A reload removed or changed it; it keeps a share of the
	 * configuration it was made with (relayqd_dest_retire). */
	int retired;
	struct relayqd_dest_hold *hold;
	int down;	      /* backing off: one probe at a time */
	int ok;		      /* slow start is over */
	int need_tx;	      /* ...only once a message is accepted */
	int probing;	      /* the probe session is running */
	unsigned fails;	      /* failed probes in a row */
	long long probe_ms;   /* no probe before this time (ms) */
	long long last_probe; /* when the last probe started (s) */
	long long down_since; /* when it was last marked down (s) */
	char error[256];      /* why it is down, for deferrals */
	char label[300];      /* its name in the log: host, or NAME (host) */
	struct relayqd_dest_stats *stats; /* owned, shared by section name */
};

/* What a reload builds before it replaces a destination's settings. */
struct relayqd_dest_keys {
	struct smarthost_tls *tls;
	struct smarthost_auth *auth;
	struct relayqd_oauth2 *oauth2;
};

/*
 * Builds the TLS context, AUTH policy and OAuth2 cache of the settings
 * of nc->smarthosts[index] into k and checks that they fit together (warns about
 * what is accepted but should not be).  rd is the daemon the OAuth2
 * cache refreshes through, d the destination it serves.  The caller
 * passes k to relayqd_dest_reload(), or frees it with
 * relayqd_dest_keys_free().  Returns 0, or -1 with err.
 */
int relayqd_dest_keys_new(struct relayd *rd, struct relayqd_dest *d,
    const struct conf *nc, size_t index, struct relayqd_dest_keys *k,
    struct rq_err *err);

/* Frees what relayqd_dest_keys_new() built. */
void relayqd_dest_keys_free(struct relayqd_dest_keys *k);

/*
 * True when nc->smarthosts[index] has d's name and every setting a
 * session takes from it (address, TLS, credentials, AUTH, OAuth2) is
 * unchanged: d may go on with its sessions.  Limits, senders and
 * fallbacks may differ.
 */
int relayqd_dest_is_same(const struct relayqd_dest *d, const struct conf *nc,
    size_t index);

/*
 * A configuration that retired destinations keep (relayqd_dest_retire):
 * takes *c (which the caller must no longer use or free) and holds one
 * reference, the caller's, dropped with relayqd_dest_hold_drop().
 */
struct relayqd_dest_hold *relayqd_dest_hold_new(struct conf *c);

/* Drops a reference; the last one frees the configuration. */
void relayqd_dest_hold_drop(struct relayqd_dest_hold *h);

/*
 * Retires d (a reload removed its section or changed its settings; nc
 * is the new configuration): d's settings are now those of h's
 * configuration (d->index in it), d holds a reference to h, and d is
 * marked retired.  Logs it, and why.
 * The caller then retires d's sessions (relayqd_conn_retire), detaches
 * its pace from its file (relayqd_rate_detach: the section's new
 * destination, if any, takes the file over) and frees d once its
 * sessions are gone.
 */
void relayqd_dest_retire(struct relayqd_dest *d, struct relayqd_dest_hold *h,
    const struct conf *nc);

/*
 * Creates the destination of c->smarthosts[index] (c is borrowed: it
 * must stay valid, and a reload replaces its contents in place).
 * Returns NULL with err filled in (the message names the file and, for
 * a named smarthost, its section).
 */
struct relayqd_dest *relayqd_dest_new(struct relayd *rd, const struct conf *c,
    size_t index, struct rq_err *err);

/*
 * Makes d, a destination a reload made for a changed section, count
 * into the figures of old, the retired destination of the same name
 * (both keep a reference; the last one freed frees them).
 */
void relayqd_dest_stats_share(struct relayqd_dest *d, struct relayqd_dest *old);

/* The settings of d's smarthost (borrowed from d->conf). */
const struct conf_smarthost *relayqd_dest_sh(const struct relayqd_dest *d);

/*
 * Creates d's pace and loads its state from file in directory dirfd
 * (path names it for the log): a restart keeps a daily quota; a file
 * that cannot be read is logged and the buckets start empty.
 */
void relayqd_dest_rate_start(struct relayqd_dest *d, int dirfd,
    const char *path, const char *file, long long now_ms);

/*
 * Frees d, which must have no session left (cancels an OAuth2 refresh in
 * flight, drops its share of a held configuration); NULL is a no-op.
 */
void relayqd_dest_free(struct relayqd_dest *d);

/*
 * Takes k (from relayqd_dest_keys_new) in place of d's settings after
 * the daemon's configuration was replaced; the OAuth2 token survives
 * when its settings are unchanged.  Only for a section whose session
 * settings are unchanged (relayqd_dest_is_same): a change of AUTH,
 * password_command or OAuth2 keys makes a new destination instead.
 * Sessions keep what they copied.  The pace takes the new limits.
 */
void relayqd_dest_reload(struct relayqd_dest *d, struct relayqd_dest_keys *k,
    long long now_ms);

/* Fills dc with how d's sessions connect (borrowed from d's conf). */
void relayqd_dest_dial_conf(const struct relayqd_dest *d,
    struct relayqd_dial_conf *dc);

/* Returns how many sessions may be open now (1 during slow start). */
int relayqd_dest_limit(const struct relayqd_dest *d);

/* True when d is down and its next probe may start at now_ms. */
int relayqd_dest_may_probe(const struct relayqd_dest *d, long long now_ms);

/*
 * Returns when a message that waits for d's next probe is due (seconds):
 * the probe's second, or now when that is this second or past.
 */
long long relayqd_dest_probe_due(const struct relayqd_dest *d, long long now);

/*
 * A session failed before it could carry mail, or the server throttled:
 * marks d down (slow start again) and draws the next probe's time from
 * rnd.  Logs it.  Returns 1, or 0 when d was down already and this was
 * not its probe (a session started before it went down).
 */
int relayqd_dest_mark_down(struct relayqd_dest *d, const char *why,
    long long now_ms, uint32_t rnd);

/*
 * A session got as far as ready: d is up and slow start is over, unless
 * a ready session failed since (need_tx): then d is up with one session
 * until a message is accepted.  Returns 1, or 0 when nothing changed
 * (d is down, needs a message accepted, and this was not its probe).
 */
int relayqd_dest_mark_up(struct relayqd_dest *d);

/*
 * A message (at least one recipient) was accepted.  Returns 1 when that
 * ends a slow start that waited for it (need_tx; logged; the caller then
 * marks d up), else 0.
 */
int relayqd_dest_mark_accepted(struct relayqd_dest *d);

/*
 * A wake-up (new mail, a flush): brings d's next probe forward to now_ms,
 * unless it is not down, a probe runs, or one started less than gap
 * seconds ago.  Logs it when it does.
 */
void relayqd_dest_wake(struct relayqd_dest *d, long long now_ms, long long gap);

/*
 * Dispatch (issue 15).  A route is a smarthost's candidate chain
 * (conf_smarthost's chain: itself, then its fallbacks), indexes into
 * dests, which has one destination per conf->smarthosts[i].
 *
 * Returns the destination a message of the route goes to now: the first
 * candidate that is not down; NULL when every one is down (the message
 * waits for a probe, relayqd_dest_probe_for).
 */
struct relayqd_dest *relayqd_dest_pick(struct relayqd_dest *const *dests,
    const size_t *chain, size_t nchain);

/*
 * True when d's next probe may start at now_ms carrying a message of the
 * route: d is down with its probe due (relayqd_dest_may_probe), d is a
 * candidate, and every candidate before it is down.  So the primary is
 * probed with its own route's mail while a fallback carries the rest,
 * and mail goes back to the primary (failback) as soon as a probe gets
 * ready; while every candidate is down each one is probed on its own
 * schedule and the first that answers takes the mail.
 */
int relayqd_dest_probe_for(struct relayqd_dest *const *dests,
    const size_t *chain, size_t nchain, const struct relayqd_dest *d,
    long long now_ms);

/*
 * Returns when a message of the route whose attempt failed with the
 * destination (now marked down) is due again (seconds): now when another
 * candidate is up (failover costs no backoff), else the earliest probe
 * of a candidate (relayqd_dest_probe_due).
 */
long long relayqd_dest_route_due(struct relayqd_dest *const *dests,
    const size_t *chain, size_t nchain, long long now);

#endif
