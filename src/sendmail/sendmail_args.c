/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Option parsing for the sendmail front end.  The loop is hand-written
 * because sendmail's syntax is not getopt's: "-q" takes an optional
 * attached value, "-o" and "-b" carry their sub-option in the same
 * word, and "-ti" groups two flags.  Rules, from sendmail-cli.md:
 *
 *  - options come first; the first word that does not start with '-'
 *    (or the word after "--") starts the recipients;
 *  - a recipient may start with '-' only after "--";
 *  - -f -r -F -B -N -R -V -h -L -C -X -O -p -A -e take a value, attached
 *    ("-fuser") or in the next word ("-f user");
 *  - only t, i and v may be grouped ("-ti", "-it", "-tv");
 *  - accepted-and-ignored options are remembered for -v; refused ones
 *    and anything unknown fail with "unsupported option" (EX_USAGE);
 *  - a repeated -f/-r is counted, and the last value wins;
 *  - -X's file is never opened, -C's only by the caller after dropping
 *    privilege.
 *
 * Conflicts checked at the end (as Postfix does): -t outside delivery
 * mode; recipients with -bp, -bi, -bs or -q; no recipients for -bm
 * without -t, or for -bv.
 */
#include "config.h"

#include "sendmail/sendmail_args.h"

#include <string.h>
#include <strings.h>

#include "common/compat.h"

/* Resets o to the defaults for invocation name name. */
static void
sendmail_args_init(struct sendmail_opts *o, const char *name)
{
	memset(o, 0, sizeof(*o));
	o->progname = name;
	o->mode = SENDMAIL_MODE_DELIVER;
	o->body = SENDMAIL_BODY_UNSET;
}

/* Returns the last path component of s. */
static const char *
sendmail_args_basename(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return "sendmail";
	if ((p = strrchr(s, '/')) != NULL && p[1] != '\0')
		return p + 1;
	return s;
}

/* Applies the behaviour implied by the invocation name. */
static int
sendmail_args_name(struct sendmail_opts *o, struct rq_err *err)
{
	static const char *refused[] = { "hoststat", "purgestat", "smtpd",
		"rsmtp" };

	if (strcmp(o->progname, "mailq") == 0)
		o->mode = SENDMAIL_MODE_LIST;
	else if (strcmp(o->progname, "newaliases") == 0)
		o->mode = SENDMAIL_MODE_ALIASES;
	else if (strcmp(o->progname, "runq") == 0)
		o->mode = SENDMAIL_MODE_QUEUE_RUN;
	else if (strcmp(o->progname, "rmail") == 0)
		o->ignore_dots = 1;
	for (size_t i = 0; i < RQ_NELEM(refused); i++) {
		if (strcmp(o->progname, refused[i]) == 0) {
			rq_err_set(err, "%s is not supported by relayq",
			    refused[i]);
			return -1;
		}
	}
	return 0;
}

/* Records an accepted-and-ignored option for -v. */
static void
sendmail_args_ignore(struct sendmail_opts *o, const char *arg)
{
	if (o->nignored < SENDMAIL_ARGS_IGNORED_MAX)
		o->ignored[o->nignored++] = arg;
}

/* Fills err with the standard message for an unsupported option. */
static int
sendmail_args_unsupported(const char *arg, struct rq_err *err)
{
	rq_err_set(err, "unsupported option %.64s", arg);
	return -1;
}

/*
 * Takes an option's value: the rest of argv[*i] after the letter, or
 * the next word.  Returns 0, or -1 with err when there is none.
 */
static int
sendmail_args_value(int argc, const char *const argv[], int *i,
    const char **val, struct rq_err *err)
{
	if (argv[*i][2] != '\0') {
		*val = argv[*i] + 2;
		return 0;
	}
	if (*i + 1 >= argc) {
		rq_err_set(err, "option -%c requires a value", argv[*i][1]);
		return -1;
	}
	*val = argv[++*i];
	return 0;
}

/* Parses a sendmail boolean: "" or t/y... is true, f/n... false. */
static int
sendmail_args_bool(const char *v, int *out)
{
	if (*v == '\0' || strchr("tTyY", *v) != NULL)
		*out = 1;
	else if (strchr("fFnN", *v) != NULL)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Parses -N: "never", or a list of success, failure and delay. */
static int
sendmail_args_notify(const char *v, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{ "never", SENDMAIL_DSN_NEVER },
		{ "success", SENDMAIL_DSN_SUCCESS },
		{ "failure", SENDMAIL_DSN_FAILURE },
		{ "delay", SENDMAIL_DSN_DELAY },
	};
	unsigned bits = 0;

	for (;;) {
		size_t len = strcspn(v, ","), k;

		for (k = 0; k < RQ_NELEM(words); k++)
			if (len == strlen(words[k].name) &&
			    strncasecmp(v, words[k].name, len) == 0)
				break;
		if (k == RQ_NELEM(words))
			return -1;
		bits |= words[k].bit;
		if (v[len] == '\0')
			break;
		v += len + 1;
	}
	if ((bits & SENDMAIL_DSN_NEVER) && bits != SENDMAIL_DSN_NEVER)
		return -1;
	*out = bits;
	return 0;
}

/* Checks an RFC 3461 ENVID: 1 to 100 printable US-ASCII characters. */
static int
sendmail_args_envid(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len > 100)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return -1;
	return 0;
}

/* Handles -b<mode>. */
static int
sendmail_args_b(struct sendmail_opts *o, const char *arg, struct rq_err *err)
{
	const char *m = arg + 2;

	if (m[0] == '\0' || m[1] != '\0')
		return sendmail_args_unsupported(arg, err);
	switch (m[0]) {
	case 'm':
		o->mode = SENDMAIL_MODE_DELIVER;
		return 0;
	case 's':
		o->mode = SENDMAIL_MODE_SMTP;
		return 0;
	case 'p':
		o->mode = SENDMAIL_MODE_LIST;
		return 0;
	case 'i':
		o->mode = SENDMAIL_MODE_ALIASES;
		return 0;
	case 'v':
		o->mode = SENDMAIL_MODE_VERIFY;
		return 0;
	case 'h':
	case 'H':
		o->mode = SENDMAIL_MODE_NOOP;
		sendmail_args_ignore(o, arg);
		return 0;
	case 'd':
	case 'D':
	case 'l':
		rq_err_set(err,
		    "daemon mode is not provided by sendmail; "
		    "start relayqd");
		return -1;
	default:
		return sendmail_args_unsupported(arg, err);
	}
}

/* Handles -q, -qf, -q<time>, -qR<s>, -qS<s>, -qI<s>. */
static int
sendmail_args_q(struct sendmail_opts *o, const char *arg, struct rq_err *err)
{
	const char *v = arg + 2;

	if (*v == '\0' || strcmp(v, "f") == 0) {
		o->mode = SENDMAIL_MODE_QUEUE_RUN;
		return 0;
	}
	if (*v >= '0' && *v <= '9') {
		/* Periodic queue runs are relayqd's job. */
		o->mode = SENDMAIL_MODE_NOOP;
		sendmail_args_ignore(o, arg);
		return 0;
	}
	if (*v == 'R' || *v == 'S' || *v == 'I') {
		if (v[1] == '\0') {
			rq_err_set(err, "option -q%c requires a value", *v);
			return -1;
		}
		o->mode = SENDMAIL_MODE_QUEUE_RUN;
		o->qrun_kind = *v;
		o->qrun_match = v + 1;
		return 0;
	}
	return sendmail_args_unsupported(arg, err);
}

/*
 * Handles one -o option: the word after "-o" (text), with argv and *i for
 * the few Exim forms that take the next word.
 */
static int
sendmail_args_o(struct sendmail_opts *o, const char *text, int argc,
    const char *const argv[], int *i, struct rq_err *err)
{
	switch (text[0]) {
	case 'i':
		if (sendmail_args_bool(text + 1, &o->ignore_dots) == -1) {
			rq_err_set(err, "invalid value for -oi: %.32s",
			    text + 1);
			return -1;
		}
		return 0;
	case 'd':
		if (text[1] == 'q' || text[1] == 'd')
			o->queue_only = 1;
		else if (text[1] == 'b' || text[1] == 'i' || text[1] == 'f')
			o->queue_only = 0;
		else
			sendmail_args_ignore(o, argv[*i]);
		return 0;
	case 'A':
	case 'M':
		/* Exim: "-oA file", "-oMr proto" take the next word. */
		if ((text[0] == 'M' || text[1] == '\0') &&
		    text == argv[*i] + 2) {
			if (*i + 1 >= argc) {
				rq_err_set(err,
				    "option -o%.8s requires a value", text);
				return -1;
			}
			sendmail_args_ignore(o, argv[*i]);
			++*i;
			return 0;
		}
		sendmail_args_ignore(o, argv[*i]);
		return 0;
	default:
		/* -oe*, -om, -o7, -o8, -oo, -os and the rest. */
		sendmail_args_ignore(o, argv[*i]);
		return 0;
	}
}

/* Handles -O Name=value: DeliveryMode and IgnoreDots, the rest ignored. */
static int
sendmail_args_O(struct sendmail_opts *o, const char *opt, struct rq_err *err)
{
	size_t nlen = strcspn(opt, "=");
	const char *val = opt[nlen] == '=' ? opt + nlen + 1 : "";

	if (nlen == strlen("DeliveryMode") &&
	    strncasecmp(opt, "DeliveryMode", nlen) == 0) {
		if (*val == 'q' || *val == 'd')
			o->queue_only = 1;
		else if (*val == 'b' || *val == 'i' || *val == 'f')
			o->queue_only = 0;
		return 0;
	}
	if (nlen == strlen("IgnoreDots") &&
	    strncasecmp(opt, "IgnoreDots", nlen) == 0) {
		if (sendmail_args_bool(val, &o->ignore_dots) == -1) {
			rq_err_set(err, "invalid value for IgnoreDots: %.32s",
			    val);
			return -1;
		}
		return 0;
	}
	sendmail_args_ignore(o, opt);
	return 0;
}

/* Handles the options that take a value (attached or separate). */
static int
sendmail_args_valued(struct sendmail_opts *o, int argc,
    const char *const argv[], int *i, struct rq_err *err)
{
	char c = argv[*i][1];
	const char *v;

	if (c == 'X' && strcmp(argv[*i], "-XV") == 0) {
		rq_err_set(err, "-XV (VERP) is not supported");
		return -1;
	}
	if (sendmail_args_value(argc, argv, i, &v, err) == -1)
		return -1;
	switch (c) {
	case 'f':
	case 'r':
		o->sender = v;
		o->nsender++;
		return 0;
	case 'F':
		o->fullname = v;
		return 0;
	case 'C':
		o->config = v;
		return 0;
	case 'B':
		if (strcasecmp(v, "7BIT") == 0)
			o->body = SENDMAIL_BODY_7BIT;
		else if (strcasecmp(v, "8BITMIME") == 0)
			o->body = SENDMAIL_BODY_8BITMIME;
		else {
			rq_err_set(err,
			    "-B must be 7BIT or 8BITMIME, not %.32s", v);
			return -1;
		}
		return 0;
	case 'N':
		if (sendmail_args_notify(v, &o->dsn_notify) == -1) {
			rq_err_set(err,
			    "-N must be never or a list of success, failure "
			    "and delay, not %.32s",
			    v);
			return -1;
		}
		return 0;
	case 'R':
		if (strcasecmp(v, "full") != 0 && strcasecmp(v, "hdrs") != 0) {
			rq_err_set(err, "-R must be full or hdrs, not %.32s",
			    v);
			return -1;
		}
		o->dsn_ret = v;
		return 0;
	case 'V':
		if (sendmail_args_envid(v) == -1) {
			rq_err_set(err,
			    "-V must be 1 to 100 printable ASCII "
			    "characters");
			return -1;
		}
		o->dsn_envid = v;
		return 0;
	case 'O':
		return sendmail_args_O(o, v, err);
	case 'o':
		return sendmail_args_o(o, v, argc, argv, i, err);
	default:
		/* -h, -L, -X (never opened), -p, -A, -e. */
		sendmail_args_ignore(o, argv[*i]);
		return 0;
	}
}

/* Handles one option word argv[*i]; may consume the next word too. */
static int
sendmail_args_option(struct sendmail_opts *o, int argc,
    const char *const argv[], int *i, struct rq_err *err)
{
	const char *arg = argv[*i];

	if (arg[1] == '-') {
		if (strcmp(arg, "--version") == 0)
			o->mode = SENDMAIL_MODE_VERSION;
		else if (strcmp(arg, "--help") == 0)
			o->mode = SENDMAIL_MODE_HELP;
		else if (strcmp(arg, "--print-queue-id") == 0)
			o->print_id = 1; /* private: for relayq send */
		else
			return sendmail_args_unsupported(arg, err);
		return 0;
	}
	if (strspn(arg + 1, "tiv") == strlen(arg + 1)) {
		for (const char *p = arg + 1; *p != '\0'; p++) {
			if (*p == 't')
				o->extract = 1;
			else if (*p == 'i')
				o->ignore_dots = 1;
			else
				o->verbose++;
		}
		return 0;
	}
	switch (arg[1]) {
	case 'b':
		return sendmail_args_b(o, arg, err);
	case 'q':
		return sendmail_args_q(o, arg, err);
	case 'I':
		if (arg[2] != '\0')
			return sendmail_args_unsupported(arg, err);
		o->mode = SENDMAIL_MODE_ALIASES;
		return 0;
	case 'f':
	case 'r':
	case 'F':
	case 'B':
	case 'N':
	case 'R':
	case 'V':
	case 'h':
	case 'L':
	case 'C':
	case 'X':
	case 'O':
	case 'o':
	case 'p':
	case 'A':
	case 'e':
		return sendmail_args_valued(o, argc, argv, i, err);
	case 'T':
		/* Old Sendmail "-T<timeout>". */
		sendmail_args_ignore(o, arg);
		return 0;
	case 'U':
	case 'G':
	case 'm':
	case 'n':
	case 'x':
	case 'c':
	case 's':
		if (arg[2] != '\0')
			return sendmail_args_unsupported(arg, err);
		sendmail_args_ignore(o, arg);
		return 0;
	default:
		/* Includes -d, -D, -M..., -Q, -bt: all refused. */
		return sendmail_args_unsupported(arg, err);
	}
}

/*
 * Refuses a recipient not after "--" that starts with '-': such a word
 * is an option in the wrong place (a caller that builds "sendmail $to
 * $opt"), not an address.  After "--" every word is a recipient, as with
 * Postfix; relayq never passes an address to a command line, so a
 * leading '-' is harmless there.  (addr_parse_sender() refuses a sender
 * starting with '-'.)
 */
static int
sendmail_args_dashes(const struct sendmail_opts *o, int dashdash,
    struct rq_err *err)
{
	for (int i = 0; !dashdash && i < o->nrcpts; i++) {
		if (o->rcpts[i][0] == '-') {
			rq_err_set(err,
			    "recipient %.64s starts with '-' (an option "
			    "after the recipients?); put such a recipient "
			    "after \"--\"",
			    o->rcpts[i]);
			return -1;
		}
	}
	return 0;
}

/* Checks the combination of mode, -t and recipients. */
static int
sendmail_args_check(const struct sendmail_opts *o, struct rq_err *err)
{
	if (o->extract && o->mode != SENDMAIL_MODE_DELIVER &&
	    o->mode != SENDMAIL_MODE_VERSION && o->mode != SENDMAIL_MODE_HELP) {
		rq_err_set(err, "-t can only be used when sending mail (-bm)");
		return -1;
	}
	switch (o->mode) {
	case SENDMAIL_MODE_DELIVER:
		if (o->nrcpts == 0 && !o->extract) {
			rq_err_set(err,
			    "recipient addresses must be specified "
			    "on the command line or via the -t "
			    "option");
			return -1;
		}
		return 0;
	case SENDMAIL_MODE_VERIFY:
		if (o->nrcpts == 0) {
			rq_err_set(err,
			    "recipient addresses must be specified");
			return -1;
		}
		return 0;
	case SENDMAIL_MODE_LIST:
	case SENDMAIL_MODE_ALIASES:
	case SENDMAIL_MODE_SMTP:
	case SENDMAIL_MODE_QUEUE_RUN:
	case SENDMAIL_MODE_NOOP:
		if (o->nrcpts > 0) {
			rq_err_set(err, "%s mode requires no recipient",
			    sendmail_args_mode_name(o->mode));
			return -1;
		}
		return 0;
	case SENDMAIL_MODE_VERSION:
	case SENDMAIL_MODE_HELP:
		return 0;
	}
	return 0;
}

/* Parses the command line. */
int
sendmail_args_parse(struct sendmail_opts *o, int argc, const char *const argv[],
    struct rq_err *err)
{
	int i, dashdash = 0;

	err->msg[0] = '\0';
	sendmail_args_init(o,
	    sendmail_args_basename(argc > 0 ? argv[0] : NULL));
	if (sendmail_args_name(o, err) == -1)
		return -1;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "--") == 0) {
			i++;
			dashdash = 1;
			break;
		}
		if (sendmail_args_option(o, argc, argv, &i, err) == -1)
			return -1;
	}
	o->rcpts = argv + i;
	o->nrcpts = argc - i;
	if (sendmail_args_dashes(o, dashdash, err) == -1)
		return -1;
	return sendmail_args_check(o, err);
}

/* Returns a printable name for a mode. */
const char *
sendmail_args_mode_name(enum sendmail_mode m)
{
	switch (m) {
	case SENDMAIL_MODE_DELIVER:
		return "delivery (-bm)";
	case SENDMAIL_MODE_LIST:
		return "queue listing (-bp)";
	case SENDMAIL_MODE_ALIASES:
		return "alias database (-bi)";
	case SENDMAIL_MODE_VERIFY:
		return "address verification (-bv)";
	case SENDMAIL_MODE_SMTP:
		return "SMTP (-bs)";
	case SENDMAIL_MODE_QUEUE_RUN:
		return "queue run (-q)";
	case SENDMAIL_MODE_NOOP:
		return "ignored";
	case SENDMAIL_MODE_VERSION:
		return "version";
	case SENDMAIL_MODE_HELP:
		return "help";
	}
	return "unknown";
}
