/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for relayqd_unix: the client list (order, removal from the
 * head, the middle and the tail, the count in all and per uid) and
 * accept with the kernel's credentials on a real unix socket.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "relayqd/relayqd_unix.h"
#include "tap.h"

/* A client as a module embeds it. */
struct client {
	int tag;
	struct relayqd_unix_peer peer;
};

/* Adds c with uid to ps. */
static void
add(struct relayqd_unix_peers *ps, struct client *c, int tag, uid_t uid)
{
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->peer.uid = uid;
	relayqd_unix_peers_add(ps, &c->peer, c);
}

/* The list: newest first, counts follow adds and removals. */
static void
test_list(void)
{
	struct relayqd_unix_peers ps;
	struct client c[5];
	struct client *first;

	relayqd_unix_peers_init(&ps);
	is_int(ps.n, 0, "empty list: n is 0");
	ok(relayqd_unix_peers_first(&ps) == NULL, "empty list: no first");
	is_int(relayqd_unix_peers_count(&ps, 0), 0, "empty list: root has 0");

	add(&ps, &c[0], 0, 1000);
	add(&ps, &c[1], 1, 0);
	add(&ps, &c[2], 2, 1000);
	add(&ps, &c[3], 3, 1001);
	add(&ps, &c[4], 4, 1000);
	is_int(ps.n, 5, "five added");
	is_int(relayqd_unix_peers_count(&ps, 1000), 3, "uid 1000 holds 3");
	is_int(relayqd_unix_peers_count(&ps, 1001), 1, "uid 1001 holds 1");
	is_int(relayqd_unix_peers_count(&ps, 0), 1, "root holds 1");
	is_int(relayqd_unix_peers_count(&ps, 42), 0, "uid 42 holds none");
	first = relayqd_unix_peers_first(&ps);
	ok(first != NULL && first->tag == 4, "newest is first");

	relayqd_unix_peers_remove(&ps, &c[2].peer); /* middle */
	is_int(ps.n, 4, "middle removed: n is 4");
	is_int(relayqd_unix_peers_count(&ps, 1000), 2,
	    "middle removed: uid 1000 holds 2");
	relayqd_unix_peers_remove(&ps, &c[4].peer); /* head */
	first = relayqd_unix_peers_first(&ps);
	ok(first != NULL && first->tag == 3, "head removed: next is first");
	relayqd_unix_peers_remove(&ps, &c[0].peer); /* tail */
	is_int(relayqd_unix_peers_count(&ps, 1000), 0,
	    "tail removed: uid 1000 holds none");
	is_int(ps.n, 2, "tail removed: n is 2");

	/* Freeing all, as the modules do at exit, empties the list. */
	while ((first = relayqd_unix_peers_first(&ps)) != NULL)
		relayqd_unix_peers_remove(&ps, &first->peer);
	is_int(ps.n, 0, "all removed: n is 0");
	is_int(relayqd_unix_peers_count(&ps, 0), 0, "all removed: root has 0");

	/* A removed client can come back. */
	add(&ps, &c[1], 1, 0);
	is_int(relayqd_unix_peers_count(&ps, 0), 1, "re-added: root holds 1");
	relayqd_unix_peers_remove(&ps, &c[1].peer);
}

/* accept gives a non-blocking socket and the client's credentials. */
static void
test_accept(void)
{
	struct sockaddr_un sun;
	struct relayqd_unix_peer peer;
	char dir[] = "/tmp/test_relayqd_unix.XXXXXX";
	int lfd = -1, cfd = -1, fd;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ok(lfd != -1 && bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
		listen(lfd, 4) == 0,
	    "listening socket");

	/* Nothing waiting: -1 with EAGAIN, nothing filled in. */
	errno = 0;
	fd = relayqd_unix_accept(lfd, &peer);
	ok(fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK),
	    "no client: -1 with EAGAIN");

	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(cfd != -1 && connect(cfd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "client connected");
	memset(&peer, 0xa5, sizeof(peer));
	fd = relayqd_unix_accept(lfd, &peer);
	ok(fd != -1, "client accepted");
	is_int(peer.uid, getuid(), "uid from SO_PEERCRED");
	is_int(peer.gid, getgid(), "gid from SO_PEERCRED");
	is_int(peer.pid, getpid(), "pid from SO_PEERCRED");
	ok(peer.owner == NULL, "owner cleared");
	if (fd != -1) {
		char b;

		errno = 0;
		ok(read(fd, &b, 1) == -1 && errno == EAGAIN,
		    "accepted socket is non-blocking");
		(void)close(fd);
	}
	if (cfd != -1)
		(void)close(cfd);
	if (lfd != -1)
		(void)close(lfd);
	(void)unlink(sun.sun_path);
	(void)rmdir(dir);
}

int
main(void)
{
	test_list();
	test_accept();
	return done_testing();
}
