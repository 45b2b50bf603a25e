/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Closing the descriptors of deleted message files off the event loop.
 * The last close() of an unlinked file frees its inode, and on some file
 * systems (ext4 mounted with discard, no journal) that costs a few
 * hundred microseconds of synchronous wall time, paid per delivered
 * message.  The loop unlinks the file while it still holds the fd (the
 * unlink itself is cheap) and hands the fd to one small thread that only
 * reads descriptors from a pipe and closes them.  The thread touches no
 * other state; when it is behind (RELAYQD_CLOSER_MAX descriptors not yet
 * closed), or the thread could not be started, the fd is closed inline,
 * so nothing depends on the thread and the descriptors in flight stay
 * few.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_CLOSER_H
#define RELAYQ_RELAYQD_RELAYQD_CLOSER_H

struct relayqd_closer;

/*
 * Starts the closer thread (with every signal blocked in it).  Never
 * fails: without a thread, relayqd_closer_close() closes inline.
 */
struct relayqd_closer *relayqd_closer_new(void);
/* Closes fd soon, in the closer thread, or now.  fd -1 is a no-op. */
void relayqd_closer_close(struct relayqd_closer *c, int fd);
/*
 * Lets the thread close what it was given, joins it and frees c; NULL is
 * a no-op.
 */
void relayqd_closer_free(struct relayqd_closer *c);

#endif
