/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the operator-facing state in relayqd: the alert
 * incident decision (src/relayqd/relayqd_alert.c: fire once per
 * incident, which condition wins, when the one-shot timer is due), the
 * systemd STATUS text and the watchdog variables
 * (src/relayqd/relayqd_notify.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_alert.h"
#include "relayqd/relayqd_notify.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_stats.h"
#include "tap.h"

/* relayqd_alert.c's timer asks relayqd_stats.c; not reached here. */
void
relayqd_stats_view(struct relayd *rd, struct relayqd_stats_view *v)
{
	(void)rd;
	memset(v, 0, sizeof(*v));
}

/* relayqd_alert_update asks the scheduler; not reached here. */
long long
relayqd_sched_oldest_route(const struct relayqd_sched *s, long *route)
{
	(void)s;
	*route = -1;
	return -1;
}

/* One step of the decision; returns the kind and sets *next. */
static enum relayqd_alert_kind
step(long long now, long long oldest, long long down, int *open,
    long long *next)
{
	struct relayqd_alert_input in = { now, oldest, down, 60 };

	return relayqd_alert_decide(&in, open, next);
}

/* The incident state machine. */
static void
test_decide(void)
{
	int open = 0;
	long long next;

	is_int(step(1000, -1, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "idle: nothing");
	ok(next == -1 && !open, "idle: no timer, no incident");

	/* A message arrives at 1000 while the smarthost is up. */
	is_int(step(1010, 1000, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "young message: nothing yet");
	is_int(next, 1060, "timer at arrival + alert_after");
	is_int(step(1059, 1000, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "one second early: nothing");
	is_int(step(1060, 1000, -1, &open, &next), RELAYQD_ALERT_QUEUE_AGE,
	    "at arrival + alert_after: queue-age fires");
	ok(open && next == -1, "incident open, no timer while open");
	is_int(step(1200, 1000, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "still old: no second run");
	is_int(step(1300, 1000, 1250, &open, &next), RELAYQD_ALERT_NONE,
	    "smarthost also down later: same incident");
	is_int(step(1400, 1000, 1250, &open, &next), RELAYQD_ALERT_NONE,
	    "both conditions: still one incident");
	/* Drained below the age (a young message remains): it clears. */
	is_int(step(1410, 1390, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "drained below the age, smarthost up: cleared");
	ok(!open && next == 1450, "incident over; timer for the young one");

	/* The smarthost goes down at 2000 with mail that arrived at 1990. */
	is_int(step(2000, 1990, 2000, &open, &next), RELAYQD_ALERT_NONE,
	    "fresh outage: nothing yet");
	is_int(next, 2050, "timer at the earlier of the two conditions");
	is_int(step(2050, 1990, 2000, &open, &next), RELAYQD_ALERT_QUEUE_AGE,
	    "queue-age fires first when the mail is older");
	open = 0;
	is_int(step(2060, 1990, 2000, &open, &next),
	    RELAYQD_ALERT_SMARTHOST_DOWN, "smarthost-down wins when both hold");
	is_int(step(2500, 1990, 2000, &open, &next), RELAYQD_ALERT_NONE,
	    "retry cycles of the same outage: no second run");
	/* Back up, but the old mail is still queued: not over yet. */
	is_int(step(2510, 1990, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "smarthost back, old mail still queued: no run");
	ok(open, "incident still open until the mail is gone");
	is_int(step(2520, -1, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "drained: nothing to run");
	ok(!open && next == -1, "incident over, no timer");
	/* A second outage is a new incident. */
	is_int(step(3000, -1, 3000, &open, &next), RELAYQD_ALERT_NONE,
	    "second outage begins");
	is_int(next, 3060, "timer at first failure + alert_after");
	is_int(step(3060, -1, 3000, &open, &next), RELAYQD_ALERT_SMARTHOST_DOWN,
	    "second outage: fires again, once");
	is_int(step(3061, -1, 3000, &open, &next), RELAYQD_ALERT_NONE,
	    "and only once");
	/* A clock that went back never makes a negative timer. */
	open = 0;
	is_int(step(100, 1000, -1, &open, &next), RELAYQD_ALERT_NONE,
	    "clock went back: nothing");
	is_int(next, 1060, "timer still at arrival + alert_after");
	is_str(relayqd_alert_kind_name(RELAYQD_ALERT_QUEUE_AGE), "queue-age",
	    "kind name queue-age");
	is_str(relayqd_alert_kind_name(RELAYQD_ALERT_SMARTHOST_DOWN),
	    "smarthost-down", "kind name smarthost-down");
}

/* The STATUS= text. */
static void
test_status(void)
{
	struct relayqd_stats_view v;
	char buf[RELAYQD_NOTIFY_STATUS_MAX + 1], small[16];

	memset(&v, 0, sizeof(v));
	v.now = 100000;
	v.oldest = -1;
	v.host_up = 1;
	v.last_error = "";
	relayqd_notify_format_status(&v, buf, sizeof(buf));
	is_str(buf, "0 queued; smarthost up", "idle status");
	v.queued = 3;
	v.oldest = v.now - 42;
	relayqd_notify_format_status(&v, buf, sizeof(buf));
	is_str(buf, "3 queued, oldest 42s; smarthost up", "queue and age");
	v.oldest = v.now - 3 * 3600;
	relayqd_notify_format_status(&v, buf, sizeof(buf));
	is_str(buf, "3 queued, oldest 3h; smarthost up", "age in hours");
	v.host_up = 0;
	v.host_since = v.now - 10;
	v.last_error = "connect: Connection refused";
	v.last_error_time = v.now - 10;
	relayqd_notify_format_status(&v, buf, sizeof(buf));
	ok(strncmp(buf, "3 queued, oldest 3h; smarthost down since ", 42) ==
		    0 &&
		strstr(buf, " (connect: Connection refused)") != NULL,
	    "smarthost down, with its error: %s", buf);
	v.host_up = 1;
	relayqd_notify_format_status(&v, buf, sizeof(buf));
	ok(strstr(buf, "; smarthost up; last error ") != NULL &&
		strstr(buf, ": connect: Connection refused") != NULL,
	    "up again, last error shown: %s", buf);
	relayqd_notify_format_status(&v, small, sizeof(small));
	is_int(strlen(small), sizeof(small) - 1, "truncated, terminated");
	{
		/* A long UTF-8 error cut at either parity stays UTF-8. */
		char err[2 * RELAYQD_NOTIFY_STATUS_MAX + 2];
		int whole = 1;

		for (size_t skip = 0; skip < 2; skip++) {
			err[0] = 'x';
			for (size_t i = 0; i < RELAYQD_NOTIFY_STATUS_MAX; i++)
				memcpy(err + 1 + 2 * i, "\xc3\xa9", 2);
			err[sizeof(err) - 1] = '\0';
			v.last_error = err + skip;
			relayqd_notify_format_status(&v, buf, sizeof(buf));
			whole &= str_is_clean_text(buf, strlen(buf)) &&
			    strlen(buf) >= sizeof(buf) - 2;
		}
		ok(whole, "a long UTF-8 error is cut at a character");
	}
}

/* $WATCHDOG_USEC and $WATCHDOG_PID. */
static void
test_watchdog(void)
{
	is_int(relayqd_notify_watchdog_interval(NULL, NULL, 42), 0,
	    "no watchdog");
	is_int(relayqd_notify_watchdog_interval("60000000", NULL, 42), 30000000,
	    "half of WATCHDOG_USEC");
	is_int(relayqd_notify_watchdog_interval("60000000", "42", 42), 30000000,
	    "WATCHDOG_PID is ours");
	is_int(relayqd_notify_watchdog_interval("60000000", "43", 42), 0,
	    "WATCHDOG_PID is another process");
	is_int(relayqd_notify_watchdog_interval("0", NULL, 42), 0,
	    "zero is no watchdog");
	is_int(relayqd_notify_watchdog_interval("12x", NULL, 42), 0,
	    "junk is no watchdog");
	is_int(relayqd_notify_watchdog_interval("1", NULL, 42), 1,
	    "at least 1 us");
}

int
main(void)
{
	test_decide();
	test_status();
	test_watchdog();
	return done_testing();
}
