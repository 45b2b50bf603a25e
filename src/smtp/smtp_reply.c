/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The SMTP reply parser (RFC 5321 section 4.2).  It owns the syntax of a
 * reply and nothing else: it never allocates, never logs and does no I/O,
 * so it is the fuzz target.  Every line is checked before any of it is
 * stored: length, a 2xx..5xx code equal to the first line's, a '-' or ' '
 * separator (or none, for a bare "250"), and no control byte but tab.
 * Invariants: text is always NUL-terminated, textlen < SMTP_REPLY_TEXT_MAX,
 * the first nwhole lines are stored whole and joined with '\n', and once
 * feed has failed it keeps failing until smtp_reply_init().
 */
#include "config.h"

#include "smtp/smtp_reply.h"

#include <stdio.h>
#include <string.h>

#include "common/strutil.h"

/* Empties a reply. */
void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Marks r as failed and returns -1 with the reason in *errstr. */
static int
smtp_reply_error(struct smtp_reply *r, const char **errstr, const char *why)
{
	r->failed = 1;
	*errstr = why;
	return -1;
}

/* Returns nonzero when c is an ASCII digit. */
static int
smtp_reply_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Counts the 1 to 3 digits at s (at most len bytes); 0 when invalid. */
static size_t
smtp_reply_digits(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && n < 4 && smtp_reply_is_digit(s[n]))
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

/*
 * Copies the enhanced status code "class.subject.detail" that starts the
 * text into r->esc (RFC 3463): class must be the reply code's first
 * digit, subject and detail 1 to 3 digits, followed by a blank or the end.
 */
static void
smtp_reply_parse_esc(struct smtp_reply *r, const char *s, size_t len)
{
	size_t n, off;

	r->esc[0] = '\0';
	if (len < 5 || s[0] != (char)('0' + r->code / 100) || s[1] != '.')
		return;
	off = 2;
	if ((n = smtp_reply_digits(s + off, len - off)) == 0)
		return;
	off += n;
	if (off >= len || s[off] != '.')
		return;
	off++;
	if ((n = smtp_reply_digits(s + off, len - off)) == 0)
		return;
	off += n;
	if (off < len && s[off] != ' ' && s[off] != '\t')
		return;
	/* off <= 9 here, and esc has room for 15 bytes */
	memcpy(r->esc, s, off);
	r->esc[off] = '\0';
}

/* Returns nonzero for a byte the text stores as U+FFFD (tab is kept). */
static int
smtp_reply_is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Copies len bytes of s to dst, each control byte as U+FFFD, stopping
 * before a byte that does not fit in room.  Returns the bytes written.
 */
static size_t
smtp_reply_copy(char *dst, size_t room, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (!smtp_reply_is_ctl((unsigned char)s[i])) {
			if (o + 1 > room)
				break;
			dst[o++] = s[i];
		} else {
			if (o + sizeof(STR_REPLACEMENT) - 1 > room)
				break;
			memcpy(dst + o, STR_REPLACEMENT,
			    sizeof(STR_REPLACEMENT) - 1);
			o += sizeof(STR_REPLACEMENT) - 1;
		}
	}
	return o;
}

/* Returns the stored length of len bytes of s (controls as U+FFFD). */
static size_t
smtp_reply_stored_len(const char *s, size_t len)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++)
		if (smtp_reply_is_ctl((unsigned char)s[i]))
			n += sizeof(STR_REPLACEMENT) - 2;
	return n;
}

/* Appends one line's text to r->text, truncating at the text limit. */
static void
smtp_reply_store(struct smtp_reply *r, const char *s, size_t len)
{
	size_t room = SMTP_REPLY_TEXT_MAX - 1 - r->textlen;
	size_t sep = r->nlines > 0 ? 1 : 0;

	if (sep + smtp_reply_stored_len(s, len) <= room) {
		if (sep)
			r->text[r->textlen++] = '\n';
		r->textlen +=
		    smtp_reply_copy(r->text + r->textlen, room - sep, s, len);
		if (r->nwhole == r->nlines)
			r->nwhole++;
	} else if (room > 0) {
		if (sep) {
			r->text[r->textlen++] = '\n';
			room--;
		}
		r->textlen +=
		    smtp_reply_copy(r->text + r->textlen, room, s, len);
	}
	r->text[r->textlen] = '\0';
}

/* Parses one reply line into r. */
int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    const char **errstr)
{
	const char *text;
	size_t textlen;
	int code, final;

	if (r->failed)
		return smtp_reply_error(r, errstr,
		    "reply parser in error state");
	if (r->complete)
		return smtp_reply_error(r, errstr, "reply already complete");
	if (len > SMTP_REPLY_LINE_MAX)
		return smtp_reply_error(r, errstr, "reply line too long");
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return smtp_reply_error(r, errstr, "too many reply lines");
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3)
		return smtp_reply_error(r, errstr, "reply line too short");
	if (line[0] < '2' || line[0] > '5' || !smtp_reply_is_digit(line[1]) ||
	    !smtp_reply_is_digit(line[2]))
		return smtp_reply_error(r, errstr, "bad reply code");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3 || line[3] == ' ')
		final = 1;
	else if (line[3] == '-')
		final = 0;
	else
		return smtp_reply_error(r, errstr, "bad reply separator");
	if (r->nlines > 0 && code != r->code)
		return smtp_reply_error(r, errstr, "reply code changed");
	text = len > 4 ? line + 4 : "";
	textlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		smtp_reply_parse_esc(r, text, textlen);
	}
	smtp_reply_store(r, text, textlen);
	r->nlines++;
	if (final) {
		r->complete = 1;
		return 1;
	}
	return 0;
}

/* Finds line i of the stored text. */
int
smtp_reply_line(const struct smtp_reply *r, size_t i, const char **p,
    size_t *len)
{
	const char *s = r->text, *end = r->text + r->textlen, *nl;

	if (i >= r->nlines || i >= r->nwhole)
		return -1;
	for (size_t n = 0; n < i; n++) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			return -1;
		s = nl + 1;
	}
	if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
		nl = end;
	*p = s;
	*len = (size_t)(nl - s);
	return 0;
}

/*
 * Formats "code text-of-first-line" as one line of clean text
 * (str_clean_text): this is where a server's reply is made safe, once;
 * whoever stores or shows the summary applies only its own encoding.
 */
void
smtp_reply_summary(const struct smtp_reply *r, char *buf, size_t bufsz)
{
	const char *p;
	size_t len, off;
	int n;

	if (bufsz == 0)
		return;
	if (r->code == 0 || smtp_reply_line(r, 0, &p, &len) == -1) {
		(void)strlcpy(buf, "(no reply)", bufsz);
		return;
	}
	n = snprintf(buf, bufsz, "%d%s", r->code, len > 0 ? " " : "");
	if (n < 0 || (size_t)n >= bufsz)
		return;
	off = (size_t)n;
	(void)str_clean_text(buf + off, bufsz - off, p, len);
}
