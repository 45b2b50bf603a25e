/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the submission frame parser (queue_submit.c), the
 * code that reads what any local user writes to relayqd's socket.  The
 * input is parsed in both roles, whole and cut into pieces of every
 * size the first byte selects (the parser must reach the same end,
 * complete, refused or wanting more, however read() splits the stream,
 * and a complete one with the same body; a refused one may have passed
 * on body pieces before the bad byte, which relayqd then throws away).
 * Invariants checked: the body never exceeds the declared size, END
 * comes only when the body is complete, every event consumes at least
 * one byte, and a body piece lies inside the input.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_submit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Feeds p in pieces of step bytes; returns the body bytes seen.  *ended
 * is 1 after END, -1 after an error, else 0.
 */
static uint64_t
fuzz_run(struct queue_submit_parser *p, const char *d, size_t size, size_t step,
    int *ended)
{
	struct queue_submit_ev ev;
	const char *errstr;
	uint64_t body = 0;
	size_t off = 0, used;

	*ended = 0;
	while (off < size) {
		size_t end = off + step < size ? off + step : size;
		enum queue_submit_ev_type t;

		t = queue_submit_parse(p, d + off, end - off, &used, &ev,
		    &errstr);
		if (used > end - off)
			abort();
		if (t == QUEUE_SUBMIT_EV_ERROR) {
			*ended = -1;
			return body;
		}
		if (t != QUEUE_SUBMIT_EV_NEED && used == 0)
			abort();
		if (t == QUEUE_SUBMIT_EV_BODY) {
			if (ev.val < d + off || ev.val + ev.len > d + end)
				abort();
			body += ev.len;
			if (body > p->declared)
				abort();
		}
		if (t == QUEUE_SUBMIT_EV_END) {
			if (body != p->declared)
				abort();
			*ended = 1;
		}
		off += used;
	}
	return body;
}

/* Parses one input whole and in pieces, in both roles. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_submit_parser p;
	const char *d = (const char *)data;
	size_t step;
	int e1, e2;
	uint64_t b1, b2;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	queue_submit_init(&p, QUEUE_SUBMIT_SERVER, 8);
	b1 = fuzz_run(&p, d + 1, size - 1, size, &e1);
	queue_submit_init(&p, QUEUE_SUBMIT_SERVER, 8);
	b2 = fuzz_run(&p, d + 1, size - 1, step, &e2);
	if (e1 != e2 || (e1 == 1 && b1 != b2))
		abort();
	queue_submit_init(&p, QUEUE_SUBMIT_CLIENT, 0);
	(void)fuzz_run(&p, d + 1, size - 1, step, &e1);
	return 0;
}
