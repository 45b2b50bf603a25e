/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq send: the --to/--cc list parser, the --header check, the type
 * table and the MIME composer (exact output for a simple message;
 * round trips through small decoders for encoded words,
 * quoted-printable, base64 and folding; line lengths; size limit).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "relayq/relayq_send.h"
#include "tap.h"

#define MAX (1024 * 1024)

/* Appends s to b; the test buffers never fill up. */
static void
add(struct buf *b, const char *s)
{
	if (buf_adds(b, s) == -1)
		abort();
}

/* Returns the longest line of s, LF excluded. */
static size_t
longest_line(const char *s)
{
	size_t best = 0, cur = 0;

	for (; *s != '\0'; s++) {
		cur = *s == '\n' ? 0 : cur + 1;
		if (cur > best)
			best = cur;
	}
	return best;
}

/* Returns a copy of the value of header field name (unfolded), or NULL. */
static char *
field(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *p = msg, *end;
	struct buf b;

	while (*p != '\0' && *p != '\n') {
		end = strchr(p, '\n');
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			buf_init(&b, MAX);
			p += n + 1;
			if (*p == ' ')
				p++;
			for (;;) {
				end = strchr(p, '\n');
				if (buf_add(&b, p, (size_t)(end - p)) == -1)
					return NULL;
				if (end[1] != ' ' && end[1] != '\t')
					break;
				p = end + 1;
			}
			return buf_take(&b, NULL);
		}
		p = end + 1;
	}
	return NULL;
}

/* Appends the decoding of len base64 characters (at most 200) to b. */
static int
unb64(struct buf *b, const char *s, size_t len)
{
	unsigned char out[256];
	int n, pad = 0;

	if (len > 200)
		return -1;
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	return buf_add(b, out, (size_t)(n - pad));
}

/* Decodes a sequence of "=?UTF-8?B?...?=" words separated by white space. */
static char *
decode_ew(const char *s)
{
	struct buf b;

	buf_init(&b, MAX);
	while (*s != '\0') {
		const char *e;

		s += strspn(s, " \t");
		if (strncmp(s, "=?UTF-8?B?", 10) != 0)
			break;
		s += 10;
		if ((e = strstr(s, "?=")) == NULL ||
		    unb64(&b, s, (size_t)(e - s)) == -1)
			break;
		s = e + 2;
	}
	return buf_take(&b, NULL);
}

/* Decodes quoted-printable text with LF line ends. */
static char *
decode_qp(const char *s, size_t *lenp)
{
	struct buf b;

	buf_init(&b, MAX);
	while (*s != '\0') {
		if (s[0] == '=' && s[1] == '\n') {
			s += 2;
			continue;
		}
		if (s[0] == '=') {
			char hex[3] = { s[1], s[2], 0 };
			char c = (char)strtol(hex, NULL, 16);

			if (buf_add(&b, &c, 1) == -1)
				break;
			s += 3;
			continue;
		}
		if (buf_add(&b, s, 1) == -1)
			break;
		s++;
	}
	return buf_take(&b, lenp);
}

/* Decodes base64 lines. */
static char *
decode_b64(const char *s, size_t len, size_t *lenp)
{
	struct buf b;

	buf_init(&b, MAX);
	for (size_t i = 0; i < len;) {
		size_t e = i;

		while (e < len && s[e] != '\n')
			e++;
		if (e > i && unb64(&b, s + i, e - i) == -1)
			break;
		i = e + 1;
	}
	return buf_take(&b, lenp);
}

/* Composes m into a new string; *rc gets the result. */
static char *
compose(const struct relayq_send_msg *m, size_t max, int *rc)
{
	struct buf out;
	struct rq_err err;

	buf_init(&out, max);
	*rc = relayq_send_compose(m, &out, &err);
	if (*rc != EX_OK) {
		buf_free(&out);
		return NULL;
	}
	return buf_take(&out, NULL);
}

static void
test_rcpts(void)
{
	struct relayq_send_msg m;
	struct rq_err err;
	int rc;

	relayq_send_msg_init(&m);
	rc = relayq_send_add_rcpts(&m, &m.to, &m.nto,
	    "A <a@x.org>; B <b@y.org>", "example.org", "--to", &err);
	is_int(rc, EX_OK, "\"A <a@x>; B <b@y>\" parses");
	is_int(m.nto, 2, "two mailboxes");
	is_str(m.to[0].name, "A", "first name");
	is_str(m.to[1].addr, "b@y.org", "second address");
	is_int(m.rcpts.n, 2, "two envelope recipients");
	rc = relayq_send_add_rcpts(&m, &m.to, &m.nto,
	    "c@z.org, \"Doe, John\" <j@x.org>,d@x.org (Dee);", "example.org",
	    "--to", &err);
	is_int(rc, EX_OK, "commas, a quoted comma, a comment name, a final ;");
	is_int(m.nto, 5, "five mailboxes now");
	is_str(m.to[3].name, "Doe, John", "quoted comma kept in the name");
	is_str(m.to[4].name, "Dee", "comment as the name");
	rc = relayq_send_add_rcpts(&m, &m.cc, &m.ncc, "root, a@x.org, a@X.ORG",
	    "example.org", "--cc", &err);
	is_int(rc, EX_OK, "bare local part and duplicates");
	is_int(m.ncc, 1, "duplicates of To are not listed again");
	is_str(m.cc[0].addr, "root@example.org", "header: qualified");
	is_str(m.rcpts.v[m.rcpts.n - 1], "root", "envelope: bare, for aliases");
	relayq_send_msg_free(&m);

	relayq_send_msg_init(&m);
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "", "example.org",
		   "--to", &err),
	    EX_USAGE, "empty list refused");
	ok(strstr(err.msg, "no address") != NULL, "says no address");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, " ; , ", "example.org",
		   "--to", &err),
	    EX_USAGE, "separators only refused");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto,
		   "a@x.org\r\nBcc: evil@x.org", "example.org", "--to", &err),
	    EX_DATAERR, "CR LF refused with 65");
	ok(strstr(err.msg, "control character") != NULL,
	    "says control character");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "a@x.org\nb@y.org",
		   "example.org", "--to", &err),
	    EX_DATAERR, "LF refused");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "friends: a@x.org;",
		   "example.org", "--to", &err),
	    EX_USAGE, "group refused");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "good@x.org, @@",
		   "example.org", "--to", &err),
	    EX_USAGE, "unparsable member refused");
	ok(strstr(err.msg, "invalid address \"@@\"") != NULL,
	    "names the bad member: %s", err.msg);
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "a@@b.org",
		   "example.org", "--to", &err),
	    EX_USAGE, "a@@b refused");
	ok(strstr(err.msg, "missing domain") != NULL, "precise reason: %s",
	    err.msg);
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "<>", "example.org",
		   "--to", &err),
	    EX_USAGE, "<> refused");
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "A <a@x.org",
		   "example.org", "--to", &err),
	    EX_USAGE, "unbalanced < refused");
	is_int(m.nto + m.rcpts.n, 0, "nothing added by any failure");
	/* relayq send gives sendmail its recipients after "--". */
	is_int(relayq_send_add_rcpts(&m, &m.to, &m.nto, "-oQ@x.org",
		   "example.org", "--to", &err),
	    EX_OK, "leading '-' accepted");
	relayq_send_msg_free(&m);
}

static void
test_header(void)
{
	static const struct {
		const char *h;
		int rc;
	} cases[] = {
		{ "X-Alert: disk full", EX_OK },
		{ "Reply-To: ops@x.org", EX_OK },
		{ "X-A: a\r\nBcc: e@x.org", EX_DATAERR }, /* injection */
		{ "X-A: caf\xc3\xa9", EX_DATAERR },	  /* 8-bit */
		{ "Subject: x", EX_USAGE },		  /* written by send */
		{ "content-type: text/html", EX_USAGE },
		{ "message-id: <a@b>", EX_USAGE }, /* added by sendmail */
		{ "No colon", EX_USAGE },
		{ "Bad Name: x", EX_USAGE },
		{ ": x", EX_USAGE },
	};
	static const struct {
		const char *name, *type;
	} types[] = {
		{ "report.PDF", "application/pdf" },
		{ "a.tar.gz", "application/gzip" },
		{ "log.txt", "text/plain" },
		{ "blob", "application/octet-stream" },
		{ ".png", "application/octet-stream" },
		{ "x.unknown", "application/octet-stream" },
	};
	struct rq_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(relayq_send_check_header(cases[i].h, &err), cases[i].rc,
		    "--header case %zu", i);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		is_str(relayq_send_mime_type(types[i].name), types[i].type,
		    "type of %s", types[i].name);
}

static void
test_simple(void)
{
	struct relayq_send_msg m;
	struct rq_err err;
	char *s, *v;
	int rc;

	relayq_send_msg_init(&m);
	(void)relayq_send_add_rcpts(&m, &m.to, &m.nto,
	    "Ann <ann@x.org>; bob@y.org", "example.org", "--to", &err);
	(void)relayq_send_add_rcpts(&m, &m.cc, &m.ncc,
	    "\"Q \\\"x\\\"\" <q@x.org>", "example.org", "--cc", &err);
	m.subject = "test";
	m.body = "hello\r\nworld";
	m.bodylen = strlen(m.body);
	s = compose(&m, MAX, &rc);
	is_int(rc, EX_OK, "simple message composed");
	is_str(s,
	    "To: \"Ann\" <ann@x.org>, bob@y.org\n"
	    "Cc: \"Q \\\"x\\\"\" <q@x.org>\n"
	    "Subject: test\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 7bit\n"
	    "\n"
	    "hello\n"
	    "world\n",
	    "exact output: CRLF to LF, final LF added, quotes escaped");
	free(s);

	m.body = "caf\xc3\xa9\n";
	m.bodylen = strlen(m.body);
	m.subject = "caf\xc3\xa9 \xe2\x82\xac";
	s = compose(&m, MAX, &rc);
	ok(s != NULL && strstr(s, "Content-Transfer-Encoding: 8bit\n") != NULL,
	    "UTF-8 body is 8bit");
	v = s != NULL ? field(s, "Subject") : NULL;
	ok(v != NULL && strncmp(v, "=?UTF-8?B?", 10) == 0,
	    "UTF-8 subject is encoded");
	free(s);
	s = v != NULL ? decode_ew(v) : NULL;
	is_str(s, "caf\xc3\xa9 \xe2\x82\xac", "and decodes to the subject");
	free(s);
	free(v);

	m.subject = "bad \xc3";
	s = compose(&m, MAX, &rc);
	is_int(rc, EX_DATAERR, "subject that is not UTF-8 refused");
	free(s);
	m.subject = NULL;
	s = compose(&m, 100, &rc);
	is_int(rc, EX_DATAERR, "message over the size limit refused");
	free(s);
	relayq_send_msg_free(&m);
}

/*
 * Composes m with the subject made of n copies of piece, and checks
 * that no line passes width and that the Subject field, unfolded and
 * decoded when encoded is true, gives the subject back.
 */
static void
subject_case(struct relayq_send_msg *m, const char *piece, int n, size_t width,
    int encoded, const char *what)
{
	struct buf b;
	char *s, *v, *d;
	int rc;

	buf_init(&b, MAX);
	for (int i = 0; i < n; i++)
		add(&b, piece);
	m->subject = b.data;
	s = compose(m, MAX, &rc);
	ok(s != NULL && longest_line(s) <= width, "%s: lines within %zu", what,
	    width);
	v = s != NULL ? field(s, "Subject") : NULL;
	d = v == NULL ? NULL : encoded ? decode_ew(v) : strdup(v);
	is_str(d, b.data, "%s: round-trips", what);
	free(s);
	free(v);
	free(d);
	m->subject = NULL;
	buf_free(&b);
}

static void
test_subjects(void)
{
	struct relayq_send_msg m;
	struct rq_err err;
	char *s;
	int rc;

	relayq_send_msg_init(&m);
	(void)relayq_send_add_rcpts(&m, &m.to, &m.nto, "a@x.org", "example.org",
	    "--to", &err);
	m.body = "";
	/* Many encoded words, none splitting a character. */
	subject_case(&m, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 x", 40, 76, 1,
	    "long UTF-8 subject");
	/* Folded at white space; unfolding gives it back exactly. */
	subject_case(&m, "word  ab\tcd ", 30, 78, 0, "long ASCII subject");
	/* One word over 998 octets cannot be folded: encoded words. */
	subject_case(&m, "z", 1200, 76, 1, "1200-octet word");
	/* Text that looks like an encoded word is encoded. */
	subject_case(&m, "=?UTF-8?B?eA==?=", 1, 76, 1, "\"=?\" in a subject");
	relayq_send_msg_free(&m);

	/* Non-ASCII display name. */
	relayq_send_msg_init(&m);
	(void)relayq_send_add_rcpts(&m, &m.to, &m.nto, "J\xc3\xb6rg <j@x.org>",
	    "example.org", "--to", &err);
	m.body = "";
	s = compose(&m, MAX, &rc);
	ok(s != NULL &&
		strstr(s, "To: =?UTF-8?B?SsO2cmc=?= <j@x.org>\n") != NULL,
	    "UTF-8 display name encoded");
	free(s);
	relayq_send_msg_free(&m);
}

static void
test_bodies(void)
{
	struct relayq_send_msg m;
	struct rq_err err;
	struct buf b;
	char *s, *d, *body;
	size_t dlen;
	int rc;

	relayq_send_msg_init(&m);
	(void)relayq_send_add_rcpts(&m, &m.to, &m.nto, "a@x.org", "example.org",
	    "--to", &err);

	/* A line over 998 octets, trailing white space, '=', 8-bit. */
	buf_init(&b, MAX);
	for (int i = 0; i < 2000; i++)
		add(&b, i % 7 == 0 ? "= " : "\xc3\xa9");
	add(&b, "end \t\nnext\n");
	m.body = b.data;
	m.bodylen = b.len;
	s = compose(&m, MAX, &rc);
	ok(s != NULL &&
		strstr(s, "Content-Transfer-Encoding: quoted-printable\n") !=
		    NULL,
	    "over-long line: quoted-printable");
	ok(s != NULL && longest_line(s) <= 76, "QP lines within 76");
	body = s != NULL ? strstr(s, "\n\n") + 2 : NULL;
	d = body != NULL ? decode_qp(body, &dlen) : NULL;
	ok(d != NULL && dlen == b.len && memcmp(d, b.data, b.len) == 0,
	    "QP round-trips");
	free(d);
	free(s);
	buf_free(&b);

	/* NUL and bare CR force QP too. */
	m.body = "a\0b\rc\n";
	m.bodylen = 6;
	s = compose(&m, MAX, &rc);
	ok(s != NULL && strstr(s, "\n\na=00b=0Dc\n") != NULL,
	    "NUL and bare CR encoded");
	free(s);
	relayq_send_msg_free(&m);
}

static void
test_attachments(void)
{
	struct relayq_send_msg m;
	struct rq_err err;
	char bin[1000], *s, *p, *e, *d;
	size_t dlen;
	int rc;

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i % 3 == 0 ? 0 : i % 3 == 1 ? 0xff : i);
	relayq_send_msg_init(&m);
	(void)relayq_send_add_rcpts(&m, &m.to, &m.nto, "a@x.org", "example.org",
	    "--to", &err);
	m.body = "see attached";
	m.bodylen = strlen(m.body);
	m.boundary = "=_test";
	m.att = calloc(3, sizeof(*m.att));
	m.att[0].name = strdup("data.bin");
	m.att[0].type = relayq_send_mime_type("data.bin");
	m.att[0].data = malloc(sizeof(bin));
	memcpy(m.att[0].data, bin, sizeof(bin));
	m.att[0].len = sizeof(bin);
	m.att[1].name = strdup("r\xc3\xa9sum\xc3\xa9 \"1\".pdf");
	m.att[1].type = relayq_send_mime_type(m.att[1].name);
	m.att[1].data = strdup("");
	m.att[2].name = strdup(
	    "a-very-long-file-name-that-needs-sections-\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.txt");
	m.att[2].type = relayq_send_mime_type(m.att[2].name);
	m.att[2].data = strdup("x");
	m.att[2].len = 1;
	m.natt = 3;
	s = compose(&m, MAX, &rc);
	is_int(rc, EX_OK, "multipart composed");
	ok(s != NULL &&
		strstr(s,
		    "Content-Type: "
		    "multipart/mixed;\n\tboundary=\"=_test\"\n") != NULL,
	    "multipart/mixed with the boundary");
	ok(s != NULL &&
		strstr(s,
		    "\n--=_test\nContent-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 7bit\n\nsee attached\n\n"
		    "--=_test\nContent-Type: application/octet-stream\n"
		    "Content-Disposition: attachment;\n\t"
		    "filename=\"data.bin\"\n"
		    "Content-Transfer-Encoding: base64\n\n") != NULL,
	    "text part first, then the attachment's header");
	ok(s != NULL &&
		strstr(s,
		    "Content-Type: application/pdf\n"
		    "Content-Disposition: attachment;\n\t"
		    "filename*=utf-8''r%C3%A9sum%C3%A9%20%221%22.pdf\n") !=
		    NULL,
	    "RFC 2231 file name");
	ok(s != NULL && strstr(s, "\tfilename*0*=utf-8''a-very") != NULL &&
		strstr(s, "\tfilename*1*=") != NULL,
	    "long name in RFC 2231 sections");
	ok(s != NULL && longest_line(s) <= 76, "every line within 76");
	ok(s != NULL && strlen(s) > 6 &&
		strcmp(s + strlen(s) - 12, "\n--=_test--\n") == 0,
	    "closing delimiter last");
	p = s != NULL ? strstr(s, "base64\n\n") : NULL;
	e = p != NULL ? strstr(p, "\n--=_test") : NULL;
	d = e != NULL ? decode_b64(p + 8, (size_t)(e - p - 8), &dlen) : NULL;
	ok(d != NULL && dlen == sizeof(bin) && memcmp(d, bin, dlen) == 0,
	    "binary attachment round-trips");
	free(d);
	free(s);

	m.boundary = "see";
	s = compose(&m, MAX, &rc);
	is_int(rc, EX_OSERR, "a boundary found in the text is never used");
	free(s);
	m.boundary = NULL;
	s = compose(&m, MAX, &rc);
	ok(s != NULL && strstr(s, "boundary=\"=_relayq_") != NULL,
	    "random boundary");
	free(s);
	relayq_send_msg_free(&m);
}

int
main(void)
{
	test_rcpts();
	test_header();
	test_simple();
	test_subjects();
	test_bodies();
	test_attachments();
	return done_testing();
}
