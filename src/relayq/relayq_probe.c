/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq probe.  It loads the TLS and AUTH settings with the same
 * library calls and the same checks as relayqd, so a configuration that
 * relayqd refuses is refused here too (exit EX_CONFIG), then runs one
 * probe session and maps its verdict to an exit code.
 *
 * Credentials: the secret (password_file, password_command, the OAuth2
 * client secret and refresh token files) is relayqd's and must be owned
 * by the user that reads it.  Run as root, the probe becomes the spool's
 * owner (relayqd's user) before it reads anything, as relayqd runs; run
 * as anyone else it must be that user, or it says so and exits
 * EX_NOPERM before touching the network.
 *
 * OAuth2 (oauth2_token_url): before the SMTP session the probe gets an
 * access token with liboauth2, the code relayqd uses (the refresh token
 * file locked, re-read, and rewritten durably when the provider rotates
 * it), and hands it to the session for XOAUTH2 or OAUTHBEARER; it is
 * shown only as <redacted> and wiped after.  invalid_grant ends the
 * probe with EX_NOPERM ("run relayq oauth2 login"), an unreachable or
 * failing endpoint with EX_UNAVAILABLE, any other refusal with
 * EX_CONFIG, each with its sentence.
 */
#include "config.h"

#include "relayq/relayq_probe.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/conf.h"
#include "common/secret.h"
#include "common/strutil.h"
#include "oauth2/oauth2_client.h"
#include "oauth2/oauth2_store.h"
#include "smarthost/smarthost_auth.h"
#include "smarthost/smarthost_probe.h"
#include "smarthost/smarthost_tls.h"

/* Longest wait for any one step by default (seconds). */
#define RELAYQ_PROBE_TIMEOUT 30

/* Prints the usage of relayq probe on fp. */
void
relayq_probe_usage_print(FILE *fp)
{
	fprintf(fp,
	    "usage: relayq [-c config] probe [--smarthost NAME] "
	    "[--rcpt ADDR [--from ADDR]]\n"
	    "              [--timeout DUR]\n"
	    "  connect to the smarthost ([smarthost], or [smarthost NAME]) "
	    "as relayqd\n"
	    "  would, show the dialogue (secrets\n"
	    "  redacted) and say what to fix; with --rcpt, MAIL and RCPT "
	    "then RSET:\n"
	    "  nothing is sent.  Exit 0 could send, 69 unavailable, 75 "
	    "temporary,\n"
	    "  77 authentication failed, 78 configuration error.  Each "
	    "wait is\n"
	    "  relayqd's timeout, at most --timeout (default 30s).\n");
}

/*
 * Takes relayqd's credentials for the secrets: root becomes the spool's
 * owner; another user must own every secret file the configuration
 * names (password_file, oauth2_client_secret_file, and
 * oauth2_refresh_token_file for the refresh_token grant).  Returns EX_OK,
 * or an exit code after a message.
 */
static int
relayq_probe_creds(const struct conf *c)
{
	const char *files[] = { "password_file", c->smarthosts[0].password_file,
		"oauth2_client_secret_file",
		c->smarthosts[0].oauth2_client_secret_file,
		"oauth2_refresh_token_file",
		strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") == 0
		    ? c->smarthosts[0].oauth2_refresh_token_file
		    : "" };
	int oauth2 = c->smarthosts[0].oauth2_token_url[0] != '\0';
	struct stat st;

	if (c->smarthosts[0].username[0] == '\0' ||
	    (c->smarthosts[0].password_file[0] == '\0' &&
		c->smarthosts[0].password_command[0] == '\0' && !oauth2))
		return EX_OK;
	if (geteuid() == 0) {
		if (stat(c->spool_dir, &st) == -1 || st.st_uid == 0)
			return EX_OK; /* relayqd runs as root here too */
		/* setuid() makes us dumpable again: turn it off anew. */
		if (setgroups(0, NULL) == -1 || setgid(st.st_gid) == -1 ||
		    setuid(st.st_uid) == -1 || secret_nodump() == -1) {
			fprintf(stderr,
			    "relayq: probe: cannot become relayqd's user "
			    "(uid %lu, the owner of %s): %s\n",
			    (unsigned long)st.st_uid, c->spool_dir,
			    strerror(errno));
			return EX_OSERR;
		}
		printf("* reading the secret as uid %lu (relayqd's user, the "
		       "owner of %s)\n",
		    (unsigned long)st.st_uid, c->spool_dir);
		return EX_OK;
	}
	/*
	 * password_command runs as the caller; a missing refresh token
	 * file is relayq_probe_token()'s to explain.
	 */
	for (size_t i = 0; i < RQ_NELEM(files); i += 2) {
		int rv;

		if (files[i + 1][0] == '\0')
			continue;
		rv = stat(files[i + 1], &st);
		if ((rv == -1 && errno == ENOENT) ||
		    (rv == 0 && st.st_uid == geteuid() &&
			access(files[i + 1], R_OK) == 0))
			continue;
		fprintf(stderr,
		    "relayq: probe: cannot read %s %s as uid %lu: it is "
		    "relayqd's secret; run relayq probe as root or as "
		    "relayqd's user\n",
		    files[i], files[i + 1], (unsigned long)geteuid());
		return EX_NOPERM;
	}
	return EX_OK;
}

/* What the token request left for relayq_probe_token(). */
struct relayq_probe_fetch {
	enum oauth2_client_result r;
	char *token; /* owned, wiped: the access token */
	long long expires_in;
	int rotated;
	char why[512];
};

/* The token request ended (oauth2_client_done_fn). */
static void
relayq_probe_fetch_cb(void *arg, enum oauth2_client_result r,
    struct oauth2_token *t, const char *why)
{
	struct relayq_probe_fetch *pf = arg;

	pf->r = r;
	(void)strlcpy(pf->why, why, sizeof(pf->why));
	if (r != OAUTH2_CLIENT_OK)
		return;
	pf->token = t->access_token;
	t->access_token = NULL;
	pf->expires_in = t->expires_in;
	pf->rotated = t->refresh_token != NULL;
	oauth2_token_clear(t);
}

/*
 * Gets an access token as relayqd does (liboauth2: the refresh token
 * file locked, read, and rewritten durably when the provider rotates
 * it), waiting at most timeout seconds (0: connect_timeout).  Returns
 * SMARTHOST_PROBE_OK with *token (wipe and free it), or the verdict with
 * the sentence in advice.
 */
static enum smarthost_probe_result
relayq_probe_token(const struct conf *c, long long timeout, char **token,
    char *advice, size_t advicesz)
{
	const char *file = c->smarthosts[0].oauth2_refresh_token_file;
	int refresh =
	    strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") == 0;
	struct relayq_probe_fetch pf;
	struct oauth2_client_conf cc;
	struct event_base *base;
	struct rq_err err;
	char *rt;
	size_t n;

	*token = NULL;
	memset(&pf, 0, sizeof(pf));
	pf.r = OAUTH2_CLIENT_FAILED;
	if (refresh && oauth2_store_read(file, 1, &rt, &n, &err) == -1) {
		printf("* OAuth2: %s\n", err.msg);
		(void)!rq_snprintf(advice, advicesz,
		    "There is no usable refresh token in %s: run relayq "
		    "oauth2 login.",
		    file);
		return SMARTHOST_PROBE_CONFIG;
	}
	if (refresh) {
		OPENSSL_cleanse(rt, n);
		free(rt);
	}
	oauth2_client_conf_from(&cc, c);
	if (timeout > 0 && (cc.timeout <= 0 || cc.timeout > timeout))
		cc.timeout = (int)timeout;
	printf("* OAuth2: asking %s for an access token (grant %s)\n",
	    cc.token_url, c->smarthosts[0].oauth2_grant);
	(void)fflush(stdout);
	if ((base = event_base_new()) == NULL) {
		(void)!rq_snprintf(advice, advicesz,
		    "relayq cannot start its event loop: try again.");
		return SMARTHOST_PROBE_TEMPFAIL;
	}
	/* The loop ends once the request and its deferred free are done. */
	if (oauth2_client_start(base, NULL, &cc, relayq_probe_fetch_cb, &pf,
		&err) == NULL)
		(void)strlcpy(pf.why, err.msg, sizeof(pf.why));
	else
		(void)event_base_dispatch(base);
	event_base_free(base);
	if (pf.r == OAUTH2_CLIENT_OK) {
		printf("* OAuth2: access token <redacted>, expires in %llds\n",
		    pf.expires_in);
		if (pf.rotated)
			printf("* OAuth2: the provider rotated the refresh "
			       "token; the new one is stored in %s\n",
			    file);
		*token = pf.token;
		return SMARTHOST_PROBE_OK;
	}
	printf("* OAuth2: %s\n", pf.why);
	switch (pf.r) {
	case OAUTH2_CLIENT_REJECTED:
		if (refresh)
			(void)!rq_snprintf(advice, advicesz,
			    "The token endpoint refused the refresh token "
			    "(invalid_grant: the consent was revoked or has "
			    "expired): run relayq oauth2 login.");
		else
			(void)!rq_snprintf(advice, advicesz,
			    "The token endpoint refused the client credentials "
			    "(invalid_grant): check oauth2_client_id and "
			    "oauth2_client_secret_file.");
		return SMARTHOST_PROBE_AUTHFAIL;
	case OAUTH2_CLIENT_DOWN:
		(void)!rq_snprintf(advice, advicesz,
		    "The token endpoint %s cannot be reached or is failing: "
		    "check oauth2_token_url and the network; relayqd defers "
		    "mail until it answers.",
		    cc.token_url);
		return SMARTHOST_PROBE_UNAVAILABLE;
	case OAUTH2_CLIENT_OK:
	case OAUTH2_CLIENT_FAILED:
	default:
		break;
	}
	(void)!rq_snprintf(advice, advicesz,
	    "The token endpoint gave no usable access token: check "
	    "oauth2_client_id, oauth2_client_secret_file and oauth2_scope.");
	return SMARTHOST_PROBE_CONFIG;
}

/* Parses the arguments into o; returns EX_OK or EX_USAGE. */
static int
relayq_probe_args(int argc, char *argv[], struct smarthost_probe_opts *o,
    const char **smarthost)
{
	const char *from = NULL, *timeout = NULL, *errstr;

	for (int i = 0; i < argc; i++) {
		const char **slot;

		if (strcmp(argv[i], "--rcpt") == 0)
			slot = &o->rcpt;
		else if (strcmp(argv[i], "--from") == 0)
			slot = &from;
		else if (strcmp(argv[i], "--timeout") == 0)
			slot = &timeout;
		else if (strcmp(argv[i], "--smarthost") == 0)
			slot = smarthost;
		else
			goto usage;
		if (i + 1 >= argc || *slot != NULL)
			goto usage;
		*slot = argv[++i];
	}
	if (from != NULL && o->rcpt == NULL)
		goto usage;
	if (from != NULL)
		o->sender = from;
	if (timeout != NULL &&
	    (str_to_duration(timeout, &o->timeout, &errstr) == -1 ||
		o->timeout < 1)) {
		fprintf(stderr, "relayq: probe: --timeout %s: %s\n", timeout,
		    o->timeout < 1 ? "must be at least 1s" : errstr);
		return EX_USAGE;
	}
	return EX_OK;
usage:
	relayq_probe_usage_print(stderr);
	return EX_USAGE;
}

/* The exit code and word for a verdict. */
static int
relayq_probe_exit(enum smarthost_probe_result r, const char **word)
{
	switch (r) {
	case SMARTHOST_PROBE_OK:
		*word = "ok";
		return EX_OK;
	case SMARTHOST_PROBE_UNAVAILABLE:
		*word = "unavailable";
		return EX_UNAVAILABLE;
	case SMARTHOST_PROBE_TEMPFAIL:
		*word = "temporary failure";
		return EX_TEMPFAIL;
	case SMARTHOST_PROBE_AUTHFAIL:
		*word = "authentication failed";
		return EX_NOPERM;
	case SMARTHOST_PROBE_CONFIG:
		break;
	}
	*word = "configuration error";
	return EX_CONFIG;
}

/* Runs relayq probe. */
int
relayq_probe_main(struct conf *c, int argc, char *argv[])
{
	static const char null_sender[] = "";
	struct smarthost_probe_opts o = { null_sender, NULL,
		RELAYQ_PROBE_TIMEOUT, NULL };
	struct smarthost_tls *tls = NULL;
	struct smarthost_auth *auth = NULL;
	enum smarthost_probe_result r;
	struct rq_err err;
	struct conf view;
	const char *why, *word, *name = NULL;
	char advice[512], *token = NULL;
	int rc;

	if ((rc = relayq_probe_args(argc, argv, &o, &name)) != EX_OK)
		return rc;
	/* --smarthost NAME: libsmarthost sees that one as smarthosts[0]. */
	if (name != NULL) {
		if (conf_view_smarthost_named(&view, c, name, &err) == -1) {
			fprintf(stderr, "relayq: probe: %s\n", err.msg);
			return EX_USAGE;
		}
		c = &view;
	}
	/* MAIL FROM: --from, else the login when it is an address, else <>. */
	if (o.sender == null_sender &&
	    strchr(c->smarthosts[0].username, '@') != NULL)
		o.sender = c->smarthosts[0].username;
	if (c->smarthosts[0].host[0] == '\0') {
		fprintf(stderr,
		    "relayq: probe: %s: [smarthost] host is not "
		    "set\n",
		    c->path);
		return EX_CONFIG;
	}
	if ((rc = relayq_probe_creds(c)) != EX_OK)
		return rc;
	if (c->smarthosts[0].tls != CONF_TLS_NONE &&
	    (tls = smarthost_tls_new(c, &err)) == NULL) {
		fprintf(stderr, "relayq: probe: %s: %s\n", c->path, err.msg);
		return EX_CONFIG;
	}
	if (tls != NULL)
		smarthost_tls_set_verify_late(tls);
	if ((auth = smarthost_auth_new(c, &err)) == NULL &&
	    err.msg[0] != '\0') {
		fprintf(stderr, "relayq: probe: %s: %s\n", c->path, err.msg);
		smarthost_tls_free(tls);
		return EX_CONFIG;
	}
	if ((why = smarthost_auth_check_tls(auth, c)) != NULL) {
		fprintf(stderr, "relayq: probe: %s: %s\n", c->path, why);
		smarthost_auth_free(auth);
		smarthost_tls_free(tls);
		return EX_CONFIG;
	}
	printf("* smarthost %s%s%s port %d, tls = %s, auth = %s%s%s\n",
	    name != NULL ? c->smarthosts[0].name : "", name != NULL ? ": " : "",
	    c->smarthosts[0].host, c->smarthosts[0].port,
	    c->smarthosts[0].tls == CONF_TLS_STARTTLS	    ? "starttls"
		: c->smarthosts[0].tls == CONF_TLS_IMPLICIT ? "implicit"
							    : "none",
	    auth != NULL ? c->smarthosts[0].auth : "none",
	    auth != NULL ? " as " : "",
	    auth != NULL ? c->smarthosts[0].username : "");
	r = smarthost_auth_is_oauth2(auth)
	    ? relayq_probe_token(c, o.timeout, &token, advice, sizeof(advice))
	    : SMARTHOST_PROBE_OK;
	if (r == SMARTHOST_PROBE_OK) {
		o.token = token;
		r = smarthost_probe_run(c, tls, auth, &o, stdout, advice,
		    sizeof(advice));
	}
	rc = relayq_probe_exit(r, &word);
	printf("result: %s (exit %d)\n%s\n", word, rc, advice);
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	smarthost_auth_free(auth);
	smarthost_tls_free(tls);
	return fflush(stdout) == EOF ? EX_IOERR : rc;
}
