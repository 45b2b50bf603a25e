/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the smarthost pace (issue 15): token bucket arithmetic
 * for messages and recipients, the throttle halving and its recovery,
 * throttling replies, and the file that keeps a quota across restarts
 * (missing, saved, corrupt, torn).  Time is passed in, so every figure
 * is exact.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "relayqd/relayqd_rate.h"
#include "tap.h"

/* A limit n per per seconds. */
static struct conf_rate
lim(long long n, long long per)
{
	struct conf_rate c = { n, per };

	return c;
}

/* Admits messages as soon as allowed from t; returns the last start. */
static long long
drain(struct relayqd_rate *r, long long t, int count)
{
	long long last = t;

	for (int i = 0; i < count; i++) {
		long long w = relayqd_rate_wait(r, t);

		t += w;
		if (!relayqd_rate_admit(r, t))
			return -1;
		last = t;
	}
	return last;
}

/* rate_limit = 5/1s: a burst of 5, then one every 200 ms. */
static void
test_bucket(void)
{
	struct conf_rate m = lim(5, 1), none = lim(0, 0);
	struct relayqd_rate *r = relayqd_rate_new("t", &m, &none, 1000);
	struct relayqd_rate_view v;

	ok(relayqd_rate_is_limited(r), "5/1s is a limit");
	for (int i = 0; i < 5; i++)
		ok(relayqd_rate_admit(r, 1000), "burst message %d admitted",
		    i + 1);
	ok(!relayqd_rate_admit(r, 1000), "the 6th waits");
	is_int(relayqd_rate_wait(r, 1000), 200, "for 200 ms");
	is_int(relayqd_rate_wait(r, 1150), 50, "50 ms later on");
	ok(!relayqd_rate_admit(r, 1199), "not at 199 ms");
	ok(relayqd_rate_admit(r, 1200), "admitted at 200 ms");
	relayqd_rate_view(r, 1200, &v);
	ok(v.pace == 5 && v.messages_size == 5 && v.messages < 0.001 &&
		!v.throttled,
	    "view: pace 5/s, bucket 0 of 5");
	relayqd_rate_free(r);

	/* 20 messages from a full bucket: the last starts 3 s later. */
	r = relayqd_rate_new("t", &m, &none, 0);
	is_int(drain(r, 0, 20), 3000, "20 messages at 5/1s take 3 s");
	relayqd_rate_free(r);

	m = lim(2000, 86400);
	r = relayqd_rate_new("t", &m, &none, 0);
	is_int(drain(r, 0, 2000), 0, "a daily cap of 2000 goes at once");
	is_int(relayqd_rate_wait(r, 0), 43200, "then one every 43.2 s");
	is_int(relayqd_rate_wait(r, 86400000LL * 5), 0, "refilled");
	relayqd_rate_view(r, 86400000LL * 5, &v);
	ok(v.messages == 2000, "never above its size");
	/* A clock that goes back refills nothing and breaks nothing. */
	is_int(drain(r, 86400000LL * 5, 2000), 86400000LL * 5, "drained");
	is_int(relayqd_rate_wait(r, 1000), 43200, "clock back: still waits");
	relayqd_rate_free(r);

	r = relayqd_rate_new("t", &none, &none, 0);
	ok(!relayqd_rate_is_limited(r) && relayqd_rate_wait(r, 0) == 0 &&
		drain(r, 0, 1000) == 0,
	    "no limit: never waits");
	relayqd_rate_free(r);
}

/* recipient_limit: charged after the start; a debt delays the next. */
static void
test_recipients(void)
{
	struct conf_rate none = lim(0, 0), rc = lim(10, 60);
	struct relayqd_rate *r = relayqd_rate_new("t", &none, &rc, 0);
	struct relayqd_rate_view v;

	ok(relayqd_rate_admit(r, 0), "first message");
	relayqd_rate_charge(r, 8, 0);
	ok(relayqd_rate_admit(r, 0), "2 recipients left: second message");
	relayqd_rate_charge(r, 8, 0);
	relayqd_rate_view(r, 0, &v);
	ok(v.recipients == -6 && v.recipients_size == 10,
	    "a debt of 6 recipients");
	ok(!relayqd_rate_admit(r, 0), "third waits");
	is_int(relayqd_rate_wait(r, 0), 42000, "for 7 tokens at 1 per 6 s");
	relayqd_rate_free(r);
}

/* Throttling replies halve the pace, once per interval; it recovers. */
static void
test_throttle(void)
{
	struct conf_rate m = lim(5, 1), none = lim(0, 0);
	struct relayqd_rate *r = relayqd_rate_new("t", &m, &none, 0);
	struct relayqd_rate_view v;
	struct rq_reason why;
	long long t;
	int i;

	rq_reason_set(&why, 421, "4.7.0", "slow down");
	ok(relayqd_rate_is_throttle(&why), "421 4.7.0 throttles");
	rq_reason_set(&why, 451, "4.7.1", "rate");
	ok(relayqd_rate_is_throttle(&why), "451 4.7.1 throttles");
	rq_reason_set(&why, 454, "4.7.0", "later");
	ok(relayqd_rate_is_throttle(&why), "454 4.7.0 throttles");
	rq_reason_set(&why, 451, "4.3.0", "disk");
	ok(!relayqd_rate_is_throttle(&why), "451 4.3.0 does not");
	rq_reason_set(&why, 421, "", "bye");
	ok(!relayqd_rate_is_throttle(&why), "421 without 4.7.x does not");
	rq_reason_set(&why, 550, "5.7.1", "no");
	ok(!relayqd_rate_is_throttle(&why), "550 5.7.1 does not");
	/* A RCPT's 4xx is that recipient's retry (issue 15), but 421. */
	rq_reason_set(&why, 450, "4.7.1", "<bad@x>: Access denied");
	why.stage = RQ_STAGE_RCPT;
	ok(!relayqd_rate_is_throttle(&why), "450 4.7.1 to a RCPT does not");
	rq_reason_set(&why, 451, "4.7.1", "greylisted");
	why.stage = RQ_STAGE_RCPT;
	ok(!relayqd_rate_is_throttle(&why), "451 4.7.1 to a RCPT does not");
	rq_reason_set(&why, 421, "4.7.0", "slow down");
	why.stage = RQ_STAGE_RCPT;
	ok(relayqd_rate_is_throttle(&why), "421 4.7.0 to a RCPT throttles");
	rq_reason_set(&why, 451, "4.7.0", "rate");
	why.stage = RQ_STAGE_MAIL;
	ok(relayqd_rate_is_throttle(&why), "451 4.7.0 to MAIL throttles");
	rq_reason_set(&why, 451, "4.7.0", "rate");
	why.stage = RQ_STAGE_DOT;
	ok(relayqd_rate_is_throttle(&why), "451 4.7.0 to the dot throttles");

	ok(relayqd_rate_admit(r, 0), "a message starts");
	relayqd_rate_throttle(r, "421 4.7.0 slow down", 100);
	relayqd_rate_view(r, 100, &v);
	ok(v.pace == 2.5 && v.throttled, "pace halved to 2.5/s");
	is_int(relayqd_rate_wait(r, 100), 400, "next in 1/2.5 s");
	relayqd_rate_throttle(r, "421 4.7.0 again", 200);
	relayqd_rate_view(r, 200, &v);
	ok(v.pace == 2.5, "a second reply within the interval: no halving");
	relayqd_rate_throttle(r, "421 4.7.0 again", 1100);
	relayqd_rate_view(r, 1100, &v);
	ok(v.pace == 1.25, "a later one halves again: 1.25/s");
	/* Halving each time the last one is one interval old. */
	for (i = 0, t = 1100; i < 20; i++) {
		relayqd_rate_view(r, t, &v);
		t += (long long)(1000 / v.pace) + 1;
		relayqd_rate_throttle(r, "421 4.7.0 again", t);
	}
	relayqd_rate_view(r, t, &v);
	ok(v.pace == RELAYQD_RATE_FLOOR, "never below 1 a minute");
	is_int(relayqd_rate_wait(r, t), 60000, "a minute between messages");
	/* Recovery: x1.25 a step (4 messages at that pace: 240 s). */
	relayqd_rate_view(r, t + 240000, &v);
	ok(v.pace > RELAYQD_RATE_FLOOR * 1.2 &&
		v.pace < RELAYQD_RATE_FLOOR * 1.3,
	    "one step later: x1.25");
	relayqd_rate_view(r, t + 86400000LL, &v);
	ok(v.pace == 5 && !v.throttled, "a day later: back to 5/s");
	relayqd_rate_free(r);

	/* No limit: halves the pace observed (one every 100 ms). */
	r = relayqd_rate_new("t", &none, &none, 0);
	for (i = 0; i < 10; i++)
		(void)relayqd_rate_admit(r, i * 100);
	relayqd_rate_throttle(r, "451 4.7.1 too fast", 1000);
	relayqd_rate_view(r, 1000, &v);
	ok(v.pace > 4.99 && v.pace < 5.01 && relayqd_rate_is_limited(r),
	    "no limit: 10/s observed, halved to 5/s");
	relayqd_rate_view(r, 1000 + 86400000LL, &v);
	ok(v.pace == 0 && !relayqd_rate_is_limited(r), "recovers to no limit");
	relayqd_rate_free(r);

	/*
	 * A daily cap (10/1d: one every 8640 s on average) whose tokens may
	 * go at once: a throttle halves the pace observed (one every 500
	 * ms), not the cap's average, so the next message does not wait
	 * 8640 s with 8 tokens left (issue 15).
	 */
	m = lim(10, 86400);
	r = relayqd_rate_new("t", &m, &none, 0);
	ok(relayqd_rate_admit(r, 1000) && relayqd_rate_admit(r, 1500),
	    "daily cap: two messages go at once");
	relayqd_rate_throttle(r, "451 4.7.0 slow down", 1600);
	relayqd_rate_view(r, 1600, &v);
	ok(v.throttled && v.pace == 1,
	    "throttled: 2/s observed, halved to 1/s");
	ok(v.messages > 7.99 && v.messages < 8.01, "8 tokens left");
	is_int(relayqd_rate_wait(r, 1600), 1000, "the next message in 1 s");
	ok(relayqd_rate_admit(r, 2600), "and it goes then");
	relayqd_rate_view(r, 2600 + 86400000LL, &v);
	ok(!v.throttled, "the pace recovers");
	relayqd_rate_free(r);
}

/* Writes text as file name in dir. */
static void
put(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* The file: a restart keeps a daily quota; bad files start empty. */
static void
test_file(void)
{
	char dir[] = "/tmp/test_rate.XXXXXX", buf[RELAYQD_RATE_FILE_MAX];
	struct conf_rate m = lim(3, 86400), none = lim(0, 0), rc = lim(5, 60);
	struct relayqd_rate *r;
	struct relayqd_rate_view v;
	const char *errstr = NULL;
	long long t0 = 1700000000000LL;
	ssize_t n;
	int dirfd, fd;

	if (mkdtemp(dir) == NULL || (dirfd = open(dir, O_RDONLY)) == -1)
		abort();
	r = relayqd_rate_new("t", &m, &none, t0);
	is_int(relayqd_rate_load(r, dirfd, "rate", t0, &errstr), 0,
	    "no file: a first start");
	is_int(drain(r, t0, 3), t0, "full bucket: 3 at once");
	ok(relayqd_rate_save(r) == 0, "saved");
	ok(faccessat(dirfd, "rate.tmp", F_OK, 0) == -1, "no tmp file left");
	fd = openat(dirfd, "rate", O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ok(strncmp(buf, "relayq-rate 1\nstamp=1700000000000\nmessages=0.0",
	       46) == 0 &&
		strstr(buf, "\nend\n") != NULL,
	    "the file: %.60s", buf);
	relayqd_rate_free(r);

	/* Restart an hour later: 1/8 of a token back, still waiting. */
	r = relayqd_rate_new("t", &m, &rc, t0 + 3600000);
	is_int(relayqd_rate_load(r, dirfd, "rate", t0 + 3600000, &errstr), 0,
	    "loaded after a restart");
	ok(!relayqd_rate_admit(r, t0 + 3600000), "the daily cap still holds");
	is_int(relayqd_rate_wait(r, t0 + 3600000), 28800000 - 3600000,
	    "until 8 h after the last message");
	relayqd_rate_view(r, t0 + 3600000, &v);
	ok(v.recipients == 5, "a limit absent from the file starts full");
	relayqd_rate_free(r);

	put(dirfd, "rate", "relayq-rate 1\nstamp=1\nmessages=2\n");
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == -1 &&
		strncmp(errstr, "truncated", 9) == 0,
	    "a torn file is refused: %s", errstr);
	is_int(relayqd_rate_wait(r, t0), 28800000, "and the bucket is empty");
	relayqd_rate_free(r);
	put(dirfd, "rate", "garbage\n");
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == -1 &&
		!relayqd_rate_admit(r, t0),
	    "garbage refused, nothing sent: %s", errstr);
	ok(relayqd_rate_save(r) == 0, "rewritten");
	relayqd_rate_free(r);
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == 0 &&
		!relayqd_rate_admit(r, t0),
	    "the rewritten file loads, still empty");
	relayqd_rate_free(r);
	{
		static const char nul[] = "relayq-rate 1\nstamp=1\0\nend\n";

		fd = openat(dirfd, "rate", O_WRONLY | O_TRUNC);
		ok(fd != -1 &&
			write(fd, nul, sizeof(nul) - 1) ==
			    (ssize_t)sizeof(nul) - 1,
		    "a file with a NUL written");
		close(fd);
		r = relayqd_rate_new("t", &m, &none, t0);
		ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == -1 &&
			strcmp(errstr, "a NUL byte") == 0,
		    "a NUL byte refused: %s", errstr);
		relayqd_rate_free(r);
	}
	put(dirfd, "rate", "relayq-rate 1\nstamp=1\nmessages=2\nend\nmore\n");
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == -1,
	    "text after the end line refused: %s", errstr);
	relayqd_rate_free(r);
	put(dirfd, "rate", "relayq-rate 1\nstamp=1\nmessages=nan\nend\n");
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == -1,
	    "nan refused: %s", errstr);
	relayqd_rate_free(r);
	put(dirfd, "rate",
	    "relayq-rate 1\nstamp=1\nmessages=1e9\npace=0.5\n"
	    "pace_target=3\nend\n");
	r = relayqd_rate_new("t", &m, &none, t0);
	ok(relayqd_rate_load(r, dirfd, "rate", t0, &errstr) == 0,
	    "levels above the size load");
	relayqd_rate_view(r, t0, &v);
	ok(v.messages == 3 && v.throttled,
	    "clamped to the size; the throttled pace kept");
	relayqd_rate_free(r);

	(void)unlinkat(dirfd, "rate", 0);
	close(dirfd);
	rmdir(dir);
}

/* A reload keeps the levels. */
static void
test_configure(void)
{
	struct conf_rate m = lim(3, 60), none = lim(0, 0), big = lim(100, 60);
	struct relayqd_rate *r = relayqd_rate_new("t", &m, &none, 0);
	struct relayqd_rate_view v;

	(void)drain(r, 0, 3);
	relayqd_rate_configure(r, &big, &none, 0);
	relayqd_rate_view(r, 0, &v);
	ok(v.messages < 0.001 && v.messages_size == 100,
	    "reload: the level is kept");
	relayqd_rate_configure(r, &none, &none, 0);
	ok(relayqd_rate_wait(r, 0) == 0, "limit removed: no wait");
	relayqd_rate_configure(r, &m, &none, 0);
	relayqd_rate_view(r, 0, &v);
	ok(v.messages == 3, "limit added: starts full");
	relayqd_rate_free(r);
}

/* The log's form of a limit: "none" when unset (issue 15). */
static void
test_fmt(void)
{
	struct conf_rate none = { 0, 0 }, some = { 30, 60 };
	char buf[64];

	relayqd_rate_limit_txt(&none, buf, sizeof(buf));
	is_str(buf, "none", "no limit is logged as none, not 0/0s");
	relayqd_rate_limit_txt(&some, buf, sizeof(buf));
	is_str(buf, "30/60s", "a limit is logged as N/PERs");
}

int
main(void)
{
	log_init("test_relayqd_rate", LOG_TO_STDERR, 0);
	test_bucket();
	test_recipients();
	test_throttle();
	test_file();
	test_configure();
	test_fmt();
	return done_testing();
}
