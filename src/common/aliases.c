/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * aliases(5) for a relay.  The file is parsed into a sorted table of
 * (name, value) pairs; values are interpreted only when used, so that
 * newaliases (aliases_check) and sendmail (aliases_resolve) share one
 * interpretation.  A value is split at top-level commas (outside quotes,
 * comments and angle brackets); each member is a pipe ("|cmd", also
 * quoted), a file ("/path"), an include (":include:path") or an RFC 5322
 * address list parsed by addr.c with bare local parts kept, so that they
 * can name further aliases.  The first three are refused: relayq never
 * runs a command or writes a file on behalf of a mail address.
 *
 * Expansion is depth-first with the current path kept on a small stack:
 * a name met again on its own path is not expanded again but qualified
 * with the default domain (sendmail's "root: root, admin" idiom); when it
 * is not the immediate self-reference it is a loop, which newaliases
 * reports.  Names are compared case-insensitively (stored lower case).
 */
#include "config.h"

#include "common/aliases.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

/* Longest alias name accepted, in bytes. */
#define ALIASES_NAME_MAX 64

/* One expansion in progress. */
struct aliases_ctx {
	const struct aliases *a; /* borrowed */
	const char *domain;	 /* borrowed */
	const char *hostname;	 /* borrowed, may be NULL */
	aliases_warn_fn warn;
	void *arg;
	int problems;
	int checking; /* aliases_check: report loops */
	int ntargets; /* final addresses met, duplicates included */
	const char *path[ALIASES_DEPTH_MAX + 1];
	int depth;
};

/* Initialises an empty table. */
void
aliases_init(struct aliases *a)
{
	a->path = NULL;
	a->v = NULL;
	a->n = 0;
}

/* Frees the table. */
void
aliases_free(struct aliases *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].value);
	}
	free(a->v);
	free(a->path);
	aliases_init(a);
}

static void aliases_report(aliases_warn_fn warn, void *arg, const char *path,
    int line, const char *fmt, ...) RQ_PRINTF(5, 6);

/* Formats one problem and hands it to warn (if any). */
static void
aliases_report(aliases_warn_fn warn, void *arg, const char *path, int line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (warn == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn(arg, path != NULL ? path : "aliases", line, msg);
}

/* Orders entries by name. */
static int
aliases_cmp(const void *x, const void *y)
{
	const struct aliases_entry *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* Finds the entry for name (any case), or NULL. */
static const struct aliases_entry *
aliases_find(const struct aliases *a, const char *name)
{
	struct aliases_entry key;
	char low[ALIASES_NAME_MAX + 1];
	size_t i;

	if (a == NULL || a->n == 0)
		return NULL;
	for (i = 0; name[i] != '\0' && i < ALIASES_NAME_MAX; i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z')
		    ? (char)(name[i] - 'A' + 'a')
		    : name[i];
	if (name[i] != '\0')
		return NULL;
	low[i] = '\0';
	key.name = low;
	return bsearch(&key, a->v, a->n, sizeof(*a->v), aliases_cmp);
}

/* Returns nonzero when name is acceptable as an alias name. */
static int
aliases_name_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > ALIASES_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || c == '@' || c == ',' ||
		    c == '"' || c == '<' || c == '>' || c == '(' || c == ')')
			return 0;
	}
	return 1;
}

/* Adds one finished entry (name and unfolded value in the buffers). */
static int
aliases_add(struct aliases *a, const char *path, struct buf *entry, int line,
    aliases_warn_fn warn, void *arg)
{
	const char *s = entry->data, *colon;
	size_t nlen, cap;
	char *name;

	if ((colon = memchr(s, ':', entry->len)) == NULL) {
		aliases_report(warn, arg, path, line,
		    "missing ':' after the alias name");
		return 1;
	}
	nlen = (size_t)(colon - s);
	while (nlen > 0 && (s[nlen - 1] == ' ' || s[nlen - 1] == '\t'))
		nlen--;
	if (!aliases_name_is_valid(s, nlen)) {
		aliases_report(warn, arg, path, line, "invalid alias name");
		return 1;
	}
	name = xstrndup(s, nlen);
	for (char *p = name; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].name, name) == 0) {
			aliases_report(warn, arg, path, line,
			    "alias \"%s\" defined again (line %d is used)",
			    name, a->v[i].line);
			free(name);
			return 1;
		}
	}
	if (a->n % 16 == 0) {
		cap = a->n + 16;
		a->v = xreallocarray(a->v, cap, sizeof(*a->v));
	}
	colon++;
	colon += strspn(colon, " \t");
	a->v[a->n].name = name;
	a->v[a->n].value = xstrdup(colon);
	a->v[a->n].line = line;
	a->n++;
	return 0;
}

/* Parses an aliases file image. */
int
aliases_parse(struct aliases *a, const char *path, const char *text, size_t len,
    aliases_warn_fn warn, void *arg)
{
	struct buf entry;
	size_t i = 0;
	int lineno = 0, start = 0, problems = 0, have = 0;

	free(a->path);
	a->path = xstrdup(path != NULL ? path : "aliases");
	buf_init(&entry, ALIASES_FILE_MAX);
	while (i < len) {
		const char *line = text + i, *nl;
		size_t llen;

		nl = memchr(line, '\n', len - i);
		llen = nl != NULL ? (size_t)(nl - line) : len - i;
		i += llen + (nl != NULL);
		lineno++;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (memchr(line, '\0', llen) != NULL ||
		    str_has_ctl(line, llen)) {
			/* Tabs are fine; other controls are not. */
			int bad = 0;

			for (size_t k = 0; k < llen; k++)
				if (((unsigned char)line[k] < 0x20 &&
					line[k] != '\t') ||
				    line[k] == 0x7f)
					bad = 1;
			if (bad) {
				aliases_report(warn, arg, a->path, lineno,
				    "control character in line");
				problems++;
				continue;
			}
		}
		if (llen > 0 && (line[0] == ' ' || line[0] == '\t')) {
			size_t k = strspn(line, " \t");

			if (k >= llen)
				continue; /* blank line */
			if (!have) {
				aliases_report(warn, arg, a->path, lineno,
				    "continuation line without an alias");
				problems++;
				continue;
			}
			if (buf_add(&entry, " ", 1) == -1 ||
			    buf_add(&entry, line + k, llen - k) == -1)
				break;
			continue;
		}
		if (have) {
			problems +=
			    aliases_add(a, a->path, &entry, start, warn, arg);
			have = 0;
		}
		buf_reset(&entry);
		if (llen == 0 || line[0] == '#')
			continue;
		if (buf_add(&entry, line, llen) == -1)
			break;
		have = 1;
		start = lineno;
	}
	if (have && buf_add(&entry, "", 0) == 0)
		problems += aliases_add(a, a->path, &entry, start, warn, arg);
	buf_free(&entry);
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(*a->v), aliases_cmp);
	return problems;
}

/* Reads and parses an aliases file. */
int
aliases_load(struct aliases *a, const char *path, aliases_warn_fn warn,
    void *arg)
{
	struct stat st;
	char *text;
	size_t have = 0;
	ssize_t n;
	int fd, rv, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ALIASES_FILE_MAX) {
		(void)close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (have < (size_t)st.st_size) {
		n = read(fd, text + have, (size_t)st.st_size - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	(void)close(fd);
	rv = aliases_parse(a, path, text, have, warn, arg);
	free(text);
	return rv;
}

/* Returns nonzero when domain d names this host. */
static int
aliases_is_local_domain(const char *d, const char *hostname)
{
	return strcasecmp(d, "localhost") == 0 ||
	    strcasecmp(d, "localhost.localdomain") == 0 ||
	    (hostname != NULL && *hostname != '\0' &&
		strcasecmp(d, hostname) == 0);
}

/*
 * Returns the local part of addr (into buf) when addr is local: bare,
 * or at this host.  Returns NULL for other addresses.
 */
static const char *
aliases_local_part(const char *addr, const char *hostname, char *buf,
    size_t bufsz)
{
	const char *at = strrchr(addr, '@');
	size_t n;

	if (at == NULL)
		return addr;
	if (addr[0] == '"' || !aliases_is_local_domain(at + 1, hostname))
		return NULL;
	n = (size_t)(at - addr);
	if (n >= bufsz)
		return NULL;
	memcpy(buf, addr, n);
	buf[n] = '\0';
	return buf;
}

/* Adds addr to out, qualifying a bare local part. */
static int
aliases_add_final(struct aliases_ctx *c, const char *addr,
    struct addr_list *out)
{
	char *q;
	int rv;

	c->ntargets++;
	if (strchr(addr, '@') != NULL)
		return addr_list_add(out, addr);
	q = xmalloc(strlen(addr) + strlen(c->domain) + 2);
	(void)snprintf(q, strlen(addr) + strlen(c->domain) + 2, "%s@%s", addr,
	    c->domain);
	rv = addr_list_add(out, q);
	free(q);
	return rv;
}

/* Splits value at top-level commas; calls back for each trimmed member. */
static size_t
aliases_next_member(const char *v, size_t *pos, size_t *mlen)
{
	size_t i = *pos, start;
	int quoted = 0, paren = 0, angle = 0;

	while (v[i] == ' ' || v[i] == '\t' || v[i] == ',')
		i++;
	start = i;
	for (; v[i] != '\0'; i++) {
		char ch = v[i];

		if (ch == '\\' && v[i + 1] != '\0') {
			i++;
			continue;
		}
		if (quoted) {
			if (ch == '"')
				quoted = 0;
			continue;
		}
		if (ch == '"')
			quoted = 1;
		else if (ch == '(')
			paren++;
		else if (ch == ')' && paren > 0)
			paren--;
		else if (ch == '<')
			angle = 1;
		else if (ch == '>')
			angle = 0;
		else if (ch == ',' && paren == 0 && !angle)
			break;
	}
	*pos = i;
	while (i > start && (v[i - 1] == ' ' || v[i - 1] == '\t'))
		i--;
	*mlen = i - start;
	return start;
}

static int aliases_expand(struct aliases_ctx *c, const struct aliases_entry *e,
    struct addr_list *out);

/* Handles one address produced by an alias's value. */
static int
aliases_target(struct aliases_ctx *c, const struct aliases_entry *e,
    const char *addr, struct addr_list *out)
{
	const struct aliases_entry *next;
	char buf[ADDR_PATH_MAX + 1];
	const char *local;

	if ((local = aliases_local_part(addr, c->hostname, buf, sizeof(buf))) ==
		NULL ||
	    (next = aliases_find(c->a, local)) == NULL)
		return aliases_add_final(c, addr, out);
	for (int k = 0; k < c->depth; k++) {
		if (strcmp(c->path[k], next->name) != 0)
			continue;
		if (c->checking && k != c->depth - 1) {
			aliases_report(c->warn, c->arg, c->a->path, e->line,
			    "alias loop: \"%s\" leads back to \"%s\"", e->name,
			    next->name);
			c->problems++;
		}
		return aliases_add_final(c, addr, out);
	}
	if (c->depth >= ALIASES_DEPTH_MAX) {
		aliases_report(c->warn, c->arg, c->a->path, e->line,
		    "alias \"%s\": chain deeper than %d aliases", e->name,
		    ALIASES_DEPTH_MAX);
		c->problems++;
		return 0;
	}
	return aliases_expand(c, next, out);
}

/* Expands entry e (pushed on the path) into out. */
static int
aliases_expand(struct aliases_ctx *c, const struct aliases_entry *e,
    struct addr_list *out)
{
	const char *v = e->value;
	size_t pos = 0, start, mlen;
	int added = 0;

	c->path[c->depth++] = e->name;
	for (;;) {
		struct addr_list one;
		const char *errstr = NULL, *m;
		char first;

		start = aliases_next_member(v, &pos, &mlen);
		if (mlen == 0) {
			if (v[pos] == '\0')
				break;
			pos++;
			continue;
		}
		m = v + start;
		first = m[0] == '"' && mlen > 1 ? m[1] : m[0];
		if (first == '|' || first == '/' ||
		    (mlen >= 9 && strncasecmp(m, ":include:", 9) == 0)) {
			if (c->checking && c->depth > 1)
				continue; /* reported with its own entry */
			aliases_report(c->warn, c->arg, c->a->path, e->line,
			    "alias \"%s\": %s \"%.*s\" refused: relayq has no "
			    "local delivery",
			    e->name,
			    first == '|'       ? "pipe"
				: first == '/' ? "file"
					       : "include",
			    (int)(mlen > 80 ? 80 : mlen), m);
			c->problems++;
			continue;
		}
		addr_list_init(&one);
		if (addr_parse_list_ex(m, mlen, c->domain, ADDR_F_KEEP_BARE,
			&one, NULL, &errstr) == -1 &&
		    !(c->checking && c->depth > 1)) {
			aliases_report(c->warn, c->arg, c->a->path, e->line,
			    "alias \"%s\": bad address \"%.*s\": %s", e->name,
			    (int)(mlen > 80 ? 80 : mlen), m, errstr);
			c->problems++;
		}
		for (size_t k = 0; k < one.n; k++)
			added += aliases_target(c, e, one.v[k], out);
		addr_list_free(&one);
	}
	c->depth--;
	return added;
}

/* Resolves one recipient through the aliases. */
int
aliases_resolve(const struct aliases *a, const char *addr, const char *domain,
    const char *hostname, struct addr_list *out, aliases_warn_fn warn,
    void *arg)
{
	struct aliases_ctx c;
	const struct aliases_entry *e;
	char buf[ADDR_PATH_MAX + 1];
	const char *local;
	int added;

	memset(&c, 0, sizeof(c));
	c.a = a;
	c.domain = domain;
	c.hostname = hostname;
	c.warn = warn;
	c.arg = arg;
	if ((local = aliases_local_part(addr, hostname, buf, sizeof(buf))) ==
		NULL ||
	    (e = aliases_find(a, local)) == NULL)
		return aliases_add_final(&c, addr, out);
	/* Counts only new addresses; a duplicate is still an expansion. */
	added = aliases_expand(&c, e, out);
	if (c.ntargets == 0) {
		aliases_report(warn, arg, a->path, e->line,
		    "alias \"%s\" gives no usable address; sending to %s "
		    "instead",
		    e->name, addr);
		added = aliases_add_final(&c, addr, out);
	}
	return added;
}

/* Checks every entry. */
int
aliases_check(const struct aliases *a, const char *domain, aliases_warn_fn warn,
    void *arg)
{
	struct aliases_ctx c;
	struct addr_list out;

	memset(&c, 0, sizeof(c));
	c.a = a;
	c.domain = domain;
	c.warn = warn;
	c.arg = arg;
	c.checking = 1;
	for (size_t i = 0; i < a->n; i++) {
		addr_list_init(&out);
		c.depth = 0;
		c.ntargets = 0;
		if (aliases_expand(&c, &a->v[i], &out) == 0 &&
		    c.ntargets == 0) {
			aliases_report(warn, arg, a->path, a->v[i].line,
			    "alias \"%s\" gives no address", a->v[i].name);
			c.problems++;
		}
		addr_list_free(&out);
	}
	return c.problems;
}
