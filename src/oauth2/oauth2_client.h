/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One request to an OAuth2 token endpoint (RFC 6749 sections 4.4 and 6),
 * inside a libevent loop: evhttp over bufferevent_openssl, the server's
 * certificate verified against oauth2_ca_file (or the system store) and
 * the URL's host name or IP address, TLS 1.2 or later.  The request has a
 * time limit that starts once the refresh token file's lock is held (the
 * wait for the lock has one of its own), the reply at most
 * OAUTH2_TOKEN_REPLY_MAX bytes of body.  Shared by relayqd and relayq
 * (STYLE.md section 1).
 *
 * For the refresh_token grant the fetch holds the refresh token file's
 * lock (oauth2_store_lock) from before it reads the token until the
 * rotated one, if any, is durably written (oauth2_store_write); it
 * re-reads the file every time, so a token written by `relayq oauth2
 * login` or by another process is used.  The client secret, when
 * configured, is read anew from its file for each request and sent in the
 * body (client_secret_post).
 *
 * Every A and AAAA address of the URL's host is tried in the resolver's
 * order until one completes a TLS handshake (verified against the host
 * name, which SNI names too); see oauth2_client.c.
 *
 * Nothing here logs: the outcome and a printable reason (never a token or
 * secret) go to the callback, exactly once, unless the fetch is cancelled
 * first; each address that failed before the last, and a success after
 * such failures, go to the optional note callback.  The callback owns the
 * token it is given.
 */
#ifndef RELAYQ_OAUTH2_OAUTH2_CLIENT_H
#define RELAYQ_OAUTH2_OAUTH2_CLIENT_H

#include "common/conf.h"
#include "oauth2/oauth2_token.h"

struct event_base;
struct evdns_base;
struct oauth2_client;

enum oauth2_client_result {
	OAUTH2_CLIENT_OK,
	OAUTH2_CLIENT_DOWN,	/* unreachable, timeout, 5xx: try later */
	OAUTH2_CLIENT_REJECTED, /* invalid_grant: a new login is needed */
	OAUTH2_CLIENT_FAILED,	/* malformed reply, other error, local */
};

/*
 * A printable remark on the fetch (borrowed for the call): failed
 * nonzero for an address that failed, 0 for the address that answered
 * after such failures.
 */
typedef void (*oauth2_client_note_fn)(void *arg, int failed, const char *text);

/* The settings of one smarthost's token endpoint (all strings copied). */
struct oauth2_client_conf {
	const char *token_url; /* https:// */
	const char *client_id;
	const char *client_secret_file; /* "" for a public client */
	int client_credentials;		/* grant: else refresh_token */
	const char *refresh_token_file;
	const char *scope;   /* "" for none */
	const char *ca_file; /* "" for the system store */
	/*
	 * Seconds for the request, from when the lock is held; the wait
	 * for the lock may take as long again.
	 */
	int timeout;
	oauth2_client_note_fn note; /* NULL: none; called with the arg */
	/*
	 * relayq oauth2 login only (NULL otherwise).  With one of these
	 * the refresh token file is neither locked, read nor written: the
	 * caller stores the refresh token the reply carries.
	 */
	const char *device_code;   /* the device_code grant (RFC 8628) */
	const char *auth_code;	   /* the authorization_code grant, with: */
	const char *code_verifier; /* PKCE (RFC 7636) */
	const char *redirect_uri;
};

/* Fills cc from the [smarthost] keys of c (strings borrowed from c). */
void oauth2_client_conf_from(struct oauth2_client_conf *cc,
    const struct conf *c);

/*
 * Called once with the outcome.  t (OK only) is the caller's: clear it.
 * why is a printable reason (borrowed for the call).
 */
typedef void (*oauth2_client_done_fn)(void *arg, enum oauth2_client_result r,
    struct oauth2_token *t, const char *why);

/*
 * Starts a token request.  Returns the fetch (the module frees it after
 * the callback), or NULL with err set for a local error found at once
 * (bad URL, unreadable file); the callback is then never called.
 */
struct oauth2_client *oauth2_client_start(struct event_base *base,
    struct evdns_base *dns, const struct oauth2_client_conf *cc,
    oauth2_client_done_fn done, void *arg, struct rq_err *err);

/*
 * Called once with the outcome of a device authorization request.  d (OK
 * only) is the caller's: clear it.
 */
typedef void (*oauth2_client_device_fn)(void *arg, enum oauth2_client_result r,
    struct oauth2_device *d, const char *why);

/*
 * Starts a device authorization request (RFC 8628 section 3.1) to url
 * with cc's client id, secret and scope; otherwise as
 * oauth2_client_start().
 */
struct oauth2_client *oauth2_client_device_start(struct event_base *base,
    struct evdns_base *dns, const struct oauth2_client_conf *cc,
    const char *url, oauth2_client_device_fn done, void *arg,
    struct rq_err *err);

/*
 * The provider's "error" code of an OAuth2 error reply (for example
 * "authorization_pending"), or "": valid inside the callback only.
 */
const char *oauth2_client_error_code(const struct oauth2_client *f);

/* Abandons a fetch before its callback; the callback is never called. */
void oauth2_client_cancel(struct oauth2_client *f);

/*
 * For a caller that no longer wants the outcome (its smarthost was
 * retired by a reload, the daemon is stopping).  A refresh_token fetch
 * whose request may have gone out (the refresh token was read and an
 * address is being tried) is not abandoned: the provider may have
 * rotated the token already, so the fetch goes on, still holding the
 * token file's lock, until its reply is in and a rotated refresh token
 * is written (or its timeout); then done is called with arg instead of
 * the first callback, and 1 is returned.  Any other fetch is cancelled
 * as oauth2_client_cancel() does, and 0 is returned.  NULL gives 0.
 */
int oauth2_client_detach(struct oauth2_client *f, oauth2_client_done_fn done,
    void *arg);

/* Names a result for logs. */
const char *oauth2_client_result_name(enum oauth2_client_result r);

#endif
