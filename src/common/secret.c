/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Secret file rules (see secret.h): one check, used by relayqd when it
 * reads a secret and by relayq check-config, so both refuse the same
 * files with the same words; likewise the program of a command.
 */
#include "config.h"

#include "common/secret.h"

#include <sys/resource.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strutil.h"

/* Supplementary groups looked at for another user's execute permission. */
#define SECRET_NGROUPS_MAX 256

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

/* True when uid (or gid, or one of its groups) is in group g. */
static int
secret_uid_in_group(uid_t uid, gid_t g)
{
	struct passwd *pw = getpwuid(uid);
	gid_t groups[SECRET_NGROUPS_MAX];
	int n = SECRET_NGROUPS_MAX;

	if (pw == NULL)
		return 0;
	if (pw->pw_gid == g)
		return 1;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		n = SECRET_NGROUPS_MAX; /* more than that: look at these */
	for (int i = 0; i < n; i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

/*
 * True when path is a regular file that uid may execute: the effective
 * uid's own access when uid is (uid_t)-1 or the effective uid, else its
 * mode bits as the kernel reads them (owner, group, others; root needs
 * one x bit).  The directories on the way are not looked at.
 */
static int
secret_is_exec(const char *path, uid_t uid)
{
	struct stat st;
	mode_t m;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (uid == (uid_t)-1 || uid == geteuid())
		return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
	m = st.st_mode;
	if (uid == 0)
		return (m & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	if (st.st_uid == uid)
		return (m & S_IXUSR) != 0;
	if (secret_uid_in_group(uid, st.st_gid))
		return (m & S_IXGRP) != 0;
	return (m & S_IXOTH) != 0;
}

/* Finds a command's program as execvp() would, and checks it. */
int
secret_check_program(const char *key, const char *prog, const char *path,
    uid_t uid, struct rq_err *err)
{
	const char *dir = path != NULL ? path : "/usr/bin:/bin";
	char buf[4096];
	size_t n;
	int found = 0;

	if (strchr(prog, '/') != NULL)
		found = secret_is_exec(prog, uid);
	for (; !found && strchr(prog, '/') == NULL && *dir != '\0';
	     dir += n + (dir[n] == ':')) {
		n = strcspn(dir, ":");
		/* execvp() reads an empty entry as the current directory */
		found = rq_snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, dir,
			    n > 0 ? "/" : "", prog) != -1 &&
		    secret_is_exec(buf, uid);
	}
	if (found)
		return 0;
	rq_err_set(err, "%s: %s is not an executable file%s%s", key, prog,
	    strchr(prog, '/') != NULL ? "" : " found in PATH",
	    uid == (uid_t)-1 || uid == geteuid() ? "" : " for relayqd's user");
	return -1;
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
