/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq probe.  It loads the TLS and AUTH settings with the same
 * library calls and the same checks as relayqd, so a configuration that
 * relayqd refuses is refused here too (exit EX_CONFIG), then runs one
 * probe session and maps its verdict to an exit code.
 *
 * Credentials: the secret (password_file, password_command) is relayqd's
 * and must be owned by the user that reads it.  Run as root, the probe
 * becomes the spool's owner (relayqd's user) before it reads anything,
 * as relayqd runs; run as anyone else it must be that user, or it says
 * so and exits EX_NOPERM before touching the network.
 */
#include "config.h"

#include "relayq/relayq_probe.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/strutil.h"
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
 * Takes relayqd's credentials for the secret: root becomes the spool's
 * owner; another user must own password_file.  Returns EX_OK, or an
 * exit code after a message.
 */
static int
relayq_probe_creds(const struct conf *c)
{
	const char *pf = c->smarthosts[0].password_file;
	struct stat st;

	if (c->smarthosts[0].username[0] == '\0' ||
	    (pf[0] == '\0' && c->smarthosts[0].password_command[0] == '\0'))
		return EX_OK;
	if (geteuid() == 0) {
		if (stat(c->spool_dir, &st) == -1 || st.st_uid == 0)
			return EX_OK; /* relayqd runs as root here too */
		if (setgroups(0, NULL) == -1 || setgid(st.st_gid) == -1 ||
		    setuid(st.st_uid) == -1) {
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
	if (pf[0] == '\0')
		return EX_OK; /* password_command runs as the caller */
	if (stat(pf, &st) == -1 || st.st_uid != geteuid() ||
	    access(pf, R_OK) == -1) {
		fprintf(stderr,
		    "relayq: probe: cannot read password_file %s as uid "
		    "%lu: it is relayqd's secret; run relayq probe as root "
		    "or as relayqd's user\n",
		    pf, (unsigned long)geteuid());
		return EX_NOPERM;
	}
	return EX_OK;
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
		RELAYQ_PROBE_TIMEOUT };
	struct smarthost_tls *tls = NULL;
	struct smarthost_auth *auth = NULL;
	struct rq_err err;
	struct conf view;
	const char *why, *word, *name = NULL;
	char advice[512];
	ssize_t idx;
	int rc;

	if ((rc = relayq_probe_args(argc, argv, &o, &name)) != EX_OK)
		return rc;
	/* --smarthost NAME: libsmarthost sees that one as smarthosts[0]. */
	if (name != NULL) {
		if ((idx = conf_smarthost_find(c, name)) == -1) {
			fprintf(stderr,
			    "relayq: probe: --smarthost %s: %s has no "
			    "[smarthost %s]\n",
			    name, c->path, name);
			return EX_USAGE;
		}
		conf_view_smarthost(&view, c, (size_t)idx);
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
	rc = relayq_probe_exit(smarthost_probe_run(c, tls, auth, &o, stdout,
				   advice, sizeof(advice)),
	    &word);
	printf("result: %s (exit %d)\n%s\n", word, rc, advice);
	smarthost_auth_free(auth);
	smarthost_tls_free(tls);
	return fflush(stdout) == EOF ? EX_IOERR : rc;
}
