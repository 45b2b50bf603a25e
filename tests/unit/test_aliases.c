/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the aliases file (src/common/aliases.c): syntax,
 * continuation lines, comments, case, recursion, the self-reference
 * idiom, loops, depth, refused pipes/files/:include:, and resolution of
 * bare, @hostname and remote recipients.  Also the address helpers the
 * header rewriting uses (addr_qualify_value, addr_parse_mailbox_name).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/aliases.h"
#include "tap.h"

#define DOM "example.org"
#define HOST "host.example.org"

static char warnings[4096];
static int nwarn;

/* Collects warnings as "line:msg;". */
static void
warn_cb(void *arg, const char *path, int line, const char *msg)
{
	char one[600];

	(void)arg;
	(void)path;
	nwarn++;
	(void)snprintf(one, sizeof(one), "%d:%s;", line, msg);
	strlcat(warnings, one, sizeof(warnings));
}

/* Resolves addr through a; returns the addresses joined by ' '. */
static const char *
resolve(const struct aliases *a, const char *addr)
{
	static char out[2048];
	struct addr_list l;

	addr_list_init(&l);
	(void)aliases_resolve(a, addr, DOM, HOST, &l, warn_cb, NULL);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			strlcat(out, " ", sizeof(out));
		strlcat(out, l.v[i], sizeof(out));
	}
	addr_list_free(&l);
	return out;
}

/* Parses text into a fresh table; returns the problem count. */
static int
load(struct aliases *a, const char *text)
{
	aliases_free(a);
	warnings[0] = '\0';
	nwarn = 0;
	return aliases_parse(a, "test", text, strlen(text), warn_cb, NULL);
}

static void
test_syntax(void)
{
	struct aliases a;

	aliases_init(&a);
	is_int(load(&a,
		   "# comment\n"
		   "\n"
		   "Root: admin@example.net,\n"
		   "  ops@example.net\n"
		   "postmaster:root\n"
		   "team: \"Ann Lee\" <ann@example.net>, bob (Bob)\n"),
	    0, "clean file: no problem");
	is_int(a.n, 3, "three entries");
	is_str(resolve(&a, "root"), "admin@example.net ops@example.net",
	    "continuation line joined; name case-insensitive");
	is_str(resolve(&a, "ROOT"), "admin@example.net ops@example.net",
	    "lookup case-insensitive");
	is_str(resolve(&a, "postmaster"), "admin@example.net ops@example.net",
	    "recursive expansion");
	is_str(resolve(&a, "team"), "ann@example.net bob@example.org",
	    "display names and comments; bare target qualified");
	is_str(resolve(&a, "nobody"), "nobody@example.org",
	    "not an alias: qualified");
	is_str(resolve(&a, "root@" HOST), "admin@example.net ops@example.net",
	    "@hostname is local");
	is_str(resolve(&a, "root@localhost"),
	    "admin@example.net ops@example.net", "@localhost is local");
	is_str(resolve(&a, "root@example.net"), "root@example.net",
	    "remote address never aliased");
	is_str(resolve(NULL, "root"), "root@example.org",
	    "no table: qualified");

	is_int(load(&a, "nocolon here\n  cont\nok: x@y.org\nok: z@y.org\n"), 2,
	    "missing colon and a repeated name are reported");
	ok(strstr(warnings, "1:missing ':'") != NULL, "line number given");
	ok(strstr(warnings, "defined again") != NULL, "duplicate reported");
	is_str(resolve(&a, "ok"), "x@y.org", "first definition wins");
	is_int(load(&a, "  leading: x@y.org\n"), 1,
	    "continuation without alias reported");
	is_int(load(&a, "bad name: x@y.org\n"), 1, "space in name refused");
	aliases_free(&a);
}

static void
test_refused(void)
{
	struct aliases a;

	aliases_init(&a);
	is_int(load(&a,
		   "pipe: |/usr/bin/procmail, admin@example.net\n"
		   "qpipe: \"|/bin/cat > /tmp/x\"\n"
		   "file: /var/mail/backup\n"
		   "inc: :include:/etc/mail/list\n"),
	    0, "refused forms parse");
	nwarn = 0;
	warnings[0] = '\0';
	is_str(resolve(&a, "pipe"), "admin@example.net",
	    "pipe skipped, address kept");
	ok(strstr(warnings, "pipe \"|/usr/bin/procmail\" refused") != NULL,
	    "pipe refusal is clear");
	warnings[0] = '\0';
	is_str(resolve(&a, "qpipe"), "qpipe@example.org",
	    "nothing usable: the recipient itself, qualified");
	ok(strstr(warnings, "no usable address") != NULL,
	    "fallback is reported");
	warnings[0] = '\0';
	(void)resolve(&a, "file");
	ok(strstr(warnings, "file \"/var/mail/backup\" refused") != NULL,
	    "file refused");
	warnings[0] = '\0';
	(void)resolve(&a, "inc");
	ok(strstr(warnings, "include \":include:/etc/mail/list\"") != NULL,
	    ":include: refused");
	warnings[0] = '\0';
	nwarn = 0;
	is_int(aliases_check(&a, DOM, warn_cb, NULL), 7,
	    "newaliases check counts each refusal and empty aliases");
	aliases_free(&a);
}

static void
test_loops(void)
{
	struct aliases a;
	char big[4096];

	aliases_init(&a);
	(void)load(&a,
	    "root: root, admin@example.net\n"
	    "a: b\nb: c@example.net, a\n"
	    "empty:\n");
	is_str(resolve(&a, "root"), "root@example.org admin@example.net",
	    "self-reference: delivered to the name itself");
	is_str(resolve(&a, "a"), "c@example.net a@example.org",
	    "loop stops at the repeated name");
	is_str(resolve(&a, "empty"), "empty@example.org",
	    "empty alias: the recipient itself");
	warnings[0] = '\0';
	nwarn = 0;
	ok(aliases_check(&a, DOM, warn_cb, NULL) >= 2,
	    "check reports the a/b loop and the empty alias");
	ok(strstr(warnings, "alias loop") != NULL, "loop named");
	ok(strstr(warnings, "root") == NULL, "self-reference is not a loop");

	/* A chain of 20 aliases is cut at ALIASES_DEPTH_MAX. */
	big[0] = '\0';
	for (int i = 0; i < 20; i++) {
		char line[64];

		(void)snprintf(line, sizeof(line), "l%d: l%d\n", i, i + 1);
		strlcat(big, line, sizeof(big));
	}
	strlcat(big, "l20: end@example.net\n", sizeof(big));
	(void)load(&a, big);
	warnings[0] = '\0';
	is_str(resolve(&a, "l0"), "l0@example.org",
	    "too deep: the recipient itself");
	ok(strstr(warnings, "deeper than") != NULL, "depth reported");
	is_str(resolve(&a, "l10"), "end@example.net", "shorter chain works");
	aliases_free(&a);
}

static void
test_addr_helpers(void)
{
	char *out = NULL, *addr = NULL, *name = NULL;
	size_t len;
	int bare;
	const char *errstr = NULL;
	const char *v = " root (Cron Daemon),\r\n Ann <ann>, b@x.org";

	is_int(addr_qualify_value(v, strlen(v), DOM, &out, &len), 2,
	    "two bare local parts qualified");
	is_str(out,
	    " root@example.org (Cron Daemon),\r\n Ann "
	    "<ann@example.org>, b@x.org",
	    "folding, comments and names kept");
	free(out);
	is_int(addr_qualify_value("a@b.org", 7, DOM, &out, &len), 0,
	    "qualified list left alone");
	ok(out == NULL, "no copy made");
	is_int(addr_qualify_value("a@@b", 4, DOM, &out, &len), -1,
	    "junk left alone");
	is_int(addr_qualify_value("undisclosed-recipients:;", 24, DOM, &out,
		   &len),
	    0, "empty group left alone");

	is_int(addr_parse_mailbox_name("root (Cron Daemon)", 18, DOM, &addr,
		   &name, &bare, &errstr),
	    0, "comment form parses");
	is_str(addr, "root@example.org", "address qualified");
	is_str(name, "Cron Daemon", "comment is the name");
	is_int(bare, 1, "bare noted");
	free(addr);
	free(name);
	is_int(addr_parse_mailbox_name("\"Doe, J\" <j@x.org>", 18, DOM, &addr,
		   &name, &bare, &errstr),
	    0, "quoted display name");
	is_str(name, "Doe, J", "quotes removed");
	is_int(bare, 0, "qualified address not bare");
	free(addr);
	free(name);
	is_int(addr_parse_mailbox_name("logwatch", 8, DOM, &addr, &name, &bare,
		   &errstr),
	    0, "bare local part alone");
	ok(name == NULL, "no name");
	free(addr);
	is_int(addr_parse_mailbox_name("a@x.org, b@x.org", 16, DOM, &addr,
		   &name, &bare, &errstr),
	    -1, "two mailboxes refused");
}

int
main(void)
{
	test_syntax();
	test_refused();
	test_loops();
	test_addr_helpers();
	return done_testing();
}
