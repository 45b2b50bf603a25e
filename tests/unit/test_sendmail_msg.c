/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the front end without a spool: the option table
 * (sendmail_args.c) and the message rewriting (sendmail_msg.c), whose
 * output is collected through the sink into a struct buf and checked
 * against libqueue's wire-form checker.  Every message case is run with
 * several input chunk sizes, which must not change the result.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "sendmail/sendmail_args.h"
#include "sendmail/sendmail_msg.h"
#include "tap.h"

/* ---- option parsing ---------------------------------------------------- */

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Counts a NULL-terminated argv. */
static int
argc_of(const char *const *argv)
{
	int n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

/* Parses argv into *o; returns the parser's result. */
static int
parse(struct sendmail_opts *o, const char *const *argv, struct rq_err *err)
{
	return sendmail_args_parse(o, argc_of(argv), argv, err);
}

/* Values attached to their option or in the next word. */
static void
test_args_values(void)
{
	struct sendmail_opts o;
	struct rq_err err;

	is_int(parse(&o, ARGS("sendmail", "-fuser@x.org", "r@y.org"), &err), 0,
	    "-fuser@x.org");
	is_str(o.sender, "user@x.org", "attached -f value");
	is_int(o.nrcpts, 1, "one recipient");
	is_str(o.rcpts[0], "r@y.org", "recipient after options");
	is_int(parse(&o, ARGS("sendmail", "-f", "user@x.org", "r@y.org"), &err),
	    0, "-f user@x.org");
	is_str(o.sender, "user@x.org", "separate -f value");
	is_int(parse(&o, ARGS("sendmail", "-r", "<>", "r@y.org"), &err), 0,
	    "-r <>");
	is_str(o.sender, "<>", "-r is -f");
	is_int(parse(&o, ARGS("sendmail", "-f", "", "r@y.org"), &err), 0,
	    "-f ''");
	is_str(o.sender, "", "empty separate value kept");
	is_int(parse(&o, ARGS("sendmail", "-fa@x.org", "-f", "b@x.org", "r"),
		   &err),
	    0, "repeated -f");
	is_str(o.sender, "b@x.org", "last -f wins");
	is_int(o.nsender, 2, "repeats counted for the warning");
	is_int(parse(&o, ARGS("sendmail", "-FCronDaemon", "r"), &err), 0,
	    "-FCronDaemon");
	is_str(o.fullname, "CronDaemon", "attached -F");
	is_int(parse(&o, ARGS("sendmail", "-F", "Cron Daemon", "r"), &err), 0,
	    "-F 'Cron Daemon'");
	is_str(o.fullname, "Cron Daemon", "separate -F");
	is_int(parse(&o, ARGS("sendmail", "-B8BITMIME", "r"), &err), 0,
	    "-B8BITMIME");
	is_int(o.body, SENDMAIL_BODY_8BITMIME, "attached -B");
	is_int(parse(&o, ARGS("sendmail", "-B", "7bit", "r"), &err), 0,
	    "-B 7bit");
	is_int(o.body, SENDMAIL_BODY_7BIT, "separate -B, any case");
	is_int(parse(&o, ARGS("sendmail", "-N", "success,DELAY", "r"), &err), 0,
	    "-N success,DELAY");
	is_int(o.dsn_notify, SENDMAIL_DSN_SUCCESS | SENDMAIL_DSN_DELAY,
	    "-N bits");
	is_int(parse(&o, ARGS("sendmail", "-Nnever", "-Rhdrs", "-Vid1", "r"),
		   &err),
	    0, "-Nnever -Rhdrs -Vid1");
	is_int(o.dsn_notify, SENDMAIL_DSN_NEVER, "-N never");
	is_str(o.dsn_ret, "hdrs", "-R");
	is_str(o.dsn_envid, "id1", "-V");
	is_int(parse(&o, ARGS("sendmail", "-C", "/tmp/x.conf", "r"), &err), 0,
	    "-C file");
	is_str(o.config, "/tmp/x.conf", "-C value");
	is_int(parse(&o, ARGS("sendmail", "-C/tmp/y.conf", "r"), &err), 0,
	    "-Cfile");
	is_str(o.config, "/tmp/y.conf", "attached -C value");
	is_int(parse(&o, ARGS("sendmail", "-X", "/var/www/x.php", "r"), &err),
	    0, "-X file accepted");
	is_int(o.nrcpts, 1, "-X consumed its value");
	is_int(parse(&o,
		   ARGS("sendmail", "-h", "5", "-L", "tag", "-p", "UUCP:host",
		       "-A", "m", "r"),
		   &err),
	    0, "-h -L -p -A with separate values");
	is_int(o.nrcpts, 1, "values consumed");
	is_str(o.rcpts[0], "r", "recipient intact");
	is_int(parse(&o, ARGS("sendmail", "-f"), &err), -1,
	    "-f without a value");
	ok(strstr(err.msg, "requires a value") != NULL, "message: %s", err.msg);
}

/* -t, -i, -o and -O forms. */
static void
test_args_flags(void)
{
	struct sendmail_opts o;
	struct rq_err err;

	is_int(parse(&o, ARGS("sendmail", "-ti"), &err), 0, "-ti");
	ok(o.extract && o.ignore_dots, "-ti sets both");
	is_int(parse(&o, ARGS("sendmail", "-it"), &err), 0, "-it");
	ok(o.extract && o.ignore_dots, "-it sets both");
	is_int(parse(&o, ARGS("sendmail", "-t", "-v", "-v"), &err), 0, "-v -v");
	is_int(o.verbose, 2, "verbosity counted");
	is_int(parse(&o, ARGS("sendmail", "-oi", "r"), &err), 0, "-oi");
	is_int(o.ignore_dots, 1, "-oi sets -i");
	is_int(parse(&o, ARGS("sendmail", "-oitrue", "r"), &err), 0, "-oitrue");
	is_int(o.ignore_dots, 1, "-oitrue sets -i");
	is_int(parse(&o, ARGS("sendmail", "-i", "-oifalse", "r"), &err), 0,
	    "-oifalse");
	is_int(o.ignore_dots, 0, "-oifalse clears -i");
	is_int(parse(&o, ARGS("sendmail", "-o", "i", "r"), &err), 0, "-o i");
	is_int(o.ignore_dots, 1, "separate -o value");
	is_int(parse(&o, ARGS("sendmail", "-oix", "r"), &err), -1,
	    "-oix is not a boolean");
	is_int(parse(&o, ARGS("sendmail", "-odq", "r"), &err), 0, "-odq");
	is_int(o.queue_only, 1, "-odq: queue only");
	is_int(parse(&o, ARGS("sendmail", "-odd", "-odi", "r"), &err), 0,
	    "-odd -odi");
	is_int(o.queue_only, 0, "-odi after -odd: background again");
	is_int(parse(&o, ARGS("sendmail", "-O", "DeliveryMode=q", "r"), &err),
	    0, "-O DeliveryMode=q");
	is_int(o.queue_only, 1, "DeliveryMode=q: queue only");
	is_int(parse(&o, ARGS("sendmail", "-OIgnoreDots=true", "r"), &err), 0,
	    "-OIgnoreDots=true");
	is_int(o.ignore_dots, 1, "IgnoreDots honoured");
	is_int(parse(&o, ARGS("sendmail", "-OQueueDirectory=/tmp", "r"), &err),
	    0, "-OQueueDirectory=/tmp accepted");
	is_int(o.nignored, 1, "and ignored");
	is_int(parse(&o, ARGS("sendmail", "-oMr", "proto", "r"), &err), 0,
	    "-oMr proto");
	is_int(o.nrcpts, 1, "-oMr consumed its value");
	is_int(parse(&o,
		   ARGS("sendmail", "-odi", "-oem", "-oee", "-Am", "-U", "-G",
		       "-n", "-m", "-x", "-c", "-s", "-eq", "-om", "-o8", "r"),
		   &err),
	    0, "accept-and-ignore flags");
	is_int(o.nignored, 13, "ignored flags remembered (-odi is -odb)");
	is_int(o.mode, SENDMAIL_MODE_DELIVER, "still delivery mode");
}

/* "--", unknown and refused options, modes and names. */
static void
test_args_modes(void)
{
	struct sendmail_opts o;
	struct rq_err err;

	is_int(parse(&o, ARGS("sendmail", "-i", "--", "-foo", "-t"), &err), 0,
	    "--");
	is_int(o.nrcpts, 2, "everything after -- is a recipient");
	is_str(o.rcpts[0], "-foo", "option-like recipient kept");
	is_int(o.extract, 0, "-t after -- is not an option");
	is_int(parse(&o, ARGS("sendmail", "-i", "--", "-odd@example.net"),
		   &err),
	    0, "-- -odd@example.net");
	is_str(o.rcpts[0], "-odd@example.net", "recipient with '-' after --");
	is_int(o.queue_only, 0, "-odd after -- is not an option");
	is_int(parse(&o, ARGS("sendmail", "-i", "a@x.org", "-odd@example.net"),
		   &err),
	    -1, "recipient with '-' before -- refused");
	ok(strstr(err.msg, "after \"--\"") != NULL,
	    "and the message says "
	    "to use --: %s",
	    err.msg);
	is_int(parse(&o, ARGS("sendmail", "-i", "-odd@example.net", "r@y.org"),
		   &err),
	    0, "before --, -odd@example.net is an option");
	is_int(o.queue_only, 1, "(-odd: queue only)");
	is_int(o.nrcpts, 1, "and not a recipient");
	is_int(parse(&o, ARGS("sendmail", "-Z", "r"), &err), -1, "-Z");
	is_str(err.msg, "unsupported option -Z", "unknown option message");
	is_int(parse(&o, ARGS("sendmail", "-tix", "r"), &err), -1,
	    "-tix is not a group");
	is_int(parse(&o, ARGS("sendmail", "-d0.1"), &err), -1, "-d refused");
	is_int(parse(&o, ARGS("sendmail", "-bt"), &err), -1, "-bt refused");
	is_int(parse(&o, ARGS("sendmail", "-Mrm", "x"), &err), -1,
	    "-M refused");
	is_int(parse(&o, ARGS("sendmail", "-XV", "r"), &err), -1,
	    "-XV refused");
	is_int(parse(&o, ARGS("sendmail", "--foo"), &err), -1,
	    "unknown long option");
	is_int(parse(&o, ARGS("sendmail", "-bd"), &err), -1, "-bd refused");
	ok(strstr(err.msg, "relayqd") != NULL, "-bd message: %s", err.msg);
	is_int(parse(&o, ARGS("sendmail", "-B", "binary", "r"), &err), -1,
	    "bad -B");
	is_int(parse(&o, ARGS("sendmail", "-N", "never,success", "r"), &err),
	    -1, "-N never with others");
	is_int(parse(&o, ARGS("sendmail", "-N", "sometimes", "r"), &err), -1,
	    "bad -N");
	is_int(parse(&o, ARGS("sendmail", "-R", "all", "r"), &err), -1,
	    "bad -R");
	is_int(parse(&o, ARGS("sendmail", "-V", "a b", "r"), &err), -1,
	    "bad -V");
	is_int(parse(&o, ARGS("sendmail"), &err), -1, "no recipients");
	ok(strstr(err.msg, "recipient addresses must be specified") != NULL,
	    "no recipients message: %s", err.msg);
	is_int(parse(&o, ARGS("sendmail", "-t"), &err), 0,
	    "-t needs no argv recipient");
	is_int(parse(&o, ARGS("sendmail", "-bp"), &err), 0, "-bp");
	is_int(o.mode, SENDMAIL_MODE_LIST, "-bp lists");
	is_int(parse(&o, ARGS("sendmail", "-bp", "r"), &err), -1,
	    "-bp with a recipient");
	is_int(parse(&o, ARGS("sendmail", "-t", "-bp"), &err), -1,
	    "-t outside -bm");
	is_int(parse(&o, ARGS("sendmail", "-bv", "a", "b"), &err), 0, "-bv");
	is_int(o.mode, SENDMAIL_MODE_VERIFY, "-bv verifies");
	is_int(parse(&o, ARGS("sendmail", "-bv"), &err), -1,
	    "-bv without recipients");
	is_int(parse(&o, ARGS("sendmail", "-bs"), &err), 0, "-bs parsed");
	is_int(o.mode, SENDMAIL_MODE_SMTP, "-bs mode (refused by main)");
	is_int(parse(&o, ARGS("sendmail", "-bi"), &err), 0, "-bi");
	is_int(o.mode, SENDMAIL_MODE_ALIASES, "-bi no-op");
	is_int(parse(&o, ARGS("sendmail", "-I"), &err), 0, "-I");
	is_int(o.mode, SENDMAIL_MODE_ALIASES, "-I is -bi");
	is_int(parse(&o, ARGS("sendmail", "-bh"), &err), 0, "-bh");
	is_int(o.mode, SENDMAIL_MODE_NOOP, "-bh ignored");
	is_int(parse(&o, ARGS("sendmail", "-q"), &err), 0, "-q");
	is_int(o.mode, SENDMAIL_MODE_QUEUE_RUN, "-q runs the queue");
	is_int(parse(&o, ARGS("sendmail", "-q30m"), &err), 0, "-q30m");
	is_int(o.mode, SENDMAIL_MODE_NOOP, "-q30m ignored");
	is_int(parse(&o, ARGS("sendmail", "-qRexample.org"), &err), 0,
	    "-qRexample.org");
	is_int(o.qrun_kind, 'R', "-qR kind");
	is_str(o.qrun_match, "example.org", "-qR substring");
	is_int(parse(&o, ARGS("sendmail", "-qp"), &err), -1, "-qp refused");
	is_int(parse(&o, ARGS("sendmail", "-q!R"), &err), -1, "-q! refused");
	is_int(parse(&o, ARGS("sendmail", "-q", "r"), &err), -1,
	    "-q with a recipient");
	is_int(parse(&o, ARGS("sendmail", "--version"), &err), 0, "--version");
	is_int(o.mode, SENDMAIL_MODE_VERSION, "version mode");

	is_int(parse(&o, ARGS("/usr/bin/mailq"), &err), 0, "mailq");
	is_int(o.mode, SENDMAIL_MODE_LIST, "mailq is -bp");
	is_str(o.progname, "mailq", "basename of argv[0]");
	is_int(parse(&o, ARGS("mailq", "-v"), &err), 0, "mailq -v");
	is_int(parse(&o, ARGS("newaliases"), &err), 0, "newaliases");
	is_int(o.mode, SENDMAIL_MODE_ALIASES, "newaliases is -bi");
	is_int(parse(&o, ARGS("newaliases", "-bp"), &err), 0, "newaliases -bp");
	is_int(o.mode, SENDMAIL_MODE_LIST, "options override the name");
	is_int(parse(&o, ARGS("/usr/sbin/sendmail.relayq", "r"), &err), 0,
	    "other name");
	is_int(o.mode, SENDMAIL_MODE_DELIVER, "other names deliver");
	is_int(parse(&o, ARGS("rmail", "r"), &err), 0, "rmail");
	is_int(o.ignore_dots, 1, "rmail implies -i");
	is_int(parse(&o, ARGS("hoststat"), &err), -1, "hoststat refused");
}

/* ---- message building ------------------------------------------------- */

/* Fixed header lines, so that nothing is added unless a test wants it. */
#define H                                                        \
	"From: a@x.org\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n" \
	"Message-ID: <1@x.org>\n"
#define HW                                                           \
	"From: a@x.org\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n" \
	"Message-ID: <1@x.org>\r\n"

struct run {
	int ignore_dots;
	int extract;
	const char *sender;
	const char *fullname;
	long long max_size;
	size_t max_header;
	size_t flush_at;
	int undisclosed, keep_bare;
	const char *masquerade, *received;
	const char *warn_user, *warn_via;
	/* results */
	struct buf out;
	struct addr_list rcpts;
	int rc;
	size_t nuls, nsink;
	unsigned flags;
	enum sendmail_msg_error error;
};

/* The test sink: appends to a struct buf. */
static int
sink_cb(void *arg, const char *p, size_t len)
{
	struct run *r = arg;

	r->nsink++;
	return buf_add(&r->out, p, len);
}

/* Runs input through sendmail_msg in chunks of chunk bytes. */
static void
build(struct run *r, const char *in, size_t len, size_t chunk)
{
	struct sendmail_msg_params p;
	struct sendmail_msg m;
	size_t off = 0, used, nbad;
	const char *errstr;

	memset(&p, 0, sizeof(p));
	p.ignore_dots = r->ignore_dots;
	p.sender = r->sender != NULL ? r->sender : "me@example.org";
	p.fullname = r->fullname;
	p.domain = "example.org";
	p.hostname = "host.example.org";
	p.max_size = r->max_size;
	p.max_header = r->max_header;
	p.flush_at = r->flush_at;
	p.now = 1700000000;
	p.pid = 42;
	p.msgid_rand = 0x1234;
	p.sink = sink_cb;
	p.sink_arg = r;
	p.undisclosed = r->undisclosed;
	p.keep_bare = r->keep_bare;
	p.masquerade = r->masquerade;
	p.received = r->received;
	p.warn_user = r->warn_user;
	p.warn_via = r->warn_via;
	p.uid = 1000;
	buf_init(&r->out, 64 * 1024 * 1024);
	addr_list_init(&r->rcpts);
	r->nsink = 0;
	r->rc = -1;
	sendmail_msg_init(&m, &p);
	while (!sendmail_msg_headers_done(&m)) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (n == 0) {
			if (sendmail_msg_end_input(&m) == -1)
				goto out;
			break;
		}
		if (sendmail_msg_feed(&m, in + off, n, &used) == -1)
			goto out;
		off += used;
	}
	if (r->extract)
		(void)sendmail_msg_rcpts(&m, &r->rcpts, &nbad, &errstr);
	if (sendmail_msg_start_body(&m) == -1)
		goto out;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (sendmail_msg_feed(&m, in + off, n, &used) == -1)
			goto out;
		if (used != n)
			goto out; /* the body phase consumes everything */
		off += n;
	}
	if (sendmail_msg_end_input(&m) == -1 || sendmail_msg_finish(&m) == -1)
		goto out;
	r->rc = 0;
out:
	r->nuls = m.nuls;
	r->flags = sendmail_msg_flags(&m);
	r->error = m.error;
	sendmail_msg_free(&m);
}

/* Returns nonzero when s is valid wire form (libqueue's checker). */
static int
is_wire(const char *s, size_t len)
{
	struct queue_env_wire w;
	const char *errstr = NULL;

	queue_env_wire_init(&w);
	if (queue_env_wire_feed(&w, s, len, &errstr) == -1)
		return 0;
	return queue_env_wire_end(&w, &errstr) == 0;
}

/*
 * Runs input with chunk sizes 1, 2, 7 and all, checks they agree and
 * are wire form, and leaves the last result in r (caller frees).
 */
static const char *
msg(struct run *r, const char *in, size_t len)
{
	static const size_t chunks[] = { 1, 2, 7, 1 << 20 };
	char *first = NULL;
	size_t firstlen = 0;
	int same = 1;

	for (size_t i = 0; i < RQ_NELEM(chunks); i++) {
		if (i > 0) {
			buf_free(&r->out);
			addr_list_free(&r->rcpts);
		}
		build(r, in, len, chunks[i]);
		if (i == 0) {
			first = xmalloc(r->out.len + 1);
			if (r->out.len > 0)
				memcpy(first, r->out.data, r->out.len);
			firstlen = r->out.len;
		} else if (r->out.len != firstlen ||
		    (firstlen > 0 && memcmp(first, r->out.data, firstlen) != 0))
			same = 0;
	}
	free(first);
	if (!same)
		return "CHUNKING CHANGED THE RESULT";
	if (r->rc == 0 && !is_wire(r->out.data, r->out.len))
		return "NOT WIRE FORM";
	return r->rc == 0 ? r->out.data : "ERR";
}

/* Frees a run's results. */
static void
done(struct run *r)
{
	buf_free(&r->out);
	addr_list_free(&r->rcpts);
}

/* Runs a NUL-free input string with default settings. */
static const char *
msgs(struct run *r, const char *in)
{
	return msg(r, in, strlen(in));
}

/* Counts the occurrences of needle in hay. */
static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Line endings: LF, CRLF, CR CR LF, bare CR, missing final newline. */
static void
test_msg_lines(void)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	is_str(msgs(&r, H "Subject: s\n\nl1\nl2\n"),
	    HW "Subject: s\r\n\r\nl1\r\nl2\r\n", "LF becomes CRLF");
	done(&r);
	is_str(msgs(&r, H "Subject: s\r\n\r\nl1\r\nl2\r\n"),
	    HW "Subject: s\r\n\r\nl1\r\nl2\r\n", "CRLF kept");
	done(&r);
	is_str(msgs(&r, H "Subject: s\r\r\n\r\r\nl1\r\r\nl2\n"),
	    HW "Subject: s\r\n\r\nl1\r\nl2\r\n", "CR CR LF is one line end");
	done(&r);
	is_str(msgs(&r, H "\n10%\r20%\r\r30%\n"),
	    HW "\r\n10%\r\n20%\r\n30%\r\n", "bare CR in the body: line break");
	done(&r);
	is_str(msgs(&r, H "Subject: a\rb\n\nx\n"),
	    HW "Subject: a\r\n b\r\n\r\nx\r\n", "bare CR in a header: a fold");
	done(&r);
	is_str(msgs(&r, H "\nno newline"), HW "\r\nno newline\r\n",
	    "final newline added");
	done(&r);
	is_str(msgs(&r, H "\nends in CR\r"), HW "\r\nends in CR\r\n",
	    "final CR is a line end");
	done(&r);
	is_str(msgs(&r, H "\nmixed\r\nlf\ncrlf\r\n"),
	    HW "\r\nmixed\r\nlf\r\ncrlf\r\n", "mixed line ends");
	done(&r);
	r.flush_at = 16;
	is_str(msgs(&r, H "\nsmall flushes\nmore lines\nand more\n"),
	    HW "\r\nsmall flushes\r\nmore lines\r\nand more\r\n",
	    "many small sink calls give the same bytes");
	ok(r.nsink > 3, "the sink was called %zu times", r.nsink);
	done(&r);
	r.flush_at = 0;
}

/* The "." line, -i, and dot-stuffing. */
static void
test_msg_dots(void)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	is_str(msgs(&r, H "\nx\n.\ny\n"), HW "\r\nx\r\n",
	    "lone dot ends the input without -i");
	done(&r);
	is_str(msgs(&r, H "\nx\n.\r\ny\n"), HW "\r\nx\r\n",
	    "dot CRLF ends the input too");
	done(&r);
	is_str(msgs(&r, H "\nx\n."), HW "\r\nx\r\n",
	    "dot at EOF without newline ends it");
	done(&r);
	r.ignore_dots = 1;
	is_str(msgs(&r, H "\nx\n.\ny\n"), HW "\r\nx\r\n..\r\ny\r\n",
	    "with -i the dot is data, stuffed");
	done(&r);
	r.ignore_dots = 0;
	is_str(msgs(&r, H "\n.foo\n..bar\n"), HW "\r\n..foo\r\n...bar\r\n",
	    "leading dots stuffed, '..' not un-stuffed");
	done(&r);
	is_str(msgs(&r, H "\na\r.\n"), HW "\r\na\r\n..\r\n",
	    "a dot after a bare CR is data, stuffed");
	done(&r);
}

/* Headers added only when missing; From forms. */
static void
test_msg_added(void)
{
	struct run r;
	const char *out;

	memset(&r, 0, sizeof(r));
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strncmp(out, "Subject: s\r\nFrom: me@example.org\r\n", 33) == 0,
	    "From: added after the existing fields");
	ok(strstr(out, "\r\nDate: ") != NULL, "Date: added");
	ok(strstr(out, "\r\nMessage-ID: <") != NULL &&
		strstr(out, ".42.") != NULL &&
		strstr(out, "@host.example.org>\r\n") != NULL,
	    "Message-ID: <time.pid.random@hostname>");
	ok(strstr(out, " 2023 ") != NULL &&
		(strstr(out, " +") != NULL || strstr(out, " -") != NULL),
	    "Date has the year and a numeric zone");
	ok(strstr(out, "\r\n\r\nb\r\n") != NULL, "body after the fields");
	done(&r);

	out = msgs(&r,
	    "from: x@y.org\nDATE: whenever\nmessage-id: <a@b>\n"
	    "\nb\n");
	is_str(out,
	    "from: x@y.org\r\nDATE: whenever\r\nmessage-id: <a@b>\r\n"
	    "\r\nb\r\n",
	    "existing fields (any case) kept, none added");
	done(&r);

	r.fullname = "Cron Daemon";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out, "From: Cron Daemon <me@example.org>\r\n") != NULL,
	    "From with a full name");
	done(&r);
	r.fullname = "Doe, John \"JD\"";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out, "From: \"Doe, John \\\"JD\\\"\" <me@example.org>\r\n") !=
		NULL,
	    "full name with specials is a quoted-string");
	done(&r);
	r.fullname = "J\xc3\xb6rg";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out, "From: =?UTF-8?B?SsO2cmc=?= <me@example.org>\r\n") !=
		NULL,
	    "8-bit full name is an encoded-word");
	done(&r);
	r.fullname = NULL;
	r.sender = "";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out, "From: MAILER-DAEMON@example.org\r\n") != NULL,
	    "null sender: From MAILER-DAEMON");
	done(&r);
	r.sender = NULL;

	out = msgs(&r, "");
	ok(strncmp(out, "From: me@example.org\r\nDate: ", 28) == 0,
	    "empty input: added fields only");
	ok(strlen(out) > 4 && strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0,
	    "empty input: ends with the separator");
	done(&r);
	out = msgs(&r, "Subject: x\n.\nrest\n");
	ok(strncmp(out, "Subject: x\r\nFrom: ", 18) == 0 &&
		strstr(out, "rest") == NULL,
	    "a dot line inside the header ends the message");
	done(&r);
}

/* Bcc removal, -t extraction, the Resent- rule. */
static void
test_msg_rcpts(void)
{
	struct run r;
	const char *out;

	memset(&r, 0, sizeof(r));
	r.extract = 1;
	out = msgs(&r,
	    H "To: A <a@x.org>, b@y.org\nCc: c@z.org\n"
	      "Bcc: hidden@x.org,\n  also-hidden@x.org\n"
	      "Subject: s\n\nb\n");
	is_str(out,
	    HW "To: A <a@x.org>, b@y.org\r\nCc: c@z.org\r\n"
	       "Subject: s\r\n\r\nb\r\n",
	    "Bcc removed with its continuation line");
	is_int(r.rcpts.n, 5, "-t: To, Cc and Bcc recipients");
	ok(r.rcpts.n == 5 && strcmp(r.rcpts.v[4], "also-hidden@x.org") == 0,
	    "folded Bcc recipient extracted");
	done(&r);

	out = msgs(&r,
	    H "To: a@x.org\nResent-To: r@x.org\n"
	      "Resent-Bcc: rb@x.org\nBcc: b@x.org\n\nb\n");
	is_int(r.rcpts.n, 2, "Resent- recipients only");
	ok(r.rcpts.n == 2 && strcmp(r.rcpts.v[0], "r@x.org") == 0 &&
		strcmp(r.rcpts.v[1], "rb@x.org") == 0,
	    "Resent-To and Resent-Bcc");
	ok(strstr(out, "Bcc") == NULL, "Bcc and Resent-Bcc both removed");
	done(&r);

	out = msgs(&r, H "To: a@x.org\nResent-From: f@x.org\n\nb\n");
	is_int(r.rcpts.n, 1, "Resent-From alone does not switch to Resent-");
	done(&r);

	out = msgs(&r, H "To: undisclosed-recipients:;\n\nb\n");
	is_int(r.rcpts.n, 0, "empty group gives nothing");
	done(&r);

	out = msgs(&r,
	    H "To: root, @@, \"Doe, J\" <jd@x.org>\n"
	      "CC: root@example.org\n\nb\n");
	is_int(r.rcpts.n, 2, "junk skipped, bare qualified, dup removed");
	done(&r);

	r.extract = 0;
	out = msgs(&r, H "Bcc: x@y.org\n\nb\n");
	is_str(out, HW "\r\nb\r\n", "Bcc removed without -t too");
	done(&r);
}

/* Union of argv and -t recipients, as sendmail_submit does it. */
static void
test_msg_union(void)
{
	struct sendmail_msg_params p;
	struct sendmail_msg m;
	struct addr_list l;
	const char *in = "To: b@y.org, a@x.org\n\nbody\n", *errstr;
	size_t used, nbad;
	struct run r;

	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	p.sender = "s@x.org";
	p.domain = "example.org";
	p.hostname = "h.example.org";
	p.sink = sink_cb;
	p.sink_arg = &r;
	buf_init(&r.out, 1 << 20);
	addr_list_init(&l);
	(void)addr_list_add(&l, "a@X.ORG");
	sendmail_msg_init(&m, &p);
	ok(sendmail_msg_feed(&m, in, strlen(in), &used) == 0 &&
		sendmail_msg_headers_done(&m),
	    "header read");
	is_int(used, 22, "feed stopped after the empty line");
	is_int(sendmail_msg_rcpts(&m, &l, &nbad, &errstr), 1,
	    "one new header recipient");
	is_int(l.n, 2, "argv and header recipients merged");
	ok(sendmail_msg_start_body(&m) == 0 &&
		sendmail_msg_feed(&m, in + used, strlen(in) - used, &used) ==
		    0 &&
		sendmail_msg_end_input(&m) == 0 && sendmail_msg_finish(&m) == 0,
	    "body written");
	ok(strstr(r.out.data, "\r\n\r\nbody\r\n") != NULL, "body present");
	sendmail_msg_free(&m);
	addr_list_free(&l);
	buf_free(&r.out);
}

/* From_ line, NUL bytes, non-header first line, 8-bit. */
static void
test_msg_misc(void)
{
	struct run r;
	static const char nul[] = "Sub\0ject: x\n" H "\nb\0o\0dy\n";

	memset(&r, 0, sizeof(r));
	is_str(msgs(&r,
		   "From someone@x.org Mon Jan  1 00:00:00 2024\n" H "\nb\n"),
	    HW "\r\nb\r\n", "leading From_ line dropped");
	done(&r);
	is_str(msgs(&r, H "\nFrom me\n"), HW "\r\nFrom me\r\n",
	    "From_ in the body kept");
	done(&r);
	(void)msg(&r, nul, sizeof(nul) - 1);
	is_int(r.rc, -1, "a NUL byte fails the message");
	is_int(r.error, SENDMAIL_MSG_ERR_NUL, "error is SENDMAIL_MSG_ERR_NUL");
	done(&r);
	is_str(msgs(&r, H "this is not a header\nsecond\n"),
	    HW "\r\nthis is not a header\r\nsecond\r\n",
	    "a non-header line starts the body");
	done(&r);
	is_str(msgs(&r, H " leading space\n"), HW " leading space\r\n\r\n",
	    "a continuation line continues the last field");
	done(&r);
	ok(strstr(msgs(&r, ".hidden: x\n" H "\nb\n"),
	       "\r\n\r\n..hidden: x\r\nFrom: a@x.org\r\n") != NULL,
	    "a first line starting with '.' is body, stuffed");
	done(&r);
	is_int((msgs(&r, H "\nplain ascii\n"), r.flags), 0, "7-bit message");
	done(&r);
	is_int((msgs(&r, H "\nna\xc3\xafve\n"), r.flags), QUEUE_ENV_F_8BIT,
	    "8-bit body flagged");
	done(&r);
	is_int((msgs(&r, "Subject: caf\xc3\xa9\n" H "\nx\n"), r.flags),
	    QUEUE_ENV_F_8BIT, "8-bit header flagged");
	done(&r);
}

/* Returns the length of the longest line in s (CRLF excluded). */
static size_t
longest_line(const char *s)
{
	size_t best = 0;

	while (*s != '\0') {
		const char *e = strstr(s, "\r\n");
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);

		if (n > best)
			best = n;
		s += n + (e != NULL ? 2 : 0);
	}
	return best;
}

/* Appends a string to a test buffer (which is big enough). */
static void
adds(struct buf *b, const char *str)
{
	if (buf_adds(b, str) == -1)
		abort();
}

/* Appends n bytes to a test buffer (which is big enough). */
static void
addn(struct buf *b, const char *p, size_t n)
{
	if (buf_add(b, p, n) == -1)
		abort();
}

/* Fills b with n copies of c. */
static void
fill(struct buf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf_add(b, &c, 1) == -1)
			return;
}

/* Over-long lines in the body and in the header. */
/*
 * The body fast path (whole runs copied): pseudo-random lines of 0-2,500
 * octets, some starting with '.', ended by LF or CRLF, against a model of
 * the rules (pieces of at most 998, each dot-stuffed, CRLF), in chunks of
 * 1, 2, 7 and all (msg()) and 4096 bytes, so CR, LF and dots fall on
 * every kind of read boundary.  Then 8-bit bytes and a NUL deep inside
 * long runs.
 */
static void
test_msg_fast(void)
{
	struct run r;
	struct buf in, want;
	unsigned x = 4242;
	size_t i, pos[] = { 0, 7, 8, 500, 997, 998, 1999 };
	int bad = 0;

	memset(&r, 0, sizeof(r));
	buf_init(&in, 1 << 22);
	buf_init(&want, 1 << 22);
	adds(&in, H "\n");
	adds(&want, HW "\r\n");
	for (int line = 0; line < 300; line++) {
		size_t len, done_len = 0;

		x = x * 1103515245U + 12345U;
		len = (x >> 8) % 2501;
		if (line % 5 == 0)
			len = (x >> 8) % 40;
		for (i = 0; i < len; i++)
			addn(&in,
			    i == 0 && (x & 0x10000) ? "." : &"abcxyz "[i % 7],
			    1);
		adds(&in, (x & 0x20000) ? "\r\n" : "\n");
		do {
			size_t n = len - done_len < 998 ? len - done_len : 998;
			const char *piece = in.data + in.len - len -
			    ((x & 0x20000) ? 2 : 1) + done_len;

			if (n > 0 && piece[0] == '.')
				adds(&want, ".");
			addn(&want, piece, n);
			adds(&want, "\r\n");
			done_len += n;
		} while (done_len < len);
	}
	addn(&in, "", 1);
	addn(&want, "", 1);
	r.ignore_dots = 1;
	is_str(msg(&r, in.data, in.len - 1), want.data,
	    "fast path: 300 random lines, chunks 1, 2, 7 and all");
	done(&r);
	build(&r, in.data, in.len - 1, 4096);
	ok(r.rc == 0 && r.out.len == want.len - 1 &&
		memcmp(r.out.data, want.data, r.out.len) == 0,
	    "fast path: the same in 4096-byte reads");
	done(&r);
	r.ignore_dots = 0;

	for (i = 0; i < RQ_NELEM(pos); i++) {
		buf_reset(&in);
		adds(&in, H "\n");
		fill(&in, 'a', 2000);
		in.data[in.len - 2000 + pos[i]] = (char)0xe9;
		adds(&in, "\n");
		(void)msgs(&r, in.data);
		if (r.rc != 0 || !(r.flags & QUEUE_ENV_F_8BIT))
			bad++;
		done(&r);
	}
	is_int(bad, 0, "fast path: an 8-bit byte anywhere in a line is seen");
	buf_reset(&in);
	adds(&in, H "\n");
	fill(&in, 'a', 1500);
	addn(&in, "\0", 1);
	fill(&in, 'a', 100);
	adds(&in, "\n");
	(void)msg(&r, in.data, in.len);
	ok(r.rc == -1 && r.error == SENDMAIL_MSG_ERR_NUL,
	    "fast path: a NUL after 1500 octets of a line fails the message");
	done(&r);
	buf_free(&in);
	buf_free(&want);
}

static void
test_msg_long(void)
{
	struct run r;
	struct buf in, want;
	const char *out;

	memset(&r, 0, sizeof(r));
	buf_init(&in, 1 << 20);
	buf_init(&want, 1 << 20);

	/* Body: 2500 octets become 998 + 998 + 504. */
	adds(&in, H "\n");
	fill(&in, 'a', 2500);
	adds(&in, "\n");
	adds(&want, HW "\r\n");
	fill(&want, 'a', 998);
	adds(&want, "\r\n");
	fill(&want, 'a', 998);
	adds(&want, "\r\n");
	fill(&want, 'a', 504);
	adds(&want, "\r\n");
	is_str(msgs(&r, in.data), want.data, "long body line broken at 998");
	done(&r);

	/* A break that leaves a leading dot: stuffed. */
	buf_reset(&in);
	buf_reset(&want);
	adds(&in, H "\n");
	fill(&in, 'b', 998);
	adds(&in, ".tail\n");
	adds(&want, HW "\r\n");
	fill(&want, 'b', 998);
	adds(&want, "\r\n..tail\r\n");
	is_str(msgs(&r, in.data), want.data, "piece starting with '.' stuffed");
	done(&r);

	/* A 998-octet line is not touched. */
	buf_reset(&in);
	adds(&in, H "\n");
	fill(&in, 'c', 998);
	adds(&in, "\n");
	out = msgs(&r, in.data);
	is_int(longest_line(out), 998, "998 octets kept whole");
	is_int(count(out, "\r\n"), 5, "no extra break");
	done(&r);

	/* Header without white space: CRLF SP inserted. */
	buf_reset(&in);
	buf_reset(&want);
	adds(&in, H "X-Long: ");
	fill(&in, 'x', 1200);
	adds(&in, "\n\nb\n");
	adds(&want, HW "X-Long: ");
	fill(&want, 'x', 990);
	adds(&want, "\r\n ");
	fill(&want, 'x', 210);
	adds(&want, "\r\n\r\nb\r\n");
	is_str(msgs(&r, in.data), want.data, "long header broken with CRLF SP");
	done(&r);

	/* Header with words: folded before white space, nothing lost. */
	buf_reset(&in);
	adds(&in, H "Subject:");
	for (int i = 0; i < 400; i++)
		adds(&in, " word");
	adds(&in, "\n\nb\n");
	out = msgs(&r, in.data);
	ok(longest_line(out) <= 998, "folded header lines fit (%zu)",
	    longest_line(out));
	is_int(count(out, " word"), 400, "every word kept");
	ok(strstr(out, "\r\n word") != NULL, "folded at a space");
	ok(strstr(out, "wor\r\n") == NULL, "no word cut");
	done(&r);

	/* 3000 octets of header without white space: 3 folds. */
	buf_reset(&in);
	adds(&in, H "X-Very-Long: ");
	fill(&in, 'y', 3000);
	adds(&in, "\n\nb\n");
	out = msgs(&r, in.data);
	ok(longest_line(out) <= 998, "every header line fits");
	is_int(count(out, "\r\n y"), 3, "three CRLF SP breaks");
	done(&r);

	buf_free(&in);
	buf_free(&want);
}

/* Size limit, header limit, hop count. */
static void
test_msg_limits(void)
{
	struct run r;
	struct buf in;

	memset(&r, 0, sizeof(r));
	buf_init(&in, 1 << 20);
	adds(&in, H "\n");
	for (int i = 0; i < 100; i++)
		adds(&in, "0123456789012345678901234567890123456789\n");
	r.max_size = 2048;
	is_str(msgs(&r, in.data), "ERR", "over max_size refused");
	is_int(r.error, SENDMAIL_MSG_ERR_SIZE, "size error");
	is_int(r.nsink, 0, "nothing reached the sink");
	done(&r);
	r.max_size = 1 << 20;
	ok(strcmp(msgs(&r, in.data), "ERR") != 0, "under max_size accepted");
	done(&r);
	r.max_size = 0;

	buf_reset(&in);
	for (int i = 0; i < 200; i++)
		adds(&in, "X-Filler: 0123456789012345678901234567\n");
	adds(&in, "\nb\n");
	r.max_header = 4096;
	is_str(msgs(&r, in.data), "ERR", "header section too large");
	is_int(r.error, SENDMAIL_MSG_ERR_HEADER, "header error");
	done(&r);
	r.max_header = 0;

	buf_reset(&in);
	for (int i = 0; i < 51; i++)
		adds(&in, "Received: from a by b; date\n");
	adds(&in, H "\nb\n");
	is_str(msgs(&r, in.data), "ERR", "51 Received: fields refused");
	is_int(r.error, SENDMAIL_MSG_ERR_LOOP, "loop error");
	done(&r);
	buf_reset(&in);
	for (int i = 0; i < 50; i++)
		adds(&in, "Received: from a by b; date\n");
	adds(&in, H "\nb\n");
	ok(strcmp(msgs(&r, in.data), "ERR") != 0, "50 Received: accepted");
	done(&r);
	buf_free(&in);
}

/* Runs every group of tests. */
/* Header rewriting: default_domain, masquerade, undisclosed, Received. */
static void
test_msg_rewrite(void)
{
	struct run r;
	const char *out;

	memset(&r, 0, sizeof(r));
	out = msgs(&r,
	    "From: root (Cron Daemon)\nTo: alice, Bob <bob>\n"
	    "Cc: x@y.org\nReply-To: admin\nSubject: s\n\nb\n");
	ok(strstr(out, "From: root@example.org (Cron Daemon)\r\n") != NULL,
	    "bare From qualified, comment kept");
	ok(strstr(out, "To: alice@example.org, Bob <bob@example.org>\r\n") !=
		NULL,
	    "bare To members qualified");
	ok(strstr(out, "Cc: x@y.org\r\n") != NULL, "qualified Cc untouched");
	ok(strstr(out, "Reply-To: admin\r\n") != NULL,
	    "other fields never rewritten");
	done(&r);

	out = msgs(&r, "From: Logwatch\nTo: a@b.org,\n  c\n\nb\n");
	ok(strstr(out, "From: Logwatch@example.org\r\n") != NULL,
	    "logwatch's bare From qualified");
	ok(strstr(out, "To: a@b.org,\r\n  c@example.org\r\n") != NULL,
	    "folded To qualified, fold kept");
	done(&r);

	r.masquerade = "corp.example";
	out = msgs(&r, "From: root (Cron Daemon)\nTo: root\n\nb\n");
	ok(strstr(out, "From: Cron Daemon <root@corp.example>\r\n") != NULL,
	    "masquerade: cron From becomes Name <addr>");
	ok(strstr(out, "To: root@example.org\r\n") != NULL,
	    "masquerade leaves To to default_domain");
	done(&r);
	out = msgs(&r, "From: \"Doe, J\" <jd@host.example.org>\n\nb\n");
	ok(strstr(out, "From: \"Doe, J\" <jd@corp.example>\r\n") != NULL,
	    "masquerade: @hostname sender rewritten, name quoted");
	done(&r);
	out = msgs(&r, "From: mdadm monitoring <root@localhost>\n\nb\n");
	ok(strstr(out, "From: mdadm monitoring <root@corp.example>\r\n") !=
		NULL,
	    "masquerade: @localhost rewritten");
	done(&r);
	out = msgs(&r, "From: Ann <ann@other.org>\n\nb\n");
	ok(strstr(out, "From: Ann <ann@other.org>\r\n") != NULL,
	    "masquerade: remote From untouched");
	done(&r);
	r.masquerade = NULL;

	r.undisclosed = 1;
	out = msgs(&r, H "Subject: s\n\nb\n");
	ok(strstr(out, "To: undisclosed-recipients:;\r\n") != NULL,
	    "no To/Cc: undisclosed-recipients added");
	done(&r);
	out = msgs(&r, H "Cc: c@x.org\n\nb\n");
	ok(strstr(out, "undisclosed") == NULL, "Cc alone is enough");
	done(&r);
	out = msgs(&r, H "Bcc: c@x.org\n\nb\n");
	ok(strstr(out, "To: undisclosed-recipients:;\r\n") != NULL &&
		strstr(out, "Bcc") == NULL,
	    "Bcc only: removed, undisclosed added");
	done(&r);
	r.undisclosed = 0;

	r.received = "local";
	out = msgs(&r, H "\nb\n");
	ok(strncmp(out,
	       "Received: by host.example.org (relayq, from userid "
	       "1000)\r\n\twith local; ",
	       64) == 0,
	    "Received: first");
	done(&r);
	r.received = NULL;

	out = msgs(&r, H "To: j\xc3\xb6rg@example.org\n\nb\n");
	ok(r.flags & QUEUE_ENV_F_SMTPUTF8, "UTF-8 address in To: SMTPUTF8");
	done(&r);
	out = msgs(&r,
	    H "To: J\xc3\xb6rg <j@example.org>\n"
	      "Subject: \xc3\xa9t\xc3\xa9\n\nb\n");
	ok(!(r.flags & QUEUE_ENV_F_SMTPUTF8) && (r.flags & QUEUE_ENV_F_8BIT),
	    "UTF-8 names and Subject: 8BITMIME only");
	done(&r);
	out = msgs(&r, H "Bcc: z@\xc3\xa9.example\n\nb\n");
	ok(r.flags & QUEUE_ENV_F_SMTPUTF8, "UTF-8 address in Bcc: SMTPUTF8");
	done(&r);

	r.extract = 1;
	r.keep_bare = 1;
	out = msgs(&r, H "To: root, a@b.org\n\nb\n");
	is_int(r.rcpts.n, 2, "-t with keep_bare: two recipients");
	is_str(r.rcpts.n > 0 ? r.rcpts.v[0] : "", "root",
	    "bare recipient left for aliases");
	done(&r);
}

/*
 * X-Authentication-Warning: right after Received:, one line whatever the
 * user name or the sender hold, bounded.
 */
static void
test_msg_auth_warning(void)
{
	struct run r;
	const char *out;
	char longaddr[400];

	memset(&r, 0, sizeof(r));
	r.received = "local";
	r.sender = "boss@example.com";
	r.warn_user = "alice";
	r.warn_via = "-f";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out,
	       "\r\nX-Authentication-Warning: host.example.org: "
	       "alice set sender to boss@example.com using -f\r\n"
	       "Subject: s\r\n") != NULL,
	    "the warning follows Received: and precedes the fields");
	is_int(count(out, "X-Authentication-Warning"), 1, "once");
	done(&r);
	r.warn_user = "ev\r\nBcc: x@y\r\n il";
	r.sender = "a@b\r\nBcc: z@y";
	out = msgs(&r, "From: x@y\nSubject: s\n\nb\n");
	ok(strstr(out,
	       "X-Authentication-Warning: host.example.org: evBcc xy "
	       "il set sender to (invalid address) using -f\r\n") != NULL,
	    "CR/LF in the user name or the sender cannot start a field");
	ok(strstr(out, "\nBcc") == NULL, "no Bcc field made");
	done(&r);
	memset(longaddr, 'l', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	r.sender = longaddr;
	r.warn_user = "bob";
	out = msgs(&r, "Subject: s\n\nb\n");
	ok(strstr(out, "X-Authentication-Warning: ") != NULL &&
		longest_line(out) <= 998,
	    "a long sender keeps the line under 998 octets (%zu)",
	    longest_line(out));
	done(&r);
	r.sender = NULL;
	r.warn_user = NULL;
	out = msgs(&r, "Subject: s\n\nb\n");
	is_int(count(out, "X-Authentication-Warning"), 0,
	    "no warning unless asked");
	done(&r);
}

int
main(void)
{
	test_args_values();
	test_args_flags();
	test_args_modes();
	test_msg_lines();
	test_msg_dots();
	test_msg_added();
	test_msg_auth_warning();
	test_msg_rcpts();
	test_msg_union();
	test_msg_misc();
	test_msg_long();
	test_msg_fast();
	test_msg_limits();
	test_msg_rewrite();
	return done_testing();
}
