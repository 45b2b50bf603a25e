/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The message as piped to sendmail, rewritten into the wire form the
 * spool stores (queue_env.h).  Input is cut into line pieces of at most
 * SENDMAIL_MSG_LINE_MAX octets; each piece ends in one of four ways:
 *
 *   LF    LF, CRLF, or any run of CRs before an LF: one line end;
 *   CR    a run of CRs followed by another byte (a bare CR, as progress
 *         bars write): policy (a) of sendmail-cli.md 6.1, a line break;
 *   FULL  the piece reached 998 octets and the line goes on;
 *   EOF   the input ended inside a line (the newline is added).
 *
 * A NUL byte fails the message (SENDMAIL_MSG_ERR_NUL, exit 65): RFC 5322
 * forbids NUL, and the project's rule for bad input is a clear error with
 * nothing queued rather than a silently altered message.
 *
 * Header section: a first line starting with "From " (mbox postmark) is
 * dropped.  Lines are fields ("name:" with printable ASCII names not
 * starting with '.') or continuations (leading WSP); an empty line ends
 * the section, and so does any other line, which then becomes the first
 * body line (the empty separator line is always written by us).  Inside
 * a header, a bare CR becomes CRLF SP (a fold, so the field stays one
 * field) and an over-long line is folded before its last white space,
 * or, when it has none, broken with CRLF SP.  Fields are kept
 * byte-for-byte otherwise and are held in memory (bounded by
 * max_header) until start_body(), because -t and the added fields need
 * the whole section.  On output, Bcc and Resent-Bcc fields are dropped
 * whole (continuation lines included), and From, Date and Message-ID are
 * appended after the existing fields when (and only when) no field of
 * that name exists.  Received: (and, when the caller asks, Sendmail's
 * X-Authentication-Warning for a sender a user chose) go first.  Bare
 * local parts in From, To and Cc are qualified with default_domain (From
 * with masquerade when set), unless that would make a line longer than
 * SENDMAIL_MSG_LINE_MAX; other fields are kept.
 *
 * Body: streamed.  Every wire line starting with '.' gets another '.'
 * (the spool keeps the SMTP form); over-long lines are broken with CRLF;
 * without -i a lone "." line (only a real input line, not a piece made
 * by a break) ends the message and the rest of the input is read and
 * discarded.  ".." is never un-stuffed.  The final ".\r\n" is not
 * stored.
 *
 * Size: max_size applies to the wire bytes (headers included), the same
 * count SIZE= will give the smarthost.
 */
#include "config.h"

#include "sendmail/sendmail_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_submit.h"

enum sendmail_msg_ev {
	SENDMAIL_MSG_EV_LF,
	SENDMAIL_MSG_EV_CR,
	SENDMAIL_MSG_EV_FULL,
	SENDMAIL_MSG_EV_EOF
};

/* Longest display name put into a generated From:, in input bytes. */
#define SENDMAIL_MSG_NAME_MAX 256

/* Prepares a message. */
void
sendmail_msg_init(struct sendmail_msg *m, const struct sendmail_msg_params *p)
{
	memset(m, 0, sizeof(*m));
	m->p = *p;
	if (m->p.max_header == 0)
		m->p.max_header = SENDMAIL_MSG_HEADER_MAX;
	if (m->p.flush_at == 0)
		m->p.flush_at = 64 * 1024;
	m->state = SENDMAIL_MSG_ST_HEADER;
	m->seg_first = 1;
	m->first_line = 1;
	buf_init(&m->hdr, m->p.max_header);
	/* Room for a flush's worth plus one field or line more. */
	buf_init(&m->out, m->p.flush_at + m->p.max_header + 4096);
}

/* Frees a message's memory. */
void
sendmail_msg_free(struct sendmail_msg *m)
{
	buf_free(&m->hdr);
	buf_free(&m->out);
	free(m->fields);
	m->fields = NULL;
	m->nfields = m->capfields = 0;
}

/* Passes the buffered output to the sink. */
static int
sendmail_msg_flush(struct sendmail_msg *m)
{
	if (m->out.len == 0)
		return 0;
	if (m->p.sink(m->p.sink_arg, m->out.data, m->out.len) == -1) {
		m->sink_errno = errno;
		m->error = SENDMAIL_MSG_ERR_SINK;
		return -1;
	}
	buf_reset(&m->out);
	return 0;
}

/* Appends wire bytes to the output, enforcing the size limit. */
static int
sendmail_msg_out(struct sendmail_msg *m, const char *p, size_t n)
{
	m->wire_size += (long long)n;
	if (m->p.max_size > 0 && m->wire_size > m->p.max_size) {
		m->error = SENDMAIL_MSG_ERR_SIZE;
		return -1;
	}
	if (m->out.len >= m->p.flush_at && sendmail_msg_flush(m) == -1)
		return -1;
	if (buf_add(&m->out, p, n) == -1) {
		/* Only a single add bigger than the slack: flush and retry. */
		if (sendmail_msg_flush(m) == -1)
			return -1;
		if (buf_add(&m->out, p, n) == -1) {
			m->error = SENDMAIL_MSG_ERR_HEADER;
			return -1;
		}
	}
	return 0;
}

/* Writes one body line piece, dot-stuffed, with CRLF. */
static int
sendmail_msg_body_line(struct sendmail_msg *m, const char *s, size_t len)
{
	if (len > 0 && s[0] == '.' && sendmail_msg_out(m, ".", 1) == -1)
		return -1;
	if (sendmail_msg_out(m, s, len) == -1)
		return -1;
	return sendmail_msg_out(m, "\r\n", 2);
}

/* Handles a finished piece in the body phase. */
static int
sendmail_msg_body_seg(struct sendmail_msg *m, int ev)
{
	int hard = ev == SENDMAIL_MSG_EV_LF || ev == SENDMAIL_MSG_EV_EOF;

	if (hard && m->seg_first && !m->p.ignore_dots && m->seglen == 1 &&
	    m->seg[0] == '.') {
		m->input_done = 1;
		m->state = SENDMAIL_MSG_ST_DISCARD;
		m->seglen = 0;
		return 0;
	}
	if (ev == SENDMAIL_MSG_EV_FULL)
		m->nsplit++;
	else if (ev == SENDMAIL_MSG_EV_CR)
		m->nbarecr++;
	if (sendmail_msg_body_line(m, m->seg, m->seglen) == -1)
		return -1;
	m->seglen = 0;
	m->seg_first = hard;
	return 0;
}

/* Returns the length of the field name when s starts a header field. */
static size_t
sendmail_msg_field_name(const char *s, size_t len)
{
	size_t n = 0, i;

	while (n < len && s[n] > 32 && s[n] < 127 && s[n] != ':')
		n++;
	if (n == 0 || s[0] == '.')
		return 0;
	for (i = n; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	return i < len && s[i] == ':' ? n : 0;
}

/* Appends bytes to the header section. */
static int
sendmail_msg_hdr_add(struct sendmail_msg *m, const char *p, size_t n)
{
	if (buf_add(&m->hdr, p, n) == -1) {
		m->error = SENDMAIL_MSG_ERR_HEADER;
		return -1;
	}
	if (m->nfields > 0)
		m->fields[m->nfields - 1].len += n;
	return 0;
}

/* Starts a new header field. */
static void
sendmail_msg_hdr_field(struct sendmail_msg *m, size_t namelen)
{
	if (m->nfields == m->capfields) {
		m->capfields = m->capfields == 0 ? 32 : m->capfields * 2;
		m->fields =
		    xreallocarray(m->fields, m->capfields, sizeof(*m->fields));
	}
	m->fields[m->nfields].off = m->hdr.len;
	m->fields[m->nfields].len = 0;
	m->fields[m->nfields].namelen = namelen;
	m->nfields++;
}

/* Marks the end of the header section. */
static void
sendmail_msg_hdr_end(struct sendmail_msg *m)
{
	m->state = SENDMAIL_MSG_ST_HDR_DONE;
	m->first_line = 0;
}

/*
 * Handles a finished piece in the header phase.  A piece of a field that
 * is over-long (FULL) is cut before its last white space so that the
 * rest, which starts with that white space, continues the field.
 */
static int
sendmail_msg_hdr_seg(struct sendmail_msg *m, int ev)
{
	int hard = ev == SENDMAIL_MSG_EV_LF || ev == SENDMAIL_MSG_EV_EOF;
	size_t namelen = 0, cut = m->seglen, min = 1;

	if (m->dropping) {
		m->seglen = 0;
		m->dropping = !hard;
		m->seg_first = hard;
		return 0;
	}
	if (m->first_line && m->seg_first && m->seglen >= 5 &&
	    memcmp(m->seg, "From ", 5) == 0) {
		m->first_line = 0;
		m->seglen = 0;
		m->dropping = !hard;
		m->seg_first = hard;
		return 0;
	}
	m->first_line = 0;
	if (m->seg_first) {
		if (m->seglen == 0 && ev != SENDMAIL_MSG_EV_FULL) {
			sendmail_msg_hdr_end(m);
			m->seg_first = 1;
			return 0;
		}
		if (hard && !m->p.ignore_dots && m->seglen == 1 &&
		    m->seg[0] == '.') {
			m->input_done = 1;
			m->seglen = 0;
			sendmail_msg_hdr_end(m);
			return 0;
		}
		if ((m->seg[0] == ' ' || m->seg[0] == '\t') && m->nfields > 0)
			; /* continuation line */
		else if ((namelen = sendmail_msg_field_name(m->seg,
			      m->seglen)) > 0)
			min = namelen + 1;
		else {
			/* Not a header line: it starts the body. */
			m->carry = 1;
			m->carry_ev = ev;
			sendmail_msg_hdr_end(m);
			return 0;
		}
	} else if (m->nfields == 0) {
		m->carry = 1;
		m->carry_ev = ev;
		sendmail_msg_hdr_end(m);
		return 0;
	}
	if (ev == SENDMAIL_MSG_EV_FULL) {
		for (size_t j = m->seglen - 1; j > min; j--) {
			if (m->seg[j] == ' ' || m->seg[j] == '\t') {
				cut = j;
				break;
			}
		}
		m->nsplit++;
	} else if (ev == SENDMAIL_MSG_EV_CR)
		m->nbarecr++;
	if (namelen > 0)
		sendmail_msg_hdr_field(m, namelen);
	if (sendmail_msg_hdr_add(m, m->seg, cut) == -1 ||
	    sendmail_msg_hdr_add(m, "\r\n", 2) == -1)
		return -1;
	if (cut < m->seglen) {
		/* The rest starts with white space: a natural fold. */
		memmove(m->seg, m->seg + cut, m->seglen - cut);
		m->seglen -= cut;
	} else if (!hard) {
		/* A forced break: the next piece is a continuation. */
		m->seg[0] = ' ';
		m->seglen = 1;
	} else
		m->seglen = 0;
	m->seg_first = hard;
	return 0;
}

/* Dispatches a finished piece to the current phase. */
static int
sendmail_msg_seg_end(struct sendmail_msg *m, int ev)
{
	if (m->state == SENDMAIL_MSG_ST_HEADER)
		return sendmail_msg_hdr_seg(m, ev);
	return sendmail_msg_body_seg(m, ev);
}

/* True when every CRLF-ended line of s[0..n) fits SENDMAIL_MSG_LINE_MAX. */
static int
sendmail_msg_lines_fit(const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)((eol != NULL ? eol : end) - s);

		if (len > SENDMAIL_MSG_LINE_MAX + 1) /* + the CR */
			return 0;
		if (eol == NULL)
			break;
		s = eol + 1;
	}
	return 1;
}

/*
 * Body fast path: the length of the run of ordinary bytes (no NUL, CR or
 * LF) at p, at most room.  The caller copies it whole; the byte after it,
 * if any, goes through the byte-wise state machine.
 */
static size_t
sendmail_msg_body_run(const char *p, size_t room)
{
	const char *end, *q;

	if ((end = memchr(p, '\n', room)) == NULL)
		end = p + room;
	if ((q = memchr(p, '\r', (size_t)(end - p))) != NULL)
		end = q;
	if ((q = memchr(p, '\0', (size_t)(end - p))) != NULL)
		end = q;
	return (size_t)(end - p);
}

/* Pushes input bytes. */
int
sendmail_msg_feed(struct sendmail_msg *m, const char *p, size_t len,
    size_t *used)
{
	size_t k;

	*used = 0;
	if (m->error != SENDMAIL_MSG_ERR_NONE)
		return -1;
	if (m->state == SENDMAIL_MSG_ST_HDR_DONE)
		return 0;
	for (k = 0; k < len; k++) {
		unsigned char c;

		if (m->state == SENDMAIL_MSG_ST_BODY && m->ncr == 0 &&
		    m->seglen < SENDMAIL_MSG_LINE_MAX) {
			size_t room = SENDMAIL_MSG_LINE_MAX - m->seglen;
			size_t run = sendmail_msg_body_run(p + k,
			    len - k < room ? len - k : room);

			if (!m->eightbit && str_has_8bit(p + k, run))
				m->eightbit = 1;
			memcpy(m->seg + m->seglen, p + k, run);
			m->seglen += run;
			if ((k += run) == len)
				break;
		}
		c = (unsigned char)p[k];
		if (m->state == SENDMAIL_MSG_ST_DISCARD) {
			k = len;
			break;
		}
		if (c == '\0') {
			m->nuls++;
			m->error = SENDMAIL_MSG_ERR_NUL;
			*used = k;
			return -1;
		}
		if (c == '\r') {
			m->ncr++;
			continue;
		}
		if (c == '\n') {
			m->ncr = 0;
			if (sendmail_msg_seg_end(m, SENDMAIL_MSG_EV_LF) == -1)
				return -1;
			if (m->state == SENDMAIL_MSG_ST_HDR_DONE) {
				k++;
				break;
			}
			continue;
		}
		if (m->ncr > 0) {
			m->ncr = 0;
			if (sendmail_msg_seg_end(m, SENDMAIL_MSG_EV_CR) == -1)
				return -1;
			if (m->state != SENDMAIL_MSG_ST_HEADER &&
			    m->state != SENDMAIL_MSG_ST_BODY)
				break;
		}
		if (m->seglen == SENDMAIL_MSG_LINE_MAX) {
			if (sendmail_msg_seg_end(m, SENDMAIL_MSG_EV_FULL) == -1)
				return -1;
			if (m->state == SENDMAIL_MSG_ST_HDR_DONE)
				break;
		}
		if (c >= 0x80)
			m->eightbit = 1;
		m->seg[m->seglen++] = (char)c;
	}
	*used = k;
	return 0;
}

/* Signals the end of the input. */
int
sendmail_msg_end_input(struct sendmail_msg *m)
{
	if (m->error != SENDMAIL_MSG_ERR_NONE)
		return -1;
	if ((m->state == SENDMAIL_MSG_ST_HEADER ||
		m->state == SENDMAIL_MSG_ST_BODY) &&
	    (m->ncr > 0 || m->seglen > 0 || m->dropping)) {
		m->ncr = 0;
		if (sendmail_msg_seg_end(m, SENDMAIL_MSG_EV_EOF) == -1)
			return -1;
	}
	if (m->state == SENDMAIL_MSG_ST_HEADER)
		sendmail_msg_hdr_end(m);
	else if (m->state == SENDMAIL_MSG_ST_BODY)
		m->state = SENDMAIL_MSG_ST_DISCARD;
	m->input_done = 1;
	return 0;
}

/* Returns nonzero once the header section is complete. */
int
sendmail_msg_headers_done(const struct sendmail_msg *m)
{
	return m->state != SENDMAIL_MSG_ST_HEADER;
}

/* Returns nonzero when field f is named name (case-insensitively). */
static int
sendmail_msg_field_is(const struct sendmail_msg *m,
    const struct sendmail_msg_field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	    strncasecmp(m->hdr.data + f->off, name, f->namelen) == 0;
}

/* Returns nonzero when a field called name exists. */
static int
sendmail_msg_has_field(const struct sendmail_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (sendmail_msg_field_is(m, &m->fields[i], name))
			return 1;
	return 0;
}

/* Extracts the -t recipients. */
int
sendmail_msg_rcpts(const struct sendmail_msg *m, struct addr_list *out,
    size_t *nbad, const char **errstr)
{
	static const char *plain[] = { "To", "Cc", "Bcc" };
	static const char *resent[] = { "Resent-To", "Resent-Cc",
		"Resent-Bcc" };
	const char **names = plain;
	int added = 0;

	*nbad = 0;
	for (size_t k = 0; k < RQ_NELEM(resent); k++)
		if (sendmail_msg_has_field(m, resent[k]))
			names = resent;
	for (size_t i = 0; i < m->nfields; i++) {
		const struct sendmail_msg_field *f = &m->fields[i];
		const char *v, *end;
		size_t bad = 0;

		if (!sendmail_msg_field_is(m, f, names[0]) &&
		    !sendmail_msg_field_is(m, f, names[1]) &&
		    !sendmail_msg_field_is(m, f, names[2]))
			continue;
		v = m->hdr.data + f->off + f->namelen;
		end = m->hdr.data + f->off + f->len - 2; /* before CRLF */
		v = (const char *)memchr(v, ':', (size_t)(end - v)) + 1;
		added += addr_parse_list_ex(v, (size_t)(end - v), m->p.domain,
		    m->p.keep_bare ? ADDR_F_KEEP_BARE : 0, out, &bad, errstr);
		*nbad += bad;
	}
	return added;
}

/* Returns 64 random bits (best effort: only uniqueness matters). */
static unsigned long long
sendmail_msg_random(void)
{
	unsigned long long r = 0;
	int fd;

#ifdef HAVE_GETRANDOM
	if (getrandom(&r, sizeof(r), 0) == (ssize_t)sizeof(r))
		return r;
#endif
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			r = 0;
		(void)close(fd);
	}
	if (r == 0) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_REALTIME, &ts);
		r = ((unsigned long long)ts.tv_nsec << 20) ^
		    (unsigned long long)(uintptr_t)&r ^
		    (unsigned long long)getpid();
	}
	return r;
}

/* Appends s as base64 to b. */
static int
sendmail_msg_base64(struct buf *b, const unsigned char *s, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? tab[v & 63] : '=';
		if (buf_add(b, q, 4) == -1)
			return -1;
	}
	return 0;
}

/* Returns nonzero when c may appear unquoted in a display name. */
static int
sendmail_msg_phrase_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == ' ')
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Appends a display name: as it is when it is atoms and spaces, as a
 * quoted-string when it is other printable ASCII, and as RFC 2047
 * UTF-8 B encoded-words (folded, each under 76 octets, never splitting
 * a UTF-8 sequence) when it has 8-bit bytes.
 */
static int
sendmail_msg_phrase(struct buf *b, const char *name)
{
	unsigned char s[SENDMAIL_MSG_NAME_MAX];
	size_t len = 0, i;
	int atoms = 1, ascii = 1;

	/* Controls become spaces; the name is trimmed and bounded. */
	for (const char *p = name; *p != '\0' && len < sizeof(s); p++) {
		unsigned char c = (unsigned char)*p;

		s[len++] = c < 0x20 || c == 0x7f ? ' ' : c;
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	for (i = 0; i < len && s[i] == ' '; i++)
		;
	for (size_t k = i; k < len; k++) {
		if (s[k] >= 0x80)
			ascii = 0;
		else if (!sendmail_msg_phrase_char(s[k]))
			atoms = 0;
	}
	if (ascii && atoms)
		return buf_add(b, s + i, len - i);
	if (ascii) {
		if (buf_add(b, "\"", 1) == -1)
			return -1;
		for (; i < len; i++) {
			if ((s[i] == '"' || s[i] == '\\') &&
			    buf_add(b, "\\", 1) == -1)
				return -1;
			if (buf_add(b, &s[i], 1) == -1)
				return -1;
		}
		return buf_add(b, "\"", 1);
	}
	while (i < len) {
		size_t n = len - i > 45 ? 45 : len - i;

		/*
		 * Back up to the start of a UTF-8 sequence: at most 3 bytes,
		 * so bytes that are not UTF-8 cannot shrink a word to one.
		 */
		for (int back = 0; back < 3 && n < len - i && n > 1 &&
		     (s[i + n] & 0xc0) == 0x80;
		     back++)
			n--;
		if (buf_adds(b, "=?UTF-8?B?") == -1 ||
		    sendmail_msg_base64(b, s + i, n) == -1 ||
		    buf_adds(b, "?=") == -1)
			return -1;
		i += n;
		if (i < len && buf_adds(b, "\r\n ") == -1)
			return -1;
	}
	return 0;
}

/* Returns nonzero when domain d (len bytes) names this host. */
static int
sendmail_msg_local_domain(const struct sendmail_msg *m, const char *d)
{
	return strcasecmp(d, "localhost") == 0 ||
	    strcasecmp(d, "localhost.localdomain") == 0 ||
	    (m->p.hostname != NULL && strcasecmp(d, m->p.hostname) == 0);
}

/*
 * With masquerade: rewrites a From: value holding one local mailbox as
 * "Name <local@masquerade>" into b.  Returns 1 when rewritten, 0 when
 * the field is not a single local mailbox, -1 on error.
 */
static int
sendmail_msg_masq_from(const struct sendmail_msg *m, const char *v, size_t len,
    struct buf *b)
{
	const char *errstr = NULL, *at;
	char *addr = NULL, *name = NULL;
	int bare = 0, rv = 0;

	if (addr_parse_mailbox_name(v, len, m->p.masquerade, &addr, &name,
		&bare, &errstr) == -1)
		return 0;
	at = strrchr(addr, '@');
	if (addr[0] != '"' && at != NULL &&
	    (bare || sendmail_msg_local_domain(m, at + 1))) {
		rv = 1;
		if (buf_adds(b, "From: ") == -1 ||
		    (name != NULL &&
			(sendmail_msg_phrase(b, name) == -1 ||
			    buf_adds(b, " ") == -1)) ||
		    buf_addf(b, "<%.*s@%s>\r\n", (int)(at - addr), addr,
			m->p.masquerade) == -1)
			rv = -1;
	}
	free(addr);
	free(name);
	return rv;
}

/* Notes non-ASCII addresses (not names) in an address field's value. */
static void
sendmail_msg_scan_utf8(struct sendmail_msg *m, const char *v, size_t len)
{
	struct addr_list l;
	const char *errstr = NULL;
	size_t nbad;

	addr_list_init(&l);
	(void)addr_parse_list_ex(v, len, m->p.domain, 0, &l, &nbad, &errstr);
	for (size_t i = 0; i < l.n; i++)
		if (addr_is_utf8(l.v[i]))
			m->hdr_utf8 = 1;
	addr_list_free(&l);
}

/*
 * Writes field f, rewritten when it is From, To or Cc with bare local
 * parts (or a local From under masquerade).
 */
static int
sendmail_msg_put_field(struct sendmail_msg *m,
    const struct sendmail_msg_field *f)
{
	static const char *addrf[] = { "From", "To", "Cc", "Bcc", "Sender",
		"Reply-To" };
	const char *raw = m->hdr.data + f->off, *v;
	size_t vlen;
	int is_from = sendmail_msg_field_is(m, f, "From"), rv, any = 0;
	char *q = NULL;
	size_t qlen;
	struct buf b;

	for (size_t i = 0; i < RQ_NELEM(addrf); i++)
		if (sendmail_msg_field_is(m, f, addrf[i]))
			any = 1;
	if (sendmail_msg_field_is(m, f, "Resent-Bcc"))
		return 0;
	if (!any)
		return sendmail_msg_out(m, raw, f->len);
	v = (const char *)memchr(raw + f->namelen, ':', f->len - f->namelen) +
	    1;
	vlen = (size_t)(raw + f->len - 2 - v);
	sendmail_msg_scan_utf8(m, v, vlen);
	if (sendmail_msg_field_is(m, f, "Bcc"))
		return 0;
	if (!is_from && !sendmail_msg_field_is(m, f, "To") &&
	    !sendmail_msg_field_is(m, f, "Cc"))
		return sendmail_msg_out(m, raw, f->len);
	buf_init(&b, f->len + 1024);
	if (is_from && m->p.masquerade != NULL && m->p.masquerade[0] != '\0') {
		rv = sendmail_msg_masq_from(m, v, vlen, &b);
		if (rv == -1 && m->error == SENDMAIL_MSG_ERR_NONE)
			m->error = SENDMAIL_MSG_ERR_HEADER;
		if (rv != 0) {
			if (rv == 1) {
				m->nrewritten++;
				rv = sendmail_msg_out(m, b.data, b.len);
			}
			buf_free(&b);
			return rv;
		}
	}
	if (addr_qualify_value(v, vlen,
		is_from && m->p.masquerade != NULL && m->p.masquerade[0] != '\0'
		    ? m->p.masquerade
		    : m->p.domain,
		&q, &qlen) <= 0) {
		buf_free(&b);
		return sendmail_msg_out(m, raw, f->len);
	}
	rv = -1;
	if (buf_add(&b, raw, (size_t)(v - raw)) == 0 &&
	    buf_add(&b, q, qlen) == 0 && buf_add(&b, "\r\n", 2) == 0) {
		/* Qualifying must not make a line too long: keep it as is. */
		if (sendmail_msg_lines_fit(b.data, b.len)) {
			m->nrewritten++;
			rv = sendmail_msg_out(m, b.data, b.len);
		} else
			rv = sendmail_msg_out(m, raw, f->len);
	} else
		m->error = SENDMAIL_MSG_ERR_HEADER;
	free(q);
	buf_free(&b);
	return rv;
}

/* Builds the Received: field put first (queue_submit.h: both paths). */
static int
sendmail_msg_received(const struct sendmail_msg *m, struct buf *b)
{
	if (m->p.received == NULL)
		return 0;
	return queue_submit_received(b, m->p.hostname, m->p.uid, m->p.received,
	    m->p.helo, m->p.now);
}

/* Builds the X-Authentication-Warning (queue_submit.h: both paths). */
static int
sendmail_msg_auth_warning(const struct sendmail_msg *m, struct buf *b)
{
	if (m->p.warn_user == NULL)
		return 0;
	return queue_submit_auth_warning(b, m->p.hostname, m->p.warn_user,
	    m->p.sender != NULL ? m->p.sender : "", m->p.warn_via);
}

/* Builds the header fields the message lacks into b. */
static int
sendmail_msg_added(const struct sendmail_msg *m, struct buf *b)
{
	time_t now = m->p.now != 0 ? m->p.now : time(NULL);
	long pid = m->p.pid != 0 ? m->p.pid : (long)getpid();
	char date[64];
	struct tm tm;

	if (!sendmail_msg_has_field(m, "From")) {
		if (m->p.sender == NULL || m->p.sender[0] == '\0') {
			if (buf_addf(b, "From: MAILER-DAEMON@%s\r\n",
				m->p.domain) == -1)
				return -1;
		} else if (m->p.fullname != NULL && m->p.fullname[0] != '\0') {
			if (buf_adds(b, "From: ") == -1 ||
			    sendmail_msg_phrase(b, m->p.fullname) == -1 ||
			    buf_addf(b, " <%s>\r\n", m->p.sender) == -1)
				return -1;
		} else if (buf_addf(b, "From: %s\r\n", m->p.sender) == -1)
			return -1;
	}
	if (!sendmail_msg_has_field(m, "Date")) {
		if (queue_submit_date(now, date, sizeof(date)) == -1 ||
		    buf_addf(b, "Date: %s\r\n", date) == -1)
			return -1;
	}
	if (m->p.undisclosed && !sendmail_msg_has_field(m, "To") &&
	    !sendmail_msg_has_field(m, "Cc") &&
	    buf_adds(b, "To: undisclosed-recipients:;\r\n") == -1)
		return -1;
	if (!sendmail_msg_has_field(m, "Message-ID")) {
		if (gmtime_r(&now, &tm) == NULL)
			return -1;
		if (buf_addf(b,
			"Message-ID: <%04d%02d%02d%02d%02d%02d.%ld.%016llx@%s>"
			"\r\n",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, pid,
			m->p.msgid_rand != 0 ? m->p.msgid_rand
					     : sendmail_msg_random(),
			queue_submit_idhost(m->p.hostname)) == -1)
			return -1;
	}
	return 0;
}

/* Writes the header section and switches to the body phase. */
int
sendmail_msg_start_body(struct sendmail_msg *m)
{
	struct buf added;
	size_t hops = 0;
	int rv = -1;

	if (m->error != SENDMAIL_MSG_ERR_NONE)
		return -1;
	for (size_t i = 0; i < m->nfields; i++)
		if (sendmail_msg_field_is(m, &m->fields[i], "Received"))
			hops++;
	if (hops > SENDMAIL_MSG_HOPS_MAX) {
		m->error = SENDMAIL_MSG_ERR_LOOP;
		return -1;
	}
	m->body_started = 1;
	buf_init(&added, 16 * 1024);
	if (sendmail_msg_received(m, &added) == -1 ||
	    sendmail_msg_auth_warning(m, &added) == -1) {
		m->error = SENDMAIL_MSG_ERR_HEADER;
		goto out;
	}
	if (sendmail_msg_out(m, added.data, added.len) == -1)
		goto out;
	buf_reset(&added);
	for (size_t i = 0; i < m->nfields; i++)
		if (sendmail_msg_put_field(m, &m->fields[i]) == -1)
			goto out;
	if (sendmail_msg_added(m, &added) == -1) {
		m->error = SENDMAIL_MSG_ERR_HEADER;
		goto out;
	}
	if (sendmail_msg_out(m, added.data, added.len) == -1 ||
	    sendmail_msg_out(m, "\r\n", 2) == -1)
		goto out;
	m->state = SENDMAIL_MSG_ST_BODY;
	if (m->carry) {
		m->carry = 0;
		if (sendmail_msg_body_seg(m, m->carry_ev) == -1)
			goto out;
	}
	if (m->input_done)
		m->state = SENDMAIL_MSG_ST_DISCARD;
	rv = 0;
out:
	buf_free(&added);
	return rv;
}

/* Flushes the rest of the message to the sink. */
int
sendmail_msg_finish(struct sendmail_msg *m)
{
	if (m->error != SENDMAIL_MSG_ERR_NONE)
		return -1;
	return sendmail_msg_flush(m);
}

/* Returns the envelope flags the content calls for. */
unsigned
sendmail_msg_flags(const struct sendmail_msg *m)
{
	return (m->eightbit || !m->input_done ? QUEUE_ENV_F_8BIT : 0) |
	    (m->hdr_utf8 ? QUEUE_ENV_F_SMTPUTF8 : 0);
}

/* Describes the error. */
const char *
sendmail_msg_strerror(const struct sendmail_msg *m)
{
	switch (m->error) {
	case SENDMAIL_MSG_ERR_NONE:
		return "no error";
	case SENDMAIL_MSG_ERR_SIZE:
		return "message exceeds the size limit";
	case SENDMAIL_MSG_ERR_HEADER:
		return "header section too large";
	case SENDMAIL_MSG_ERR_LOOP:
		return "too many Received: headers (mail loop?)";
	case SENDMAIL_MSG_ERR_NUL:
		return "the message contains a NUL byte, which RFC 5322 "
		       "forbids";
	case SENDMAIL_MSG_ERR_SINK:
		return strerror(m->sink_errno);
	}
	return "unknown error";
}
