/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq: the operator's tool.  Subcommands so far: queue (the listing
 * also shown by mailq), flush (ask relayqd to retry everything now).
 * XXX(#6): show, hold, release, delete, stats and check-config come with
 * the operations issue.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "queue/queue_list.h"
#include "queue/queue_spool.h"

/* Prints usage and exits EX_USAGE. */
static void
relayq_usage(void)
{
	fprintf(stderr,
	    "usage: relayq [-c config] command\n"
	    "commands:\n"
	    "  queue   list queued messages (same as mailq)\n"
	    "  flush   ask relayqd to retry every queued message now\n");
	exit(EX_USAGE);
}

/* relayq queue: prints the listing. */
static int
relayq_cmd_queue(struct queue_spool *sp)
{
	if (queue_list_print(sp, stdout, 0) == -1) {
		fprintf(stderr, "relayq: cannot list %s: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* relayq flush: writes the flush byte into the wake FIFO. */
static int
relayq_cmd_flush(struct queue_spool *sp)
{
	int fd;

	if ((fd = openat(sp->rootfd, "wake",
		 O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENXIO) {
			fprintf(stderr,
			    "relayq: relayqd is not running on "
			    "%s\n",
			    sp->path);
			return EX_TEMPFAIL;
		}
		fprintf(stderr, "relayq: cannot open %s/wake: %s\n", sp->path,
		    strerror(errno));
		return EX_UNAVAILABLE;
	}
	if (write(fd, "F", 1) != 1) {
		fprintf(stderr, "relayq: cannot poke relayqd: %s\n",
		    strerror(errno));
		(void)close(fd);
		return EX_TEMPFAIL;
	}
	(void)close(fd);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct queue_spool sp;
	struct rq_err err;
	const char *cfg = NULL, *cmd;
	int ch, rc;

	log_init("relayq", LOG_TO_STDERR, 0);
	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		default:
			relayq_usage();
		}
	}
	if (optind + 1 != argc)
		relayq_usage();
	cmd = argv[optind];
	if (strcmp(cmd, "queue") != 0 && strcmp(cmd, "flush") != 0)
		relayq_usage();
	if (conf_load(&conf, conf_path(cfg, 1), &err) == -1) {
		fprintf(stderr, "relayq: %s\n", err.msg);
		return EX_CONFIG;
	}
	if (queue_spool_open(&sp, conf.spool_dir, QUEUE_SPOOL_READER, &err) ==
	    -1) {
		fprintf(stderr, "relayq: %s\n", err.msg);
		conf_free(&conf);
		return EX_CANTCREAT;
	}
	rc = strcmp(cmd, "queue") == 0 ? relayq_cmd_queue(&sp)
				       : relayq_cmd_flush(&sp);
	queue_spool_close(&sp);
	conf_free(&conf);
	return rc;
}
