/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The destination object (relayqd_dest.c): slow start, the down state
 * and its probe schedule, wake-ups, the dial settings, and the checks of
 * its credentials at start and reload.  No network: no session is
 * opened, and OAuth2 is not configured (its cache is not created).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/status.h"
#include "common/strutil.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_dial.h"
#include "tap.h"

/*
 * relayqd_oauth2.c calls these when a token refresh ends, which never
 * happens here (no oauth2_token_url): it only satisfies the linker.
 */
struct relayqd_alert;
void relayqd_conn_token_done(struct relayqd_dest *dest, int ok,
    const char *why);
void relayqd_alert_event(struct relayqd_alert *a, int ev, const char *text);
void relayqd_kick(struct relayd *rd);

void
relayqd_conn_token_done(struct relayqd_dest *dest, int ok, const char *why)
{
	(void)dest;
	(void)ok;
	(void)why;
	abort();
}

void
relayqd_kick(struct relayd *rd)
{
	(void)rd;
	abort();
}

void
relayqd_alert_event(struct relayqd_alert *a, int ev, const char *text)
{
	(void)a;
	(void)ev;
	(void)text;
	abort();
}

static char dir[] = "/tmp/test_relayqd_dest.XXXXXX";

/* Writes text to dir/name (mode 0600); returns the path (static). */
static const char *
put(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF || chmod(path, 0600) == -1) {
		perror(path);
		exit(1);
	}
	return path;
}

/* Loads text as the configuration into c. */
static void
load(struct conf *c, const char *text)
{
	struct rq_err err;

	if (conf_load(c, put("relayq.conf", text), &err) == -1) {
		fprintf(stderr, "conf_load: %s\n", err.msg);
		exit(1);
	}
}

/* The configuration with smarthost keys more (a string literal). */
#define CONF(more)                                                    \
	"[relayq]\nspool_dir = /nonexistent\n"                        \
	"[smarthost]\nhost = smtp.example\nport = 2525\ntls = none\n" \
	"rate_limit = 30/1m\n" more                                   \
	"[delivery]\nmax_connections = 4\nretry_min = 60\n"           \
	"retry_max = 3600\nprobe_max = 10\nconnect_timeout = 7\n"
#define BASE CONF("")
#define AUTH_KEYS "username = u\npassword_file = %s\n"

static void
test_state(void)
{
	struct conf c;
	struct rq_err err;
	struct relayqd_dest *d;
	struct relayqd_dial_conf dc;

	load(&c, BASE);
	d = relayqd_dest_new(NULL, &c, 0, &err);
	ok(d != NULL, "a destination for [smarthost]");
	if (d == NULL) {
		fprintf(stderr, "# %s\n", err.msg);
		conf_free(&c);
		return;
	}
	relayqd_dest_dial_conf(d, &dc);
	is_str(dc.host, "smtp.example", "dial: host");
	is_int(dc.port, 2525, "dial: port");
	is_int(dc.timeout, 7, "dial: connect_timeout");
	is_int(dc.stagger_ms, RELAYQD_DIAL_STAGGER_MS, "dial: staggered");
	ok(d->tls == NULL && d->auth == NULL && d->oauth2 == NULL,
	    "tls = none, no AUTH, no OAuth2");

	/* Slow start: one session until one got as far as ready. */
	is_int(relayqd_dest_limit(d), 1, "slow start: one session");
	ok(!relayqd_dest_may_probe(d, 0), "up: no probe");
	relayqd_dest_mark_up(d);
	is_int(relayqd_dest_limit(d), 4, "after a success: max_connections");

	/* Down: the probe is 5..10 s away (probe_max 10, upper half). */
	is_int(relayqd_dest_mark_down(d, "connection refused", 1000000, 0), 1,
	    "mark_down counts the first failure");
	ok(d->down && d->fails == 1, "down, one failure");
	is_int(d->probe_ms, 1005000, "lowest draw: half of probe_max");
	is_str(d->error, "connection refused", "the reason is kept");
	is_int(relayqd_dest_limit(d), 1, "down: slow start again");
	ok(!relayqd_dest_may_probe(d, 1004999), "no probe before its time");
	ok(relayqd_dest_may_probe(d, 1005000), "the probe at its time");
	is_int(relayqd_dest_probe_due(d, 1000), 1005,
	    "a waiting message is due in the probe's second");
	is_int(relayqd_dest_probe_due(d, 1006), 1006, "or now when later");
	is_int(relayqd_dest_mark_down(d, "late", 1000100, 0), 0,
	    "a session opened before it went down does not count again");
	is_int(d->fails, 1, "still one failure");

	/* The probe fails: the next one is drawn again. */
	d->probing = 1;
	is_int(relayqd_dest_mark_down(d, "timeout", 1005000, UINT32_MAX), 1,
	    "a failed probe counts");
	ok(d->fails == 2 && !d->probing, "two failures, probe over");
	is_int(d->probe_ms, 1015000, "highest draw: the whole probe_max");
	d->nconns = 1;
	ok(!relayqd_dest_may_probe(d, 1015000), "not while a session runs");
	d->nconns = 0;

	/* Wake-ups bring the probe forward unless one was recent. */
	d->last_probe = 1005;
	relayqd_dest_wake(d, 1006000, 60);
	is_int(d->probe_ms, 1015000, "wake: not within gap of the last probe");
	relayqd_dest_wake(d, 1006000, 1);
	is_int(d->probe_ms, 1006000, "wake: the probe may start now");
	d->probing = 1;
	d->probe_ms = 1010000;
	relayqd_dest_wake(d, 1007000, 0);
	is_int(d->probe_ms, 1010000, "wake: not while the probe runs");

	relayqd_dest_mark_up(d);
	ok(!d->down && d->ok && d->fails == 0 && !d->probing &&
		d->error[0] == '\0',
	    "up again: the backoff is forgotten");
	is_int(relayqd_dest_limit(d), 4, "and every session may open");
	relayqd_dest_free(d);
	conf_free(&c);
}

/*
 * After a ready session failed (a throttle at MAIL or RCPT, a 421), a
 * probe that gets ready is not enough: one session until a message is
 * accepted (issue 17).
 */
static void
test_need_tx(void)
{
	struct conf c;
	struct rq_err err;
	struct relayqd_dest *d;

	load(&c, BASE);
	if ((d = relayqd_dest_new(NULL, &c, 0, &err)) == NULL) {
		fprintf(stderr, "relayqd_dest_new: %s\n", err.msg);
		exit(1);
	}
	relayqd_dest_mark_up(d);
	is_int(relayqd_dest_mark_accepted(d), 0,
	    "accepted with no incident: nothing to end");
	is_int(relayqd_dest_limit(d), 4, "up: max_connections");

	/* A ready session is throttled. */
	is_int(relayqd_dest_mark_down(d, "421 4.7.0 slow down", 1000000, 0), 1,
	    "throttle: down");
	d->need_tx = 1;
	is_int(d->fails, 1, "one failure");
	is_int(relayqd_dest_mark_up(d), 0,
	    "a session opened before gets ready: nothing changes");
	ok(d->down, "still down");

	/* The probe gets ready: up, but one session only. */
	d->probing = 1;
	is_int(relayqd_dest_mark_up(d), 1, "the probe gets ready: up");
	ok(!d->down && !d->probing && !d->ok, "up, not ok");
	is_int(relayqd_dest_limit(d), 1, "one session until a message goes");

	/* Throttled again: counts as a further failure. */
	is_int(relayqd_dest_mark_down(d, "451 4.7.1 later", 1005000, 0), 1,
	    "the probe throttled again: down");
	is_int(d->fails, 2, "two failures (the backoff grows)");
	d->probing = 1;
	relayqd_dest_mark_up(d);
	is_int(relayqd_dest_mark_accepted(d), 1,
	    "a message accepted ends the wait");
	ok(!d->need_tx, "need_tx cleared");
	relayqd_dest_mark_up(d);
	ok(!d->down && d->ok && d->fails == 0, "up: the backoff is forgotten");
	is_int(relayqd_dest_limit(d), 4, "max_connections again");
	relayqd_dest_free(d);
	conf_free(&c);
}

static void
test_keys(void)
{
	struct conf c, nc;
	struct rq_err err;
	struct relayqd_dest *d;
	struct relayqd_dest_keys k;
	char text[1024], pw[256];
	int dirfd;

	strlcpy(pw, put("pw", "secret\n"), sizeof(pw));

	load(&c, "[smarthost]\nhost =\n");
	ok(relayqd_dest_new(NULL, &c, 0, &err) == NULL &&
		strstr(err.msg, "host is not set") != NULL &&
		strstr(err.msg, c.path) != NULL,
	    "no host: refused, naming the file (%s)", err.msg);
	conf_free(&c);

	(void)snprintf(text, sizeof(text), CONF(AUTH_KEYS), pw);
	load(&c, text);
	ok(relayqd_dest_new(NULL, &c, 0, &err) == NULL &&
		strstr(err.msg, "AUTH is configured with tls = none") != NULL &&
		strstr(err.msg, c.path) != NULL,
	    "AUTH without TLS: refused, naming the file (%s)", err.msg);
	conf_free(&c);

	/* A reload: checked the same way; the old settings stay. */
	load(&c, BASE);
	if ((d = relayqd_dest_new(NULL, &c, 0, &err)) == NULL) {
		fprintf(stderr, "relayqd_dest_new: %s\n", err.msg);
		exit(1);
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror(dir);
		exit(1);
	}
	relayqd_dest_rate_start(d, dirfd, dir, "rate", 0);
	ok(d->rate != NULL, "the destination has its pace");
	load(&nc, text);
	is_int(relayqd_dest_keys_new(NULL, d, &nc, 0, &k, &err), -1,
	    "reload with AUTH without TLS: refused");
	ok(k.tls == NULL && k.auth == NULL && k.oauth2 == NULL,
	    "nothing is left built");
	conf_free(&nc);
	(void)snprintf(text, sizeof(text),
	    CONF(AUTH_KEYS "allow_plaintext_auth = yes\n"), pw);
	load(&nc, text);
	is_int(relayqd_dest_keys_new(NULL, d, &nc, 0, &k, &err), 0,
	    "allow_plaintext_auth = yes: accepted");
	ok(k.auth != NULL, "the AUTH policy is built");
	conf_free(&c);
	c = nc; /* what relayqd_reload() does: d borrows &c */
	d->down = 1;
	relayqd_dest_reload(d, &k, 0);
	ok(d->auth != NULL && k.auth == NULL, "the destination takes it");
	ok(d->down, "a reload keeps the backoff");
	relayqd_dest_free(d);
	conf_free(&c);
	(void)close(dirfd);
}

/*
 * The dispatch choice among three destinations: 0 ("default", chain
 * 0 -> 2), 1 ("work", chain 1 -> 2 -> 0) and 2 ("backup", alone).  Built
 * by hand: the choice reads only the down / probe state.
 */
static void
test_pick(void)
{
	struct relayqd_dest d[3], *dests[3] = { &d[0], &d[1], &d[2] };
	const size_t c0[] = { 0, 2 }, c1[] = { 1, 2, 0 }, c2[] = { 2 };

	memset(d, 0, sizeof(d));
	ok(relayqd_dest_pick(dests, c0, 2) == &d[0], "all up: the primary");
	ok(relayqd_dest_pick(dests, c1, 3) == &d[1], "all up: its own primary");
	is_int(relayqd_dest_route_due(dests, c0, 2, 100), 100,
	    "all up: due now");

	/* The primary goes down: failover to the fallback at once. */
	d[0].down = 1;
	d[0].probe_ms = 105000;
	ok(relayqd_dest_pick(dests, c0, 2) == &d[2],
	    "primary down: the first fallback that is up");
	ok(relayqd_dest_pick(dests, c1, 3) == &d[1],
	    "another route is not affected");
	is_int(relayqd_dest_route_due(dests, c0, 2, 100), 100,
	    "a failed attempt with a fallback up: due again at once");
	ok(!relayqd_dest_probe_for(dests, c0, 2, &d[0], 104999),
	    "no probe before its time");
	ok(relayqd_dest_probe_for(dests, c0, 2, &d[0], 105000),
	    "the primary's probe carries its own route's mail");
	ok(!relayqd_dest_probe_for(dests, c1, 3, &d[0], 105000),
	    "not mail of a route that has an up candidate before it");
	ok(!relayqd_dest_probe_for(dests, c2, 1, &d[0], 105000),
	    "not mail of a route it is not in");
	ok(!relayqd_dest_probe_for(dests, c0, 2, &d[2], 105000),
	    "an up destination does not probe");
	d[0].probing = 1;
	ok(!relayqd_dest_probe_for(dests, c0, 2, &d[0], 105000),
	    "one probe at a time");
	d[0].probing = 0;

	/* Both down: the mail waits for the first probe due. */
	d[2].down = 1;
	d[2].probe_ms = 103000;
	ok(relayqd_dest_pick(dests, c0, 2) == NULL, "every candidate down");
	is_int(relayqd_dest_route_due(dests, c0, 2, 100), 103,
	    "due with the earliest probe of a candidate");
	ok(relayqd_dest_probe_for(dests, c0, 2, &d[2], 103000),
	    "the fallback's probe may carry it too");
	ok(relayqd_dest_pick(dests, c1, 3) == &d[1], "work is still up");
	d[1].down = 1;
	d[1].probe_ms = 200000;
	ok(relayqd_dest_probe_for(dests, c1, 3, &d[0], 105000),
	    "a route's third candidate probes when the two before are down");

	/* Failback: the primary's probe got ready. */
	d[0].down = 0;
	ok(relayqd_dest_pick(dests, c0, 2) == &d[0],
	    "the primary is back: new attempts go to it");
	ok(relayqd_dest_pick(dests, c1, 3) == &d[0],
	    "and it takes a route whose candidates before it are down");
}

/*
 * A reload (issue 15): which sections keep their destination
 * (relayqd_dest_is_same), and the configuration retired destinations
 * keep (relayqd_dest_retire), freed with the last of them.
 */
static void
test_retire(void)
{
	struct conf c, nc;
	struct rq_err err;
	struct relayqd_dest *d, *w;
	struct relayqd_dest_hold *h;

	load(&c, CONF("[smarthost work]\nhost = w.example\ntls = none\n"));
	if ((d = relayqd_dest_new(NULL, &c, 0, &err)) == NULL ||
	    (w = relayqd_dest_new(NULL, &c, 1, &err)) == NULL) {
		fprintf(stderr, "relayqd_dest_new: %s\n", err.msg);
		exit(1);
	}
	load(&nc,
	    CONF("recipient_limit = 5/1s\n[smarthost work]\n"
		 "host = w.example\ntls = none\n"
		 "senders = @work.example\n"));
	ok(relayqd_dest_is_same(d, &nc, 0) && relayqd_dest_is_same(w, &nc, 1),
	    "limits and senders changed: the same destinations");
	ok(!relayqd_dest_is_same(d, &nc, 1) && !relayqd_dest_is_same(w, &nc, 0),
	    "another name: not the same");
	conf_free(&nc);
	load(&nc,
	    CONF("[smarthost work]\nhost = w.example\ntls = none\n"
		 "port = 26\n"));
	ok(!relayqd_dest_is_same(w, &nc, 1), "another port: not the same");
	conf_free(&nc);
	load(&nc,
	    CONF("username = u\npassword_file = /p\n"
		 "allow_plaintext_auth = yes\n"
		 "[smarthost work]\nhost = w.example\ntls = none\n"));
	ok(!relayqd_dest_is_same(d, &nc, 0) && relayqd_dest_is_same(w, &nc, 1),
	    "other credentials: only that section changes");
	conf_free(&nc);
	load(&nc, CONF("[smarthost work]\nhost = v.example\ntls = none\n"));
	ok(!relayqd_dest_is_same(w, &nc, 1), "another host: not the same");

	/* Both retired by one reload: they keep the old settings. */
	h = relayqd_dest_hold_new(&c);
	c = nc; /* what relayqd_reload() does */
	relayqd_dest_retire(d, h, &c);
	relayqd_dest_retire(w, h, &c);
	relayqd_dest_hold_drop(h);
	ok(d->retired && w->retired, "both are retired");
	is_str(relayqd_dest_sh(w)->host, "w.example",
	    "a retired destination keeps the host it was made with");
	relayqd_dest_free(d);
	is_str(relayqd_dest_sh(w)->host, "w.example",
	    "and keeps it when another one retired with it is freed");
	relayqd_dest_free(w); /* the last: frees the old configuration */
	conf_free(&c);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_state();
	test_need_tx();
	test_pick();
	test_keys();
	test_retire();
	(void)unlink(put("relayq.conf", ""));
	(void)unlink(put("pw", ""));
	(void)rmdir(dir);
	return done_testing();
}
