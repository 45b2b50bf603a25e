/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Secret file rules (see secret.h): one check, used by relayqd when it
 * reads a secret and by relayq check-config, so both refuse the same
 * files with the same words.
 */
#include "config.h"

#include "common/secret.h"

#include <sys/resource.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The message for a symbolic link (lstat, or open with O_NOFOLLOW). */
static void
secret_link(const char *key, const char *path, struct rq_err *err)
{
	rq_err_set(err, "%s %s: a symbolic link; name the file itself", key,
	    path);
}

/* Checks a file's status against the secret file rules. */
int
secret_check(const char *key, const char *path, const struct stat *st,
    uid_t owner, size_t max, struct rq_err *err)
{
	mode_t m = st->st_mode;

	if (S_ISLNK(m)) {
		secret_link(key, path, err);
		return -1;
	}
	if (!S_ISREG(m)) {
		rq_err_set(err, "%s %s: not a regular file", key, path);
		return -1;
	}
	if ((m & (S_IRWXG | S_IRWXO)) != 0) {
		rq_err_set(err,
		    "%s %s: mode %04lo, %s; it must be private to relayqd's "
		    "user: run chmod 600 %s",
		    key, path, (unsigned long)(m & 07777),
		    (m & S_IROTH) != 0	     ? "readable by others"
			: (m & S_IRGRP) != 0 ? "readable by its group"
					     : "open to group or others",
		    path);
		return -1;
	}
	if (owner != (uid_t)-1 && st->st_uid != owner) {
		rq_err_set(err,
		    "%s %s: owned by uid %lu, not by relayqd's user (uid "
		    "%lu); run chown %lu %s",
		    key, path, (unsigned long)st->st_uid, (unsigned long)owner,
		    (unsigned long)owner, path);
		return -1;
	}
	if (st->st_size < 0 || (unsigned long long)st->st_size > max) {
		secret_too_large(key, path, max, err);
		return -1;
	}
	return 0;
}

/* Checks a file by name, without following a symbolic link. */
int
secret_lstat(const char *key, const char *path, uid_t owner, size_t max,
    struct rq_err *err)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		rq_err_set(err, "%s %s: %s", key, path, strerror(errno));
		return -1;
	}
	return secret_check(key, path, &st, owner, max, err);
}

/* Opens a secret file after checking it. */
int
secret_open(const char *key, const char *path, size_t max, struct rq_err *err)
{
	struct stat st;
	int fd, saved;

	/* O_NONBLOCK: a FIFO must not block the open; S_ISREG rejects it */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ELOOP)
			secret_link(key, path, err);
		else
			rq_err_set(err, "%s %s: %s", key, path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		rq_err_set(err, "%s %s: %s", key, path, strerror(saved));
		(void)close(fd);
		return -1;
	}
	if (secret_check(key, path, &st, geteuid(), max, err) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The message for a file over the limit. */
void
secret_too_large(const char *key, const char *path, size_t max,
    struct rq_err *err)
{
	rq_err_set(err, "%s %s: larger than %zu KiB", key, path, max / 1024);
}

/* No core file, not dumpable. */
int
secret_nodump(void)
{
	struct rlimit rl = { 0, 0 };
	int saved;

	/* A seccomp filter may refuse setrlimit: a limit of 0 will do. */
	if (setrlimit(RLIMIT_CORE, &rl) == -1) {
		saved = errno;
		if (getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_cur != 0) {
			errno = saved;
			return -1;
		}
	}
#if defined(HAVE_SYS_PRCTL_H) && defined(PR_SET_DUMPABLE)
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
#endif
	return 0;
}
