/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The destination object (relayqd_dest.h).  Its backoff state changes
 * only here: relayqd_dest_mark_down() when a session failed before it
 * could carry mail or the server throttled, relayqd_dest_mark_up() when
 * a session got as far as ready, relayqd_dest_wake() when new mail or a
 * flush may bring the next probe forward.  A probe is one connection,
 * whatever the queue holds: its interval backs off from retry_min to
 * retry_max but is capped at probe_max, so that mail drains within
 * probe_max of the smarthost's return (laptops coming back online),
 * without hammering it.  The wait is drawn uniformly from the upper half
 * of the interval (issue 17): N hosts that failed together then probe
 * about N / probe_max times a second, not N at once, and drift further
 * apart with each probe.  The backoff is not durable (a restart begins
 * with slow start); the pace is (relayqd_rate.h).
 */
#include "config.h"

#include "relayqd/relayqd_dest.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "relayqd/relayqd_conn.h"
#include "relayqd/relayqd_dial.h"
#include "relayqd/relayqd_oauth2.h"
#include "relayqd/relayqd_pwcmd.h"
#include "relayqd/relayqd_rate.h"
#include "relayqd/relayqd_sched.h"
#include "smarthost/smarthost_auth.h"
#include "smarthost/smarthost_tls.h"

static void relayqd_dest_set_label(struct relayqd_dest *);

/* A configuration kept by retired destinations (relayqd_dest_hold_new). */
struct relayqd_dest_hold {
	struct conf conf; /* owned */
	unsigned refs;
};

/*
 * The string keys of a smarthost section that its sessions use: where
 * they connect, how they check the server, what they authenticate with.
 * A reload that changes one retires the destination (relayqd_dest.h).
 */
static const size_t relayqd_dest_session_keys[] = {
	offsetof(struct conf_smarthost, host),
	offsetof(struct conf_smarthost, ca_file),
	offsetof(struct conf_smarthost, ca_path),
	offsetof(struct conf_smarthost, username),
	offsetof(struct conf_smarthost, password_file),
	offsetof(struct conf_smarthost, password_command),
	offsetof(struct conf_smarthost, auth),
	offsetof(struct conf_smarthost, helo_name),
	offsetof(struct conf_smarthost, tls_fingerprint),
	offsetof(struct conf_smarthost, tls_cert),
	offsetof(struct conf_smarthost, tls_key),
	offsetof(struct conf_smarthost, tls_min_version),
	offsetof(struct conf_smarthost, provider),
	offsetof(struct conf_smarthost, tenant),
	offsetof(struct conf_smarthost, oauth2_token_url),
	offsetof(struct conf_smarthost, oauth2_client_id),
	offsetof(struct conf_smarthost, oauth2_client_secret_file),
	offsetof(struct conf_smarthost, oauth2_grant),
	offsetof(struct conf_smarthost, oauth2_refresh_token_file),
	offsetof(struct conf_smarthost, oauth2_scope),
	offsetof(struct conf_smarthost, oauth2_device_url),
	offsetof(struct conf_smarthost, oauth2_auth_url),
	offsetof(struct conf_smarthost, oauth2_ca_file),
};

/* Frees what relayqd_dest_keys_new() built. */
void
relayqd_dest_keys_free(struct relayqd_dest_keys *k)
{
	relayqd_oauth2_free(k->oauth2);
	smarthost_auth_free(k->auth);
	smarthost_tls_free(k->tls);
	memset(k, 0, sizeof(*k));
}

/*
 * Fills view with c, but with smarthost index as its only smarthost: the
 * libraries (TLS, AUTH, OAuth2) read smarthosts[0] and copy what they
 * keep, so the view lives only while they are built.
 */
static void
relayqd_dest_view(const struct conf *c, size_t index, struct conf *view)
{
	*view = *c;
	view->smarthosts = &c->smarthosts[index];
	view->nsmarthosts = 1;
}

/* Builds the credentials and TLS context of nc; see relayqd_dest.h. */
int
relayqd_dest_keys_new(struct relayd *rd, struct relayqd_dest *d,
    const struct conf *nc, size_t index, struct relayqd_dest_keys *k,
    struct rq_err *err)
{
	const struct conf_smarthost *sh = &nc->smarthosts[index];
	struct conf view;
	struct rq_err e;
	const char *why;
	char msg[sizeof(e.msg) + 64];

	memset(k, 0, sizeof(*k));
	relayqd_dest_view(nc, index, &view);
	if (sh->tls != CONF_TLS_NONE &&
	    (k->tls = smarthost_tls_new(&view, &e)) == NULL)
		goto fail;
	/* AUTH checks the secret file's owner against our effective uid. */
	if ((k->auth = smarthost_auth_new(&view, &e)) == NULL &&
	    e.msg[0] != '\0')
		goto fail;
	/* As relayq check-config does, with our own uid and PATH. */
	if (smarthost_auth_has_command(k->auth) &&
	    smarthost_auth_check_program(&view, (uid_t)-1, &e) == -1)
		goto fail;
	if ((why = smarthost_auth_check_tls(k->auth, &view)) != NULL) {
		(void)!rq_snprintf(e.msg, sizeof(e.msg), "%s", why);
		goto fail;
	}
	if (sh->tls != CONF_TLS_NONE && !sh->tls_verify &&
	    sh->tls_fingerprint[0] == '\0')
		log_warnx("tls_verify = no: the smarthost's certificate is not "
			  "checked%s%s%s; a man in the middle can read this "
			  "mail",
		    index == 0 ? "" : " ([smarthost ",
		    index == 0 ? "" : sh->name, index == 0 ? "" : "])");
	if ((k->oauth2 = relayqd_oauth2_new(rd, d, &view, &e)) == NULL &&
	    e.msg[0] != '\0')
		goto fail;
	return 0;
fail:
	conf_smarthost_msg(sh, e.msg, msg, sizeof(msg));
	rq_err_set(err, "%s: %s", nc->path, msg);
	relayqd_dest_keys_free(k);
	return -1;
}

/* True when d may keep its sessions under nc's smarthost index. */
int
relayqd_dest_is_same(const struct relayqd_dest *d, const struct conf *nc,
    size_t index)
{
	const struct conf_smarthost *a = relayqd_dest_sh(d);
	const struct conf_smarthost *b = &nc->smarthosts[index];

	if (strcmp(a->name, b->name) != 0 || a->port != b->port ||
	    a->tls != b->tls || a->tls_verify != b->tls_verify ||
	    a->allow_plaintext_auth != b->allow_plaintext_auth)
		return 0;
	for (size_t i = 0; i < RQ_NELEM(relayqd_dest_session_keys); i++) {
		size_t off = relayqd_dest_session_keys[i];
		const char *x =
		    *(char *const *)(const void *)((const char *)a + off);
		const char *y =
		    *(char *const *)(const void *)((const char *)b + off);

		if (strcmp(x, y) != 0)
			return 0;
	}
	return 1;
}

/* Takes c for retired destinations. */
struct relayqd_dest_hold *
relayqd_dest_hold_new(struct conf *c)
{
	struct relayqd_dest_hold *h = xcalloc(1, sizeof(*h));

	h->conf = *c;
	memset(c, 0, sizeof(*c));
	h->refs = 1;
	return h;
}

/* Drops a reference to h. */
void
relayqd_dest_hold_drop(struct relayqd_dest_hold *h)
{
	if (h == NULL || --h->refs > 0)
		return;
	conf_free(&h->conf);
	free(h);
}

/* Retires d; see relayqd_dest.h. */
void
relayqd_dest_retire(struct relayqd_dest *d, struct relayqd_dest_hold *h,
    const struct conf *nc)
{
	const char *why;

	d->conf = &h->conf;
	why = conf_smarthost_find(nc, relayqd_dest_sh(d)->name) == -1
	    ? "its section was removed or renamed"
	    : "its settings changed";
	d->hold = h;
	h->refs++;
	d->retired = 1;
	d->probing = 0;
	if (d->ev_rate != NULL)
		event_del(d->ev_rate);
	log_info("smarthost %s: retired by the reload (%s); %d session%s "
		 "left",
	    d->label, why, d->nconns, d->nconns == 1 ? "" : "s");
}

/* Creates the destination of c's smarthost index. */
struct relayqd_dest *
relayqd_dest_new(struct relayd *rd, const struct conf *c, size_t index,
    struct rq_err *err)
{
	struct relayqd_dest *d;
	struct relayqd_dest_keys k;

	if (c->smarthosts[index].host[0] == '\0') {
		if (index == 0)
			rq_err_set(err, "%s: [smarthost] host is not set",
			    c->path);
		else
			rq_err_set(err, "%s: [smarthost %s] host is not set",
			    c->path, c->smarthosts[index].name);
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->stats = xcalloc(1, sizeof(*d->stats));
	d->stats->refs = 1;
	d->conf = c;
	d->index = index;
	TAILQ_INIT(&d->conns);
	if (relayqd_dest_keys_new(rd, d, c, index, &k, err) == -1) {
		free(d->stats);
		free(d);
		return NULL;
	}
	d->tls = k.tls;
	d->auth = k.auth;
	d->oauth2 = k.oauth2;
	relayqd_dest_set_label(d);
	return d;
}

/*
 * Names d in the log: its host for [smarthost] (as before there were
 * several), "NAME (host)" for [smarthost NAME].
 */
static void
relayqd_dest_set_label(struct relayqd_dest *d)
{
	const struct conf_smarthost *sh = relayqd_dest_sh(d);

	if (d->index == 0)
		(void)!rq_snprintf(d->label, sizeof(d->label), "%s", sh->host);
	else
		(void)!rq_snprintf(d->label, sizeof(d->label), "%s (%s)",
		    sh->name, sh->host);
}

/* The settings of d's smarthost. */
const struct conf_smarthost *
relayqd_dest_sh(const struct relayqd_dest *d)
{
	return &d->conf->smarthosts[d->index];
}

/* Creates the pace and loads it. */
void
relayqd_dest_rate_start(struct relayqd_dest *d, int dirfd, const char *path,
    const char *file, long long now_ms)
{
	const struct conf_smarthost *sh = relayqd_dest_sh(d);
	const struct conf_rate *m = &sh->rate_limit;
	const struct conf_rate *rc = &sh->recipient_limit;
	struct relayqd_rate_view v;
	const char *errstr = "";
	char mtxt[64], rtxt[64];

	d->rate = relayqd_rate_new(d->label, m, rc, now_ms);
	if (relayqd_rate_load(d->rate, dirfd, file, now_ms, &errstr) == -1)
		log_warnx("%s/%s: %s; the rate buckets start empty (never "
			  "above the limit) and refill",
		    path, file, errstr);
	if (!relayqd_rate_is_limited(d->rate))
		return;
	relayqd_rate_view(d->rate, now_ms, &v);
	relayqd_rate_limit_txt(m, mtxt, sizeof(mtxt));
	relayqd_rate_limit_txt(rc, rtxt, sizeof(rtxt));
	log_info("smarthost %s: rate_limit %s, bucket %.2f; "
		 "recipient_limit %s, bucket %.2f; pace %.3g/s%s",
	    d->label, mtxt, v.messages, rtxt, v.recipients, v.pace,
	    v.throttled ? " (throttled)" : "");
}

static void relayqd_dest_stats_drop(struct relayqd_dest_stats *st);

/* Frees d. */
void
relayqd_dest_free(struct relayqd_dest *d)
{
	if (d == NULL)
		return;
	if (d->ev_rate != NULL)
		event_free(d->ev_rate);
	relayqd_rate_free(d->rate);
	relayqd_oauth2_free(d->oauth2); /* cancels a refresh in flight */
	relayqd_pwcmd_free(d->pwcmd);	/* kills and reaps a command left */
	smarthost_tls_free(d->tls);
	smarthost_auth_free(d->auth);
	relayqd_dest_hold_drop(d->hold);
	relayqd_dest_stats_drop(d->stats);
	free(d);
}

/* Drops a reference to st; the last one frees it. */
static void
relayqd_dest_stats_drop(struct relayqd_dest_stats *st)
{
	if (st != NULL && --st->refs == 0)
		free(st);
}

/* Counts d into old's figures. */
void
relayqd_dest_stats_share(struct relayqd_dest *d, struct relayqd_dest *old)
{
	relayqd_dest_stats_drop(d->stats);
	d->stats = old->stats;
	d->stats->refs++;
}

/* Takes the new settings. */
void
relayqd_dest_reload(struct relayqd_dest *d, struct relayqd_dest_keys *k,
    long long now_ms)
{
	/* A refresh in flight finishes; the token survives if unchanged. */
	if (k->oauth2 != NULL && d->oauth2 != NULL)
		relayqd_oauth2_update(d->oauth2, k->oauth2);
	else {
		relayqd_oauth2_free(d->oauth2); /* cancels a refresh */
		d->oauth2 = k->oauth2;
	}
	/* Sessions keep their SSL objects, which hold a context reference,
	 * and copy what they need from the AUTH settings. */
	smarthost_tls_free(d->tls);
	d->tls = k->tls;
	smarthost_auth_free(d->auth);
	d->auth = k->auth;
	memset(k, 0, sizeof(*k));
	relayqd_dest_set_label(d);
	relayqd_rate_configure(d->rate, &relayqd_dest_sh(d)->rate_limit,
	    &relayqd_dest_sh(d)->recipient_limit, now_ms);
}

/* How d's sessions connect. */
void
relayqd_dest_dial_conf(const struct relayqd_dest *d,
    struct relayqd_dial_conf *dc)
{
	dc->host = relayqd_dest_sh(d)->host;
	dc->port = relayqd_dest_sh(d)->port;
	dc->timeout = d->conf->delivery_connect_timeout;
	dc->stagger_ms = RELAYQD_DIAL_STAGGER_MS;
}

/*
 * Sessions allowed now: one while the smarthost has not answered since
 * the start or since it was down (slow start: a fleet that comes back
 * does not open max_connections each before it knows the server is
 * there), else max_connections.
 */
int
relayqd_dest_limit(const struct relayqd_dest *d)
{
	return d->ok ? d->conf->delivery_max_connections : 1;
}

/* True when the next probe may start. */
int
relayqd_dest_may_probe(const struct relayqd_dest *d, long long now_ms)
{
	return d->down && !d->probing && d->nconns == 0 &&
	    now_ms >= d->probe_ms;
}

/*
 * The probe's second (so that the probe finds the message due), or now.
 * Never a backoff of its own: the probe may be less than a second away,
 * and a retry_min wait would then strand the message long after the
 * smarthost is back.
 */
long long
relayqd_dest_probe_due(const struct relayqd_dest *d, long long now)
{
	return d->probe_ms / 1000 > now ? d->probe_ms / 1000 : now;
}

/* Marks d down; see the file header for the probe schedule. */
int
relayqd_dest_mark_down(struct relayqd_dest *d, const char *why,
    long long now_ms, uint32_t rnd)
{
	const struct conf *c = d->conf;
	long long wait;

	if (d->down && !d->probing) {
		/* A session opened before the destination went down. */
		log_info("smarthost %s: session failed (%s); already backing "
			 "off",
		    d->label, why);
		return 0;
	}
	/* A probe that got ready, then was throttled, still counts. */
	d->fails = d->down || d->need_tx ? d->fails + 1 : 1;
	if (!d->down)
		d->down_since = now_ms / 1000;
	d->down = 1;
	d->ok = 0; /* slow start again once it answers */
	d->probing = 0;
	wait = relayqd_sched_probe_delay(c->delivery_retry_min,
	    c->delivery_retry_max, c->delivery_probe_max, d->fails, rnd);
	d->probe_ms = now_ms + wait;
	strlcpy(d->error, why, sizeof(d->error));
	log_info("smarthost %s unavailable (%s); failures=%u, next probe in "
		 "%.3fs",
	    d->label, why, d->fails, (double)wait / 1000);
	return 1;
}

/*
 * Marks d up.  After a failure of a ready session (need_tx) a session
 * that got ready is not enough: the probe session carries messages,
 * alone, until one is accepted (relayqd_dest_mark_accepted).
 */
int
relayqd_dest_mark_up(struct relayqd_dest *d)
{
	const struct conf *c = d->conf;

	if (d->need_tx) {
		if (d->down && !d->probing)
			return 0; /* a session opened before: it QUITs */
		if (d->down)
			log_info("smarthost %s answered after %u failed "
				 "probe%s; one session until it accepts a "
				 "message",
			    d->label, d->fails, d->fails == 1 ? "" : "s");
		d->down = 0;
		d->probing = 0;
		d->probe_ms = 0;
		return 1;
	}
	if (d->down)
		log_info("smarthost %s is back after %u failed probe%s; "
			 "draining the queue",
		    d->label, d->fails, d->fails == 1 ? "" : "s");
	if (!d->ok)
		log_debug("smarthost %s answered: up to %d sessions", d->label,
		    c->delivery_max_connections);
	d->down = 0;
	d->ok = 1;
	d->probing = 0;
	d->fails = 0;
	d->probe_ms = 0;
	d->error[0] = '\0';
	return 1;
}

/* A message was accepted: ends a slow start that waited for one. */
int
relayqd_dest_mark_accepted(struct relayqd_dest *d)
{
	if (!d->need_tx)
		return 0;
	d->need_tx = 0;
	log_info("smarthost %s accepted a message; draining the queue",
	    d->label);
	return 1;
}

/* Brings the next probe forward. */
void
relayqd_dest_wake(struct relayqd_dest *d, long long now_ms, long long gap)
{
	if (!d->down || d->probing || d->probe_ms <= now_ms ||
	    now_ms / 1000 - d->last_probe < gap)
		return;
	log_info("smarthost %s: woken up, probing now instead of in %.1fs",
	    d->label, (double)(d->probe_ms - now_ms) / 1000);
	d->probe_ms = now_ms;
}

/* The destination a message of a route goes to now (relayqd_dest.h). */
struct relayqd_dest *
relayqd_dest_pick(struct relayqd_dest *const *dests, const size_t *chain,
    size_t nchain)
{
	for (size_t i = 0; i < nchain; i++)
		if (!dests[chain[i]]->down)
			return dests[chain[i]];
	return NULL;
}

/* True when d's probe may carry a message of the route now. */
int
relayqd_dest_probe_for(struct relayqd_dest *const *dests, const size_t *chain,
    size_t nchain, const struct relayqd_dest *d, long long now_ms)
{
	if (!relayqd_dest_may_probe(d, now_ms))
		return 0;
	for (size_t i = 0; i < nchain; i++) {
		if (dests[chain[i]] == d)
			return 1;
		if (!dests[chain[i]]->down)
			return 0; /* one before it is up: the mail goes there */
	}
	return 0;
}

/* When a message of the route that could not go is due again. */
long long
relayqd_dest_route_due(struct relayqd_dest *const *dests, const size_t *chain,
    size_t nchain, long long now)
{
	long long due = -1, t;

	if (relayqd_dest_pick(dests, chain, nchain) != NULL)
		return now; /* a candidate is up: at once, no backoff */
	for (size_t i = 0; i < nchain; i++) {
		t = relayqd_dest_probe_due(dests[chain[i]], now);
		if (due == -1 || t < due)
			due = t;
	}
	return due != -1 ? due : now;
}
