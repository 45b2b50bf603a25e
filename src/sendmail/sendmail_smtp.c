/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The -bs server.  Commands: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
 * QUIT; VRFY, EXPN and everything else get 502.  EHLO offers
 * PIPELINING, SIZE (max_message_size), 8BITMIME, SMTPUTF8, DSN and
 * ENHANCEDSTATUSCODES.  Input lines may end in CRLF or LF.
 *
 * Decisions:
 *  - a recipient is accepted only when the message could be queued for
 *    it: it parses (RFC 5322, bare local parts allowed), it passes the
 *    queue's own checks after aliases and default_domain, and the count
 *    stays within max_recipients (452 4.5.3 beyond);
 *  - MAIL FROM sets the envelope sender when allow_from_override is on
 *    (or the caller is root); otherwise the caller's login address is
 *    used, as for -f;
 *  - DATA is un-dot-stuffed here and ends at a line "." (CRLF or LF);
 *    the bytes then go through the same sendmail_msg/sendmail_submit
 *    path as -bm with -i, so headers, limits, NUL and long-line rules
 *    are identical; a message refused for its content is read to its
 *    end before the reply (552 size, 554 content, 451 spool);
 *  - replies are buffered and flushed whenever the input buffer runs
 *    dry, which is what RFC 2920 PIPELINING needs;
 *  - 100 errors in a session end it with 421.
 */
#include "config.h"

#include "sendmail/sendmail_smtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/dsn.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_spool.h"
#include "sendmail/sendmail_msg.h"
#include "sendmail/sendmail_submit.h"

/* Longest command line read (DSN parameters make MAIL/RCPT long). */
#define SMTPD_LINE_MAX 2048
#define SMTPD_ERRORS_MAX 100

struct smtpd_in {
	int fd;
	FILE *out; /* flushed before every blocking read */
	volatile sig_atomic_t *stop;
	char buf[16384];
	size_t off, len;
	int eof;
	/* DATA state */
	int bol;      /* at the start of a data line */
	int dot;      /* saw '.' at the start of a line */
	int dotcr;    /* saw ".\r" at the start of a line */
	int data_end; /* the final "." line was read */
};

struct smtpd_txn {
	int active; /* MAIL accepted */
	char *sender;
	struct addr_list rcpts;
	unsigned *notify; /* per recipient */
	char **orcpt;	  /* per recipient, owned strings or NULL */
	size_t cap;
	char *ret, *envid;
};

struct smtpd {
	const struct sendmail_smtp_params *p;
	struct queue_spool sp;
	struct smtpd_in in;
	struct smtpd_txn txn;
	char *helo;
	int errors;
};

/* Writes one reply line (CRLF added). */
static void
smtpd_reply(struct smtpd *d, const char *text)
{
	fputs(text, d->in.out);
	fputs("\r\n", d->in.out);
	log_debug("-bs: > %s", text);
}

/* Counts an error reply; returns nonzero when the session must end. */
static int
smtpd_error(struct smtpd *d, const char *text)
{
	smtpd_reply(d, text);
	return ++d->errors >= SMTPD_ERRORS_MAX;
}

/* Forgets the transaction. */
static void
smtpd_txn_reset(struct smtpd_txn *t)
{
	for (size_t i = 0; i < t->rcpts.n; i++)
		free(t->orcpt[i]);
	addr_list_free(&t->rcpts);
	free(t->notify);
	free(t->orcpt);
	free(t->sender);
	free(t->ret);
	free(t->envid);
	memset(t, 0, sizeof(*t));
	addr_list_init(&t->rcpts);
}

/* Makes input available; returns 1, 0 at EOF, -1 on error or signal. */
static int
smtpd_fill(struct smtpd_in *in)
{
	ssize_t n;

	if (in->off < in->len)
		return 1;
	if (in->eof)
		return 0;
	if (fflush(in->out) == EOF)
		return -1;
	for (;;) {
		if (*in->stop)
			return -1;
		n = read(in->fd, in->buf, sizeof(in->buf));
		if (n > 0) {
			in->off = 0;
			in->len = (size_t)n;
			return 1;
		}
		if (n == 0) {
			in->eof = 1;
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

/*
 * Reads one command line without its line end into line (NUL-
 * terminated).  Returns 1, 0 at EOF (a partial last line is dropped),
 * 2 when the line was too long (it is consumed), -1 on error.
 */
static int
smtpd_line(struct smtpd_in *in, char *line, size_t linesz)
{
	size_t n = 0;
	int toolong = 0, rv;

	for (;;) {
		char c;

		if ((rv = smtpd_fill(in)) != 1)
			return rv;
		c = in->buf[in->off++];
		if (c == '\n')
			break;
		if (n + 1 < linesz)
			line[n++] = c;
		else
			toolong = 1;
	}
	while (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return toolong ? 2 : 1;
}

/*
 * The DATA reader (sendmail_submit's read_fn): copies message bytes,
 * removing the stuffed dot, and returns 0 at the line ".".  EOF before
 * it is an error (-1, errno EPIPE).
 */
static ssize_t
smtpd_data_read(void *arg, char *out, size_t outsz)
{
	struct smtpd_in *in = arg;
	size_t o = 0;
	int rv;

	while (o + 2 <= outsz && !in->data_end) {
		char c;

		if (o > 0 && in->off == in->len)
			break; /* hand over what we have first */
		if ((rv = smtpd_fill(in)) != 1) {
			if (o > 0)
				break;
			errno = rv == 0 ? EPIPE : EINTR;
			return -1;
		}
		c = in->buf[in->off++];
		if (in->dotcr) {
			in->dotcr = 0;
			if (c == '\n') {
				in->data_end = 1;
				break;
			}
			out[o++] = '\r'; /* ".\rX": a dot line with a bare CR */
			in->bol = 0;
		} else if (in->dot) {
			in->dot = 0;
			if (c == '\n') {
				in->data_end = 1;
				break;
			}
			if (c == '\r') {
				in->dotcr = 1;
				continue;
			}
		} else if (in->bol && c == '.') {
			in->dot = 1;
			in->bol = 0;
			continue;
		}
		out[o++] = c;
		in->bol = c == '\n';
	}
	return (ssize_t)o;
}

/* Discards the rest of a DATA section after a refusal. */
static int
smtpd_data_drain(struct smtpd_in *in)
{
	char junk[4096];
	ssize_t n;

	while (!in->data_end)
		if ((n = smtpd_data_read(in, junk, sizeof(junk))) == -1)
			return -1;
	return 0;
}

/*
 * Decodes RFC 3461 xtext (len bytes) into out; -1 when malformed or
 * when it decodes to a NUL ("+00").
 */
static int
smtpd_xtext(const char *s, size_t len, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '+') {
			unsigned v = 0;

			if (i + 2 >= len)
				return -1;
			for (int k = 1; k <= 2; k++) {
				char h = s[i + (size_t)k];

				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= (unsigned)(h - '0');
				else if (h >= 'A' && h <= 'F')
					v |= (unsigned)(h - 'A' + 10);
				else
					return -1;
			}
			/* A NUL would cut the value short: refused too. */
			if (v == 0)
				return -1;
			c = (char)v;
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=')
			return -1;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * Splits "FROM:<path> params" after the verb: *path gets the text inside
 * the brackets (plen bytes), *params the rest.  Returns 0 or -1.
 */
static int
smtpd_path(const char *arg, const char *kw, const char **path, size_t *plen,
    const char **params)
{
	size_t kwlen = strlen(kw);
	const char *p, *end;
	int quoted = 0;

	if (strncasecmp(arg, kw, kwlen) != 0)
		return -1;
	p = arg + kwlen;
	p += strspn(p, " ");
	if (*p != '<') {
		/* Lenient: a bare address up to the first space. */
		*path = p;
		*plen = strcspn(p, " ");
		*params = p + *plen;
		return *plen > 0 ? 0 : -1;
	}
	for (end = p + 1; *end != '\0'; end++) {
		if (*end == '\\' && end[1] != '\0')
			end++;
		else if (*end == '"')
			quoted = !quoted;
		else if (*end == '>' && !quoted)
			break;
	}
	if (*end != '>')
		return -1;
	*path = p + 1;
	*plen = (size_t)(end - p - 1);
	/* An obsolete source route "@a,@b:" is ignored (RFC 5321 C). */
	if (*plen > 0 && **path == '@') {
		const char *colon = memchr(*path, ':', *plen);

		if (colon == NULL)
			return -1;
		*plen -= (size_t)(colon + 1 - *path);
		*path = colon + 1;
	}
	*params = end + 1;
	return 0;
}

/* Returns the next "KEY[=VALUE]" word of params, or NULL. */
static const char *
smtpd_param(const char **params, size_t *len)
{
	const char *p = *params;

	p += strspn(p, " ");
	if (*p == '\0')
		return NULL;
	*len = strcspn(p, " ");
	*params = p + *len;
	return p;
}

/* Returns nonzero when word (len bytes) is "key=..." and sets *val. */
static int
smtpd_is_param(const char *word, size_t len, const char *key, const char **val,
    size_t *vlen)
{
	size_t klen = strlen(key);

	if (len <= klen || word[klen] != '=' ||
	    strncasecmp(word, key, klen) != 0)
		return 0;
	*val = word + klen + 1;
	*vlen = len - klen - 1;
	return 1;
}

/* MAIL FROM. */
static int
smtpd_mail(struct smtpd *d, const char *arg)
{
	const struct conf *conf = d->p->conf;
	const char *path, *params, *w, *v, *errstr = NULL;
	size_t plen, wlen, vlen;
	char tmp[ADDR_PATH_MAX + 1], envid[QUEUE_ENV_ENVID_MAX + 1];
	char *sender = NULL, *ret = NULL, *env = NULL;

	if (d->txn.active)
		return smtpd_error(d, "503 5.5.1 Error: nested MAIL command");
	if (smtpd_path(arg, "FROM:", &path, &plen, &params) == -1)
		return smtpd_error(d, "501 5.5.4 Syntax: MAIL FROM:<address>");
	while ((w = smtpd_param(&params, &wlen)) != NULL) {
		if (smtpd_is_param(w, wlen, "SIZE", &v, &vlen)) {
			unsigned long long sz = 0;

			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9' || i > 18) {
					free(ret);
					free(env);
					return smtpd_error(d,
					    "501 5.5.4 Bad SIZE parameter");
				}
				sz = sz * 10 + (unsigned long long)(v[i] - '0');
			}
			if (sz > (unsigned long long)conf->max_message_size) {
				free(ret);
				free(env);
				return smtpd_error(d,
				    "552 5.3.4 Message size exceeds fixed "
				    "maximum message size");
			}
		} else if (smtpd_is_param(w, wlen, "BODY", &v, &vlen)) {
			if (!(vlen == 4 && strncasecmp(v, "7BIT", 4) == 0) &&
			    !(vlen == 8 &&
				strncasecmp(v, "8BITMIME", 8) == 0)) {
				free(ret);
				free(env);
				return smtpd_error(d,
				    "501 5.5.4 BODY must be 7BIT or 8BITMIME");
			}
		} else if (wlen == 8 && strncasecmp(w, "SMTPUTF8", 8) == 0) {
			/* The content decides; nothing to store. */
		} else if (smtpd_is_param(w, wlen, "RET", &v, &vlen)) {
			if (ret != NULL ||
			    !((vlen == 4 &&
				(strncasecmp(v, "FULL", 4) == 0 ||
				    strncasecmp(v, "HDRS", 4) == 0)))) {
				free(ret);
				free(env);
				return smtpd_error(d,
				    "501 5.5.4 RET must be FULL or HDRS");
			}
			ret = xstrndup(v, vlen);
		} else if (smtpd_is_param(w, wlen, "ENVID", &v, &vlen)) {
			if (env != NULL ||
			    smtpd_xtext(v, vlen, envid, sizeof(envid)) == -1 ||
			    queue_env_check_envid(envid) == -1) {
				free(ret);
				free(env);
				return smtpd_error(d, "501 5.5.4 Bad ENVID");
			}
			env = xstrdup(envid);
		} else {
			free(ret);
			free(env);
			return smtpd_error(d,
			    "555 5.5.4 Unsupported MAIL parameter");
		}
	}
	if (plen > ADDR_PATH_MAX) {
		free(ret);
		free(env);
		return smtpd_error(d, "501 5.1.7 Sender address too long");
	}
	memcpy(tmp, path, plen);
	tmp[plen] = '\0';
	if (!d->p->allow_from) {
		sender = xstrdup(d->p->login_sender);
		if (strcmp(sender, tmp) != 0)
			log_debug("-bs: MAIL FROM:<%s> replaced by <%s> "
				  "(allow_from_override = no)",
			    tmp, sender);
	} else if (plen > 0 &&
	    addr_parse_sender(tmp,
		conf->masquerade[0] != '\0' ? conf->masquerade
					    : conf->default_domain,
		&sender, &errstr) == -1) {
		char msg[300];

		free(ret);
		free(env);
		(void)snprintf(msg, sizeof(msg),
		    "501 5.1.7 Bad sender address syntax: %s", errstr);
		return smtpd_error(d, msg);
	} else if (plen == 0)
		sender = xstrdup("");
	smtpd_txn_reset(&d->txn);
	d->txn.active = 1;
	d->txn.sender = sender;
	d->txn.ret = ret;
	d->txn.envid = env;
	smtpd_reply(d, "250 2.1.0 Ok");
	return 0;
}

/* Adds one resolved recipient with its DSN values. */
static void
smtpd_txn_add(struct smtpd_txn *t, const char *addr, unsigned notify,
    const char *orcpt)
{
	if (addr_list_add(&t->rcpts, addr) == 0)
		return; /* a duplicate */
	if (t->rcpts.n > t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->notify =
		    xreallocarray(t->notify, t->cap, sizeof(*t->notify));
		t->orcpt = xreallocarray(t->orcpt, t->cap, sizeof(*t->orcpt));
	}
	t->notify[t->rcpts.n - 1] = notify;
	t->orcpt[t->rcpts.n - 1] = orcpt != NULL ? xstrdup(orcpt) : NULL;
}

/* RCPT TO. */
static int
smtpd_rcpt(struct smtpd *d, const char *arg)
{
	const struct conf *conf = d->p->conf;
	const char *path, *params, *w, *v, *errstr = NULL;
	size_t plen, wlen, vlen;
	char orcpt[QUEUE_ENV_ORCPT_MAX + 1], msg[400];
	unsigned notify = 0;
	int have_orcpt = 0;
	struct addr_list one, res;

	if (!d->txn.active)
		return smtpd_error(d, "503 5.5.1 Error: need MAIL command");
	if (smtpd_path(arg, "TO:", &path, &plen, &params) == -1)
		return smtpd_error(d, "501 5.5.4 Syntax: RCPT TO:<address>");
	while ((w = smtpd_param(&params, &wlen)) != NULL) {
		if (smtpd_is_param(w, wlen, "NOTIFY", &v, &vlen)) {
			if (notify != 0 ||
			    queue_env_parse_notify(v, vlen, &notify) == -1)
				return smtpd_error(d,
				    "501 5.5.4 Bad NOTIFY parameter");
		} else if (smtpd_is_param(w, wlen, "ORCPT", &v, &vlen)) {
			size_t semi = 0;

			while (semi < vlen && v[semi] != ';')
				semi++;
			if (have_orcpt || semi == 0 || semi >= vlen ||
			    semi + 1 >= sizeof(orcpt))
				return smtpd_error(d,
				    "501 5.5.4 Bad ORCPT parameter");
			memcpy(orcpt, v, semi + 1);
			if (smtpd_xtext(v + semi + 1, vlen - semi - 1,
				orcpt + semi + 1,
				sizeof(orcpt) - semi - 1) == -1 ||
			    queue_env_check_orcpt(orcpt) == -1)
				return smtpd_error(d,
				    "501 5.5.4 Bad ORCPT parameter");
			/* What the smarthost could never be sent. */
			if (dsn_orcpt_wire_len(orcpt) > DSN_ORCPT_WIRE_MAX)
				return smtpd_error(d,
				    "501 5.5.4 ORCPT parameter too long");
			have_orcpt = 1;
		} else
			return smtpd_error(d,
			    "555 5.5.4 Unsupported RCPT parameter");
	}
	if (plen == 0)
		return smtpd_error(d, "501 5.1.3 Empty recipient address");
	addr_list_init(&one);
	addr_list_init(&res);
	if (addr_parse_list_ex(path, plen, conf->default_domain,
		ADDR_F_KEEP_BARE, &one, NULL, &errstr) == -1 ||
	    one.n != 1) {
		addr_list_free(&one);
		(void)snprintf(msg, sizeof(msg),
		    "501 5.1.3 Bad recipient address syntax: %s",
		    errstr != NULL ? errstr : "not one address");
		return smtpd_error(d, msg);
	}
	(void)sendmail_submit_resolve(conf, d->p->aliases, &one);
	for (size_t i = 0; i < one.n; i++) {
		if (queue_env_check_addr(one.v[i], 0, &errstr) == -1) {
			(void)snprintf(msg, sizeof(msg),
			    "553 5.1.3 Recipient cannot be queued: %s", errstr);
			addr_list_free(&one);
			return smtpd_error(d, msg);
		}
		if (addr_list_add(&res, one.v[i]) == 1 &&
		    (long long)(d->txn.rcpts.n + res.n) >
			conf->max_recipients) {
			addr_list_free(&one);
			addr_list_free(&res);
			return smtpd_error(d,
			    "452 4.5.3 Error: too many recipients");
		}
	}
	for (size_t i = 0; i < res.n; i++)
		smtpd_txn_add(&d->txn, res.v[i], notify,
		    have_orcpt ? orcpt : NULL);
	addr_list_free(&one);
	addr_list_free(&res);
	smtpd_reply(d, "250 2.1.5 Ok");
	return 0;
}

/* DATA: reads the message and queues it.  Returns -1 when input ended. */
static int
smtpd_data(struct smtpd *d)
{
	const struct sendmail_smtp_params *p = d->p;
	struct sendmail_submit s;
	struct rq_err err;
	char msg[400];
	int rc;

	if (!d->txn.active)
		return smtpd_error(d, "503 5.5.1 Error: need MAIL command");
	if (d->txn.rcpts.n == 0)
		return smtpd_error(d, "503 5.5.1 Error: need RCPT command");
	smtpd_reply(d, "354 End data with <CR><LF>.<CR><LF>");
	d->in.bol = 1;
	d->in.dot = d->in.dotcr = d->in.data_end = 0;

	memset(&s, 0, sizeof(s));
	s.conf = p->conf;
	s.sender = d->txn.sender;
	s.rcpts = &d->txn.rcpts;
	s.ignore_dots = 1;
	s.uid = p->uid;
	s.infd = -1;
	s.stop = p->stop;
	s.dsn_ret = d->txn.ret;
	s.dsn_envid = d->txn.envid;
	s.rcpt_notify = d->txn.notify;
	s.rcpt_orcpt = d->txn.orcpt;
	s.read_fn = smtpd_data_read;
	s.read_arg = &d->in;
	s.received = "ESMTP";
	s.helo = d->helo;
	s.undisclosed = 1;
	s.login_sender = p->own_sender;
	s.login_name = p->login_name;
	s.sender_via = p->login_name != NULL ? "MAIL FROM" : NULL;
	s.sock = p->sock;
	rc = sendmail_submit_run(&s, p->sock != NULL ? NULL : &d->sp, &err);
	if (!d->in.data_end && smtpd_data_drain(&d->in) == -1) {
		smtpd_txn_reset(&d->txn);
		return -1; /* EOF or a signal inside DATA: nothing queued */
	}
	smtpd_txn_reset(&d->txn);
	if (rc == EX_OK) {
		(void)snprintf(msg, sizeof(msg), "250 2.0.0 Ok: queued as %s",
		    s.id);
		smtpd_reply(d, msg);
		log_debug("queued as %s", s.id);
		if (!p->queue_only && p->sock == NULL)
			queue_spool_poke(&d->sp);
		return 0;
	}
	log_warnx("-bs: message not queued: %s", err.msg);
	if (rc == EX_DATAERR && s.msg_error == SENDMAIL_MSG_ERR_SIZE)
		return smtpd_error(d, "552 5.3.4 Error: message file too big");
	if (rc == EX_DATAERR || rc == EX_USAGE) {
		(void)snprintf(msg, sizeof(msg), "554 5.6.0 Error: %s",
		    err.msg);
		return smtpd_error(d, msg);
	}
	(void)snprintf(msg, sizeof(msg), "451 4.3.0 Error: %s", err.msg);
	return smtpd_error(d, msg);
}

/* EHLO and HELO. */
static void
smtpd_hello(struct smtpd *d, const char *arg, int ehlo)
{
	const struct conf *conf = d->p->conf;
	char line[128];

	free(d->helo);
	d->helo = xstrdup(arg);
	smtpd_txn_reset(&d->txn);
	if (!ehlo) {
		(void)snprintf(line, sizeof(line), "250 %s", conf->hostname);
		smtpd_reply(d, line);
		return;
	}
	(void)snprintf(line, sizeof(line), "250-%s", conf->hostname);
	smtpd_reply(d, line);
	smtpd_reply(d, "250-PIPELINING");
	(void)snprintf(line, sizeof(line), "250-SIZE %lld",
	    conf->max_message_size);
	smtpd_reply(d, line);
	smtpd_reply(d, "250-8BITMIME");
	smtpd_reply(d, "250-SMTPUTF8");
	smtpd_reply(d, "250-DSN");
	smtpd_reply(d, "250 ENHANCEDSTATUSCODES");
}

/* Returns nonzero when line starts with verb followed by end or space. */
static int
smtpd_verb(const char *line, const char *verb, const char **arg)
{
	size_t n = strlen(verb);

	if (strncasecmp(line, verb, n) != 0 ||
	    (line[n] != '\0' && line[n] != ' '))
		return 0;
	*arg = line + n + strspn(line + n, " ");
	return 1;
}

/* Handles one command line; returns 1 to end the session. */
static int
smtpd_command(struct smtpd *d, const char *line)
{
	const char *arg;

	log_debug("-bs: < %s", line);
	if (smtpd_verb(line, "EHLO", &arg) || smtpd_verb(line, "HELO", &arg)) {
		if (*arg == '\0')
			return smtpd_error(d,
			    "501 5.5.4 Syntax: EHLO hostname");
		smtpd_hello(d, arg, strncasecmp(line, "EHLO", 4) == 0);
		return 0;
	}
	if (smtpd_verb(line, "MAIL", &arg))
		return smtpd_mail(d, arg);
	if (smtpd_verb(line, "RCPT", &arg))
		return smtpd_rcpt(d, arg);
	if (smtpd_verb(line, "DATA", &arg)) {
		if (*arg != '\0')
			return smtpd_error(d, "501 5.5.4 Syntax: DATA");
		return smtpd_data(d) != 0;
	}
	if (smtpd_verb(line, "RSET", &arg)) {
		smtpd_txn_reset(&d->txn);
		smtpd_reply(d, "250 2.0.0 Ok");
		return 0;
	}
	if (smtpd_verb(line, "NOOP", &arg)) {
		smtpd_reply(d, "250 2.0.0 Ok");
		return 0;
	}
	if (smtpd_verb(line, "QUIT", &arg)) {
		smtpd_reply(d, "221 2.0.0 Bye");
		return 1;
	}
	if (smtpd_verb(line, "VRFY", &arg) || smtpd_verb(line, "EXPN", &arg))
		return smtpd_error(d,
		    "502 5.5.1 Error: command not implemented");
	return smtpd_error(d, "502 5.5.2 Error: command not recognized");
}

/* Runs the session. */
int
sendmail_smtp_run(const struct sendmail_smtp_params *p)
{
	struct smtpd d;
	struct rq_err err;
	char line[SMTPD_LINE_MAX], greet[300];
	int rc = EX_OK, rv, e;

	memset(&d, 0, sizeof(d));
	d.p = p;
	addr_list_init(&d.txn.rcpts);
	d.in.fd = p->infd;
	d.in.stop = p->stop;
	if ((d.in.out = fdopen(dup(p->outfd), "w")) == NULL) {
		log_warn("cannot write to stdout");
		return EX_OSERR;
	}
	if (p->sock == NULL &&
	    queue_spool_open(&d.sp, p->conf->spool_dir,
		QUEUE_SPOOL_FRONTEND | QUEUE_SPOOL_CREATE, &err) == -1) {
		e = errno;
		log_warnx("%s", err.msg);
		smtpd_reply(&d, "421 4.3.0 relayq: cannot open the queue");
		(void)fclose(d.in.out);
		return sendmail_submit_exit_for_errno(e);
	}
	(void)snprintf(greet, sizeof(greet), "220 %s ESMTP relayq",
	    p->conf->hostname);
	smtpd_reply(&d, greet);
	for (;;) {
		rv = smtpd_line(&d.in, line, sizeof(line));
		if (rv == 0 || rv == -1)
			break;
		if (rv == 2) {
			if (smtpd_error(&d, "500 5.5.2 Error: line too long"))
				break;
			continue;
		}
		if (smtpd_command(&d, line))
			break;
		if (ferror(d.in.out))
			break;
	}
	if (d.errors >= SMTPD_ERRORS_MAX)
		smtpd_reply(&d, "421 4.7.0 Error: too many errors");
	if (fclose(d.in.out) == EOF)
		rc = EX_IOERR;
	smtpd_txn_reset(&d.txn);
	free(d.helo);
	if (p->sock == NULL)
		queue_spool_close(&d.sp);
	return rc;
}
