/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq: the operator's tool.  This file parses the command line,
 * loads the config, opens the spool as each subcommand needs it and
 * dispatches; the subcommands live in relayq_cmd.c (messages),
 * relayq_json.c (queue --json), relayq_check.c (check-config) and
 * relayq_stats.c (stats) and relayq_send.c (send, which needs no
 * spool access: it submits through sendmail).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/strutil.h"
#include "queue/queue_list.h"
#include "queue/queue_spool.h"
#include "relayq/relayq_check.h"
#include "relayq/relayq_cmd.h"
#include "relayq/relayq_json.h"
#include "relayq/relayq_send.h"
#include "relayq/relayq_stats.h"

/* Prints usage and exits EX_USAGE. */
static void
relayq_usage(void)
{
	fprintf(stderr,
	    "usage: relayq [-c config] command [arguments]\n"
	    "commands:\n"
	    "  queue [--json]        list queued messages (as mailq)\n"
	    "  show ID               envelope, headers and state of a "
	    "message\n"
	    "  flush [ID]            ask relayqd to try now (all, or ID)\n"
	    "  requeue               make every message not on hold due "
	    "now\n"
	    "  hold ID               keep relayqd from delivering ID\n"
	    "  release ID            undo hold and try ID now\n"
	    "  delete ID...          remove messages from the queue\n"
	    "  delete --all --yes    remove every queued message\n"
	    "  check-config          check the config, spool and secret "
	    "file\n"
	    "  stats [--json|--prometheus]  queue size and relayqd "
	    "counters\n"
	    "  failed                list undeliverable mail kept in "
	    "failed/\n"
	    "  failed --purge [--older-than DUR]\n"
	    "                        remove it (all, or older than DUR)\n"
	    "  send --to LIST (--body TEXT | --body-file FILE) [...]\n"
	    "                        compose and queue a message; prints "
	    "its id\n");
	exit(EX_USAGE);
}

/* relayq queue [--json]. */
static int
relayq_queue(struct queue_spool *sp, int argc, char *argv[])
{
	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		return relayq_json_queue(sp, stdout);
	if (argc != 0)
		relayq_usage();
	if (queue_list_print(sp, stdout, 0) == -1) {
		fprintf(stderr, "relayq: cannot list %s: %s\n", sp->path,
		    strerror(errno));
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
relayq_dispatch(struct queue_spool *sp, const char *cmd, int argc, char *argv[])
{
	if (strcmp(cmd, "queue") == 0)
		return relayq_queue(sp, argc, argv);
	if (strcmp(cmd, "show") == 0 && argc == 1)
		return relayq_cmd_show(sp, argv[0]);
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
	const char *cfg = NULL, *cmd;
	int ch, rc, flags;

	log_init("relayq", LOG_TO_STDERR, 0);
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		default:
			relayq_usage();
		}
	}
	if (optind >= argc)
		relayq_usage();
	cmd = argv[optind++];
	if (conf_load(&conf, conf_path(cfg, 1), &err) == -1) {
		fprintf(stderr, "relayq: %s\n", err.msg);
		return EX_CONFIG;
	}
	if (strcmp(cmd, "check-config") == 0) {
		if (optind != argc)
			relayq_usage();
		rc = relayq_check_config(&conf);
		conf_free(&conf);
		return rc;
	}
	if (strcmp(cmd, "send") == 0) {
		rc = relayq_send_main(&conf, cfg, argc - optind, argv + optind);
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
	rc = relayq_dispatch(&sp, cmd, argc - optind, argv + optind);
	queue_spool_close(&sp);
	conf_free(&conf);
	return rc;
}
