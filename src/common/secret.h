/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The rules of a file that holds a secret (smarthost password_file,
 * oauth2_client_secret_file, oauth2_refresh_token_file): a regular file,
 * not a symbolic link, owned by relayqd's user, with no group or other
 * access, of at most a given size.  relayqd checks them at start and on
 * every read (secret_open), relayq check-config ahead of it (secret_lstat,
 * as any user), with the same function and so the same messages.  The
 * program of a command that prints a secret (password_command) is
 * checked the same way by both (secret_check_program).  This module
 * reads no content and logs nothing.
 */
#ifndef RELAYQ_COMMON_SECRET_H
#define RELAYQ_COMMON_SECRET_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stddef.h>

#include "common/status.h"

/* password_file and oauth2_client_secret_file: 4 KiB. */
#define SECRET_FILE_MAX 4096

/*
 * Checks st, the status of the file path named by the key key (for the
 * message: "password_file"), against the rules above: owner is relayqd's
 * uid, or (uid_t)-1 not to check it; max the size limit in bytes (a
 * multiple of 1024: the message says KiB).  Returns 0, or -1 with err
 * set to "KEY PATH: why; how to fix it".
 */
int secret_check(const char *key, const char *path, const struct stat *st,
    uid_t owner, size_t max, struct rq_err *err);

/* lstat()s path and checks it as secret_check(); -1 with err set. */
int secret_lstat(const char *key, const char *path, uid_t owner, size_t max,
    struct rq_err *err);

/*
 * Opens path for reading (never through a symbolic link, never blocking
 * on a FIFO) and checks it with the effective uid as owner.  Returns the
 * fd (close-on-exec; the caller reads at most max + 1 bytes and calls
 * secret_too_large() if it got more than max), or -1 with err set.
 */
int secret_open(const char *key, const char *path, size_t max,
    struct rq_err *err);

/*
 * Keeps secrets out of core dumps: sets RLIMIT_CORE to 0 (soft and hard;
 * a refusal is accepted when the soft limit is 0 already, as under a
 * seccomp filter with systemd's LimitCORE=0) and, on Linux,
 * PR_SET_DUMPABLE to 0, which also makes the files of
 * /proc/PID root's and refuses ptrace to the same user.  A program that
 * holds a secret calls it before it reads one, and again after it
 * changes its uid (the kernel then resets the dumpable flag); exec()
 * resets the flag for a child too.  Returns 0, or -1 with errno set.
 */
int secret_nodump(void);

/*
 * Checks that prog, the program of a command relayqd runs without a
 * shell (password_command, alert_command), is a regular file that uid may
 * execute: prog itself when it holds a '/', else found in the
 * colon-separated directories of path as execvp() searches them (NULL:
 * "/usr/bin:/bin").  uid is relayqd's user, or (uid_t)-1 for the
 * effective uid (relayqd itself).  The parent directories' permissions
 * are not checked.  Returns 0, or -1 with err set to "KEY: PROG is not
 * an executable file[ found in PATH][ for relayqd's user]".
 */
int secret_check_program(const char *key, const char *prog, const char *path,
    uid_t uid, struct rq_err *err);

/* Sets err to the message for a file that grew beyond max while read. */
void secret_too_large(const char *key, const char *path, size_t max,
    struct rq_err *err);

#endif
