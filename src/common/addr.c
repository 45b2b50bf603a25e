/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * RFC 5322 address lists, for command-line recipients, -f/-r and the
 * To/Cc/Bcc headers read under -t.  Parsing is done in two passes: a
 * lexer turns the input into tokens (atoms, quoted strings, domain
 * literals and the specials < > @ , ; :), skipping folding white space
 * and nested comments; a small recursive-descent parser then walks the
 * tokens for groups, display names, angle addresses, obsolete routes and
 * addr-specs.  Every result is rebuilt from the raw bytes of its tokens
 * and then validated by addr_check(), so whatever leaves this file is a
 * bounded addr-spec without control characters, safe to put in an
 * envelope record and on an SMTP command line.  A leading '-' is legal
 * (RFC 5322 atext); relayq never passes an address to a program's
 * command line, and sendmail_args.c decides where such a word may stand
 * on sendmail's own.
 *
 * Deliberately not done here: decoding encoded-words (display names are
 * skipped, never interpreted), IDNA conversion, alias expansion, and
 * obsolete local parts mixing atoms with quoted strings ("a b".c@x is
 * rejected rather than rewritten).  A dot-atom local part must be a
 * proper dot-string (no leading, trailing or doubled dot); a domain is
 * a domain literal or dot-separated labels of letters, digits, '-', '_'
 * or UTF-8 bytes; one trailing dot of the domain is dropped.  Lengths
 * follow RFC 5321: local part 64, domain 255, whole address 254 (the
 * 256-octet path minus its angle brackets).
 */
#include "config.h"

#include "common/addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

enum addr_tok_type {
	ADDR_T_ATOM,   /* atext and '.' run, UTF-8 allowed */
	ADDR_T_QSTR,   /* quoted string, quotes included */
	ADDR_T_DLIT,   /* domain literal, brackets included */
	ADDR_T_SPECIAL /* one of < > @ , ; : */
};

struct addr_tok {
	enum addr_tok_type type;
	char c;		 /* the character, for ADDR_T_SPECIAL */
	size_t off, len; /* raw bytes of the token in the input */
};

struct addr_toks {
	struct addr_tok *v; /* owned */
	size_t n, cap;
};

struct addr_parser {
	const char *s;		  /* borrowed input */
	const struct addr_tok *t; /* borrowed tokens */
	size_t n;		  /* number of tokens */
	size_t i;		  /* next token */
	const char *domain;	  /* borrowed; qualifies bare local parts */
	int flags;		  /* ADDR_F_* */
	size_t *bare_ends;	  /* owned: offsets just after bare locals */
	size_t nbare, capbare;
};

/* Initialises an empty list. */
void
addr_list_init(struct addr_list *l)
{
	l->v = NULL;
	l->n = 0;
}

/* Frees the list's strings and array. */
void
addr_list_free(struct addr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	addr_list_init(l);
}

/* Returns nonzero when a and b name the same mailbox. */
int
addr_is_same(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');
	size_t la, lb;

	if (da == NULL || db == NULL)
		return strcmp(a, b) == 0;
	la = (size_t)(da - a);
	lb = (size_t)(db - b);
	return la == lb && memcmp(a, b, la) == 0 && strcasecmp(da, db) == 0;
}

/* Appends a copy of a unless an equal address is already listed. */
int
addr_list_add(struct addr_list *l, const char *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (addr_is_same(l->v[i], a))
			return 0;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(a);
	return 1;
}

/* Returns nonzero for RFC 5322 atext, '.' and UTF-8 bytes. */
static int
addr_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Returns nonzero for a control character other than HTAB. */
static int
addr_is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Returns the length of folding white space at s[i] (one WSP, or a line
 * break that is followed by WSP), or 0 when there is none.
 */
static size_t
addr_fws(const char *s, size_t len, size_t i)
{
	if (s[i] == ' ' || s[i] == '\t')
		return 1;
	if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n' &&
	    (s[i + 2] == ' ' || s[i + 2] == '\t'))
		return 2;
	if (s[i] == '\n' && i + 1 < len &&
	    (s[i + 1] == ' ' || s[i + 1] == '\t'))
		return 1;
	return 0;
}

/* Skips a (possibly nested) comment starting at s[*ip] == '('. */
static int
addr_lex_comment(const char *s, size_t len, size_t *ip, const char **errstr)
{
	size_t i = *ip + 1, w;
	int depth = 1;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if ((w = addr_fws(s, len, i)) > 0) {
			i += w;
			continue;
		}
		if (addr_is_ctl(c)) {
			*errstr = "control character in address";
			return -1;
		}
		if (c == '\\') {
			if (i + 1 >= len ||
			    addr_is_ctl((unsigned char)s[i + 1]))
				break;
			i += 2;
			continue;
		}
		i++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0) {
			*ip = i;
			return 0;
		}
	}
	*errstr = "unbalanced '(' in address";
	return -1;
}

/* Finds the end of a quoted string starting at s[*ip] == '"'. */
static int
addr_lex_quoted(const char *s, size_t len, size_t *ip, const char **errstr)
{
	size_t i = *ip + 1, w;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if ((w = addr_fws(s, len, i)) > 0) {
			i += w;
			continue;
		}
		if (addr_is_ctl(c)) {
			*errstr = "control character in address";
			return -1;
		}
		if (c == '\\') {
			if (i + 1 >= len ||
			    addr_is_ctl((unsigned char)s[i + 1]))
				break;
			i += 2;
			continue;
		}
		i++;
		if (c == '"') {
			*ip = i;
			return 0;
		}
	}
	*errstr = "unterminated quoted string in address";
	return -1;
}

/* Finds the end of a domain literal starting at s[*ip] == '['. */
static int
addr_lex_literal(const char *s, size_t len, size_t *ip, const char **errstr)
{
	for (size_t i = *ip + 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ']') {
			*ip = i + 1;
			return 0;
		}
		if (c <= 0x20 || c >= 0x7f || c == '[' || c == '\\')
			break;
	}
	*errstr = "bad domain literal in address";
	return -1;
}

/* Appends a token. */
static void
addr_toks_push(struct addr_toks *t, enum addr_tok_type type, char c, size_t off,
    size_t len)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].type = type;
	t->v[t->n].c = c;
	t->v[t->n].off = off;
	t->v[t->n].len = len;
	t->n++;
}

/*
 * Splits s into tokens, skipping white space and comments.  Returns 0, or
 * -1 with *errstr; the tokens before the error are kept.
 */
static int
addr_lex(const char *s, size_t len, struct addr_toks *t, const char **errstr)
{
	size_t i = 0, start, w;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if ((w = addr_fws(s, len, i)) > 0) {
			i += w;
			continue;
		}
		start = i;
		if (c == '(') {
			if (addr_lex_comment(s, len, &i, errstr) == -1)
				return -1;
		} else if (c == '"') {
			if (addr_lex_quoted(s, len, &i, errstr) == -1)
				return -1;
			addr_toks_push(t, ADDR_T_QSTR, 0, start, i - start);
		} else if (c == '[') {
			if (addr_lex_literal(s, len, &i, errstr) == -1)
				return -1;
			addr_toks_push(t, ADDR_T_DLIT, 0, start, i - start);
		} else if (strchr("<>@,;:", c) != NULL && c != '\0') {
			addr_toks_push(t, ADDR_T_SPECIAL, (char)c, i, 1);
			i++;
		} else if (addr_is_atext(c)) {
			while (i < len && addr_is_atext((unsigned char)s[i]))
				i++;
			addr_toks_push(t, ADDR_T_ATOM, 0, start, i - start);
		} else {
			if (addr_is_ctl(c) || c == ' ')
				*errstr = "control character in address";
			else if (c == ')')
				*errstr = "unbalanced ')' in address";
			else
				*errstr = "invalid character in address";
			return -1;
		}
	}
	return 0;
}

/* Returns nonzero when the current token is the special character c. */
static int
addr_at(const struct addr_parser *p, char c)
{
	return p->i < p->n && p->t[p->i].type == ADDR_T_SPECIAL &&
	    p->t[p->i].c == c;
}

/* Returns nonzero at the end of a list member (end, ',' or ';'). */
static int
addr_at_stop(const struct addr_parser *p, int in_group)
{
	return p->i >= p->n || addr_at(p, ',') || (in_group && addr_at(p, ';'));
}

/* Copies a token's raw bytes, dropping the CR and LF of folding. */
static void
addr_tok_copy(const struct addr_parser *p, const struct addr_tok *t, char *dst)
{
	size_t o = 0;

	for (size_t k = 0; k < t->len; k++) {
		char c = p->s[t->off + k];

		if (c != '\r' && c != '\n')
			dst[o++] = c;
	}
	dst[o] = '\0';
}

/* Parses local-part ["@" domain] into a new, validated string. */
static int
addr_parse_spec(struct addr_parser *p, char **res, const char **errstr)
{
	const struct addr_tok *lt, *dt = NULL;
	const char *dom;
	size_t dlen, llen;
	char *a;

	if (p->i >= p->n ||
	    (p->t[p->i].type != ADDR_T_ATOM &&
		p->t[p->i].type != ADDR_T_QSTR)) {
		*errstr = "expected an address";
		return -1;
	}
	lt = &p->t[p->i++];
	if (addr_at(p, '@')) {
		p->i++;
		if (p->i >= p->n ||
		    (p->t[p->i].type != ADDR_T_ATOM &&
			p->t[p->i].type != ADDR_T_DLIT)) {
			*errstr = "missing domain after '@'";
			return -1;
		}
		dt = &p->t[p->i++];
	}
	if (lt->len > ADDR_PATH_MAX ||
	    (dt != NULL && dt->len > ADDR_PATH_MAX)) {
		*errstr = "address too long";
		return -1;
	}
	if (dt != NULL) {
		dom = p->s + dt->off;
		dlen = dt->len;
		/* A trailing dot (the DNS root) is dropped once. */
		if (dt->type == ADDR_T_ATOM && dlen > 1 && dom[dlen - 1] == '.')
			dlen--;
	} else if (p->flags & ADDR_F_KEEP_BARE) {
		/* Validated as local@invalid, returned without the domain. */
		a = xmalloc(lt->len + sizeof("@invalid"));
		addr_tok_copy(p, lt, a);
		llen = strlen(a);
		memcpy(a + llen, "@invalid", sizeof("@invalid"));
		if (addr_check(a, errstr) == -1) {
			free(a);
			return -1;
		}
		a[llen] = '\0';
		*res = a;
		return 0;
	} else {
		if (p->domain == NULL || p->domain[0] == '\0') {
			*errstr = "unqualified address and no default domain";
			return -1;
		}
		if (p->nbare == p->capbare) {
			p->capbare = p->capbare == 0 ? 8 : p->capbare * 2;
			p->bare_ends = xreallocarray(p->bare_ends, p->capbare,
			    sizeof(*p->bare_ends));
		}
		p->bare_ends[p->nbare++] = lt->off + lt->len;
		dom = p->domain;
		dlen = strlen(dom);
		if (dlen > ADDR_PATH_MAX) {
			*errstr = "address too long";
			return -1;
		}
	}
	a = xmalloc(lt->len + dlen + 2);
	addr_tok_copy(p, lt, a);
	llen = strlen(a);
	a[llen] = '@';
	memcpy(a + llen + 1, dom, dlen);
	a[llen + 1 + dlen] = '\0';
	if (addr_check(a, errstr) == -1) {
		free(a);
		return -1;
	}
	*res = a;
	return 0;
}

/* Skips an obsolete route ("@a,@b:") inside an angle address. */
static int
addr_skip_route(struct addr_parser *p, const char **errstr)
{
	for (;;) {
		if (!addr_at(p, '@') || p->i + 1 >= p->n ||
		    (p->t[p->i + 1].type != ADDR_T_ATOM &&
			p->t[p->i + 1].type != ADDR_T_DLIT)) {
			*errstr = "bad route in address";
			return -1;
		}
		p->i += 2;
		while (addr_at(p, ','))
			p->i++;
		if (addr_at(p, ':')) {
			p->i++;
			return 0;
		}
	}
}

/*
 * Parses one mailbox: [display-name] "<" [route] addr-spec ">", or a bare
 * addr-spec.  *res is set to the address, or to "" for "<>" when
 * allow_null is set.  The mailbox must end at a member boundary.
 */
static int
addr_parse_mailbox(struct addr_parser *p, int in_group, int allow_null,
    char **res, const char **errstr)
{
	size_t j;

	for (j = p->i; j < p->n; j++) {
		const struct addr_tok *t = &p->t[j];

		if (t->type == ADDR_T_SPECIAL &&
		    (t->c == '<' || t->c == ',' || (in_group && t->c == ';')))
			break;
	}
	if (j < p->n && p->t[j].c == '<' && p->t[j].type == ADDR_T_SPECIAL) {
		/* The display name: words, and '@' for "a@x <a@x>". */
		for (; p->i < j; p->i++) {
			const struct addr_tok *t = &p->t[p->i];

			if (t->type == ADDR_T_SPECIAL && t->c != '@') {
				*errstr = "junk in display name";
				return -1;
			}
		}
		p->i++;
		if (addr_at(p, '>')) {
			if (!allow_null) {
				*errstr = "empty address <>";
				return -1;
			}
			p->i++;
			*res = xstrdup("");
		} else {
			if (addr_at(p, '@') && addr_skip_route(p, errstr) == -1)
				return -1;
			if (addr_parse_spec(p, res, errstr) == -1)
				return -1;
			if (!addr_at(p, '>')) {
				free(*res);
				*res = NULL;
				*errstr = "unbalanced '<' in address";
				return -1;
			}
			p->i++;
		}
	} else if (addr_parse_spec(p, res, errstr) == -1)
		return -1;
	if (!addr_at_stop(p, in_group)) {
		free(*res);
		*res = NULL;
		*errstr = "junk after address";
		return -1;
	}
	return 0;
}

/* Returns nonzero when the member at the current token is a group. */
static int
addr_is_group(const struct addr_parser *p)
{
	size_t j = p->i;

	while (j < p->n &&
	    (p->t[j].type == ADDR_T_ATOM || p->t[j].type == ADDR_T_QSTR))
		j++;
	return j < p->n && p->t[j].type == ADDR_T_SPECIAL && p->t[j].c == ':';
}

/* Advances past the current member, to the next ',' (or ';' in a group). */
static void
addr_skip_member(struct addr_parser *p, int in_group)
{
	int depth = 0;

	for (; p->i < p->n; p->i++) {
		const struct addr_tok *t = &p->t[p->i];

		if (t->type != ADDR_T_SPECIAL)
			continue;
		if (t->c == '<')
			depth++;
		else if (t->c == '>' && depth > 0)
			depth--;
		else if (depth == 0 &&
		    (t->c == ',' || (in_group && t->c == ';')))
			return;
	}
}

/*
 * Parses every member up to the end of the tokens into out.  With
 * nbad == NULL the first error fails the whole parse; otherwise bad
 * members are skipped and counted.
 */
static int
addr_parse_members(struct addr_parser *p, struct addr_list *out, size_t *nbad,
    const char **errstr)
{
	char *a;

	while (p->i < p->n) {
		int in_group = 0;

		if (addr_at(p, ',')) {
			p->i++;
			continue;
		}
		if (addr_is_group(p)) {
			while (!addr_at(p, ':'))
				p->i++;
			p->i++;
			in_group = 1;
		}
		do {
			if (in_group && addr_at(p, ';')) {
				p->i++;
				in_group = 0;
				if (!addr_at_stop(p, 0)) {
					*errstr = "junk after group";
					goto bad;
				}
				break;
			}
			if (addr_at(p, ',')) {
				p->i++;
				continue;
			}
			if (in_group && p->i >= p->n)
				break; /* tolerate a group without ';' */
			if (in_group && addr_at(p, ':')) {
				*errstr = "nested group in address";
				goto bad;
			}
			if (addr_parse_mailbox(p, in_group, 0, &a, errstr) ==
			    -1)
				goto bad;
			(void)addr_list_add(out, a);
			free(a);
			continue;
		bad:
			if (nbad == NULL)
				return -1;
			(*nbad)++;
			addr_skip_member(p, in_group);
		} while (in_group && p->i < p->n);
	}
	return 0;
}

/* Shared body of the strict and the lenient list parsers. */
static int
addr_parse_list_impl(const char *s, size_t len, const char *domain, int flags,
    struct addr_list *out, size_t *nbad, const char **errstr)
{
	struct addr_toks t = { NULL, 0, 0 };
	struct addr_parser p;
	struct addr_list tmp;
	int added = 0, lexbad = 0;

	addr_list_init(&tmp);
	if (addr_lex(s, len, &t, errstr) == -1) {
		if (nbad == NULL) {
			free(t.v);
			return -1;
		}
		/* Keep only the members that ended before the error. */
		while (t.n > 0 &&
		    !(t.v[t.n - 1].type == ADDR_T_SPECIAL &&
			(t.v[t.n - 1].c == ',' || t.v[t.n - 1].c == ';')))
			t.n--;
		lexbad = 1;
	}
	p.s = s;
	p.t = t.v;
	p.n = t.n;
	p.i = 0;
	p.domain = domain;
	p.flags = flags;
	p.bare_ends = NULL;
	p.nbare = p.capbare = 0;
	if (addr_parse_members(&p, &tmp, nbad, errstr) == -1) {
		free(t.v);
		free(p.bare_ends);
		addr_list_free(&tmp);
		return -1;
	}
	free(p.bare_ends);
	if (lexbad)
		(*nbad)++;
	for (size_t k = 0; k < tmp.n; k++)
		added += addr_list_add(out, tmp.v[k]);
	free(t.v);
	addr_list_free(&tmp);
	return added;
}

/* Parses an address list; all or nothing. */
int
addr_parse_list(const char *s, size_t len, const char *domain,
    struct addr_list *out, const char **errstr)
{
	return addr_parse_list_impl(s, len, domain, 0, out, NULL, errstr);
}

/* Parses an address list, skipping and counting malformed members. */
int
addr_parse_list_lenient(const char *s, size_t len, const char *domain,
    struct addr_list *out, size_t *nbad, const char **errstr)
{
	*nbad = 0;
	return addr_parse_list_impl(s, len, domain, 0, out, nbad, errstr);
}

/* Parses an address list with flags; strict when nbad is NULL. */
int
addr_parse_list_ex(const char *s, size_t len, const char *domain, int flags,
    struct addr_list *out, size_t *nbad, const char **errstr)
{
	if (nbad != NULL)
		*nbad = 0;
	return addr_parse_list_impl(s, len, domain, flags, out, nbad, errstr);
}

/* Copies s with "@domain" inserted after each bare local part. */
int
addr_qualify_value(const char *s, size_t len, const char *domain, char **out,
    size_t *outlen)
{
	struct addr_toks t = { NULL, 0, 0 };
	struct addr_parser p;
	struct addr_list tmp;
	const char *errstr = NULL;
	size_t dlen = strlen(domain), o = 0, from = 0;
	char *r;
	int n;

	*out = NULL;
	*outlen = 0;
	if (addr_lex(s, len, &t, &errstr) == -1) {
		free(t.v);
		return -1;
	}
	addr_list_init(&tmp);
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.t = t.v;
	p.n = t.n;
	p.domain = domain;
	if (addr_parse_members(&p, &tmp, NULL, &errstr) == -1) {
		free(t.v);
		free(p.bare_ends);
		addr_list_free(&tmp);
		return -1;
	}
	free(t.v);
	addr_list_free(&tmp);
	if ((n = (int)p.nbare) == 0) {
		free(p.bare_ends);
		return 0;
	}
	r = xmalloc(len + p.nbare * (dlen + 1) + 1);
	for (size_t k = 0; k < p.nbare; k++) {
		size_t at = p.bare_ends[k];

		memcpy(r + o, s + from, at - from);
		o += at - from;
		r[o++] = '@';
		memcpy(r + o, domain, dlen);
		o += dlen;
		from = at;
	}
	memcpy(r + o, s + from, len - from);
	o += len - from;
	r[o] = '\0';
	free(p.bare_ends);
	*out = r;
	*outlen = o;
	return n;
}

/* Appends the text of comment s[open..] (unescaped) to name. */
static size_t
addr_comment_text(const char *s, size_t len, size_t open, char *name,
    size_t namesz)
{
	size_t o = 0, i = open + 1;
	int depth = 1;

	while (i < len && depth > 0) {
		char c = s[i++];

		if (c == '\\' && i < len)
			c = s[i++];
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
		if (c == '\r' || c == '\n')
			continue;
		if (o + 1 < namesz)
			name[o++] = c == '\t' ? ' ' : c;
	}
	name[o] = '\0';
	return o;
}

/* Parses a field holding one mailbox, with its display name. */
int
addr_parse_mailbox_name(const char *s, size_t len, const char *domain,
    char **addr, char **name, int *bare, const char **errstr)
{
	struct addr_toks t = { NULL, 0, 0 };
	struct addr_parser p;
	char buf[ADDR_NAME_MAX + 1];
	size_t o = 0, j;
	int quoted = 0;
	char *a = NULL;

	*addr = NULL;
	*name = NULL;
	*bare = 0;
	if (addr_lex(s, len, &t, errstr) == -1) {
		free(t.v);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.t = t.v;
	p.n = t.n;
	p.domain = domain;
	if (t.n == 0 || addr_is_group(&p) ||
	    addr_parse_mailbox(&p, 0, 0, &a, errstr) == -1 || p.i < p.n) {
		if (t.n == 0 || addr_is_group(&p) || p.i < p.n)
			*errstr = "not exactly one mailbox";
		free(a);
		free(t.v);
		free(p.bare_ends);
		return -1;
	}
	*bare = p.nbare > 0;
	free(p.bare_ends);
	/* The phrase before '<', word by word, quotes removed. */
	for (j = 0; j < t.n; j++) {
		const struct addr_tok *k = &t.v[j];

		if (k->type == ADDR_T_SPECIAL && k->c == '<')
			break;
	}
	if (j < t.n) {
		for (size_t w = 0; w < j; w++) {
			const struct addr_tok *k = &t.v[w];
			size_t b = 0, e = k->len;

			if (k->type == ADDR_T_QSTR) {
				b = 1;
				e = k->len - 1;
			}
			if (o > 0 && o + 1 < sizeof(buf))
				buf[o++] = ' ';
			for (size_t i = b; i < e; i++) {
				char c = s[k->off + i];

				if (k->type == ADDR_T_QSTR && c == '\\' &&
				    i + 1 < e)
					c = s[k->off + ++i];
				if (c == '\r' || c == '\n')
					continue;
				if (o + 1 < sizeof(buf))
					buf[o++] = c == '\t' ? ' ' : c;
			}
		}
		buf[o] = '\0';
	} else {
		/* "addr (Comment)": the first comment outside quotes. */
		buf[0] = '\0';
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '\\') {
				i++;
				continue;
			}
			if (s[i] == '"')
				quoted = !quoted;
			else if (s[i] == '(' && !quoted) {
				o = addr_comment_text(s, len, i, buf,
				    sizeof(buf));
				break;
			}
		}
	}
	free(t.v);
	while (o > 0 && buf[o - 1] == ' ')
		buf[--o] = '\0';
	*addr = a;
	if (buf[strspn(buf, " ")] != '\0')
		*name = xstrdup(buf + strspn(buf, " "));
	return 0;
}

/* Parses a -f/-r sender. */
int
addr_parse_sender(const char *s, const char *domain, char **out,
    const char **errstr)
{
	struct addr_toks t = { NULL, 0, 0 };
	struct addr_parser p;
	size_t len = strlen(s);
	char *a = NULL;

	if (memchr(s, '\r', len) != NULL || memchr(s, '\n', len) != NULL) {
		*errstr = "control character in address";
		return -1;
	}
	if (addr_lex(s, len, &t, errstr) == -1) {
		free(t.v);
		return -1;
	}
	if (t.n == 0) {
		free(t.v);
		*out = xstrdup("");
		return 0;
	}
	p.s = s;
	p.t = t.v;
	p.n = t.n;
	p.i = 0;
	p.domain = domain;
	p.flags = 0;
	p.bare_ends = NULL;
	p.nbare = p.capbare = 0;
	if (addr_is_group(&p)) {
		*errstr = "a group is not a sender address";
		free(t.v);
		return -1;
	}
	if (addr_parse_mailbox(&p, 0, 1, &a, errstr) == -1) {
		free(t.v);
		free(p.bare_ends);
		return -1;
	}
	free(p.bare_ends);
	if (p.i < p.n) {
		*errstr = "more than one sender address";
		free(a);
		free(t.v);
		return -1;
	}
	free(t.v);
	if (a[0] == '-') {
		/* "-f -x": an option taken as the sender by mistake. */
		*errstr = "sender address starts with '-'";
		free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* Checks a quoted local part "..." of len bytes. */
static int
addr_check_quoted(const char *s, size_t len)
{
	if (len < 2 || s[len - 1] != '"')
		return -1;
	for (size_t i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (i + 1 >= len - 1 || s[i + 1] < 0x20 ||
			    s[i + 1] == 0x7f)
				return -1;
			i++;
		} else if (c == '"' || (c < 0x20) || c == 0x7f)
			return -1;
	}
	return 0;
}

/* Checks a dot-string: atoms of atext separated by single dots. */
static int
addr_check_dotstring(const char *s, size_t len)
{
	if (s[0] == '.' || s[len - 1] == '.')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!addr_is_atext((unsigned char)s[i]))
			return -1;
		if (s[i] == '.' && s[i + 1] == '.')
			return -1;
	}
	return 0;
}

/* Checks a domain: a literal, or labels of letters, digits, '-', '_'. */
static int
addr_check_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']')
			return -1;
		for (size_t i = 1; i < len - 1; i++)
			/* The queue refuses these in an address too. */
			if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '[' ||
			    s[i] == ']' || s[i] == '\\' ||
			    strchr("()<>,;\"@", s[i]) != NULL)
				return -1;
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c >= 0x80))
			return -1;
		if (++label > 63)
			return -1;
	}
	return label == 0 ? -1 : 0;
}

/* Validates an addr-spec for use in an envelope. */
int
addr_check(const char *a, const char **errstr)
{
	size_t len = strlen(a), llen;
	const char *at;

	if (len == 0) {
		*errstr = "empty address";
		return -1;
	}
	if (len > ADDR_PATH_MAX - 2) {
		*errstr = "address too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f) {
			*errstr = "control character in address";
			return -1;
		}
	}
	if ((at = strrchr(a, '@')) == NULL) {
		*errstr = "address has no domain";
		return -1;
	}
	llen = (size_t)(at - a);
	if (llen == 0) {
		*errstr = "address has an empty local part";
		return -1;
	}
	if (llen > ADDR_LOCAL_MAX) {
		*errstr = "local part too long";
		return -1;
	}
	if (len - llen - 1 > ADDR_DOMAIN_MAX) {
		*errstr = "domain too long";
		return -1;
	}
	if (len - llen - 1 == 0) {
		*errstr = "address has an empty domain";
		return -1;
	}
	if (a[0] == '"' ? addr_check_quoted(a, llen) == -1
			: addr_check_dotstring(a, llen) == -1) {
		*errstr = "invalid local part";
		return -1;
	}
	if (addr_check_domain(at + 1, len - llen - 1) == -1) {
		*errstr = "invalid domain";
		return -1;
	}
	return 0;
}

/* Returns nonzero when a has a byte >= 0x80. */
int
addr_is_utf8(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a >= 0x80)
			return 1;
	return 0;
}
