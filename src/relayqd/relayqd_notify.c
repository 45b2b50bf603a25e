/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * systemd notifications (see relayqd_notify.h): one datagram socket
 * opened at start, the last STATUS text kept to skip repeats, and the
 * watchdog timer when systemd asks for one.
 */
#include "config.h"

#include "relayqd/relayqd_notify.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "relayqd/relayqd_stats.h"

struct relayqd_notify {
	int fd; /* owned: datagram socket, -1 without $NOTIFY_SOCKET */
	struct sockaddr_un sun;
	socklen_t sunlen;
	struct event *ev_watchdog; /* owned: only with a watchdog */
	char status[RELAYQD_NOTIFY_STATUS_MAX + 1]; /* last STATUS sent */
};

/* Sends one datagram; failures are ignored (systemd may be gone). */
static void
relayqd_notify_send(struct relayqd_notify *n, const char *msg)
{
	if (n == NULL || n->fd == -1)
		return;
	(void)sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&n->sun, n->sunlen);
}

/* Parses the watchdog variables. */
long long
relayqd_notify_watchdog_interval(const char *usec, const char *pid, long self)
{
	const char *errstr;
	long long us, p;

	if (usec == NULL || str_to_ll(usec, 1, LLONG_MAX, &us, &errstr) == -1)
		return 0;
	if (pid != NULL &&
	    (str_to_ll(pid, 1, LLONG_MAX, &p, &errstr) == -1 || p != self))
		return 0;
	return us / 2 > 0 ? us / 2 : 1;
}

/* The watchdog timer: the loop turned, tell systemd. */
static void
relayqd_notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relayqd_notify_send(arg, "WATCHDOG=1");
}

/* Opens the socket named by path ("/..." or "@..."); -1 if unusable. */
static int
relayqd_notify_open(struct relayqd_notify *n, const char *path)
{
	size_t len;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) < 2 || len >= sizeof(n->sun.sun_path))
		return -1;
	memset(&n->sun, 0, sizeof(n->sun));
	n->sun.sun_family = AF_UNIX;
	memcpy(n->sun.sun_path, path, len);
	if (n->sun.sun_path[0] == '@')
		n->sun.sun_path[0] = '\0';
	n->sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* Reads the environment, opens the socket, arms the watchdog. */
struct relayqd_notify *
relayqd_notify_new(struct event_base *base)
{
	struct relayqd_notify *n = xcalloc(1, sizeof(*n));
	long long us;
	struct timeval tv;

	n->fd = relayqd_notify_open(n, getenv("NOTIFY_SOCKET"));
	us = relayqd_notify_watchdog_interval(getenv("WATCHDOG_USEC"),
	    getenv("WATCHDOG_PID"), (long)getpid());
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_USEC");
	(void)unsetenv("WATCHDOG_PID");
	if (n->fd == -1 || us == 0)
		return n;
	n->ev_watchdog =
	    event_new(base, -1, EV_PERSIST, relayqd_notify_watchdog_cb, n);
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	if (n->ev_watchdog == NULL || event_add(n->ev_watchdog, &tv) == -1)
		fatalx("cannot arm the watchdog timer");
	log_info("systemd watchdog: ping every %lld.%03llds", us / 1000000,
	    us % 1000000 / 1000);
	return n;
}

/* Frees. */
void
relayqd_notify_free(struct relayqd_notify *n)
{
	if (n == NULL)
		return;
	if (n->ev_watchdog != NULL)
		event_free(n->ev_watchdog);
	if (n->fd != -1)
		(void)close(n->fd);
	free(n);
}

/* Watchdog running? */
int
relayqd_notify_has_watchdog(const struct relayqd_notify *n)
{
	return n != NULL && n->ev_watchdog != NULL;
}

/* Writes a short human age: 42s, 5m, 3h, 2d. */
static void
relayqd_notify_age(long long secs, char *buf, size_t bufsz)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		(void)snprintf(buf, bufsz, "%llds", secs);
	else if (secs < 7200)
		(void)snprintf(buf, bufsz, "%lldm", secs / 60);
	else if (secs < 172800)
		(void)snprintf(buf, bufsz, "%lldh", secs / 3600);
	else
		(void)snprintf(buf, bufsz, "%lldd", secs / 86400);
}

/* Writes a local time: the clock alone within a day, else with a date. */
static void
relayqd_notify_time(long long t, long long now, char *buf, size_t bufsz)
{
	str_localtime(buf, bufsz, t,
	    now - t < 86400 ? STR_TIME_CLOCK : STR_TIME_DATE);
}

/* Formats the STATUS text. */
void
relayqd_notify_format_status(const struct relayqd_stats_view *v, char *buf,
    size_t bufsz)
{
	char age[32], when[32], queue[64];
	const char *err = v->last_error != NULL ? v->last_error : "";

	if (bufsz == 0)
		return;
	if (v->queued > 0 && v->oldest >= 0) {
		relayqd_notify_age(v->now - v->oldest, age, sizeof(age));
		(void)snprintf(queue, sizeof(queue), "%zu queued, oldest %s",
		    v->queued, age);
	} else
		(void)snprintf(queue, sizeof(queue), "%zu queued", v->queued);
	if (!v->host_up) {
		relayqd_notify_time(v->host_since, v->now, when, sizeof(when));
		(void)snprintf(buf, bufsz, "%s; smarthost down since %s%s%s%s",
		    queue, when, err[0] != '\0' ? " (" : "", err,
		    err[0] != '\0' ? ")" : "");
	} else if (v->last_error_time > 0 && err[0] != '\0') {
		relayqd_notify_time(v->last_error_time, v->now, when,
		    sizeof(when));
		(void)snprintf(buf, bufsz,
		    "%s; smarthost up; last error %s: %s", queue, when, err);
	} else
		(void)snprintf(buf, bufsz, "%s; smarthost up", queue);
	/* The error is UTF-8: systemd ignores a STATUS that is not. */
	str_utf8_trim(buf);
}

/* Sends prefix and STATUS= for v, unless unchanged and not forced. */
static void
relayqd_notify_send_status(struct relayqd_notify *n,
    const struct relayqd_stats_view *v, const char *prefix, int force)
{
	char text[RELAYQD_NOTIFY_STATUS_MAX + 1], msg[sizeof(text) + 32];

	if (n == NULL || n->fd == -1)
		return;
	relayqd_notify_format_status(v, text, sizeof(text));
	if (!force && strcmp(text, n->status) == 0)
		return;
	strlcpy(n->status, text, sizeof(n->status));
	(void)snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, text);
	relayqd_notify_send(n, msg);
}

/* Sends STATUS= when it changed. */
void
relayqd_notify_status(struct relayqd_notify *n,
    const struct relayqd_stats_view *v)
{
	relayqd_notify_send_status(n, v, "", 0);
}

/* READY=1 with the current STATUS. */
void
relayqd_notify_ready(struct relayqd_notify *n,
    const struct relayqd_stats_view *v)
{
	relayqd_notify_send_status(n, v, "READY=1\n", 1);
}

/* RELOADING=1, stamped with CLOCK_MONOTONIC as systemd 253+ expects. */
void
relayqd_notify_reloading(struct relayqd_notify *n)
{
	struct timespec ts;
	char msg[64];

	if (n == NULL || n->fd == -1)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL);
	relayqd_notify_send(n, msg);
}

/* STOPPING=1. */
void
relayqd_notify_stopping(struct relayqd_notify *n)
{
	relayqd_notify_send(n, "STOPPING=1");
}
