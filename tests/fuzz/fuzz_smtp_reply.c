/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the SMTP reply parser.  The input is split on '\n'
 * and each piece is fed as one line, as the glue does after
 * evbuffer_readln(); a completed or failed reply starts a new one.  Every
 * accessor is exercised on completed replies and the parser's invariants
 * are checked, so a violation aborts instead of passing silently.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless the invariants of a complete reply hold. */
static void
fuzz_smtp_reply_check(const struct smtp_reply *r)
{
	char sum[256];
	const char *p;
	size_t len, total = 0;

	if (r->code < 200 || r->code > 599 || r->nlines == 0 ||
	    r->nlines > SMTP_REPLY_LINES_MAX ||
	    r->textlen >= SMTP_REPLY_TEXT_MAX || r->text[r->textlen] != '\0' ||
	    r->nwhole > r->nlines || strlen(r->esc) >= sizeof(r->esc))
		abort();
	if (r->esc[0] != '\0' && r->esc[0] != (char)('0' + r->code / 100))
		abort();
	/* Control bytes of the text are stored as U+FFFD: none is left. */
	for (size_t i = 0; i < r->textlen; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			abort();
	}
	for (size_t i = 0; i < r->nlines; i++) {
		if (smtp_reply_line(r, i, &p, &len) == -1) {
			if (i < r->nwhole)
				abort();
			continue;
		}
		if (p < r->text || p + len > r->text + r->textlen ||
		    memchr(p, '\n', len) != NULL)
			abort();
		total += len;
	}
	if (total > r->textlen)
		abort();
	smtp_reply_summary(r, sum, sizeof(sum));
	if (strlen(sum) >= sizeof(sum))
		abort();
}

/* Feeds every '\n'-separated line of the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size, *nl;
	const char *errstr;
	int rv;

	smtp_reply_init(&r);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		errstr = NULL;
		rv = smtp_reply_feed(&r, p, (size_t)(nl - p), &errstr);
		if (rv == 1) {
			fuzz_smtp_reply_check(&r);
			smtp_reply_init(&r);
		} else if (rv == -1) {
			if (errstr == NULL || !r.failed)
				abort();
			smtp_reply_init(&r);
		} else if (rv != 0)
			abort();
		p = nl < end ? nl + 1 : end;
	}
	return 0;
}
