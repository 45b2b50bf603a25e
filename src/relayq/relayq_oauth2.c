/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq oauth2 status.  Reads the configuration, checks the refresh
 * token file with the rules relayqd applies (oauth2_store_read, whose
 * result is wiped at once: only "usable" or the error is shown), and
 * prints relayqd's last refresh from <spool>/oauth2 (written by
 * relayqd_oauth2.c: last_refresh, result, reason, expires).  A token
 * file the endpoint refused at that refresh (invalid_grant), and not
 * rewritten since, is shown as refused, not usable.  Owns no state;
 * never prints a token or a secret.
 *
 * Both commands act on one smarthost section: [smarthost], or with
 * --smarthost NAME [smarthost NAME], through a conf_view_smarthost()
 * view whose smarthosts[0] is that section (as relayq probe does), so
 * nothing below reads another section's keys.  status without
 * --smarthost shows every section that sets oauth2_token_url, each
 * labelled, once a named one does.  <spool>/oauth2 carries no smarthost
 * name: it is read as [smarthost]'s only, never for a named section.
 *
 * relayq oauth2 login gets the first refresh token, in a libevent loop
 * with liboauth2's requests:
 *
 *	device grant (RFC 8628): device request -> print URI and code
 *	-> poll every interval (slow_down: +5 s) until a token, a final
 *	error or expires_in -> store
 *	--browser (RFC 7636, 8252): listen on 127.0.0.1:0 -> print the
 *	authorization URL -> one redirect with our state -> exchange the
 *	code with the verifier -> store
 *
 * Run as root it first becomes relayqd's user (the spool's owner), so
 * the client secret is read and the token file written as relayqd does.
 * The file is written under its lock (oauth2_store_lock), so a refresh
 * relayqd has in flight cannot overwrite the new token with one of the
 * old grant.  Tokens, codes and the verifier are wiped after use and
 * never printed.
 */
#include "config.h"

#include "relayq/relayq_oauth2.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/conf.h"
#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "oauth2/oauth2_client.h"
#include "oauth2/oauth2_store.h"

#define RELAYQ_OAUTH2_SLOW_DOWN 5      /* RFC 8628 section 3.5 */
#define RELAYQ_OAUTH2_BROWSER_WAIT 300 /* seconds for the redirect */

struct relayq_oauth2_login {
	const struct conf *c;
	struct event_base *base;
	struct oauth2_client_conf cc;
	struct oauth2_client *fetch; /* the request in flight, or NULL */
	struct event *timer;	     /* next poll, or the redirect's limit */
	char *device_code;	     /* owned, wiped */
	long long interval;	     /* seconds between polls */
	long long deadline;	     /* monotonic seconds: the code expires */
	struct evhttp *http;	     /* --browser: the loopback listener */
	char verifier[64];	     /* PKCE code_verifier, wiped */
	char state[32];
	char redirect_uri[64];
	char *code; /* owned, wiped: the authorization code */
	int redirected;
	int rc; /* the exit code; -1 while running */
};

/* Formats epoch seconds t as local time, or "-" for 0. */
static void
relayq_oauth2_time(char *buf, size_t bufsz, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)strlcpy(buf, "-", bufsz);
}

/* Writes "[smarthost]" or "[smarthost NAME]" for sh into buf. */
static const char *
relayq_oauth2_section(const struct conf_smarthost *sh, char *buf, size_t bufsz)
{
	if (strcmp(sh->name, "default") == 0 ||
	    rq_snprintf(buf, bufsz, "[smarthost %s]", sh->name) == -1)
		return "[smarthost]";
	return buf;
}

/* relayqd's last refresh of a smarthost, as it published it. */
struct relayq_oauth2_last {
	int found; /* the file was there */
	long long last, expires;
	char result[64], reason[1024];
};

/*
 * Reads relayqd's last refresh for the smarthost c->smarthosts[0] (a
 * view): relayqd publishes [smarthost]'s in <spool>/oauth2 and
 * [smarthost NAME]'s in <spool>/oauth2.NAME.
 */
static void
relayq_oauth2_last_read(const struct conf *c, struct relayq_oauth2_last *l)
{
	char path[4096], line[1024];
	const char *name = c->smarthosts[0].name;
	int named = strcmp(name, "default") != 0;
	FILE *f;

	memset(l, 0, sizeof(*l));
	if (rq_snprintf(path, sizeof(path), "%s/oauth2%s%s", c->spool_dir,
		named ? "." : "", named ? name : "") == -1 ||
	    (f = fopen(path, "re")) == NULL)
		return;
	l->found = 1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "last_refresh=", 13) == 0)
			l->last = strtoll(line + 13, NULL, 10);
		else if (strncmp(line, "expires=", 8) == 0)
			l->expires = strtoll(line + 8, NULL, 10);
		else if (strncmp(line, "result=", 7) == 0)
			(void)strlcpy(l->result, line + 7, sizeof(l->result));
		else if (strncmp(line, "reason=", 7) == 0)
			(void)strlcpy(l->reason, line + 7, sizeof(l->reason));
	}
	(void)fclose(f);
}

/* Prints relayqd's last refresh. */
static void
relayq_oauth2_last(const struct relayq_oauth2_last *l)
{
	char when[64];

	if (!l->found) {
		printf("last refresh: none recorded by relayqd\n");
		return;
	}
	relayq_oauth2_time(when, sizeof(when), l->last);
	printf("last refresh: %s, %s%s%s\n", when,
	    l->result[0] != '\0' ? l->result : "?",
	    l->reason[0] != '\0' ? ": " : "", l->reason);
	if (strcmp(l->result, "ok") == 0) {
		relayq_oauth2_time(when, sizeof(when), l->expires);
		printf("access token expires: %s%s\n", when,
		    l->expires <= (long long)time(NULL) ? " (expired)" : "");
	}
}

/*
 * Prints the refresh token file's line.  A file the token endpoint
 * refused (relayqd's last refresh was "rejected": invalid_grant) is not
 * usable, however well formed, until it is written again after that
 * refusal (by relayq oauth2 login): its modification time tells.
 */
static void
relayq_oauth2_file(const char *file, const struct relayq_oauth2_last *l)
{
	struct rq_err err;
	struct stat st;
	char when[64];
	char *tok;
	size_t n;

	if (oauth2_store_read(file, 1, &tok, &n, &err) == -1) {
		printf("refresh token file: %s: %s; run relayq oauth2 login\n",
		    file, err.msg);
		return;
	}
	OPENSSL_cleanse(tok, n);
	free(tok);
	if (strcmp(l->result, "rejected") == 0 && stat(file, &st) == 0 &&
	    (long long)st.st_mtime <= l->last) {
		relayq_oauth2_time(when, sizeof(when), l->last);
		printf("refresh token file: %s (present, refused by the token "
		       "endpoint at %s: run relayq oauth2 login)\n",
		    file, when);
	} else
		printf("refresh token file: %s (present, usable)\n", file);
}

/*
 * Prints the status of c's smarthosts[0] (a view); label: the first line
 * names the section ("smarthost NAME: ...").
 */
static void
relayq_oauth2_show(const struct conf *c, int label)
{
	const char *file = c->smarthosts[0].oauth2_refresh_token_file;
	int refresh =
	    strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") == 0;
	struct relayq_oauth2_last l;

	printf("smarthost%s%s: %s:%d, auth = %s, username = %s\n",
	    label ? " " : "", label ? c->smarthosts[0].name : "",
	    c->smarthosts[0].host, c->smarthosts[0].port, c->smarthosts[0].auth,
	    c->smarthosts[0].username);
	printf("token endpoint: %s\n", c->smarthosts[0].oauth2_token_url);
	printf("client id: %s\n", c->smarthosts[0].oauth2_client_id);
	printf("client secret file: %s\n",
	    c->smarthosts[0].oauth2_client_secret_file[0] != '\0'
		? c->smarthosts[0].oauth2_client_secret_file
		: "none (public client)");
	printf("grant: %s\n", c->smarthosts[0].oauth2_grant);
	if (c->smarthosts[0].oauth2_scope[0] != '\0')
		printf("scope: %s\n", c->smarthosts[0].oauth2_scope);
	relayq_oauth2_last_read(c, &l);
	if (refresh)
		relayq_oauth2_file(file, &l);
	relayq_oauth2_last(&l);
}

/* relayq oauth2 status [--smarthost NAME]. */
int
relayq_oauth2_status(const struct conf *c, const char *name)
{
	struct conf view;
	struct rq_err err;
	char sec[64];
	int named = 0, shown = 0;

	if (name != NULL) {
		if (conf_view_smarthost_named(&view, c, name, &err) == -1) {
			fprintf(stderr, "relayq: oauth2 status: %s\n", err.msg);
			return EX_USAGE;
		}
		if (view.smarthosts[0].oauth2_token_url[0] == '\0')
			goto unset;
		relayq_oauth2_show(&view, 1);
		return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
	}
	/* Labelled, every OAuth2 section, once a named one uses OAuth2. */
	for (size_t i = 1; i < c->nsmarthosts; i++)
		named |= c->smarthosts[i].oauth2_token_url[0] != '\0';
	if (!named) {
		conf_view_smarthost(&view, c, 0);
		if (view.smarthosts[0].oauth2_token_url[0] == '\0')
			goto unset;
		relayq_oauth2_show(&view, 0);
		return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
	}
	for (size_t i = 0; i < c->nsmarthosts; i++) {
		if (c->smarthosts[i].oauth2_token_url[0] == '\0')
			continue;
		if (shown++ > 0)
			printf("\n");
		conf_view_smarthost(&view, c, i);
		relayq_oauth2_show(&view, 1);
	}
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
unset:
	fprintf(stderr,
	    "relayq: %s: OAuth2 is not configured (%s oauth2_token_url)\n",
	    c->path,
	    relayq_oauth2_section(&view.smarthosts[0], sec, sizeof(sec)));
	return EX_CONFIG;
}

/* Monotonic seconds. */
static long long
relayq_oauth2_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Ends the login with rc after a message on stderr (none for EX_OK). */
static void relayq_oauth2_end(struct relayq_oauth2_login *l, int rc,
    const char *fmt, ...) RQ_PRINTF(3, 4);

static void
relayq_oauth2_end(struct relayq_oauth2_login *l, int rc, const char *fmt, ...)
{
	va_list ap;

	if (l->rc != -1)
		return;
	l->rc = rc;
	va_start(ap, fmt);
	fprintf(rc == EX_OK ? stdout : stderr, "relayq: oauth2 login: ");
	vfprintf(rc == EX_OK ? stdout : stderr, fmt, ap);
	fputc('\n', rc == EX_OK ? stdout : stderr);
	va_end(ap);
	event_base_loopbreak(l->base);
}

/* n random bytes, base64url without padding (RFC 7636 appendix A). */
static void
relayq_oauth2_random(char *out, size_t outsz, const unsigned char *in, size_t n)
{
	unsigned char enc[128];
	int len, j = 0;

	len = EVP_EncodeBlock(enc, in, (int)n);
	for (int i = 0; i < len && (size_t)j + 1 < outsz; i++) {
		if (enc[i] == '=')
			break;
		out[j++] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
	}
	out[j] = '\0';
	OPENSSL_cleanse(enc, sizeof(enc));
}

/* Stores the refresh token t carries, under the file's lock. */
static void
relayq_oauth2_store(struct relayq_oauth2_login *l, struct oauth2_token *t)
{
	const char *file = l->c->smarthosts[0].oauth2_refresh_token_file;
	struct rq_err err;
	int fd;

	if (t->refresh_token == NULL) {
		relayq_oauth2_end(l, EX_PROTOCOL,
		    "the provider sent an access token but no refresh token "
		    "(oauth2_scope must allow one: with Microsoft 365 add "
		    "offline_access)");
		return;
	}
	if ((fd = oauth2_store_lock(file, 0)) == -1) {
		relayq_oauth2_end(l, EX_CANTCREAT, "cannot lock %s.lock: %s",
		    file, strerror(errno));
		return;
	}
	if (oauth2_store_write(file, t->refresh_token, &err) == -1) {
		(void)close(fd);
		relayq_oauth2_end(l, EX_CANTCREAT, "%s", err.msg);
		return;
	}
	(void)close(fd);
	relayq_oauth2_end(l, EX_OK,
	    "logged in; the refresh token is in %s (uid %lu, mode 0600)", file,
	    (unsigned long)geteuid());
}

static void relayq_oauth2_poll_cb(evutil_socket_t fd, short what, void *arg);

/* Waits interval seconds for the next poll, if the code lives so long. */
static void
relayq_oauth2_next(struct relayq_oauth2_login *l)
{
	struct timeval tv = { 0, 0 };

	if (relayq_oauth2_now() + l->interval > l->deadline) {
		relayq_oauth2_end(l, EX_TEMPFAIL,
		    "the code expired before the sign-in was approved; run "
		    "relayq oauth2 login again");
		return;
	}
	tv.tv_sec = (time_t)l->interval;
	event_del(l->timer);
	evtimer_assign(l->timer, l->base, relayq_oauth2_poll_cb, l);
	event_add(l->timer, &tv);
}

/* The token client's remark on its addresses: on stderr. */
static void
relayq_oauth2_note(void *arg, int failed, const char *text)
{
	(void)arg;
	(void)failed;
	fprintf(stderr, "relayq: oauth2 login: %s\n", text);
}

/* A token reply (either grant). */
static void
relayq_oauth2_token_cb(void *arg, enum oauth2_client_result r,
    struct oauth2_token *t, const char *why)
{
	struct relayq_oauth2_login *l = arg;
	const char *code = oauth2_client_error_code(l->fetch);

	l->fetch = NULL;
	if (r == OAUTH2_CLIENT_OK) {
		relayq_oauth2_store(l, t);
		oauth2_token_clear(t);
	} else if (l->device_code != NULL &&
	    strcmp(code, "authorization_pending") == 0)
		relayq_oauth2_next(l);
	else if (l->device_code != NULL && strcmp(code, "slow_down") == 0) {
		l->interval += RELAYQ_OAUTH2_SLOW_DOWN;
		relayq_oauth2_next(l);
	} else if (strcmp(code, "expired_token") == 0)
		relayq_oauth2_end(l, EX_TEMPFAIL,
		    "the code expired before the sign-in was approved; run "
		    "relayq oauth2 login again");
	else if (strcmp(code, "access_denied") == 0)
		relayq_oauth2_end(l, EX_NOPERM,
		    "the sign-in was declined (access_denied): nothing stored");
	else
		relayq_oauth2_end(l,
		    r == OAUTH2_CLIENT_DOWN ? EX_UNAVAILABLE : EX_PROTOCOL,
		    "%s", why);
}

/* The poll timer: one token request with the device code. */
static void
relayq_oauth2_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayq_oauth2_login *l = arg;
	struct rq_err err;

	(void)fd;
	(void)what;
	l->cc.device_code = l->device_code;
	if ((l->fetch = oauth2_client_start(l->base, NULL, &l->cc,
		 relayq_oauth2_token_cb, l, &err)) == NULL)
		relayq_oauth2_end(l, EX_CONFIG, "%s", err.msg);
}

/* The device authorization reply: show the code, then poll. */
static void
relayq_oauth2_device_cb(void *arg, enum oauth2_client_result r,
    struct oauth2_device *d, const char *why)
{
	struct relayq_oauth2_login *l = arg;

	l->fetch = NULL;
	if (r != OAUTH2_CLIENT_OK) {
		relayq_oauth2_end(l,
		    r == OAUTH2_CLIENT_DOWN ? EX_UNAVAILABLE : EX_PROTOCOL,
		    "%s", why);
		return;
	}
	printf("To sign in, open %s in a browser and enter the code %s\n",
	    d->verification_uri, d->user_code);
	if (d->verification_uri_complete[0] != '\0')
		printf("(or open %s, which carries the code)\n",
		    d->verification_uri_complete);
	printf("Waiting for the sign-in (the code expires in %lld s)...\n",
	    d->expires_in);
	(void)fflush(stdout);
	l->device_code = d->device_code;
	d->device_code = NULL;
	l->interval = d->interval;
	l->deadline = relayq_oauth2_now() + d->expires_in;
	oauth2_device_clear(d);
	relayq_oauth2_next(l);
}

/* Answers the browser with a short text page. */
static void
relayq_oauth2_page(struct evhttp_request *req, int status, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL)
		evbuffer_add_printf(b, "relayq: %s\n", text);
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Refused", b);
	if (b != NULL)
		evbuffer_free(b);
}

/* The loopback listener: the one redirect with our state. */
static void
relayq_oauth2_redirect_cb(struct evhttp_request *req, void *arg)
{
	struct relayq_oauth2_login *l = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	const char *query = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char *state, *code, *error;
	struct evkeyvalq q;
	struct rq_err err;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || path == NULL ||
	    strcmp(path, "/") != 0) {
		relayq_oauth2_page(req, 404, "not found");
		return;
	}
	if (l->redirected || l->rc != -1) {
		relayq_oauth2_page(req, 409, "this login is already done");
		return;
	}
	TAILQ_INIT(&q);
	if (query == NULL || evhttp_parse_query_str(query, &q) == -1 ||
	    (state = evhttp_find_header(&q, "state")) == NULL ||
	    strlen(state) != strlen(l->state) ||
	    CRYPTO_memcmp(state, l->state, strlen(l->state)) != 0) {
		evhttp_clear_headers(&q);
		relayq_oauth2_page(req, 400,
		    "refused: the state does not match this login");
		fprintf(stderr,
		    "relayq: oauth2 login: refused a redirect whose state "
		    "does not match (not from this login); still waiting\n");
		return;
	}
	if ((error = evhttp_find_header(&q, "error")) != NULL) {
		relayq_oauth2_page(req, 200, "the sign-in failed");
		if (strcmp(error, "access_denied") == 0)
			relayq_oauth2_end(l, EX_NOPERM,
			    "the sign-in was declined (access_denied): "
			    "nothing stored");
		else
			relayq_oauth2_end(l, EX_PROTOCOL,
			    "the authorization endpoint answered error=%.64s",
			    error);
		evhttp_clear_headers(&q);
		return;
	}
	if ((code = evhttp_find_header(&q, "code")) == NULL ||
	    code[0] == '\0') {
		evhttp_clear_headers(&q);
		relayq_oauth2_page(req, 400, "refused: no code");
		relayq_oauth2_end(l, EX_PROTOCOL,
		    "the redirect carried no authorization code");
		return;
	}
	l->redirected = 1;
	l->code = xstrdup(code);
	evhttp_clear_headers(&q);
	relayq_oauth2_page(req, 200,
	    "authorization received; you may close this window");
	event_del(l->timer);
	l->cc.auth_code = l->code;
	l->cc.code_verifier = l->verifier;
	l->cc.redirect_uri = l->redirect_uri;
	if ((l->fetch = oauth2_client_start(l->base, NULL, &l->cc,
		 relayq_oauth2_token_cb, l, &err)) == NULL)
		relayq_oauth2_end(l, EX_CONFIG, "%s", err.msg);
}

/* The redirect did not come in time. */
static void
relayq_oauth2_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayq_oauth2_login *l = arg;

	(void)fd;
	(void)what;
	relayq_oauth2_end(l, EX_TEMPFAIL,
	    "no redirect to %s came within %d s; run relayq oauth2 login "
	    "--browser again",
	    l->redirect_uri, RELAYQ_OAUTH2_BROWSER_WAIT);
}

/* Appends "&name=value" (encoded) to the authorization URL. */
static int
relayq_oauth2_param(char *url, size_t urlsz, const char *name,
    const char *value)
{
	char *enc = evhttp_uriencode(value, -1, 0);
	int rv;

	if (enc == NULL)
		return -1;
	rv = strlcat(url, strchr(url, '?') != NULL ? "&" : "?", urlsz) >=
		urlsz ||
	    strlcat(url, name, urlsz) >= urlsz ||
	    strlcat(url, "=", urlsz) >= urlsz ||
	    strlcat(url, enc, urlsz) >= urlsz;
	free(enc);
	return rv ? -1 : 0;
}

/* --browser: listens on the loopback and prints the authorization URL. */
static int
relayq_oauth2_browser(struct relayq_oauth2_login *l)
{
	const struct conf *c = l->c;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	unsigned char rnd[32], hash[SHA256_DIGEST_LENGTH];
	char challenge[64], url[8192];
	struct timeval tv = { RELAYQ_OAUTH2_BROWSER_WAIT, 0 };

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		fprintf(stderr, "relayq: oauth2 login: no random bytes\n");
		return EX_OSERR;
	}
	relayq_oauth2_random(l->verifier, sizeof(l->verifier), rnd,
	    sizeof(rnd));
	(void)SHA256((const unsigned char *)l->verifier, strlen(l->verifier),
	    hash);
	relayq_oauth2_random(challenge, sizeof(challenge), hash, sizeof(hash));
	if (RAND_bytes(rnd, 16) != 1) {
		fprintf(stderr, "relayq: oauth2 login: no random bytes\n");
		return EX_OSERR;
	}
	relayq_oauth2_random(l->state, sizeof(l->state), rnd, 16);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if ((l->http = evhttp_new(l->base)) == NULL ||
	    (bs = evhttp_bind_socket_with_handle(l->http, "127.0.0.1", 0)) ==
		NULL ||
	    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
		&slen) == -1) {
		fprintf(stderr,
		    "relayq: oauth2 login: cannot listen on 127.0.0.1: %s\n",
		    strerror(errno));
		return EX_OSERR;
	}
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET);
	evhttp_set_gencb(l->http, relayq_oauth2_redirect_cb, l);
	(void)!rq_snprintf(l->redirect_uri, sizeof(l->redirect_uri),
	    "http://127.0.0.1:%u/", (unsigned)ntohs(sin.sin_port));
	if (strlcpy(url, c->smarthosts[0].oauth2_auth_url, sizeof(url)) >=
		sizeof(url) ||
	    relayq_oauth2_param(url, sizeof(url), "client_id",
		c->smarthosts[0].oauth2_client_id) == -1 ||
	    relayq_oauth2_param(url, sizeof(url), "redirect_uri",
		l->redirect_uri) == -1 ||
	    relayq_oauth2_param(url, sizeof(url), "response_type", "code") ==
		-1 ||
	    relayq_oauth2_param(url, sizeof(url), "scope",
		c->smarthosts[0].oauth2_scope) == -1 ||
	    relayq_oauth2_param(url, sizeof(url), "state", l->state) == -1 ||
	    relayq_oauth2_param(url, sizeof(url), "code_challenge",
		challenge) == -1 ||
	    relayq_oauth2_param(url, sizeof(url), "code_challenge_method",
		"S256") == -1) {
		fprintf(stderr,
		    "relayq: oauth2 login: oauth2_auth_url is too long\n");
		return EX_CONFIG;
	}
	evtimer_assign(l->timer, l->base, relayq_oauth2_wait_cb, l);
	event_add(l->timer, &tv);
	printf("Open this URL in a browser on this machine (relayq waits "
	       "%d s for the redirect to %s):\n%s\n",
	    RELAYQ_OAUTH2_BROWSER_WAIT, l->redirect_uri, url);
	(void)fflush(stdout);
	return EX_OK;
}

/* Root becomes relayqd's user, the spool's owner; EX_OK or an error. */
static int
relayq_oauth2_become(const struct conf *c)
{
	struct stat st;

	if (geteuid() != 0 || stat(c->spool_dir, &st) == -1 || st.st_uid == 0)
		return EX_OK;
	/* setuid() makes us dumpable again: turn it off anew. */
	if (setgroups(0, NULL) == -1 || setgid(st.st_gid) == -1 ||
	    setuid(st.st_uid) == -1 || secret_nodump() == -1) {
		fprintf(stderr,
		    "relayq: oauth2 login: cannot become relayqd's user (uid "
		    "%lu, the owner of %s): %s\n",
		    (unsigned long)st.st_uid, c->spool_dir, strerror(errno));
		return EX_OSERR;
	}
	return EX_OK;
}

/* Checks the keys login needs; EX_OK or EX_CONFIG after a message. */
static int
relayq_oauth2_login_conf(const struct conf *c, int browser)
{
	const char *missing = NULL;
	char sec[64];

	if (c->smarthosts[0].oauth2_token_url[0] == '\0')
		missing = "oauth2_token_url";
	else if (strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") != 0)
		missing = "oauth2_grant = refresh_token (client_credentials "
			  "needs no login)";
	else if (c->smarthosts[0].oauth2_refresh_token_file[0] == '\0')
		missing = "oauth2_refresh_token_file";
	else if (browser && c->smarthosts[0].oauth2_auth_url[0] == '\0')
		missing = "oauth2_auth_url (for --browser)";
	else if (!browser && c->smarthosts[0].oauth2_device_url[0] == '\0')
		missing = "oauth2_device_url (or use --browser)";
	if (missing == NULL)
		return EX_OK;
	fprintf(stderr, "relayq: oauth2 login: %s: %s needs %s\n", c->path,
	    relayq_oauth2_section(&c->smarthosts[0], sec, sizeof(sec)),
	    missing);
	return EX_CONFIG;
}

/*
 * Checks, before the sign-in, that the token file's lock can be taken
 * (or is held by another process) and the file replaced: a login whose
 * grant cannot be stored is wasted.  EX_OK, or EX_CANTCREAT with a
 * message.
 */
static int
relayq_oauth2_login_writable(const struct conf *c)
{
	const char *file = c->smarthosts[0].oauth2_refresh_token_file;
	struct rq_err err;
	int fd;

	if ((fd = oauth2_store_lock(file, 1)) == -1 && errno != EWOULDBLOCK) {
		(void)!rq_snprintf(err.msg, sizeof(err.msg),
		    "cannot lock %s.lock: %s", file, strerror(errno));
		goto fail;
	}
	if (fd != -1)
		(void)close(fd);
	if (oauth2_store_can_write(file, &err) == -1)
		goto fail;
	return EX_OK;
fail:
	fprintf(stderr,
	    "relayq: oauth2 login: %s; uid %lu cannot store the refresh "
	    "token (run this as relayqd's user or as root)\n",
	    err.msg, (unsigned long)geteuid());
	return EX_CANTCREAT;
}

/* relayq oauth2 login [--browser] [--smarthost NAME]. */
int
relayq_oauth2_login(const struct conf *c, const char *name, int browser)
{
	struct relayq_oauth2_login l;
	struct conf view;
	struct rq_err err;
	int rc;

	/* From here on c's smarthosts[0] is the section to log in to. */
	if (name != NULL) {
		if (conf_view_smarthost_named(&view, c, name, &err) == -1) {
			fprintf(stderr, "relayq: oauth2 login: %s\n", err.msg);
			return EX_USAGE;
		}
		c = &view;
	}
	if ((rc = relayq_oauth2_login_conf(c, browser)) != EX_OK ||
	    (rc = relayq_oauth2_become(c)) != EX_OK ||
	    (rc = relayq_oauth2_login_writable(c)) != EX_OK)
		return rc;
	memset(&l, 0, sizeof(l));
	l.c = c;
	l.rc = -1;
	oauth2_client_conf_from(&l.cc, c);
	l.cc.note = relayq_oauth2_note;
	if ((l.base = event_base_new()) == NULL ||
	    (l.timer = evtimer_new(l.base, relayq_oauth2_wait_cb, &l)) ==
		NULL) {
		fprintf(stderr, "relayq: oauth2 login: no event loop\n");
		rc = EX_OSERR;
		goto out;
	}
	if (browser)
		rc = relayq_oauth2_browser(&l);
	else if ((l.fetch = oauth2_client_device_start(l.base, NULL, &l.cc,
		      c->smarthosts[0].oauth2_device_url,
		      relayq_oauth2_device_cb, &l, &err)) == NULL) {
		fprintf(stderr, "relayq: oauth2 login: %s\n", err.msg);
		rc = EX_CONFIG;
	}
	if (rc != EX_OK)
		goto out;
	(void)event_base_dispatch(l.base);
	/* One more pass runs liboauth2's deferred free of the last fetch. */
	(void)event_base_loop(l.base, EVLOOP_NONBLOCK);
	rc = l.rc == -1 ? EX_SOFTWARE : l.rc;
out:
	if (l.fetch != NULL)
		oauth2_client_cancel(l.fetch);
	if (l.http != NULL)
		evhttp_free(l.http);
	if (l.timer != NULL)
		event_free(l.timer);
	if (l.base != NULL)
		event_base_free(l.base);
	if (l.device_code != NULL) {
		OPENSSL_cleanse(l.device_code, strlen(l.device_code));
		free(l.device_code);
	}
	if (l.code != NULL) {
		OPENSSL_cleanse(l.code, strlen(l.code));
		free(l.code);
	}
	OPENSSL_cleanse(l.verifier, sizeof(l.verifier));
	return fflush(stdout) == EOF && rc == EX_OK ? EX_IOERR : rc;
}

/* relayq oauth2 (status | login [--browser]) [--smarthost NAME]. */
int
relayq_oauth2_main(const struct conf *c, int argc, char *argv[])
{
	const char *name = NULL;
	int status, browser = 0;

	if (argc < 1 ||
	    (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "login") != 0))
		goto usage;
	status = strcmp(argv[0], "status") == 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smarthost") == 0 && name == NULL &&
		    i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--browser") == 0 && !status &&
		    !browser)
			browser = 1;
		else
			goto usage;
	}
	return status ? relayq_oauth2_status(c, name)
		      : relayq_oauth2_login(c, name, browser);
usage:
	fprintf(stderr,
	    "usage: relayq [-c config] oauth2 status [--smarthost NAME]\n"
	    "       relayq [-c config] oauth2 login [--browser] "
	    "[--smarthost NAME]\n");
	return EX_USAGE;
}
