/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The DSN builder.  A report is a multipart/report; report-type=
 * delivery-status message (RFC 6522) of three parts: a human-readable
 * text/plain part, a message/delivery-status part (RFC 3464: the
 * per-message fields Reporting-MTA and Arrival-Date, then per recipient
 * Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 * Last-Attempt-Date and, for a delay, Will-Retry-Until), and the
 * original as text/rfc822-headers or message/rfc822.  It goes out with
 * the null sender, "Auto-Submitted: auto-replied" (RFC 3834) and From
 * MAILER-DAEMON@hostname.
 *
 * Invariants: the output is in the spool's wire form, so the queue
 * writer always accepts it (issue 13: a bounce it refused was retried
 * every retry_min forever).  Everything we generate is first laid out
 * as plain CRLF lines (fields folded at spaces near 78 columns, text
 * wrapped at spaces), then passed through relayqd_bounce_emit(), which
 * applies the writer's rules to every line whatever its content: a
 * line starting with '.' is dot-stuffed, a line longer than 998 octets
 * is broken (the rest on a continuation line that starts with a space),
 * and a CR, LF or NUL that is not part of a line end becomes '?'.  The
 * original is copied as stored (already in wire form).  Replies and
 * addresses shown to people are reduced to printable ASCII, because
 * server replies are hostile input; addresses in fields keep their
 * 8-bit bytes (SMTPUTF8), and then the report says
 * Content-Transfer-Encoding: 8bit and is queued with the 8-bit flag.
 * tests/fuzz/fuzz_bounce.c checks every report against the writer's
 * validation.  The builder does no I/O; only
 * relayqd_bounce_read_original() and relayqd_bounce_queue() touch
 * files.
 */
#include "config.h"

#include "relayqd/relayqd_bounce.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_spool.h"

/* Lines of text and folded fields are kept near this width. */
#define RELAYQD_BOUNCE_WIDTH 76
/* Longest reply or address shown, after cleaning (bytes, with NUL). */
#define RELAYQD_BOUNCE_TEXT_MAX 600
/* Longest line written, CRLF and a stuffing dot excluded (RFC 5322). */
#define RELAYQD_BOUNCE_LINE_MAX 998

/*
 * Copies src as printable ASCII into dst: tabs become spaces, any other
 * character '?' (one for a whole UTF-8 character, such as the U+FFFD of
 * a clean reply text).
 */
static void
relayqd_bounce_clean(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0, k, n;

	if (src == NULL)
		src = "";
	n = strlen(src);
	for (size_t i = 0; i < n && o + 1 < dstsz; i += k) {
		unsigned char c = (unsigned char)src[i];

		k = c >= 0x80
		    ? str_utf8_len((const unsigned char *)src + i, n - i)
		    : 1;
		if (k == 0)
			k = 1;
		if (c == '\t')
			c = ' ';
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

/* Returns the length of an enhanced status code at p, or 0. */
static size_t
relayqd_bounce_esc_len(const char *p)
{
	size_t i = 1, k;

	if (p[0] != '2' && p[0] != '4' && p[0] != '5')
		return 0;
	for (int part = 0; part < 2; part++) {
		if (p[i] != '.')
			return 0;
		i++;
		for (k = 0; k < 3 && p[i] >= '0' && p[i] <= '9'; k++)
			i++;
		if (k == 0)
			return 0;
	}
	return i;
}

/* Splits a stored reply into code, enhanced code and text. */
void
relayqd_bounce_parse_reply(const char *reply, int *code, char esc[16],
    const char **text)
{
	const char *p = reply;
	size_t n;

	*code = 0;
	esc[0] = '\0';
	*text = reply != NULL ? reply : "";
	if (p == NULL || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9' || (p[3] != ' ' && p[3] != '\0'))
		return;
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	p += 3;
	while (*p == ' ')
		p++;
	*text = p;
	if ((n = relayqd_bounce_esc_len(p)) > 0 && n < 16 &&
	    (p[n] == ' ' || p[n] == '\0')) {
		memcpy(esc, p, n);
		esc[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
		*text = p;
	}
}

/* Chooses the Status of one recipient. */
void
relayqd_bounce_status(enum relayqd_bounce_kind kind,
    const struct relayqd_bounce_rcpt *r, char status[16])
{
	int code, cls = kind == RELAYQD_BOUNCE_FAILED ? 5 : 4;
	char esc[16];
	const char *text;

	if (kind == RELAYQD_BOUNCE_FAILED && r->expired) {
		(void)strlcpy(status, "5.4.7", 16);
		return;
	}
	relayqd_bounce_parse_reply(r->reply, &code, esc, &text);
	if (esc[0] == '0' + cls)
		(void)strlcpy(status, esc, 16);
	else if (code != 0)
		(void)snprintf(status, 16, "%d.0.0", cls);
	else
		(void)strlcpy(status, cls == 5 ? "5.0.0" : "4.4.1", 16);
}

/* Formats an RFC 5322 date. */
int
relayqd_bounce_date(long long t, char *buf, size_t bufsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	return 0;
}

/*
 * Appends "name:value" and CRLF, folding before a space when the line
 * would pass RELAYQD_BOUNCE_WIDTH.  A CR or LF in value becomes '?', so
 * that it can never start a field or a line of its own.
 */
static int
relayqd_bounce_field(struct buf *out, const char *name, const char *value)
{
	size_t start = strlen(name) + 1, col = start;
	const char *p = value;

	if (buf_adds(out, name) == -1 || buf_add(out, ":", 1) == -1)
		return -1;
	while (*p != '\0') {
		const char *e = p;
		size_t len;

		while (*e == ' ')
			e++;
		while (*e != '\0' && *e != ' ')
			e++;
		len = (size_t)(e - p);
		if (*p == ' ' && col > start &&
		    col + len > RELAYQD_BOUNCE_WIDTH) {
			if (buf_add(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
		}
		for (size_t k = 0; k < len; k++) {
			char c = p[k] == '\r' || p[k] == '\n' ? '?' : p[k];

			if (buf_add(out, &c, 1) == -1)
				return -1;
		}
		col += len;
		p = e;
	}
	return buf_add(out, "\r\n", 2);
}

/* Appends a field whose value is built with printf. */
static int relayqd_bounce_fieldf(struct buf *out, const char *name,
    const char *fmt, ...) RQ_PRINTF(3, 4);

/* Formats a value and appends it as a folded field. */
static int
relayqd_bounce_fieldf(struct buf *out, const char *name, const char *fmt, ...)
{
	char value[RELAYQD_BOUNCE_TEXT_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return relayqd_bounce_field(out, name, value);
}

/*
 * Appends text as lines of at most RELAYQD_BOUNCE_WIDTH columns broken
 * at spaces, each starting with indent.  text must hold no CR or LF.
 * A line may start with '.' (an address or a reply broken at a space):
 * relayqd_bounce_emit() stuffs it.
 */
static int
relayqd_bounce_wrap(struct buf *out, const char *indent, const char *text)
{
	size_t col = 0, ilen = strlen(indent);
	const char *p = text;

	while (*p == ' ')
		p++;
	while (*p != '\0') {
		const char *e = p;
		size_t len;

		while (*e != '\0' && *e != ' ')
			e++;
		len = (size_t)(e - p);
		if (col > 0 && col + 1 + len > RELAYQD_BOUNCE_WIDTH) {
			if (buf_add(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
		}
		if (col == 0) {
			if (buf_add(out, indent, ilen) == -1)
				return -1;
			col = ilen;
		} else {
			if (buf_add(out, " ", 1) == -1)
				return -1;
			col++;
		}
		if (buf_add(out, p, len) == -1)
			return -1;
		col += len;
		p = e;
		while (*p == ' ')
			p++;
	}
	if (col == 0)
		return 0;
	return buf_add(out, "\r\n", 2);
}

/* Formats a duration for people: "5 days", "3 hours", "90 seconds". */
static void
relayqd_bounce_duration(long long secs, char *buf, size_t bufsz)
{
	static const struct {
		long long unit;
		const char *name;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" } };

	for (size_t i = 0; i < RQ_NELEM(units); i++)
		if (secs >= units[i].unit && secs % units[i].unit == 0) {
			long long n = secs / units[i].unit;

			(void)snprintf(buf, bufsz, "%lld %s%s", n,
			    units[i].name, n == 1 ? "" : "s");
			return;
		}
	(void)snprintf(buf, bufsz, "%lld second%s", secs, secs == 1 ? "" : "s");
}

/* True when the n bytes at p hold a byte >= 0x80. */
static int
relayqd_bounce_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* True when needle occurs in the n bytes at hay. */
static int
relayqd_bounce_contains(const char *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle);

	if (hay == NULL || len == 0 || n < len)
		return 0;
	for (size_t i = 0; i + len <= n; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, len) == 0)
			return 1;
	return 0;
}

/* Appends the top-level header of the report. */
static int
relayqd_bounce_head(const struct relayqd_bounce *b, struct buf *out,
    const char *boundary, int eightbit)
{
	char date[64], host[RELAYQD_BOUNCE_TEXT_MAX];

	if (relayqd_bounce_date(b->now, date, sizeof(date)) == -1)
		return -1;
	relayqd_bounce_clean(host, sizeof(host), b->hostname);
	if (relayqd_bounce_fieldf(out, "From",
		" Mail Delivery System <MAILER-DAEMON@%s>", host) == -1 ||
	    relayqd_bounce_fieldf(out, "To", " <%s>", b->sender) == -1 ||
	    relayqd_bounce_field(out, "Subject",
		b->kind == RELAYQD_BOUNCE_FAILED
		    ? " Undelivered Mail Returned to Sender"
		    : " Delayed Mail (still being retried)") == -1 ||
	    relayqd_bounce_fieldf(out, "Date", " %s", date) == -1 ||
	    relayqd_bounce_fieldf(out, "Message-ID", " <%s@%s>", b->msgid,
		host) == -1 ||
	    relayqd_bounce_field(out, "Auto-Submitted", " auto-replied") ==
		-1 ||
	    relayqd_bounce_field(out, "MIME-Version", " 1.0") == -1 ||
	    buf_addf(out,
		"Content-Type: multipart/report; report-type=delivery-status;"
		"\r\n\tboundary=\"%s\"\r\n",
		boundary) == -1)
		return -1;
	if (eightbit &&
	    relayqd_bounce_field(out, "Content-Transfer-Encoding", " 8bit") ==
		-1)
		return -1;
	return buf_adds(out,
	    "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
}

/* Appends the human-readable paragraph about one recipient. */
static int
relayqd_bounce_text_rcpt(const struct relayqd_bounce *b,
    const struct relayqd_bounce_rcpt *r, struct buf *out)
{
	char addr[RELAYQD_BOUNCE_TEXT_MAX], reply[RELAYQD_BOUNCE_TEXT_MAX];
	char life[64], line[2 * RELAYQD_BOUNCE_TEXT_MAX];
	const char *what;
	char esc[16];
	const char *text;
	int code;

	relayqd_bounce_clean(addr, sizeof(addr), r->addr);
	relayqd_bounce_clean(reply, sizeof(reply), r->reply);
	relayqd_bounce_parse_reply(r->reply, &code, esc, &text);
	relayqd_bounce_duration(b->lifetime, life, sizeof(life));
	if (b->kind == RELAYQD_BOUNCE_DELAYED)
		what = reply[0] != '\0' ? "not delivered yet; the last error "
					  "was:"
					: "not delivered yet.";
	else if (r->expired)
		what = reply[0] != '\0' ? "could not be delivered within the "
					  "queue lifetime; the last error was:"
					: "could not be delivered within the "
					  "queue lifetime.";
	else if (code != 0)
		what = "delivery failed; the mail server replied:";
	else
		what = "delivery failed:";
	if (r->expired && b->kind == RELAYQD_BOUNCE_FAILED)
		(void)snprintf(line, sizeof(line), "<%s>: %s (%s)", addr, what,
		    life);
	else
		(void)snprintf(line, sizeof(line), "<%s>: %s", addr, what);
	if (relayqd_bounce_wrap(out, "", line) == -1)
		return -1;
	if (reply[0] != '\0' && relayqd_bounce_wrap(out, "    ", reply) == -1)
		return -1;
	return buf_add(out, "\r\n", 2);
}

/* Appends the text/plain part. */
static int
relayqd_bounce_text(const struct relayqd_bounce *b, struct buf *out)
{
	char host[RELAYQD_BOUNCE_TEXT_MAX], until[64];
	char line[RELAYQD_BOUNCE_TEXT_MAX + 256];

	relayqd_bounce_clean(host, sizeof(host), b->hostname);
	if (buf_adds(out,
		"Content-Description: Notification\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n"
		"\r\n") == -1)
		return -1;
	(void)snprintf(line, sizeof(line),
	    "This is the relayq mail system at %s.", host);
	if (relayqd_bounce_wrap(out, "", line) == -1 ||
	    buf_add(out, "\r\n", 2) == -1)
		return -1;
	if (b->kind == RELAYQD_BOUNCE_FAILED) {
		(void)snprintf(line, sizeof(line),
		    "Your message could not be delivered to the recipients "
		    "below, and no further attempt will be made. %s",
		    b->orig_full ? "The message is attached."
			: b->orig_truncated
			? "The message was too large to return; its header "
			  "is attached."
			: "The header of the message is attached.");
		if (relayqd_bounce_wrap(out, "", line) == -1)
			return -1;
	} else {
		if (relayqd_bounce_date(b->retry_until, until, sizeof(until)) ==
		    -1)
			return -1;
		(void)snprintf(line, sizeof(line),
		    "Your message has not been delivered yet to the "
		    "recipients below. Delivery will be tried again until "
		    "%s; you do not need to send it again.",
		    until);
		if (relayqd_bounce_wrap(out, "", line) == -1)
			return -1;
	}
	if (buf_add(out, "\r\n", 2) == -1)
		return -1;
	for (size_t i = 0; i < b->nrcpt; i++)
		if (relayqd_bounce_text_rcpt(b, &b->rcpts[i], out) == -1)
			return -1;
	return 0;
}

/* Appends an address field "type; addr" (utf-8 when not ASCII). */
static int
relayqd_bounce_addr_field(struct buf *out, const char *name, const char *addr)
{
	if (relayqd_bounce_has_8bit(addr, strlen(addr)))
		return relayqd_bounce_fieldf(out, name, " utf-8; %s", addr);
	return relayqd_bounce_fieldf(out, name, " rfc822; %s", addr);
}

/* Appends the per-recipient fields of one recipient. */
static int
relayqd_bounce_dsn_rcpt(const struct relayqd_bounce *b,
    const struct relayqd_bounce_rcpt *r, struct buf *out)
{
	char status[16], reply[RELAYQD_BOUNCE_TEXT_MAX], date[64];
	char orcpt[RELAYQD_BOUNCE_TEXT_MAX], mta[RELAYQD_BOUNCE_TEXT_MAX];
	const char *text, *semi;
	char esc[16];
	size_t at;
	int code;

	relayqd_bounce_status(b->kind, r, status);
	relayqd_bounce_clean(reply, sizeof(reply), r->reply);
	relayqd_bounce_parse_reply(r->reply, &code, esc, &text);
	if (buf_add(out, "\r\n", 2) == -1)
		return -1;
	if (r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) != NULL) {
		relayqd_bounce_clean(orcpt, sizeof(orcpt), r->orcpt);
		at = (size_t)(semi - r->orcpt);
		/* A cleaned copy cut before the ';' has no address part. */
		if (at < strlen(orcpt)) {
			orcpt[at] = '\0';
			if (relayqd_bounce_fieldf(out, "Original-Recipient",
				" %s; %s", orcpt, orcpt + at + 1) == -1)
				return -1;
		}
	}
	if (relayqd_bounce_addr_field(out, "Final-Recipient", r->addr) == -1 ||
	    relayqd_bounce_fieldf(out, "Action", " %s",
		b->kind == RELAYQD_BOUNCE_FAILED ? "failed" : "delayed") ==
		-1 ||
	    relayqd_bounce_fieldf(out, "Status", " %s", status) == -1)
		return -1;
	if (code != 0 && b->remote_mta != NULL) {
		relayqd_bounce_clean(mta, sizeof(mta), b->remote_mta);
		if (relayqd_bounce_fieldf(out, "Remote-MTA", " dns; %s", mta) ==
		    -1)
			return -1;
	}
	if (code != 0 &&
	    relayqd_bounce_fieldf(out, "Diagnostic-Code", " smtp; %s", reply) ==
		-1)
		return -1;
	if (code == 0 && reply[0] != '\0' &&
	    relayqd_bounce_fieldf(out, "Diagnostic-Code", " X-Relayq; %s",
		reply) == -1)
		return -1;
	if (r->last_try > 0 &&
	    (relayqd_bounce_date(r->last_try, date, sizeof(date)) == -1 ||
		relayqd_bounce_fieldf(out, "Last-Attempt-Date", " %s", date) ==
		    -1))
		return -1;
	if (b->kind == RELAYQD_BOUNCE_DELAYED &&
	    (relayqd_bounce_date(b->retry_until, date, sizeof(date)) == -1 ||
		relayqd_bounce_fieldf(out, "Will-Retry-Until", " %s", date) ==
		    -1))
		return -1;
	return 0;
}

/* Appends the message/delivery-status part. */
static int
relayqd_bounce_dsn(const struct relayqd_bounce *b, struct buf *out)
{
	char host[RELAYQD_BOUNCE_TEXT_MAX], envid[RELAYQD_BOUNCE_TEXT_MAX];
	char date[64];

	relayqd_bounce_clean(host, sizeof(host), b->hostname);
	if (buf_adds(out,
		"Content-Description: Delivery report\r\n"
		"Content-Type: message/delivery-status\r\n"
		"\r\n") == -1 ||
	    relayqd_bounce_fieldf(out, "Reporting-MTA", " dns; %s", host) ==
		-1 ||
	    relayqd_bounce_fieldf(out, "X-Relayq-Queue-ID", " %s",
		b->queue_id) == -1)
		return -1;
	if (b->envid != NULL && b->envid[0] != '\0') {
		relayqd_bounce_clean(envid, sizeof(envid), b->envid);
		if (relayqd_bounce_fieldf(out, "Original-Envelope-Id", " %s",
			envid) == -1)
			return -1;
	}
	if (b->arrival > 0 &&
	    (relayqd_bounce_date(b->arrival, date, sizeof(date)) == -1 ||
		relayqd_bounce_fieldf(out, "Arrival-Date", " %s", date) == -1))
		return -1;
	for (size_t i = 0; i < b->nrcpt; i++)
		if (relayqd_bounce_dsn_rcpt(b, &b->rcpts[i], out) == -1)
			return -1;
	return 0;
}

/* Appends the header of the part returning the original. */
static int
relayqd_bounce_orig_head(const struct relayqd_bounce *b, struct buf *out,
    int eightbit)
{
	if (b->orig_full) {
		if (buf_adds(out,
			"Content-Description: Undelivered Message\r\n"
			"Content-Type: message/rfc822\r\n") == -1 ||
		    (eightbit &&
			buf_adds(out, "Content-Transfer-Encoding: 8bit\r\n") ==
			    -1))
			return -1;
	} else if (buf_adds(out,
		       "Content-Description: Message Headers\r\n"
		       "Content-Type: text/rfc822-headers\r\n") == -1)
		return -1;
	return buf_add(out, "\r\n", 2);
}

/* Appends the original message or its header, as stored (wire form). */
static int
relayqd_bounce_orig(const struct relayqd_bounce *b, struct buf *out)
{
	if (b->orig == NULL || b->orig_len == 0)
		return 0;
	if (buf_add(out, b->orig, b->orig_len) == -1)
		return -1;
	if (b->orig_len < 2 || memcmp(b->orig + b->orig_len - 2, "\r\n", 2))
		return buf_add(out, "\r\n", 2);
	return 0;
}

/* True when the report of b holds 8-bit bytes. */
int
relayqd_bounce_is_8bit(const struct relayqd_bounce *b)
{
	int eightbit;

	/* All else is cleaned to ASCII: the original and the addresses. */
	eightbit =
	    b->orig != NULL && relayqd_bounce_has_8bit(b->orig, b->orig_len);
	eightbit |= relayqd_bounce_has_8bit(b->sender, strlen(b->sender));
	for (size_t i = 0; i < b->nrcpt; i++)
		eightbit |= relayqd_bounce_has_8bit(b->rcpts[i].addr,
		    strlen(b->rcpts[i].addr));
	return eightbit;
}

/*
 * Appends the n bytes of generated text at p (CRLF lines) to out under
 * the queue writer's rules: each line starting with '.' is dot-stuffed,
 * one longer than RELAYQD_BOUNCE_LINE_MAX is broken onto continuation
 * lines that start with a space, a CR, LF or NUL that does not belong to
 * a CRLF becomes '?', and the text ends with CRLF.
 */
static int
relayqd_bounce_emit(struct buf *out, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t e = i, col = 0;

		while (
		    e < n && !(p[e] == '\r' && e + 1 < n && p[e + 1] == '\n'))
			e++;
		if (e > i && p[i] == '.' && buf_add(out, ".", 1) == -1)
			return -1;
		for (size_t k = i; k < e; k++) {
			char c = p[k];

			if (col == RELAYQD_BOUNCE_LINE_MAX - 1 && k + 1 < e) {
				if (buf_add(out, "\r\n ", 3) == -1)
					return -1;
				col = 1;
			}
			if (c == '\r' || c == '\n' || c == '\0')
				c = '?';
			if (buf_add(out, &c, 1) == -1)
				return -1;
			col++;
		}
		if (buf_add(out, "\r\n", 2) == -1)
			return -1;
		i = e + 2;
	}
	return 0;
}

/* Builds the whole report. */
int
relayqd_bounce_build(const struct relayqd_bounce *b, struct buf *out)
{
	char boundary[128];
	struct buf gen;
	int eightbit, rv;

	if (b->nrcpt == 0 || b->rcpts == NULL || b->sender == NULL ||
	    b->hostname == NULL || b->queue_id == NULL || b->msgid == NULL) {
		errno = EINVAL;
		return -1;
	}
	eightbit = relayqd_bounce_is_8bit(b);
	/* A boundary that the returned message happens to contain is
	 * changed until it does not occur. */
	for (int n = 0;; n++) {
		if ((n == 0 ? snprintf(boundary, sizeof(boundary), "=_%s/%s",
				  b->queue_id, b->msgid)
			    : snprintf(boundary, sizeof(boundary), "=_%s/%s/%d",
				  b->queue_id, b->msgid, n)) >= 70) {
			errno = EINVAL;
			return -1;
		}
		if (!relayqd_bounce_contains(b->orig, b->orig_len, boundary))
			break;
	}
	/* What we generate, laid out as lines, then put in wire form. */
	buf_init(&gen, out->max);
	rv = relayqd_bounce_head(b, &gen, boundary, eightbit) == -1 ||
	    buf_addf(&gen, "--%s\r\n", boundary) == -1 ||
	    relayqd_bounce_text(b, &gen) == -1 ||
	    buf_addf(&gen, "\r\n--%s\r\n", boundary) == -1 ||
	    relayqd_bounce_dsn(b, &gen) == -1 ||
	    buf_addf(&gen, "\r\n--%s\r\n", boundary) == -1 ||
	    relayqd_bounce_orig_head(b, &gen, eightbit) == -1 ||
	    relayqd_bounce_emit(out, gen.data, gen.len) == -1 ||
	    relayqd_bounce_orig(b, out) == -1 ||
	    buf_addf(out, "\r\n--%s--\r\n", boundary) == -1;
	buf_free(&gen);
	if (rv) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Reads exactly n bytes at off; EIO when the file is shorter. */
static int
relayqd_bounce_pread(int fd, char *p, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Reads the original message, or its header, into out. */
int
relayqd_bounce_read_original(int fd, uint64_t off, uint64_t len, int want_full,
    struct buf *out, int *full)
{
	size_t n, keep;
	char *data;
	int rv;

	*full = want_full && len <= RELAYQD_BOUNCE_FULL_MAX;
	n = (size_t)(*full || len <= RELAYQD_BOUNCE_HDR_MAX
		? len
		: RELAYQD_BOUNCE_HDR_MAX);
	if (n == 0)
		return 0;
	data = xmalloc(n);
	if (relayqd_bounce_pread(fd, data, n, off) == -1) {
		int saved = errno;

		free(data);
		errno = saved;
		return -1;
	}
	keep = n;
	if (!*full) {
		/* The header ends at the first empty line. */
		keep = 0;
		if (n >= 2 && memcmp(data, "\r\n", 2) == 0)
			keep = 0;
		else {
			size_t i;

			for (i = 0; i + 4 <= n; i++)
				if (memcmp(data + i, "\r\n\r\n", 4) == 0)
					break;
			if (i + 4 <= n)
				keep = i + 2;
			else if (n == len)
				keep = n; /* a message without a body */
			else
				for (keep = n; keep >= 2 &&
				     memcmp(data + keep - 2, "\r\n", 2) != 0;
				     keep--)
					;
			if (keep < 2)
				keep = 0;
		}
	}
	rv = keep > 0 ? buf_add(out, data, keep) : 0;
	free(data);
	return rv;
}

/* The addresses a report goes to. */
int
relayqd_bounce_recipients(const struct aliases *a, const char *sender,
    const char *domain, const char *hostname, struct addr_list *out,
    aliases_warn_fn warn, void *arg)
{
	if (sender == NULL || sender[0] == '\0')
		return -1;
	return aliases_resolve(a, sender, domain, hostname, out, warn, arg);
}

/*
 * Commits the report of b into queue/ with the null sender; its
 * Message-ID is its own queue id.
 */
int
relayqd_bounce_queue(struct queue_spool *sp, const char *const *rcpts, size_t n,
    const struct relayqd_bounce *b, char id[QUEUE_ID_LEN + 1],
    struct rq_err *err)
{
	struct relayqd_bounce mine = *b;
	struct queue_writer *w;
	struct queue_env e;
	struct buf text;
	int rv = -1, saved;

	queue_env_init(&e);
	e.arrival = (long long)time(NULL);
	e.uid = (long long)geteuid();
	e.sender = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		if (queue_env_add_rcpt(&e, rcpts[i]) == -1) {
			saved = errno;
			rq_err_set(err, "bad report recipient <%s>", rcpts[i]);
			queue_env_free(&e);
			errno = saved;
			return -1;
		}
		if (addr_is_utf8(rcpts[i]))
			e.flags |= QUEUE_ENV_F_SMTPUTF8;
	}
	if (relayqd_bounce_is_8bit(b))
		e.flags |= QUEUE_ENV_F_8BIT;
	buf_init(&text, RELAYQD_BOUNCE_MAX);
	w = xmalloc(sizeof(*w));
	/* The writer makes the queue id, which the text then names. */
	if (queue_writer_begin(w, sp, &e, err) == -1)
		goto out;
	mine.msgid = e.id;
	if (relayqd_bounce_build(&mine, &text) == -1) {
		saved = errno;
		rq_err_set(err, "cannot build the report: %s", strerror(errno));
		queue_writer_abort(w);
		errno = saved;
		goto out;
	}
	if (queue_writer_body(w, text.data, text.len) == -1) {
		saved = errno;
		rq_err_set(err, "cannot write the report: %s", strerror(errno));
		queue_writer_abort(w);
		errno = saved;
		goto out;
	}
	if (queue_writer_commit(w, QUEUE_DIR_QUEUE, err) == -1)
		goto out;
	memcpy(id, e.id, QUEUE_ID_LEN + 1);
	rv = 0;
out:
	saved = errno;
	free(w);
	buf_free(&text);
	queue_env_free(&e);
	errno = saved;
	return rv;
}
