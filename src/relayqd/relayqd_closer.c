/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The closer thread: a blocking read of descriptors (one int per record,
 * written whole: sizeof(int) < PIPE_BUF) from a pipe, and close() of
 * each.  The write end is O_NONBLOCK, so the loop never waits on it;
 * end of file on the pipe (relayqd_closer_free) ends the thread.  At
 * most RELAYQD_CLOSER_MAX descriptors are in flight (a shared atomic
 * count): a thread that falls behind must not make relayqd run out of
 * descriptors (RLIMIT_NOFILE), so beyond that the loop closes inline.
 */
#include "config.h"

#include "relayqd/relayqd_closer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"

#define RELAYQD_CLOSER_BATCH 64 /* descriptors read at once */
#define RELAYQD_CLOSER_MAX 128	/* descriptors in flight at most */

struct relayqd_closer {
	int rfd, wfd;	     /* the pipe; -1 when closing inline */
	int running;	     /* the thread was started */
	atomic_uint pending; /* handed over, not yet closed */
	pthread_t thread;
};

/* The thread: closes every descriptor it reads until end of file. */
static void *
relayqd_closer_main(void *arg)
{
	struct relayqd_closer *c = arg;
	int fds[RELAYQD_CLOSER_BATCH];
	size_t have = 0;

	for (;;) {
		ssize_t n =
		    read(c->rfd, (char *)fds + have, sizeof(fds) - have);
		size_t k;

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		for (k = 0; k < have / sizeof(int); k++) {
			(void)close(fds[k]);
			atomic_fetch_sub(&c->pending, 1);
		}
		/* Records are written whole; keep a torn tail anyway. */
		memmove(fds, (char *)fds + k * sizeof(int),
		    have - k * sizeof(int));
		have -= k * sizeof(int);
	}
	return NULL;
}

/* Starts the closer. */
struct relayqd_closer *
relayqd_closer_new(void)
{
	struct relayqd_closer *c = xcalloc(1, sizeof(*c));
	sigset_t all, old;
	int p[2], e;

	c->rfd = c->wfd = -1;
	atomic_init(&c->pending, 0);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("closer: pipe; closing files inline");
		return c;
	}
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("closer: fcntl; closing files inline");
		(void)close(p[0]);
		(void)close(p[1]);
		return c;
	}
	/* The thread inherits this mask: signals go to the loop thread. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	c->rfd = p[0];
	e = pthread_create(&c->thread, NULL, relayqd_closer_main, c);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		log_warnx("closer: cannot start a thread: %s; closing files "
			  "inline",
		    strerror(e));
		(void)close(p[0]);
		(void)close(p[1]);
		c->rfd = -1;
		return c;
	}
	c->wfd = p[1];
	c->running = 1;
	return c;
}

/* Hands fd to the thread, or closes it now. */
void
relayqd_closer_close(struct relayqd_closer *c, int fd)
{
	int saved_errno = errno;

	if (fd == -1)
		return;
	/* The thread is behind (or gone, or the pipe full): do it here. */
	if (c == NULL || c->wfd == -1 ||
	    atomic_load(&c->pending) >= RELAYQD_CLOSER_MAX) {
		(void)close(fd);
		errno = saved_errno;
		return;
	}
	atomic_fetch_add(&c->pending, 1);
	if (write(c->wfd, &fd, sizeof(fd)) != (ssize_t)sizeof(fd)) {
		atomic_fetch_sub(&c->pending, 1);
		(void)close(fd);
	}
	errno = saved_errno;
}

/* Stops the thread after it has closed everything. */
void
relayqd_closer_free(struct relayqd_closer *c)
{
	if (c == NULL)
		return;
	if (c->wfd != -1)
		(void)close(c->wfd);
	if (c->running) {
		int e = pthread_join(c->thread, NULL);

		if (e != 0)
			log_warnx("closer: pthread_join: %s", strerror(e));
	}
	if (c->rfd != -1)
		(void)close(c->rfd);
	free(c);
}
