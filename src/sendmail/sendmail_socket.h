/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The front end's second submission path: relayqd's submit_socket
 * (doc/submit-protocol.md), for a sendmail that cannot write the spool.
 * Which path a submission takes ([relayq] submission) is decided here
 * too.  Plain sockets only: the front end links no libevent/OpenSSL.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_SOCKET_H
#define RELAYQ_SENDMAIL_SENDMAIL_SOCKET_H

#include <signal.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/status.h"
#include "queue/queue_env.h"
#include <sys/types.h>

#include "queue/queue_id.h"
#include "queue/queue_spool.h"

struct sendmail_socket {
	const char *path;    /* borrowed: conf->submit_socket */
	char spool_why[200]; /* why the spool is not used ("" if asked) */
	volatile sig_atomic_t *stop; /* borrowed: SIGINT/TERM/HUP seen */
	uid_t owner;		     /* the spool's owner (relayqd's user) */
	int owner_known;	     /* owner was read (stat of spool_dir) */
};

/*
 * Chooses the path for conf->submission "socket" or "auto" ("spool"
 * never comes here): "socket" fills ss; "auto" opens sp when the spool
 * can be written (tmp/ and incoming/ writable with the effective ids, so
 * the setgid bit works and the file system is writable), else fills ss
 * with the reason.  Returns EX_OK with *use_socket set (the socket is
 * tried only when the message is complete); err is kept for later use.
 */
int sendmail_socket_choose(const struct conf *conf, struct queue_spool *sp,
    struct sendmail_socket *ss, int *use_socket, struct rq_err *err);

/*
 * Submits the envelope e and the size wire bytes read from bodyfd (at
 * offset 0), or at mem when bodyfd is -1, over the socket; proto and
 * helo are for relayqd's Received:
 * field (helo may be NULL).  Returns EX_OK with id set only after relayqd
 * said the message is durable; otherwise the exit code relayqd gave
 * (64, 65, 73, 75, 78) or EX_TEMPFAIL, with err filled.
 */
int sendmail_socket_submit(const struct sendmail_socket *ss,
    const struct queue_env *e, const char *proto, const char *helo,
    const char *mem, int bodyfd, uint64_t size, char id[QUEUE_ID_LEN + 1],
    struct rq_err *err);

#endif
