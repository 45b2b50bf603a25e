/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Queueing one message from the front end: read stdin through
 * sendmail_msg, build the envelope, write the file through libqueue's
 * writer and commit it durably into incoming/.  Returns sysexits codes;
 * the caller prints err and exits with them.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_SUBMIT_H
#define RELAYQ_SENDMAIL_SENDMAIL_SUBMIT_H

#include <signal.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/aliases.h"
#include "common/conf.h"
#include "common/status.h"
#include "queue/queue_id.h"
#include "queue/queue_spool.h"
#include "sendmail/sendmail_socket.h"

struct sendmail_submit {
	const struct conf *conf; /* borrowed */
	const char *sender;	 /* borrowed: qualified, "" for <> */
	const char *fullname;	 /* borrowed: for a generated From:, or NULL */
	struct addr_list *rcpts; /* borrowed: argv recipients; -t adds */
	int extract;		 /* -t */
	int ignore_dots;	 /* -i */
	long long uid;		 /* the submitting (real) user */
	int infd;		 /* the message */
	volatile sig_atomic_t *stop; /* borrowed: set by SIGINT/TERM/HUP */
	/* Recipient resolution (argv and -t): aliases, then default_domain. */
	int resolve;		       /* rcpts may hold bare local parts */
	const struct aliases *aliases; /* borrowed, or NULL */
	/* DSN (RFC 3461) */
	const char *dsn_ret;	     /* borrowed: "full"/"hdrs", or NULL */
	const char *dsn_envid;	     /* borrowed, or NULL */
	unsigned notify;	     /* QUEUE_ENV_NOTIFY_* for every rcpt */
	const unsigned *rcpt_notify; /* borrowed: per rcpt (-bs), or NULL */
	char *const *rcpt_orcpt;     /* borrowed: per rcpt (-bs), or NULL */
	/* Input other than infd (-bs): returns bytes, 0 at the end, -1. */
	ssize_t (*read_fn)(void *arg, char *buf, size_t len);
	void *read_arg;
	const char *received; /* Received: protocol ("local", "ESMTP") */
	const char *helo;     /* borrowed: -bs client name, or NULL */
	int undisclosed;      /* add To: undisclosed-recipients:; */
	/* X-Authentication-Warning when a user other than root set the sender */
	const char *login_sender; /* borrowed: the user's own address, or
				     NULL when it is unknown */
	const char *login_name;	  /* borrowed: the user's login name */
	const char *sender_via;	  /* borrowed: how the sender was chosen
				     ("-f", "MAIL FROM"), or NULL */
	/* relayqd's socket instead of the spool (then sp is unused). */
	const struct sendmail_socket *sock; /* borrowed, or NULL */
	char id[QUEUE_ID_LEN + 1]; /* out: the queue id, once committed */
	int msg_error;		   /* out: enum sendmail_msg_error */
	size_t nbad;		   /* out: bad -t addresses skipped */
	const char *bad_errstr;	   /* out: why the last one was bad */
};

/*
 * Reads the message from s->infd and queues it in sp (opened for the
 * front end), or, when s->sock is set, hands it to relayqd over its
 * socket (sp may then be NULL; relayqd adds the Received: field).
 * Returns EX_OK only once the message is durable in incoming/ (over
 * the socket: once relayqd said so); otherwise a sysexits code
 * (EX_USAGE for recipient problems found under -t, EX_DATAERR for bad
 * input, EX_TEMPFAIL when a retry may work, EX_CANTCREAT, EX_IOERR) with
 * err filled.  Nothing is left in the spool on failure.
 */
int sendmail_submit_run(struct sendmail_submit *s, struct queue_spool *sp,
    struct rq_err *err);

/*
 * Replaces every address in l by its resolution: aliases for local
 * recipients (bare, @hostname, @localhost), default_domain for the
 * remaining bare local parts (aliases_resolve); problems are printed as
 * warnings.  Returns the number of addresses now in l.
 */
size_t sendmail_submit_resolve(const struct conf *conf,
    const struct aliases *aliases, struct addr_list *l);

/* Prints an aliases problem on stderr (an aliases_warn_fn). */
void sendmail_submit_alias_warn(void *arg, const char *path, int line,
    const char *msg);

/* Maps an errno from the spool to a sysexits code. */
int sendmail_submit_exit_for_errno(int e);

#endif
