/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The token endpoint client.  One struct oauth2_client is one request:
 *
 *	lock the refresh token file (polled, never blocking the loop,
 *	for at most the timeout) -> read the refresh token -> the request's
 *	own timeout starts -> resolve the URL's host
 *	-> per address: read the client secret, connect, TLS, POST
 *	-> parse the reply -> write a rotated refresh token -> unlock
 *	-> callback -> deferred free
 *
 * Addresses: every A and AAAA address the resolver gives, in its order
 * (the hosts file's order for a name found there), as relayqd_dial.c
 * does for the smarthost; with no evdns base (the relayq tool), the
 * system's getaddrinfo.  The certificate is verified against the URL's
 * host name, and SNI names it, whichever address is used.  The next
 * address is tried only when the current one failed before its TLS
 * handshake was done: until then no byte of the request can have left,
 * so the refresh token is never sent twice (a provider that rotates it
 * may have used it already).  Each attempt gets an equal share of the
 * time left (the last one all of it), so a silent address cannot eat the
 * whole timeout; a failure after the handshake ends the fetch.  Each
 * failed address is reported through the note callback, the last
 * failure through the done callback.
 *
 * Invariants: the lock is held from the read of the refresh token until
 * the rotated one is on disk (oauth2_store.h gives the durable order), so
 * a kill -9 at any point leaves a token the provider accepts; the request
 * body, which holds the refresh token and the secret, is wiped once it
 * has been handed to libevent (libevent's own copy is freed with the
 * request); the callback runs at most once, and the evhttp connection is
 * freed from a clean stack (event_base_once), never inside its own
 * callback.  evhttp calls the request callback with NULL on any
 * connection failure, after the error callback has named it.
 */
#include "config.h"

#include "oauth2/oauth2_client.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "oauth2/oauth2_store.h"

#define OAUTH2_CLIENT_LOCK_POLL_MS 100
#define OAUTH2_CLIENT_HEADERS_MAX 16384
#define OAUTH2_CLIENT_ADDRS_MAX 16 /* addresses tried at most */

enum oauth2_client_phase {
	OAUTH2_CLIENT_LOCKING,	 /* waiting for the refresh token file lock */
	OAUTH2_CLIENT_RESOLVING, /* waiting for the resolver */
	OAUTH2_CLIENT_TRYING,	 /* an address is being tried */
};

struct oauth2_client {
	struct event_base *base; /* borrowed */
	struct evdns_base *dns;	 /* borrowed, may be NULL */
	char *url;		 /* owned */
	char *host;	   /* owned: the URL's host, an IPv6 one without [] */
	char *client_id;   /* owned */
	char *secret_file; /* owned, may be "" */
	char *token_file;  /* owned, may be "" */
	char *scope;	   /* owned, may be "" */
	char *ca_file;	   /* owned, may be "" */
	int client_credentials;
	char *device_code;   /* owned, wiped; login grants only */
	char *auth_code;     /* owned, wiped */
	char *code_verifier; /* owned, wiped */
	char *redirect_uri;  /* owned */
	int login;	     /* a login grant or a device request */
	int timeout;
	long long deadline_ms; /* the lock wait's, then the request's */
	char *old_refresh;     /* owned: the token sent; wiped */
	int rotated;	       /* the reply's new refresh token is stored */
	int lockfd;	       /* -1 when not held */
	enum oauth2_client_phase phase;
	struct event *timer;	 /* owned: lock poll, then deadline */
	struct event *try_timer; /* owned: an attempt's share of time */
	struct event *ev_next;	 /* owned: next address, clean stack */
	struct evhttp_uri *uri;	 /* owned */
	struct evdns_getaddrinfo_request *dns_req; /* until its callback */
	int resolved;				   /* its callback ran */
	struct evutil_addrinfo *ai;		   /* owned */
	struct evutil_addrinfo *next_ai; /* borrowed: the next to try */
	int naddrs;			 /* usable addresses (at most MAX) */
	int ntries;			 /* addresses tried so far */
	char addr[INET6_ADDRSTRLEN];	 /* the current attempt's */
	int handshaken; /* its TLS handshake is done: no fallback */
	int given_up;	/* it failed: nothing more from it counts */
	struct evhttp_connection *conn;	    /* owned: the current attempt */
	struct evhttp_request *req;	    /* owned by evhttp once made */
	struct bufferevent *bev;	    /* owned by conn */
	SSL *ssl;			    /* owned by bev */
	enum evhttp_request_error http_err; /* from the error callback */
	int has_http_err;
	char why[512]; /* the last address's failure */
	int finished;  /* the callback has run (or cancel) */
	char error_code[64];
	oauth2_client_done_fn done;
	oauth2_client_device_fn device_done; /* a device request */
	oauth2_client_note_fn note;	     /* may be NULL */
	void *arg;
};

static void oauth2_client_send(struct oauth2_client *f);
static void oauth2_client_try(struct oauth2_client *f);

/* Monotonic milliseconds. */
static long long
oauth2_client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies the [smarthost] OAuth2 keys. */
void
oauth2_client_conf_from(struct oauth2_client_conf *cc, const struct conf *c)
{
	memset(cc, 0, sizeof(*cc));
	cc->token_url = c->smarthosts[0].oauth2_token_url;
	cc->client_id = c->smarthosts[0].oauth2_client_id;
	cc->client_secret_file = c->smarthosts[0].oauth2_client_secret_file;
	cc->client_credentials =
	    strcmp(c->smarthosts[0].oauth2_grant, "client_credentials") == 0;
	cc->refresh_token_file = c->smarthosts[0].oauth2_refresh_token_file;
	cc->scope = c->smarthosts[0].oauth2_scope;
	cc->ca_file = c->smarthosts[0].oauth2_ca_file;
	cc->timeout = (int)c->delivery_connect_timeout;
}

/* Names a result. */
const char *
oauth2_client_result_name(enum oauth2_client_result r)
{
	switch (r) {
	case OAUTH2_CLIENT_OK:
		return "ok";
	case OAUTH2_CLIENT_DOWN:
		return "unavailable";
	case OAUTH2_CLIENT_REJECTED:
		return "rejected";
	case OAUTH2_CLIENT_FAILED:
	default:
		return "failed";
	}
}

/* Wipes and frees a string. */
static void
oauth2_client_wipe(char **p)
{
	if (*p == NULL)
		return;
	OPENSSL_cleanse(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

/* Frees everything; runs from a clean stack (or from cancel). */
static void
oauth2_client_free(struct oauth2_client *f)
{
	if (f->dns_req != NULL) {
		struct evdns_getaddrinfo_request *req = f->dns_req;

		f->dns_req = NULL;
		evdns_getaddrinfo_cancel(req); /* runs the callback now */
	}
	if (f->conn != NULL)
		evhttp_connection_free(f->conn); /* frees bev, ssl, req */
	if (f->ai != NULL)
		evutil_freeaddrinfo(f->ai);
	if (f->timer != NULL)
		event_free(f->timer);
	if (f->try_timer != NULL)
		event_free(f->try_timer);
	if (f->ev_next != NULL)
		event_free(f->ev_next);
	if (f->uri != NULL)
		evhttp_uri_free(f->uri);
	if (f->lockfd != -1)
		(void)close(f->lockfd);
	oauth2_client_wipe(&f->old_refresh);
	oauth2_client_wipe(&f->device_code);
	oauth2_client_wipe(&f->auth_code);
	oauth2_client_wipe(&f->code_verifier);
	free(f->redirect_uri);
	free(f->url);
	free(f->host);
	free(f->client_id);
	free(f->secret_file);
	free(f->token_file);
	free(f->scope);
	free(f->ca_file);
	free(f);
}

/* event_base_once trampoline for oauth2_client_free(). */
static void
oauth2_client_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	oauth2_client_free(arg);
}

/* Abandons a fetch. */
void
oauth2_client_cancel(struct oauth2_client *f)
{
	if (f == NULL)
		return;
	f->finished = 1;
	oauth2_client_free(f);
}

/* Lets a fetch whose refresh token may be spent finish; see the header. */
int
oauth2_client_detach(struct oauth2_client *f, oauth2_client_done_fn done,
    void *arg)
{
	if (f == NULL)
		return 0;
	if (f->finished || f->client_credentials || f->login ||
	    f->device_done != NULL || f->phase != OAUTH2_CLIENT_TRYING) {
		oauth2_client_cancel(f);
		return 0;
	}
	f->done = done;
	f->arg = arg;
	return 1;
}

/* The provider's error code. */
const char *
oauth2_client_error_code(const struct oauth2_client *f)
{
	return f->error_code;
}

/*
 * Reports the outcome (t for a token request, d for a device request)
 * once, releases the lock, and schedules the free.
 */
static void
oauth2_client_finish(struct oauth2_client *f, enum oauth2_client_result r,
    struct oauth2_token *t, struct oauth2_device *d, const char *why)
{
	if (f->finished)
		return;
	f->finished = 1;
	if (f->timer != NULL)
		event_del(f->timer);
	if (f->try_timer != NULL)
		event_del(f->try_timer);
	if (f->ev_next != NULL)
		event_del(f->ev_next);
	if (f->lockfd != -1) {
		(void)close(f->lockfd);
		f->lockfd = -1;
	}
	if (f->device_done != NULL)
		f->device_done(f->arg, r, d, why);
	else
		f->done(f->arg, r, t, why);
	if (event_base_once(f->base, -1, EV_TIMEOUT, oauth2_client_free_cb, f,
		NULL) == -1)
		oauth2_client_free(f); /* cannot happen short of memory */
}

/* Formats and reports a failure. */
static void oauth2_client_fail(struct oauth2_client *f,
    enum oauth2_client_result r, const char *fmt, ...) RQ_PRINTF(3, 4);

static void
oauth2_client_fail(struct oauth2_client *f, enum oauth2_client_result r,
    const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	oauth2_client_finish(f, r, NULL, NULL, text);
}

/* Names an evhttp error. */
static const char *
oauth2_client_http_error(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid HTTP header";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection failed";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "reply too large";
	default:
		return "HTTP error";
	}
}

/*
 * Describes a failed connection: TLS errors first, else evhttp's.
 * refused: evhttp ran the request callback with the request, without
 * the error callback, and errno is ENOTCONN: it does that for a refused
 * connection only (http.c, evhttp_connection_cb: ECONNREFUSED goes to the
 * cleanup, whose shutdown() of the unconnected socket leaves ENOTCONN).
 */
static void
oauth2_client_describe(struct oauth2_client *f, int refused, char *buf,
    size_t bufsz)
{
	unsigned long e;
	long v;

	buf[0] = '\0';
	while (f->bev != NULL &&
	    (e = bufferevent_get_openssl_error(f->bev)) != 0) {
		char one[256];

		if (ERR_GET_LIB(e) == 0)
			continue; /* libevent's raw SSL_get_error() code */
		ERR_error_string_n(e, one, sizeof(one));
		if (buf[0] != '\0')
			strlcat(buf, "; ", bufsz);
		strlcat(buf, one, bufsz);
	}
	if (f->ssl != NULL &&
	    (v = SSL_get_verify_result(f->ssl)) != X509_V_OK) {
		if (buf[0] != '\0')
			strlcat(buf, "; ", bufsz);
		strlcat(buf, "certificate verify error: ", bufsz);
		strlcat(buf, X509_verify_cert_error_string(v), bufsz);
	}
	if (buf[0] == '\0' && refused)
		strlcpy(buf, "connection refused", bufsz);
	else if (buf[0] == '\0') {
		if (f->has_http_err)
			strlcpy(buf, oauth2_client_http_error(f->http_err),
			    bufsz);
		else
			strlcpy(buf, "connection failed", bufsz);
		if (errno != 0 &&
		    (!f->has_http_err || f->http_err != EVREQ_HTTP_TIMEOUT)) {
			strlcat(buf, " (", bufsz);
			strlcat(buf, strerror(errno), bufsz);
			strlcat(buf, ")", bufsz);
		}
	}
}

/* Writes a rotated refresh token; -1 with why set on failure. */
static int
oauth2_client_rotate(struct oauth2_client *f, struct oauth2_token *t, char *why,
    size_t whysz)
{
	struct rq_err err;

	if (f->client_credentials || f->login || t->refresh_token == NULL ||
	    (f->old_refresh != NULL &&
		strcmp(f->old_refresh, t->refresh_token) == 0))
		return 0;
	if (oauth2_store_write(f->token_file, t->refresh_token, &err) == -1) {
		(void)!rq_snprintf(why, whysz,
		    "cannot store the rotated refresh token: %s", err.msg);
		return -1;
	}
	f->rotated = 1;
	return 0;
}

/* evhttp's error callback: remember why for the NULL request callback. */
static void
oauth2_client_error_cb(enum evhttp_request_error e, void *arg)
{
	struct oauth2_client *f = arg;

	f->http_err = e;
	f->has_http_err = 1;
}

/* " [address]" of the current attempt, or "" when the URL names it. */
static void
oauth2_client_where(const struct oauth2_client *f, char *buf, size_t bufsz)
{
	buf[0] = '\0';
	if (strcmp(f->host, f->addr) != 0)
		(void)!rq_snprintf(buf, bufsz, " [%s]", f->addr);
}

/*
 * The current address failed (text says why): the next address starts
 * from a clean stack unless this one got through its TLS handshake (the
 * request may have gone out) or none is left; then the fetch fails.
 */
static void
oauth2_client_addr_failed(struct oauth2_client *f, const char *text)
{
	char where[INET6_ADDRSTRLEN + 3];
	char note[sizeof(f->why) + 32];

	f->given_up = 1;
	event_del(f->try_timer);
	oauth2_client_where(f, where, sizeof(where));
	(void)!rq_snprintf(f->why, sizeof(f->why), "token endpoint %s%s: %s",
	    f->url, where, text);
	if (!f->handshaken && f->next_ai != NULL &&
	    f->ntries < OAUTH2_CLIENT_ADDRS_MAX) {
		if (f->note != NULL) {
			(void)!rq_snprintf(note, sizeof(note),
			    "%s (address %d of %d)", f->why, f->ntries,
			    f->naddrs);
			f->note(f->arg, 1, note);
		}
		event_active(f->ev_next, EV_TIMEOUT, 1);
		return;
	}
	if (!f->handshaken && f->naddrs > 1)
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
		    "%s (all %d addresses failed)", f->why, f->ntries);
	else
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN, "%s", f->why);
}

/* Parses a device authorization reply and reports it. */
static void
oauth2_client_device_reply(struct oauth2_client *f, struct evbuffer *in,
    size_t len, int code)
{
	struct oauth2_device d;
	enum oauth2_token_result r;

	r = oauth2_token_parse_device((const char *)evbuffer_pullup(in, -1),
	    len, code, &d);
	if (len > 0)
		OPENSSL_cleanse(evbuffer_pullup(in, -1), len);
	(void)strlcpy(f->error_code, d.error_code, sizeof(f->error_code));
	if (r == OAUTH2_TOKEN_OK) {
		oauth2_client_finish(f, OAUTH2_CLIENT_OK, NULL, &d, "ok");
		return;
	}
	oauth2_client_fail(f,
	    r == OAUTH2_TOKEN_INVALID_GRANT ? OAUTH2_CLIENT_REJECTED
					    : OAUTH2_CLIENT_FAILED,
	    "device authorization endpoint %s: %s", f->url, d.error);
	oauth2_device_clear(&d);
}

/* The reply (or NULL on a connection failure). */
static void
oauth2_client_done_cb(struct evhttp_request *req, void *arg)
{
	struct oauth2_client *f = arg;
	struct oauth2_token t;
	enum oauth2_token_result r;
	struct evbuffer *in;
	char text[512];
	size_t len;
	int code;

	f->req = NULL; /* evhttp frees it after this callback */
	if (f->finished || f->given_up)
		return;
	if (req == NULL ||
	    (code = evhttp_request_get_response_code(req)) == 0) {
		oauth2_client_describe(f,
		    req != NULL && !f->has_http_err && errno == ENOTCONN, text,
		    sizeof(text));
		oauth2_client_addr_failed(f, text);
		return;
	}
	if (f->ntries > 1 && f->note != NULL) {
		(void)!rq_snprintf(text, sizeof(text),
		    "token endpoint %s: answered from %s (address %d of %d)",
		    f->url, f->addr, f->ntries, f->naddrs);
		f->note(f->arg, 0, text);
	}
	if (code >= 500) {
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
		    "token endpoint %s: HTTP status %d", f->url, code);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > OAUTH2_TOKEN_REPLY_MAX) {
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED,
		    "token endpoint %s: reply too large", f->url);
		return;
	}
	if (f->device_done != NULL) {
		oauth2_client_device_reply(f, in, len, code);
		return;
	}
	r = oauth2_token_parse((const char *)evbuffer_pullup(in, -1), len, code,
	    &t);
	/* The body held the token: wipe libevent's copy too. */
	if (len > 0)
		OPENSSL_cleanse(evbuffer_pullup(in, -1), len);
	(void)strlcpy(f->error_code, t.error_code, sizeof(f->error_code));
	/*
	 * A rotated refresh token is stored before anything else is judged:
	 * the provider has spent the old one, even when the rest of the
	 * reply is refused below.
	 */
	if (oauth2_client_rotate(f, &t, text, sizeof(text)) == -1) {
		oauth2_token_clear(&t);
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED, "%s", text);
		return;
	}
	switch (r) {
	case OAUTH2_TOKEN_OK:
		oauth2_client_finish(f, OAUTH2_CLIENT_OK, &t, NULL, "ok");
		return;
	case OAUTH2_TOKEN_INVALID_GRANT:
		oauth2_client_fail(f, OAUTH2_CLIENT_REJECTED,
		    "token endpoint %s refused the %s: %s", f->url,
		    f->client_credentials ? "client credentials"
			: f->login	  ? "grant"
					  : "refresh token",
		    t.error);
		break;
	case OAUTH2_TOKEN_ERROR:
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED,
		    "token endpoint %s: %s", f->url, t.error);
		break;
	case OAUTH2_TOKEN_MALFORMED:
	default:
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED,
		    "token endpoint %s: HTTP %d, %s%s", f->url, code, t.error,
		    f->rotated
			? " (the rotated refresh token it carried was stored)"
			: "");
		break;
	}
	oauth2_token_clear(&t);
}

/* The timer: polls the lock, then enforces the deadline. */
static void
oauth2_client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth2_client *f = arg;

	(void)fd;
	(void)what;
	if (f->finished)
		return;
	if (f->phase == OAUTH2_CLIENT_RESOLVING) {
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
		    "token endpoint %s: cannot resolve %s within %ds", f->url,
		    f->host, f->timeout);
		return;
	}
	/* The deadline ends the fetch, whatever addresses are left. */
	if (f->phase == OAUTH2_CLIENT_TRYING) {
		char where[INET6_ADDRSTRLEN + 3], tried[48] = "";

		oauth2_client_where(f, where, sizeof(where));
		if (f->ntries > 1)
			(void)!rq_snprintf(tried, sizeof(tried),
			    " (%d addresses tried)", f->ntries);
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
		    "token endpoint %s%s: %s within %ds%s", f->url, where,
		    f->handshaken ? "no complete reply" : "no TLS connection",
		    f->timeout, tried);
		return;
	}
	oauth2_client_send(f);
}

/* Frees the current attempt's connection (never from its callbacks). */
static void
oauth2_client_drop(struct oauth2_client *f)
{
	if (f->conn == NULL)
		return;
	evhttp_connection_free(f->conn); /* and its bev, ssl, req */
	f->conn = NULL;
	f->req = NULL;
	f->bev = NULL;
	f->ssl = NULL;
}

/*
 * The current attempt's share of the time ran out: if its TLS handshake
 * is not done yet, nothing was sent; the connection is closed at once (a
 * handshake finishing later must not send the request) and the next
 * address is tried.  Otherwise the deadline rules.
 */
static void
oauth2_client_try_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth2_client *f = arg;

	(void)fd;
	(void)what;
	if (f->finished || f->handshaken || f->given_up)
		return;
	oauth2_client_drop(f);
	oauth2_client_addr_failed(f,
	    "no TLS connection within its share of the time");
}

/* ev_next: frees the failed attempt, then tries the next address. */
static void
oauth2_client_next_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth2_client *f = arg;

	(void)fd;
	(void)what;
	if (f->finished)
		return;
	oauth2_client_try(f);
}

/* Arms the timer for ms milliseconds. */
static void
oauth2_client_arm(struct oauth2_client *f, long long ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_del(f->timer);
	event_add(f->timer, &tv);
}

/* Appends "&name=value" (form-encoded) to the secret body. */
static int
oauth2_client_form(struct buf *b, const char *name, const char *value)
{
	char *enc = evhttp_uriencode(value, -1, 1);
	int rv;

	if (enc == NULL)
		return -1;
	rv = buf_addf(b, "%s%s=%s", b->len > 0 ? "&" : "", name, enc);
	OPENSSL_cleanse(enc, strlen(enc));
	free(enc);
	return rv;
}

/* Builds the request body into b; -1 with err set. */
static int
oauth2_client_body(struct oauth2_client *f, struct buf *b, struct rq_err *err)
{
	char *secret = NULL;
	size_t slen;
	int rv = 0;

	if (f->secret_file[0] != '\0' &&
	    oauth2_store_read(f->secret_file, 0, &secret, &slen, err) == -1)
		return -1;
	if (f->device_done != NULL)
		; /* a device request: no grant */
	else if (f->device_code != NULL) {
		rv |= oauth2_client_form(b, "grant_type",
		    "urn:ietf:params:oauth:grant-type:device_code");
		rv |= oauth2_client_form(b, "device_code", f->device_code);
	} else if (f->auth_code != NULL) {
		rv |= oauth2_client_form(b, "grant_type", "authorization_code");
		rv |= oauth2_client_form(b, "code", f->auth_code);
		rv |= oauth2_client_form(b, "redirect_uri", f->redirect_uri);
		rv |= oauth2_client_form(b, "code_verifier", f->code_verifier);
	} else if (f->client_credentials)
		rv |= oauth2_client_form(b, "grant_type", "client_credentials");
	else {
		rv |= oauth2_client_form(b, "grant_type", "refresh_token");
		rv |= oauth2_client_form(b, "refresh_token", f->old_refresh);
	}
	rv |= oauth2_client_form(b, "client_id", f->client_id);
	if (secret != NULL)
		rv |= oauth2_client_form(b, "client_secret", secret);
	if (f->scope[0] != '\0' && f->device_code == NULL &&
	    f->auth_code == NULL)
		rv |= oauth2_client_form(b, "scope", f->scope);
	if (secret != NULL) {
		OPENSSL_cleanse(secret, slen);
		free(secret);
	}
	if (rv != 0) {
		rq_err_set(err, "token request too large");
		return -1;
	}
	return 0;
}

/* OpenSSL's info callback: marks the attempt's handshake as done. */
static void
oauth2_client_info_cb(const SSL *ssl, int where, int ret)
{
	struct oauth2_client *f = SSL_get_app_data(ssl);

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) && f != NULL && f->ssl == ssl)
		f->handshaken = 1;
}

/* Makes the TLS object for host; NULL with err set. */
static SSL *
oauth2_client_ssl(struct oauth2_client *f, const char *host, struct rq_err *err)
{
	unsigned char ip[16];
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	int is_ip = inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		rq_err_set(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((f->ca_file[0] != '\0'
		    ? SSL_CTX_load_verify_locations(ctx, f->ca_file, NULL)
		    : SSL_CTX_load_verify_locations(ctx,
			  X509_get_default_cert_file(),
			  X509_get_default_cert_dir())) != 1) {
		rq_err_set(err, "cannot load the CA certificates %s",
		    f->ca_file[0] != '\0' ? f->ca_file : "of the system");
		goto out;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		rq_err_set(err, "cannot create a TLS session");
		goto out;
	}
	SSL_set_app_data(ssl, f);
	SSL_set_info_callback(ssl, oauth2_client_info_cb);
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) !=
		    1)
			goto bad;
	} else {
		/* The macro casts away const; OpenSSL copies the name. */
		char *sni = xstrdup(host);
		int rv = SSL_set_tlsext_host_name(ssl, sni);

		free(sni);
		if (rv != 1 || SSL_set1_host(ssl, host) != 1)
			goto bad;
	}
out:
	SSL_CTX_free(ctx); /* the SSL keeps its own reference */
	ERR_clear_error();
	return ssl;
bad:
	rq_err_set(err, "cannot set the TLS host name %s", host);
	SSL_free(ssl);
	ssl = NULL;
	goto out;
}

/* Sends the request to the address f->addr; -1 with err set. */
static int
oauth2_client_request(struct oauth2_client *f, struct rq_err *err)
{
	const char *host = f->host;
	const char *path = evhttp_uri_get_path(f->uri);
	const char *query = evhttp_uri_get_query(f->uri);
	int port = evhttp_uri_get_port(f->uri);
	struct evkeyvalq *h;
	struct buf body;
	char target[2048], hosthdr[300];

	if (port == -1)
		port = 443;
	if (rq_snprintf(target, sizeof(target), "%s%s%s",
		path != NULL && path[0] != '\0' ? path : "/",
		query != NULL ? "?" : "", query != NULL ? query : "") == -1 ||
	    rq_snprintf(hosthdr, sizeof(hosthdr),
		strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host,
		port) == -1) {
		rq_err_set(err, "token URL too long");
		return -1;
	}
	buf_init_secret(&body, 4 * OAUTH2_TOKEN_MAX + 1024);
	if (oauth2_client_body(f, &body, err) == -1) {
		buf_wipe(&body);
		return -1;
	}
	if ((f->ssl = oauth2_client_ssl(f, host, err)) == NULL) {
		buf_wipe(&body);
		return -1;
	}
	/* CLOSE_ON_FREE: a failed constructor has freed the SSL. */
	f->bev = bufferevent_openssl_socket_new(f->base, -1, f->ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (f->bev == NULL) {
		f->ssl = NULL;
		buf_wipe(&body);
		rq_err_set(err, "cannot create the TLS connection");
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(f->bev, 1);
	/* A numeric address: evhttp resolves nothing. */
	f->conn = evhttp_connection_base_bufferevent_new(f->base, NULL, f->bev,
	    f->addr, (unsigned short)port);
	if (f->conn == NULL) {
		bufferevent_free(f->bev);
		f->bev = NULL;
		f->ssl = NULL;
		buf_wipe(&body);
		rq_err_set(err, "cannot create the HTTP connection");
		return -1;
	}
	evhttp_connection_set_timeout(f->conn, f->timeout);
	evhttp_connection_set_retries(f->conn, 0);
	evhttp_connection_set_max_body_size(f->conn, OAUTH2_TOKEN_REPLY_MAX);
	evhttp_connection_set_max_headers_size(f->conn,
	    OAUTH2_CLIENT_HEADERS_MAX);
	if ((f->req = evhttp_request_new(oauth2_client_done_cb, f)) == NULL) {
		buf_wipe(&body);
		rq_err_set(err, "cannot create the HTTP request");
		return -1;
	}
	evhttp_request_set_error_cb(f->req, oauth2_client_error_cb);
	h = evhttp_request_get_output_headers(f->req);
	evhttp_add_header(h, "Host", hosthdr);
	evhttp_add_header(h, "Content-Type",
	    "application/x-www-form-urlencoded");
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "Connection", "close");
	evhttp_add_header(h, "User-Agent", "relayq/" PACKAGE_VERSION);
	evbuffer_add(evhttp_request_get_output_buffer(f->req), body.data,
	    body.len);
	buf_wipe(&body);
	/*
	 * On failure evhttp_make_request() frees the request itself.  A
	 * connect that fails at once runs oauth2_client_done_cb() inside.
	 */
	if (evhttp_make_request(f->conn, f->req, EVHTTP_REQ_POST, target) ==
	    -1) {
		f->req = NULL;
		rq_err_set(err, "cannot send the HTTP request");
		return -1;
	}
	return 0;
}

/*
 * Tries the next address: frees the failed attempt (from a clean stack:
 * a timer or ev_next), sets up the new one and arms its share of the
 * time.  With no address left the fetch fails with the last reason.
 */
static void
oauth2_client_try(struct oauth2_client *f)
{
	struct evutil_addrinfo *ai;
	struct rq_err err;
	long long left;
	int rest = 0;

	oauth2_client_drop(f);
	while ((ai = f->next_ai) != NULL && ai->ai_family != AF_INET &&
	    ai->ai_family != AF_INET6)
		f->next_ai = ai->ai_next;
	if (ai == NULL || f->ntries >= OAUTH2_CLIENT_ADDRS_MAX) {
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN, "%s", f->why);
		return;
	}
	f->next_ai = ai->ai_next;
	f->ntries++;
	f->handshaken = 0;
	f->given_up = 0;
	f->has_http_err = 0;
	str_sockaddr(ai->ai_addr, f->addr, sizeof(f->addr));
	for (ai = f->next_ai; ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			rest++;
	if (rest > OAUTH2_CLIENT_ADDRS_MAX - f->ntries)
		rest = OAUTH2_CLIENT_ADDRS_MAX - f->ntries;
	/* An equal share of the time left; the last address gets it all. */
	if (rest > 0) {
		struct timeval tv;

		left = (f->deadline_ms - oauth2_client_now_ms()) / (rest + 1);
		if (left < 0)
			left = 0;
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
		event_add(f->try_timer, &tv);
	}
	errno = 0;
	if (oauth2_client_request(f, &err) == -1) {
		event_del(f->try_timer);
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED, "%s", err.msg);
	}
}

/* The resolver answered (or failed, or was cancelled). */
static void
oauth2_client_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct oauth2_client *f = arg;
	const char *host = f->host;

	f->dns_req = NULL;
	f->resolved = 1;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return; /* oauth2_client_free() is running */
	}
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
		    "token endpoint %s: cannot resolve %s: %s", f->url, host,
		    result != 0 ? evutil_gai_strerror(result) : "no address");
		return;
	}
	f->ai = f->next_ai = res;
	for (struct evutil_addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    f->naddrs < OAUTH2_CLIENT_ADDRS_MAX)
			f->naddrs++;
	f->phase = OAUTH2_CLIENT_TRYING;
	(void)!rq_snprintf(f->why, sizeof(f->why),
	    "token endpoint %s: %s has no address", f->url, host);
	/* Never inside evdns_getaddrinfo(): the first try runs from ev_next. */
	event_active(f->ev_next, EV_TIMEOUT, 1);
}

/*
 * Resolves the URL's host: evdns when the caller has a base (relayqd,
 * with its resolv_conf and hosts_file), else the system's getaddrinfo
 * (the relayq tool, which may block).  No AI_ADDRCONFIG (see
 * relayqd_dial.c): an unusable address fails at once and the next is
 * tried.
 */
static void
oauth2_client_resolve(struct oauth2_client *f)
{
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints, *res = NULL;
	char port[16];
	int p = evhttp_uri_get_port(f->uri), rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	(void)!rq_snprintf(port, sizeof(port), "%d", p == -1 ? 443 : p);
	f->phase = OAUTH2_CLIENT_RESOLVING;
	if (f->dns == NULL) {
		rv = evutil_getaddrinfo(f->host, port, &hints, &res);
		oauth2_client_dns_cb(rv, res, f);
		return;
	}
	req = evdns_getaddrinfo(f->dns, f->host, port, &hints,
	    oauth2_client_dns_cb, f);
	/* NULL when the callback ran already (a literal, the hosts file). */
	if (!f->resolved)
		f->dns_req = req;
}

/* Takes the lock (or polls for it), then resolves the host. */
static void
oauth2_client_send(struct oauth2_client *f)
{
	struct rq_err err;
	long long now = oauth2_client_now_ms();
	size_t n;

	if (!f->client_credentials && !f->login && f->lockfd == -1) {
		if ((f->lockfd = oauth2_store_lock(f->token_file, 1)) == -1) {
			if (errno != EWOULDBLOCK) {
				oauth2_client_fail(f, OAUTH2_CLIENT_FAILED,
				    "cannot lock %s.lock: %s", f->token_file,
				    strerror(errno));
				return;
			}
			if (now >= f->deadline_ms) {
				oauth2_client_fail(f, OAUTH2_CLIENT_DOWN,
				    "%s.lock stayed locked for %ds by another "
				    "process",
				    f->token_file, f->timeout);
				return;
			}
			oauth2_client_arm(f, OAUTH2_CLIENT_LOCK_POLL_MS);
			return;
		}
	}
	if (!f->client_credentials && !f->login &&
	    oauth2_store_read(f->token_file, 1, &f->old_refresh, &n, &err) ==
		-1) {
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED, "%s", err.msg);
		return;
	}
	/* Never spend the refresh token when its successor cannot be kept. */
	if (!f->client_credentials && !f->login &&
	    oauth2_store_can_write(f->token_file, &err) == -1) {
		oauth2_client_fail(f, OAUTH2_CLIENT_FAILED,
		    "cannot store a rotated refresh token (%s); the refresh "
		    "token was not sent",
		    err.msg);
		return;
	}
	/*
	 * The request's own time starts now: waiting for the lock (bounded
	 * by the same timeout above) must not eat it, or a reply that
	 * carries a rotated refresh token could come too late to be kept.
	 */
	f->deadline_ms = now + f->timeout * 1000LL;
	oauth2_client_arm(f, f->deadline_ms - now);
	oauth2_client_resolve(f);
}

/* Copies an optional string. */
static char *
oauth2_client_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Starts a request to url; the callback is done or device_done. */
static struct oauth2_client *
oauth2_client_new(struct event_base *base, struct evdns_base *dns,
    const struct oauth2_client_conf *cc, const char *url,
    oauth2_client_done_fn done, oauth2_client_device_fn device_done, void *arg,
    struct rq_err *err)
{
	struct oauth2_client *f = xcalloc(1, sizeof(*f));
	const char *scheme, *host;
	size_t len;

	err->msg[0] = '\0';
	f->base = base;
	f->dns = dns;
	f->lockfd = -1;
	f->url = xstrdup(url);
	f->client_id = xstrdup(cc->client_id);
	f->secret_file = xstrdup(cc->client_secret_file);
	f->token_file = xstrdup(cc->refresh_token_file);
	f->scope = xstrdup(cc->scope);
	f->ca_file = xstrdup(cc->ca_file);
	f->client_credentials = cc->client_credentials;
	f->device_code = oauth2_client_dup(cc->device_code);
	f->auth_code = oauth2_client_dup(cc->auth_code);
	f->code_verifier = oauth2_client_dup(cc->code_verifier);
	f->redirect_uri = oauth2_client_dup(cc->redirect_uri);
	f->login = device_done != NULL || cc->device_code != NULL ||
	    cc->auth_code != NULL;
	f->timeout = cc->timeout > 0 ? cc->timeout : 30;
	f->deadline_ms = oauth2_client_now_ms() + f->timeout * 1000LL;
	f->done = done;
	f->device_done = device_done;
	f->note = cc->note;
	f->arg = arg;
	if ((f->uri = evhttp_uri_parse(f->url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(f->uri)) == NULL ||
	    strcasecmp(scheme, "https") != 0 ||
	    evhttp_uri_get_host(f->uri) == NULL ||
	    evhttp_uri_get_host(f->uri)[0] == '\0') {
		rq_err_set(err, "%s %s is not an https:// URL",
		    device_done != NULL ? "oauth2_device_url"
					: "oauth2_token_url",
		    f->url);
		f->finished = 1;
		oauth2_client_free(f);
		return NULL;
	}
	/* libevent keeps the brackets of an IPv6 literal ("[::1]"). */
	host = evhttp_uri_get_host(f->uri);
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		f->host = xstrndup(host + 1, len - 2);
	else
		f->host = xstrdup(host);
	if ((f->timer = evtimer_new(base, oauth2_client_timer_cb, f)) == NULL ||
	    (f->try_timer = evtimer_new(base, oauth2_client_try_timer_cb, f)) ==
		NULL ||
	    (f->ev_next = event_new(base, -1, 0, oauth2_client_next_cb, f)) ==
		NULL) {
		rq_err_set(err, "cannot create a timer");
		f->finished = 1;
		oauth2_client_free(f);
		return NULL;
	}
	/* The first try runs on the next loop pass: never inside start. */
	oauth2_client_arm(f, 0);
	return f;
}

/* Starts a token request. */
struct oauth2_client *
oauth2_client_start(struct event_base *base, struct evdns_base *dns,
    const struct oauth2_client_conf *cc, oauth2_client_done_fn done, void *arg,
    struct rq_err *err)
{
	return oauth2_client_new(base, dns, cc, cc->token_url, done, NULL, arg,
	    err);
}

/* Starts a device authorization request. */
struct oauth2_client *
oauth2_client_device_start(struct event_base *base, struct evdns_base *dns,
    const struct oauth2_client_conf *cc, const char *url,
    oauth2_client_device_fn done, void *arg, struct rq_err *err)
{
	return oauth2_client_new(base, dns, cc, url, NULL, done, arg, err);
}
