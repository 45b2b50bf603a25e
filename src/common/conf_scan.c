/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The configuration pre-scan (see conf_scan.h).  It follows iniparser
 * 4.1's iniparser_load() and iniparser_line() line by line: trailing
 * blanks are stripped; a line that then ends in a backslash loses it and
 * the next line is appended (its leading blanks kept); the joined line,
 * stripped on both sides, is empty, a comment (';' or '#' first), a
 * section ('[' first and ']' last: the name is what comes before the
 * first ']', stripped and lower-cased), or a key (what comes before the
 * first '=', stripped and lower-cased).  Anything else is a syntax error,
 * which iniparser itself reports, so the scan skips it.
 *
 * It owns nothing after it returns and changes nothing: it only refuses.
 * It keeps every section and key it has seen, with their lines (a
 * configuration file is small; the lookups are linear).
 */
#include "config.h"

#include "common/conf_scan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "common/xmalloc.h"

/* A section or key seen, and its line. */
struct conf_scan_name {
	char *sec; /* owned: the section, normalised */
	char *key; /* owned: the key, or NULL for the header */
	int line;
};

/* The scan's state. */
struct conf_scan {
	const char *path;
	struct conf_scan_name *v; /* owned */
	size_t n;
	char sec[CONF_SCAN_LINE_MAX + 2]; /* the current section */
	struct rq_err *err, *sherr;
};

/* Strips blanks on both sides of s in place; returns its length. */
static size_t
conf_scan_strip(char *s)
{
	size_t n = strlen(s), k = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (k < n && isspace((unsigned char)s[k]))
		k++;
	memmove(s, s + k, n - k);
	s[n - k] = '\0';
	return n - k;
}

/* Lower-cases s and turns each run of blanks into one space. */
static void
conf_scan_normalize(char *s)
{
	char *w = s;

	for (const char *r = s; *r != '\0'; r++) {
		if (isspace((unsigned char)*r)) {
			if (w == s || w[-1] != ' ')
				*w++ = ' ';
			continue;
		}
		*w++ = (char)tolower((unsigned char)*r);
	}
	*w = '\0';
}

/* True when the normalised section sec is [smarthost] or a named one. */
static int
conf_scan_is_smarthost(const char *sec)
{
	return strncmp(sec, "smarthost", 9) == 0 &&
	    (sec[9] == '\0' || sec[9] == ' ');
}

/* Returns the line where sec (and key, or the header if NULL) was seen. */
static int
conf_scan_seen(const struct conf_scan *s, const char *sec, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].sec, sec) == 0 &&
		    (key == NULL ? s->v[i].key == NULL
				 : s->v[i].key != NULL &&
				strcmp(s->v[i].key, key) == 0))
			return s->v[i].line;
	return 0;
}

/* Remembers sec (and key) at line. */
static void
conf_scan_add(struct conf_scan *s, const char *sec, const char *key, int line)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n].sec = xstrdup(sec);
	s->v[s->n].key = key != NULL ? xstrdup(key) : NULL;
	s->v[s->n].line = line;
	s->n++;
}

/*
 * Records sec or sec:key, first seen at line first, given again at line:
 * in sherr for a smarthost section (the scan goes on), else in err.
 * Returns -1 when the scan must stop.
 */
static int
conf_scan_twice(struct conf_scan *s, const char *sec, const char *key, int line,
    int first)
{
	struct rq_err *e = conf_scan_is_smarthost(sec) ? s->sherr : s->err;
	char sbuf[80], kbuf[80];

	if (e->msg[0] != '\0')
		return e == s->err ? -1 : 0;
	str_sanitize(sbuf, sizeof(sbuf), sec, strlen(sec));
	if (key == NULL)
		rq_err_set(e,
		    "%s:%d: [%s] appears twice (first at line %d): give each "
		    "section once (iniparser would merge them)",
		    s->path, line, sbuf, first);
	else {
		str_sanitize(kbuf, sizeof(kbuf), key, strlen(key));
		rq_err_set(e,
		    "%s:%d: %s:%s is set twice in [%s] (first at line %d): "
		    "set each key once (iniparser would keep only the last "
		    "value; a list goes on one line: a, b)",
		    s->path, line, sbuf, kbuf, sbuf, first);
	}
	return e == s->err ? -1 : 0;
}

/* Handles one joined, stripped line, the last of its lines at line. */
static int
conf_scan_line(struct conf_scan *s, char *l, size_t len, int line)
{
	char *p;
	int first;

	if (len == 0 || l[0] == '#' || l[0] == ';')
		return 0;
	if (l[0] == '[' && l[len - 1] == ']') {
		if (l[1] == ']') {
			rq_err_set(s->err, "%s:%d: empty section name []",
			    s->path, line);
			return -1;
		}
		l[1 + strcspn(l + 1, "]")] = '\0';
		(void)conf_scan_strip(l + 1);
		conf_scan_normalize(l + 1);
		(void)strlcpy(s->sec, l + 1, sizeof(s->sec));
		if ((first = conf_scan_seen(s, s->sec, NULL)) != 0)
			return conf_scan_twice(s, s->sec, NULL, line, first);
		conf_scan_add(s, s->sec, NULL, line);
		return 0;
	}
	if ((p = strchr(l, '=')) == NULL || p == l)
		return 0; /* iniparser reports the syntax error */
	*p = '\0';
	(void)conf_scan_strip(l);
	for (p = l; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((first = conf_scan_seen(s, s->sec, l)) != 0)
		return conf_scan_twice(s, s->sec, l, line, first);
	conf_scan_add(s, s->sec, l, line);
	return 0;
}

/*
 * Reports a line that iniparser cannot read: too long, or holding a NUL
 * byte (which iniparser, reading with fgets, also takes for too long).
 * l is the start of the joined line, for the key it sets.
 */
static void
conf_scan_bad_line(struct conf_scan *s, const char *l, int line, int nul)
{
	char key[80] = "";
	const char *eq = strchr(l, '=');
	size_t k = strspn(l, " \t"), n;

	if (eq != NULL && eq > l + k && l[k] != '[') {
		n = (size_t)(eq - l);
		while (n > k && isspace((unsigned char)l[n - 1]))
			n--;
		str_sanitize(key, sizeof(key), l + k, n - k > 64 ? 64 : n - k);
	}
	rq_err_set(s->err,
	    "%s:%d: %s (in [%.64s]%s%s): a line, with its continuation "
	    "lines, holds at most %d characters",
	    s->path, line, nul ? "the line holds a NUL byte" : "line too long",
	    s->sec, key[0] != '\0' ? ", key " : "", key, CONF_SCAN_LINE_MAX);
}

/* Scans path; see conf_scan.h. */
int
conf_scan(const char *path, struct rq_err *err, struct rq_err *sherr)
{
	struct conf_scan s;
	char buf[CONF_SCAN_LINE_MAX + 2];
	char *l = NULL;
	size_t cap = 0, last = 0;
	ssize_t n;
	int line = 0, rv = 0;
	FILE *f;

	err->msg[0] = '\0';
	sherr->msg[0] = '\0';
	if ((f = fopen(path, "r")) == NULL) {
		rq_err_set(err, "cannot read configuration %s: %s", path,
		    strerror(errno));
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.path = path;
	s.err = err;
	s.sherr = sherr;
	while (rv == 0 && (n = getline(&l, &cap, f)) != -1) {
		size_t len = (size_t)n, nl = len > 0 && l[len - 1] == '\n';

		line++;
		if (memchr(l, '\0', len) != NULL ||
		    last + len - nl > CONF_SCAN_LINE_MAX) {
			size_t cp = CONF_SCAN_LINE_MAX - last < len
			    ? CONF_SCAN_LINE_MAX - last
			    : len;

			memcpy(buf + last, l, cp);
			buf[last + cp] = '\0';
			conf_scan_bad_line(&s, buf, line,
			    memchr(l, '\0', len) != NULL);
			rv = -1;
			break;
		}
		memcpy(buf + last, l, len + 1);
		len += last;
		while (len > 0 && isspace((unsigned char)buf[len - 1]))
			buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\\') {
			last = len - 1;
			continue;
		}
		last = 0;
		len = conf_scan_strip(buf);
		rv = conf_scan_line(&s, buf, len, line);
	}
	if (rv == 0 && ferror(f)) {
		rq_err_set(err, "cannot read configuration %s: %s", path,
		    strerror(errno));
		rv = -1;
	}
	(void)fclose(f);
	free(l);
	for (size_t i = 0; i < s.n; i++) {
		free(s.v[i].sec);
		free(s.v[i].key);
	}
	free(s.v);
	return rv;
}
