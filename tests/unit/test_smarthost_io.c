/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for smarthost_io_reply(): a reply line longer than
 * SMTP_REPLY_LINE_MAX is cut there and decided by its code (a 250 after
 * the final dot must not become "reply line too long" and a resend,
 * issue 15), a partial long line waits for its end, a line without an
 * end after SMARTHOST_IO_LINE_LIMIT bytes is an error, and a NUL byte in
 * a 250 is text, not an error (o14 F4: the message was sent again).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "smarthost/smarthost_io.h"
#include "smtp/smtp_reply.h"
#include "tap.h"

/* Appends n bytes of c to b. */
static void
fill(struct evbuffer *b, char c, size_t n)
{
	char *p = malloc(n);

	if (p == NULL)
		abort();
	memset(p, c, n);
	evbuffer_add(b, p, n);
	free(p);
}

int
main(void)
{
	struct evbuffer *in = evbuffer_new();
	static const char nul[] = "250 2.0.0 queued \0ABC\r\n";
	struct smtp_reply acc, r;
	char why[128];

	smtp_reply_init(&acc);
	/* A 250 of 3000 bytes, then a short reply in the same buffer. */
	evbuffer_add_printf(in, "250 2.0.0 Ok: queued as X ");
	fill(in, 't', 3000);
	evbuffer_add_printf(in, "\r\n221 bye\r\n");
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    1, "a long 250 is a reply");
	is_int(r.code, 250, "its code");
	is_str(r.esc, "2.0.0", "its enhanced code");
	is_int(r.textlen, SMTP_REPLY_LINE_MAX - 4, "its text cut at the limit");
	ok(strncmp(r.text, "2.0.0 Ok: queued as X ttt", 25) == 0,
	    "keeping its start");
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    1, "the next reply is read whole");
	is_int(r.code, 221, "the excess was dropped, not read as a reply");
	is_int(evbuffer_get_length(in), 0, "nothing left");

	/* A long line still arriving: wait for its end. */
	evbuffer_add_printf(in, "250 ");
	fill(in, 'w', 10000);
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    0, "10 KB without an end: wait");
	evbuffer_add_printf(in, "\r\n");
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    1, "then the reply");
	is_int(r.code, 250, "a 250");

	/* A NUL byte in the text: the reply counts, the NUL is U+FFFD. */
	evbuffer_add(in, nul, sizeof(nul) - 1);
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    1, "a 250 with a NUL byte is a reply");
	is_int(r.code, 250, "a 250");
	is_str(r.text,
	    "2.0.0 queued \xef\xbf\xbd"
	    "ABC",
	    "the NUL stored as U+FFFD");

	/* No end after the limit: an error. */
	evbuffer_add_printf(in, "250 ");
	fill(in, 'e', SMARTHOST_IO_LINE_LIMIT);
	is_int(smarthost_io_reply(in, &acc, &r, NULL, NULL, why, sizeof(why)),
	    -1, "no end after SMARTHOST_IO_LINE_LIMIT bytes: an error");
	is_str(why, "reply line too long", "saying so");
	evbuffer_free(in);
	return done_testing();
}
