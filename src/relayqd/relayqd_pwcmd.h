/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * password_command without blocking the event loop (issue 14; it used
 * to block it, issue 3).  A session that needs the password asks for a
 * run before it connects and waits (relayqd_conn's RC_SECRET); exactly
 * one run is in flight at a time, and every session that asks while it
 * runs waits for that run and gets its output.  When it ends, the done callback gets the
 * first line of the output, or why there is none: the command's exit
 * status, its signal, the time limit, more than
 * SMARTHOST_AUTH_CMD_OUT_MAX bytes, an empty first line.
 *
 * Nothing is cached: the output goes to the waiting sessions and is wiped
 * at once, so the next session runs the command again (an OAuth2 helper
 * that refreshes its token keeps working, as before).
 *
 * The command is started by smarthost_auth_command_start() (fork and
 * exec, no shell, the same argv, environment, uid and stderr as before);
 * its stdout is read through a libevent event on the pipe, its exit is
 * reaped from the loop's SIGCHLD event (only its own pids: the alert
 * commands' are relayqd_alert's), and at the time limit
 * (password_command_timeout) it is killed with its process group; when
 * it has exited but a process it started still holds the pipe open, what
 * is left of the group is killed then, and the reason says so.  A
 * killed child that has not been reaped yet is kept until it is;
 * relayqd_pwcmd_free() kills and reaps what is left, so neither a
 * reload nor a stop leaves a zombie.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_PWCMD_H
#define RELAYQ_RELAYQD_RELAYQD_PWCMD_H

struct event_base;
struct smarthost_auth;
struct relayqd_pwcmd;

/*
 * done(arg, secret, why): a run ended; secret is its output's first line (borrowed until the
 * callback returns, then wiped: copy it), or NULL with why (never the
 * output).  It runs from the event loop, never inside
 * relayqd_pwcmd_run(), and may start the next run.
 */
typedef void (*relayqd_pwcmd_done_fn)(void *, const char *, const char *);

/* Creates the runner on base; done(arg, ...) ends every run. */
struct relayqd_pwcmd *relayqd_pwcmd_new(struct event_base *base,
    relayqd_pwcmd_done_fn done, void *arg);

/*
 * Starts a's password_command unless a run is in flight (then the caller
 * waits for that one).  a is used only here: a reload may free it.
 */
void relayqd_pwcmd_run(struct relayqd_pwcmd *p, const struct smarthost_auth *a);

/* True while a run is in flight (its done callback has not run). */
int relayqd_pwcmd_is_running(const struct relayqd_pwcmd *p);

/*
 * Kills (SIGKILL) and reaps every child left, wipes what was read and
 * frees, without calling done; NULL is a no-op.
 */
void relayqd_pwcmd_free(struct relayqd_pwcmd *p);

#endif
