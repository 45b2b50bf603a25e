/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * alert_command: a local command (never mail through the smarthost that
 * may be the problem) that relayqd runs once per incident.  An incident
 * opens when the oldest queued message is older than alert_after
 * (kind queue-age) or the smarthost has been backing off for
 * alert_after (kind smarthost-down; it wins when both hold), and it
 * ends only when neither holds: the old mail left the queue and the
 * smarthost answers again.  Then a new incident may fire.  Each named
 * smarthost ([smarthost NAME]) has a smarthost-down incident of its
 * own (issue 15).
 *
 * Nothing polls.  The conditions are evaluated after each change (from
 * the stats timer, relayqd_stats.c) and by a one-shot timer armed for
 * the moment a condition would become true, which exists only while
 * something is queued or the smarthost is down and no incident is open.
 *
 * The command runs without a shell (split on blanks like
 * password_command, PATH lookup for a bare name), in its own process
 * group, with the daemon's environment plus RELAYQ_ALERT (queue-age or
 * smarthost-down), RELAYQ_QUEUE_SIZE, RELAYQ_OLDEST_AGE (seconds; 0
 * when empty), RELAYQ_SINCE (epoch seconds the condition started),
 * RELAYQ_SMARTHOST (host:port), RELAYQ_SMARTHOST_NAME (its section),
 * RELAYQ_SMARTHOST_UP (0 or 1), all about the smarthost concerned (the
 * one down, the oldest message's, else the default),
 * RELAYQ_LAST_ERROR, RELAYQ_LAST_ERROR_TIME, RELAYQ_ALERT_AFTER and
 * RELAYQ_HOSTNAME, and a short text summary on stdin (a pipe written
 * before the spawn, so the loop never blocks).  It is reaped through
 * SIGCHLD from the event loop and killed (its whole process group)
 * after RELAYQD_ALERT_TIMEOUT seconds.  Start, exit and errors are
 * logged as "alert: key=value ..." lines.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_ALERT_H
#define RELAYQ_RELAYQD_RELAYQD_ALERT_H

struct relayd;
struct relayqd_alert;
struct relayqd_stats_view;

/* Seconds an alert command may run before it is killed. */
#define RELAYQD_ALERT_TIMEOUT 60
/* Alert commands running at once; more are skipped with a log line. */
#define RELAYQD_ALERT_MAX_RUNNING 4

enum relayqd_alert_kind {
	RELAYQD_ALERT_NONE,
	RELAYQD_ALERT_QUEUE_AGE,
	RELAYQD_ALERT_SMARTHOST_DOWN,
	RELAYQD_ALERT_SPOOL_FULL,    /* relayqd_alert_event() only */
	RELAYQD_ALERT_BOUNCE_FAILED, /* relayqd_alert_event() only */
	RELAYQD_ALERT_OAUTH2,	     /* relayqd_alert_event() only */
};

/* The inputs of the decision, all in seconds. */
struct relayqd_alert_input {
	long long now;
	long long oldest;     /* arrival of the oldest queued message, -1 */
	long long down_since; /* smarthost backing off since, -1: it is up */
	long long after;      /* alert_after, > 0 */
};

/*
 * The decision, a pure function.  *open says whether an incident is
 * open; it is updated.  Returns the kind to run now (an incident just
 * opened), or RELAYQD_ALERT_NONE.  *next is set to the time at which a
 * condition would become true, for a one-shot timer, or -1 when only a
 * change can alter the outcome (an incident is open, or nothing is
 * queued and the smarthost is up).
 */
enum relayqd_alert_kind
relayqd_alert_decide(const struct relayqd_alert_input *in, int *open,
    long long *next);

/* Returns "queue-age", "smarthost-down", "spool-full", "bounce-failed"
 * or "none". */
const char *relayqd_alert_kind_name(enum relayqd_alert_kind kind);

/* Creates the runner with its SIGCHLD watch; fatal on failure. */
struct relayqd_alert *relayqd_alert_new(struct relayd *rd);
/*
 * Frees.  Commands still running are left alone (they are in their own
 * process group, and systemd's stop kills the cgroup).  NULL is a no-op.
 */
void relayqd_alert_free(struct relayqd_alert *a);
/*
 * Re-evaluates after a change, with v taken just now: runs the command
 * when an incident opens, logs when one ends, re-arms the timer.
 */
void relayqd_alert_update(struct relayqd_alert *a,
    const struct relayqd_stats_view *v);

/*
 * Runs the command at once for an incident that relayqd saw happen
 * rather than a condition it evaluates: kind spool-full (delivery state
 * cannot be saved) or bounce-failed (a bounce that could not be queued
 * within the queue lifetime).  The caller decides that it is one
 * incident and calls this once for it.  text (one line) opens the
 * summary on stdin and is RELAYQ_LAST_ERROR.  No-op without
 * alert_command.
 */
void relayqd_alert_event(struct relayqd_alert *a, enum relayqd_alert_kind k,
    const char *text);

#endif
