/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The SMTP reply parser: pure, bounded, no I/O (the fuzz target).  Lines
 * are fed one at a time without their CRLF; a reply is complete at its
 * "NNN " (or bare "NNN") line.  Limits: SMTP_REPLY_LINE_MAX bytes per
 * line, SMTP_REPLY_LINES_MAX lines, every line with the same 3-digit code
 * (2xx..5xx).  The text may hold any byte: a control byte but tab (NUL,
 * ESC, DEL, a bare CR) is stored as U+FFFD, so text holds none.
 */
#ifndef RELAYQ_SMTP_SMTP_REPLY_H
#define RELAYQ_SMTP_SMTP_REPLY_H

#include <stddef.h>

#define SMTP_REPLY_LINE_MAX 2048
#define SMTP_REPLY_LINES_MAX 100
#define SMTP_REPLY_TEXT_MAX 4096

struct smtp_reply {
	int code;     /* 200..599 once a line was parsed, else 0 */
	char esc[16]; /* enhanced status "x.y.z" of the first line, or "" */
	size_t nlines;
	int complete; /* nonzero once the last line was fed */
	/* the lines' texts (after "NNN-" / "NNN "), joined with '\n',
	 * each control byte but tab as U+FFFD, truncated (not failed) at
	 * SMTP_REPLY_TEXT_MAX - 1 */
	char text[SMTP_REPLY_TEXT_MAX];
	size_t textlen;
	size_t nwhole; /* leading lines held whole in text */
	int failed;    /* nonzero after feed returned -1 */
};

/* Empties r for the next reply. */
void smtp_reply_init(struct smtp_reply *r);

/*
 * Feeds one line (len bytes, no CRLF; may contain anything; one stray
 * trailing CR is ignored).  Returns 1 when the reply is now complete, 0
 * when more lines are needed, -1 on a protocol violation (no valid code
 * or separator, a code that changed, too long, too many lines) with
 * *errstr set (r is then unusable until init; feeding a complete reply
 * is also an error).  Control bytes in the text are no violation.
 */
int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    const char **errstr);

/*
 * Returns the text of line i (0-based) of a complete reply in *p and
 * *len (borrowed from r, not NUL-terminated).  Returns 0, or -1 if there
 * is no such line or it was cut by the SMTP_REPLY_TEXT_MAX truncation.
 */
int smtp_reply_line(const struct smtp_reply *r, size_t i, const char **p,
    size_t *len);

/*
 * Writes "code first-line" into buf, the text made one line of
 * displayable UTF-8 by str_clean_text() (not escaped), truncated at a
 * character boundary.
 */
void smtp_reply_summary(const struct smtp_reply *r, char *buf, size_t bufsz);

#endif
