/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq: the operator's tool.  This file parses the command line,
 * loads the config, opens the spool as each subcommand needs it and
 * dispatches; the subcommands live in relayq_cmd.c (messages),
 * relayq_json.c (queue --json), relayq_check.c (check-config) and
 * relayq_stats.c (stats), relayq_send.c (send, which needs no
 * spool access: it submits through sendmail) and relayq_probe.c (probe,
 * which talks to the smarthost through libsmarthost).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/compat.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_list.h"
#include "queue/queue_spool.h"
#include "relayq/relayq_check.h"
#include "relayq/relayq_cmd.h"
#include "relayq/relayq_json.h"
#include "relayq/relayq_probe.h"
#include "relayq/relayq_oauth2.h"
#include "relayq/relayq_send.h"
#include "relayq/relayq_stats.h"

/* getopt_long's value for --version (no short option). */
#define RELAYQ_OPT_VERSION 256

/* The subcommands, their arguments and what they do, for the usage. */
static const struct {
	const char *name, *args, *what;
} relayq_cmds[] = {
	{ "queue", "[--json]", "list queued messages (as mailq)" },
	{ "show", "ID", "envelope, headers and state of a message" },
	{ "flush", "[ID]", "ask relayqd to try now (all, or ID)" },
	{ "requeue", "", "make every message not on hold due now" },
	{ "hold", "ID", "keep relayqd from delivering ID" },
	{ "release", "ID", "undo hold and try ID now" },
	{ "delete", "ID... | --all --yes", "remove messages from the queue" },
	{ "check-config", "", "check the config, spool and secret file" },
	{ "stats", "[--json|--prometheus]", "queue size and relayqd counters" },
	{ "failed", "[--purge [--older-than DUR]]",
	    "list undeliverable mail kept in failed/, or remove it" },
	{ "send", "--to LIST (--body TEXT | --body-file FILE) [...]",
	    "compose and queue a message; prints its id" },
	{ "probe", "[--smarthost NAME] [--rcpt ADDR [--from ADDR]] [...]",
	    "try the smarthost as relayqd would; say what to fix" },
	{ "oauth2", "(status | login [--browser]) [--smarthost NAME]",
	    "OAuth2 grant, token file, last refresh; get a refresh token" },
	{ "help", "[command]", "this help, or a command's" },
};

/* Prints the usage on fp. */
static void
relayq_usage_print(FILE *fp)
{
	fprintf(fp,
	    "usage: relayq [-c config] command [arguments]\n"
	    "       relayq --help | --version; relayq command --help\n"
	    "commands:\n");
	for (size_t i = 0; i < RQ_NELEM(relayq_cmds); i++)
		fprintf(fp, "  %s%s%s\n      %s\n", relayq_cmds[i].name,
		    relayq_cmds[i].args[0] != '\0' ? " " : "",
		    relayq_cmds[i].args, relayq_cmds[i].what);
}

/* Prints usage and exits EX_USAGE. */
static void
relayq_usage(void)
{
	relayq_usage_print(stderr);
	exit(EX_USAGE);
}

/*
 * Answers --help (the usage of cmd, or of every command when cmd is
 * NULL) or --version on stdout.  Returns EX_OK, or EX_IOERR when stdout
 * cannot be written; an unknown cmd is a usage error.
 */
static int
relayq_help(const char *cmd, int version)
{
	size_t i;

	for (i = 0; cmd != NULL && i < RQ_NELEM(relayq_cmds); i++)
		if (strcmp(cmd, relayq_cmds[i].name) == 0)
			break;
	if (cmd != NULL && i == RQ_NELEM(relayq_cmds)) {
		fprintf(stderr, "relayq: unknown command %s\n", cmd);
		relayq_usage();
	}
	if (version)
		printf("relayq %s\n", PACKAGE_VERSION);
	else if (cmd != NULL && strcmp(cmd, "send") == 0)
		relayq_send_usage_print(stdout);
	else if (cmd != NULL && strcmp(cmd, "probe") == 0)
		relayq_probe_usage_print(stdout);
	else if (cmd != NULL)
		printf("usage: relayq [-c config] %s%s%s\n  %s\n",
		    relayq_cmds[i].name,
		    relayq_cmds[i].args[0] != '\0' ? " " : "",
		    relayq_cmds[i].args, relayq_cmds[i].what);
	else
		relayq_usage_print(stdout);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}

/*
 * Returns the "--help" or "--version" among cmd's options, or NULL.
 * Every option of send takes a value ("--subject --help" is a subject),
 * so only its option words are looked at.
 */
static const char *
relayq_help_arg(const char *cmd, int argc, char *argv[])
{
	int send = strcmp(cmd, "send") == 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "--version") == 0)
			return argv[i];
		if (send && strncmp(argv[i], "--", 2) == 0 &&
		    strchr(argv[i], '=') == NULL)
			i++;
	}
	return NULL;
}

/* The smarthost line of relayq queue, one per smarthost. */
struct relayq_route {
	struct queue_spool *sp;
	const struct conf *c;
	char (*label)[192]; /* per smarthost; "" until asked */
};

/*
 * queue_list_route_fn: conf_route_label(), and whether the smarthost's
 * rate bucket holds its mail now and until when (issue 15).
 */
static const char *
relayq_route_label(const void *arg, const char *sender)
{
	const struct relayq_route *r = arg;
	size_t i = conf_route(r->c, sender);
	const char *name = conf_route_label(r->c, sender);
	long long wait;
	char when[64];
	time_t t;
	struct tm tm;

	if (r->label[i][0] == '\0') {
		wait = relayq_cmd_rate_wait(r->sp, r->c, i,
		    (long long)time(NULL) * 1000);
		t = time(NULL) + (time_t)((wait + 999) / 1000);
		if (wait > 0 && localtime_r(&t, &tm) != NULL &&
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) > 0)
			(void)!rq_snprintf(r->label[i], sizeof(r->label[i]),
			    "%s, rate limit reached: next message at %s",
			    r->c->smarthosts[i].name, when);
		else
			(void)!rq_snprintf(r->label[i], sizeof(r->label[i]),
			    "%s", name != NULL ? name : "-");
	}
	return strcmp(r->label[i], "-") != 0 ? r->label[i] : NULL;
}

/* relayq queue [--json]. */
static int
relayq_queue(struct queue_spool *sp, const struct conf *c, int argc,
    char *argv[])
{
	struct relayq_route r = { sp, c, NULL };
	int rv, saved;

	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		return relayq_json_queue(sp, c, stdout);
	if (argc != 0)
		relayq_usage();
	r.label = xcalloc(c->nsmarthosts, sizeof(*r.label));
	rv = queue_list_print_route(sp, stdout, 0, -1, relayq_route_label, &r);
	saved = errno;
	free(r.label);
	if (rv == -1) {
		fprintf(stderr, "relayq: cannot list %s: %s\n", sp->path,
		    strerror(saved));
		return EX_IOERR;
	}
	return EX_OK;
}

/* relayq delete: parses ID... or --all --yes. */
static int
relayq_delete(struct queue_spool *sp, int argc, char *argv[])
{
	int all = 0, yes = 0, nid = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (argv[i][0] == '-')
			relayq_usage();
		else
			nid++;
	}
	if ((all && nid > 0) || (!all && yes))
		relayq_usage();
	if (all && !yes) {
		fprintf(stderr,
		    "relayq: delete --all removes every queued "
		    "message; add --yes to confirm\n");
		return EX_USAGE;
	}
	if (!all && nid == 0)
		relayq_usage();
	return relayq_cmd_delete(sp, argv, all ? 0 : argc, all);
}

/* relayq failed [--purge [--older-than DUR]]. */
static int
relayq_failed(struct queue_spool *sp, int argc, char *argv[])
{
	const char *errstr;
	long long older = 0;
	int purge = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--purge") == 0)
			purge = 1;
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
			if (str_to_duration(argv[++i], &older, &errstr) == -1) {
				fprintf(stderr, "relayq: --older-than %s: %s\n",
				    argv[i], errstr);
				return EX_USAGE;
			}
		} else
			relayq_usage();
	}
	if (!purge && older > 0)
		relayq_usage();
	if (purge)
		return relayq_cmd_purge_failed(sp, older);
	if (queue_list_print_failed(sp, stdout) == -1) {
		fprintf(stderr, "relayq: cannot list %s/failed: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* Runs cmd on the open spool. */
static int
relayq_dispatch(struct queue_spool *sp, const struct conf *c, const char *cmd,
    int argc, char *argv[])
{
	if (strcmp(cmd, "queue") == 0)
		return relayq_queue(sp, c, argc, argv);
	if (strcmp(cmd, "show") == 0 && argc == 1)
		return relayq_cmd_show(sp, c, argv[0]);
	if (strcmp(cmd, "flush") == 0 && argc <= 1)
		return relayq_cmd_flush(sp, argc == 1 ? argv[0] : NULL);
	if (strcmp(cmd, "requeue") == 0 && argc == 0)
		return relayq_cmd_requeue(sp);
	if (strcmp(cmd, "hold") == 0 && argc == 1)
		return relayq_cmd_hold(sp, argv[0], 1);
	if (strcmp(cmd, "release") == 0 && argc == 1)
		return relayq_cmd_hold(sp, argv[0], 0);
	if (strcmp(cmd, "delete") == 0)
		return relayq_delete(sp, argc, argv);
	if (strcmp(cmd, "failed") == 0)
		return relayq_failed(sp, argc, argv);
	if (strcmp(cmd, "stats") == 0 && argc == 0)
		return relayq_stats_print(sp, RELAYQ_STATS_TEXT);
	if (strcmp(cmd, "stats") == 0 && argc == 1 &&
	    strcmp(argv[0], "--json") == 0)
		return relayq_stats_print(sp, RELAYQ_STATS_JSON);
	if (strcmp(cmd, "stats") == 0 && argc == 1 &&
	    strcmp(argv[0], "--prometheus") == 0)
		return relayq_stats_print(sp, RELAYQ_STATS_PROMETHEUS);
	relayq_usage();
	return EX_USAGE;
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct queue_spool sp;
	struct rq_err err;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, RELAYQ_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg = NULL, *cmd, *help;
	int ch, rc, flags;

	log_init("relayq", LOG_TO_STDERR, 0);
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		case 'h':
			return relayq_help(NULL, 0);
		case RELAYQ_OPT_VERSION:
			return relayq_help(NULL, 1);
		default:
			relayq_usage();
		}
	}
	if (optind >= argc)
		relayq_usage();
	cmd = argv[optind++];
	/* Help needs no config: answered before it is read. */
	if ((help = relayq_help_arg(cmd, argc - optind, argv + optind)) != NULL)
		return relayq_help(cmd, strcmp(help, "--version") == 0);
	if (strcmp(cmd, "help") == 0) {
		if (argc - optind > 1)
			relayq_usage();
		return relayq_help(optind < argc ? argv[optind] : NULL, 0);
	}
	/* The spool commands use no smarthost: an error there only is
	 * relayqd's, and the queue can still be read (issue 15). */
	flags = strcmp(cmd, "check-config") == 0 ||
		strcmp(cmd, "oauth2") == 0 || strcmp(cmd, "send") == 0 ||
		strcmp(cmd, "probe") == 0
	    ? 0
	    : CONF_LOAD_SMARTHOST_LAX;
	if (conf_load_flags(&conf, conf_path(cfg, 1), flags, &err) == -1) {
		fprintf(stderr, "relayq: %s\n", err.msg);
		return EX_CONFIG;
	}
	if (conf.smarthost_error != NULL)
		fprintf(stderr,
		    "relayq: warning: %s; relayqd refuses this "
		    "configuration, so mail is not sent until it is fixed "
		    "(see relayq check-config)\n",
		    conf.smarthost_error);
	/* These read tokens or passwords: keep them out of core dumps. */
	if ((strcmp(cmd, "oauth2") == 0 || strcmp(cmd, "probe") == 0) &&
	    secret_nodump() == -1) {
		fprintf(stderr, "relayq: cannot turn core dumps off: %s\n",
		    strerror(errno));
		conf_free(&conf);
		return EX_OSERR;
	}
	if (strcmp(cmd, "check-config") == 0) {
		if (optind != argc)
			relayq_usage();
		rc = relayq_check_config(&conf);
		conf_free(&conf);
		return rc;
	}
	if (strcmp(cmd, "oauth2") == 0) {
		rc = relayq_oauth2_main(&conf, argc - optind, argv + optind);
		conf_free(&conf);
		return rc;
	}
	if (strcmp(cmd, "send") == 0) {
		rc = relayq_send_main(&conf, cfg, argc - optind, argv + optind);
		conf_free(&conf);
		return rc;
	}
	if (strcmp(cmd, "probe") == 0) {
		rc = relayq_probe_main(&conf, argc - optind, argv + optind);
		conf_free(&conf);
		return rc;
	}
	/* Commands that change messages need state/ and corrupt/ too. */
	flags = strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0 ||
		strcmp(cmd, "delete") == 0
	    ? QUEUE_SPOOL_DAEMON
	    : QUEUE_SPOOL_READER | QUEUE_SPOOL_FAILED;
	rc = queue_spool_open(&sp, conf.spool_dir, flags, &err);
	/*
	 * A spool relayqd never ran on has only tmp/ and incoming/: hold,
	 * release and delete create the rest, as relayqd would (with its
	 * owner when run as root; see queue_spool_open()).
	 */
	if (rc == -1 && errno == ENOENT && flags == QUEUE_SPOOL_DAEMON &&
	    access(conf.spool_dir, F_OK) == 0)
		rc = queue_spool_open(&sp, conf.spool_dir,
		    flags | QUEUE_SPOOL_CREATE, &err);
	if (rc == -1) {
		fprintf(stderr, "relayq: %s\n", err.msg);
		conf_free(&conf);
		return EX_CANTCREAT;
	}
	rc = relayq_dispatch(&sp, &conf, cmd, argc - optind, argv + optind);
	queue_spool_close(&sp);
	conf_free(&conf);
	return rc;
}
