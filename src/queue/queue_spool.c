/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The spool: directory layout, the commit protocol of the writer, the
 * daemon's accept step, per-message locks, state files, quarantine and
 * the wake FIFO (the layout is in queue_spool.h, the formats in
 * queue_env.c and queue_state.c, all of it in doc/queue-format.md).
 * This module never logs and never decides policy: it reports what
 * happened through errno and struct rq_err and the caller logs once.
 * Invariants: every path is a single component relative to a directory
 * fd (never a joined string), every name used is a valid queue id (or
 * comes from readdir), every open uses O_NOFOLLOW and O_CLOEXEC, new
 * files are created O_EXCL; nothing becomes visible in incoming/, queue/
 * or state/ before it is complete and fsync'd, and every rename or
 * unlink there is followed by an fsync of the directory, with two
 * exceptions: the daemon's batched accept fsyncs queue/ and incoming/
 * once per batch (queue_spool_accept_move/_sync), and the removal of a
 * delivered message without a state file is not fsync'd at all
 * (queue_spool_remove_done): undoing it can only cause a duplicate,
 * never a loss, and it saves a directory fsync per message.  close() is
 * checked wherever data was written; descriptors that were only read
 * are closed with (void)close(), since no data can be lost there.
 */
#include "config.h"

#include "queue/queue_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/strutil.h"
#include "common/xmalloc.h"

#define QUEUE_SPOOL_ROOT_MODE 0755
#define QUEUE_SPOOL_FILE_MODE 0640
#define QUEUE_SPOOL_LOCK_MODE 0600
#define QUEUE_SPOOL_WAKE_MODE 0620
#define QUEUE_SPOOL_LOCK_NAME "lock"
#define QUEUE_SPOOL_WAKE_NAME "wake"
#define QUEUE_SPOOL_TMP_SUFFIX ".tmp"
#define QUEUE_SPOOL_ID_TRIES 5
#define QUEUE_SPOOL_CLASH_MAX 9

/* How queue_spool_move() behaves where RENAME_NOREPLACE is missing. */
enum queue_spool_fallback {
	QUEUE_SPOOL_FB_LINK,  /* linkat + unlinkat (the file is ours) */
	QUEUE_SPOOL_FB_CHECK, /* fstatat, then renameat (daemon dirs) */
};

static const char *const queue_spool_names[QUEUE_DIR_COUNT] = {
	[QUEUE_DIR_TMP] = "tmp",
	[QUEUE_DIR_INCOMING] = "incoming",
	[QUEUE_DIR_QUEUE] = "queue",
	[QUEUE_DIR_STATE] = "state",
	[QUEUE_DIR_CORRUPT] = "corrupt",
	[QUEUE_DIR_FAILED] = "failed",
};

static const mode_t queue_spool_modes[QUEUE_DIR_COUNT] = {
	[QUEUE_DIR_TMP] = 01730,
	[QUEUE_DIR_INCOMING] = 01770,
	[QUEUE_DIR_QUEUE] = 0750,
	[QUEUE_DIR_STATE] = 0750,
	[QUEUE_DIR_CORRUPT] = 0700,
	[QUEUE_DIR_FAILED] = 0750,
};

/* Returns the name of a spool directory. */
const char *
queue_spool_dirname(enum queue_dir d)
{
	if ((unsigned)d >= QUEUE_DIR_COUNT)
		return "?";
	return queue_spool_names[d];
}

/* Closes fd keeping errno; for descriptors that were only read. */
static void
queue_spool_close_quiet(int fd)
{
	int saved_errno = errno;

	if (fd != -1)
		(void)close(fd);
	errno = saved_errno;
}

/* Makes directory d of the spool durable after a rename or unlink in it. */
int
queue_spool_sync_dir(struct queue_spool *sp, enum queue_dir d)
{
	if (sp->pathonly & (1u << d)) {
		/*
		 * We may not read this directory, so we cannot open it for
		 * fsync(); flushing the whole file system covers it.
		 */
		return syncfs(sp->rootfd);
	}
	return fsync(sp->dirfd[d]);
}

/* Writes all of p to fd, retrying short writes. */
static int
queue_spool_write_all(int fd, const void *p, size_t len)
{
	const char *s = p;

	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

#ifdef HAVE_RENAMEAT2
/* Returns 0 when the file system lacks RENAME_NOREPLACE. */
static int
queue_spool_noreplace_works(int err)
{
	return err != EINVAL && err != ENOSYS && err != ENOTSUP;
}
#endif

/*
 * Renames fromfd/from to tofd/to, failing with EEXIST rather than
 * replacing anything.
 */
static int
queue_spool_move(int fromfd, const char *from, int tofd, const char *to,
    enum queue_spool_fallback fb)
{
	struct stat st;
	int saved_errno;

#ifdef HAVE_RENAMEAT2
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (queue_spool_noreplace_works(errno))
		return -1;
#endif
	if (fb == QUEUE_SPOOL_FB_LINK) {
		if (linkat(fromfd, from, tofd, to, 0) == -1)
			return -1;
		if (unlinkat(fromfd, from, 0) == -1) {
			/* Two links would make the daemon reject the file. */
			saved_errno = errno;
			(void)unlinkat(tofd, to, 0);
			errno = saved_errno;
			return -1;
		}
		return 0;
	}
	if (fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(fromfd, from, tofd, to);
}

/*
 * Gives fd, a directory, FIFO or state file this process has just
 * created, the owner and group of the spool root when this process is
 * root: `relayq hold` run by root on a spool relayqd never ran on creates
 * queue/, state/ and state/<id>, and relayqd (user relayq) must still be
 * able to use them.  Other callers create only what they own anyway.
 */
static int
queue_spool_give_owner(struct queue_spool *sp, int fd)
{
	struct stat root, st;

	if (geteuid() != 0)
		return 0;
	if (fstat(sp->rootfd, &root) == -1 || fstat(fd, &st) == -1)
		return -1;
	if (st.st_uid == root.st_uid && st.st_gid == root.st_gid)
		return 0;
	return fchown(fd, root.st_uid, root.st_gid);
}

/* Creates directory name under the root with mode unless it exists. */
static int
queue_spool_mkdir(struct queue_spool *sp, const char *name, mode_t mode,
    int *created)
{
	*created = 0;
	if (mkdirat(sp->rootfd, name, mode) == 0) {
		*created = 1;
		return 0;
	}
	return errno == EEXIST ? 0 : -1;
}

/*
 * Opens spool directory d, creating it first when asked and missing (an
 * existing spool costs no failing mkdir); *made is set when it was.
 */
static int
queue_spool_open_dir(struct queue_spool *sp, enum queue_dir d, int create,
    int *made, struct rq_err *err)
{
	const char *name = queue_spool_names[d];
	int fd, created = 0, saved_errno;

	fd = openat(sp->rootfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		if (queue_spool_mkdir(sp, name, queue_spool_modes[d],
			&created) == -1) {
			saved_errno = errno;
			rq_err_set(err, "cannot create %s/%s: %s", sp->path,
			    name, strerror(errno));
			errno = saved_errno;
			return -1;
		}
		*made |= created;
		fd = openat(sp->rootfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
#ifdef O_PATH
	if (fd == -1 && errno == EACCES) {
		fd = openat(sp->rootfd, name,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1)
			sp->pathonly |= 1u << d;
	}
#endif
	if (fd == -1) {
		saved_errno = errno;
		rq_err_set(err, "cannot open %s/%s: %s", sp->path, name,
		    strerror(errno));
		errno = saved_errno;
		return -1;
	}
	sp->dirfd[d] = fd;
	/* A new directory gets its exact mode, whatever the umask. */
	if (created &&
	    (queue_spool_give_owner(sp, fd) == -1 ||
		fchmod(fd, queue_spool_modes[d]) == -1)) {
		saved_errno = errno;
		rq_err_set(err, "cannot chmod %s/%s: %s", sp->path, name,
		    strerror(errno));
		errno = saved_errno;
		return -1;
	}
	return 0;
}

/* Creates the wake FIFO with its exact mode unless it exists. */
static int
queue_spool_make_wake(struct queue_spool *sp, struct rq_err *err)
{
	int fd, saved_errno;

	if (mkfifoat(sp->rootfd, QUEUE_SPOOL_WAKE_NAME,
		QUEUE_SPOOL_WAKE_MODE) == -1) {
		if (errno == EEXIST)
			return 0;
		goto fail;
	}
	fd = openat(sp->rootfd, QUEUE_SPOOL_WAKE_NAME,
	    O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		goto fail;
	if (queue_spool_give_owner(sp, fd) == -1 ||
	    fchmod(fd, QUEUE_SPOOL_WAKE_MODE) == -1) {
		queue_spool_close_quiet(fd);
		goto fail;
	}
	(void)close(fd);
	return 0;

fail:
	saved_errno = errno;
	rq_err_set(err, "cannot create %s/%s: %s", sp->path,
	    QUEUE_SPOOL_WAKE_NAME, strerror(errno));
	errno = saved_errno;
	return -1;
}

/* Opens the spool at path. */
int
queue_spool_open(struct queue_spool *sp, const char *path, int flags,
    struct rq_err *err)
{
	unsigned want = 0;
	int create = (flags & QUEUE_SPOOL_CREATE) != 0, created = 0;
	int made, saved_errno;

	sp->path = xstrdup(path);
	sp->rootfd = -1;
	for (int d = 0; d < QUEUE_DIR_COUNT; d++)
		sp->dirfd[d] = -1;
	sp->lockfd = -1;
	sp->pathonly = 0;
	sp->accept_max = 0;

	if (flags & QUEUE_SPOOL_FRONTEND)
		want |= 1u << QUEUE_DIR_TMP | 1u << QUEUE_DIR_INCOMING;
	if (flags & QUEUE_SPOOL_READER)
		want |= 1u << QUEUE_DIR_INCOMING | 1u << QUEUE_DIR_QUEUE |
		    1u << QUEUE_DIR_STATE;
	if (flags & QUEUE_SPOOL_FAILED)
		want |= 1u << QUEUE_DIR_FAILED;
	if (flags & QUEUE_SPOOL_DAEMON)
		want = (1u << QUEUE_DIR_COUNT) - 1;
	if (want == 0) {
		rq_err_set(err, "no spool directories requested");
		errno = EINVAL;
		goto fail;
	}

	sp->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->rootfd == -1 && errno == ENOENT && create) {
		if (mkdir(path, QUEUE_SPOOL_ROOT_MODE) == 0)
			created = 1;
		else if (errno != EEXIST) {
			saved_errno = errno;
			rq_err_set(err, "cannot create %s: %s", path,
			    strerror(errno));
			errno = saved_errno;
			goto fail;
		}
		sp->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (sp->rootfd == -1) {
		saved_errno = errno;
		rq_err_set(err, "cannot open spool %s: %s", path,
		    strerror(errno));
		errno = saved_errno;
		goto fail;
	}
	made = created;
	if (created && fchmod(sp->rootfd, QUEUE_SPOOL_ROOT_MODE) == -1) {
		saved_errno = errno;
		rq_err_set(err, "cannot chmod %s: %s", path, strerror(errno));
		errno = saved_errno;
		goto fail;
	}
	for (int d = 0; d < QUEUE_DIR_COUNT; d++) {
		if (!(want & (1u << d)))
			continue;
		if (queue_spool_open_dir(sp, (enum queue_dir)d, create, &made,
			err) == 0)
			continue;
		/*
		 * A reader of a spool that relayqd has never run on finds
		 * no queue/ or state/ yet: that is an empty queue.
		 */
		if (errno == ENOENT && !create &&
		    !(flags & QUEUE_SPOOL_DAEMON) &&
		    (d == QUEUE_DIR_QUEUE || d == QUEUE_DIR_STATE ||
			d == QUEUE_DIR_FAILED))
			continue;
		goto fail;
	}
	/* The front end makes the FIFO only in a spool it had to create. */
	if (create && (made || (flags & QUEUE_SPOOL_DAEMON)) &&
	    queue_spool_make_wake(sp, err) == -1)
		goto fail;
	return 0;

fail:
	saved_errno = errno;
	queue_spool_close(sp);
	errno = saved_errno;
	return -1;
}

/* Closes every descriptor of the spool. */
void
queue_spool_close(struct queue_spool *sp)
{
	for (int d = 0; d < QUEUE_DIR_COUNT; d++) {
		queue_spool_close_quiet(sp->dirfd[d]);
		sp->dirfd[d] = -1;
	}
	queue_spool_close_quiet(sp->lockfd);
	sp->lockfd = -1;
	queue_spool_close_quiet(sp->rootfd);
	sp->rootfd = -1;
	sp->pathonly = 0;
	free(sp->path);
	sp->path = NULL;
}

/* Takes the daemon lock. */
int
queue_spool_lock(struct queue_spool *sp)
{
	int fd, saved_errno;

	if (sp->lockfd != -1)
		return 0;
	fd = openat(sp->rootfd, QUEUE_SPOOL_LOCK_NAME,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, QUEUE_SPOOL_LOCK_MODE);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved_errno = errno;
		(void)close(fd);
		errno = saved_errno;
		return -1;
	}
	sp->lockfd = fd;
	return 0;
}

/* Records a writer failure and returns -1 with errno e. */
static int
queue_writer_fail(struct queue_writer *w, int e)
{
	w->failed = 1;
	w->saved_errno = e;
	errno = e;
	return -1;
}

/* Creates tmp/<new id> and writes the head of e. */
int
queue_writer_begin(struct queue_writer *w, struct queue_spool *sp,
    struct queue_env *e, struct rq_err *err)
{
	const char *errstr;
	char *head = NULL;
	size_t hlen;
	int fd = -1, saved_errno;

	w->sp = sp;
	w->id[0] = '\0';
	w->fd = -1;
	w->body_len = 0;
	w->crc = 0;
	w->failed = 0;
	w->saved_errno = 0;
	w->live = 0;
	w->buflen = 0;
	queue_env_wire_init(&w->wire);
	if (sp->dirfd[QUEUE_DIR_TMP] == -1) {
		rq_err_set(err, "spool not open for writing");
		errno = EBADF;
		return -1;
	}
	for (int tries = 1;; tries++) {
		if (queue_id_new(e->id) == -1) {
			saved_errno = errno;
			rq_err_set(err, "cannot make a queue id: %s",
			    strerror(errno));
			errno = saved_errno;
			return -1;
		}
		free(head);
		if (queue_env_format_head(e, &head, &hlen, &errstr) == -1) {
			rq_err_set(err, "invalid envelope: %s", errstr);
			errno = EINVAL;
			return -1;
		}
		fd = openat(sp->dirfd[QUEUE_DIR_TMP], e->id,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    QUEUE_SPOOL_FILE_MODE);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries >= QUEUE_SPOOL_ID_TRIES) {
			saved_errno = errno;
			rq_err_set(err, "cannot create %s/tmp/%s: %s", sp->path,
			    e->id, strerror(errno));
			free(head);
			errno = saved_errno;
			return -1;
		}
	}
	memcpy(w->id, e->id, sizeof(w->id));
	w->fd = fd;
	w->live = 1;
	/*
	 * The lock (dropped by the kernel if we die) keeps relayqd's
	 * queue_spool_clean_tmp() away.  The front end runs with umask 077;
	 * the daemon reads by group.
	 */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 ||
	    fchmod(fd, QUEUE_SPOOL_FILE_MODE) == -1 ||
	    (hlen > QUEUE_WRITER_BUFSZ &&
		queue_spool_write_all(fd, head, hlen) == -1)) {
		saved_errno = errno;
		rq_err_set(err, "cannot write %s/tmp/%s: %s", sp->path, w->id,
		    strerror(errno));
		free(head);
		queue_writer_abort(w);
		errno = saved_errno;
		return -1;
	}
	/* A head that fits goes out with the body (one write if small). */
	if (hlen <= QUEUE_WRITER_BUFSZ) {
		memcpy(w->buf, head, hlen);
		w->buflen = hlen;
	}
	free(head);
	return 0;
}

/* Writes out the buffered head and body bytes. */
static int
queue_writer_flush(struct queue_writer *w)
{
	if (w->buflen == 0)
		return 0;
	if (queue_spool_write_all(w->fd, w->buf, w->buflen) == -1)
		return queue_writer_fail(w, errno);
	w->buflen = 0;
	return 0;
}

/* Appends body bytes in wire form. */
int
queue_writer_body(struct queue_writer *w, const void *p, size_t len)
{
	const unsigned char *s = p;
	const char *errstr;

	if (w->failed) {
		errno = w->saved_errno;
		return -1;
	}
	if (w->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (queue_env_wire_feed(&w->wire, p, len, &errstr) == -1)
		return queue_writer_fail(w, EINVAL);
	if ((uint64_t)len > (uint64_t)LLONG_MAX - w->body_len)
		return queue_writer_fail(w, EFBIG);
	w->crc = queue_env_crc32(w->crc, p, len);
	w->body_len += len;
	if (w->buflen == 0 && len >= QUEUE_WRITER_BUFSZ) {
		if (queue_spool_write_all(w->fd, s, len) == -1)
			return queue_writer_fail(w, errno);
		return 0;
	}
	while (len > 0) {
		size_t n = QUEUE_WRITER_BUFSZ - w->buflen;

		if (n > len)
			n = len;
		memcpy(w->buf + w->buflen, s, n);
		w->buflen += n;
		s += n;
		len -= n;
		if (w->buflen == QUEUE_WRITER_BUFSZ &&
		    queue_writer_flush(w) == -1)
			return -1;
	}
	return 0;
}

/* Finishes the message file and moves it into dest, not yet durably. */
int
queue_writer_commit_nosync(struct queue_writer *w, enum queue_dir dest,
    struct rq_err *err)
{
	struct queue_spool *sp = w->sp;
	char trailer[QUEUE_ENV_TRAILER_MAX];
	const char *errstr, *what;
	size_t tlen;
	int fd, saved_errno;

	if (w->fd == -1 || !w->live) {
		rq_err_set(err, "no message being written");
		errno = EBADF;
		return -1;
	}
	if ((dest != QUEUE_DIR_INCOMING && dest != QUEUE_DIR_QUEUE) ||
	    sp->dirfd[dest] == -1) {
		rq_err_set(err, "bad destination directory");
		errno = EINVAL;
		goto fail_quiet;
	}
	if (w->wire.error != NULL ||
	    queue_env_wire_end(&w->wire, &errstr) == -1) {
		rq_err_set(err, "message body not in wire form: %s",
		    w->wire.error != NULL ? w->wire.error : errstr);
		errno = EINVAL;
		goto fail_quiet;
	}
	what = "write";
	if (w->failed) {
		errno = w->saved_errno;
		goto fail;
	}
	if (queue_env_format_trailer(w->body_len, w->crc, trailer,
		sizeof(trailer)) == -1)
		goto fail;
	tlen = strlen(trailer);
	/* A small message is written with one write(): head, body, trailer. */
	if (w->buflen + tlen <= QUEUE_WRITER_BUFSZ) {
		memcpy(w->buf + w->buflen, trailer, tlen);
		w->buflen += tlen;
		tlen = 0;
	}
	if (queue_writer_flush(w) == -1 ||
	    (tlen > 0 && queue_spool_write_all(w->fd, trailer, tlen) == -1))
		goto fail;
	what = "fsync";
	if (fsync(w->fd) == -1)
		goto fail;
	what = "close";
	fd = w->fd;
	w->fd = -1;
	if (close(fd) == -1)
		goto fail;
	what = "rename";
	if (queue_spool_move(sp->dirfd[QUEUE_DIR_TMP], w->id, sp->dirfd[dest],
		w->id, QUEUE_SPOOL_FB_LINK) == -1)
		goto fail;
	w->live = 0;
	return 0;

fail:
	saved_errno = errno;
	rq_err_set(err, "cannot %s %s/tmp/%s: %s", what, sp->path, w->id,
	    strerror(errno));
	errno = saved_errno;
fail_quiet:
	queue_writer_abort(w);
	return -1;
}

/* Takes back messages renamed into dest whose directory fsync failed. */
void
queue_writer_takeback(struct queue_spool *sp, enum queue_dir dest,
    struct queue_writer *const *ws, size_t n, int e, struct rq_err *errs)
{
	size_t gone = 0;

	/* Not durable: take them back so we do not report a maybe. */
	for (size_t i = 0; i < n; i++) {
		if (unlinkat(sp->dirfd[dest], ws[i]->id, 0) == 0)
			gone++;
		rq_err_set(&errs[i], "cannot fsync %s/%s/: %s", sp->path,
		    queue_spool_names[dest], strerror(e));
	}
	if (gone > 0 && queue_spool_sync_dir(sp, dest) == -1) {
		/* Nothing more we can do; the caller reports e. */
	}
	errno = e;
}

/* Finishes the message file and moves it into dest, durably. */
int
queue_writer_commit(struct queue_writer *w, enum queue_dir dest,
    struct rq_err *err)
{
	if (queue_writer_commit_nosync(w, dest, err) == -1)
		return -1;
	if (queue_spool_sync_dir(w->sp, dest) == -1) {
		queue_writer_takeback(w->sp, dest, &w, 1, errno, err);
		return -1;
	}
	return 0;
}

/* Removes the temporary file, if any; async-signal-safe. */
void
queue_writer_abort(struct queue_writer *w)
{
	int saved_errno = errno;

	if (w->live) {
		w->live = 0;
		(void)unlinkat(w->sp->dirfd[QUEUE_DIR_TMP], w->id, 0);
	}
	if (w->fd != -1) {
		(void)close(w->fd);
		w->fd = -1;
	}
	errno = saved_errno;
}

/*
 * Decides about tmp/<name> (lstat st) for queue_spool_clean_tmp(): 1 when
 * it may be removed, 0 when not; it stays locked by *lockfd (or -1)
 * until the caller has removed it.
 */
static int
queue_spool_tmp_is_stale(int dfd, const char *name, const struct stat *st,
    time_t cutoff, int *lockfd)
{
	struct stat fst;
	int fd;

	*lockfd = -1;
	if (S_ISDIR(st->st_mode) || st->st_mtime > cutoff)
		return 0;
	if (!S_ISREG(st->st_mode))
		return 1;
	fd = openat(dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	/* A live writer holds the lock; the name must still be that file. */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &fst) == -1 ||
	    fst.st_dev != st->st_dev || fst.st_ino != st->st_ino ||
	    fst.st_mtime > cutoff) {
		(void)close(fd);
		return 0;
	}
	*lockfd = fd;
	return 1;
}

/* Removes tmp/ files left by dead writers (see the header). */
int
queue_spool_clean_tmp(struct queue_spool *sp, long long min_age)
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	time_t cutoff;
	int n = 0, failed = 0, fd, lockfd;
	int dfd = sp->dirfd[QUEUE_DIR_TMP];

	if (min_age < 0) {
		errno = EINVAL;
		return -1;
	}
	if (dfd == -1) {
		errno = EBADF;
		return -1;
	}
	cutoff = time(NULL) - (time_t)min_age;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		failed = errno;
		(void)close(fd);
		errno = failed;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno != 0)
				failed = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !queue_spool_tmp_is_stale(dfd, de->d_name, &st, cutoff,
			&lockfd))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0) {
			if (n < INT_MAX)
				n++;
		} else if (errno != ENOENT)
			failed = errno;
		if (lockfd != -1)
			(void)close(lockfd);
	}
	(void)closedir(dp);
	if (failed != 0) {
		errno = failed;
		return -1;
	}
	return n;
}

/*
 * The inode reserve: a tenth of the file system's inodes, at most
 * QUEUE_SPOOL_MINFREE_INODES.
 */
static unsigned long long
queue_spool_inode_reserve(unsigned long long files)
{
	return files / 10 < QUEUE_SPOOL_MINFREE_INODES
	    ? files / 10
	    : QUEUE_SPOOL_MINFREE_INODES;
}

/* Whether a submission not from root fits above the reserve for root. */
int
queue_spool_room(const struct queue_spool *sp, long long minfree, uint64_t need,
    struct rq_err *err)
{
	struct statvfs vfs;
	unsigned long long avail, ires;

	/* A spool whose free space cannot be read is left to the writes. */
	if (minfree <= 0 || sp == NULL || fstatvfs(sp->rootfd, &vfs) == -1)
		return 0;
	avail =
	    (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
	if (avail < (unsigned long long)minfree + need) {
		rq_err_set(err,
		    "not enough free space in the spool (%llu KB) above the "
		    "%lld KB kept for root (queue_minfree); message not "
		    "queued, try again later",
		    avail / 1024, minfree / 1024);
		errno = ENOSPC;
		return -1;
	}
	/* f_files 0: the file system has no inode limit (btrfs). */
	ires = queue_spool_inode_reserve((unsigned long long)vfs.f_files);
	if (vfs.f_files != 0 && (unsigned long long)vfs.f_favail <= ires) {
		rq_err_set(err,
		    "not enough free inodes in the spool (%llu) above the %llu "
		    "kept for root (queue_minfree); message not queued, try "
		    "again later",
		    (unsigned long long)vfs.f_favail, ires);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/* Checks that only its owner can write the socket's directory. */
int
queue_spool_sockdir_check(const char *sockpath, char *why, size_t whysz)
{
	const char *slash = strrchr(sockpath, '/');
	char dir[PATH_MAX];
	struct stat st;

	if (slash == NULL)
		(void)strlcpy(dir, ".", sizeof(dir));
	else if (slash == sockpath)
		(void)strlcpy(dir, "/", sizeof(dir));
	else if (rq_snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sockpath),
		     sockpath) == -1)
		return 0;
	if (stat(dir, &st) == -1 || (st.st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return 0;
	(void)snprintf(why, whysz,
	    "the directory %s of submit_socket %s is writable by %s (mode "
	    "%04o): another user could listen there in relayqd's place and "
	    "capture mail; make it writable by its owner only",
	    dir, sockpath, (st.st_mode & S_IWOTH) != 0 ? "others" : "its group",
	    (unsigned)(st.st_mode & 07777));
	return -1;
}

/* Writes one byte to the wake FIFO if relayqd is listening. */
void
queue_spool_poke(const struct queue_spool *sp)
{
	struct stat st;
	int fd, saved_errno = errno;

	if (sp->rootfd == -1)
		return;
	/* ENXIO: no reader.  Nothing to do, a periodic scan is the backstop. */
	fd = openat(sp->rootfd, QUEUE_SPOOL_WAKE_NAME,
	    O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		errno = saved_errno;
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    write(fd, "!", 1) == -1) {
		/* EAGAIN: the FIFO is full, so relayqd is awake already. */
	}
	(void)close(fd);
	errno = saved_errno;
}

/* Opens the wake FIFO for relayqd. */
int
queue_spool_wake_fd(const struct queue_spool *sp)
{
	struct stat st;
	int fd;

	fd = openat(sp->rootfd, QUEUE_SPOOL_WAKE_NAME,
	    O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		queue_spool_close_quiet(fd);
		return -1;
	}
	if (!S_ISFIFO(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* True when name is one path component we may rename. */
static int
queue_spool_name_is_safe(const char *name)
{
	size_t len = strnlen(name, NAME_MAX + 1);

	return len > 0 && len <= NAME_MAX && strchr(name, '/') == NULL &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Moves <d>/<name> into corrupt/. */
int
queue_spool_quarantine(struct queue_spool *sp, enum queue_dir d,
    const char *name)
{
	char base[QUEUE_ID_LEN + 2], target[QUEUE_ID_LEN + 8];
	int r = -1;

	if ((unsigned)d >= QUEUE_DIR_COUNT || d == QUEUE_DIR_CORRUPT ||
	    !queue_spool_name_is_safe(name)) {
		errno = EINVAL;
		return -1;
	}
	if (sp->dirfd[d] == -1 || sp->dirfd[QUEUE_DIR_CORRUPT] == -1) {
		errno = EBADF;
		return -1;
	}
	if (queue_id_is_valid(name))
		(void)strlcpy(base, name, sizeof(base));
	else {
		base[0] = 'X';
		if (queue_id_new(base + 1) == -1)
			return -1;
	}
	for (int n = 0; n <= QUEUE_SPOOL_CLASH_MAX; n++) {
		if ((n == 0 ? rq_snprintf(target, sizeof(target), "%s", base)
			    : rq_snprintf(target, sizeof(target), "%s.%d", base,
				  n)) == -1)
			return -1;
		r = queue_spool_move(sp->dirfd[d], name,
		    sp->dirfd[QUEUE_DIR_CORRUPT], target, QUEUE_SPOOL_FB_CHECK);
		if (r == 0 || errno != EEXIST)
			break;
	}
	if (r == -1)
		return -1;
	if (queue_spool_sync_dir(sp, QUEUE_DIR_CORRUPT) == -1 ||
	    queue_spool_sync_dir(sp, d) == -1)
		return -1;
	return 0;
}

/*
 * Moves a rejected file into corrupt/ and reports why; always returns
 * -1, with errno EBADMSG when the file was moved.
 */
static int
queue_spool_reject(struct queue_spool *sp, enum queue_dir d, const char *id,
    const char *why, struct rq_err *err)
{
	int saved_errno;

	if (queue_spool_quarantine(sp, d, id) == -1) {
		saved_errno = errno;
		rq_err_set(err, "%s/%s: %s; cannot move it to corrupt/: %s",
		    queue_spool_names[d], id, why, strerror(errno));
		errno = saved_errno;
		return -1;
	}
	rq_err_set(err, "%s/%s: %s; moved to corrupt/", queue_spool_names[d],
	    id, why);
	errno = EBADMSG;
	return -1;
}

/* Reports an I/O problem with <d>/<id>; returns -1 keeping errno. */
static int
queue_spool_ioerr(struct queue_spool *sp, enum queue_dir d, const char *id,
    const char *what, struct rq_err *err)
{
	int saved_errno = errno;

	rq_err_set(err, "cannot %s %s/%s/%s: %s", what, sp->path,
	    queue_spool_names[d], id, strerror(saved_errno));
	errno = saved_errno;
	return -1;
}

/* True for open() errors that mean the entry is not a usable file. */
static int
queue_spool_open_is_bad(int e)
{
	return e == ELOOP || e == ENXIO || e == EACCES || e == EPERM ||
	    e == ENODEV || e == EISDIR;
}

/*
 * Opens <d>/<id> for reading and checks what the file is; on success
 * returns the fd with *st filled.  *why is set (and -1 returned) when
 * the entry must be rejected; otherwise -1 is an I/O error.
 */
static int
queue_spool_open_checked(struct queue_spool *sp, enum queue_dir d,
    const char *id, struct stat *st, const char **why)
{
	int fd;

	*why = NULL;
	fd = openat(sp->dirfd[d], id,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (queue_spool_open_is_bad(errno))
			*why = errno == ELOOP ? "symbolic link"
					      : "cannot be opened";
		return -1;
	}
	if (fstat(fd, st) == -1) {
		queue_spool_close_quiet(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode))
		*why = "not a regular file";
	else if (st->st_nlink != 1)
		*why = "link count is not 1";
	if (*why != NULL) {
		queue_spool_close_quiet(fd);
		return -1;
	}
	return fd;
}

/* Validates incoming/<id> and moves it to queue/<id>, without fsyncs. */
int
queue_spool_accept_move(struct queue_spool *sp, const char *id,
    struct rq_err *err)
{
	struct queue_env e;

	if (queue_spool_accept_move_env(sp, id, &e, err) == -1)
		return -1;
	queue_env_free(&e);
	return 0;
}

/* As queue_spool_accept_move(), handing the envelope read over in *e. */
int
queue_spool_accept_move_env(struct queue_spool *sp, const char *id,
    struct queue_env *out, struct rq_err *err)
{
	struct queue_env e;
	struct stat st, moved;
	const char *why, *errstr;
	char whybuf[128];
	uint64_t max =
	    sp->accept_max != 0 ? sp->accept_max : QUEUE_SPOOL_ACCEPT_MAX;
	int fd, saved_errno;

	queue_env_init(out);
	if (!queue_id_is_valid(id)) {
		rq_err_set(err, "invalid queue id");
		errno = EINVAL;
		return -1;
	}
	if (sp->dirfd[QUEUE_DIR_INCOMING] == -1 ||
	    sp->dirfd[QUEUE_DIR_QUEUE] == -1 ||
	    sp->dirfd[QUEUE_DIR_CORRUPT] == -1) {
		rq_err_set(err, "spool not open for the daemon");
		errno = EBADF;
		return -1;
	}
	fd = queue_spool_open_checked(sp, QUEUE_DIR_INCOMING, id, &st, &why);
	if (fd == -1 && why == NULL)
		return queue_spool_ioerr(sp, QUEUE_DIR_INCOMING, id, "open",
		    err);
	if (fd == -1)
		return queue_spool_reject(sp, QUEUE_DIR_INCOMING, id, why, err);
	if ((uint64_t)st.st_size > max) {
		queue_spool_close_quiet(fd);
		return queue_spool_reject(sp, QUEUE_DIR_INCOMING, id,
		    "file too large", err);
	}
	if (queue_env_read_fd_size(&e, fd, (uint64_t)st.st_size, 1, NULL,
		&errstr) == -1) {
		queue_spool_close_quiet(fd);
		if (errno != EBADMSG)
			return queue_spool_ioerr(sp, QUEUE_DIR_INCOMING, id,
			    "read", err);
		return queue_spool_reject(sp, QUEUE_DIR_INCOMING, id, errstr,
		    err);
	}
	queue_spool_close_quiet(fd);
	why = NULL;
	if (strcmp(e.id, id) != 0)
		why = "queue id record does not match the file name";
	else if ((long long)st.st_uid != e.uid && st.st_uid != 0 &&
	    st.st_uid != geteuid()) {
		(void)snprintf(whybuf, sizeof(whybuf),
		    "file owner %lu does not match uid record %lld",
		    (unsigned long)st.st_uid, e.uid);
		why = whybuf;
	}
	if (why != NULL) {
		queue_env_free(&e);
		return queue_spool_reject(sp, QUEUE_DIR_INCOMING, id, why, err);
	}

	if (queue_spool_move(sp->dirfd[QUEUE_DIR_INCOMING], id,
		sp->dirfd[QUEUE_DIR_QUEUE], id, QUEUE_SPOOL_FB_CHECK) == -1) {
		if (errno == EEXIST)
			why = "already in queue/";
		else
			(void)queue_spool_ioerr(sp, QUEUE_DIR_INCOMING, id,
			    "move", err);
		goto fail;
	}
	/* What we moved must be what we checked. */
	if (fstatat(sp->dirfd[QUEUE_DIR_QUEUE], id, &moved,
		AT_SYMLINK_NOFOLLOW) == -1) {
		(void)queue_spool_ioerr(sp, QUEUE_DIR_QUEUE, id, "stat", err);
		goto fail;
	}
	if (moved.st_dev != st.st_dev || moved.st_ino != st.st_ino) {
		queue_env_free(&e);
		return queue_spool_reject(sp, QUEUE_DIR_QUEUE, id,
		    "file replaced while it was checked", err);
	}
	*out = e;
	return 0;

fail:
	saved_errno = errno;
	queue_env_free(&e);
	errno = saved_errno;
	if (why != NULL)
		return queue_spool_reject(sp, QUEUE_DIR_INCOMING, id, why, err);
	return -1;
}

/* Makes the moves of queue_spool_accept_move() durable. */
int
queue_spool_accept_sync(struct queue_spool *sp, struct rq_err *err)
{
	int saved_errno;

	/* queue/ first: a crash in between leaves a file in both. */
	if (queue_spool_sync_dir(sp, QUEUE_DIR_QUEUE) == -1 ||
	    queue_spool_sync_dir(sp, QUEUE_DIR_INCOMING) == -1) {
		saved_errno = errno;
		rq_err_set(err, "cannot fsync %s/queue/ or incoming/: %s",
		    sp->path, strerror(saved_errno));
		errno = saved_errno;
		return -1;
	}
	return 0;
}

/* Validates incoming/<id>, moves it to queue/<id> and makes it durable. */
int
queue_spool_accept(struct queue_spool *sp, const char *id, struct rq_err *err)
{
	if (queue_spool_accept_move(sp, id, err) == -1)
		return -1;
	return queue_spool_accept_sync(sp, err);
}

/* Opens and locks queue/<id> and reads its envelope. */
int
queue_spool_open_msg(struct queue_spool *sp, const char *id,
    struct queue_env *e, struct rq_err *err)
{
	return queue_spool_open_msg_data(sp, id, e, NULL, err);
}

/* As queue_spool_open_msg(), keeping a small file's bytes in *data. */
int
queue_spool_open_msg_data(struct queue_spool *sp, const char *id,
    struct queue_env *e, char **data, struct rq_err *err)
{
	struct stat st;
	const char *why, *errstr;
	int fd, saved_errno;

	queue_env_init(e);
	if (data != NULL)
		*data = NULL;
	if (!queue_id_is_valid(id)) {
		rq_err_set(err, "invalid queue id");
		errno = EINVAL;
		return -1;
	}
	if (sp->dirfd[QUEUE_DIR_QUEUE] == -1) {
		rq_err_set(err, "spool not open for the daemon");
		errno = EBADF;
		return -1;
	}
	fd = openat(sp->dirfd[QUEUE_DIR_QUEUE], id,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (queue_spool_open_is_bad(errno))
			return queue_spool_reject(sp, QUEUE_DIR_QUEUE, id,
			    errno == ELOOP ? "symbolic link"
					   : "cannot be opened",
			    err);
		return queue_spool_ioerr(sp, QUEUE_DIR_QUEUE, id, "open", err);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved_errno = errno;
		queue_spool_close_quiet(fd);
		if (saved_errno == EWOULDBLOCK)
			rq_err_set(err, "%s: locked by another process", id);
		else
			rq_err_set(err, "cannot lock queue/%s: %s", id,
			    strerror(saved_errno));
		errno = saved_errno;
		return -1;
	}
	why = NULL;
	if (fstat(fd, &st) == -1) {
		queue_spool_ioerr(sp, QUEUE_DIR_QUEUE, id, "stat", err);
		queue_spool_close_quiet(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_nlink != 1)
		why = "link count is not 1";
	else if (queue_env_read_fd_size(e, fd, (uint64_t)st.st_size, 0, data,
		     &errstr) == -1) {
		if (errno != EBADMSG) {
			queue_spool_ioerr(sp, QUEUE_DIR_QUEUE, id, "read", err);
			queue_spool_close_quiet(fd);
			return -1;
		}
		why = errstr;
	} else if (strcmp(e->id, id) != 0) {
		queue_env_free(e);
		why = "queue id record does not match the file name";
	}
	if (why != NULL) {
		if (data != NULL) {
			free(*data);
			*data = NULL;
		}
		/* Keep the lock until the file is out of queue/. */
		(void)queue_spool_reject(sp, QUEUE_DIR_QUEUE, id, why, err);
		queue_spool_close_quiet(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads the state of id in d (state/<id>, or failed/<id>.state) without
 * side effects; ENOENT gives a fresh state.  *found (unless NULL) tells
 * whether the file was there.
 */
static int
queue_spool_read_state_in(struct queue_spool *sp, enum queue_dir d,
    const char *id, size_t nrcpt, struct queue_state *s, int *found,
    const char **errstr)
{
	struct stat st;
	char *data = NULL, name[QUEUE_ID_LEN + sizeof(".state")];
	size_t len, got = 0;
	int fd, saved_errno;

	if (found != NULL)
		*found = 0;
	if (!queue_id_is_valid(id) || sp->dirfd[d] == -1) {
		*errstr = "invalid queue id or spool not open";
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(name, sizeof(name), "%s%s", id,
	    d == QUEUE_DIR_FAILED ? ".state" : "");
	fd = openat(sp->dirfd[d], name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT) {
			queue_state_init(s, id, nrcpt);
			return 0;
		}
		*errstr = errno == ELOOP ? "symbolic link" : "cannot open";
		if (errno == ELOOP)
			errno = EBADMSG;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*errstr = "cannot stat";
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
	    st.st_size > QUEUE_STATE_SIZE_MAX) {
		*errstr = "not a regular file of sane size";
		errno = EBADMSG;
		goto fail;
	}
	len = (size_t)st.st_size;
	data = xmalloc(len);
	while (got < len) {
		ssize_t n = pread(fd, data + got, len - got, (off_t)got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*errstr = "read error";
			goto fail;
		}
		if (n == 0) {
			*errstr = "file shrank while reading";
			errno = EBADMSG;
			goto fail;
		}
		got += (size_t)n;
	}
	queue_spool_close_quiet(fd);
	fd = -1;
	if (queue_state_parse(s, data, len, nrcpt, errstr) == -1) {
		errno = EBADMSG;
		goto fail;
	}
	if (strcmp(s->id, id) != 0) {
		queue_state_free(s);
		*errstr = "queue id record does not match the file name";
		errno = EBADMSG;
		goto fail;
	}
	free(data);
	if (found != NULL)
		*found = 1;
	return 0;

fail:
	saved_errno = errno;
	free(data);
	queue_spool_close_quiet(fd);
	errno = saved_errno;
	return -1;
}

static int
queue_spool_read_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, int *found, const char **errstr)
{
	return queue_spool_read_state_in(sp, QUEUE_DIR_STATE, id, nrcpt, s,
	    found, errstr);
}

/* Reads failed/<id>.state without side effects. */
int
queue_spool_peek_failed_state(struct queue_spool *sp, const char *id,
    size_t nrcpt, struct queue_state *s, const char **errstr)
{
	return queue_spool_read_state_in(sp, QUEUE_DIR_FAILED, id, nrcpt, s,
	    NULL, errstr);
}

/* Reads state/<id> without side effects. */
int
queue_spool_peek_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, const char **errstr)
{
	return queue_spool_read_state(sp, id, nrcpt, s, NULL, errstr);
}

/* Loads state/<id>, quarantining a corrupt file. */
int
queue_spool_load_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, struct rq_err *err)
{
	return queue_spool_load_state_found(sp, id, nrcpt, s, NULL, err);
}

/* Loads state/<id>, saying whether the file was there. */
int
queue_spool_load_state_found(struct queue_spool *sp, const char *id,
    size_t nrcpt, struct queue_state *s, int *found, struct rq_err *err)
{
	const char *errstr;
	int saved_errno;

	if (queue_spool_read_state(sp, id, nrcpt, s, found, &errstr) == 0)
		return 0;
	if (errno != EBADMSG) {
		saved_errno = errno;
		rq_err_set(err, "cannot load state/%s: %s: %s", id, errstr,
		    strerror(saved_errno));
		errno = saved_errno;
		return -1;
	}
	return queue_spool_reject(sp, QUEUE_DIR_STATE, id, errstr, err);
}

/* Replaces state/<id> atomically and durably. */
int
queue_spool_save_state(struct queue_spool *sp, const struct queue_state *s)
{
	char tmp[QUEUE_ID_LEN + sizeof(QUEUE_SPOOL_TMP_SUFFIX)];
	char *data = NULL;
	size_t len;
	int dfd = sp->dirfd[QUEUE_DIR_STATE], fd = -1, saved_errno;

	if (dfd == -1) {
		errno = EBADF;
		return -1;
	}
	if (!queue_id_is_valid(s->id) ||
	    rq_snprintf(tmp, sizeof(tmp), "%s%s", s->id,
		QUEUE_SPOOL_TMP_SUFFIX) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (queue_state_format(s, &data, &len) == -1)
		return -1;
	/* A leftover from a crash would make O_EXCL fail forever. */
	if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT)
		goto fail;
	fd = openat(dfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    QUEUE_SPOOL_FILE_MODE);
	if (fd == -1)
		goto fail;
	/*
	 * `relayq hold` run by root (not the daemon: it holds no spool
	 * lock) leaves a state file relayqd, user relayq, can still read.
	 */
	if ((sp->lockfd == -1 && queue_spool_give_owner(sp, fd) == -1) ||
	    fchmod(fd, QUEUE_SPOOL_FILE_MODE) == -1 ||
	    queue_spool_write_all(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail_unlink;
	if (close(fd) == -1) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, s->id) == -1)
		goto fail_unlink;
	free(data);
	return queue_spool_sync_dir(sp, QUEUE_DIR_STATE);

fail_unlink:
	saved_errno = errno;
	(void)unlinkat(dfd, tmp, 0);
	errno = saved_errno;
fail:
	saved_errno = errno;
	if (fd != -1)
		(void)close(fd);
	free(data);
	errno = saved_errno;
	return -1;
}

/* Unlinks queue/<id> and then state/<id>. */
int
queue_spool_remove(struct queue_spool *sp, const char *id)
{
	if (!queue_id_is_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (sp->dirfd[QUEUE_DIR_QUEUE] == -1 ||
	    sp->dirfd[QUEUE_DIR_STATE] == -1) {
		errno = EBADF;
		return -1;
	}
	if (unlinkat(sp->dirfd[QUEUE_DIR_QUEUE], id, 0) == -1 &&
	    errno != ENOENT)
		return -1;
	if (queue_spool_sync_dir(sp, QUEUE_DIR_QUEUE) == -1)
		return -1;
	if (unlinkat(sp->dirfd[QUEUE_DIR_STATE], id, 0) == -1) {
		if (errno == ENOENT)
			return 0;
		return -1;
	}
	return queue_spool_sync_dir(sp, QUEUE_DIR_STATE);
}

/* Unlinks a finished message; queue/ is not fsync'd (see the header). */
int
queue_spool_remove_done(struct queue_spool *sp, const char *id, int has_state)
{
	if (!has_state) {
		if (!queue_id_is_valid(id)) {
			errno = EINVAL;
			return -1;
		}
		if (sp->dirfd[QUEUE_DIR_QUEUE] == -1) {
			errno = EBADF;
			return -1;
		}
		if (unlinkat(sp->dirfd[QUEUE_DIR_QUEUE], id, 0) == -1 &&
		    errno != ENOENT)
			return -1;
		return 0;
	}
	return queue_spool_remove(sp, id);
}

/* Moves queue/<id> and its state into failed/. */
int
queue_spool_fail(struct queue_spool *sp, const char *id)
{
	char target[QUEUE_ID_LEN + sizeof(".state")];

	if (!queue_id_is_valid(id) ||
	    rq_snprintf(target, sizeof(target), "%s.state", id) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (sp->dirfd[QUEUE_DIR_QUEUE] == -1 ||
	    sp->dirfd[QUEUE_DIR_STATE] == -1 ||
	    sp->dirfd[QUEUE_DIR_FAILED] == -1) {
		errno = EBADF;
		return -1;
	}
	if (queue_spool_move(sp->dirfd[QUEUE_DIR_QUEUE], id,
		sp->dirfd[QUEUE_DIR_FAILED], id, QUEUE_SPOOL_FB_CHECK) == -1)
		return -1;
	if (queue_spool_sync_dir(sp, QUEUE_DIR_FAILED) == -1 ||
	    queue_spool_sync_dir(sp, QUEUE_DIR_QUEUE) == -1)
		return -1;
	/* The state only explains the failure: a clash replaces it. */
	if (renameat(sp->dirfd[QUEUE_DIR_STATE], id,
		sp->dirfd[QUEUE_DIR_FAILED], target) == -1) {
		if (errno == ENOENT)
			return 0;
		return -1;
	}
	if (queue_spool_sync_dir(sp, QUEUE_DIR_FAILED) == -1 ||
	    queue_spool_sync_dir(sp, QUEUE_DIR_STATE) == -1)
		return -1;
	return 0;
}
