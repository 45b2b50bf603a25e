/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Refresh token and client secret files: checked reads, durable
 * replacement and the cross-process lock.  See oauth2_store.h for the
 * order of the durable steps and why a crash never loses the token.
 * Every buffer that held file content is wiped before it is freed.
 */
#include "config.h"

#include "oauth2/oauth2_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "oauth2/oauth2_token.h"

/* Takes the exclusive lock of "<path>.lock". */
int
oauth2_store_lock(const char *path, int nonblock)
{
	char lock[4096];
	int fd, saved;

	if (rq_snprintf(lock, sizeof(lock), "%s.lock", path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		 0600)) == -1)
		return -1;
	while (flock(fd, LOCK_EX | (nonblock ? LOCK_NB : 0)) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Reads and checks the first line of a secret file. */
int
oauth2_store_read(const char *path, int token, char **out, size_t *outlen,
    struct rq_err *err)
{
	const char *key =
	    token ? "oauth2_refresh_token_file" : "oauth2_client_secret_file";
	size_t max = token ? OAUTH2_STORE_FILE_MAX : SECRET_FILE_MAX;
	char buf[OAUTH2_STORE_FILE_MAX + 1];
	const char *nl;
	size_t len = 0, n;
	ssize_t r;
	int fd, rv = -1;

	*out = NULL;
	*outlen = 0;
	if ((fd = secret_open(key, path, max, err)) == -1)
		return -1;
	while (len < max + 1) {
		r = read(fd, buf + len, max + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rq_err_set(err, "%s %s: %s", key, path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		secret_too_large(key, path, max, err);
		goto out;
	}
	nl = memchr(buf, '\n', len);
	n = nl != NULL ? (size_t)(nl - buf) : len;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || str_has_ctl(buf, n)) {
		rq_err_set(err,
		    "%s %s: the first line is empty or holds a control "
		    "character",
		    key, path);
		goto out;
	}
	if (token && !oauth2_token_is_valid(buf, n)) {
		rq_err_set(err, "%s %s: the first line is not a valid token",
		    key, path);
		goto out;
	}
	*out = xmalloc(n + 1);
	memcpy(*out, buf, n);
	(*out)[n] = '\0';
	*outlen = n;
	rv = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	(void)close(fd);
	return rv;
}

/* Writes all of buf to fd. */
static int
oauth2_store_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, buf, len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Opens path's directory and fsyncs it. */
static int
oauth2_store_sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rv = -1;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		rv = fsync(fd);
		if (close(fd) == -1)
			rv = -1;
	}
	free(copy);
	return rv;
}

/*
 * Removes the "<base>.tmp.PID" files in path's directory whose writer PID
 * is gone (a kill -9 between their write and the rename); a file of a
 * live process, or of one we may not signal, is left alone.
 */
static void
oauth2_store_clean(const char *path)
{
	char *copy = xstrdup(path), *copy2 = xstrdup(path);
	const char *dir = dirname(copy), *base = basename(copy2);
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name;
		char *end;
		long pid;

		if (strncmp(p, base, blen) != 0 ||
		    strncmp(p + blen, ".tmp.", 5) != 0)
			continue;
		p += blen + 5;
		if (*p < '1' || *p > '9')
			continue;
		errno = 0;
		pid = strtol(p, &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 0 ||
		    (pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	(void)closedir(d);
out:
	free(copy);
	free(copy2);
}

/*
 * Opens path's temporary file "<path>.tmp.PID" (O_EXCL, 0600), first
 * removing the stale ones (oauth2_store_clean) and a leftover with our
 * pid; the name goes to tmp.  Returns the fd, or -1 with err set.
 */
static int
oauth2_store_tmp_open(const char *path, char *tmp, size_t tmpsz,
    struct rq_err *err)
{
	int fd;

	if (rq_snprintf(tmp, tmpsz, "%s.tmp.%ld", path, (long)getpid()) == -1) {
		rq_err_set(err, "%s: path too long", path);
		return -1;
	}
	oauth2_store_clean(path);
	(void)unlink(tmp); /* a leftover of a crashed process with our pid */
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		rq_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
	return fd;
}

/* Checks that a rotated token could be written now. */
int
oauth2_store_can_write(const char *path, struct rq_err *err)
{
	char tmp[4096];
	int fd;

	if ((fd = oauth2_store_tmp_open(path, tmp, sizeof(tmp), err)) == -1)
		return -1;
	(void)close(fd);
	(void)unlink(tmp);
	return 0;
}

/* Whether uid owner may create files in path's directory. */
int
oauth2_store_dir_check(const char *path, uid_t owner, struct rq_err *err)
{
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	struct passwd *pw;
	struct stat st;
	int ok, rv = 0;

	if (owner == geteuid()) {
		if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1) {
			rq_err_set(err,
			    "oauth2_refresh_token_file %s: cannot create "
			    "files in %s: %s",
			    path, dir, strerror(errno));
			rv = -1;
		}
		goto out;
	}
	if (stat(dir, &st) == -1) {
		rq_err_set(err, "oauth2_refresh_token_file %s: %s: %s", path,
		    dir, strerror(errno));
		rv = -1;
		goto out;
	}
	pw = getpwuid(owner);
	ok = owner == 0 ||
	    (st.st_uid == owner && (st.st_mode & 0300) == 0300) ||
	    (pw != NULL && st.st_gid == pw->pw_gid &&
		(st.st_mode & 0030) == 0030) ||
	    (st.st_mode & 0003) == 0003;
	if (!S_ISDIR(st.st_mode) || !ok) {
		rq_err_set(err,
		    "oauth2_refresh_token_file %s: uid %lu (relayqd's) "
		    "cannot create files in %s",
		    path, (unsigned long)owner, dir);
		rv = -1;
	}
out:
	free(copy);
	return rv;
}

/* Replaces path durably with tok. */
int
oauth2_store_write(const char *path, const char *tok, struct rq_err *err)
{
	char tmp[4096];
	size_t n = strlen(tok);
	int fd, saved;

	if ((fd = oauth2_store_tmp_open(path, tmp, sizeof(tmp), err)) == -1)
		return -1;
	if (fchmod(fd, 0600) == -1 ||
	    oauth2_store_write_all(fd, tok, n) == -1 ||
	    oauth2_store_write_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		saved = errno != 0 ? errno : EIO;
		(void)close(fd);
		(void)unlink(tmp);
		rq_err_set(err, "cannot write %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		(void)unlink(tmp);
		rq_err_set(err, "cannot write %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (rename(tmp, path) == -1) {
		saved = errno;
		(void)unlink(tmp);
		rq_err_set(err, "cannot rename %s to %s: %s", tmp, path,
		    strerror(saved));
		return -1;
	}
	if (oauth2_store_sync_dir(path) == -1) {
		rq_err_set(err, "cannot sync the directory of %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
