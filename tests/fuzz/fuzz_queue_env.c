/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the spool readers: the input is parsed as a
 * message file (queue_env_parse, with and without the CRC and wire-form
 * check) and as a state file (queue_state_parse).  Both formats are
 * length-prefixed records, so one corpus exercises both.  Any crash,
 * leak or sanitizer report is a bug; a successful parse must describe a
 * body that lies inside the input.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "queue/queue_env.h"
#include "queue/queue_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses one input in every supported way. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *errstr;
	struct queue_env e;
	struct queue_state s;

	for (int crc = 0; crc <= 1; crc++) {
		if (queue_env_parse(&e, p, size, crc, &errstr) == 0) {
			if (e.body_off + e.body_len > size || e.nrcpt == 0)
				abort();
			for (size_t i = 0; i < e.nrcpt; i++)
				if (queue_env_check_addr(e.rcpts[i], 0,
					&errstr) == -1)
					abort();
		}
		queue_env_free(&e);
	}
	if (queue_state_parse(&s, p, size, size % 4, &errstr) == 0 &&
	    queue_state_pending(&s) > s.nrcpt)
		abort();
	queue_state_free(&s);
	return 0;
}
