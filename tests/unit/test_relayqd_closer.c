/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the closer thread (src/relayqd/relayqd_closer.c): every
 * descriptor handed over is closed by the time relayqd_closer_free()
 * returns, more than the in-flight bound (closed inline) included, and
 * a NULL closer closes inline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "relayqd/relayqd_closer.h"
#include "tap.h"

#define NFDS 20000 /* far more than RELAYQD_CLOSER_MAX in a row */

/* True when fd is not open. */
static int
is_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

int
main(void)
{
	struct relayqd_closer *c;
	int *fds = calloc(NFDS, sizeof(*fds)), fd, all = 1, n = 0;

	if (fds == NULL)
		abort();
	c = relayqd_closer_new();
	ok(c != NULL, "closer started");
	/* Open and hand over in turn: fd numbers are reused, as in relayqd. */
	for (int i = 0; i < NFDS; i++) {
		if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			break;
		relayqd_closer_close(c, fds[i]);
		n++;
	}
	is_int(n, NFDS, "every descriptor handed over");
	relayqd_closer_close(c, -1);
	ok(1, "fd -1 is a no-op");
	relayqd_closer_free(c);
	for (int i = 0; i < n; i++)
		if (!is_closed(fds[i]))
			all = 0;
	ok(all, "all closed once the closer is freed");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	relayqd_closer_close(NULL, fd);
	ok(fd >= 0 && is_closed(fd), "without a closer: closed inline");
	relayqd_closer_free(NULL);
	ok(1, "relayqd_closer_free(NULL) is a no-op");
	free(fds);
	return done_testing();
}
