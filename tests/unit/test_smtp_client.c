/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the SMTP command writers, the EHLO capability parser and
 * the client state machine.  The machine is driven with plain reply
 * strings through a fake set of ops that records every write, timeout and
 * callback, in order, into an event string the tests compare.  The AUTH
 * ops answer from canned strings; the SASL computations themselves are
 * tested in test_smarthost_auth.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/dsn.h"
#include "common/log.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"
#include "tap.h"

#define MAXW 64
#define MAXR 16

struct fake {
	struct smtp_client *c;
	char *writes[MAXW]; /* owned: each ops->write, NUL-terminated */
	size_t nwrites;
	enum smtp_timeout tmo[MAXW];
	size_t ntmo;
	char ev[4096]; /* callbacks in order */
	int rcpt_calls[MAXR];
	enum rq_status rcpt_st[MAXR];
	struct rq_reason rcpt_why[MAXR];
	int msg_calls, closed_calls, ready_calls, body_calls, tls_calls;
	enum rq_status msg_st, closed_st;
	struct rq_reason msg_why, closed_why;
	/* behaviour */
	const struct smtp_msg *send_on_ready; /* sent once from ready */
	int quit_on_ready;
	int tls_done_inline; /* call smtp_client_tls_done from starttls */
	int fail_in_rcpt_done;
	/* AUTH behaviour and records */
	const char *auth_mech;	       /* auth_start's choice */
	const char *auth_init;	       /* its initial response, or NULL */
	const char *const *auth_resps; /* auth_step's answers, then "" */
	size_t auth_nresps;
	int auth_start_fail;   /* auth_start returns -1 */
	int auth_step_fail_at; /* step n (1-based) returns -1 */
	int auth_done_fail;    /* auth_done returns -1 */
	int auth_start_calls, auth_step_calls, auth_done_calls;
	char auth_offered[256];
	char challenges[512]; /* "[text]" per auth_step */
};

static struct fake F;

static void ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends text to the event log. */
static void
ev(const char *fmt, ...)
{
	size_t len = strlen(F.ev);
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(F.ev + len, sizeof(F.ev) - len, fmt, ap);
	va_end(ap);
}

/* Returns a short name for a status. */
static const char *
st_name(enum rq_status st)
{
	return st == RQ_OK ? "ok" : st == RQ_TEMPFAIL ? "temp" : "perm";
}

/* Records one write. */
static void
fake_write(void *arg, const char *data, size_t len)
{
	struct fake *f = arg;
	char *s = malloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	if (f->nwrites < MAXW)
		f->writes[f->nwrites++] = s;
	else
		free(s);
}

/* Records the timeout kind armed. */
static void
fake_set_timeout(void *arg, enum smtp_timeout kind)
{
	struct fake *f = arg;

	if (f->ntmo < MAXW)
		f->tmo[f->ntmo++] = kind;
}

/* Records the handshake request; may finish it at once. */
static void
fake_starttls(void *arg)
{
	struct fake *f = arg;

	f->tls_calls++;
	ev("tls ");
	if (f->tls_done_inline)
		smtp_client_tls_done(f->c);
}

/* Records ready; may send a message or QUIT from inside it. */
static void
fake_ready(void *arg)
{
	struct fake *f = arg;
	const struct smtp_msg *m = f->send_on_ready;

	f->ready_calls++;
	ev("ready ");
	if (m != NULL) {
		f->send_on_ready = NULL;
		if (smtp_client_send(f->c, m) == -1)
			ev("send-failed ");
	} else if (f->quit_on_ready) {
		f->quit_on_ready = 0;
		smtp_client_quit(f->c);
	}
}

/* Records the request for the body. */
static void
fake_send_body(void *arg)
{
	struct fake *f = arg;

	f->body_calls++;
	ev("body ");
}

/* Records a recipient outcome; may fail the session from inside. */
static void
fake_rcpt_done(void *arg, size_t idx, enum rq_status st,
    const struct rq_reason *why)
{
	struct fake *f = arg;

	ev("r%zu=%s/%d ", idx, st_name(st), why->code);
	if (idx < MAXR) {
		f->rcpt_calls[idx]++;
		f->rcpt_st[idx] = st;
		f->rcpt_why[idx] = *why;
	}
	if (f->fail_in_rcpt_done) {
		f->fail_in_rcpt_done = 0;
		smtp_client_fail(f->c, RQ_TEMPFAIL, "glue gave up");
	}
}

/* Records the message outcome. */
static void
fake_msg_done(void *arg, enum rq_status st, const struct rq_reason *why)
{
	struct fake *f = arg;

	ev("msg=%s/%d ", st_name(st), why->code);
	f->msg_calls++;
	f->msg_st = st;
	f->msg_why = *why;
}

/* Records the end of the session. */
static void
fake_closed(void *arg, enum rq_status st, const struct rq_reason *why)
{
	struct fake *f = arg;

	ev("closed=%s/%d ", st_name(st), why->code);
	f->closed_calls++;
	f->closed_st = st;
	f->closed_why = *why;
}

/* Picks the canned mechanism; records what the server offered. */
static int
fake_auth_start(void *arg, const char *offered, const char **mech, char **resp,
    struct rq_reason *why)
{
	struct fake *f = arg;

	f->auth_start_calls++;
	strlcpy(f->auth_offered, offered, sizeof(f->auth_offered));
	if (f->auth_start_fail) {
		rq_reason_set(why, 0, "", "no usable AUTH mechanism");
		return -1;
	}
	*mech = f->auth_mech;
	*resp = f->auth_init != NULL ? strdup(f->auth_init) : NULL;
	return 0;
}

/* Answers a challenge with the next canned response ("" when none). */
static int
fake_auth_step(void *arg, const char *challenge, size_t len, char **resp,
    struct rq_reason *why)
{
	struct fake *f = arg;
	size_t i = (size_t)f->auth_step_calls++;
	size_t n = strlen(f->challenges);

	(void)snprintf(f->challenges + n, sizeof(f->challenges) - n, "[%.*s]",
	    (int)len, challenge);
	if (challenge[len] != '\0')
		ev("challenge-not-terminated ");
	if (f->auth_step_fail_at == (int)i + 1) {
		rq_reason_set(why, 0, "", "bad challenge");
		return -1;
	}
	*resp = strdup(i < f->auth_nresps ? f->auth_resps[i] : "");
	return 0;
}

/* Records the end of a successful exchange; may refuse it. */
static int
fake_auth_done(void *arg, struct rq_reason *why)
{
	struct fake *f = arg;

	f->auth_done_calls++;
	if (f->auth_done_fail) {
		rq_reason_set(why, 0, "", "server signature not verified");
		return -1;
	}
	return 0;
}

static const struct smtp_client_ops fake_ops = {
	.write = fake_write,
	.set_timeout = fake_set_timeout,
	.starttls = fake_starttls,
	.ready = fake_ready,
	.send_body = fake_send_body,
	.rcpt_done = fake_rcpt_done,
	.msg_done = fake_msg_done,
	.closed = fake_closed,
	.auth_start = fake_auth_start,
	.auth_step = fake_auth_step,
	.auth_done = fake_auth_done,
};

/* Forgets everything recorded (behaviour flags included). */
static void
fake_reset(void)
{
	for (size_t i = 0; i < F.nwrites; i++)
		free(F.writes[i]);
	memset(&F, 0, sizeof(F));
}

/* Frees the client and resets the fake. */
static void
fake_done(void)
{
	smtp_client_free(F.c);
	fake_reset();
}

/* Clears the event log and write records, keeping the client. */
static void
fake_clear(void)
{
	struct smtp_client *c = F.c;

	fake_reset();
	F.c = c;
}

/* Returns every write since the last clear, concatenated. */
static const char *
wrote(void)
{
	static char all[8192];

	all[0] = '\0';
	for (size_t i = 0; i < F.nwrites; i++)
		strlcat(all, F.writes[i], sizeof(all));
	return all;
}

/* Returns the last timeout armed, or -1. */
static int
last_tmo(void)
{
	return F.ntmo > 0 ? (int)F.tmo[F.ntmo - 1] : -1;
}

/* Parses s ('\n'-separated lines) and feeds it to the client. */
static int
reply(const char *s)
{
	struct smtp_reply r;
	const char *p = s, *nl, *err = NULL;
	int rv;

	smtp_reply_init(&r);
	for (;;) {
		nl = strchr(p, '\n');
		rv = smtp_reply_feed(&r, p, nl ? (size_t)(nl - p) : strlen(p),
		    &err);
		if (rv == -1) {
			printf("# bad test reply '%s': %s\n", s, err);
			return -2;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (rv != 1) {
		printf("# incomplete test reply '%s'\n", s);
		return -2;
	}
	return smtp_client_on_reply(F.c, &r);
}

/* Starts a client with conf; nothing is written before the banner. */
static void
start(const struct smtp_client_conf *conf)
{
	static const struct smtp_client_conf def = {
		.helo_name = "client.example",
	};

	fake_reset();
	F.c = smtp_client_new(conf != NULL ? conf : &def, &fake_ops, &F);
}

/* Starts a client and takes it to ready with the given EHLO reply. */
static void
start_ready(const struct smtp_client_conf *conf, const char *ehlo)
{
	start(conf);
	(void)reply("220 mx.example.org ESMTP");
	(void)reply(ehlo);
	fake_clear();
}

static const char *const rcpts3[] = { "b@example.org", "c@example.org",
	"d@example.org" };

static const struct smtp_msg msg1 = { "ID1", "a@example.com", rcpts3, 1, 0, 0,
	0, NULL, NULL, NULL, NULL, 0 };
static const struct smtp_msg msg2 = { "ID2", "a@example.com", rcpts3, 2, 500, 1,
	0, NULL, NULL, NULL, NULL, 0 };
static const struct smtp_msg msg3 = { "ID3", "a@example.com", rcpts3, 3, 0, 0,
	0, NULL, NULL, NULL, NULL, 0 };

#define EHLO_PIPE "250-mx.example.org\n250-PIPELINING\n250 8BITMIME"

/* Command formatting and injection refusal. */
static void
test_cmd(void)
{
	struct buf b;

	buf_init(&b, 4096);
	ok(smtp_cmd_ehlo(&b, "client.example") == 0, "EHLO");
	ok(smtp_cmd_helo(&b, "[192.0.2.1]") == 0, "HELO literal");
	ok(smtp_cmd_mail(&b, "", 0, 0) == 0, "null sender");
	ok(smtp_cmd_mail(&b, "a@x", 1234,
	       SMTP_CMD_MAIL_8BITMIME | SMTP_CMD_MAIL_SMTPUTF8) == 0,
	    "MAIL with parameters");
	ok(smtp_cmd_rcpt(&b, "\"odd <q> \\\" x\"@y") == 0,
	    "quoted local part may hold < > blank");
	ok(smtp_cmd_data(&b) == 0 && smtp_cmd_rset(&b) == 0 &&
		smtp_cmd_quit(&b) == 0 && smtp_cmd_starttls(&b) == 0,
	    "simple verbs");
	is_str(b.data,
	    "EHLO client.example\r\nHELO [192.0.2.1]\r\nMAIL FROM:<>\r\n"
	    "MAIL FROM:<a@x> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n"
	    "RCPT TO:<\"odd <q> \\\" x\"@y>\r\n"
	    "DATA\r\nRSET\r\nQUIT\r\nSTARTTLS\r\n",
	    "formatted lines");
	buf_reset(&b);
	ok(smtp_cmd_rcpt(&b, "a@x\r\nRSET") == -1, "CRLF in RCPT refused");
	ok(smtp_cmd_rcpt(&b, "a@x\nDATA") == -1, "LF refused");
	ok(smtp_cmd_rcpt(&b, "a\t@x") == -1, "tab refused");
	ok(smtp_cmd_rcpt(&b, "a@x\x7f") == -1, "DEL refused");
	ok(smtp_cmd_rcpt(&b, "") == -1, "empty RCPT refused");
	ok(smtp_cmd_rcpt(&b, "a@x> NOTIFY=NEVER") == -1,
	    "parameter injection refused");
	ok(smtp_cmd_rcpt(&b, "\"unterminated@x") == -1, "open quote refused");
	ok(smtp_cmd_mail(&b, "a@x\r\n", 0, 0) == -1, "CRLF in MAIL refused");
	ok(smtp_cmd_mail(&b, "<a@x>", 0, 0) == -1, "brackets refused");
	ok(smtp_cmd_ehlo(&b, "bad name") == -1, "blank in EHLO refused");
	ok(smtp_cmd_ehlo(&b, "") == -1, "empty EHLO refused");
	ok(smtp_cmd_ehlo(&b, NULL) == -1, "NULL EHLO refused");
	ok(smtp_cmd_helo(&b, "x\r\nMAIL") == -1, "CRLF in HELO refused");
	is_int(b.len, 0, "nothing appended by refusals");
	{
		char big[600];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ok(smtp_cmd_rcpt(&b, big) == -1, "over-long line refused");
		is_int(b.len, 0, "nothing appended");
	}
	buf_free(&b);
	buf_init(&b, 10);
	ok(smtp_cmd_quit(&b) == 0, "fits the buffer max");
	ok(smtp_cmd_quit(&b) == -1, "buffer max enforced");
	is_str(b.data, "QUIT\r\n", "first line kept whole");
	buf_free(&b);
}

/* Parses s as a reply and fills caps from it. */
static int
caps_of(const char *s, struct smtp_caps *caps)
{
	struct smtp_reply r;
	const char *p = s, *nl, *err;

	smtp_reply_init(&r);
	for (;;) {
		nl = strchr(p, '\n');
		if (smtp_reply_feed(&r, p, nl ? (size_t)(nl - p) : strlen(p),
			&err) == -1)
			return -2;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return smtp_cmd_parse_ehlo(&r, caps);
}

/* The EHLO keyword parser. */
static void
test_caps(void)
{
	struct smtp_caps caps;

	is_int(caps_of("250-mx.example.org Hello\n250-pipelining\n"
		       "250-Size 10240000\n250-8bitmime\n250-STARTTLS\n"
		       "250-SMTPUTF8\n250-ENHANCEDSTATUSCODES\n250-DSN\n"
		       "250-AUTH PLAIN LOGIN\n250-AUTH=LOGIN CRAM-MD5\n"
		       "250-X-UNKNOWN foo\n250 CHUNKING",
		   &caps),
	    0, "full EHLO parsed");
	is_int(caps.ext,
	    SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
		SMTP_EXT_STARTTLS | SMTP_EXT_SMTPUTF8 |
		SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN | SMTP_EXT_AUTH,
	    "every known keyword, case-insensitive");
	is_int(caps.size_max, 10240000, "SIZE value");
	is_str(caps.auth, "PLAIN LOGIN CRAM-MD5", "AUTH union of both forms");

	caps_of("250-mx\n250-SIZE\n250 AUTH=PLAIN", &caps);
	is_int(caps.ext, SMTP_EXT_SIZE | SMTP_EXT_AUTH, "SIZE without value");
	is_int(caps.size_max, 0, "no limit");
	is_str(caps.auth, "PLAIN", "old AUTH= form alone");

	caps_of("250-mx\n250-SIZE 99999999999999999999999\n250 SIZE12", &caps);
	is_int(caps.ext, SMTP_EXT_SIZE, "SIZE12 is not SIZE");
	is_int(caps.size_max, 0, "overflowing SIZE means no limit");
	caps_of("250-mx\n250 SIZE 12abc", &caps);
	is_int(caps.size_max, 0, "junk SIZE means no limit");
	caps_of("250-mx PIPELINING\n250 PIPELININGX", &caps);
	is_int(caps.ext, 0, "first line and near-misses ignored");
	caps_of("250 mx.example.org", &caps);
	is_int(caps.ext, 0, "single-line EHLO: no extensions");
	caps_of("250-mx\n250 AUTH PLAIN bad!mech plain", &caps);
	is_str(caps.auth, "PLAIN", "invalid and duplicate mechs skipped");
	is_int(caps_of("550 no", &caps), -1, "5xx refused");
	is_int(caps.ext, 0, "caps emptied");
}

/* A whole lock-step session: banner, EHLO, one message, QUIT. */
static void
test_lockstep(void)
{
	start(NULL);
	is_int(F.nwrites, 0, "nothing written before the banner");
	is_int(last_tmo(), SMTP_TMO_GREETING, "greeting timeout armed");
	is_str(smtp_client_state_name(F.c), "banner", "state banner");
	is_int(reply("220-mx.example.org ESMTP\n220 welcome"), 0,
	    "multiline banner");
	is_str(wrote(), "EHLO client.example\r\n", "EHLO sent");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "command timeout");
	is_int(reply("250-mx.example.org\n250-SIZE 1000000\n250 8BITMIME"), 0,
	    "EHLO reply");
	is_str(F.ev, "ready ", "ready");
	ok(smtp_client_is_ready(F.c), "is ready");
	is_int(smtp_client_caps(F.c)->ext, SMTP_EXT_SIZE | SMTP_EXT_8BITMIME,
	    "caps");
	is_int(smtp_client_caps(F.c)->size_max, 1000000, "size_max");

	fake_clear();
	is_int(smtp_client_send(F.c, &msg2), 0, "send");
	is_int(F.nwrites, 1, "one write");
	is_str(wrote(), "MAIL FROM:<a@example.com> SIZE=500 BODY=8BITMIME\r\n",
	    "MAIL with SIZE and BODY");
	ok(!smtp_client_is_ready(F.c), "busy");
	is_int(smtp_client_send(F.c, &msg2), -1, "send refused while busy");
	reply("250 2.1.0 Ok");
	is_str(F.writes[1], "RCPT TO:<b@example.org>\r\n", "first RCPT alone");
	reply("250 2.1.5 Ok");
	is_str(F.writes[2], "RCPT TO:<c@example.org>\r\n", "second RCPT");
	reply("250 2.1.5 Ok");
	is_str(F.writes[3], "DATA\r\n", "DATA");
	is_int(last_tmo(), SMTP_TMO_DATA, "data timeout");
	is_int(F.nwrites, 4, "lock-step: one command per write");
	reply("354 End data with <CR><LF>.<CR><LF>");
	is_str(F.ev, "body ", "send_body");
	is_int(last_tmo(), SMTP_TMO_DOT, "dot timeout");
	is_str(smtp_client_state_name(F.c), "dot", "state dot");
	reply("250 2.0.0 Ok: queued as ABC");
	is_str(F.ev, "body r0=ok/250 r1=ok/250 msg=ok/250 ready ",
	    "recipients, message, ready");
	is_str(F.rcpt_why[0].text, "250 2.0.0 Ok: queued as ABC",
	    "reason text is the summary");
	is_str(F.rcpt_why[0].esc, "2.0.0", "reason esc");
	is_int(F.nwrites, 4, "no RSET after success");

	fake_clear();
	smtp_client_quit(F.c);
	is_str(wrote(), "QUIT\r\n", "QUIT");
	is_int(reply("221 2.0.0 Bye"), -1, "QUIT reply ends the session");
	is_str(F.ev, "closed=ok/221 ", "closed ok");
	is_int(F.closed_calls, 1, "closed once");
	is_str(smtp_client_state_name(F.c), "closed", "state closed");
	fake_done();
}

/* PIPELINING: MAIL, RCPTs and DATA go out in a single write. */
static void
test_pipelined(void)
{
	start_ready(NULL, EHLO_PIPE);
	is_int(smtp_client_send(F.c, &msg3), 0, "send");
	is_int(F.nwrites, 1, "one write");
	is_str(wrote(),
	    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
	    "RCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n",
	    "MAIL+RCPTs+DATA in one write");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "awaiting MAIL's reply");
	reply("250 ok");
	reply("250 ok");
	reply("250 ok");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "awaiting the last RCPT's");
	reply("250 ok");
	is_int(last_tmo(), SMTP_TMO_DATA, "awaiting DATA's");
	is_int(F.nwrites, 1, "nothing more written");
	is_str(F.ev, "", "no callback yet");
	reply("354 go");
	is_str(F.ev, "body ", "body");
	reply("250 queued");
	is_str(F.ev, "body r0=ok/250 r1=ok/250 r2=ok/250 msg=ok/250 ready ",
	    "all delivered");
	fake_done();

	/* no_pipelining overrides the offer */
	{
		static const struct smtp_client_conf conf = {
			.helo_name = "client.example",
			.no_pipelining = 1,
		};

		start_ready(&conf, EHLO_PIPE);
		smtp_client_send(F.c, &msg3);
		is_str(wrote(), "MAIL FROM:<a@example.com>\r\n",
		    "no_pipelining: MAIL alone");
		fake_done();
	}
}

/* EHLO refused: HELO on the same connection, no extensions. */
static void
test_helo(void)
{
	start(NULL);
	reply("220 old.example.org SMTP");
	reply("502 5.5.2 Error: command not recognized");
	is_str(F.writes[1], "HELO client.example\r\n", "HELO after 502");
	reply("250 old.example.org");
	is_str(F.ev, "ready ", "ready after HELO");
	is_int(smtp_client_caps(F.c)->ext, 0, "no extensions");
	fake_clear();
	smtp_client_send(F.c, &msg2);
	is_str(wrote(), "MAIL FROM:<a@example.com>\r\n",
	    "no SIZE or BODY without EHLO");
	fake_done();

	start(NULL);
	reply("220 x");
	reply("500 what");
	reply("554 go away");
	is_str(F.ev, "closed=temp/554 ", "HELO refused closes");
	fake_done();

	start(NULL);
	reply("220 x");
	reply("451 later");
	is_str(F.ev, "closed=temp/451 ", "EHLO 4xx closes");
	is_int(F.nwrites, 1, "no HELO after 4xx");
	fake_done();
}

/* RCPT 250/450/550 in one transaction, lock-step and pipelined. */
static void
test_mixed(void)
{
	int pipe;

	for (pipe = 0; pipe < 2; pipe++) {
		start_ready(NULL, pipe ? EHLO_PIPE : "250 mx");
		smtp_client_send(F.c, &msg3);
		reply("250 ok");
		reply("250 ok");
		reply("450 4.2.0 mailbox busy");
		is_str(F.ev, "r1=temp/450 ", "4xx recipient reported at once");
		reply("550 5.1.1 no such user");
		is_str(F.ev, "r1=temp/450 r2=perm/550 ", "5xx recipient");
		is_str(F.rcpt_why[2].esc, "5.1.1", "its esc");
		is_str(F.rcpt_why[2].text, "550 5.1.1 no such user",
		    "its text");
		ok(strstr(wrote(), "DATA\r\n") != NULL, "DATA sent");
		reply("354 go");
		reply("250 2.0.0 queued");
		is_str(F.ev,
		    "r1=temp/450 r2=perm/550 body r0=ok/250 msg=ok/250 ready ",
		    "accepted one reported with the dot");
		ok(strstr(wrote(), "RSET") == NULL, "no RSET after success");
		for (int i = 0; i < 3; i++)
			is_int(F.rcpt_calls[i], 1, "rcpt %d reported once", i);
		fake_done();
	}
}

/* no_data (relayq probe): MAIL and RCPTs, then RSET; DATA never sent. */
static void
test_no_data(void)
{
	static const struct smtp_msg probe2 = { .id = "probe",
		.sender = "a@example.com",
		.rcpts = rcpts3,
		.nrcpt = 2,
		.no_data = 1 };

	for (int pipe = 0; pipe < 2; pipe++) {
		start_ready(NULL, pipe ? EHLO_PIPE : "250 mx");
		is_int(smtp_client_send(F.c, &probe2), 0, "test send");
		reply("250 ok");
		reply("250 2.1.5 ok");
		reply("250 2.1.5 ok");
		is_str(wrote(),
		    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
		    "RCPT TO:<c@example.org>\r\nRSET\r\n",
		    "%s: MAIL, RCPTs, RSET; no DATA",
		    pipe ? "pipelined" : "lock-step");
		is_str(F.ev, "r0=ok/250 r1=ok/250 msg=ok/250 ",
		    "both accepted: the test succeeds");
		is_int(F.body_calls, 0, "no body asked for");
		reply("250 2.0.0 reset");
		is_str(F.ev, "r0=ok/250 r1=ok/250 msg=ok/250 ready ",
		    "ready after RSET");
		fake_done();

		start_ready(NULL, pipe ? EHLO_PIPE : "250 mx");
		smtp_client_send(F.c, &probe2);
		reply("250 ok");
		reply("550 5.7.1 relaying denied");
		reply("250 ok");
		ok(strstr(wrote(), "DATA") == NULL, "refused: no DATA");
		is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET last");
		is_str(F.ev, "r0=perm/550 r1=ok/250 msg=perm/550 ",
		    "a refusal is the test's outcome");
		fake_done();

		start_ready(NULL, pipe ? EHLO_PIPE : "250 mx");
		smtp_client_send(F.c, &probe2);
		reply("553 5.7.60 not allowed to send as this sender");
		if (pipe) {
			reply("503 5.5.1 need MAIL");
			reply("503 5.5.1 need MAIL");
		}
		ok(strstr(wrote(), "DATA") == NULL, "MAIL refused: no DATA");
		is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET");
		is_int(F.msg_calls, 1, "one msg_done");
		is_int(F.msg_why.code, 553, "MAIL's refusal reported");
		fake_done();
	}
}

/* No recipient accepted: no body, RSET, ready. */
static void
test_all_refused(void)
{
	/* lock-step: DATA is never sent */
	start_ready(NULL, "250 mx");
	smtp_client_send(F.c, &msg2);
	reply("250 ok");
	reply("550 5.1.1 unknown");
	reply("450 4.2.1 busy");
	ok(strstr(wrote(), "DATA") == NULL, "no DATA");
	is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET");
	is_str(F.ev, "r0=perm/550 r1=temp/450 msg=temp/450 ",
	    "temporary wins for the message");
	is_int(F.rcpt_why[1].stage, RQ_STAGE_RCPT, "a RCPT's reply");
	is_int(F.msg_why.stage, RQ_STAGE_RCPT,
	    "the message ends with the RCPT's reply, stage and all");
	reply("250 flushed");
	is_str(F.ev, "r0=perm/550 r1=temp/450 msg=temp/450 ready ",
	    "ready after RSET");
	is_int(F.body_calls, 0, "no body");
	fake_done();

	/* pipelined, DATA refused as expected */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg2);
	reply("250 ok");
	reply("550 unknown");
	reply("550 unknown");
	is_str(F.ev, "r0=perm/550 r1=perm/550 ", "both refused");
	reply("554 5.5.1 no valid recipients");
	is_str(F.ev, "r0=perm/550 r1=perm/550 msg=perm/550 ",
	    "message refused with the recipients' reason");
	is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET");
	reply("250 ok");
	is_int(F.body_calls, 0, "no body");
	ok(smtp_client_is_ready(F.c), "ready");
	fake_done();

	/* pipelined, server answers 354 anyway: a lone dot */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg2);
	reply("250 ok");
	reply("550 unknown");
	reply("550 unknown");
	reply("354 go ahead");
	is_int(F.body_calls, 0, "send_body not called");
	is_str(F.writes[F.nwrites - 1], ".\r\n", "lone dot written");
	is_int(last_tmo(), SMTP_TMO_DOT, "dot timeout");
	reply("250 2.0.0 empty message accepted");
	is_str(F.ev, "r0=perm/550 r1=perm/550 msg=perm/550 ",
	    "nothing delivered");
	is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET after lone dot");
	reply("250 ok");
	is_str(F.ev, "r0=perm/550 r1=perm/550 msg=perm/550 ready ", "ready");
	fake_done();
}

/* MAIL FROM refused: every recipient gets its status. */
static void
test_mail_fail(void)
{
	start_ready(NULL, "250 mx");
	smtp_client_send(F.c, &msg2);
	reply("550 5.7.1 sender rejected");
	is_str(F.ev, "r0=perm/550 r1=perm/550 msg=perm/550 ",
	    "MAIL 5xx: all permanent");
	is_str(F.rcpt_why[1].text, "550 5.7.1 sender rejected", "MAIL reason");
	is_str(F.writes[1], "RSET\r\n", "RSET, no RCPT");
	is_int(F.nwrites, 2, "nothing else");
	reply("250 ok");
	is_int(F.ready_calls, 1, "ready after RSET");
	fake_done();

	start_ready(NULL, "250 mx");
	smtp_client_send(F.c, &msg2);
	reply("451 4.3.0 try later");
	is_str(F.ev, "r0=temp/451 r1=temp/451 msg=temp/451 ",
	    "MAIL 4xx: all temporary");
	is_int(F.msg_why.stage, RQ_STAGE_MAIL, "MAIL's reply");
	is_int(F.rcpt_why[1].stage, RQ_STAGE_MAIL, "for each recipient too");
	fake_done();

	/* pipelined: the RCPT and DATA replies are read and ignored */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg2);
	reply("553 5.1.8 bad sender domain");
	is_str(F.ev, "", "wait for the rest of the group");
	reply("503 5.5.1 need MAIL");
	reply("503 5.5.1 need MAIL");
	is_str(F.ev, "", "RCPT replies ignored");
	reply("503 5.5.1 need RCPT");
	is_str(F.ev, "r0=perm/553 r1=perm/553 msg=perm/553 ",
	    "pipelined MAIL 5xx");
	is_int(F.msg_why.stage, RQ_STAGE_MAIL, "pipelined: MAIL's reply");
	is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET");
	is_int(F.nwrites, 2, "group and RSET only");
	fake_done();
}

/* The final dot's reply decides the accepted recipients. */
static void
test_dot_fail(void)
{
	int perm;

	for (perm = 0; perm < 2; perm++) {
		start_ready(NULL, EHLO_PIPE);
		smtp_client_send(F.c, &msg2);
		reply("250 ok");
		reply("250 ok");
		reply("250 ok");
		reply("354 go");
		reply(perm ? "554 5.6.0 content rejected"
			   : "451 4.3.0 queue full");
		is_str(F.ev,
		    perm ? "body r0=perm/554 r1=perm/554 msg=perm/554 "
			 : "body r0=temp/451 r1=temp/451 msg=temp/451 ",
		    "dot %s", perm ? "5xx" : "4xx");
		is_int(F.msg_why.stage, RQ_STAGE_DOT, "the dot's reply");
		is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET after it");
		reply("250 ok");
		ok(smtp_client_is_ready(F.c), "ready again");
		fake_done();
	}

	/* DATA refused with accepted recipients */
	start_ready(NULL, "250 mx");
	smtp_client_send(F.c, &msg1);
	reply("250 ok");
	reply("250 ok");
	reply("451 4.3.1 no space");
	is_str(F.ev, "r0=temp/451 msg=temp/451 ", "DATA 4xx");
	is_int(F.msg_why.stage, RQ_STAGE_DATA, "DATA's reply");
	is_str(F.writes[F.nwrites - 1], "RSET\r\n", "RSET");
	fake_done();
}

/* 421 at various points ends everything as temporary. */
static void
test_421(void)
{
	start_ready(NULL, "250 mx");
	smtp_client_send(F.c, &msg3);
	reply("250 ok");
	reply("250 ok");
	reply("550 no");
	is_int(reply("421 4.3.2 shutting down"), -1, "421 ends the session");
	is_str(F.ev,
	    "r1=perm/550 r0=temp/421 r2=temp/421 msg=temp/421 closed=temp/421 ",
	    "outstanding recipients tempfail, then closed");
	is_str(F.closed_why.esc, "4.3.2", "closed reason esc");
	is_int(F.msg_why.stage, RQ_STAGE_RCPT,
	    "the 421 answered the third RCPT");
	for (int i = 0; i < 3; i++)
		is_int(F.rcpt_calls[i], 1, "rcpt %d once", i);

	/* after closed, everything is a no-op */
	fake_clear();
	is_int(reply("250 ok"), -1, "reply after close");
	is_int(smtp_client_send(F.c, &msg1), -1, "send after close");
	smtp_client_quit(F.c);
	smtp_client_tls_done(F.c);
	smtp_client_fail(F.c, RQ_TEMPFAIL, "again");
	is_str(F.ev, "", "no callbacks after close");
	is_int(F.nwrites, 0, "no writes after close");
	is_int(F.ntmo, 0, "no timeouts after close");
	is_int(F.closed_calls, 0, "closed exactly once");
	fake_done();

	/* unsolicited 421 while idle */
	start_ready(NULL, "250 mx");
	is_int(reply("421 idle timeout"), -1, "idle 421");
	is_str(F.ev, "closed=temp/421 ", "only closed");
	fake_done();

	/* 421 as the greeting */
	start(NULL);
	reply("421 too busy");
	is_str(F.ev, "closed=temp/421 ", "421 greeting");
	is_int(F.closed_why.stage, RQ_STAGE_SESSION, "at the session");
	is_int(F.nwrites, 0, "nothing written");
	fake_done();

	/* 421 to the final dot: not delivered */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg1);
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("421 4.4.2 timeout");
	is_str(F.ev, "body r0=temp/421 msg=temp/421 closed=temp/421 ",
	    "421 after the dot");
	fake_done();
}

/* Banner refusals and unexpected replies. */
static void
test_banner(void)
{
	start(NULL);
	is_int(reply("554 5.7.1 no service for you"), -1, "554 banner");
	is_str(F.ev, "closed=temp/554 ", "closed tempfail");
	is_str(F.closed_why.text, "554 5.7.1 no service for you", "reason");
	is_int(F.nwrites, 0, "nothing written");
	fake_done();

	start(NULL);
	reply("450 busy");
	is_str(F.ev, "closed=temp/450 ", "4xx banner");
	fake_done();

	start_ready(NULL, "250 mx");
	is_int(reply("250 surprise"), -1, "unsolicited reply");
	is_int(F.closed_calls, 1, "closed");
	is_int(F.closed_st, RQ_TEMPFAIL, "tempfail");
	is_str(F.closed_why.text, "unexpected reply in ready: 250 surprise",
	    "reason");
	fake_done();

	{
		struct smtp_reply r;

		start(NULL);
		smtp_reply_init(&r);
		is_int(smtp_client_on_reply(F.c, &r), -1, "incomplete reply");
		is_str(F.ev, "closed=temp/0 ", "closed");
		fake_done();
	}

	{
		static const struct smtp_client_conf conf = {
			.helo_name = "bad name",
		};

		start(&conf);
		reply("220 hi");
		is_str(F.ev, "closed=temp/0 ", "unformattable EHLO closes");
		is_str(F.closed_why.text, "cannot format ehlo command",
		    "reason");
		is_int(F.nwrites, 0, "nothing written");
		fake_done();
	}
}

/* STARTTLS required: refused when not offered, else upgrade and EHLO. */
static void
test_starttls(void)
{
	static const struct smtp_client_conf tls = {
		.helo_name = "client.example",
		.starttls = 1,
	};

	start(&tls);
	reply("220 mx");
	reply(EHLO_PIPE);
	is_str(F.ev, "closed=temp/0 ", "closed");
	is_str(F.closed_why.text, "STARTTLS not offered", "reason");
	is_int(F.nwrites, 1, "only EHLO written");
	is_str(wrote(), "EHLO client.example\r\n", "no MAIL, no QUIT");
	fake_done();

	start(&tls);
	reply("220 mx");
	reply("250-mx\n250-STARTTLS\n250-PIPELINING\n250 AUTH PLAIN");
	is_str(F.writes[1], "STARTTLS\r\n", "STARTTLS sent");
	is_int(F.ready_calls, 0, "not ready before TLS");
	reply("220 2.0.0 Ready to start TLS");
	is_str(F.ev, "tls ", "starttls op");
	is_str(smtp_client_state_name(F.c), "tls", "state tls");
	is_int(F.nwrites, 2, "nothing written during the handshake");
	is_int(smtp_client_send(F.c, &msg1), -1, "send refused during TLS");
	smtp_client_tls_done(F.c);
	is_int(smtp_client_caps(F.c)->ext, 0, "caps discarded");
	is_str(F.writes[2], "EHLO client.example\r\n", "EHLO again");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "timeout armed");
	reply("250-mx\n250 SIZE 100");
	is_str(F.ev, "tls ready ", "ready after the second EHLO");
	is_int(smtp_client_caps(F.c)->ext, SMTP_EXT_SIZE,
	    "only the new caps (no PIPELINING, STARTTLS or AUTH)");
	is_str(smtp_client_caps(F.c)->auth, "", "AUTH forgotten");
	smtp_client_tls_done(F.c);
	is_int(F.nwrites, 3, "tls_done outside the handshake ignored");
	fake_done();

	start(&tls);
	reply("220 mx");
	reply("250-mx\n250 STARTTLS");
	reply("454 4.7.0 TLS not available");
	is_str(F.ev, "closed=temp/454 ", "454 closes");
	fake_done();

	/* the glue may finish the handshake from inside the op */
	start(&tls);
	F.tls_done_inline = 1;
	reply("220 mx");
	reply("250-mx\n250 STARTTLS");
	reply("220 go");
	is_str(F.writes[F.nwrites - 1], "EHLO client.example\r\n",
	    "re-entrant tls_done");
	reply("250 mx");
	is_str(F.ev, "tls ready ", "ready");
	fake_done();

	/* TLS handshake failure reported by the glue */
	start(&tls);
	reply("220 mx");
	reply("250-mx\n250 STARTTLS");
	reply("220 go");
	smtp_client_fail(F.c, RQ_TEMPFAIL, "TLS handshake failed");
	is_str(F.ev, "tls closed=temp/0 ", "closed");
	fake_done();
}

/* DSN parameters go out only when the server offers DSN (RFC 3461). */
/*
 * The longest ORCPT the front end accepts (DSN_ORCPT_WIRE_MAX once
 * encoded) goes out with the longest path and NOTIFY; one octet more is
 * refused, as the front end refuses it.
 */
static void
test_dsn_orcpt_max(void)
{
	char orc[7 + 164 + 3], path[257];
	struct buf b;

	memset(orc, '+', sizeof(orc));
	memcpy(orc, "rfc822;", 7);
	memcpy(orc + 7 + 164, "a", 2);
	memset(path, 'p', sizeof(path));
	memcpy(path + 256 - 12, "@example.org", 13);
	buf_init(&b, 4096);
	is_int((int)dsn_orcpt_wire_len(orc), DSN_ORCPT_WIRE_MAX,
	    "ORCPT at the limit");
	is_int(smtp_cmd_rcpt_dsn(&b, path,
		   SMTP_CMD_NOTIFY_SUCCESS | SMTP_CMD_NOTIFY_FAILURE |
		       SMTP_CMD_NOTIFY_DELAY,
		   orc),
	    0, "longest path, NOTIFY and ORCPT fit a DSN line");
	ok(b.len > SMTP_CMD_LINE_MAX && b.len <= SMTP_CMD_DSN_LINE_MAX,
	    "line of %zu octets", b.len);
	buf_reset(&b);
	memcpy(orc + 7 + 164, "ab", 3);
	ok(smtp_cmd_rcpt_dsn(&b, "a@x", 0, orc) == -1 && b.len == 0,
	    "ORCPT one octet over refused");
	buf_free(&b);
}

static void
test_dsn(void)
{
	static const unsigned notify[] = { SMTP_CMD_NOTIFY_SUCCESS |
		    SMTP_CMD_NOTIFY_FAILURE,
		0, SMTP_CMD_NOTIFY_NEVER };
	static const char *const orcpt[] = { "rfc822;B+x=y@example.org", NULL,
		NULL };
	static const struct smtp_msg m = { "DSN", "a@example.com", rcpts3, 3, 0,
		0, 0, "HDRS", "id+1=2 x", notify, orcpt, 0 };
	char out[64];

	start_ready(NULL, "250-mx\n250-PIPELINING\n250 DSN");
	is_int(smtp_client_send(F.c, &m), 0, "send with DSN");
	is_str(wrote(),
	    "MAIL FROM:<a@example.com> RET=HDRS ENVID=id+2B1+3D2+20x\r\n"
	    "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;B+2Bx+3Dy@example.org\r\n"
	    "RCPT TO:<c@example.org>\r\n"
	    "RCPT TO:<d@example.org> NOTIFY=NEVER\r\n"
	    "DATA\r\n",
	    "RET, ENVID, NOTIFY and ORCPT sent, xtext-encoded");
	fake_done();

	start_ready(NULL, "250-mx\n250 PIPELINING");
	is_int(smtp_client_send(F.c, &m), 0, "send without server DSN");
	is_str(wrote(),
	    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
	    "RCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\n"
	    "DATA\r\n",
	    "no DSN parameter when the server lacks DSN");
	fake_done();

	is_int(dsn_xtext("a+b=c d\x7f", out, sizeof(out)), 0, "xtext");
	is_str(out, "a+2Bb+3Dc+20d+7F", "xtext encodes + = SP DEL");
	is_int(dsn_xtext("abcdef", out, 4), -1, "xtext bounded");
	is_int((int)dsn_xtext_len("a+b=c d\x7f"), 16, "xtext length");
	test_dsn_orcpt_max();
}

/* SIZE and SMTPUTF8 refusals happen locally, and the session stays. */
static void
test_local_refusals(void)
{
	static const struct smtp_msg big = { "BIG", "a@x", rcpts3, 2, 2000, 0,
		0, NULL, NULL, NULL, NULL, 0 };
	static const struct smtp_msg utf8 = { "U8", "a@x", rcpts3, 1, 0, 0, 1,
		NULL, NULL, NULL, NULL, 0 };
	static const struct smtp_msg bad = { "BAD", "a@x\r\nRSET", rcpts3, 1, 0,
		0, 0, NULL, NULL, NULL, NULL, 0 };
	static const char *const badr[] = { "ok@x", "b@x>\r\nDATA" };
	static const struct smtp_msg badrcpt = { "BADR", "a@x", badr, 2, 0, 0,
		0, NULL, NULL, NULL, NULL, 0 };
	static const struct smtp_msg none = { "NONE", "a@x", rcpts3, 0, 0, 0, 0,
		NULL, NULL, NULL, NULL, 0 };

	start_ready(NULL, "250-mx\n250-PIPELINING\n250 SIZE 1000");
	is_int(smtp_client_send(F.c, &big), 0, "too big: handled");
	is_str(F.ev, "r0=perm/552 r1=perm/552 msg=perm/552 ready ",
	    "every recipient permanent, then ready");
	is_str(F.rcpt_why[0].esc, "5.3.4", "5.3.4");
	is_str(F.msg_why.text, "message too big for server (2000 > SIZE 1000)",
	    "reason");
	is_int(F.nwrites, 0, "no MAIL sent");
	ok(smtp_client_is_ready(F.c), "still ready");

	fake_clear();
	is_int(smtp_client_send(F.c, &utf8), 0, "SMTPUTF8 needed");
	is_str(F.ev, "r0=perm/553 msg=perm/553 ready ", "permanent");
	is_str(F.rcpt_why[0].esc, "5.6.7", "5.6.7");
	is_int(F.nwrites, 0, "nothing sent");

	fake_clear();
	is_int(smtp_client_send(F.c, &bad), -1, "CRLF in sender refused");
	is_int(smtp_client_send(F.c, &badrcpt), -1, "CRLF in RCPT refused");
	is_int(smtp_client_send(F.c, &none), -1, "no recipients refused");
	is_int(smtp_client_send(F.c, NULL), -1, "NULL refused");
	is_str(F.ev, "", "no callbacks");
	is_int(F.nwrites, 0, "nothing written");
	ok(smtp_client_is_ready(F.c), "still ready");

	/* the session still works */
	is_int(smtp_client_send(F.c, &msg1), 0, "next message");
	is_str(wrote(),
	    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>"
	    "\r\nDATA\r\n",
	    "sent (size 0: no SIZE=)");
	fake_done();

	/* SMTPUTF8 offered; 8-bit without 8BITMIME is sent as is */
	{
		static const struct smtp_msg m = { "M", "a@x", rcpts3, 1, 10, 1,
			1, NULL, NULL, NULL, NULL, 0 };

		start_ready(NULL, "250-mx\n250-SMTPUTF8\n250 SIZE");
		smtp_client_send(F.c, &m);
		is_str(wrote(), "MAIL FROM:<a@x> SIZE=10 SMTPUTF8\r\n",
		    "SMTPUTF8, no BODY= without 8BITMIME");
		fake_done();
	}
}

/* smtp_client_fail mid-DATA reports each recipient once, closes once. */
static void
test_fail_mid_data(void)
{
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg3);
	reply("250 ok");
	reply("250 ok");
	reply("550 no");
	reply("250 ok");
	reply("354 go");
	smtp_client_fail(F.c, RQ_TEMPFAIL, "connection reset by peer");
	is_str(F.ev,
	    "r1=perm/550 body r0=temp/0 r2=temp/0 msg=temp/0 closed=temp/0 ",
	    "remaining recipients, message, closed");
	is_str(F.closed_why.text, "connection reset by peer", "reason");
	for (int i = 0; i < 3; i++)
		is_int(F.rcpt_calls[i], 1, "rcpt %d once", i);
	is_int(F.msg_calls, 1, "msg_done once");
	smtp_client_fail(F.c, RQ_TEMPFAIL, "again");
	is_int(F.closed_calls, 1, "closed once");
	is_int(reply("250 late"), -1, "late reply ignored");
	is_int(F.msg_calls, 1, "still once");
	fake_done();

	/* fail while idle: only closed */
	start_ready(NULL, "250 mx");
	smtp_client_fail(F.c, RQ_TEMPFAIL, "idle timeout");
	is_str(F.ev, "closed=temp/0 ", "only closed");
	fake_done();

	/* the glue fails the session from inside rcpt_done */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg3);
	F.fail_in_rcpt_done = 1;
	reply("250 ok");
	reply("550 no");
	is_str(F.ev,
	    "r0=perm/550 r1=temp/0 r2=temp/0 msg=temp/0 "
	    "closed=temp/0 ",
	    "re-entrant fail");
	is_int(reply("250 ok"), -1, "rest ignored");
	is_int(F.nwrites, 1, "nothing more written");
	fake_done();
}

/* One session, two messages, then QUIT from ready. */
static void
test_reuse(void)
{
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg1);
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("250 first");
	is_str(F.ev, "body r0=ok/250 msg=ok/250 ready ", "first message");
	is_int(smtp_client_send(F.c, &msg2), 0, "second message");
	reply("250 ok");
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("250 second");
	is_str(F.ev,
	    "body r0=ok/250 msg=ok/250 ready body r0=ok/250 r1=ok/250 "
	    "msg=ok/250 ready ",
	    "second message");
	ok(strstr(wrote(), "RSET") == NULL, "no RSET between successes");
	smtp_client_quit(F.c);
	reply("221 bye");
	is_int(F.closed_calls, 1, "closed");
	is_int(F.closed_st, RQ_OK, "clean");
	fake_done();

	/* the glue sends the next message from inside ready */
	start_ready(NULL, EHLO_PIPE);
	smtp_client_send(F.c, &msg1);
	F.send_on_ready = &msg2;
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("250 first");
	is_str(F.writes[F.nwrites - 1],
	    "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
	    "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
	    "re-entrant send from ready");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "timeout for MAIL");
	F.quit_on_ready = 1;
	reply("250 ok");
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("250 second");
	is_str(F.writes[F.nwrites - 1], "QUIT\r\n", "re-entrant quit");
	reply("221 bye");
	is_str(F.ev,
	    "body r0=ok/250 msg=ok/250 ready body r0=ok/250 r1=ok/250 "
	    "msg=ok/250 ready closed=ok/221 ",
	    "whole sequence");
	fake_done();

	/* quit is ignored outside ready */
	start(NULL);
	smtp_client_quit(F.c);
	is_int(F.nwrites, 0, "no QUIT before the banner");
	fake_done();
}

/* The timeout kinds follow what is awaited. */
static void
test_timeouts(void)
{
	static const int want[] = { SMTP_TMO_GREETING, SMTP_TMO_COMMAND,
		SMTP_TMO_COMMAND, SMTP_TMO_COMMAND, SMTP_TMO_DATA,
		SMTP_TMO_DOT };
	size_t i;
	int same = 1;

	start(NULL);
	reply("220 mx");
	reply("250 mx");
	smtp_client_send(F.c, &msg1);
	reply("250 ok");
	reply("250 ok");
	reply("354 go");
	reply("250 ok");
	is_int(F.ntmo, RQ_NELEM(want), "one timeout per awaited reply");
	for (i = 0; i < RQ_NELEM(want) && i < F.ntmo; i++)
		same &= (int)F.tmo[i] == want[i];
	ok(same, "greeting, EHLO, MAIL, RCPT, DATA, dot");
	fake_done();
}

#define EHLO_AUTH "250-mx\n250-PIPELINING\n250 AUTH PLAIN LOGIN"

static const struct smtp_client_conf conf_auth_tls = {
	.helo_name = "client.example",
	.auth = 1,
	.tls_on_connect = 1,
};

/* AUTH PLAIN with an initial response, over implicit TLS. */
static void
test_auth_plain(void)
{
	start(&conf_auth_tls);
	F.auth_mech = "PLAIN";
	F.auth_init = "AHVzZXIAcGVuY2ls";
	reply("220 mx");
	reply(EHLO_AUTH);
	is_int(F.auth_start_calls, 1, "auth_start called");
	is_str(F.auth_offered, "PLAIN LOGIN", "offered mechanisms passed");
	is_str(F.writes[1], "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n",
	    "AUTH with initial response");
	is_int(F.nwrites, 2, "AUTH alone, not pipelined with MAIL");
	is_str(smtp_client_state_name(F.c), "auth", "state auth");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "command timeout armed");
	is_int(F.ready_calls, 0, "not ready before 235");
	is_int(smtp_client_send(F.c, &msg1), -1, "send refused during AUTH");
	F.send_on_ready = &msg1;
	reply("235 2.7.0 Authentication successful");
	is_int(F.auth_done_calls, 1, "auth_done called");
	is_str(F.ev, "ready ", "ready after 235");
	is_str(F.writes[2],
	    "MAIL FROM:<a@example.com>\r\n"
	    "RCPT TO:<b@example.org>\r\nDATA\r\n",
	    "then MAIL");
	fake_done();

	/* "=" is an empty initial response (RFC 4954 section 4) */
	start(&conf_auth_tls);
	F.auth_mech = "EXTERNAL";
	F.auth_init = "=";
	reply("220 mx");
	reply("250-mx\n250 AUTH EXTERNAL");
	is_str(F.writes[1], "AUTH EXTERNAL =\r\n", "empty initial response");
	reply("235 ok");
	is_int(F.ready_calls, 1, "ready");
	fake_done();

	/* no initial response: an empty 334 gets the response */
	start(&conf_auth_tls);
	F.auth_mech = "PLAIN";
	F.auth_resps = (const char *const[]){ "AHVzZXIAcGVuY2ls" };
	F.auth_nresps = 1;
	reply("220 mx");
	reply(EHLO_AUTH);
	is_str(F.writes[1], "AUTH PLAIN\r\n", "AUTH without response");
	reply("334 ");
	is_str(F.challenges, "[]", "empty challenge passed as \"\"");
	is_str(F.writes[2], "AHVzZXIAcGVuY2ls\r\n", "response after 334");
	reply("235 ok");
	is_str(F.ev, "ready ", "ready");
	fake_done();
}

/* A LOGIN-style exchange: two 334 challenges, two response lines. */
static void
test_auth_login(void)
{
	static const char *const resps[] = { "dXNlcg==", "cGVuY2ls" };

	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	F.auth_resps = resps;
	F.auth_nresps = 2;
	reply("220 mx");
	reply(EHLO_AUTH);
	is_str(F.writes[1], "AUTH LOGIN\r\n", "AUTH LOGIN");
	reply("334 VXNlcm5hbWU6");
	is_str(F.writes[2], "dXNlcg==\r\n", "user line");
	is_int(last_tmo(), SMTP_TMO_COMMAND, "timeout rearmed");
	reply("334 UGFzc3dvcmQ6");
	is_str(F.writes[3], "cGVuY2ls\r\n", "password line");
	is_str(F.challenges, "[VXNlcm5hbWU6][UGFzc3dvcmQ6]",
	    "challenges passed as sent");
	is_int(F.ready_calls, 0, "not ready yet");
	reply("235 2.7.0 ok");
	is_int(F.auth_step_calls, 2, "two steps");
	is_str(F.ev, "ready ", "ready");
	fake_done();

	/* a server that never stops challenging */
	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	reply("220 mx");
	reply(EHLO_AUTH);
	for (int i = 0; i < SMTP_AUTH_STEPS_MAX + 1; i++)
		reply("334 ");
	is_int(F.auth_step_calls, SMTP_AUTH_STEPS_MAX, "steps bounded");
	is_str(F.writes[F.nwrites - 1], "*\r\n", "cancelled");
	is_str(F.closed_why.text, "too many AUTH challenges", "reason");
	is_int(F.closed_st, RQ_TEMPFAIL, "tempfail");
	fake_done();

	/* a multi-line 334 is not a challenge */
	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("334-VXNl\n334 cm5h");
	is_int(F.auth_step_calls, 0, "not passed to auth_step");
	is_str(F.writes[F.nwrites - 1], "*\r\n", "cancelled");
	is_str(F.closed_why.text, "malformed AUTH challenge", "reason");
	fake_done();
}

/* Returns the reply code at the start of s. */
static int
code_of(const char *s)
{
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* AUTH refusals by the server: never a permanent failure, never MAIL. */
static void
test_auth_refused(void)
{
	static const char *const codes[] = {
		"535 5.7.8 Authentication credentials invalid",
		"454 4.7.0 Temporary authentication failure",
		"534 5.7.9 Authentication mechanism is too weak",
		"504 5.5.4 Unrecognized authentication type",
	};

	for (size_t i = 0; i < RQ_NELEM(codes); i++) {
		start(&conf_auth_tls);
		F.auth_mech = "PLAIN";
		F.auth_init = "AHVzZXIAcGVuY2ls";
		F.send_on_ready = &msg1;
		reply("220 mx");
		reply(EHLO_AUTH);
		is_int(reply(codes[i]), -1, "%.3s ends the session", codes[i]);
		is_int(F.closed_calls, 1, "%.3s: closed once", codes[i]);
		is_int(F.closed_st, RQ_TEMPFAIL, "%.3s: tempfail", codes[i]);
		is_int(F.closed_why.code, code_of(codes[i]),
		    "%.3s: server's code kept", codes[i]);
		is_int(F.nwrites, 2, "%.3s: no MAIL, no QUIT", codes[i]);
		is_int(F.ready_calls + F.msg_calls, 0, "%.3s: never ready",
		    codes[i]);
		fake_done();
	}
	start(&conf_auth_tls);
	F.auth_mech = "PLAIN";
	F.auth_init = "AHVzZXIAcGVuY2ls";
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("535 5.7.8 Authentication credentials invalid");
	is_str(F.closed_why.esc, "5.7.8", "enhanced code kept");
	is_str(F.closed_why.text,
	    "535 5.7.8 Authentication credentials invalid",
	    "server's reply as the reason");
	fake_done();

	/* 421 during AUTH */
	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("334 VXNlcm5hbWU6");
	reply("421 4.3.2 shutting down");
	is_str(F.ev, "closed=temp/421 ", "421 closes");
	fake_done();
}

/* AUTH is never sent in clear unless plaintext AUTH is allowed. */
static void
test_auth_tls_policy(void)
{
	static const struct smtp_client_conf clear = {
		.helo_name = "client.example",
		.auth = 1,
	};
	static const struct smtp_client_conf clear_ok = {
		.helo_name = "client.example",
		.auth = 1,
		.allow_plaintext_auth = 1,
	};
	static const struct smtp_client_conf stls = {
		.helo_name = "client.example",
		.starttls = 1,
		.auth = 1,
	};

	start(&clear);
	F.auth_mech = "PLAIN";
	F.auth_init = "AHVzZXIAcGVuY2ls";
	F.send_on_ready = &msg1;
	reply("220 mx");
	is_int(reply(EHLO_AUTH), -1, "session over");
	is_str(F.closed_why.text,
	    "refusing to send AUTH over an unencrypted connection", "reason");
	is_int(F.closed_st, RQ_TEMPFAIL, "tempfail");
	is_int(F.auth_start_calls, 0, "auth_start not called");
	is_int(F.nwrites, 1, "nothing written after EHLO");
	is_str(wrote(), "EHLO client.example\r\n", "no AUTH, no MAIL");
	fake_done();

	start(&clear_ok);
	F.auth_mech = "PLAIN";
	F.auth_init = "AHVzZXIAcGVuY2ls";
	reply("220 mx");
	reply(EHLO_AUTH);
	is_str(F.writes[1], "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n",
	    "allowed in clear with allow_plaintext_auth");
	reply("235 ok");
	is_int(F.ready_calls, 1, "ready");
	fake_done();

	/* STARTTLS first: the pre-TLS AUTH list is not used */
	start(&stls);
	F.auth_mech = "LOGIN";
	reply("220 mx");
	reply("250-mx\n250-STARTTLS\n250 AUTH PLAIN");
	is_str(F.writes[1], "STARTTLS\r\n", "STARTTLS, not AUTH");
	is_int(F.auth_start_calls, 0, "no AUTH before TLS");
	reply("220 go");
	smtp_client_tls_done(F.c);
	reply("250-mx\n250 AUTH=LOGIN");
	is_str(F.auth_offered, "LOGIN", "post-TLS mechanisms");
	is_str(F.writes[3], "AUTH LOGIN\r\n", "AUTH after STARTTLS");
	reply("334 VXNlcm5hbWU6");
	reply("334 UGFzc3dvcmQ6");
	reply("235 ok");
	is_str(F.ev, "tls ready ", "ready");
	fake_done();

	/* AUTH offered only before TLS */
	start(&stls);
	F.auth_mech = "PLAIN";
	reply("220 mx");
	reply("250-mx\n250-STARTTLS\n250 AUTH PLAIN");
	reply("220 go");
	smtp_client_tls_done(F.c);
	reply("250-mx\n250 SIZE 100");
	is_str(F.closed_why.text, "server offers no AUTH",
	    "pre-TLS AUTH forgotten");
	is_int(F.nwrites, 3, "nothing after the second EHLO");
	fake_done();
}

/* A server that offers no AUTH; a HELO-only server. */
static void
test_auth_not_offered(void)
{
	start(&conf_auth_tls);
	F.auth_mech = "PLAIN";
	F.send_on_ready = &msg1;
	reply("220 mx");
	reply(EHLO_PIPE);
	is_str(F.ev, "closed=temp/0 ", "closed, tempfail");
	is_str(F.closed_why.text, "server offers no AUTH", "reason");
	is_int(F.auth_start_calls, 0, "auth_start not called");
	is_int(F.nwrites, 1, "nothing written after EHLO");
	fake_done();

	start(&conf_auth_tls);
	reply("220 mx");
	reply("500 what");
	reply("250 mx");
	is_str(F.closed_why.text, "server offers no AUTH", "HELO: no AUTH");
	is_int(F.nwrites, 2, "EHLO and HELO only");
	fake_done();

	start(&conf_auth_tls);
	reply("220 mx");
	reply("250-mx\n250 AUTH");
	is_str(F.closed_why.text, "server offers no AUTH",
	    "AUTH without mechanisms");
	fake_done();
}

/* The glue's SASL callbacks refuse: "*" cancels, tempfail. */
static void
test_auth_glue_refusals(void)
{
	start(&conf_auth_tls);
	F.auth_start_fail = 1;
	reply("220 mx");
	reply(EHLO_AUTH);
	is_str(F.ev, "closed=temp/0 ", "auth_start -1 closes");
	is_str(F.closed_why.text, "no usable AUTH mechanism", "glue's reason");
	is_int(F.nwrites, 1, "nothing written");
	fake_done();

	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	F.auth_step_fail_at = 2;
	F.auth_resps = (const char *const[]){ "dXNlcg==" };
	F.auth_nresps = 1;
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("334 VXNlcm5hbWU6");
	is_int(reply("334 UGFzc3dvcmQ6"), -1, "session over");
	is_str(F.writes[F.nwrites - 1], "*\r\n", "\"*\" cancels");
	is_int(F.nwrites, 4, "EHLO, AUTH, user, *");
	is_str(F.ev, "closed=temp/0 ", "tempfail");
	is_str(F.closed_why.text, "bad challenge", "glue's reason");
	ok(smtp_client_on_reply(F.c, NULL) == -1, "501 to * is ignored");
	fake_done();

	/* a response line that would inject a command is refused */
	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	F.auth_resps = (const char *const[]){ "dXNl\r\nMAIL FROM:<x>" };
	F.auth_nresps = 1;
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("334 VXNlcm5hbWU6");
	is_str(F.writes[F.nwrites - 1], "*\r\n", "cancelled");
	is_str(F.closed_why.text, "bad AUTH response", "reason");
	fake_done();

	start(&conf_auth_tls);
	F.auth_mech = "PLAIN\r\nMAIL";
	reply("220 mx");
	reply(EHLO_AUTH);
	is_int(F.nwrites, 1, "bad mechanism name: nothing written");
	is_str(F.closed_why.text, "bad AUTH mechanism or response", "reason");
	fake_done();

	/* lines over SMTP_AUTH_LINE_MAX (RFC 4954: 12288 octets) */
	{
		static char big[SMTP_AUTH_LINE_MAX];
		const char *one[1] = { big };

		memset(big, 'A', sizeof(big) - 1);
		start(&conf_auth_tls);
		F.auth_mech = "XOAUTH2";
		F.auth_init = big;
		reply("220 mx");
		reply("250-mx\n250 AUTH XOAUTH2");
		is_int(F.nwrites, 1, "over-long AUTH: nothing written");
		is_str(F.closed_why.text, "AUTH line too long", "reason");
		fake_done();

		big[SMTP_AUTH_LINE_MAX - 20] = '\0';
		start(&conf_auth_tls);
		F.auth_mech = "XOAUTH2";
		F.auth_init = big;
		reply("220 mx");
		reply("250-mx\n250 AUTH XOAUTH2");
		is_int(strlen(F.writes[1]), SMTP_AUTH_LINE_MAX - 20 + 15,
		    "long AUTH line within the limit sent");
		fake_done();

		big[SMTP_AUTH_LINE_MAX - 20] = 'A';
		start(&conf_auth_tls);
		F.auth_mech = "LOGIN";
		F.auth_resps = one;
		F.auth_nresps = 1;
		reply("220 mx");
		reply(EHLO_AUTH);
		reply("334 VXNlcm5hbWU6");
		is_str(F.writes[F.nwrites - 1], "*\r\n",
		    "over-long response: cancelled");
		is_str(F.closed_why.text, "AUTH line too long", "reason");
		fake_done();
	}

	/* 235 but the mechanism did not finish (SCRAM signature missing) */
	start(&conf_auth_tls);
	F.auth_mech = "SCRAM-SHA-256";
	F.auth_init = "biwsbj11c2VyLHI9YWJj";
	F.auth_done_fail = 1;
	F.send_on_ready = &msg1;
	reply("220 mx");
	reply("250-mx\n250 AUTH SCRAM-SHA-256");
	reply("235 ok");
	is_str(F.ev, "closed=temp/0 ", "auth_done -1 closes");
	is_str(F.closed_why.text, "server signature not verified", "reason");
	is_int(F.nwrites, 2, "no MAIL");
	fake_done();
}

/* Returns nonzero when the file at path contains needle. */
static int
file_has(const char *path, const char *needle)
{
	static char text[65536];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return strstr(text, needle) != NULL;
}

/* The SMTP trace never shows an AUTH response. */
static void
test_auth_trace(void)
{
	static const char *const resps[] = { "dXNlcg==", "c2VjcmV0UGFzcw==" };
	char path[] = "/tmp/test_smtp_client.XXXXXX";
	int fd, saved;

	if ((fd = mkstemp(path)) == -1 || (saved = dup(2)) == -1) {
		ok(0, "cannot capture stderr");
		return;
	}
	fflush(stderr);
	dup2(fd, 2);
	start(&conf_auth_tls);
	F.auth_mech = "PLAIN";
	F.auth_init = "AHVzZXIAc2VjcmV0UGFzcw==";
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("235 ok");
	fake_done();
	start(&conf_auth_tls);
	F.auth_mech = "LOGIN";
	F.auth_resps = resps;
	F.auth_nresps = 2;
	reply("220 mx");
	reply(EHLO_AUTH);
	reply("334 VXNlcm5hbWU6");
	reply("334 UGFzc3dvcmQ6");
	reply("535 5.7.8 no");
	fake_done();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	ok(file_has(path, "> AUTH PLAIN <redacted>"), "AUTH PLAIN redacted");
	ok(file_has(path, "> AUTH LOGIN <redacted>"), "AUTH LOGIN redacted");
	ok(file_has(path, "> <redacted>"), "response lines redacted");
	ok(file_has(path, "< 334 VXNlcm5hbWU6"), "challenges traced");
	ok(!file_has(path, "AHVzZXIAc2VjcmV0UGFzcw=="),
	    "initial response not in the trace");
	ok(!file_has(path, "c2VjcmV0UGFzcw=="), "password line not traced");
	ok(!file_has(path, "dXNlcg=="), "user line not traced");
	unlink(path);
}

/* Runs every test and prints the TAP plan. */
int
main(void)
{
	log_init("test_smtp_client", LOG_TO_STDERR, 1);
	log_set_trace(LOG_TRACE_SMTP | LOG_TRACE_STATE);
	test_cmd();
	test_caps();
	test_lockstep();
	test_pipelined();
	test_helo();
	test_mixed();
	test_all_refused();
	test_no_data();
	test_mail_fail();
	test_dot_fail();
	test_421();
	test_banner();
	test_starttls();
	test_local_refusals();
	test_dsn();
	test_fail_mid_data();
	test_reuse();
	test_timeouts();
	test_auth_plain();
	test_auth_login();
	test_auth_refused();
	test_auth_tls_policy();
	test_auth_not_offered();
	test_auth_glue_refusals();
	test_auth_trace();
	return done_testing();
}
