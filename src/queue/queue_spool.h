/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The spool directory and its commit protocol.  Layout under spool_dir:
 *
 *	tmp/       front end's files being written (group relayq, 1730)
 *	incoming/  committed drops, untrusted until relayqd accepts them (1730)
 *	queue/     accepted message files, owned by relayqd (0700)
 *	state/     per-message delivery state, queue_state (0700)
 *	corrupt/   quarantined files that failed validation (0700)
 *	lock       flock'd by the one relayqd running on this spool
 *	wake       FIFO: one byte written here wakes relayqd
 *
 * Commit (front end): tmp/<id> created O_EXCL|O_NOFOLLOW, written,
 * fsync'd, closed, renamed to incoming/<id>, incoming/ fsync'd.  Only
 * then does the writer report success.  Accept (daemon): incoming/<id>
 * opened O_NOFOLLOW, checked (regular, one link, size, format, CRC),
 * renamed to queue/<id>, queue/ and incoming/ fsync'd; a bad file is
 * renamed into corrupt/ instead.  State files are replaced atomically
 * (tmp, fsync, rename, dir fsync).  Removal unlinks state/<id> then
 * queue/<id> and fsyncs both directories.
 *
 * Every function returns 0 or -1 with errno set; the ones that can fail
 * for a reason other than errno also fill struct rq_err.
 */
#ifndef RELAYQ_QUEUE_QUEUE_SPOOL_H
#define RELAYQ_QUEUE_QUEUE_SPOOL_H

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
	QUEUE_DIR_COUNT
};

struct queue_spool {
	char *path;		    /* owned */
	int rootfd;		    /* O_DIRECTORY fd of spool_dir */
	int dirfd[QUEUE_DIR_COUNT]; /* -1 when not opened */
	int lockfd;		    /* -1 unless queue_spool_lock() */
};

/* Which directories a caller needs. */
#define QUEUE_SPOOL_FRONTEND 0x01 /* tmp/ and incoming/ only */
#define QUEUE_SPOOL_DAEMON 0x02	  /* all of them */
#define QUEUE_SPOOL_CREATE 0x04	  /* create missing directories */

/*
 * Opens the spool at path.  With QUEUE_SPOOL_CREATE, missing
 * directories (and the wake FIFO) are created with the modes above.
 * Returns 0, or -1 with err filled.
 */
int queue_spool_open(struct queue_spool *sp, const char *path, int flags,
    struct rq_err *err) RQ_WUR;
/* Closes every fd (releasing the lock); sp may be opened again. */
void queue_spool_close(struct queue_spool *sp);
/* Returns the name of a directory ("tmp", "queue", ...). */
const char *queue_spool_dirname(enum queue_dir d);

/*
 * Takes the daemon lock (flock LOCK_EX|LOCK_NB on spool_dir/lock) and
 * holds it until queue_spool_close().  Returns -1 with errno
 * EWOULDBLOCK when another process holds it.
 */
int queue_spool_lock(struct queue_spool *sp) RQ_WUR;

/* ---- writing a message (front end, and relayqd for bounces) ---- */

struct queue_writer {
	struct queue_spool *sp; /* borrowed */
	char id[QUEUE_ID_LEN + 1];
	int fd;
	uint64_t body_len;
	uint32_t crc;
	int failed; /* an earlier write failed; commit will fail */
	int saved_errno;
};

/*
 * Creates tmp/<new id> and writes the envelope head of e (e->id is set
 * here).  Returns 0, or -1 with err filled and errno set; nothing is left
 * on disk on failure.
 */
int queue_writer_begin(struct queue_writer *w, struct queue_spool *sp,
    struct queue_env *e, struct rq_err *err) RQ_WUR;
/*
 * Appends body bytes, which must already be in wire form (CRLF, dot
 * stuffed).  Returns 0 or -1 (errno); after -1 only abort is useful.
 */
int queue_writer_body(struct queue_writer *w, const void *p, size_t len) RQ_WUR;
/*
 * Writes the trailer, fsyncs, closes, renames into dest (normally
 * QUEUE_DIR_INCOMING; relayqd writes bounces straight to QUEUE_DIR_QUEUE)
 * and fsyncs that directory.  On failure the temporary file is removed.
 * Returns 0 only when the message is durable.
 */
int queue_writer_commit(struct queue_writer *w, enum queue_dir dest,
    struct rq_err *err) RQ_WUR;
/* Removes the temporary file; safe after a failed commit or on a signal. */
void queue_writer_abort(struct queue_writer *w);

/* Writes one byte to the wake FIFO if a reader is there; never blocks. */
void queue_spool_poke(const struct queue_spool *sp);
/* Opens the wake FIFO for reading (O_RDWR|O_NONBLOCK); returns fd or -1. */
int queue_spool_wake_fd(const struct queue_spool *sp) RQ_WUR;

/* ---- daemon side ---- */

/*
 * Validates incoming/<id> and moves it to queue/<id>.  Returns 0 when
 * accepted; -1 with err filled when it was rejected (it is then in
 * corrupt/) or could not be moved (errno set, left in place).
 */
int queue_spool_accept(struct queue_spool *sp, const char *id,
    struct rq_err *err) RQ_WUR;

/*
 * Opens queue/<id> read-only, takes flock(LOCK_EX|LOCK_NB) on it and
 * reads its envelope into e.  Returns the fd (caller closes, which drops
 * the lock), or -1 with err filled (errno EWOULDBLOCK when locked by
 * another runner; a corrupt file is moved to corrupt/).
 */
int queue_spool_open_msg(struct queue_spool *sp, const char *id,
    struct queue_env *e, struct rq_err *err) RQ_WUR;

/*
 * Loads state/<id> into s for a message of nrcpt recipients; a missing
 * file gives a fresh state.  Returns 0 or -1 with err.
 */
int queue_spool_load_state(struct queue_spool *sp, const char *id, size_t nrcpt,
    struct queue_state *s, struct rq_err *err) RQ_WUR;
/* Replaces state/<id> atomically and durably.  Returns 0 or -1. */
int queue_spool_save_state(struct queue_spool *sp, const struct queue_state *s)
    RQ_WUR;

/* Unlinks state/<id> and queue/<id>, fsyncs both dirs.  Returns 0 or -1. */
int queue_spool_remove(struct queue_spool *sp, const char *id) RQ_WUR;

/* Moves <dir>/<name> into corrupt/.  Returns 0 or -1. */
int queue_spool_quarantine(struct queue_spool *sp, enum queue_dir d,
    const char *name) RQ_WUR;

#endif
