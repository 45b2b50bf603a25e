/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One smarthost's figures in <spool>/stats (issue 15): the value of a
 * "smarthost=" line, written by relayqd (relayqd_stats.c, one line per
 * smarthost section) and read by `relayq stats` (relayq_stats.c).  This
 * module only formats and parses that value; it owns no file.  Format,
 * space-separated fields after the name, in this order:
 *
 *	NAME up=0|1 since=T sent=N deferred=N failed=N pace=F throttled=0|1
 *	    bucket=F bucket_size=N rcpt_bucket=F rcpt_bucket_size=N
 *	    stamp=MS bucket_per=S rcpt_bucket_per=S
 *
 * NAME is the section's name ("default" for [smarthost]): 1 to
 * CONF_SMARTHOST_NAME_MAX of a-z, 0-9, '.', '_' and '-', so it needs no
 * quoting in the file, in JSON or in a Prometheus label.  The fields are
 * those of relayqd_stats.h's global keys of the same meaning: since is
 * when up took its value (seconds since the epoch), sent, deferred and
 * failed count recipients, pace is messages a second (0: no limit),
 * bucket and rcpt_bucket are token levels (rcpt_bucket may be < 0) and
 * their sizes are 0 when that limit is not set.  stamp is when the
 * bucket levels were true (milliseconds since the epoch) and bucket_per
 * and rcpt_bucket_per the limits' DURATION (s): a bucket refills at
 * size per DURATION, so a reader computes the level of any later time
 * (hoststats_refill) instead of showing the one of the last write.  A
 * parser ignores fields it does not know (a newer writer may add some);
 * a missing field is 0.
 */
#ifndef RELAYQ_COMMON_HOSTSTATS_H
#define RELAYQ_COMMON_HOSTSTATS_H

#include <stddef.h>

#include "common/conf.h"

struct hoststats {
	char name[CONF_SMARTHOST_NAME_MAX + 1];
	int up;
	long long since;
	long long sent, deferred, failed; /* recipients */
	double pace;			  /* messages a second; 0: no limit */
	int throttled;
	double bucket, rcpt_bucket;
	long long bucket_size, rcpt_bucket_size; /* 0: no such limit */
	long long stamp;			 /* levels as of (ms) */
	long long bucket_per, rcpt_bucket_per;	 /* DURATION (s) */
};

/*
 * Writes hs as a "smarthost=" value (no key, no newline) into buf.
 * Returns its length, or -1 when hs->name is not a valid name or the
 * text does not fit in bufsz.
 */
int hoststats_format(const struct hoststats *hs, char *buf, size_t bufsz);

/*
 * Parses the value s into hs.  Returns 0, or -1 with *errstr set (a bad
 * name, a field without '=', a repeated field or a number that does not
 * parse or is out of range); hs is then undefined.
 */
int hoststats_parse(const char *s, struct hoststats *hs, const char **errstr);

/*
 * Brings hs's bucket levels from hs->stamp to now_ms (ms since the
 * epoch): each limited bucket gains size tokens per DURATION, up to its
 * size; nothing changes without a stamp or when now_ms is not later.
 */
void hoststats_refill(struct hoststats *hs, long long now_ms);

#endif
