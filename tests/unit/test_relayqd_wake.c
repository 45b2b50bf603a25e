/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the wake FIFO protocol (src/relayqd/relayqd_wake.c):
 * pokes, the flush byte, "I<id>" records, malformed and partial records
 * (whose hex digits must never count as 'F'), and flushing single ids
 * in the scheduler.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_wake.h"
#include "tap.h"

#define ID1 "06B0B3AF2EB184107CAE"
#define ID2 "06B0B3AF2ED42B882B96"

int
main(void)
{
	struct queue_idlist ids = { NULL, 0 };
	struct relayqd_sched *s;
	size_t used;
	int fds[2], f;
	const char *in;

	in = "!";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used), 0, "a poke");
	is_int(used, 1, "poke consumed");
	in = "!F!";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used),
	    RELAYQD_WAKE_FLUSH, "flush byte");
	in = "I" ID1 "\nI" ID2 "\nI" ID1 "\n";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used),
	    RELAYQD_WAKE_BY_SENDMAIL,
	    "id records are not a flush, though ids hold 'F'");
	is_int(ids.n, 2, "two ids, duplicate dropped");
	is_str(ids.ids[0], ID1, "first id");
	is_str(ids.ids[1], ID2, "second id");
	queue_idlist_free(&ids);
	in = "R" ID2 "\nR" ID1 "\n";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used),
	    RELAYQD_WAKE_BY_RELAYQ, "relayq's R records: no flush, by relayq");
	is_int(ids.n, 2, "two ids from R records");
	queue_idlist_free(&ids);
	in = "I" ID2 "\nR" ID1 "\n";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used),
	    RELAYQD_WAKE_BY_SENDMAIL | RELAYQD_WAKE_BY_RELAYQ,
	    "I and R records: both requesters");
	queue_idlist_free(&ids);
	in = "IFFFF\nIffffffffffffffffffff\nI" ID1 "X\nRFF\n";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used), 0,
	    "malformed records skipped, their F's ignored");
	is_int(ids.n, 0, "no id from malformed records");
	in = "!I06B0B3";
	is_int(relayqd_wake_parse(in, strlen(in), &ids, &used), 0,
	    "partial record");
	is_int(used, 1, "partial record left for later");

	/* Through a real pipe. */
	if (pipe(fds) == -1)
		return 1;
	if (write(fds[1], "!I" ID2 "\n", 23) != 23)
		return 1;
	(void)close(fds[1]);
	f = relayqd_wake_drain(fds[0], &ids);
	(void)close(fds[0]);
	is_int(f, RELAYQD_WAKE_BY_SENDMAIL, "drain: no flush");
	is_int(ids.n, 1, "drain: one id");

	s = relayqd_sched_new();
	(void)relayqd_sched_add(s, ID2, 1000);
	(void)relayqd_sched_add(s, ID1, 900);
	is_int(relayqd_sched_next_due(s), 900, "earliest due");
	is_int(relayqd_wake_flush_ids(s, &ids, 500), 1, "one id made due");
	is_int(relayqd_sched_next_due(s), 500, "now due at once");
	is_str(relayqd_sched_pop_due(s, 500), ID2, "the requested one");
	is_int(relayqd_wake_flush_ids(s, &ids, 500), 0, "busy id left alone");
	relayqd_sched_free(s);
	queue_idlist_free(&ids);
	return done_testing();
}
