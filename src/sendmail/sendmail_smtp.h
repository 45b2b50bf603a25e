/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * sendmail -bs: an SMTP server on stdin/stdout for the local caller
 * (Symfony Mailer, SwiftMailer and Laravel default to it).  Each
 * accepted DATA is queued as one message exactly as -bm would queue it,
 * through sendmail_submit, and answered "250 2.0.0 Ok: queued as ID".
 * It never talks to the network.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_SMTP_H
#define RELAYQ_SENDMAIL_SENDMAIL_SMTP_H

#include <signal.h>

#include "common/aliases.h"
#include "common/conf.h"
#include "sendmail/sendmail_socket.h"

struct sendmail_smtp_params {
	const struct conf *conf;       /* borrowed */
	const struct aliases *aliases; /* borrowed, or NULL */
	const char *login_sender;      /* borrowed: used when MAIL FROM
					  may not choose the sender */
	int allow_from;		       /* MAIL FROM sets the sender */
	const char *own_sender;	       /* borrowed: the user's login address
					  (NULL: unknown, or root) */
	const char *login_name;	       /* borrowed: for X-Authentication-
					  Warning; NULL for root */
	int queue_only;		       /* -odq: do not wake relayqd */
	long long uid;		       /* the submitting (real) user */
	int infd, outfd;
	volatile sig_atomic_t *stop; /* borrowed: SIGINT/TERM/HUP seen */
	/* relayqd's socket instead of the spool, or NULL. */
	const struct sendmail_socket *sock; /* borrowed */
};

/*
 * Runs the session until QUIT or EOF.  Returns EX_OK then (whatever
 * individual transactions got: their outcome was told in SMTP), or a
 * sysexits code when the spool cannot be opened (after a 421 reply) or
 * stdout fails.
 */
int sendmail_smtp_run(const struct sendmail_smtp_params *p);

#endif
