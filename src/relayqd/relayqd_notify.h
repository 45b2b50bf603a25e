/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The systemd notification protocol, without libsystemd: datagrams of
 * "KEY=value" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a path, or "@name" for the abstract namespace).  relayqd sends
 * READY=1 once it serves, STATUS= with the queue and smarthost state
 * when that text changes (from the stats timer, so at most once a
 * second and never while idle), RELOADING=1 with MONOTONIC_USEC= then
 * READY=1 around a SIGHUP reload, STOPPING=1 at shutdown, and
 * WATCHDOG=1 every half $WATCHDOG_USEC when systemd asks for it (and
 * $WATCHDOG_PID is ours or unset).  The watchdog timer runs from the
 * event loop, so a ping proves the loop turns; without a watchdog there
 * is no timer at all.  relayqd_notify_new() reads and then removes
 * these variables from the environment, so no child inherits them.
 * Without $NOTIFY_SOCKET every call is a no-op.  Sending never blocks
 * and its failures are ignored, as sd_notify(3) callers do.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_NOTIFY_H
#define RELAYQ_RELAYQD_RELAYQD_NOTIFY_H

#include <stddef.h>

struct event_base;
struct relayqd_notify;
struct relayqd_stats_view;

/* Longest STATUS= text. */
#define RELAYQD_NOTIFY_STATUS_MAX 200

/*
 * Reads the environment and, when asked, arms the watchdog on base.
 * Never fails: without a usable socket the result sends nothing.
 */
struct relayqd_notify *relayqd_notify_new(struct event_base *base);
/* Stops the watchdog and frees; NULL is a no-op. */
void relayqd_notify_free(struct relayqd_notify *n);

/* Sends READY=1 and STATUS= for v. */
void relayqd_notify_ready(struct relayqd_notify *n,
    const struct relayqd_stats_view *v);
/* Sends RELOADING=1 and MONOTONIC_USEC= (systemd 253 and later want it). */
void relayqd_notify_reloading(struct relayqd_notify *n);
/* Sends STOPPING=1. */
void relayqd_notify_stopping(struct relayqd_notify *n);
/* Sends STATUS= for v when the text differs from the last one sent. */
void relayqd_notify_status(struct relayqd_notify *n,
    const struct relayqd_stats_view *v);
/* True when the watchdog timer runs (for tests and the start-up log). */
int relayqd_notify_has_watchdog(const struct relayqd_notify *n);

/*
 * Formats the STATUS text for v into buf: "3 queued, oldest 42s;
 * smarthost down since 2026-11-28 22:50:01 (connect: ...)", or
 * "0 queued; smarthost up; last error 22:50:01: ...".  Always
 * terminates buf (truncated to bufsz - 1).
 */
void relayqd_notify_format_status(const struct relayqd_stats_view *v, char *buf,
    size_t bufsz);

/*
 * Parses $WATCHDOG_USEC and $WATCHDOG_PID (either may be NULL) for
 * process self.  Returns the ping interval in microseconds (half the
 * watchdog), or 0 when there is no valid watchdog for us.
 */
long long relayqd_notify_watchdog_interval(const char *usec, const char *pid,
    long self);

#endif
