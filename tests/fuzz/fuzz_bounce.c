/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the DSN builder (relayqd_bounce.c), issue 13: a
 * bounce the queue writer refuses was retried every retry_min forever.
 * The first input byte chooses the kind (bit 0: delay notice), whether
 * the recipients expired (bit 1), and whether the original is returned
 * whole (bit 2); the rest is split at NUL bytes into the sender, the
 * original message, then up to 8 recipients as address, ORCPT and reply
 * text, all arbitrary.  The original is used only when it is valid wire
 * form with lines of at most 998 octets, as a stored message is.  Every
 * report built must pass the queue writer's own validation
 * (queue_env_wire_feed and _end) and have no line over 998 octets (a
 * stuffing dot aside).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "queue/queue_env.h"
#include "relayqd/relayqd_bounce.h"

#define FUZZ_BOUNCE_RCPTS 8
#define FUZZ_BOUNCE_FIELDS (2 + 3 * FUZZ_BOUNCE_RCPTS)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when the n bytes at p are in wire form with lines <= 998. */
static int
fuzz_bounce_wire(const char *p, size_t n, int strict)
{
	struct queue_env_wire w;
	const char *errstr;
	size_t start = 0;

	queue_env_wire_init(&w);
	if (queue_env_wire_feed(&w, p, n, &errstr) == -1 ||
	    queue_env_wire_end(&w, &errstr) == -1)
		return 0;
	for (size_t i = 0; i + 1 < n; i++) {
		size_t len;

		if (p[i] != '\r' || p[i + 1] != '\n')
			continue;
		len = i - start;
		if (len > 998 +
			(strict && len > 1 && p[start] == '.' &&
			    p[start + 1] == '.'))
			return 0;
		start = i + 2;
	}
	return 1;
}

/* Builds one report from the input and checks it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[FUZZ_BOUNCE_FIELDS];
	size_t flen[FUZZ_BOUNCE_FIELDS], nf = 0, nr = 0;
	struct relayqd_bounce_rcpt rr[FUZZ_BOUNCE_RCPTS];
	struct relayqd_bounce b;
	struct buf out;
	char *copy;
	const char *p, *end;

	if (size < 1)
		return 0;
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	p = copy;
	end = copy + size - 1;
	while (nf < FUZZ_BOUNCE_FIELDS && p <= end) {
		f[nf] = p;
		flen[nf] = strlen(p);
		p += flen[nf] + 1;
		nf++;
	}
	if (nf < 3) {
		free(copy);
		return 0;
	}
	for (size_t k = 2; k < nf && nr < FUZZ_BOUNCE_RCPTS; k += 3) {
		rr[nr].addr = f[k];
		rr[nr].orcpt = k + 1 < nf && flen[k + 1] > 0 ? f[k + 1] : NULL;
		rr[nr].reply = k + 2 < nf ? f[k + 2] : "";
		rr[nr].last_try = 1700000000;
		rr[nr].expired = (data[0] & 2) != 0;
		nr++;
	}
	memset(&b, 0, sizeof(b));
	b.kind = (data[0] & 1) ? RELAYQD_BOUNCE_DELAYED : RELAYQD_BOUNCE_FAILED;
	b.hostname = "relayq.test";
	b.remote_mta = "smtp.example.org";
	b.sender = f[0];
	b.queue_id = "0194A3F2C0004D1E2A7B";
	b.msgid = "0194A3F2C0004D1E2AFF";
	b.now = 1700000200;
	b.arrival = 1699990000;
	b.retry_until = 1700400000;
	b.lifetime = 5 * 86400;
	b.rcpts = rr;
	b.nrcpt = nr;
	if (flen[1] > 0 && fuzz_bounce_wire(f[1], flen[1], 0)) {
		b.orig = f[1];
		b.orig_len = flen[1];
		b.orig_full = (data[0] & 4) != 0;
	}
	buf_init(&out, RELAYQD_BOUNCE_MAX);
	if (relayqd_bounce_build(&b, &out) == 0 &&
	    !fuzz_bounce_wire(out.data, out.len, 1))
		abort(); /* the queue writer would refuse this bounce */
	buf_free(&out);
	free(copy);
	return 0;
}
