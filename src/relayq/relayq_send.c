/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq send (see relayq_send.h): the option parser, the MIME composer
 * and the submission through sendmail.  The composer is pure (input in
 * struct relayq_send_msg, output in a struct buf bounded by
 * max_message_size) so the unit tests drive it with strings; only
 * relayq_send_main() reads files and runs sendmail.
 *
 * Invariants: every header line this module writes is at most
 * RELAYQ_SEND_LINE_MAX octets and holds no CR, LF or NUL of the input
 * (user text reaches the header only through the address parser, RFC
 * 2047 encoding, or relayq_send_check_header); lines with encoded words
 * stay within 76 columns; the multipart boundary starts with "=_",
 * which neither base64 nor quoted-printable can produce, and is checked
 * against the text part anyway.
 */
#include "config.h"

#include "relayq/relayq_send.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_id.h"

#ifndef RELAYQ_SENDMAIL_PATH
#define RELAYQ_SENDMAIL_PATH "/usr/sbin/sendmail"
#endif

#define RELAYQ_SEND_FOLD 78	   /* fold header lines longer than this */
#define RELAYQ_SEND_EW_LINE 76	   /* limit for lines with encoded words */
#define RELAYQ_SEND_EW_IN 45	   /* UTF-8 bytes per encoded word, at most */
#define RELAYQ_SEND_QP_LINE 76	   /* quoted-printable line, '=' included */
#define RELAYQ_SEND_B64_IN 57	   /* bytes per 76-column base64 line */
#define RELAYQ_SEND_PARAM_CHUNK 48 /* RFC 2231 section, so lines fit 76 */
#define RELAYQ_SEND_NAME_SIMPLE 64 /* longest filename="..." written */
#define RELAYQ_SEND_ID_MAX 128	   /* bytes read back from sendmail */

extern char **environ;

/* How the text part is written. */
struct relayq_send_text {
	struct buf data; /* encoded text, lines ending in LF */
	const char *cte; /* Content-Transfer-Encoding */
};

/* Initialises an empty message. */
void
relayq_send_msg_init(struct relayq_send_msg *m)
{
	memset(m, 0, sizeof(*m));
	addr_list_init(&m->rcpts);
}

/* Frees the mailboxes of an array of n. */
static void
relayq_send_mboxes_free(struct relayq_send_mbox *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].addr);
	}
	free(v);
}

/* Frees what m owns. */
void
relayq_send_msg_free(struct relayq_send_msg *m)
{
	free(m->from.name);
	free(m->from.addr);
	relayq_send_mboxes_free(m->to, m->nto);
	relayq_send_mboxes_free(m->cc, m->ncc);
	addr_list_free(&m->rcpts);
	for (size_t i = 0; i < m->natt; i++) {
		free(m->att[i].name);
		free(m->att[i].data);
	}
	free(m->att);
	relayq_send_msg_init(m);
}

/* Returns nonzero when s (len bytes) is valid UTF-8. */
static int
relayq_send_is_utf8(const char *s, size_t len)
{
	size_t k;

	for (size_t i = 0; i < len; i += k)
		if ((k = str_utf8_len((const unsigned char *)s + i, len - i)) ==
		    0)
			return 0;
	return 1;
}

/* Returns nonzero when s is printable ASCII (tab allowed when tab). */
static int
relayq_send_is_printable(const char *s, size_t len, int tab)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 || c > 0x7e) && !(tab && c == '\t'))
			return 0;
	}
	return 1;
}

/* Returns nonzero for a control character other than tab. */
static int
relayq_send_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * Appends s (valid UTF-8, len > 0) as RFC 2047 "B" encoded words, the
 * first at column *col and each further one on a folded line, so that
 * no line is longer than 76 columns.  Multi-byte characters are never
 * split; the folding between encoded words disappears when decoded.
 */
static int
relayq_send_ew(struct buf *b, size_t *col, const char *s, size_t len)
{
	unsigned char enc[RELAYQ_SEND_EW_IN / 3 * 4 + 1];
	size_t i = 0;

	while (i < len) {
		size_t max = 0, n = 0, k;
		int elen;

		/* "=?UTF-8?B?" and "?=" take 12 columns. */
		if (*col + 12 < RELAYQ_SEND_EW_LINE)
			max = (RELAYQ_SEND_EW_LINE - *col - 12) / 4 * 3;
		if (max > RELAYQ_SEND_EW_IN)
			max = RELAYQ_SEND_EW_IN;
		while (i + n < len) {
			k = str_utf8_len((const unsigned char *)s + i + n,
			    len - i - n);
			if (k == 0)
				k = 1;
			if (n + k > max)
				break;
			n += k;
		}
		if (n == 0) {
			if (buf_adds(b, "\n\t") == -1)
				return -1;
			*col = 1;
			continue;
		}
		elen =
		    EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)n);
		if (buf_addf(b, "=?UTF-8?B?%s?=", enc) == -1)
			return -1;
		*col += 12 + (size_t)elen;
		if ((i += n) < len) {
			if (buf_adds(b, "\n\t") == -1)
				return -1;
			*col = 1;
		}
	}
	return 0;
}

/*
 * Appends the separator before an item of width w in an address list:
 * "," after the previous one, then a space, or a fold when the item
 * would pass column 78.
 */
static int
relayq_send_sep(struct buf *b, size_t *col, size_t w, int first)
{
	if (!first) {
		if (buf_adds(b, ",") == -1)
			return -1;
		++*col;
	}
	if (!first && *col + 1 + w > RELAYQ_SEND_FOLD) {
		*col = 1;
		return buf_adds(b, "\n\t");
	}
	++*col;
	return buf_adds(b, " ");
}

/* Appends one mailbox of an address list at column *col. */
static int
relayq_send_put_mbox(struct buf *b, size_t *col,
    const struct relayq_send_mbox *mb, int first)
{
	size_t alen = strlen(mb->addr), start;

	if (mb->name == NULL) {
		if (relayq_send_sep(b, col, alen, first) == -1 ||
		    buf_adds(b, mb->addr) == -1)
			return -1;
		*col += alen;
		return 0;
	}
	if (!relayq_send_is_printable(mb->name, strlen(mb->name), 0)) {
		/* Encoded words, then the address, folded before if need be. */
		if (relayq_send_sep(b, col, 24, first) == -1 ||
		    relayq_send_ew(b, col, mb->name, strlen(mb->name)) == -1)
			return -1;
		if (*col + 3 + alen > RELAYQ_SEND_FOLD) {
			*col = 1;
			if (buf_adds(b, "\n\t") == -1)
				return -1;
		} else {
			++*col;
			if (buf_adds(b, " ") == -1)
				return -1;
		}
		*col += alen + 2;
		return buf_addf(b, "<%s>", mb->addr);
	}
	/* A quoted string: only '"' and '\\' need a backslash. */
	if (relayq_send_sep(b, col, strlen(mb->name) + alen + 5, first) == -1)
		return -1;
	start = b->len;
	if (buf_adds(b, "\"") == -1)
		return -1;
	for (const char *p = mb->name; *p != '\0'; p++)
		if (((*p == '"' || *p == '\\') && buf_adds(b, "\\") == -1) ||
		    buf_add(b, p, 1) == -1)
			return -1;
	if (buf_addf(b, "\" <%s>", mb->addr) == -1)
		return -1;
	*col += b->len - start;
	return 0;
}

/* Appends "Name:" and the address list v (n > 0), then LF. */
static int
relayq_send_put_list(struct buf *b, const char *field,
    const struct relayq_send_mbox *v, size_t n)
{
	size_t col = strlen(field) + 1;

	if (buf_addf(b, "%s:", field) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (relayq_send_put_mbox(b, &col, &v[i], i == 0) == -1)
			return -1;
	return buf_adds(b, "\n");
}

/*
 * Appends s as plain text folded at its white space (RFC 5322 folding,
 * which unfolding undoes exactly), starting at column col.  Returns 0,
 * 1 when a line would pass RELAYQ_SEND_LINE_MAX (b is then as before),
 * or -1 when b is full.
 */
static int
relayq_send_fold(struct buf *b, size_t col, const char *s)
{
	size_t start = b->len;
	int text = 1;

	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if ((c == ' ' || c == '\t') && text) {
			size_t run = 1 + strcspn(s + i + 1, " \t");

			if (col + run > RELAYQ_SEND_FOLD) {
				if (buf_adds(b, "\n") == -1)
					return -1;
				col = 0;
				text = 0;
			}
		}
		if (buf_add(b, &c, 1) == -1)
			return -1;
		if (c != ' ' && c != '\t')
			text = 1;
		if (++col > RELAYQ_SEND_LINE_MAX) {
			b->len = start;
			b->data[start] = '\0';
			return 1;
		}
	}
	return 0;
}

/*
 * Appends the Subject field: plain and folded when it is printable
 * ASCII that cannot be mistaken for encoded words, else RFC 2047.
 */
static int
relayq_send_put_subject(struct buf *b, const char *s)
{
	size_t col = strlen("Subject: ");
	int rv = 1;

	if (buf_adds(b, "Subject: ") == -1)
		return -1;
	if (relayq_send_is_printable(s, strlen(s), 1) &&
	    strstr(s, "=?") == NULL)
		rv = relayq_send_fold(b, col, s);
	if (rv == -1 ||
	    (rv == 1 && relayq_send_ew(b, &col, s, strlen(s)) == -1))
		return -1;
	return buf_adds(b, "\n");
}

/* Appends p as quoted-printable (RFC 2045 section 6.7), LF line ends. */
static int
relayq_send_qp(struct buf *b, const char *p, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		int eol = i + 1 == len || p[i + 1] == '\n';
		size_t w;
		int lit;

		if (c == '\n') {
			if (buf_adds(b, "\n") == -1)
				return -1;
			col = 0;
			continue;
		}
		/* White space at the end of a line is encoded. */
		lit = (c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol);
		w = lit ? 1 : 3;
		/* A soft break "=" needs one column, unless the line ends. */
		if (col + w > RELAYQ_SEND_QP_LINE - 1 &&
		    !(eol && col + w <= RELAYQ_SEND_QP_LINE)) {
			if (buf_adds(b, "=\n") == -1)
				return -1;
			col = 0;
		}
		if (lit ? buf_add(b, &p[i], 1) == -1
			: buf_addf(b, "=%02X", c) == -1)
			return -1;
		col += w;
	}
	return 0;
}

/* Appends p as base64 lines of 76 columns. */
static int
relayq_send_b64(struct buf *b, const char *p, size_t len)
{
	unsigned char line[RELAYQ_SEND_B64_IN / 3 * 4 + 1];

	for (size_t i = 0; i < len; i += RELAYQ_SEND_B64_IN) {
		size_t n =
		    len - i < RELAYQ_SEND_B64_IN ? len - i : RELAYQ_SEND_B64_IN;
		int k =
		    EVP_EncodeBlock(line, (const unsigned char *)p + i, (int)n);

		if (buf_add(b, line, (size_t)k) == -1 ||
		    buf_adds(b, "\n") == -1)
			return -1;
	}
	return 0;
}

/*
 * Encodes the body as the text part: CRLF becomes LF and a final LF is
 * added; 7bit or 8bit when every line fits in 998 octets and there is
 * no NUL or bare CR (8bit for bytes >= 0x80), else quoted-printable.
 */
static int
relayq_send_text(struct relayq_send_text *t, const char *p, size_t len)
{
	struct buf norm;
	size_t line = 0, maxline = 0;
	int eight = 0, raw = 0, rv = -1;

	buf_init(&norm, t->data.max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' && i + 1 < len && p[i + 1] == '\n')
			continue;
		if (c == '\r' || c == '\0')
			raw = 1;
		if (c >= 0x80)
			eight = 1;
		line = c == '\n' ? 0 : line + 1;
		if (line > maxline)
			maxline = line;
		if (buf_add(&norm, &p[i], 1) == -1)
			goto out;
	}
	if (norm.len > 0 && norm.data[norm.len - 1] != '\n' &&
	    buf_adds(&norm, "\n") == -1)
		goto out;
	if (raw || maxline > RELAYQ_SEND_LINE_MAX) {
		t->cte = "quoted-printable";
		rv = relayq_send_qp(&t->data, norm.data, norm.len);
	} else {
		t->cte = eight ? "8bit" : "7bit";
		rv = buf_add(&t->data, norm.data, norm.len);
	}
out:
	buf_free(&norm);
	return rv;
}

/* Returns nonzero for an RFC 2231 attribute-char that needs no '%'. */
static int
relayq_send_attr_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

/*
 * Appends Content-Disposition with the file name: filename="..." when
 * it is short printable ASCII without '"' or '\\', else RFC 2231
 * (utf-8, percent-encoded, in numbered sections when long).
 */
static int
relayq_send_put_disposition(struct buf *b, const char *name)
{
	struct buf enc;
	size_t len = strlen(name), off = 0;
	int rv = -1;

	if (len <= RELAYQ_SEND_NAME_SIMPLE &&
	    relayq_send_is_printable(name, len, 0) &&
	    strpbrk(name, "\"\\") == NULL)
		return buf_addf(b,
		    "Content-Disposition: attachment;\n\tfilename=\"%s\"\n",
		    name);
	buf_init(&enc, 3 * len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (relayq_send_attr_char(c)
			? buf_add(&enc, &name[i], 1) == -1
			: buf_addf(&enc, "%%%02X", c) == -1)
			goto out;
	}
	if (buf_adds(b, "Content-Disposition: attachment") == -1)
		goto out;
	if (enc.len <= RELAYQ_SEND_PARAM_CHUNK) {
		if (buf_addf(b, ";\n\tfilename*=utf-8''%s\n", enc.data) == -1)
			goto out;
		rv = 0;
		goto out;
	}
	for (size_t k = 0; off < enc.len; k++) {
		size_t n = enc.len - off;

		if (n > RELAYQ_SEND_PARAM_CHUNK) {
			n = RELAYQ_SEND_PARAM_CHUNK;
			/* Never cut a %XX triple. */
			if (enc.data[off + n - 1] == '%')
				n -= 1;
			else if (enc.data[off + n - 2] == '%')
				n -= 2;
		}
		if (buf_addf(b, ";\n\tfilename*%zu*=%s%.*s", k,
			k == 0 ? "utf-8''" : "", (int)n, enc.data + off) == -1)
			goto out;
		off += n;
	}
	rv = buf_adds(b, "\n");
out:
	buf_free(&enc);
	return rv;
}

/* Returns the Content-Type guessed from a file name's extension. */
const char *
relayq_send_mime_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "txt", "text/plain" },
		{ "log", "text/plain" },
		{ "csv", "text/csv" },
		{ "htm", "text/html" },
		{ "html", "text/html" },
		{ "ics", "text/calendar" },
		{ "xml", "application/xml" },
		{ "json", "application/json" },
		{ "pdf", "application/pdf" },
		{ "zip", "application/zip" },
		{ "gz", "application/gzip" },
		{ "tgz", "application/gzip" },
		{ "tar", "application/x-tar" },
		{ "xz", "application/x-xz" },
		{ "zst", "application/zstd" },
		{ "png", "image/png" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },
		{ "svg", "image/svg+xml" },
		{ "webp", "image/webp" },
	};
	const char *dot = strrchr(name, '.');

	if (dot != NULL && dot != name)
		for (size_t i = 0; i < RQ_NELEM(types); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* Makes a random boundary that does not occur in the text part. */
static int
relayq_send_boundary(const struct relayq_send_msg *m, const struct buf *text,
    char *bnd, size_t bndsz)
{
	unsigned char r[12];

	for (int tries = 0; tries < 8; tries++) {
		if (m->boundary != NULL)
			(void)strlcpy(bnd, m->boundary, bndsz);
		else {
			if (RAND_bytes(r, (int)sizeof(r)) != 1)
				return -1;
			(void)snprintf(bnd, bndsz, "=_relayq_");
			for (size_t i = 0; i < sizeof(r); i++)
				(void)snprintf(bnd + strlen(bnd),
				    bndsz - strlen(bnd), "%02x", r[i]);
		}
		if (text->len == 0 ||
		    memmem(text->data, text->len, bnd, strlen(bnd)) == NULL)
			return 0;
		if (m->boundary != NULL)
			break;
	}
	return -1;
}

/* Appends the header fields shared by both message forms. */
static int
relayq_send_put_header(const struct relayq_send_msg *m, struct buf *out)
{
	if (m->from.addr != NULL &&
	    relayq_send_put_list(out, "From", &m->from, 1) == -1)
		return -1;
	if (m->nto > 0 && relayq_send_put_list(out, "To", m->to, m->nto) == -1)
		return -1;
	if (m->ncc > 0 && relayq_send_put_list(out, "Cc", m->cc, m->ncc) == -1)
		return -1;
	if (m->subject != NULL &&
	    relayq_send_put_subject(out, m->subject) == -1)
		return -1;
	if (buf_adds(out, "MIME-Version: 1.0\n") == -1)
		return -1;
	for (size_t i = 0; i < m->nhdrs; i++)
		if (buf_addf(out, "%s\n", m->hdrs[i]) == -1)
			return -1;
	return 0;
}

/* Appends the parts of a multipart/mixed message after its header. */
static int
relayq_send_put_parts(const struct relayq_send_msg *m,
    const struct relayq_send_text *t, const char *bnd, struct buf *out)
{
	if (buf_addf(out,
		"Content-Type: multipart/mixed;\n\tboundary=\"%s\"\n\n"
		"This is a multi-part message in MIME format.\n"
		"\n--%s\nContent-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: %s\n\n",
		bnd, bnd, t->cte) == -1 ||
	    buf_add(out, t->data.data, t->data.len) == -1)
		return -1;
	for (size_t i = 0; i < m->natt; i++) {
		const struct relayq_send_att *a = &m->att[i];

		if (buf_addf(out, "\n--%s\nContent-Type: %s\n", bnd, a->type) ==
			-1 ||
		    relayq_send_put_disposition(out, a->name) == -1 ||
		    buf_adds(out, "Content-Transfer-Encoding: base64\n\n") ==
			-1 ||
		    relayq_send_b64(out, a->data, a->len) == -1)
			return -1;
	}
	return buf_addf(out, "\n--%s--\n", bnd);
}

/* Writes the whole message into out. */
int
relayq_send_compose(const struct relayq_send_msg *m, struct buf *out,
    struct rq_err *err)
{
	struct relayq_send_text t;
	char bnd[64];
	int rc = EX_DATAERR;

	buf_init(&t.data, out->max);
	if (m->subject != NULL &&
	    !relayq_send_is_utf8(m->subject, strlen(m->subject))) {
		rq_err_set(err, "the subject is not UTF-8 text");
		goto out;
	}
	if (relayq_send_text(&t, m->body, m->bodylen) == -1)
		goto toobig;
	if (m->natt > 0 &&
	    relayq_send_boundary(m, &t.data, bnd, sizeof(bnd)) == -1) {
		rq_err_set(err, "cannot make a MIME boundary");
		rc = EX_OSERR;
		goto out;
	}
	if (relayq_send_put_header(m, out) == -1)
		goto toobig;
	if (m->natt == 0) {
		if (buf_addf(out,
			"Content-Type: text/plain; charset=utf-8\n"
			"Content-Transfer-Encoding: %s\n\n",
			t.cte) == -1 ||
		    buf_add(out, t.data.data, t.data.len) == -1)
			goto toobig;
	} else if (relayq_send_put_parts(m, &t, bnd, out) == -1)
		goto toobig;
	rc = EX_OK;
	goto out;
toobig:
	rq_err_set(err,
	    "the message would be larger than max_message_size (%zu bytes)",
	    out->max);
out:
	buf_free(&t.data);
	return rc;
}

/*
 * Returns the length of the list member at s: up to the first ',' or
 * ';' outside quoted strings, comments, angle brackets and domain
 * literals.  Sets *group when a ':' is found at that level.
 */
static size_t
relayq_send_member(const char *s, int *group)
{
	int quoted = 0, literal = 0, comment = 0, angle = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (c == '\\' && (quoted || comment > 0) && s[i + 1] != '\0') {
			i++;
			continue;
		}
		if (quoted) {
			quoted = c != '"';
			continue;
		}
		if (literal) {
			literal = c != ']';
			continue;
		}
		if (comment > 0) {
			comment += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == '[')
			literal = 1;
		else if (c == '(')
			comment = 1;
		else if (c == '<')
			angle++;
		else if (c == '>' && angle > 0)
			angle--;
		else if (c == ':' && angle == 0)
			*group = 1;
		else if ((c == ',' || c == ';') && angle == 0)
			break;
	}
	return i;
}

/*
 * Parses one member (len bytes at s) into mb and its envelope form
 * *env.  Returns EX_OK, or EX_USAGE / EX_DATAERR with err filled.
 */
static int
relayq_send_parse_member(const char *s, size_t len, const char *domain,
    const char *opt, struct relayq_send_mbox *mb, char **env,
    struct rq_err *err)
{
	const char *errstr = "syntax error";
	struct addr_list l;
	char shown[128];
	int bare = 0;

	if (addr_parse_mailbox_name(s, len, domain, &mb->addr, &mb->name, &bare,
		&errstr) == -1) {
		/* The list parser names the fault more precisely. */
		addr_list_init(&l);
		(void)addr_parse_list(s, len, domain, &l, &errstr);
		addr_list_free(&l);
		str_sanitize(shown, sizeof(shown), s + strspn(s, " \t"),
		    len - strspn(s, " \t"));
		rq_err_set(err, "%s: invalid address \"%s\": %s", opt, shown,
		    errstr);
		return EX_USAGE;
	}
	if (mb->name != NULL &&
	    !relayq_send_is_utf8(mb->name, strlen(mb->name))) {
		rq_err_set(err, "%s: the name of <%s> is not UTF-8 text", opt,
		    mb->addr);
		free(mb->addr);
		free(mb->name);
		return EX_DATAERR;
	}
	/* A bare local part stays bare for sendmail's aliases. */
	if (bare)
		*env = xstrndup(mb->addr,
		    (size_t)(strrchr(mb->addr, '@') - mb->addr));
	else
		*env = xstrdup(mb->addr);
	return EX_OK;
}

/* Parses one --to or --cc value into m. */
int
relayq_send_add_rcpts(struct relayq_send_msg *m, struct relayq_send_mbox **list,
    size_t *n, const char *arg, const char *domain, const char *opt,
    struct rq_err *err)
{
	struct relayq_send_mbox *v = NULL;
	char **env = NULL;
	size_t nv = 0;
	int rc = EX_OK;

	if (relayq_send_has_ctl(arg)) {
		rq_err_set(err,
		    "%s: control character (CR, LF) in an address list", opt);
		return EX_DATAERR;
	}
	for (const char *p = arg;;) {
		int group = 0;
		size_t len = relayq_send_member(p, &group);

		if (group) {
			rq_err_set(err,
			    "%s: address groups (\"name: a, b;\") are not "
			    "supported",
			    opt);
			rc = EX_USAGE;
			break;
		}
		if (strspn(p, " \t") < len) {
			v = xreallocarray(v, nv + 1, sizeof(*v));
			env = xreallocarray(env, nv + 1, sizeof(*env));
			if ((rc = relayq_send_parse_member(p, len, domain, opt,
				 &v[nv], &env[nv], err)) != EX_OK)
				break;
			nv++;
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (rc == EX_OK && nv == 0) {
		rq_err_set(err, "%s: no address given", opt);
		rc = EX_USAGE;
	}
	for (size_t i = 0; i < nv; i++) {
		if (rc == EX_OK && addr_list_add(&m->rcpts, env[i]) == 1) {
			*list = xreallocarray(*list, *n + 1, sizeof(**list));
			(*list)[(*n)++] = v[i];
		} else {
			free(v[i].name);
			free(v[i].addr);
		}
		free(env[i]);
	}
	free(v);
	free(env);
	return rc;
}

/* Checks one --header value. */
int
relayq_send_check_header(const char *h, struct rq_err *err)
{
	static const char *const reserved[] = { "From", "To", "Cc", "Bcc",
		"Subject", "Date", "Message-ID", "MIME-Version" };
	size_t nlen = strcspn(h, ":");

	if (h[nlen] != ':' || nlen == 0 ||
	    !relayq_send_is_printable(h, nlen, 0) ||
	    memchr(h, ' ', nlen) != NULL) {
		rq_err_set(err,
		    "--header: not \"Name: value\" with a field "
		    "name of printable ASCII");
		return EX_USAGE;
	}
	if (relayq_send_has_ctl(h)) {
		rq_err_set(err,
		    "--header %.*s: control character (CR, LF) "
		    "in the value",
		    (int)nlen, h);
		return EX_DATAERR;
	}
	if (!relayq_send_is_printable(h, strlen(h), 1)) {
		rq_err_set(err, "--header %.*s: the value must be ASCII",
		    (int)nlen, h);
		return EX_DATAERR;
	}
	if (strlen(h) > RELAYQ_SEND_LINE_MAX) {
		rq_err_set(err, "--header %.*s: longer than %d characters",
		    (int)nlen, h, RELAYQ_SEND_LINE_MAX);
		return EX_DATAERR;
	}
	for (size_t i = 0; i < RQ_NELEM(reserved); i++)
		if (strlen(reserved[i]) == nlen &&
		    strncasecmp(h, reserved[i], nlen) == 0)
			goto refused;
	if (str_has_prefix_ci(h, "Content-"))
		goto refused;
	return EX_OK;
refused:
	rq_err_set(err,
	    "--header cannot set %.*s: relayq send or sendmail writes it "
	    "(use --from, --to, --cc or --subject)",
	    (int)nlen, h);
	return EX_USAGE;
}

/* The parsed command line of relayq send. */
struct relayq_send_opts {
	const char *from, *subject, *body, *body_file, *sendmail;
	const char **attach; /* borrowed from argv; owned array */
	size_t nattach;
	const char **hdrs; /* borrowed from argv; owned array */
	size_t nhdrs;
};

/* Prints the usage of relayq send on fp. */
void
relayq_send_usage_print(FILE *fp)
{
	fprintf(fp,
	    "usage: relayq [-c config] send [--from ADDR] --to LIST "
	    "[--cc LIST]\n"
	    "           [--subject TEXT] (--body TEXT | --body-file "
	    "FILE|-)\n"
	    "           [--attach FILE]... [--header \"Name: value\"]... "
	    "[--sendmail PATH]\n");
}

/* Prints the usage of relayq send on stderr; returns EX_USAGE. */
static int
relayq_send_usage(void)
{
	relayq_send_usage_print(stderr);
	return EX_USAGE;
}

/* Sets a once-only option; returns EX_OK or EX_USAGE. */
static int
relayq_send_once(const char **slot, const char *val, const char *name)
{
	if (*slot != NULL) {
		fprintf(stderr, "relayq: send: %s given twice\n", name);
		return EX_USAGE;
	}
	*slot = val;
	return EX_OK;
}

/* Records the value of option name (without "--") in o or m. */
static int
relayq_send_option(struct relayq_send_opts *o, struct relayq_send_msg *m,
    const struct conf *conf, const char *name, const char *val)
{
	struct rq_err err;
	int rc;

	if (strcmp(name, "to") == 0 || strcmp(name, "cc") == 0) {
		rc = name[0] == 't'
		    ? relayq_send_add_rcpts(m, &m->to, &m->nto, val,
			  conf->default_domain, "--to", &err)
		    : relayq_send_add_rcpts(m, &m->cc, &m->ncc, val,
			  conf->default_domain, "--cc", &err);
		if (rc != EX_OK)
			fprintf(stderr, "relayq: send: %s\n", err.msg);
		return rc;
	}
	if (strcmp(name, "attach") == 0) {
		o->attach = xreallocarray(o->attach, o->nattach + 1,
		    sizeof(*o->attach));
		o->attach[o->nattach++] = val;
		return EX_OK;
	}
	if (strcmp(name, "header") == 0) {
		if ((rc = relayq_send_check_header(val, &err)) != EX_OK) {
			fprintf(stderr, "relayq: send: %s\n", err.msg);
			return rc;
		}
		o->hdrs =
		    xreallocarray(o->hdrs, o->nhdrs + 1, sizeof(*o->hdrs));
		o->hdrs[o->nhdrs++] = val;
		return EX_OK;
	}
	if (strcmp(name, "from") == 0)
		return relayq_send_once(&o->from, val, "--from");
	if (strcmp(name, "subject") == 0)
		return relayq_send_once(&o->subject, val, "--subject");
	if (strcmp(name, "body") == 0)
		return relayq_send_once(&o->body, val, "--body");
	if (strcmp(name, "body-file") == 0)
		return relayq_send_once(&o->body_file, val, "--body-file");
	if (strcmp(name, "sendmail") == 0)
		return relayq_send_once(&o->sendmail, val, "--sendmail");
	fprintf(stderr, "relayq: send: unknown option --%s\n", name);
	return relayq_send_usage();
}

/*
 * Parses argv: "--name value" or "--name=value" for every option.
 * Returns EX_OK or a sysexits code with a message printed.
 */
static int
relayq_send_args(struct relayq_send_opts *o, struct relayq_send_msg *m,
    const struct conf *conf, int argc, char *argv[])
{
	int rc;

	for (int i = 0; i < argc; i++) {
		char name[32];
		const char *arg = argv[i], *eq, *val;

		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			fprintf(stderr,
			    "relayq: send: unexpected argument "
			    "\"%s\"\n",
			    arg);
			return relayq_send_usage();
		}
		arg += 2;
		if ((eq = strchr(arg, '=')) != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "relayq: send: --%s needs a value\n",
			    arg);
			return relayq_send_usage();
		}
		if (rq_snprintf(name, sizeof(name), "%.*s",
			(int)(eq != NULL ? (size_t)(eq - arg) : strlen(arg)),
			arg) == -1) {
			fprintf(stderr, "relayq: send: unknown option\n");
			return relayq_send_usage();
		}
		if ((rc = relayq_send_option(o, m, conf, name, val)) != EX_OK)
			return rc;
	}
	if (m->nto == 0 && m->ncc == 0) {
		fprintf(stderr, "relayq: send: --to is required\n");
		return relayq_send_usage();
	}
	if ((o->body == NULL) == (o->body_file == NULL)) {
		fprintf(stderr,
		    "relayq: send: give exactly one of --body and "
		    "--body-file\n");
		return relayq_send_usage();
	}
	if (o->subject != NULL && relayq_send_has_ctl(o->subject)) {
		fprintf(stderr,
		    "relayq: send: --subject: control character "
		    "(CR, LF) in the subject\n");
		return EX_DATAERR;
	}
	return EX_OK;
}

/*
 * Reads a whole file ("-" is standard input) of at most left bytes (what
 * max_message_size, max, leaves) into b.  Returns EX_OK, or a sysexits
 * code with a message printed.
 */
static int
relayq_send_read(const char *path, const char *what, size_t left, size_t max,
    struct buf *b)
{
	char chunk[16384];
	struct stat st;
	ssize_t n;
	int fd, rc = EX_OK;

	buf_init(b, left);
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		fprintf(stderr, "relayq: send: %s %s: %s\n", what, path,
		    strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "relayq: send: %s %s: %s\n", what, path,
		    strerror(EISDIR));
		rc = EX_NOINPUT;
		goto out;
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "relayq: send: cannot read %s %s: %s\n",
			    what, path, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (n == 0)
			break;
		if (buf_add(b, chunk, (size_t)n) == -1) {
			fprintf(stderr,
			    "relayq: send: %s %s is larger than "
			    "max_message_size (%zu bytes) allows\n",
			    what, path, max);
			rc = EX_DATAERR;
			break;
		}
	}
out:
	if (fd != STDIN_FILENO)
		(void)close(fd);
	if (rc != EX_OK)
		buf_free(b);
	return rc;
}

/*
 * Reads every --attach file into m; together with the used bytes of the
 * body they must fit in max.
 */
static int
relayq_send_attach(const struct relayq_send_opts *o, struct relayq_send_msg *m,
    size_t used, size_t max)
{
	m->att = xcalloc(o->nattach, sizeof(*m->att));
	for (size_t i = 0; i < o->nattach; i++) {
		const char *path = o->attach[i], *base = strrchr(path, '/');
		struct buf b;
		int rc;

		if (strcmp(path, "-") == 0) {
			fprintf(stderr,
			    "relayq: send: --attach needs a file, not -\n");
			return EX_USAGE;
		}
		if ((rc = relayq_send_read(path, "attachment", max - used, max,
			 &b)) != EX_OK)
			return rc;
		used += b.len;
		base = base != NULL ? base + 1 : path;
		m->att[m->natt].name = xstrdup(base);
		m->att[m->natt].type = relayq_send_mime_type(base);
		m->att[m->natt].data = buf_take(&b, &m->att[m->natt].len);
		m->natt++;
	}
	return EX_OK;
}

/*
 * --from: the header mailbox and the envelope sender.  Only root, or
 * anyone when allow_from_override is on, may choose it, as for
 * sendmail -f (which would otherwise keep the login's address).
 */
static int
relayq_send_from(const char *from, const struct conf *conf,
    struct relayq_send_msg *m)
{
	struct rq_err err;
	char *env = NULL;
	int rc;

	if (!conf->allow_from_override && getuid() != 0) {
		fprintf(stderr,
		    "relayq: send: --from: only root may choose the sender "
		    "(allow_from_override = no in %s)\n",
		    conf->path);
		return EX_USAGE;
	}
	if (relayq_send_has_ctl(from)) {
		fprintf(stderr,
		    "relayq: send: --from: control character "
		    "(CR, LF) in the address\n");
		return EX_DATAERR;
	}
	rc = relayq_send_parse_member(from, strlen(from),
	    conf->masquerade[0] != '\0' ? conf->masquerade
					: conf->default_domain,
	    "--from", &m->from, &env, &err);
	free(env);
	if (rc != EX_OK)
		fprintf(stderr, "relayq: send: %s\n", err.msg);
	return rc;
}

/* Writes len bytes to fd; returns 0 or -1 with errno. */
static int
relayq_send_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Feeds the message to the running sendmail on fd (then closed) and
 * reads its queue id from idfd.  INT, TERM and HUP are held back while
 * the message is written, so that relayq is not killed half-way (the
 * terminal's ^C still reaches sendmail, which then queues nothing).
 */
static void
relayq_send_feed(int fd, int idfd, const struct buf *msg, char *id, size_t idsz)
{
	sigset_t set, old;
	size_t got = 0;
	ssize_t n;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &set, &old);
	/* EPIPE: sendmail stopped reading and says why on stderr. */
	if (relayq_send_write_all(fd, msg->data, msg->len) == -1 &&
	    errno != EPIPE)
		fprintf(stderr, "relayq: send: cannot write to sendmail: %s\n",
		    strerror(errno));
	(void)close(fd);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	for (;;) {
		char c;

		if ((n = read(idfd, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (c != '\n' && got + 1 < idsz)
			id[got++] = c;
	}
	id[got] = '\0';
}

/* Frees a NULL-terminated array of strings. */
static void
relayq_send_argv_free(char **argv)
{
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/*
 * Runs sendmail (no shell) with the message on its standard input and
 * prints the queue id it reports.  Returns sendmail's exit status, or a
 * sysexits code with a message printed.
 */
static int
relayq_send_submit(const char *path, const char *cfg, const char *sender,
    const struct addr_list *rcpts, const struct buf *msg)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	char id[RELAYQ_SEND_ID_MAX];
	char **argv;
	int in[2], out[2], status, e, n = 0;
	pid_t pid;

	/* Copies, so that execve's char *const[] needs no cast. */
	argv = xcalloc(rcpts->n + 10, sizeof(*argv));
	argv[n++] = xstrdup(path);
	if (cfg != NULL) {
		argv[n++] = xstrdup("-C");
		argv[n++] = xstrdup(cfg);
	}
	argv[n++] = xstrdup("-i");
	argv[n++] = xstrdup("--print-queue-id");
	if (sender != NULL) {
		argv[n++] = xstrdup("-f");
		argv[n++] = xstrdup(sender);
	}
	argv[n++] = xstrdup("--");
	for (size_t i = 0; i < rcpts->n; i++)
		argv[n++] = xstrdup(rcpts->v[i]);
	argv[n] = NULL;

	if (pipe2(in, O_CLOEXEC) == -1) {
		fprintf(stderr, "relayq: send: pipe: %s\n", strerror(errno));
		relayq_send_argv_free(argv);
		return EX_OSERR;
	}
	if (pipe2(out, O_CLOEXEC) == -1) {
		fprintf(stderr, "relayq: send: pipe: %s\n", strerror(errno));
		(void)close(in[0]);
		(void)close(in[1]);
		relayq_send_argv_free(argv);
		return EX_OSERR;
	}
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	e = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	relayq_send_argv_free(argv);
	(void)close(in[0]);
	(void)close(out[1]);
	if (e != 0) {
		fprintf(stderr, "relayq: send: cannot run %s: %s\n", path,
		    strerror(e));
		(void)close(in[1]);
		(void)close(out[0]);
		return EX_UNAVAILABLE;
	}
	relayq_send_feed(in[1], out[0], msg, id, sizeof(id));
	(void)close(out[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			fprintf(stderr, "relayq: send: waitpid: %s\n",
			    strerror(errno));
			return EX_OSERR;
		}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "relayq: send: %s was killed by signal %d\n",
		    path, WTERMSIG(status));
		return EX_SOFTWARE;
	}
	if (WEXITSTATUS(status) != EX_OK)
		return WEXITSTATUS(status);
	if (!queue_id_is_valid(id)) {
		fprintf(stderr,
		    "relayq: send: queued, but %s did not report the queue "
		    "id\n",
		    path);
		return EX_OK;
	}
	printf("%s\n", id);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}

/* Runs relayq send. */
int
relayq_send_main(const struct conf *conf, const char *cfg, int argc,
    char *argv[])
{
	struct relayq_send_opts o;
	struct relayq_send_msg m;
	struct buf body, msg;
	struct rq_err err;
	struct sigaction sa;
	size_t max = (size_t)conf->max_message_size;
	int rc;

	memset(&o, 0, sizeof(o));
	relayq_send_msg_init(&m);
	buf_init(&body, max);
	buf_init(&msg, max);
	if ((rc = relayq_send_args(&o, &m, conf, argc, argv)) != EX_OK)
		goto out;
	if (o.from != NULL &&
	    (rc = relayq_send_from(o.from, conf, &m)) != EX_OK)
		goto out;
	if (o.body_file != NULL) {
		if ((rc = relayq_send_read(o.body_file, "body file", max, max,
			 &body)) != EX_OK)
			goto out;
	} else if (buf_adds(&body, o.body) == -1) {
		fprintf(stderr,
		    "relayq: send: --body is larger than max_message_size "
		    "(%zu bytes)\n",
		    max);
		rc = EX_DATAERR;
		goto out;
	}
	if ((rc = relayq_send_attach(&o, &m, body.len, max)) != EX_OK)
		goto out;
	m.subject = o.subject;
	m.body = body.data != NULL ? body.data : "";
	m.bodylen = body.len;
	m.hdrs = o.hdrs;
	m.nhdrs = o.nhdrs;
	if ((rc = relayq_send_compose(&m, &msg, &err)) != EX_OK) {
		fprintf(stderr, "relayq: send: %s\n", err.msg);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	rc = relayq_send_submit(o.sendmail != NULL ? o.sendmail
						   : RELAYQ_SENDMAIL_PATH,
	    cfg, m.from.addr, &m.rcpts, &msg);
out:
	free(o.attach);
	free(o.hdrs);
	buf_free(&body);
	buf_free(&msg);
	relayq_send_msg_free(&m);
	return rc;
}
