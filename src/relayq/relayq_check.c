/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq check-config (see relayq_check.h).  The expected modes are
 * those of queue_spool.c; keep the two tables in step.
 */
#include "config.h"

#include "relayq/relayq_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "oauth2/oauth2_store.h"
#include "queue/queue_spool.h"
#include "smarthost/smarthost_auth.h"
#include "smarthost/smarthost_tls.h"

struct relayq_check_dir {
	const char *name;
	mode_t mode;
	int group; /* must be in the spool's group */
};

static const struct relayq_check_dir relayq_check_dirs[] = {
	{ "tmp", 01730, 1 },
	{ "incoming", 01770, 1 },
	{ "queue", 0750, 0 },
	{ "state", 0750, 0 },
	{ "corrupt", 0700, 0 },
	{ "failed", 0750, 0 },
};

/* Prints one problem. */
static void RQ_PRINTF(1, 2) relayq_check_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("relayq: check-config: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Checks the spool directories; returns the number of problems. */
static int
relayq_check_spool(const char *spool, uid_t *owner)
{
	struct stat root, st;
	char path[4096];
	int bad = 0;

	if (stat(spool, &root) == -1) {
		relayq_check_fail("spool_dir %s: %s", spool, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(root.st_mode)) {
		relayq_check_fail("spool_dir %s: not a directory", spool);
		return 1;
	}
	*owner = root.st_uid;
	for (size_t i = 0;
	     i < sizeof(relayq_check_dirs) / sizeof(relayq_check_dirs[0]);
	     i++) {
		const struct relayq_check_dir *d = &relayq_check_dirs[i];

		if (rq_snprintf(path, sizeof(path), "%s/%s", spool, d->name) ==
		    -1) {
			relayq_check_fail("spool_dir %s: path too long", spool);
			return bad + 1;
		}
		if (lstat(path, &st) == -1) {
			relayq_check_fail("%s: %s (relayqd creates it at "
					  "start-up)",
			    path, strerror(errno));
			bad++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			relayq_check_fail("%s: not a directory", path);
			bad++;
			continue;
		}
		if ((st.st_mode & 07777) != d->mode) {
			relayq_check_fail("%s: mode %04lo, want %04lo; run "
					  "chmod %04lo %s",
			    path, (unsigned long)(st.st_mode & 07777),
			    (unsigned long)d->mode, (unsigned long)d->mode,
			    path);
			bad++;
		}
		if (st.st_uid != root.st_uid) {
			relayq_check_fail("%s: owned by uid %lu, want %lu "
					  "(the spool's owner)",
			    path, (unsigned long)st.st_uid,
			    (unsigned long)root.st_uid);
			bad++;
		}
		if (d->group && st.st_gid != root.st_gid) {
			relayq_check_fail("%s: group %lu, want %lu (the "
					  "spool's group, sendmail's setgid "
					  "group)",
			    path, (unsigned long)st.st_gid,
			    (unsigned long)root.st_gid);
			bad++;
		}
	}
	return bad;
}

/*
 * Checks a secret file of smarthost sh, if set, as relayqd does when it
 * reads it (the same function, so the same message, naming sh's
 * section), with the spool's owner as relayqd's user.  Returns the
 * number of problems.
 */
static int
relayq_check_secret(const struct conf_smarthost *sh, const char *key,
    const char *path, uid_t owner, size_t max)
{
	struct rq_err err;
	char msg[sizeof(err.msg) + 64];

	if (*path == '\0' || secret_lstat(key, path, owner, max, &err) == 0)
		return 0;
	conf_smarthost_msg(sh, err.msg, msg, sizeof(msg));
	relayq_check_fail("%s", msg);
	return 1;
}

/*
 * Checks the AUTH, OAuth2 and TLS keys and the secret files as relayqd
 * does at start (the same functions); returns the number of problems.
 */
static int
relayq_check_auth(const struct conf *c, uid_t owner)
{
	const char *rt = c->smarthosts[0].oauth2_refresh_token_file;
	struct rq_err err;
	struct stat st;
	char msg[sizeof(err.msg) + 64];
	int bad = 0;

	if (smarthost_auth_check_conf(c, &err) == -1) {
		conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
		    sizeof(msg));
		relayq_check_fail("%s (relayqd refuses to start)", msg);
		bad++;
	}
	if (smarthost_tls_check_conf(c, &err) == -1) {
		conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
		    sizeof(msg));
		relayq_check_fail("%s (relayqd refuses to start)", msg);
		bad++;
	}
	bad += relayq_check_secret(&c->smarthosts[0], "password_file",
	    c->smarthosts[0].password_file, owner, SMARTHOST_AUTH_FILE_MAX);
	if (smarthost_auth_check_program(c, owner, &err) == -1) {
		conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
		    sizeof(msg));
		relayq_check_fail("%s (relayqd refuses to start)", msg);
		bad++;
	}
	bad += relayq_check_secret(&c->smarthosts[0],
	    "oauth2_client_secret_file",
	    c->smarthosts[0].oauth2_client_secret_file, owner, SECRET_FILE_MAX);
	if (c->smarthosts[0].oauth2_ca_file[0] != '\0' &&
	    smarthost_tls_check_pem("oauth2_ca_file",
		c->smarthosts[0].oauth2_ca_file, &err) == -1) {
		conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
		    sizeof(msg));
		relayq_check_fail("%s (relayqd refuses to start)", msg);
		bad++;
	}
	if (*rt == '\0' || c->smarthosts[0].oauth2_token_url[0] == '\0' ||
	    strcmp(c->smarthosts[0].oauth2_grant, "refresh_token") != 0)
		return bad;
	/* relayq oauth2 login writes it: missing is no problem yet. */
	if (lstat(rt, &st) == 0) {
		if (relayq_check_secret(&c->smarthosts[0],
			"oauth2_refresh_token_file", rt, owner,
			OAUTH2_STORE_FILE_MAX) > 0)
			bad++;
		else if (st.st_size == 0) {
			(void)!rq_snprintf(err.msg, sizeof(err.msg),
			    "oauth2_refresh_token_file %s is empty (run "
			    "relayq oauth2 login)",
			    rt);
			conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
			    sizeof(msg));
			relayq_check_fail("%s", msg);
			bad++;
		}
	}
	/* relayqd writes the rotated token next to it. */
	if (oauth2_store_dir_check(rt, owner, &err) == -1) {
		conf_smarthost_msg(&c->smarthosts[0], err.msg, msg,
		    sizeof(msg));
		relayq_check_fail("%s (a refresh token would be spent and its "
				  "successor lost)",
		    msg);
		bad++;
	}
	return bad;
}

/*
 * Checks that a command relayqd runs without a shell (alert_command)
 * can be found, as password_command is (secret_check_program): an
 * absolute path, or a bare name in $PATH (relayqd's own PATH may
 * differ: under systemd it is the manager's).  The word count and
 * relative paths are checked by conf_load().  Returns the number of
 * problems.
 */
static int
relayq_check_command(const char *key, const char *cmd, uid_t owner)
{
	char *argv[STR_ARGV_MAX + 1], *copy;
	struct rq_err err;
	int bad = 0;

	if (*cmd == '\0')
		return 0;
	copy = xstrdup(cmd);
	if (str_split_words(copy, argv, STR_ARGV_MAX) >= 1 &&
	    secret_check_program(key, argv[0], getenv("PATH"), owner, &err) ==
		-1) {
		relayq_check_fail("%s", err.msg);
		bad = 1;
	}
	free(copy);
	return bad;
}

/* Checks that a file relayqd reads at start, if set, can be read. */
static int
relayq_check_readable(const char *key, const char *path)
{
	if (path[0] == '\0' || access(path, R_OK) == 0)
		return 0;
	relayq_check_fail("%s %s: %s (relayqd refuses to start)", key, path,
	    strerror(errno));
	return 1;
}

/* True when some other smarthost's chain names smarthost i. */
static int
relayq_check_in_chain(const struct conf *c, size_t i)
{
	for (size_t j = 0; j < c->nsmarthosts; j++)
		for (size_t k = 1; k < c->smarthosts[j].nchain; k++)
			if (j != i && c->smarthosts[j].chain[k] == i)
				return 1;
	return 0;
}

/* Lists the smarthosts: address, TLS, chain and sender patterns. */
static void
relayq_check_list(const struct conf *c)
{
	static const char *tls[] = { [CONF_TLS_NONE] = "none",
		[CONF_TLS_STARTTLS] = "starttls",
		[CONF_TLS_IMPLICIT] = "implicit" };
	char addr[300];

	for (size_t i = 0; i < c->nsmarthosts; i++) {
		const struct conf_smarthost *sh = &c->smarthosts[i];

		(void)conf_smarthost_addr(sh, addr, sizeof(addr));
		printf("smarthost %s: %s, tls %s\n  chain: ", sh->name, addr,
		    tls[sh->tls]);
		for (size_t k = 0; k < sh->nchain; k++)
			printf("%s%s", k > 0 ? " -> " : "",
			    c->smarthosts[sh->chain[k]].name);
		printf("\n  senders: ");
		if (i == 0)
			printf("every sender no other smarthost claims, and "
			       "bounces");
		else if (sh->nsenders == 0)
			printf("none (%s)",
			    relayq_check_in_chain(c, i)
				? "a fallback only"
				: "no pattern, and no fallback names it: "
				  "never used");
		for (size_t p = 0; p < sh->nsenders; p++)
			printf("%s%s", p > 0 ? ", " : "", sh->senders[p]);
		putchar('\n');
		if (sh->password_command[0] != '\0')
			printf("  password_command time limit: %llds\n",
			    sh->password_command_timeout);
	}
}

/* Runs every check. */
int
relayq_check_config(const struct conf *c)
{
	uid_t owner = (uid_t)-1;
	char why[512];
	int bad = 0;

	relayq_check_list(c);
	if (*c->smarthosts[0].host == '\0') {
		relayq_check_fail("[smarthost] host is not set: relayqd "
				  "refuses to start");
		bad++;
	}
	bad += relayq_check_spool(c->spool_dir, &owner);
	for (size_t i = 0; i < c->nsmarthosts; i++) {
		struct conf view;

		conf_view_smarthost(&view, c, i);
		bad += relayq_check_auth(&view, owner);
	}
	bad += relayq_check_command("alert_command", c->delivery_alert_command,
	    owner);
	bad += relayq_check_readable("relayq:resolv_conf", c->resolv_conf);
	bad += relayq_check_readable("relayq:hosts_file", c->hosts_file);
	if (queue_spool_sockdir_check(c->submit_socket, why, sizeof(why)) ==
	    -1) {
		relayq_check_fail("%s", why);
		bad++;
	}
	if (bad > 0) {
		fprintf(stderr, "relayq: check-config: %s: %d problem%s\n",
		    c->path, bad, bad == 1 ? "" : "s");
		return EX_CONFIG;
	}
	printf("%s: configuration OK\n", c->path);
	return EX_OK;
}
