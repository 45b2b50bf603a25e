/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The refresh token file and the client secret file.  Both hold one line
 * (a trailing newline is optional) and follow the rules of password_file
 * (common/secret.h): regular files, not symbolic links, owned by the
 * effective uid, with no group or other access.  The client secret file
 * holds at most SECRET_FILE_MAX bytes (4 KiB) as password_file does; the
 * refresh token file at most OAUTH2_STORE_FILE_MAX (16 KiB), room for a
 * refresh token of OAUTH2_TOKEN_MAX.
 *
 * Rotation (the provider hands out a new refresh token on use) is written
 * by oauth2_store_write() in this order: a temporary file in the same
 * directory (O_EXCL, mode 0600), write, fsync, close, rename over the
 * file, fsync of the directory; the temporary files "<file>.tmp.PID" of
 * writers that died (a kill -9 before the rename) are removed first.  A
 * crash at any point leaves either the old token or the new one in the
 * file, never an empty or partial file;
 * the old token stays usable until the new one is first used (which is
 * what providers that rotate allow), so either is accepted.
 *
 * relayqd and relayq coordinate through "<file>.lock" (flock): whoever
 * refreshes holds it exclusively from reading the refresh token until the
 * rotated one is written, and re-reads the file after taking it, so two
 * processes never spend the same refresh token.  The lock is on a
 * separate file because rename() replaces the token file's inode.
 */
#ifndef RELAYQ_OAUTH2_OAUTH2_STORE_H
#define RELAYQ_OAUTH2_OAUTH2_STORE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/status.h"

#define OAUTH2_STORE_FILE_MAX 16384 /* the refresh token file: 16 KiB */

/*
 * Takes the exclusive lock of path's "<path>.lock" (created 0600 when
 * missing).  With nonblock, returns -1 with errno EWOULDBLOCK when
 * another process holds it.  Returns the lock's fd (close it to unlock),
 * or -1 with errno set.
 */
int oauth2_store_lock(const char *path, int nonblock);

/*
 * Reads the first line of path into *out (malloc'd; wipe and free it)
 * with its length in *outlen, checking the file as described above: with
 * token set path is the refresh token file and the line must also be a
 * valid token string, else path is the client secret file.  Returns 0, or
 * -1 with err set (the text names the key and the file, never its
 * content).
 */
int oauth2_store_read(const char *path, int token, char **out, size_t *outlen,
    struct rq_err *err);

/*
 * Replaces path durably with tok and a newline (see the header comment
 * for the order of the steps).  Returns 0, or -1 with err set; the old
 * file is then untouched.
 */
int oauth2_store_write(const char *path, const char *tok, struct rq_err *err);

/*
 * Checks, before a refresh token is spent, that a rotated one could be
 * stored: creates path's temporary file as oauth2_store_write() does and
 * removes it.  Returns 0, or -1 with err set ("cannot create ...").
 */
int oauth2_store_can_write(const char *path, struct rq_err *err);

/*
 * Checks that uid owner (relayqd's user) may create files in the
 * directory of path: with owner our effective uid, access(2) says;
 * else the directory's owner, group (owner's primary group) and mode.
 * Returns 0, or -1 with err set naming the key and the directory.
 */
int oauth2_store_dir_check(const char *path, uid_t owner, struct rq_err *err);

#endif
