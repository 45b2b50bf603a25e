/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Bounded reply reading (STYLE.md section 13e).  evbuffer_readln()
 * hands over each line, which is freed here; a bare LF also ends a line
 * (EVBUFFER_EOL_CRLF).  A line goes on by its length, never as a string,
 * so a NUL byte in it is text like any other control byte (the parser
 * stores it as U+FFFD): a 250 after the final dot refused for a NUL
 * would send the accepted message again (o14 F4).
 *
 * A line longer than SMTP_REPLY_LINE_MAX (RFC 5321 allows 512 octets,
 * servers send more: a 250 after the dot with a long queue id and
 * tracking text) is cut there and fed: its code decides, and the excess
 * is dropped.  Refusing it would treat a 250 after the final dot as an
 * unknown outcome and send the accepted message again (issue 15, found
 * by an outside tester).  Only a line that is still without its end
 * after SMARTHOST_IO_LINE_LIMIT bytes is an error.
 */
#include "config.h"

#include "smarthost/smarthost_io.h"

#include <stdlib.h>

#include <event2/buffer.h>

#include "common/strutil.h"
#include "smtp/smtp_reply.h"

/* Feeds lines until a reply is complete. */
int
smarthost_io_reply(struct evbuffer *in, struct smtp_reply *reply,
    struct smtp_reply *out, smarthost_io_line_fn line_fn, void *arg, char *why,
    size_t whysz)
{
	char *line;
	size_t len;

	for (;;) {
		const char *errstr = NULL;
		int rv;

		if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) ==
		    NULL) {
			if (evbuffer_get_length(in) <= SMARTHOST_IO_LINE_LIMIT)
				return 0;
			(void)!rq_snprintf(why, whysz, "reply line too long");
			return -1;
		}
		if (len > SMTP_REPLY_LINE_MAX) /* the code decides */
			line[len = SMTP_REPLY_LINE_MAX] = '\0';
		if (line_fn != NULL)
			line_fn(arg, line, len);
		rv = smtp_reply_feed(reply, line, len, &errstr);
		free(line); /* evbuffer_readln() handed us ownership */
		if (rv == -1) {
			(void)!rq_snprintf(why, whysz, "bad server reply: %s",
			    errstr);
			return -1;
		}
		if (rv == 1) {
			*out = *reply;
			smtp_reply_init(reply);
			return 1;
		}
	}
}
