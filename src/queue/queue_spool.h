/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The spool directory and its commit protocol.  Layout under spool_dir
 * (0755), modes as created by QUEUE_SPOOL_CREATE:
 *
 *	tmp/       front end's files being written (group relayq, 1730)
 *	incoming/  committed drops, untrusted until relayqd accepts them (1770)
 *	queue/     accepted message files, owned by relayqd (0750)
 *	state/     per-message delivery state, queue_state (0750)
 *	corrupt/   quarantined files that failed validation (0700)
 *	failed/    undeliverable null-sender mail, never bounced (0750)
 *	lock       flock'd by the one relayqd running on this spool (0600)
 *	wake       FIFO: one byte written here wakes relayqd (0620)
 *
 * Message and state files are 0640 (fchmod'ed, whatever the umask), so
 * the group can read them for mailq.  The details, and the file formats,
 * are in doc/queue-format.md.
 *
 * Commit (front end): tmp/<id> created O_EXCL|O_NOFOLLOW and flock'd
 * (queue_spool_clean_tmp() leaves it alone while the writer lives),
 * written, fsync'd, closed, renamed to incoming/<id>, incoming/ fsync'd.
 * Only then does the writer report success.  Accept (daemon): incoming/<id>
 * opened O_NOFOLLOW, checked (regular, one link, size, format, CRC),
 * renamed to queue/<id>, queue/ and incoming/ fsync'd; a bad file is
 * renamed into corrupt/ instead.  relayqd accepts in batches: many
 * renames, then one fsync of queue/ and one of incoming/ for the batch,
 * and only then is any of it scheduled.  State files are replaced
 * atomically (tmp, fsync, rename, dir fsync).  Removal unlinks
 * queue/<id> first, then state/<id>, fsyncing each directory: a crash
 * in between leaves an orphan state file (harmless, see
 * queue_scan_clean_state()) rather than a message whose progress is
 * lost and that would be sent again to recipients that already have it.
 * The removal of a delivered message without a state file is not
 * fsync'd (queue_spool_remove_done()): a crash can only bring it back
 * and send it again, a duplicate, never lose anything.
 *
 * A directory the caller may not read (tmp/ is 1730, so the setgid
 * front end has only write and search permission there) is opened
 * with O_PATH; it still serves for openat() and renameat(), and a
 * "directory fsync" of it falls back to syncfs() of the spool's file
 * system, which is slower but just as durable.
 *
 * Every function returns 0 or -1 with errno set; the ones that can fail
 * for a reason other than errno also fill struct rq_err.
 */
#ifndef RELAYQ_QUEUE_QUEUE_SPOOL_H
#define RELAYQ_QUEUE_QUEUE_SPOOL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compat.h"
#include "common/status.h"
#include "queue/queue_env.h"
#include "queue/queue_state.h"

enum queue_dir {
	QUEUE_DIR_TMP,
	QUEUE_DIR_INCOMING,
	QUEUE_DIR_QUEUE,
	QUEUE_DIR_STATE,
	QUEUE_DIR_CORRUPT,
	QUEUE_DIR_FAILED,
	QUEUE_DIR_COUNT
};

#define QUEUE_SPOOL_ACCEPT_MAX ((uint64_t)1 << 30) /* default file bound */

struct queue_spool {
	char *path;		    /* owned */
	int rootfd;		    /* O_DIRECTORY fd of spool_dir */
	int dirfd[QUEUE_DIR_COUNT]; /* -1 when not opened */
	int lockfd;		    /* -1 unless queue_spool_lock() */
	unsigned pathonly;	    /* bit 1 << d: dirfd[d] is O_PATH */
	uint64_t accept_max;	    /* 0: QUEUE_SPOOL_ACCEPT_MAX */
};

/* Which directories a caller needs. */
#define QUEUE_SPOOL_FRONTEND 0x01 /* tmp/ and incoming/ only */
#define QUEUE_SPOOL_DAEMON 0x02	  /* all of them */
#define QUEUE_SPOOL_CREATE 0x04	  /* create missing directories */
#define QUEUE_SPOOL_READER 0x08	  /* incoming/, queue/, state/ (listing) */
#define QUEUE_SPOOL_FAILED 0x10	  /* failed/ too (listing, stats) */

/*
 * Opens the spool at path.  With QUEUE_SPOOL_CREATE, missing
 * directories are created with the modes above, and the wake FIFO too
 * (by the front end only in a spool it had to create).
 * Returns 0, or -1 with err filled.
 */
int queue_spool_open(struct queue_spool *sp, const char *path, int flags,
    struct rq_err *err) RQ_WUR;
/*
 * Closes every fd (releasing the lock); sp may be opened again, and
 * closing twice is harmless.
 */
void queue_spool_close(struct queue_spool *sp);
/* Returns the name of a directory ("tmp", "queue", ...). */
const char *queue_spool_dirname(enum queue_dir d);
/*
 * Makes directory d durable after a rename or unlink in it: fsync() of
 * the directory, or syncfs() when it was opened O_PATH.  Returns 0 or -1.
 */
int queue_spool_sync_dir(struct queue_spool *sp, enum queue_dir d) RQ_WUR;

/*
 * Takes the daemon lock (flock LOCK_EX|LOCK_NB on spool_dir/lock) and
 * holds it until queue_spool_close().  Returns -1 with errno
 * EWOULDBLOCK when another process holds it.
 */
int queue_spool_lock(struct queue_spool *sp) RQ_WUR;

/* ---- writing a message (front end, and relayqd for bounces) ---- */

#define QUEUE_WRITER_BUFSZ (64 * 1024)

struct queue_writer {
	struct queue_spool *sp; /* borrowed */
	char id[QUEUE_ID_LEN + 1];
	int fd;
	uint64_t body_len;
	uint32_t crc;
	int failed; /* an earlier write failed; commit will fail */
	int saved_errno;
	volatile sig_atomic_t live; /* tmp/<id> exists and is ours */
	struct queue_env_wire wire; /* wire-form check of the body */
	size_t buflen;
	unsigned char buf[QUEUE_WRITER_BUFSZ]; /* head/body not yet written */
};

/*
 * Creates tmp/<new id> and buffers the envelope head of e, which goes to
 * the file with the first body flush (e->id is set here; every field
 * is validated before anything is created).  Returns
 * 0, or -1 with err filled and errno set (EINVAL: invalid envelope);
 * nothing is left on disk on failure.  After this call, successful or
 * not, queue_writer_abort() is always safe.
 */
int queue_writer_begin(struct queue_writer *w, struct queue_spool *sp,
    struct queue_env *e, struct rq_err *err) RQ_WUR;
/*
 * Appends body bytes, which must already be in wire form (CRLF line
 * ends, no bare CR or LF, every line starting with '.' dot-stuffed; see
 * struct queue_env_wire).  Bytes are buffered (QUEUE_WRITER_BUFSZ).
 * Returns 0 or -1 (errno; EINVAL for a wire-form violation); after -1
 * only abort is useful.
 */
int queue_writer_body(struct queue_writer *w, const void *p, size_t len) RQ_WUR;
/*
 * Writes the trailer, fsyncs, closes, renames into dest (normally
 * QUEUE_DIR_INCOMING; relayqd writes bounces straight to QUEUE_DIR_QUEUE)
 * without replacing anything there, and fsyncs that directory.  The body
 * must have ended with CRLF (or be empty), else EINVAL.  On failure the
 * temporary file is removed (and, if only the final directory fsync
 * failed, the committed file too).  Returns 0 only when the message is
 * durable.
 */
int queue_writer_commit(struct queue_writer *w, enum queue_dir dest,
    struct rq_err *err) RQ_WUR;
/*
 * queue_writer_commit() in two steps, for a group commit: _nosync writes
 * the trailer, fsyncs and closes the file and renames it into dest, but
 * does not fsync dest (on failure it removes tmp/<id>, as commit does).
 * The message is durable, and may be reported so, only after
 * queue_spool_sync_dir(sp, dest) returned 0 once after its rename: one
 * such fsync covers every rename before it.  When that fsync fails,
 * queue_writer_takeback() unlinks the n renamed files of ws from dest,
 * fills errs[i] (an array of n) with the reason and sets errno to e.
 */
int queue_writer_commit_nosync(struct queue_writer *w, enum queue_dir dest,
    struct rq_err *err) RQ_WUR;
void queue_writer_takeback(struct queue_spool *sp, enum queue_dir dest,
    struct queue_writer *const *ws, size_t n, int e, struct rq_err *errs);
/*
 * Removes the temporary file; safe after a failed commit or on a signal
 * (async-signal-safe: close() and unlinkat() only, errno preserved).
 */
void queue_writer_abort(struct queue_writer *w);

/*
 * The reserve for root (queue_minfree), for a submission not from root:
 * returns 0 when adding need more bytes and one file leaves at least
 * minfree bytes available to unprivileged writers and more than the
 * inode reserve (a tenth of the file system's inodes, at most
 * QUEUE_SPOOL_MINFREE_INODES; none when it reports no inode limit,
 * f_files 0) free; else -1 with err filled and errno ENOSPC.  Also 0
 * when minfree is 0 (off), sp is NULL or the spool's free space cannot
 * be read (the writes judge).  One fstatvfs().
 */
#define QUEUE_SPOOL_MINFREE_INODES 1000
int queue_spool_room(const struct queue_spool *sp, long long minfree,
    uint64_t need, struct rq_err *err) RQ_WUR;
/*
 * Checks the directory that holds the submission socket sockpath: one
 * writable by group or others would let another user listen there in
 * relayqd's place (sticky bit or not: with it, a user can still take the
 * name while relayqd is down).  Returns 0 when it is safe or cannot be
 * looked at (the bind or connect reports that), or -1 with why filled.
 */
int queue_spool_sockdir_check(const char *sockpath, char *why, size_t whysz);
/* Writes one byte to the wake FIFO if a reader is there; never blocks. */
void queue_spool_poke(const struct queue_spool *sp);
/* Opens the wake FIFO for reading (O_RDWR|O_NONBLOCK); returns fd or -1. */
int queue_spool_wake_fd(const struct queue_spool *sp) RQ_WUR;

/* ---- daemon side ---- */

/* Age under which relayqd's pick-up never removes a tmp/ file. */
#define QUEUE_SPOOL_TMP_MIN_AGE 300

/*
 * Removes what dead writers left in tmp/.  A writer holds flock(LOCK_EX)
 * on its temporary file from queue_writer_begin() until it closes it,
 * and the kernel drops the lock when the writer dies.  A regular file is
 * removed when it can be locked (LOCK_NB) and was last modified at least
 * min_age seconds ago (min_age >= 0; the age is a second guard, for the
 * moment between the writer's close and its rename); a file this process
 * may not open is kept.  An entry that is not a regular file (never a
 * writer's) is removed when old enough; directories are left alone.  The
 * removals are not fsync'd (a crash only brings back garbage).  Never
 * blocks on a lock.  Returns the number removed, or -1 with errno.
 */
int queue_spool_clean_tmp(struct queue_spool *sp, long long min_age);

/*
 * Validates incoming/<id> and moves it to queue/<id>.  Checks: not a
 * symlink, regular file, one link, at most accept_max bytes, valid
 * format and CRC, id record equal to the name, owner equal to the U
 * record (or root, or this process's euid).  Returns 0 when accepted;
 * -1 with err filled when it was rejected (errno EBADMSG: it is then in
 * corrupt/) or could not be moved (another errno, left in place).
 */
int queue_spool_accept(struct queue_spool *sp, const char *id,
    struct rq_err *err) RQ_WUR;
/*
 * The two halves of queue_spool_accept(), for accepting a batch:
 * _move() checks and renames one file like queue_spool_accept() but does
 * not fsync; _sync() then fsyncs queue/ and incoming/ (in that order)
 * once for all the moves before it.  A moved file must not be acted on
 * (scheduled, delivered) before _sync() returned 0: until then a crash
 * may take the rename back (the file is then in incoming/ again) or, on
 * a file system without atomic rename, lose the directory entry.
 * _sync() returns 0 or -1 with err filled.
 */
int queue_spool_accept_move(struct queue_spool *sp, const char *id,
    struct rq_err *err) RQ_WUR;
/*
 * As queue_spool_accept_move(); on success *e holds the envelope it read
 * (the caller frees it with queue_env_free()), on failure it is empty.
 */
int queue_spool_accept_move_env(struct queue_spool *sp, const char *id,
    struct queue_env *e, struct rq_err *err) RQ_WUR;
int queue_spool_accept_sync(struct queue_spool *sp, struct rq_err *err) RQ_WUR;

/*
 * Opens queue/<id> read-only, takes flock(LOCK_EX|LOCK_NB) on it and
 * reads its envelope into e (the body CRC is not checked again).
 * Returns the fd (caller closes, which drops the lock; the file offset
 * is 0), or -1 with err filled (errno EWOULDBLOCK when locked by another
 * runner; EBADMSG when the file was corrupt and moved to corrupt/).
 */
int queue_spool_open_msg(struct queue_spool *sp, const char *id,
    struct queue_env *e, struct rq_err *err) RQ_WUR;

/*
 * As queue_spool_open_msg(); *data is set to the whole file's bytes
 * (owned by the caller) when reading the envelope took all of it
 * (queue_env_read_fd_size), else to NULL.
 */
int queue_spool_open_msg_data(struct queue_spool *sp, const char *id,
    struct queue_env *e, char **data, struct rq_err *err) RQ_WUR;

/*
 * Loads state/<id> into s for a message of nrcpt recipients; a missing
 * file gives a fresh state.  Returns 0 or -1 with err.  A corrupt state
 * file (errno EBADMSG) has been moved to corrupt/, so a second call
 * gives a fresh state: every recipient pending again (at-least-once).
 */
int queue_spool_load_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, struct rq_err *err) RQ_WUR;
/*
 * queue_spool_load_state() that also sets *found (unless NULL) to 1 when
 * the state came from state/<id>, 0 when it is a fresh one.
 */
int queue_spool_load_state_found(struct queue_spool *sp, const char *id,
    size_t nrcpt, struct queue_state *s, int *found, struct rq_err *err) RQ_WUR;
/*
 * Like queue_spool_load_state() but never moves anything (for listing).
 * Returns 0, or -1 with *errstr (errno EBADMSG when corrupt).
 */
int queue_spool_peek_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, const char **errstr) RQ_WUR;
/*
 * Like queue_spool_peek_state() for a message in failed/: reads
 * failed/<id>.state (spool opened with QUEUE_SPOOL_FAILED or _DAEMON).
 */
int queue_spool_peek_failed_state(struct queue_spool *sp, const char *id,
    size_t nrcpt, struct queue_state *s, const char **errstr) RQ_WUR;
/* Replaces state/<id> atomically and durably.  Returns 0 or -1. */
int queue_spool_save_state(struct queue_spool *sp, const struct queue_state *s)
    RQ_WUR;

/*
 * Unlinks queue/<id> then state/<id> (either may already be gone),
 * fsyncing each directory.  Returns 0 or -1.
 */
int queue_spool_remove(struct queue_spool *sp, const char *id) RQ_WUR;
/*
 * Removes a message that relayqd has finished (every recipient done or
 * bounced), holding its flock.  has_state says whether state/<id>
 * exists (known from loading it under the same flock).  Without one,
 * only queue/<id> is unlinked and queue/ is not fsync'd: a crash may
 * bring the message back and it is delivered again (a duplicate, never
 * a loss; reliability-security.md, at-least-once).  With one, it is
 * queue_spool_remove(), so the state never goes before the message.
 * Returns 0 or -1.
 */
int queue_spool_remove_done(struct queue_spool *sp, const char *id,
    int has_state) RQ_WUR;

/*
 * Moves queue/<id> to failed/<id>, then state/<id> (when there is one)
 * to failed/<id>.state, fsyncing each directory: the end of a message
 * that failed and must not be bounced (its sender is <>).  Nothing in
 * failed/ is ever delivered or removed by relayqd.  Returns 0, or -1
 * with errno (EEXIST when failed/<id> exists already; the message then
 * stays in queue/).
 */
int queue_spool_fail(struct queue_spool *sp, const char *id) RQ_WUR;

/*
 * Moves <dir>/<name> into corrupt/ (a symlink is moved, not followed).
 * name must be a single path component.  The entry keeps its name when
 * that is a valid id, else it gets "X" plus a new id; ".1" to ".9" is
 * appended on a clash.  Returns 0 or -1.
 */
int queue_spool_quarantine(struct queue_spool *sp, enum queue_dir d,
    const char *name) RQ_WUR;

#endif
