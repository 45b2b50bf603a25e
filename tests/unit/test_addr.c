/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the RFC 5322 address-list parser (src/common/addr.c):
 * groups, comments, display names, quoted local parts, routes,
 * qualification, junk, duplicates, control characters, lengths and the
 * -f sender forms.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "tap.h"

#define DOM "example.org"

/* Parses s strictly and returns the addresses joined by ' ', or "ERR". */
static const char *
parse(const char *s)
{
	static char out[2048];
	struct addr_list l;
	const char *errstr = NULL;
	int n;

	addr_list_init(&l);
	n = addr_parse_list(s, strlen(s), DOM, &l, &errstr);
	if (n == -1) {
		addr_list_free(&l);
		return "ERR";
	}
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			strlcat(out, " ", sizeof(out));
		strlcat(out, l.v[i], sizeof(out));
	}
	addr_list_free(&l);
	return out;
}

/* Parses s leniently; returns the addresses and sets *nbad. */
static const char *
parse_lenient(const char *s, size_t *nbad)
{
	static char out[2048];
	struct addr_list l;
	const char *errstr = NULL;

	addr_list_init(&l);
	(void)addr_parse_list_lenient(s, strlen(s), DOM, &l, nbad, &errstr);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			strlcat(out, " ", sizeof(out));
		strlcat(out, l.v[i], sizeof(out));
	}
	addr_list_free(&l);
	return out;
}

/* Parses a sender; returns it, or "ERR". */
static const char *
sender(const char *s)
{
	static char out[512];
	const char *errstr = NULL;
	char *a;

	if (addr_parse_sender(s, DOM, &a, &errstr) == -1)
		return "ERR";
	strlcpy(out, a, sizeof(out));
	free(a);
	return out;
}

/* Simple forms, lists, display names and comments. */
static void
test_basic(void)
{
	is_str(parse("a@x.org"), "a@x.org", "plain addr-spec");
	is_str(parse("a@x.org, b@y.org"), "a@x.org b@y.org", "two addresses");
	is_str(parse("a@x.org,b@y.org,,"), "a@x.org b@y.org",
	    "empty list members");
	is_str(parse("Alice <a@x.org>"), "a@x.org", "display name");
	is_str(parse("Alice Smith <a@x.org>"), "a@x.org", "two-word name");
	is_str(parse("John Q. Public <jqp@x.org>"), "jqp@x.org",
	    "obsolete phrase with a dot");
	is_str(parse("a@x.org (comment)"), "a@x.org", "trailing comment");
	is_str(parse("(c) Alice <a@x.org>"), "a@x.org", "leading comment");
	is_str(parse("a@x.org (outer (inner) x)"), "a@x.org", "nested comment");
	is_str(parse("a@x.org (esc \\) paren)"), "a@x.org",
	    "escaped paren in comment");
	is_str(parse("a(c)@(d)x.org"), "a@x.org", "comments inside addr-spec");
	is_str(parse("\"Doe, John\" <jd@x.org>, b@y.org"), "jd@x.org b@y.org",
	    "comma inside a quoted display name");
	is_str(parse("=?UTF-8?B?w6lsw6hu?= <a@x.org>"), "a@x.org",
	    "encoded-word display name");
	is_str(parse("\xc3\xa9l\xc3\xa8ne <a@x.org>"), "a@x.org",
	    "raw UTF-8 display name");
	is_str(parse("root@host <root@host.org>"), "root@host.org",
	    "address used as display name");
	is_str(parse("<a@x.org>"), "a@x.org", "bare angle address");
	is_str(parse("  a@x.org  "), "a@x.org", "surrounding blanks");
	is_str(parse("a@x.org,\r\n\tb@y.org"), "a@x.org b@y.org",
	    "folded header value");
	is_str(parse(""), "", "empty input gives nothing");
	is_str(parse("(just a comment)"), "", "comment only gives nothing");
}

/* Groups. */
static void
test_groups(void)
{
	is_str(parse("undisclosed-recipients:;"), "", "empty group");
	is_str(parse("team: a@x.org, b@y.org;"), "a@x.org b@y.org",
	    "group members");
	is_str(parse("team: a@x.org, B <b@y.org>;, c@z.org"),
	    "a@x.org b@y.org c@z.org", "group followed by an address");
	is_str(parse("\"The Team\": a@x.org;"), "a@x.org", "quoted group name");
	is_str(parse("team: a@x.org"), "a@x.org", "group without ';'");
	is_str(parse("a: b: c@x.org;;"), "ERR", "nested group");
	is_str(parse("team: a@x.org; junk"), "ERR", "junk after group");
}

/* Quoted local parts, routes, qualification and domains. */
static void
test_forms(void)
{
	is_str(parse("\"john smith\"@x.org"), "\"john smith\"@x.org",
	    "quoted local part kept");
	is_str(parse("\"a\\\"b\"@x.org"), "\"a\\\"b\"@x.org",
	    "quoted-pair kept");
	is_str(parse("\"a@b\"@x.org"), "\"a@b\"@x.org",
	    "quoted local part with '@'");
	is_str(parse("<@a.org,@b.org:user@x.org>"), "user@x.org",
	    "obsolete route dropped");
	is_str(parse("<@a.org:user@x.org>"), "user@x.org", "one-hop route");
	is_str(parse("root"), "root@" DOM, "bare local part qualified");
	is_str(parse("root, alice"), "root@" DOM " alice@" DOM,
	    "bare list qualified");
	is_str(parse("Root <root>"), "root@" DOM, "bare in angle qualified");
	is_str(parse("user@example.com."), "user@example.com",
	    "trailing dot of the domain removed");
	is_str(parse("user@[192.0.2.1]"), "user@[192.0.2.1]", "domain literal");
	is_str(parse("user@Ex_am-ple.ORG"), "user@Ex_am-ple.ORG",
	    "domain case kept");
	is_str(parse("j\xc3\xb6rg@x.org"), "j\xc3\xb6rg@x.org",
	    "UTF-8 local part accepted");
	ok(addr_is_utf8("j\xc3\xb6rg@x.org"), "UTF-8 detected");
	ok(!addr_is_utf8("jorg@x.org"), "ASCII is not UTF-8");
	is_str(parse("first.last+tag@x.org"), "first.last+tag@x.org",
	    "dot-atom with '+'");
}

/* Junk that must be rejected. */
static void
test_junk(void)
{
	const char *bad[] = {
		"<a@x.org",
		"a@@x.org",
		"@@",
		"a@",
		"@x.org",
		"<>",
		"a@x.org>",
		"Alice Smith",
		"a@x.org b@y.org",
		"a..b@x.org",
		".a@x.org",
		"a.@x.org",
		"a@x..org",
		"a@.x.org",
		"a@x!.org",
		"\"unterminated@x",
		"a@x.org (open",
		"a@x.org)",
		"a@[1.2.3.4",
		"a@x.org; b@y.org",
		"a\\b@x.org",
		"\"a b\".c@x.org",
		"<@a.org user@x.org>",
	};

	for (size_t i = 0; i < RQ_NELEM(bad); i++)
		is_str(parse(bad[i]), "ERR", "rejected: %s", bad[i]);
}

/* CR, LF, NUL and other controls; leading '-'; lengths. */
static void
test_safety(void)
{
	struct addr_list l;
	const char *errstr = NULL;
	char buf[600];
	int n;

	is_str(parse("a@x.org\r\nRCPT TO:<b@y.org>"), "ERR",
	    "CRLF not followed by WSP rejected");
	is_str(parse("a@x.org\nb@y.org"), "ERR", "bare LF rejected");
	is_str(parse("a@x.org\rb"), "ERR", "bare CR rejected");
	is_str(parse("\"a\rb\"@x.org"), "ERR", "CR in quoted string");
	is_str(parse("a@x.org (\x01)"), "ERR", "control char in comment");
	is_str(parse("a\x7f@x.org"), "ERR", "DEL rejected");
	addr_list_init(&l);
	n = addr_parse_list("a@x.org\0b@y.org", 15, DOM, &l, &errstr);
	is_int(n, -1, "NUL rejected");
	is_int(l.n, 0, "list unchanged on error");
	ok(errstr != NULL && strstr(errstr, "control") != NULL,
	    "error mentions the control character (%s)", errstr);
	addr_list_free(&l);

	/* sendmail_args.c, not the address syntax, handles option words. */
	is_str(parse("-oQ/tmp@x.org"), "-oQ/tmp@x.org",
	    "leading '-' is legal atext");
	is_str(parse("\"-x\"@x.org"), "\"-x\"@x.org",
	    "quoted '-' local part accepted");

	memset(buf, 'a', 64);
	memcpy(buf + 64, "@x.org", 7);
	is_str(parse(buf), buf, "64-octet local part accepted");
	memset(buf, 'a', 65);
	memcpy(buf + 65, "@x.org", 7);
	is_str(parse(buf), "ERR", "65-octet local part rejected");
	memcpy(buf, "a@", 2);
	for (size_t i = 0; i < 4; i++) {
		memset(buf + 2 + i * 61, 'b', 60);
		buf[2 + i * 61 + 60] = '.';
	}
	memcpy(buf + 2 + 4 * 61, "org", 4);
	is_int(strlen(buf), 249, "built a 249-octet address");
	is_str(parse(buf), buf, "249-octet address accepted");
	memset(buf, 'b', 70);
	memcpy(buf, "a@", 2);
	memcpy(buf + 70, ".org", 5);
	is_str(parse(buf), "ERR", "64-octet label rejected");
	memset(buf, 'a', 300);
	buf[300] = '\0';
	is_str(parse(buf), "ERR", "300-octet address rejected");

	ok(addr_check("a@x.org", &errstr) == 0, "addr_check accepts");
	ok(addr_check("a b@x.org", &errstr) == -1,
	    "addr_check: unquoted space");
	ok(addr_check("-a@x.org", &errstr) == 0, "addr_check: leading '-'");
	ok(addr_check("a@x.org\n", &errstr) == -1, "addr_check: LF");
	ok(addr_check("ax.org", &errstr) == -1, "addr_check: no '@'");
	ok(addr_check("", &errstr) == -1, "addr_check: empty");
	ok(addr_check("\"a b\"@x.org", &errstr) == 0,
	    "addr_check: quoted space");
}

/* Duplicates and the count returned. */
static void
test_duplicates(void)
{
	struct addr_list l;
	const char *errstr = NULL;

	addr_list_init(&l);
	is_int(addr_parse_list("a@x.org, A@X.ORG, a@X.org", 25, DOM, &l,
		   &errstr),
	    2, "local part case-sensitive, domain case-insensitive");
	is_int(addr_parse_list("a@x.org", 7, DOM, &l, &errstr), 0,
	    "duplicate of an earlier list adds nothing");
	is_int(addr_list_add(&l, "b@y.org"), 1, "add new");
	is_int(addr_list_add(&l, "b@Y.ORG"), 0, "add duplicate");
	is_int(l.n, 3, "three distinct addresses");
	is_str(parse("root, root@" DOM), "root@" DOM,
	    "qualified duplicate removed");
	addr_list_free(&l);
	is_int(l.n, 0, "freed list is empty");
	addr_list_free(&l);
}

/* The lenient parser used for -t headers. */
static void
test_lenient(void)
{
	size_t nbad = 99;

	is_str(parse_lenient("a@x.org, @@, b@y.org", &nbad), "a@x.org b@y.org",
	    "junk member skipped");
	is_int(nbad, 1, "one bad member");
	is_str(parse_lenient("<a@x.org, b@y.org", &nbad), "b@y.org",
	    "unbalanced '<' skipped");
	is_int(nbad, 1, "one bad member");
	is_str(parse_lenient("a@x.org, b@exam(ple.org", &nbad), "a@x.org",
	    "member with a lexical error dropped, not truncated");
	is_int(nbad, 1, "one bad member");
	is_str(parse_lenient("t: a@x.org, <>, b@y.org;, c@z.org", &nbad),
	    "a@x.org b@y.org c@z.org", "bad member inside a group");
	is_int(nbad, 1, "one bad member");
	is_str(parse_lenient("undisclosed-recipients:;", &nbad), "",
	    "empty group");
	is_int(nbad, 0, "nothing bad");
}

/* -f / -r sender forms. */
static void
test_sender(void)
{
	is_str(sender(""), "", "'' is the null sender");
	is_str(sender("<>"), "", "<> is the null sender");
	is_str(sender(" <> "), "", "<> with blanks");
	is_str(sender("root"), "root@" DOM, "bare sender qualified");
	is_str(sender("a@x.org"), "a@x.org", "plain sender");
	is_str(sender("Name <a@x.org>"), "a@x.org", "display name stripped");
	is_str(sender("a@x.org (Cron Daemon)"), "a@x.org", "comment stripped");
	is_str(sender("a@x.org, b@y.org"), "ERR", "two senders rejected");
	is_str(sender("a@x.org\n"), "ERR", "LF rejected");
	is_str(sender("a@x.org\r"), "ERR", "CR rejected");
	is_str(sender("-X/var/www/x.php"), "ERR", "option-like rejected");
	is_str(sender("g: a@x.org;"), "ERR", "group rejected");
	is_str(sender("<a@x.org"), "ERR", "unbalanced '<' rejected");
}

/* Runs every group of tests. */
int
main(void)
{
	test_basic();
	test_groups();
	test_forms();
	test_junk();
	test_safety();
	test_duplicates();
	test_lenient();
	test_sender();
	return done_testing();
}
