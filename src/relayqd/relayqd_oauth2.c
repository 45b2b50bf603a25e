/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The shared OAuth2 access token of the smarthost: cache, single refresh
 * and failure policy (see relayqd_oauth2.h).  Owns the token (wiped
 * before it is freed) and the one refresh in flight; the sessions that
 * wait for it are relayqd_conn's, found by their RC_TOKEN flag when it
 * ends.  The durable rotation of the refresh token is oauth2_client's
 * and oauth2_store's; this module never touches the file.
 *
 * Expiry: a token is used until expires_in minus a margin (a third of
 * its lifetime, at least 1 s and at most RELAYQD_OAUTH2_MARGIN_MAX), so a
 * session that starts with it reaches AUTH before it expires, even on a
 * loaded machine.  A token
 * the smarthost refuses anyway is dropped (relayqd_oauth2_reject) and the
 * next session waits for a new one.
 */
#include "config.h"

#include "relayqd/relayqd_oauth2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "oauth2/oauth2_client.h"
#include "oauth2/oauth2_store.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_alert.h"
#include "relayqd/relayqd_conn.h"
#include "relayqd/relayqd_dest.h"
#include "smarthost/smarthost_tls.h"

#define RELAYQD_OAUTH2_MARGIN_MAX 300

struct relayqd_oauth2 {
	struct relayd *rd;	   /* borrowed: base, dns, spool, alerts */
	struct relayqd_dest *dest; /* borrowed: whose sessions wait */
	struct conf keys;	   /* owned: smarthosts[0]'s oauth2_* strings */
	char *token;		   /* owned, wiped: the access token, or NULL */
	long long valid_until;	   /* monotonic seconds: expiry minus margin */
	unsigned gen;		   /* bumped for every new token */
	struct oauth2_client *fetch; /* owned: the refresh in flight */
	int rejected;		     /* an invalid_grant incident is open */
	long long started;	     /* when the refresh began (monotonic) */
};

/* A refresh whose relayqd_oauth2 is gone, finishing (rd->oauth2_orphans). */
struct relayqd_oauth2_orphan {
	struct relayd *rd;
	struct oauth2_client *fetch; /* owned by the token client */
};

/* Monotonic seconds. */
static long long
relayqd_oauth2_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/*
 * Publishes the last refresh for relayq oauth2 status in <spool>/oauth2
 * ([smarthost]) or <spool>/oauth2.NAME ([smarthost NAME], so that two
 * smarthosts with OAuth2 do not overwrite each other's), written to a
 * .tmp file and renamed, mode 0644: the time, the result, the reason and
 * the access token's expiry (epoch seconds), never a token.  A failure
 * is only logged once the log has the refresh anyway.
 */
static void
relayqd_oauth2_publish(struct relayqd_oauth2 *o, const char *result,
    const char *why, long long expires)
{
	struct relayd *rd = o->rd;
	char buf[1024], file[64], tmp[80];
	int fd, n;

	if (o->dest == NULL || o->dest->index == 0)
		strlcpy(file, "oauth2", sizeof(file));
	else if (rq_snprintf(file, sizeof(file), "oauth2.%s",
		     relayqd_dest_sh(o->dest)->name) == -1)
		return;
	(void)!rq_snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	n = rq_snprintf(buf, sizeof(buf),
	    "relayq-oauth2 1\nlast_refresh=%lld\nresult=%s\nreason=%s\n"
	    "expires=%lld\n",
	    (long long)time(NULL), result, why, expires);
	if (n == -1 ||
	    (fd = openat(rd->spool.rootfd, tmp,
		 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		 0644)) == -1)
		return;
	if (fchmod(fd, 0644) == -1 || write(fd, buf, (size_t)n) != n) {
		(void)close(fd);
		(void)unlinkat(rd->spool.rootfd, tmp, 0);
		return;
	}
	if (close(fd) == -1 ||
	    renameat(rd->spool.rootfd, tmp, rd->spool.rootfd, file) == -1) {
		log_warn("cannot write %s/%s", rd->spool.path, file);
		(void)unlinkat(rd->spool.rootfd, tmp, 0);
	}
}

/* Wipes the cached token. */
static void
relayqd_oauth2_drop(struct relayqd_oauth2 *o)
{
	if (o->token == NULL)
		return;
	OPENSSL_cleanse(o->token, strlen(o->token));
	free(o->token);
	o->token = NULL;
}

/* Copies the OAuth2 keys of c into o->keys. */
static void
relayqd_oauth2_copy_keys(struct conf *k, const struct conf *c)
{
	memset(k, 0, sizeof(*k));
	k->smarthosts = xcalloc(1, sizeof(*k->smarthosts));
	k->nsmarthosts = 1;
	k->smarthosts[0].oauth2_token_url =
	    xstrdup(c->smarthosts[0].oauth2_token_url);
	k->smarthosts[0].oauth2_client_id =
	    xstrdup(c->smarthosts[0].oauth2_client_id);
	k->smarthosts[0].oauth2_client_secret_file =
	    xstrdup(c->smarthosts[0].oauth2_client_secret_file);
	k->smarthosts[0].oauth2_grant = xstrdup(c->smarthosts[0].oauth2_grant);
	k->smarthosts[0].oauth2_refresh_token_file =
	    xstrdup(c->smarthosts[0].oauth2_refresh_token_file);
	k->smarthosts[0].oauth2_scope = xstrdup(c->smarthosts[0].oauth2_scope);
	k->smarthosts[0].oauth2_ca_file =
	    xstrdup(c->smarthosts[0].oauth2_ca_file);
	k->delivery_connect_timeout = c->delivery_connect_timeout;
}

/* Frees what relayqd_oauth2_copy_keys() copied. */
static void
relayqd_oauth2_free_keys(struct conf *k)
{
	free(k->smarthosts[0].oauth2_token_url);
	free(k->smarthosts[0].oauth2_client_id);
	free(k->smarthosts[0].oauth2_client_secret_file);
	free(k->smarthosts[0].oauth2_grant);
	free(k->smarthosts[0].oauth2_refresh_token_file);
	free(k->smarthosts[0].oauth2_scope);
	free(k->smarthosts[0].oauth2_ca_file);
	free(k->smarthosts);
	memset(k, 0, sizeof(*k));
}

/* Creates the cache. */
struct relayqd_oauth2 *
relayqd_oauth2_new(struct relayd *rd, struct relayqd_dest *dest,
    const struct conf *c, struct rq_err *err)
{
	struct relayqd_oauth2 *o;
	char *s;
	size_t n;

	err->msg[0] = '\0';
	if (c->smarthosts[0].oauth2_token_url[0] == '\0')
		return NULL;
	if (c->smarthosts[0].oauth2_ca_file[0] != '\0' &&
	    smarthost_tls_check_pem("oauth2_ca_file",
		c->smarthosts[0].oauth2_ca_file, err) == -1)
		return NULL;
	if (c->smarthosts[0].oauth2_client_secret_file[0] != '\0') {
		if (oauth2_store_read(c->smarthosts[0]
					  .oauth2_client_secret_file,
			0, &s, &n, err) == -1)
			return NULL;
		OPENSSL_cleanse(s, n);
		free(s);
	}
	if (strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") == 0) {
		struct rq_err e;

		if (oauth2_store_read(c->smarthosts[0]
					  .oauth2_refresh_token_file,
			1, &s, &n, &e) == -1)
			log_warnx("OAuth2: %s; mail waits until relayq oauth2 "
				  "login writes it",
			    e.msg);
		else {
			OPENSSL_cleanse(s, n);
			free(s);
		}
		if (oauth2_store_dir_check(c->smarthosts[0]
					       .oauth2_refresh_token_file,
			geteuid(), &e) == -1)
			log_warnx("OAuth2: %s; no refresh is sent (the "
				  "refresh token would be spent and its "
				  "successor lost) until relayqd may",
			    e.msg);
	}
	o = xcalloc(1, sizeof(*o));
	o->rd = rd;
	o->dest = dest;
	relayqd_oauth2_copy_keys(&o->keys, c);
	return o;
}

/* True when the settings that make a token differ. */
static int
relayqd_oauth2_differ(const struct conf *a, const struct conf *b)
{
	return strcmp(a->smarthosts[0].oauth2_token_url,
		   b->smarthosts[0].oauth2_token_url) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_client_id,
		b->smarthosts[0].oauth2_client_id) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_client_secret_file,
		b->smarthosts[0].oauth2_client_secret_file) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_grant,
		b->smarthosts[0].oauth2_grant) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_refresh_token_file,
		b->smarthosts[0].oauth2_refresh_token_file) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_scope,
		b->smarthosts[0].oauth2_scope) != 0 ||
	    strcmp(a->smarthosts[0].oauth2_ca_file,
		b->smarthosts[0].oauth2_ca_file) != 0;
}

/* Takes over a reloaded configuration. */
void
relayqd_oauth2_update(struct relayqd_oauth2 *o, struct relayqd_oauth2 *n)
{
	struct conf tmp;

	if (relayqd_oauth2_differ(&o->keys, &n->keys)) {
		relayqd_oauth2_drop(o);
		o->rejected = 0;
	}
	tmp = o->keys;
	o->keys = n->keys;
	n->keys = tmp;
	relayqd_oauth2_free(n);
}

/* Removes h from rd's orphans and frees it. */
static void
relayqd_oauth2_orphan_free(struct relayqd_oauth2_orphan *h)
{
	struct relayd *rd = h->rd;

	for (size_t i = 0; i < rd->noauth2_orphans; i++)
		if (rd->oauth2_orphans[i] == h) {
			rd->oauth2_orphans[i] =
			    rd->oauth2_orphans[--rd->noauth2_orphans];
			break;
		}
	free(h);
}

/* An orphaned refresh ended: logged; the stopping loop may end now. */
static void
relayqd_oauth2_orphan_done(void *arg, enum oauth2_client_result r,
    struct oauth2_token *t, const char *why)
{
	struct relayqd_oauth2_orphan *h = arg;
	struct relayd *rd = h->rd;

	if (r == OAUTH2_CLIENT_OK) {
		log_info("OAuth2: the refresh begun before the reload or "
			 "shutdown has ended%s",
		    t->refresh_token != NULL ? "; rotated refresh token stored"
					     : "");
		oauth2_token_clear(t);
	} else
		log_warnx("OAuth2: the refresh begun before the reload or "
			  "shutdown has ended: %s: %s",
		    oauth2_client_result_name(r), why);
	relayqd_oauth2_orphan_free(h);
	if (rd->stopping)
		relayqd_kick(rd);
}

/* Hands o's refresh in flight over to rd's orphans (or cancels it). */
static void
relayqd_oauth2_let_go(struct relayqd_oauth2 *o)
{
	struct relayd *rd = o->rd;
	struct relayqd_oauth2_orphan *h;

	if (o->fetch == NULL)
		return;
	h = xcalloc(1, sizeof(*h));
	h->rd = rd;
	h->fetch = o->fetch;
	o->fetch = NULL;
	if (!oauth2_client_detach(h->fetch, relayqd_oauth2_orphan_done, h)) {
		free(h);
		return;
	}
	rd->oauth2_orphans = xreallocarray(rd->oauth2_orphans,
	    rd->noauth2_orphans + 1, sizeof(*rd->oauth2_orphans));
	rd->oauth2_orphans[rd->noauth2_orphans++] = h;
	log_info("OAuth2: the refresh in flight to %s goes on until its "
		 "reply is in (at most %llds), so that a rotated refresh "
		 "token is stored",
	    o->keys.smarthosts[0].oauth2_token_url,
	    (long long)o->keys.delivery_connect_timeout);
}

/* Lets go of the refresh at shutdown. */
void
relayqd_oauth2_stop(struct relayqd_oauth2 *o)
{
	if (o != NULL)
		relayqd_oauth2_let_go(o);
}

/* Cancels the orphans left. */
void
relayqd_oauth2_orphans_free(struct relayd *rd)
{
	while (rd->noauth2_orphans > 0) {
		struct relayqd_oauth2_orphan *h = rd->oauth2_orphans[0];

		oauth2_client_cancel(h->fetch);
		relayqd_oauth2_orphan_free(h);
	}
	free(rd->oauth2_orphans);
	rd->oauth2_orphans = NULL;
}

/* Frees the cache. */
void
relayqd_oauth2_free(struct relayqd_oauth2 *o)
{
	if (o == NULL)
		return;
	relayqd_oauth2_let_go(o);
	relayqd_oauth2_drop(o);
	relayqd_oauth2_free_keys(&o->keys);
	free(o);
}

/* Returns the cached token while it is valid. */
const char *
relayqd_oauth2_token(struct relayqd_oauth2 *o, unsigned *gen)
{
	if (o->token != NULL && relayqd_oauth2_now() >= o->valid_until) {
		log_debug("OAuth2 access token expires soon; renewing it");
		relayqd_oauth2_drop(o);
	}
	*gen = o->gen;
	return o->token;
}

/* The refresh ended: cache the token or apply the failure policy. */
static void
relayqd_oauth2_done(void *arg, enum oauth2_client_result r,
    struct oauth2_token *t, const char *why)
{
	struct relayqd_oauth2 *o = arg;
	struct relayd *rd = o->rd;
	char text[512];
	long long margin;

	o->fetch = NULL;
	if (r == OAUTH2_CLIENT_OK) {
		relayqd_oauth2_drop(o);
		o->token = t->access_token;
		t->access_token = NULL;
		margin = t->expires_in / 3;
		if (margin < 1)
			margin = 1;
		if (margin > RELAYQD_OAUTH2_MARGIN_MAX)
			margin = RELAYQD_OAUTH2_MARGIN_MAX;
		o->valid_until = relayqd_oauth2_now() + t->expires_in - margin;
		o->gen++;
		relayqd_oauth2_publish(o, "ok", "",
		    (long long)time(NULL) + t->expires_in);
		log_info("OAuth2 access token obtained from %s (expires in "
			 "%llds%s)",
		    o->keys.smarthosts[0].oauth2_token_url, t->expires_in,
		    t->refresh_token != NULL ? ", refresh token rotated" : "");
		oauth2_token_clear(t);
		if (o->rejected)
			log_info("OAuth2: the token endpoint accepts the "
				 "refresh token again");
		o->rejected = 0;
		relayqd_conn_token_done(o->dest, 1, NULL);
		return;
	}
	if (r == OAUTH2_CLIENT_REJECTED) {
		(void)!rq_snprintf(text, sizeof(text), "%s (%s)",
		    RELAYQD_OAUTH2_REJECTED_TEXT, why);
		log_warnx("%s", text);
		relayqd_oauth2_publish(o, "rejected", text, 0);
		if (!o->rejected) {
			o->rejected = 1;
			relayqd_alert_event(rd->alert, RELAYQD_ALERT_OAUTH2,
			    RELAYQD_OAUTH2_REJECTED_TEXT);
		}
		relayqd_conn_token_done(o->dest, 0,
		    RELAYQD_OAUTH2_REJECTED_TEXT);
		return;
	}
	(void)!rq_snprintf(text, sizeof(text), "OAuth2 token %s: %s",
	    r == OAUTH2_CLIENT_DOWN ? "endpoint unavailable"
				    : "request refused",
	    why);
	log_warnx("%s", text);
	relayqd_oauth2_publish(o, oauth2_client_result_name(r), text, 0);
	relayqd_conn_token_done(o->dest, 0, text);
}

/* The token client's remark on its addresses: logged. */
static void
relayqd_oauth2_note(void *arg, int failed, const char *text)
{
	(void)arg;
	if (failed)
		log_warnx("OAuth2 %s", text);
	else
		log_info("OAuth2 %s", text);
}

/* Starts a refresh unless one is running. */
void
relayqd_oauth2_refresh(struct relayqd_oauth2 *o)
{
	struct oauth2_client_conf cc;
	struct rq_err err;
	char text[512];

	if (o->fetch != NULL)
		return;
	if (o->rd->stopping) {
		relayqd_conn_token_done(o->dest, 0, "relayqd is stopping");
		return;
	}
	oauth2_client_conf_from(&cc, &o->keys);
	cc.note = relayqd_oauth2_note;
	o->started = relayqd_oauth2_now();
	log_debug("OAuth2: requesting an access token from %s", cc.token_url);
	o->fetch = oauth2_client_start(o->rd->base, o->rd->dns, &cc,
	    relayqd_oauth2_done, o, &err);
	if (o->fetch == NULL) {
		(void)!rq_snprintf(text, sizeof(text),
		    "OAuth2 token request refused: %s", err.msg);
		log_warnx("%s", text);
		relayqd_conn_token_done(o->dest, 0, text);
	}
}

/* Drops a refused token. */
void
relayqd_oauth2_reject(struct relayqd_oauth2 *o, unsigned gen)
{
	if (o->token != NULL && gen == o->gen) {
		log_info("OAuth2: the smarthost refused the access token; "
			 "dropping it");
		relayqd_oauth2_drop(o);
	}
}
