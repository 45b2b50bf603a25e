/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the state file (queue_state.c), as a round trip.
 * The first input byte is the recipient count the message has (0-15);
 * the rest is parsed as a state file.  A parse that succeeds must give
 * a state whose every text is clean (str_clean_text) and fits its
 * record escaped, that formats, parses again to the same values and
 * formats again to exactly the same bytes (one round reaches the
 * canonical encoding: the reader accepts escapes and bytes the writer
 * never writes, such as "\x41", uppercase hex or a raw 0xe9, and
 * cleans them); an input without a backslash or an 8-bit byte must
 * format back to exactly its own bytes.  Then the values are pushed
 * through the setters with the input as reply text, and the result must
 * format, and parse back with the same values.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "queue/queue_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless text is clean and its escaped form fits a record. */
static void
fuzz_queue_state_text(const char *t)
{
	if (t == NULL)
		return;
	if (!str_is_clean_text(t, strlen(t)) ||
	    str_sanitize_len(t, strlen(t)) > QUEUE_STATE_TEXT_MAX)
		abort();
}

/* Aborts unless a and b hold the same values. */
static void
fuzz_queue_state_same(const struct queue_state *a, const struct queue_state *b)
{
	if (strcmp(a->id, b->id) != 0 || a->tries != b->tries ||
	    a->first_try != b->first_try || a->last_try != b->last_try ||
	    a->next_try != b->next_try || a->held != b->held ||
	    a->warned != b->warned || a->nrcpt != b->nrcpt ||
	    strcmp(a->last_error, b->last_error) != 0 ||
	    memcmp(a->rcpt_st, b->rcpt_st, a->nrcpt) != 0)
		abort();
	for (size_t i = 0; i < a->nrcpt; i++) {
		const char *x = a->rcpt_reply != NULL ? a->rcpt_reply[i] : NULL;
		const char *y = b->rcpt_reply != NULL ? b->rcpt_reply[i] : NULL;

		if ((x == NULL) != (y == NULL) ||
		    (x != NULL && strcmp(x, y) != 0))
			abort();
	}
}

/* Parses, formats and re-parses one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_state s, t;
	const char *errstr;
	char *buf, *buf2, *text;
	size_t len, len2, nrcpt;

	if (size < 1)
		return 0;
	nrcpt = data[0] % 16;
	data++;
	size--;
	if (queue_state_parse(&s, (const char *)data, size, nrcpt, &errstr) ==
	    0) {
		if (s.nrcpt != nrcpt)
			abort();
		fuzz_queue_state_text(s.last_error);
		for (size_t i = 0; i < s.nrcpt; i++) {
			if (s.rcpt_st[i] != QUEUE_RCPT_PENDING &&
			    s.rcpt_st[i] != QUEUE_RCPT_DONE &&
			    s.rcpt_st[i] != QUEUE_RCPT_FAILED)
				abort();
			if (s.rcpt_reply != NULL)
				fuzz_queue_state_text(s.rcpt_reply[i]);
		}
		if (queue_state_format(&s, &buf, &len) == -1)
			abort();
		if (memchr(data, '\\', size) == NULL &&
		    !str_has_8bit((const char *)data, size) &&
		    (len != size || memcmp(buf, data, size) != 0))
			abort(); /* not canonical */
		if (queue_state_parse(&t, buf, len, nrcpt, &errstr) == -1)
			abort();
		fuzz_queue_state_same(&s, &t);
		if (queue_state_format(&t, &buf2, &len2) == -1)
			abort();
		if (len2 != len || memcmp(buf, buf2, len) != 0)
			abort(); /* not canonical after one round */
		queue_state_free(&t);
		free(buf2);
		free(buf);

		/* The setters clean anything. */
		text = malloc(size + 1);
		if (text != NULL) {
			memcpy(text, data, size);
			text[size] = '\0';
			queue_state_set_error(&s, text);
			for (size_t i = 0; i < s.nrcpt; i++)
				queue_state_set_rcpt(&s, i,
				    i % 3 == 0	     ? QUEUE_RCPT_DONE
					: i % 3 == 1 ? QUEUE_RCPT_FAILED
						     : QUEUE_RCPT_PENDING,
				    text + (i < size ? i : 0));
			if (queue_state_format(&s, &buf, &len) == -1)
				abort();
			if (queue_state_parse(&t, buf, len, nrcpt, &errstr) ==
			    -1)
				abort();
			fuzz_queue_state_same(&s, &t);
			queue_state_free(&t);
			free(buf);
			free(text);
		}
	}
	queue_state_free(&s);
	return 0;
}
