/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The sendmail command line: the invocation name and every option of
 * the flag table (reference/sendmail-cli.md, section 4), parsed with a
 * hand-written loop (values attached or separate, "-ti"/"-it" grouping,
 * "--").  The parser only fills struct sendmail_opts; it prints nothing,
 * reads no file and touches no privilege, so it is unit-tested with
 * plain argv arrays.  Option values are borrowed from argv.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_ARGS_H
#define RELAYQ_SENDMAIL_SENDMAIL_ARGS_H

#include "common/status.h"

enum sendmail_mode {
	SENDMAIL_MODE_DELIVER,	 /* -bm (default): queue stdin */
	SENDMAIL_MODE_LIST,	 /* -bp, mailq: list the queue */
	SENDMAIL_MODE_ALIASES,	 /* -bi, -I, newaliases: check aliases */
	SENDMAIL_MODE_VERIFY,	 /* -bv: syntax-check the recipients */
	SENDMAIL_MODE_SMTP,	 /* -bs: SMTP on stdin/stdout */
	SENDMAIL_MODE_QUEUE_RUN, /* -q, -qf, -qR/S/I..., runq: poke relayqd */
	SENDMAIL_MODE_NOOP,	 /* -bh, -bH, -q<time>: exit 0 */
	SENDMAIL_MODE_VERSION,	 /* --version */
	SENDMAIL_MODE_HELP	 /* --help */
};

enum sendmail_body {
	SENDMAIL_BODY_UNSET,
	SENDMAIL_BODY_7BIT,
	SENDMAIL_BODY_8BITMIME
};

/* -N bits (RFC 3461 NOTIFY). */
#define SENDMAIL_DSN_NEVER 0x01
#define SENDMAIL_DSN_SUCCESS 0x02
#define SENDMAIL_DSN_FAILURE 0x04
#define SENDMAIL_DSN_DELAY 0x08

/* How many accepted-and-ignored options are remembered for -v. */
#define SENDMAIL_ARGS_IGNORED_MAX 16

struct sendmail_opts {
	enum sendmail_mode mode;
	const char *progname;	  /* borrowed: basename of argv[0] */
	int extract;		  /* -t */
	int ignore_dots;	  /* -i, -oi, -O IgnoreDots */
	int queue_only;		  /* -odq, -odd: queue without poking relayqd */
	int verbose;		  /* number of -v */
	const char *sender;	  /* borrowed: the last -f/-r value, or NULL */
	int nsender;		  /* how many -f/-r were given */
	const char *fullname;	  /* borrowed: -F, or NULL */
	const char *config;	  /* borrowed: -C, or NULL */
	enum sendmail_body body;  /* -B */
	unsigned dsn_notify;	  /* -N: SENDMAIL_DSN_* bits, 0 if unset */
	const char *dsn_ret;	  /* borrowed: -R ("full"/"hdrs"), or NULL */
	const char *dsn_envid;	  /* borrowed: -V, or NULL */
	char qrun_kind;		  /* 'R', 'S' or 'I' for -qR/-qS/-qI, else 0 */
	const char *qrun_match;	  /* borrowed: the -qR/-qS/-qI substring */
	const char *const *rcpts; /* borrowed: the recipient arguments */
	int nrcpts;
	const char *ignored[SENDMAIL_ARGS_IGNORED_MAX]; /* borrowed, for -v */
	int nignored;
	int print_id; /* --print-queue-id: the id on stdout (relayq send) */
};

/*
 * Parses argv (argc entries; argv[0] gives the invocation name) into o.
 * Returns 0, or -1 with err filled when the command line is a usage
 * error (unknown or refused option, missing or invalid value,
 * conflicting modes, no recipients): the caller exits EX_USAGE without
 * reading stdin.
 */
int sendmail_args_parse(struct sendmail_opts *o, int argc,
    const char *const argv[], struct rq_err *err);

/* Returns the name of a mode, for -v output ("deliver", "list", ...). */
const char *sendmail_args_mode_name(enum sendmail_mode m);

#endif
