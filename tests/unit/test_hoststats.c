/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for common/hoststats.c: a smarthost's "smarthost=" line of
 * <spool>/stats, formatted by relayqd and parsed by relayq stats.
 */
#include "config.h"

#include <string.h>

#include "common/hoststats.h"
#include "common/strutil.h"
#include "tap.h"

/* A filled-in example. */
static void
sample(struct hoststats *hs)
{
	memset(hs, 0, sizeof(*hs));
	(void)strlcpy(hs->name, "work", sizeof(hs->name));
	hs->up = 0;
	hs->since = 1765000000;
	hs->sent = 12;
	hs->deferred = 3;
	hs->failed = 1;
	hs->pace = 0.5;
	hs->throttled = 1;
	hs->bucket = 4.25;
	hs->bucket_size = 5;
	hs->rcpt_bucket = -2.5;
	hs->rcpt_bucket_size = 100;
}

/* Returns 0 when s parses, -1 otherwise; *why gets the reason. */
static int
parses(const char *s, const char **why)
{
	struct hoststats hs;

	*why = "";
	return hoststats_parse(s, &hs, why);
}

static void
test_format(void)
{
	struct hoststats hs;
	char buf[512];
	int n;

	sample(&hs);
	n = hoststats_format(&hs, buf, sizeof(buf));
	is_str(buf,
	    "work up=0 since=1765000000 sent=12 deferred=3 failed=1 "
	    "pace=0.500000 throttled=1 bucket=4.250000 bucket_size=5 "
	    "rcpt_bucket=-2.500000 rcpt_bucket_size=100 stamp=0 bucket_per=0 "
	    "rcpt_bucket_per=0",
	    "format: every field, in the documented order");
	is_int(n, strlen(buf), "format returns the length");
	ok(hoststats_format(&hs, buf, 20) == -1,
	    "format: -1 when the buffer is too small");
	(void)strlcpy(hs.name, "Work", sizeof(hs.name));
	ok(hoststats_format(&hs, buf, sizeof(buf)) == -1,
	    "format: -1 for a name conf.c would refuse (upper case)");
	hs.name[0] = '\0';
	ok(hoststats_format(&hs, buf, sizeof(buf)) == -1,
	    "format: -1 for an empty name");
}

static void
test_roundtrip(void)
{
	struct hoststats in, out;
	const char *errstr = "";
	char buf[512];

	sample(&in);
	ok(hoststats_format(&in, buf, sizeof(buf)) > 0, "format the sample");
	ok(hoststats_parse(buf, &out, &errstr) == 0, "parse it back");
	is_str(out.name, "work", "name");
	ok(out.up == 0 && out.since == 1765000000, "up and since");
	ok(out.sent == 12 && out.deferred == 3 && out.failed == 1,
	    "sent, deferred, failed");
	ok(out.pace == 0.5 && out.throttled == 1, "pace and throttled");
	ok(out.bucket == 4.25 && out.bucket_size == 5, "message bucket");
	ok(out.rcpt_bucket == -2.5 && out.rcpt_bucket_size == 100,
	    "recipient bucket (below zero: a debt)");

	memset(&in, 0, sizeof(in));
	(void)strlcpy(in.name, "a.b_c-9", sizeof(in.name));
	in.up = 1;
	in.sent = (long long)1 << 62;
	ok(hoststats_format(&in, buf, sizeof(buf)) > 0 &&
		hoststats_parse(buf, &out, &errstr) == 0 &&
		strcmp(out.name, "a.b_c-9") == 0 && out.up == 1 &&
		out.sent == (long long)1 << 62 && out.pace == 0,
	    "a name with . _ - and digits, the largest counter, no limit");
}

static void
test_refill(void)
{
	struct hoststats hs, out;
	const char *errstr = "";
	char buf[512];

	sample(&hs); /* bucket 4.25 of 5, rcpt_bucket -2.5 of 100 */
	hs.stamp = 1000000;
	hs.bucket_per = 10;	  /* 5 per 10 s: 0.5 a second */
	hs.rcpt_bucket_per = 100; /* 100 per 100 s: 1 a second */
	ok(hoststats_format(&hs, buf, sizeof(buf)) > 0 &&
		hoststats_parse(buf, &out, &errstr) == 0 &&
		out.stamp == 1000000 && out.bucket_per == 10 &&
		out.rcpt_bucket_per == 100,
	    "stamp, bucket_per and rcpt_bucket_per round-trip");
	hoststats_refill(&hs, 1000000 + 1000);
	ok(hs.bucket == 4.75 && hs.rcpt_bucket == -1.5 && hs.stamp == 1001000,
	    "one second later: each bucket gained its rate");
	hoststats_refill(&hs, 1001000 + 60000);
	ok(hs.bucket == 5 && hs.rcpt_bucket == 58.5,
	    "a minute later: the message bucket is full, not above");
	hoststats_refill(&hs, 1000);
	ok(hs.bucket == 5 && hs.stamp == 1061000,
	    "an earlier time changes nothing");
	sample(&hs);
	hoststats_refill(&hs, 2000000);
	ok(hs.bucket == 4.25 && hs.rcpt_bucket == -2.5,
	    "no stamp (an older relayqd): the levels as written");
	sample(&hs);
	hs.stamp = 1000;
	hs.bucket_size = 0;
	hs.bucket_per = 0;
	hs.rcpt_bucket_per = 100;
	hoststats_refill(&hs, 2000);
	ok(hs.bucket == 4.25 && hs.rcpt_bucket == -1.5,
	    "a bucket without a limit is left alone");
}

static void
test_parse(void)
{
	struct hoststats hs;
	const char *why = "";
	char longname[64];

	ok(hoststats_parse("default", &hs, &why) == 0 &&
		strcmp(hs.name, "default") == 0 && hs.up == 0 && hs.sent == 0 &&
		hs.bucket_size == 0,
	    "a name alone: every field 0");
	ok(hoststats_parse("default up=1 sent=4 color=blue  failed=2", &hs,
	       &why) == 0 &&
		hs.up == 1 && hs.sent == 4 && hs.failed == 2,
	    "unknown fields (a newer writer) and double spaces are skipped");
	ok(parses("", &why) == -1, "empty: refused");
	ok(parses(" default up=1", &why) == -1, "leading space: refused");
	ok(parses("Default up=1", &why) == -1 &&
		strcmp(why, "invalid smarthost name") == 0,
	    "upper case name: refused");
	ok(parses("wo\"rk up=1", &why) == -1, "a quote in the name: refused");
	ok(parses("wo\\rk up=1", &why) == -1,
	    "a backslash in the name: refused");
	memset(longname, 'a', 33);
	longname[33] = '\0';
	ok(parses(longname, &why) == -1, "a 33-byte name: refused");
	longname[32] = '\0';
	ok(parses(longname, &why) == 0, "a 32-byte name: accepted");
	ok(parses("work up", &why) == -1 &&
		strcmp(why, "field without '='") == 0,
	    "a field without '=': refused");
	ok(parses("work up=2", &why) == -1, "up=2: refused");
	ok(parses("work sent=-1", &why) == -1, "a negative counter: refused");
	ok(parses("work sent=12x", &why) == -1, "trailing junk: refused");
	ok(parses("work sent=", &why) == -1, "an empty number: refused");
	ok(parses("work sent=99999999999999999999", &why) == -1,
	    "a counter out of range: refused");
	ok(parses("work sent=1 sent=2", &why) == -1 &&
		strcmp(why, "repeated field") == 0,
	    "a repeated field: refused");
	ok(parses("work pace=nan", &why) == -1, "pace=nan: refused");
	ok(parses("work pace=inf", &why) == -1, "pace=inf: refused");
	ok(parses("work bucket=1e300", &why) == -1, "a huge level: refused");
	ok(parses("work bucket=1.5z", &why) == -1,
	    "a level with junk: refused");
}

static void
test_long(void)
{
	char buf[2048];
	const char *why;

	memset(buf, 0, sizeof(buf));
	(void)strlcpy(buf, "work", sizeof(buf));
	for (size_t i = strlen(buf); i < sizeof(buf) - 1; i++)
		buf[i] = ' ';
	ok(parses(buf, &why) == -1 && strcmp(why, "line too long") == 0,
	    "a value longer than the line limit: refused");
}

int
main(void)
{
	test_format();
	test_roundtrip();
	test_parse();
	test_refill();
	test_long();
	return done_testing();
}
