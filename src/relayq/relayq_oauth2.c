/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq oauth2 status.  Reads the configuration, checks the refresh
 * token file with the rules relayqd applies (oauth2_store_read, whose
 * result is wiped at once: only "usable" or the error is shown), and
 * prints relayqd's last refresh from <spool>/oauth2 (written by
 * relayqd_oauth2.c: last_refresh, result, reason, expires).  Owns no
 * state; never prints a token or a secret.
 */
#include "config.h"

#include "relayq/relayq_oauth2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/conf.h"
#include "common/strutil.h"
#include "oauth2/oauth2_store.h"

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

/* Prints relayqd's last refresh from <spool>/oauth2. */
static void
relayq_oauth2_last(const struct conf *c)
{
	char path[4096], line[1024], result[64] = "", reason[1024] = "";
	char when[64];
	long long last = 0, expires = 0;
	FILE *f;

	if (rq_snprintf(path, sizeof(path), "%s/oauth2", c->spool_dir) == -1 ||
	    (f = fopen(path, "re")) == NULL) {
		printf("last refresh: none recorded by relayqd\n");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "last_refresh=", 13) == 0)
			last = strtoll(line + 13, NULL, 10);
		else if (strncmp(line, "expires=", 8) == 0)
			expires = strtoll(line + 8, NULL, 10);
		else if (strncmp(line, "result=", 7) == 0)
			(void)strlcpy(result, line + 7, sizeof(result));
		else if (strncmp(line, "reason=", 7) == 0)
			(void)strlcpy(reason, line + 7, sizeof(reason));
	}
	(void)fclose(f);
	relayq_oauth2_time(when, sizeof(when), last);
	printf("last refresh: %s, %s%s%s\n", when,
	    result[0] != '\0' ? result : "?", reason[0] != '\0' ? ": " : "",
	    reason);
	if (strcmp(result, "ok") == 0) {
		relayq_oauth2_time(when, sizeof(when), expires);
		printf("access token expires: %s%s\n", when,
		    expires <= (long long)time(NULL) ? " (expired)" : "");
	}
}

/* relayq oauth2 status. */
int
relayq_oauth2_status(const struct conf *c)
{
	const char *file = c->smarthost_oauth2_refresh_token_file;
	int refresh = strcmp(c->smarthost_oauth2_grant, "refresh_token") == 0;
	struct rq_err err;
	char *tok;
	size_t n;

	if (c->smarthost_oauth2_token_url[0] == '\0') {
		fprintf(stderr,
		    "relayq: %s: OAuth2 is not configured "
		    "([smarthost] oauth2_token_url)\n",
		    c->path);
		return EX_CONFIG;
	}
	printf("smarthost: %s:%d, auth = %s, username = %s\n",
	    c->smarthost_host, c->smarthost_port, c->smarthost_auth,
	    c->smarthost_username);
	printf("token endpoint: %s\n", c->smarthost_oauth2_token_url);
	printf("client id: %s\n", c->smarthost_oauth2_client_id);
	printf("client secret file: %s\n",
	    c->smarthost_oauth2_client_secret_file[0] != '\0'
		? c->smarthost_oauth2_client_secret_file
		: "none (public client)");
	printf("grant: %s\n", c->smarthost_oauth2_grant);
	if (c->smarthost_oauth2_scope[0] != '\0')
		printf("scope: %s\n", c->smarthost_oauth2_scope);
	if (refresh) {
		if (oauth2_store_read(file, 1, &tok, &n, &err) == 0) {
			OPENSSL_cleanse(tok, n);
			free(tok);
			printf("refresh token file: %s (present, usable)\n",
			    file);
		} else
			printf("refresh token file: %s: %s; run relayq oauth2 "
			       "login\n",
			    file, err.msg);
	}
	relayq_oauth2_last(c);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}
