/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Reading SMTP replies from a bufferevent's input, shared by relayqd's
 * sessions and relayq probe: complete lines are taken out one at a time,
 * bounded (a line longer than SMTP_REPLY_LINE_MAX is cut there, the rest
 * dropped; a line not ended within SMARTHOST_IO_LINE_LIMIT bytes is an
 * error; a NUL byte is text) and fed to the reply parser.  It owns
 * nothing; the caller's read callback loops over it.
 */
#ifndef RELAYQ_SMARTHOST_SMARTHOST_IO_H
#define RELAYQ_SMARTHOST_SMARTHOST_IO_H

#include <stddef.h>

/* Longest reply line read (its excess over SMTP_REPLY_LINE_MAX dropped). */
#define SMARTHOST_IO_LINE_LIMIT 65536

struct evbuffer;
struct smtp_reply;

/* Sees each line (len bytes, no CRLF) before it is parsed. */
typedef void (*smarthost_io_line_fn)(void *arg, const char *line, size_t len);

/*
 * Feeds complete lines from in to reply until a reply is complete.
 * Returns 1 with it in *out (reply is then reset for the next one), 0
 * when in holds no complete line, or -1 with a reason in why.  line_fn,
 * when not NULL, sees every line that is fed.
 */
int smarthost_io_reply(struct evbuffer *in, struct smtp_reply *reply,
    struct smtp_reply *out, smarthost_io_line_fn line_fn, void *arg, char *why,
    size_t whysz);

#endif
