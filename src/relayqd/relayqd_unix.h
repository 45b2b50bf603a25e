/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The clients of a local unix stream socket (relayqd_submit.c,
 * relayqd_verbose.c): accept with the kernel's credentials, and the list
 * of the clients connected, counted in all and per uid.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_UNIX_H
#define RELAYQ_RELAYQD_RELAYQD_UNIX_H

#include <sys/types.h>
#include <sys/queue.h>

/* One client; embedded in the module's own client struct. */
struct relayqd_unix_peer {
	uid_t uid; /* SO_PEERCRED at accept */
	gid_t gid;
	pid_t pid;
	void *owner; /* borrowed: the struct that embeds this one */
	TAILQ_ENTRY(relayqd_unix_peer) link;
};

/* The clients of one socket, newest first. */
struct relayqd_unix_peers {
	TAILQ_HEAD(, relayqd_unix_peer) q;
	int n; /* how many are in q */
};

/* Makes ps an empty list. */
void relayqd_unix_peers_init(struct relayqd_unix_peers *ps);
/* Puts p (not in any list) first in ps; p->owner becomes owner. */
void relayqd_unix_peers_add(struct relayqd_unix_peers *ps,
    struct relayqd_unix_peer *p, void *owner);
/* Takes p, which must be in ps, out of it. */
void relayqd_unix_peers_remove(struct relayqd_unix_peers *ps,
    struct relayqd_unix_peer *p);
/* Returns how many clients in ps have uid. */
int relayqd_unix_peers_count(const struct relayqd_unix_peers *ps, uid_t uid);
/* Returns the owner of the first client in ps, or NULL when ps is empty. */
void *relayqd_unix_peers_first(const struct relayqd_unix_peers *ps);

/*
 * Accepts one connection on the listening socket lfd, non-blocking and
 * close-on-exec, and fills p's uid, gid and pid from SO_PEERCRED.
 * Returns the socket, or -1 with errno set (nothing left open).
 */
int relayqd_unix_accept(int lfd, struct relayqd_unix_peer *p);

#endif
