/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One submission: stdin -> sendmail_msg -> queue_writer -> incoming/.
 *
 * The header section is read completely first (it is bounded, and -t
 * needs it); then the envelope is complete and the body streams.  The
 * queue file is not created until the first SENDMAIL_SUBMIT_SPOOL_AT
 * bytes of wire output exist or the input ends: the envelope, written
 * first, carries the 8BIT flag, which is exact for a message that fits
 * in that buffer and conservatively set for a bigger one (sendmail_msg.h).
 * A message refused for its size or its header therefore usually never
 * touches the disk, and in every failure path the temporary file is
 * removed (queue_writer_abort).
 *
 * Decisions recorded here:
 *  - more than conf->max_recipients recipients (argv and -t together) is
 *    EX_USAGE, like every other "what was asked cannot be sent" case;
 *    nothing is queued;
 *  - a read error on stdin is EX_DATAERR (Postfix: "error reading
 *    input"); a signal during input is EX_TEMPFAIL;
 *  - below conf->queue_minfree free bytes in the spool, or with no more
 *    free inodes than the inode reserve (queue_spool_room), a submission
 *    from any user but root is EX_TEMPFAIL: checked before the input is
 *    read and, for a message over SENDMAIL_SUBMIT_SPOOL_AT bytes, before
 *    each chunk is written, so the reserve (Postfix's queue_minfree)
 *    stays for root; a smaller message costs one fstatvfs();
 *  - spool errors map by errno (sendmail_submit_exit_for_errno):
 *    ENOSPC, EDQUOT and other transient ones are EX_TEMPFAIL, EACCES,
 *    EPERM, ENOENT, ENOTDIR, EROFS are EX_CANTCREAT, EIO is EX_IOERR;
 *  - a sender chosen by a user other than root (-f, MAIL FROM) that is
 *    not their login address gets Sendmail's X-Authentication-Warning
 *    field after Received:; root is the only trusted user;
 *  - the envelope flags: QUEUE_ENV_F_SMTPUTF8 when the sender or a
 *    recipient is not ASCII, QUEUE_ENV_F_8BIT from sendmail_msg_flags().
 */
#include "config.h"

#include "sendmail/sendmail_submit.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_submit.h"
#include "sendmail/sendmail_msg.h"

/* Input is read in chunks of this size. */
#define SENDMAIL_SUBMIT_READSZ (64 * 1024)
/* Wire bytes held back before the queue file is created. */
#define SENDMAIL_SUBMIT_SPOOL_AT (1024 * 1024)

struct sendmail_submit_ctx {
	struct sendmail_submit *s; /* borrowed */
	struct queue_spool *sp;	   /* borrowed */
	struct sendmail_msg m;
	struct queue_env env;
	struct queue_writer w;
	int begun; /* w holds a temporary file */
	struct rq_err qerr;
	int qerr_set;
	char *buf;	/* owned: the read buffer */
	int eof;	/* read() returned 0 */
	size_t written; /* wire bytes given to the writer */
	/*
	 * The socket path: the wire form, in mem while it fits in one M
	 * frame, else in memfd (mem spilled into it); memlen is its size.
	 */
	char *mem; /* owned, or NULL */
	int memfd; /* -1 until mem is too small */
	uint64_t memlen;
};

/* Maps a spool errno to a sysexits code. */
int
sendmail_submit_exit_for_errno(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EROFS:
	case ELOOP:
		return EX_CANTCREAT;
	case EIO:
		return EX_IOERR;
	case EINVAL:
		return EX_SOFTWARE;
	default:
		/* ENOSPC, EDQUOT, EFBIG, EMFILE, EAGAIN, ...: try later. */
		return EX_TEMPFAIL;
	}
}

/* Prints an aliases problem as a warning. */
void
sendmail_submit_alias_warn(void *arg, const char *path, int line,
    const char *msg)
{
	(void)arg;
	if (line > 0)
		log_warnx("%s:%d: %s", path, line, msg);
	else
		log_warnx("%s: %s", path, msg);
}

/* Resolves aliases and qualifies bare local parts in l. */
size_t
sendmail_submit_resolve(const struct conf *conf, const struct aliases *aliases,
    struct addr_list *l)
{
	struct addr_list out;

	addr_list_init(&out);
	for (size_t i = 0; i < l->n; i++) {
		size_t before = out.n;

		(void)aliases_resolve(aliases, l->v[i], conf->default_domain,
		    conf->hostname, &out, sendmail_submit_alias_warn, NULL);
		if (aliases != NULL && aliases->n > 0 &&
		    (out.n != before + 1 ||
			strcmp(out.v[before], l->v[i]) != 0))
			for (size_t k = before; k < out.n; k++)
				log_debug("recipient %s -> %s", l->v[i],
				    out.v[k]);
	}
	addr_list_free(l);
	*l = out;
	return l->n;
}

/*
 * Returns nonzero when s needs an X-Authentication-Warning: a user other
 * than root chose (s->sender_via) a sender that is not their own login
 * address.  Over the socket relayqd adds it (it knows the uid).
 */
static int
sendmail_submit_warns(const struct sendmail_submit *s)
{
	if (s->sock != NULL || s->sender_via == NULL)
		return 0;
	return queue_submit_warns(s->uid, s->sender, s->login_sender);
}

/*
 * The reserve for root (queue_minfree, blocks and inodes): only root may
 * take the spool under it (queue_spool_room).  Returns 0 or -1 with err
 * filled.
 */
static int
sendmail_submit_reserve(const struct sendmail_submit *s,
    const struct queue_spool *sp, size_t need, struct rq_err *err)
{
	/* Over the socket (sp NULL) relayqd checks it. */
	if (s->uid == 0 || sp == NULL)
		return 0;
	return queue_spool_room(sp, s->conf->queue_minfree, need, err);
}

/* Writes all of p to fd; returns 0 or -1 (errno). */
static int
sendmail_submit_memfd_write(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The sink: creates the queue file on first use, then appends to it.
 * A message over SENDMAIL_SUBMIT_SPOOL_AT bytes comes in chunks of at
 * least that size; before each, the reserve is looked at again, so that
 * a big or slow message cannot eat into it either.
 */
static int
sendmail_submit_sink(void *arg, const char *p, size_t len)
{
	struct sendmail_submit_ctx *c = arg;

	if (c->s->sock != NULL) {
		/*
		 * The socket path: the whole message first (its size).  A
		 * message of one M frame stays in memory (no memfd to
		 * create, write, rewind and read back).
		 */
		if (c->memfd == -1 &&
		    c->memlen + len <= QUEUE_SUBMIT_CHUNK_MAX) {
			if (c->mem == NULL)
				c->mem = xmalloc(QUEUE_SUBMIT_CHUNK_MAX);
			memcpy(c->mem + c->memlen, p, len);
			c->memlen += len;
			return 0;
		}
		if ((c->memfd == -1 &&
			((c->memfd = memfd_create("relayq-submit",
			      MFD_CLOEXEC)) == -1 ||
			    sendmail_submit_memfd_write(c->memfd, c->mem,
				(size_t)c->memlen) == -1)) ||
		    sendmail_submit_memfd_write(c->memfd, p, len) == -1) {
			rq_err_set(&c->qerr, "cannot hold the message: %s",
			    strerror(errno));
			c->qerr_set = 1;
			return -1;
		}
		c->memlen += len;
		return 0;
	}
	if (c->written + len >= SENDMAIL_SUBMIT_SPOOL_AT &&
	    sendmail_submit_reserve(c->s, c->sp, len, &c->qerr) == -1) {
		c->qerr_set = 1;
		errno = ENOSPC;
		return -1;
	}
	c->written += len;
	if (!c->begun) {
		c->env.flags |= sendmail_msg_flags(&c->m);
		if (queue_writer_begin(&c->w, c->sp, &c->env, &c->qerr) == -1) {
			c->qerr_set = 1;
			return -1;
		}
		c->begun = 1;
	}
	return queue_writer_body(&c->w, p, len);
}

/*
 * Reads up to SENDMAIL_SUBMIT_READSZ bytes, retrying EINTR unless a
 * terminating signal arrived.  Returns the count, 0 at EOF, or -1 with
 * err and *rc set.
 */
static ssize_t
sendmail_submit_read(struct sendmail_submit_ctx *c, int *rc, struct rq_err *err)
{
	ssize_t n;

	for (;;) {
		if (*c->s->stop) {
			rq_err_set(err, "interrupted; message not queued");
			*rc = EX_TEMPFAIL;
			return -1;
		}
		if (c->s->read_fn != NULL) {
			if ((n = c->s->read_fn(c->s->read_arg, c->buf,
				 SENDMAIL_SUBMIT_READSZ)) >= 0)
				return n;
		} else if ((n = read(c->s->infd, c->buf,
				SENDMAIL_SUBMIT_READSZ)) >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN) {
			rq_err_set(err, "error reading input: %s",
			    strerror(errno));
			*rc = EX_DATAERR;
			return -1;
		}
	}
}

/* Turns a sendmail_msg failure into err and a sysexits code. */
static int
sendmail_submit_msg_error(struct sendmail_submit_ctx *c, struct rq_err *err)
{
	c->s->msg_error = (int)c->m.error;
	if (c->m.error != SENDMAIL_MSG_ERR_SINK) {
		if (c->m.error == SENDMAIL_MSG_ERR_SIZE)
			rq_err_set(err,
			    "message exceeds the size limit of %lld bytes; "
			    "not queued",
			    c->s->conf->max_message_size);
		else
			rq_err_set(err, "%s; message not queued",
			    sendmail_msg_strerror(&c->m));
		return EX_DATAERR;
	}
	if (c->qerr_set)
		*err = c->qerr;
	else
		rq_err_set(err, "cannot write the queue file: %s",
		    strerror(c->m.sink_errno));
	return sendmail_submit_exit_for_errno(c->m.sink_errno);
}

/* Builds the envelope from the sender and the recipient list. */
static int
sendmail_submit_env(struct sendmail_submit_ctx *c, struct rq_err *err)
{
	struct sendmail_submit *s = c->s;
	const struct conf *conf = s->conf;

	if (s->rcpts->n == 0) {
		rq_err_set(err,
		    s->extract
			? "No recipient addresses found in message header"
			: "recipient addresses must be specified");
		return EX_USAGE;
	}
	if ((long long)s->rcpts->n > conf->max_recipients) {
		rq_err_set(err, "too many recipients (%zu, the limit is %lld)",
		    s->rcpts->n, conf->max_recipients);
		return EX_USAGE;
	}
	c->env.sender = xstrdup(s->sender);
	c->env.uid = s->uid;
	c->env.arrival = (long long)time(NULL);
	if (addr_is_utf8(s->sender))
		c->env.flags |= QUEUE_ENV_F_SMTPUTF8;
	if (queue_env_set_dsn(&c->env, s->dsn_ret, s->dsn_envid) == -1) {
		rq_err_set(err, "invalid DSN RET or ENVID");
		return EX_USAGE;
	}
	for (size_t i = 0; i < s->rcpts->n; i++) {
		unsigned nt =
		    s->rcpt_notify != NULL ? s->rcpt_notify[i] : s->notify;
		const char *orcpt =
		    s->rcpt_orcpt != NULL ? s->rcpt_orcpt[i] : NULL;

		if (queue_env_add_rcpt_dsn(&c->env, s->rcpts->v[i], nt,
			orcpt) == -1) {
			rq_err_set(err, "invalid recipient %.256s",
			    s->rcpts->v[i]);
			return EX_USAGE;
		}
		if (addr_is_utf8(s->rcpts->v[i]))
			c->env.flags |= QUEUE_ENV_F_SMTPUTF8;
	}
	return EX_OK;
}

/* Reads the header section; leaves unconsumed input in c->buf. */
static int
sendmail_submit_headers(struct sendmail_submit_ctx *c, size_t *off,
    size_t *have, struct rq_err *err)
{
	int rc = EX_OK;
	ssize_t n;
	size_t used;

	while (!sendmail_msg_headers_done(&c->m)) {
		if ((n = sendmail_submit_read(c, &rc, err)) == -1)
			return rc;
		if (n == 0) {
			c->eof = 1;
			if (sendmail_msg_end_input(&c->m) == -1)
				return sendmail_submit_msg_error(c, err);
			break;
		}
		if (sendmail_msg_feed(&c->m, c->buf, (size_t)n, &used) == -1)
			return sendmail_submit_msg_error(c, err);
		*off = used;
		*have = (size_t)n;
	}
	return EX_OK;
}

/*
 * Streams the rest of the input into the body.  Input is read to EOF
 * even after a "." line, so that writers never get SIGPIPE.
 */
static int
sendmail_submit_body(struct sendmail_submit_ctx *c, size_t off, size_t have,
    struct rq_err *err)
{
	int rc = EX_OK;
	ssize_t n;
	size_t used;

	if (off < have &&
	    sendmail_msg_feed(&c->m, c->buf + off, have - off, &used) == -1)
		return sendmail_submit_msg_error(c, err);
	while (!c->eof) {
		if ((n = sendmail_submit_read(c, &rc, err)) == -1)
			return rc;
		if (n == 0)
			c->eof = 1;
		else if (sendmail_msg_feed(&c->m, c->buf, (size_t)n, &used) ==
		    -1)
			return sendmail_submit_msg_error(c, err);
	}
	if (sendmail_msg_end_input(&c->m) == -1 ||
	    sendmail_msg_finish(&c->m) == -1)
		return sendmail_submit_msg_error(c, err);
	return EX_OK;
}

/* Queues the message on s->infd. */
int
sendmail_submit_run(struct sendmail_submit *s, struct queue_spool *sp,
    struct rq_err *err)
{
	struct sendmail_submit_ctx c;
	struct sendmail_msg_params p;
	size_t off = 0, have = 0;
	int rc;

	/*
	 * Everything but the writer's 64 KiB buffer, which
	 * queue_writer_begin() sets up: zeroing it cost 13% of a 2 KB
	 * submission's instructions and 16 dirty stack pages.
	 */
	memset(&c, 0, offsetof(struct sendmail_submit_ctx, w));
	memset(&c.w, 0, offsetof(struct queue_writer, buf));
	memset((char *)&c + offsetof(struct sendmail_submit_ctx, w) +
		sizeof(c.w),
	    0,
	    sizeof(c) - offsetof(struct sendmail_submit_ctx, w) - sizeof(c.w));
	c.w.fd = -1;
	c.memfd = -1;
	memset(&p, 0, sizeof(p));
	c.s = s;
	c.sp = sp;
	c.buf = xmalloc(SENDMAIL_SUBMIT_READSZ);
	queue_env_init(&c.env);
	p.ignore_dots = s->ignore_dots;
	p.sender = s->sender;
	p.fullname = s->fullname;
	p.domain = s->conf->default_domain;
	p.hostname = s->conf->hostname;
	p.max_size = s->conf->max_message_size;
	p.max_header = SENDMAIL_MSG_HEADER_MAX;
	p.flush_at = SENDMAIL_SUBMIT_SPOOL_AT;
	p.sink = sendmail_submit_sink;
	p.sink_arg = &c;
	p.keep_bare = s->resolve;
	p.masquerade = s->conf->masquerade;
	p.uid = s->uid;
	/* Over the socket relayqd adds Received:, with the kernel's uid. */
	p.received = s->sock != NULL ? NULL : s->received;
	p.helo = s->helo;
	p.undisclosed = s->undisclosed;
	if (sendmail_submit_warns(s)) {
		p.warn_user = s->login_name;
		p.warn_via = s->sender_via;
	}
	sendmail_msg_init(&c.m, &p);

	if (sendmail_submit_reserve(s, sp, 0, err) == -1) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	if ((rc = sendmail_submit_headers(&c, &off, &have, err)) != EX_OK)
		goto out;
	if (s->extract)
		(void)sendmail_msg_rcpts(&c.m, s->rcpts, &s->nbad,
		    &s->bad_errstr);
	if (s->resolve)
		(void)sendmail_submit_resolve(s->conf, s->aliases, s->rcpts);
	if ((rc = sendmail_submit_env(&c, err)) != EX_OK)
		goto out;
	if (sendmail_msg_start_body(&c.m) == -1) {
		rc = sendmail_submit_msg_error(&c, err);
		goto out;
	}
	if ((rc = sendmail_submit_body(&c, off, have, err)) != EX_OK)
		goto out;
	if (*s->stop) {
		rq_err_set(err, "interrupted; message not queued");
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (s->sock != NULL) {
		c.env.flags |= sendmail_msg_flags(&c.m);
		rc = sendmail_socket_submit(s->sock, &c.env, s->received,
		    s->helo, c.mem, c.memfd, c.memlen, s->id, err);
		goto out;
	}
	if (queue_writer_commit(&c.w, QUEUE_DIR_INCOMING, &c.qerr) == -1) {
		*err = c.qerr;
		rc = sendmail_submit_exit_for_errno(errno);
		c.begun = 0; /* commit removed the temporary file */
		goto out;
	}
	c.begun = 0;
	memcpy(s->id, c.w.id, sizeof(s->id));
	rc = EX_OK;
out:
	if (c.begun)
		queue_writer_abort(&c.w);
	sendmail_msg_free(&c.m);
	queue_env_free(&c.env);
	free(c.buf);
	free(c.mem);
	if (c.memfd != -1)
		(void)close(c.memfd);
	return rc;
}
