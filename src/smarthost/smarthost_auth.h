/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * SMTP AUTH secrets and SASL mechanisms, shared by relayqd and relayq
 * probe (RFC 4954): PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (no channel
 * binding), XOAUTH2 and OAUTHBEARER.  struct smarthost_auth is the daemon-wide policy (username,
 * where the secret comes from, which mechanism); struct smarthost_sasl is
 * one session's exchange and the only holder of the secret, which it
 * fetches when created and wipes when freed.  This module computes the
 * base64 lines behind smtp_client's ops->auth_start/auth_step/auth_done;
 * it does no network I/O and logs nothing.  No error text (rq_err,
 * rq_reason) ever contains the secret or a response.
 *
 * The secret is the first line of smarthost password_file (a regular file
 * of at most 4 KiB, owned by the daemon's effective uid, mode 0600 or
 * stricter, checked again on every read) or of the output of
 * smarthost password_command, run anew for each session so that an OAuth2
 * helper can refresh tokens.  The command is split on blanks into argv
 * and run without a shell: no quoting, no expansion.  relayq probe runs
 * it to the end here (smarthost_sasl_new); relayqd only starts it here
 * (smarthost_auth_command_start) and watches the pipe and the exit from
 * its event loop (relayqd_pwcmd), then passes the output to
 * smarthost_sasl_begin as the secret.
 *
 * auth = auto picks the strongest offered mechanism that suits a
 * password: SCRAM-SHA-256 > CRAM-MD5 > PLAIN > LOGIN.  XOAUTH2 and
 * OAUTHBEARER carry a bearer token, not a password, and are used only
 * when configured explicitly.  There is no SASLprep: SCRAM-SHA-256 needs
 * a printable-ASCII username and password (for which SASLprep changes
 * nothing); auto skips it otherwise.
 */
#ifndef RELAYQ_SMARTHOST_SMARTHOST_AUTH_H
#define RELAYQ_SMARTHOST_SMARTHOST_AUTH_H

#include <sys/types.h>

#include <stddef.h>

#include "common/secret.h"
#include "common/status.h"

struct conf;
struct smarthost_auth;
struct smarthost_sasl;

/* password_file's size limit (4 KiB), common to every secret file */
#define SMARTHOST_AUTH_FILE_MAX SECRET_FILE_MAX

#define SMARTHOST_AUTH_CMD_OUT_MAX 8192	     /* password_command output */
#define SMARTHOST_AUTH_CMD_TIMEOUT_MS 10000  /* password_command run time */
#define SMARTHOST_AUTH_SCRAM_ITER_MIN 4096   /* RFC 7677 section 4 */
#define SMARTHOST_AUTH_SCRAM_ITER_MAX 100000 /* our cap on server's demand */

/*
 * Checks the AUTH keys of c against one another, reading no file, so
 * that relayq check-config (as any user) refuses what relayqd refuses,
 * with the same message.  Returns 0, or -1 with err->msg set: unknown
 * mechanism; oauth2_token_url with an auth other than xoauth2 or
 * oauthbearer (auto and none included), or with password_file or
 * password_command; an empty username with password_file,
 * password_command or an explicit mechanism set (mail would otherwise go
 * unauthenticated); a username with a control character; both or
 * neither of password_file and password_command (without
 * oauth2_token_url); a blank password_command; a password_file that is
 * not an absolute path; AUTH with tls = none and no allow_plaintext_auth
 * (smarthost_auth_check_tls()'s message).
 */
int smarthost_auth_check_conf(const struct conf *c, struct rq_err *err);

/*
 * Checks that the program of c's password_command (its first word, as
 * smarthost_auth_command_start() splits it), if set, is an executable
 * file for uid, found in $PATH when it holds no '/' (secret_check_program;
 * uid (uid_t)-1: the effective uid).  relayqd refuses to start (and a
 * reload) without it, relayq check-config checks it for the spool's
 * owner.  Returns 0, or -1 with err->msg set.
 */
int smarthost_auth_check_program(const struct conf *c, uid_t uid,
    struct rq_err *err);

/*
 * Validates the AUTH settings of c (smarthost_auth_check_conf) and copies
 * what sessions need (c may be freed afterwards).  Returns NULL with
 * err->msg "" when AUTH is not configured (username empty, or auth =
 * none), or NULL with err->msg set on an error: those of
 * smarthost_auth_check_conf(), or a password_file that breaks the rules
 * of common/secret.h (a regular file owned by the effective uid, not a
 * symbolic link, no group or other access, at most 4 KiB) or has an
 * empty first line (it is read once here to fail at start-up).  Call it
 * with the daemon's final uid.
 */
struct smarthost_auth *smarthost_auth_new(const struct conf *c,
    struct rq_err *err);
/*
 * Returns why AUTH policy a (NULL: AUTH off) cannot go with c's TLS
 * settings, or NULL: AUTH is never sent without TLS unless
 * allow_plaintext_auth = yes.  relayqd refuses to start, relayq probe
 * to run, on such a configuration.
 */
const char *smarthost_auth_check_tls(const struct smarthost_auth *a,
    const struct conf *c);

/* Frees the policy; NULL is a no-op.  Live sessions do not depend on it. */
void smarthost_auth_free(struct smarthost_auth *a);
/*
 * Sets the password_command time limit in milliseconds (tests shorten
 * it); smarthost_auth_new() takes password_command_timeout.
 */
void smarthost_auth_set_command_timeout(struct smarthost_auth *a, int ms);

/* True when a takes its secret from password_command. */
int smarthost_auth_has_command(const struct smarthost_auth *a);

/* How reading password_command's output ended. */
enum smarthost_auth_pipe {
	SMARTHOST_AUTH_PIPE_EOF,     /* all output read */
	SMARTHOST_AUTH_PIPE_TIMEOUT, /* the time limit passed */
	SMARTHOST_AUTH_PIPE_FULL,    /* more than SMARTHOST_AUTH_CMD_OUT_MAX */
	SMARTHOST_AUTH_PIPE_ERROR,   /* reading failed: read_errno */
};

/*
 * One run of password_command.  smarthost_auth_command_start() fills pid,
 * pgid, fd, prog and timeout_ms and zeroes the rest; whoever watches the
 * run reads fd into out (len bytes at most sizeof(out), the excess
 * meaning PIPE_FULL), closes fd, reaps pid into status, sets how,
 * read_errno, timed_out and exited, and wipes out when done.
 */
struct smarthost_auth_run {
	pid_t pid;
	pid_t pgid;	/* its process group, kept after pid is reaped */
	int fd;		/* stdout's read end (close-on-exec) */
	char prog[256]; /* argv[0], for messages */
	int timeout_ms; /* the policy's time limit */
	enum smarthost_auth_pipe how;
	int read_errno;
	int timed_out; /* killed at the time limit */
	int exited;    /* status was in before the output was given up */
	int status;    /* wait status */
	size_t len;
	char out[SMARTHOST_AUTH_CMD_OUT_MAX + 1]; /* the secret: wipe it */
};

/*
 * Starts a's password_command (fork and execvp of its blank-separated
 * words, no shell; stdin /dev/null, stdout the pipe r->fd, stderr and the
 * environment inherited; the secret never travels in argv or environ),
 * in a process group of its own, so that smarthost_auth_command_kill()
 * reaches the children it starts too.  SIGCHLD must not be SIG_IGN, or the exit status is lost.  Returns 0
 * with r filled in, or -1 with err set (r->fd is then -1 and no process
 * runs).
 */
int smarthost_auth_command_start(const struct smarthost_auth *a,
    struct smarthost_auth_run *r, struct rq_err *err);

/*
 * Kills (SIGKILL) the command started as pid and every process of its
 * group; call it only before pid is reaped.
 */
void smarthost_auth_command_kill(pid_t pid);

/*
 * Kills (SIGKILL) what is left of process group pgid, whose leader was
 * reaped: the processes it started that still hold its output.  Call it
 * only while that output is still open: a process it started holds it,
 * and a group id is not reused while a member of the group lives.
 */
void smarthost_auth_command_kill_group(pid_t pgid);

/*
 * Judges a finished run: 0 with its first output line in *secret
 * (malloc'd, NUL-terminated, *secretlen bytes; the caller wipes and frees
 * it), or -1 with err naming the program and why: timed out, more than
 * SMARTHOST_AUTH_CMD_OUT_MAX bytes, a read error, a signal, a non-zero
 * exit status (127 "command not found", 126 "not executable"), an empty
 * first line or one holding a NUL; a command that exited (exited) with
 * its output still open at the time limit says so.  err never holds
 * output.
 */
int smarthost_auth_command_result(const struct smarthost_auth_run *r,
    char **secret, size_t *secretlen, struct rq_err *err);

/*
 * Starts one session's exchange and fetches the secret now: re-reads and
 * re-checks password_file, or runs password_command to its end (stdin
 * /dev/null, stdout a pipe, at most 8 KiB read, killed after the time
 * limit; a non-zero exit or an empty first line is an error), blocking
 * the caller meanwhile: relayq probe only.  Returns the exchange, or NULL
 * with err->msg set.
 */
struct smarthost_sasl *smarthost_sasl_new(struct smarthost_auth *a,
    struct rq_err *err);

/* True when a takes its token from relayqd_oauth2 (oauth2_token_url). */
int smarthost_auth_is_oauth2(const struct smarthost_auth *a);

/*
 * Starts one session's exchange with token (copied) as the secret: an
 * OAuth2 access token from relayqd_oauth2 (XOAUTH2 or OAUTHBEARER), or
 * password_command's output fetched by relayqd_pwcmd.  Returns the
 * exchange, or NULL with err->msg set when token is NULL or empty.
 * smarthost_sasl_new() refuses a policy with oauth2_token_url.
 */
struct smarthost_sasl *smarthost_sasl_new_token(struct smarthost_auth *a,
    const char *token, struct rq_err *err);

/*
 * Sets the SCRAM client nonce instead of a random one (tests only; the
 * RFC 7677 example).  Returns 0, or -1 when nonce is empty, longer than
 * 63 bytes, or holds ',' or a byte outside printable ASCII.
 */
int smarthost_sasl_set_nonce(struct smarthost_sasl *s, const char *nonce);

/*
 * Chooses a mechanism from offered (space-separated names, any case) and
 * returns its name in *mech (static) and its initial response in *resp
 * (malloc'd base64; the caller wipes and frees it), or NULL when the
 * mechanism has none.  Returns 0, or -1 with why->text set: an explicit
 * mechanism the server does not offer, no suitable mechanism offered, a
 * secret the mechanism cannot carry.
 */
int smarthost_sasl_start(struct smarthost_sasl *s, const char *offered,
    const char **mech, char **resp, struct rq_reason *why);

/*
 * Answers one 334 challenge (base64 as sent, len bytes, possibly empty)
 * with *resp, a malloc'd base64 line ("" for an empty line) the caller
 * wipes and frees.  Returns 0, or -1 with why->text set: the challenge is
 * not valid base64, or not what the mechanism expects at this step (a
 * SCRAM server signature that does not verify, an iteration count outside
 * [4096, 100000]).
 */
int smarthost_sasl_step(struct smarthost_sasl *s, const char *challenge,
    size_t len, char **resp, struct rq_reason *why);

/*
 * The server accepted (235).  Returns 0 when the mechanism is complete,
 * or -1 with why->text set when it is not (SCRAM-SHA-256 before the
 * server's signature was verified: the server was not authenticated).
 */
int smarthost_sasl_finish(struct smarthost_sasl *s, struct rq_reason *why);

/* Wipes the secret and every derived key, then frees; NULL is a no-op. */
void smarthost_sasl_free(struct smarthost_sasl *s);

/*
 * The three smtp_client AUTH ops of a session that keeps its exchange in
 * *s (relayqd_conn and smarthost_probe).  _begin replaces *s with a new
 * exchange of policy a (NULL: AUTH is not configured, an error) and
 * starts it, with token as the secret when a takes an OAuth2 token
 * (smarthost_auth_is_oauth2; NULL: none was fetched, an error) or when a
 * has a password_command and token is not NULL (its output, fetched
 * beforehand; NULL runs the command now, blocking); otherwise token is
 * ignored and the secret fetched now.  _answer answers a challenge; _end
 * checks and frees *s, the secret being needed no more.  Each returns 0,
 * or -1 with why set.
 */
int smarthost_sasl_begin(struct smarthost_auth *a, struct smarthost_sasl **s,
    const char *token, const char *offered, const char **mech, char **resp,
    struct rq_reason *why);
int smarthost_sasl_answer(struct smarthost_sasl *s, const char *challenge,
    size_t len, char **resp, struct rq_reason *why);
int smarthost_sasl_end(struct smarthost_sasl **s, struct rq_reason *why);

#endif
