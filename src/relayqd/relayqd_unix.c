/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * What the two local unix stream sockets of relayqd share: the
 * submission socket (relayqd_submit.c) and the sendmail -v socket
 * (relayqd_verbose.c).  This module owns accepting a client with the
 * identity the kernel gives (SO_PEERCRED: uid, gid and pid at accept,
 * never anything the client says), and the list of the connected
 * clients with their count, in all and per uid.
 *
 * What it leaves to its callers: creating and binding the socket (the
 * submission socket is mode 0666 or comes from systemd, the -v socket
 * sits in the spool under umask 0117), the protocol, and every policy:
 * how many clients in all and per uid, a reserve for root, the busy
 * reply and the timeouts.  A caller checks its limits with n and
 * relayqd_unix_peers_count() and refuses as its protocol says.
 *
 * Invariants: a peer is in at most one list, between _add and _remove;
 * ps->n is the length of ps->q.  The list does not own its clients: the
 * caller frees a client after taking it out.  Nothing here blocks or
 * touches the disk; counting walks the list (the lists are bounded by
 * RELAYQD_SUBMIT_MAX and RELAYQD_VERBOSE_MAX, tens of entries).
 */
#include "config.h"

#include "relayqd/relayqd_unix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Makes ps an empty list. */
void
relayqd_unix_peers_init(struct relayqd_unix_peers *ps)
{
	TAILQ_INIT(&ps->q);
	ps->n = 0;
}

/* Puts p first in ps. */
void
relayqd_unix_peers_add(struct relayqd_unix_peers *ps,
    struct relayqd_unix_peer *p, void *owner)
{
	p->owner = owner;
	TAILQ_INSERT_HEAD(&ps->q, p, link);
	ps->n++;
}

/* Takes p out of ps. */
void
relayqd_unix_peers_remove(struct relayqd_unix_peers *ps,
    struct relayqd_unix_peer *p)
{
	TAILQ_REMOVE(&ps->q, p, link);
	ps->n--;
}

/* Counts the clients of uid. */
int
relayqd_unix_peers_count(const struct relayqd_unix_peers *ps, uid_t uid)
{
	const struct relayqd_unix_peer *p;
	int k = 0;

	TAILQ_FOREACH(p, &ps->q, link)
		k += p->uid == uid;
	return k;
}

/* Returns the owner of the first client, or NULL. */
void *
relayqd_unix_peers_first(const struct relayqd_unix_peers *ps)
{
	return TAILQ_EMPTY(&ps->q) ? NULL : TAILQ_FIRST(&ps->q)->owner;
}

/* Accepts one client with its credentials. */
int
relayqd_unix_accept(int lfd, struct relayqd_unix_peer *p)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd, e;

	memset(p, 0, sizeof(*p));
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
		e = errno;
		(void)close(fd);
		errno = e;
		return -1;
	}
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->pid = cred.pid;
	return fd;
}
