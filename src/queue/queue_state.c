/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Per-message delivery state: formatting, parsing and the small setters
 * relayqd uses between attempts.  This module holds no file names and
 * does no I/O; queue_spool replaces state/<id> atomically.  Invariants:
 * every text held in a struct queue_state (the last error, the replies)
 * is clean text, one line of displayable UTF-8 made by str_clean_text()
 * (server replies are hostile, see CVE-2020-8794): the setters and the
 * parser clean what they are given, and since cleaning is idempotent a
 * text cleaned before (a reply summary) passes unchanged.  In the file a
 * text is written through str_sanitize() (printable ASCII: a backslash
 * is "\\", any other byte outside 0x20..0x7e "\xHH") and read back
 * through str_unsanitize() and str_clean_text(): exactly one escape,
 * applied by the writer and undone by the reader, so nothing shows it.
 * A file written before texts were kept clean (same format) holds the
 * escaped form of an already escaped reply; read the same way it comes
 * back as that older, once-escaped display text (a server's backslash
 * as "\\", a byte 0xe9 as "\xe9") until the next attempt replaces it.
 * A reader accepts a file only when its closing checksum record covers
 * every byte before it, so a torn write is always rejected.  Format
 * version 2, using the record encoding of queue_env.c (K<len>:<value>\n):
 *
 *	magic   "RELAYQ-STATE 2\n"
 *	I20:<id>                 the queue id
 *	N<n>:<tries>             attempts so far (<= UINT_MAX)
 *	A<n>:<first_try>         seconds since the epoch, 0 if none
 *	L<n>:<last_try>          seconds since the epoch, 0 if none
 *	W<n>:<next_try>          seconds since the epoch, 0 means now
 *	H1:<0|1>                 operator hold
 *	D<n>:<warned>            when the delay notice was queued, seconds
 *	                         since the epoch, 0 if none (version 2)
 *	X<n>:<last error>        escaped text (above), may be empty
 *	P<n>:<idx> <st>[ <reply>]  one per recipient, idx 0, 1, ... in
 *	                         order, for every recipient of the message;
 *	                         st is p (pending), d (done) or f (failed);
 *	                         the reply, when present, is escaped text
 *	E8:<crc>                 CRC-32 (as queue_env) of every byte before
 *	                         this record, 8 lowercase hex digits; the
 *	                         last bytes of the file
 *
 * Records appear in exactly this order; numbers are as in queue_env.c;
 * texts are at most QUEUE_STATE_TEXT_MAX bytes escaped, without control
 * characters.  Version 1 ("RELAYQ-STATE 1\n") is the same without the D
 * record; it is still read (warned = 0) and rewritten as version 2.  The
 * same text is in doc/queue-format.md.
 */
#include "config.h"

#include "queue/queue_state.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"

#define QUEUE_STATE_MAGIC_LEN (sizeof(QUEUE_STATE_MAGIC) - 1)
#define QUEUE_STATE_NUM_MAX 19
/* "<idx> <st> <reply>": idx has at most 6 digits (QUEUE_ENV_RCPT_MAX). */
#define QUEUE_STATE_P_MAX (6 + 3 + 1 + QUEUE_STATE_TEXT_MAX)

/* True for a valid recipient status byte. */
static int
queue_state_st_is_valid(char c)
{
	return c == QUEUE_RCPT_PENDING || c == QUEUE_RCPT_DONE ||
	    c == QUEUE_RCPT_FAILED;
}

/* Initialises a state for nrcpt pending recipients. */
void
queue_state_init(struct queue_state *s, const char *id, size_t nrcpt)
{
	(void)strlcpy(s->id, id != NULL ? id : "", sizeof(s->id));
	s->tries = 0;
	s->first_try = s->last_try = s->next_try = 0;
	s->held = 0;
	s->warned = 0;
	s->last_error = xstrdup("");
	s->nrcpt = nrcpt;
	s->rcpt_st = xmalloc(nrcpt);
	memset(s->rcpt_st, QUEUE_RCPT_PENDING, nrcpt);
	s->rcpt_reply = xcalloc(nrcpt, sizeof(*s->rcpt_reply));
}

/* Frees owned fields; freeing twice is harmless. */
void
queue_state_free(struct queue_state *s)
{
	if (s->rcpt_reply != NULL)
		for (size_t i = 0; i < s->nrcpt; i++)
			free(s->rcpt_reply[i]);
	free(s->rcpt_reply);
	free(s->rcpt_st);
	free(s->last_error);
	s->rcpt_reply = NULL;
	s->rcpt_st = NULL;
	s->last_error = NULL;
	s->nrcpt = 0;
}

/*
 * Returns a clean copy of text (len bytes), cut at a character boundary
 * so that its escaped form in the file fits QUEUE_STATE_TEXT_MAX.
 */
static char *
queue_state_clean(const char *text, size_t len)
{
	char tmp[QUEUE_STATE_TEXT_MAX + 1];
	size_t n, off = 0, esc = 0, k;

	n = str_clean_text(tmp, sizeof(tmp), text, len);
	while (off < n) {
		k = str_utf8_len((const unsigned char *)tmp + off, n - off);
		RQ_ASSERT(k > 0);
		if (esc + str_sanitize_len(tmp + off, k) > QUEUE_STATE_TEXT_MAX)
			break;
		esc += str_sanitize_len(tmp + off, k);
		off += k;
	}
	tmp[off] = '\0';
	return xstrdup(tmp);
}

/* Sets the last error. */
void
queue_state_set_error(struct queue_state *s, const char *text)
{
	free(s->last_error);
	s->last_error = queue_state_clean(text != NULL ? text : "",
	    text != NULL ? strlen(text) : 0);
}

/* Sets one recipient's status and reply. */
void
queue_state_set_rcpt(struct queue_state *s, size_t i, enum queue_rcpt_st st,
    const char *reply)
{
	RQ_ASSERT(i < s->nrcpt);
	RQ_ASSERT(queue_state_st_is_valid((char)st));
	s->rcpt_st[i] = (char)st;
	free(s->rcpt_reply[i]);
	s->rcpt_reply[i] =
	    reply != NULL ? queue_state_clean(reply, strlen(reply)) : NULL;
}

/* Counts the recipients still pending. */
size_t
queue_state_pending(const struct queue_state *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nrcpt; i++)
		if (s->rcpt_st[i] == QUEUE_RCPT_PENDING)
			n++;
	return n;
}

/* True when text is clean and its escaped form fits its record. */
static int
queue_state_text_is_valid(const char *text)
{
	size_t len = strnlen(text, QUEUE_STATE_TEXT_MAX + 1);

	return len <= QUEUE_STATE_TEXT_MAX && str_is_clean_text(text, len) &&
	    str_sanitize_len(text, len) <= QUEUE_STATE_TEXT_MAX;
}

/* Escapes a valid text for its record into buf; returns its length. */
static size_t
queue_state_escape(const char *text, char *buf, size_t bufsz)
{
	str_sanitize(buf, bufsz, text, strlen(text));
	return strlen(buf);
}

/* Appends one record. */
static int
queue_state_put(struct buf *b, char key, const char *val, size_t len)
{
	return queue_env_put(b, key, val, len);
}

/* Appends a record holding a decimal number. */
static int
queue_state_put_num(struct buf *b, char key, unsigned long long v)
{
	char num[24];
	int n;

	if ((n = rq_snprintf(num, sizeof(num), "%llu", v)) == -1)
		return -1;
	return queue_state_put(b, key, num, (size_t)n);
}

/* Appends recipient i's P record. */
static int
queue_state_put_rcpt(struct buf *b, const struct queue_state *s, size_t i)
{
	const char *reply = s->rcpt_reply[i];
	char head[24], esc[QUEUE_STATE_TEXT_MAX + 1];
	size_t elen =
	    reply != NULL ? queue_state_escape(reply, esc, sizeof(esc)) : 0;
	int n;

	if ((n = rq_snprintf(head, sizeof(head), "%zu %c", i, s->rcpt_st[i])) ==
	    -1)
		return -1;
	if (buf_addf(b, "P%zu:", (size_t)n + (reply != NULL ? 1 + elen : 0)) ==
		-1 ||
	    buf_add(b, head, (size_t)n) == -1)
		return -1;
	if (reply != NULL &&
	    (buf_add(b, " ", 1) == -1 || buf_add(b, esc, elen) == -1))
		return -1;
	return buf_add(b, "\n", 1);
}

/* Serialises s. */
int
queue_state_format(const struct queue_state *s, char **bufp, size_t *lenp)
{
	struct buf b;
	char crc[16], esc[QUEUE_STATE_TEXT_MAX + 1];
	int n;

	if (!queue_id_is_valid(s->id) || s->first_try < 0 || s->last_try < 0 ||
	    s->next_try < 0 || s->warned < 0 || s->nrcpt > QUEUE_ENV_RCPT_MAX ||
	    s->last_error == NULL || !queue_state_text_is_valid(s->last_error))
		goto invalid;
	for (size_t i = 0; i < s->nrcpt; i++)
		if (!queue_state_st_is_valid(s->rcpt_st[i]) ||
		    (s->rcpt_reply[i] != NULL &&
			!queue_state_text_is_valid(s->rcpt_reply[i])))
			goto invalid;

	buf_init(&b, QUEUE_STATE_SIZE_MAX);
	if (buf_add(&b, QUEUE_STATE_MAGIC, QUEUE_STATE_MAGIC_LEN) == -1 ||
	    queue_state_put(&b, 'I', s->id, QUEUE_ID_LEN) == -1 ||
	    queue_state_put_num(&b, 'N', s->tries) == -1 ||
	    queue_state_put_num(&b, 'A', (unsigned long long)s->first_try) ==
		-1 ||
	    queue_state_put_num(&b, 'L', (unsigned long long)s->last_try) ==
		-1 ||
	    queue_state_put_num(&b, 'W', (unsigned long long)s->next_try) ==
		-1 ||
	    queue_state_put(&b, 'H', s->held ? "1" : "0", 1) == -1 ||
	    queue_state_put_num(&b, 'D', (unsigned long long)s->warned) == -1 ||
	    queue_state_put(&b, 'X', esc,
		queue_state_escape(s->last_error, esc, sizeof(esc))) == -1)
		goto toolarge;
	for (size_t i = 0; i < s->nrcpt; i++)
		if (queue_state_put_rcpt(&b, s, i) == -1)
			goto toolarge;
	n = rq_snprintf(crc, sizeof(crc), "%08lx",
	    (unsigned long)queue_env_crc32(0, b.data, b.len));
	if (n == -1 || queue_state_put(&b, 'E', crc, (size_t)n) == -1)
		goto toolarge;
	*bufp = buf_take(&b, lenp);
	return 0;

toolarge:
	buf_free(&b);
	errno = EFBIG;
	return -1;
invalid:
	errno = EINVAL;
	return -1;
}

/* Checks an escaped text value and returns it unescaped and clean. */
static char *
queue_state_text(const char *val, size_t len)
{
	char raw[QUEUE_STATE_TEXT_MAX + 1];
	size_t n;

	if (len > QUEUE_STATE_TEXT_MAX || str_has_ctl(val, len))
		return NULL;
	n = str_unsanitize(raw, sizeof(raw), val, len);
	return queue_state_clean(raw, n);
}

/* Parses a P record value for recipient i. */
static int
queue_state_parse_rcpt(struct queue_state *s, size_t i,
    const struct queue_env_rec *r, const char **errstr)
{
	size_t sp;
	long long idx;

	for (sp = 0; sp < r->len && r->val[sp] != ' '; sp++)
		;
	if (queue_env_parse_num(r->val, sp, &idx) == -1 ||
	    (unsigned long long)idx != i) {
		*errstr = "recipient index out of sequence";
		return -1;
	}
	if (r->len < sp + 2 || !queue_state_st_is_valid(r->val[sp + 1]) ||
	    (r->len > sp + 2 && r->val[sp + 2] != ' ')) {
		*errstr = "bad recipient status";
		return -1;
	}
	s->rcpt_st[i] = r->val[sp + 1];
	if (r->len > sp + 2 &&
	    (s->rcpt_reply[i] = queue_state_text(r->val + sp + 3,
		 r->len - sp - 3)) == NULL) {
		*errstr = "bad recipient reply";
		return -1;
	}
	return 0;
}

/* Parses a number record of the given key, at most max. */
static int
queue_state_num(const struct queue_env_rec *r, char key, long long max,
    long long *out, const char **errstr)
{
	if (r->key != key) {
		*errstr = "record missing or out of order";
		return -1;
	}
	if (queue_env_parse_num(r->val, r->len, out) == -1 || *out > max) {
		*errstr = "invalid number";
		return -1;
	}
	return 0;
}

/* Parses the fixed records I N A L W H [D] X; D only when version > 1. */
static int
queue_state_parse_fixed(struct queue_state *s, const char *data, size_t size,
    size_t *off, int version, const char **errstr)
{
	struct queue_env_rec r;
	long long v;

	if (queue_env_record(data, size, off, QUEUE_ID_LEN, &r, errstr) == -1)
		return -1;
	if (r.key != 'I' || r.len != QUEUE_ID_LEN) {
		*errstr = "missing queue id";
		return -1;
	}
	memcpy(s->id, r.val, QUEUE_ID_LEN);
	s->id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_is_valid(s->id)) {
		*errstr = "invalid queue id";
		return -1;
	}
	if (queue_env_record(data, size, off, QUEUE_STATE_NUM_MAX, &r,
		errstr) == -1 ||
	    queue_state_num(&r, 'N', UINT_MAX, &v, errstr) == -1)
		return -1;
	s->tries = (unsigned)v;
	if (queue_env_record(data, size, off, QUEUE_STATE_NUM_MAX, &r,
		errstr) == -1 ||
	    queue_state_num(&r, 'A', LLONG_MAX, &s->first_try, errstr) == -1 ||
	    queue_env_record(data, size, off, QUEUE_STATE_NUM_MAX, &r,
		errstr) == -1 ||
	    queue_state_num(&r, 'L', LLONG_MAX, &s->last_try, errstr) == -1 ||
	    queue_env_record(data, size, off, QUEUE_STATE_NUM_MAX, &r,
		errstr) == -1 ||
	    queue_state_num(&r, 'W', LLONG_MAX, &s->next_try, errstr) == -1 ||
	    queue_env_record(data, size, off, 1, &r, errstr) == -1 ||
	    queue_state_num(&r, 'H', 1, &v, errstr) == -1)
		return -1;
	s->held = (int)v;
	if (version > 1 &&
	    (queue_env_record(data, size, off, QUEUE_STATE_NUM_MAX, &r,
		 errstr) == -1 ||
		queue_state_num(&r, 'D', LLONG_MAX, &s->warned, errstr) == -1))
		return -1;
	if (queue_env_record(data, size, off, QUEUE_STATE_TEXT_MAX, &r,
		errstr) == -1)
		return -1;
	if (r.key != 'X') {
		*errstr = "record missing or out of order";
		return -1;
	}
	free(s->last_error);
	if ((s->last_error = queue_state_text(r.val, r.len)) == NULL) {
		*errstr = "bad last error";
		return -1;
	}
	return 0;
}

/* Parses a state file image. */
int
queue_state_parse(struct queue_state *s, const char *data, size_t size,
    size_t nrcpt, const char **errstr)
{
	struct queue_env_rec r;
	size_t off = QUEUE_STATE_MAGIC_LEN, i = 0, e_off;
	unsigned long want = 0;
	int version;

	queue_state_init(s, "", nrcpt <= QUEUE_ENV_RCPT_MAX ? nrcpt : 0);
	if (nrcpt > QUEUE_ENV_RCPT_MAX) {
		*errstr = "too many recipients";
		goto bad;
	}
	if (size > QUEUE_STATE_SIZE_MAX) {
		*errstr = "state file too large";
		goto bad;
	}
	if (size >= QUEUE_STATE_MAGIC_LEN &&
	    memcmp(data, QUEUE_STATE_MAGIC, QUEUE_STATE_MAGIC_LEN) == 0)
		version = 2;
	else if (size >= QUEUE_STATE_MAGIC_LEN &&
	    memcmp(data, QUEUE_STATE_MAGIC_V1, QUEUE_STATE_MAGIC_LEN) == 0)
		version = 1;
	else {
		*errstr = "bad magic";
		goto bad;
	}
	if (queue_state_parse_fixed(s, data, size, &off, version, errstr) == -1)
		goto bad;
	for (;;) {
		e_off = off;
		if (queue_env_record(data, size, &off, QUEUE_STATE_P_MAX, &r,
			errstr) == -1)
			goto bad;
		if (r.key != 'P')
			break;
		if (i >= nrcpt) {
			*errstr = "recipient count mismatch";
			goto bad;
		}
		if (queue_state_parse_rcpt(s, i, &r, errstr) == -1)
			goto bad;
		i++;
	}
	if (r.key != 'E' || r.len != 8 || off != size) {
		*errstr = "missing or bad trailer";
		goto bad;
	}
	for (size_t k = 0; k < 8; k++) {
		char h = r.val[k];

		if (h >= '0' && h <= '9')
			want = want << 4 | (unsigned long)(h - '0');
		else if (h >= 'a' && h <= 'f')
			want = want << 4 | (unsigned long)(h - 'a' + 10);
		else {
			*errstr = "missing or bad trailer";
			goto bad;
		}
	}
	if (queue_env_crc32(0, data, e_off) != (uint32_t)want) {
		*errstr = "checksum mismatch";
		goto bad;
	}
	if (i != nrcpt) {
		*errstr = "recipient count mismatch";
		goto bad;
	}
	return 0;

bad:
	queue_state_free(s);
	s->id[0] = '\0';
	return -1;
}
