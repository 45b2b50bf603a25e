/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The submission socket: mail from a sendmail that cannot write the
 * spool (no setgid bit, the bit ignored under no_new_privs, a read-only
 * spool).  The protocol is doc/submit-protocol.md; its frames are parsed
 * by queue_submit.c, which does no I/O.
 *
 * What this module owns: the listening socket (bound here with mode
 * 0666, or passed by systemd), the connections, the identity of each
 * submitter, the rules the spool path applies in the front end, and the
 * commit thread.  What it leaves to others: the wire form and the
 * envelope checks (queue_writer, queue_env) and the commit protocol
 * (queue_writer_commit: write, fsync, rename into queue/, fsync of
 * queue/).  The file goes straight into queue/, as relayqd's own bounces
 * do, not through incoming/: relayqd wrote and checked every byte of it
 * itself, and a pick-up would cost two more directory fsyncs on the
 * event loop per submission.
 *
 * Identity comes only from the kernel: SO_PEERCRED's uid, gid and pid at
 * accept.  From the uid: the sender (the client's S frame only when
 * allow_from_override = yes or the uid is 0, else the uid's login name
 * at masquerade or default_domain, exactly like sendmail_sender()), the
 * U record, and the Received: field relayqd puts first
 * (queue_submit_received, the spool path's own text).  Bare local parts
 * and aliases are the client's business (they need /etc/aliases, not
 * privilege); relayqd accepts only qualified addresses.
 *
 * Bounds (the socket is open to every local user): RELAYQD_SUBMIT_MAX
 * connections read at once, RELAYQD_SUBMIT_PER_UID of them per uid, so
 * one user cannot lock out another; a connection that finds no slot
 * waits unread in a bounded queue (RELAYQD_SUBMIT_WAIT_MAX, less when
 * RLIMIT_NOFILE is low, all but an eighth of it for one uid) until one
 * comes free, and beyond that is refused "busy:"; when every slot is
 * taken, a slow connection (relayqd_submit_is_slow) of a uid holding more
 * slots than a waiting one's is dropped for it, so clients trickling
 * bytes cannot lock the others out; out of descriptors,
 * accept() pauses instead of spinning; submit_timeout without progress
 * (or without a slot) drops a client (its temporary file removed); the
 * Z (size) frame is checked against max_message_size before G lets the
 * body come; a connection holds, from the Z frame on, one queue writer
 * (64 KiB buffer) that streams the body into tmp/<id>, and all share one
 * read buffer; every frame value is bounded by the parser.  A bad frame
 * gets an X reply and the connection is closed; tmp/ keeps nothing
 * (queue_writer_abort).
 *
 * Cost: the loop also delivers, so a submission takes it as little as
 * it can (bench/submitcost counts it): one wake-up per frame burst (the
 * client sends the body and E in one sendmsg()), no refusals while the
 * waiting queue has room, and its events run at the lowest priority of
 * the event base, after the deliveries ready in the same turn.
 *
 * Durable steps, in order: tmp/<id> created at the Z frame; the body
 * written as it comes; at the E frame, the commit thread takes the
 * commit, with every other one waiting then (a group commit), so the
 * event loop never waits on a disk: for each, queue_writer_commit_nosync
 * (trailer, fsync, rename to queue/<id>), then one fsync of queue/ for
 * the group; only after that fsync returned 0 does the loop send K<id>
 * and schedule the message.  If it fails, every file of the group is
 * taken back out of queue/ and each client gets X75.  Crash windows: before the
 * commit, tmp/<id> is garbage (queue_spool_clean_tmp removes it) and the
 * client sees the connection drop and exits 75; after the commit and
 * before the K frame reached the client, the message is queued and the
 * client still exits 75, so a retry may send it twice (at-least-once,
 * DESIGN.md spool rule 4), but a client never exits 0 for mail that is
 * not durable.
 */
#include "config.h"

#include "relayqd/relayqd_submit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_spool.h"
#include "queue/queue_submit.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_stats.h"
#include "relayqd/relayqd_unix.h"

#define RELAYQD_SUBMIT_READSZ (16 * 1024)
#define RELAYQD_SUBMIT_BACKLOG 128
#define RELAYQD_SUBMIT_LISTEN_FD 3		   /* SD_LISTEN_FDS_START */
#define RELAYQD_SUBMIT_RESERVE_EVERY (1024 * 1024) /* body bytes */
#define RELAYQD_SUBMIT_LOG_UIDS 16 /* uids whose refusals are rate-limited */

/* Refusal lines of one uid: at most one a second, the rest counted. */
struct relayqd_submit_lograte {
	uid_t uid;
	int used;
	time_t last;	   /* CLOCK_MONOTONIC second of its last line */
	time_t first_held; /* when the first uncounted one came */
	unsigned long held;
};

struct relayqd_submit_conn {
	struct relayqd_submit *s; /* borrowed */
	int fd;
	int waiting;	/* in s->waitq, not yet read; else in s->peers */
	int64_t since;	/* monotonic ms: taken from s->waitq */
	uint64_t nread; /* bytes read since */
	TAILQ_ENTRY(relayqd_submit_conn) wlink;
	struct event *ev_read;	       /* owned */
	struct event *ev_timer;	       /* owned */
	struct relayqd_unix_peer peer; /* SO_PEERCRED; in s->peers */
	struct queue_submit_parser p;
	struct queue_env env;
	char *sender;	    /* owned: the S frame */
	char *rcpt;	    /* owned: R frame waiting for N/O */
	unsigned notify;    /* its N frame */
	char *orcpt;	    /* owned: its O frame */
	char *dsn_ret;	    /* owned */
	char *dsn_envid;    /* owned */
	char *login;	    /* owned: the uid's login name, or NULL */
	char *login_sender; /* owned: its own address, or NULL */
	char proto[8];	    /* P frame */
	char helo[QUEUE_SUBMIT_HELO_MAX + 1];
	int decl_8bit;		/* F frame said 8bit */
	uint64_t reserve_at;	/* body bytes when queue_minfree was checked */
	struct queue_writer *w; /* owned, from the Z frame on */
	int begun;		/* w holds tmp/<id> */
	int committing;		/* in the commit thread */
	int commit_rc, commit_errno;
	struct rq_err err;
};

struct relayqd_submit {
	struct relayd *rd; /* borrowed */
	int fd;
	struct event *ev; /* owned: accept */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int bound;			 /* we made path: unlink it at exit */
	struct relayqd_unix_peers peers; /* the connections being read */
	TAILQ_HEAD(, relayqd_submit_conn) waitq; /* accepted, waiting */
	int nwait;
	int wait_max, wait_per_uid; /* bounds of waitq (fds allowing) */
	struct event *ev_unpark;    /* owned: a slot was freed */
	struct event *ev_resume;    /* owned: accept() again after a pause */
	struct event *ev_evict;	    /* owned: look for slow ones again */
	int paused;		    /* s->ev taken out: no descriptor left */
	int closing;		    /* relayqd_submit_free runs */
	int jobfd[2], donefd[2];
	struct event *ev_done; /* owned */
	pthread_t thread;
	int running;
	struct relayqd_submit_lograte rate[RELAYQD_SUBMIT_LOG_UIDS];
	struct event *ev_rate; /* owned: logs the held counts */
	/* What one read() returned; nothing keeps a pointer into it. */
	char rbuf[RELAYQD_SUBMIT_READSZ];
};

/*
 * Makes an event at the submission socket's priority, the lowest of
 * relayqd's event base (RELAYQD_SUBMIT_NPRIO): in a loop turn where a
 * delivery and a submission are both ready, the delivery goes first.
 */
static struct event *
relayqd_submit_event_new(struct relayqd_submit *s, int fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event *ev;

	if ((ev = event_new(s->rd->base, fd, what, cb, arg)) == NULL)
		return NULL;
	if (event_priority_set(ev, RELAYQD_SUBMIT_NPRIO - 1) == -1) {
		event_free(ev);
		return NULL;
	}
	return ev;
}

/*
 * A group commit of the n connections in c: each file is written out,
 * fsynced and renamed into queue/, then ONE fsync of queue/ makes every
 * rename durable.  A connection's result is set only after that fsync
 * (or after its own failure), so no client hears K for a rename that
 * was not made durable.
 */
static void
relayqd_submit_commit(struct relayqd_submit *s, struct relayqd_submit_conn **c,
    size_t n)
{
	struct queue_writer *ws[RELAYQD_SUBMIT_MAX];
	struct rq_err errs[RELAYQD_SUBMIT_MAX];
	struct relayqd_submit_conn *done[RELAYQD_SUBMIT_MAX];
	size_t nok = 0;
	int e;

	for (size_t i = 0; i < n; i++) {
		c[i]->commit_rc = queue_writer_commit_nosync(c[i]->w,
		    QUEUE_DIR_QUEUE, &c[i]->err);
		c[i]->commit_errno = errno;
		if (c[i]->commit_rc == 0) {
			done[nok] = c[i];
			ws[nok++] = c[i]->w;
		}
	}
	if (nok == 0 ||
	    queue_spool_sync_dir(&s->rd->spool, QUEUE_DIR_QUEUE) == 0)
		return;
	e = errno;
	queue_writer_takeback(&s->rd->spool, QUEUE_DIR_QUEUE, ws, nok, e, errs);
	for (size_t i = 0; i < nok; i++) {
		done[i]->commit_rc = -1;
		done[i]->commit_errno = e;
		done[i]->err = errs[i];
	}
}

/*
 * The commit thread: takes every commit waiting in the pipe at once,
 * commits them as one group, reports them back.
 */
static void *
relayqd_submit_main(void *arg)
{
	struct relayqd_submit *s = arg;
	struct relayqd_submit_conn *c[RELAYQD_SUBMIT_MAX];
	size_t n, off;
	ssize_t r;

	for (;;) {
		/* Pointer records are written whole (sizeof < PIPE_BUF). */
		r = read(s->jobfd[0], c, sizeof(c));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = (size_t)r / sizeof(c[0]);
		relayqd_submit_commit(s, c, n);
		for (off = 0; off < n * sizeof(c[0]);) {
			r = write(s->donefd[1], (char *)c + off,
			    n * sizeof(c[0]) - off);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (size_t)r;
		}
	}
	return NULL;
}

/*
 * Unlinks c and frees it; its temporary file, if any, is removed.  A
 * connection that was being read frees a slot: the waiting ones are
 * looked at from the loop (ev_unpark), never from here.
 */
static void
relayqd_submit_conn_free(struct relayqd_submit_conn *c)
{
	struct relayqd_submit *s = c->s;

	if (c->waiting) {
		TAILQ_REMOVE(&s->waitq, c, wlink);
		s->nwait--;
	} else {
		relayqd_unix_peers_remove(&s->peers, &c->peer);
	}
	/* A descriptor and perhaps a slot came free. */
	if ((s->nwait > 0 || s->paused) && !s->closing && s->ev_unpark != NULL)
		event_active(s->ev_unpark, EV_TIMEOUT, 0);
	if (c->begun)
		queue_writer_abort(c->w);
	free(c->w);
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->fd != -1)
		(void)close(c->fd);
	queue_env_free(&c->env);
	free(c->sender);
	free(c->rcpt);
	free(c->orcpt);
	free(c->dsn_ret);
	free(c->dsn_envid);
	free(c->login);
	free(c->login_sender);
	free(c);
}

/* Sends frames in b (small; the socket buffer holds them) best effort. */
static void
relayqd_submit_send(struct relayqd_submit_conn *c, struct buf *b)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		n = send(c->fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(b);
}

/* Returns the monotonic clock in milliseconds. */
static int64_t
relayqd_submit_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the monotonic clock in seconds. */
static time_t
relayqd_submit_mono(void)
{
	return (time_t)(relayqd_submit_mono_ms() / 1000);
}

/* Logs the summary of r's held refusals, if any. */
static void
relayqd_submit_rate_flush(struct relayqd_submit_lograte *r, time_t now)
{
	if (r->held == 0)
		return;
	log_info("%lu connection%s refused (uid %lu) in the last %llds",
	    r->held, r->held == 1 ? "" : "s", (unsigned long)r->uid,
	    (long long)(now - r->first_held + 1));
	r->held = 0;
	r->last = now;
}

/* ev_rate: a second after a refusal was held, logs the summaries. */
static void
relayqd_submit_rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit *s = arg;
	time_t now = relayqd_submit_mono();
	struct timeval tv = { 1, 0 };
	int more = 0;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < RELAYQD_SUBMIT_LOG_UIDS; i++) {
		struct relayqd_submit_lograte *r = &s->rate[i];

		if (r->used && r->held > 0) {
			if (now - r->last >= 1)
				relayqd_submit_rate_flush(r, now);
			else
				more = 1;
		}
	}
	if (more)
		(void)event_add(s->ev_rate, &tv);
}

/*
 * Returns nonzero when a refusal of uid may be logged now: one line per
 * uid per second; the others are counted and summed up in one line
 * ("N connections refused (uid U) in the last Ns") a second later, so a
 * flood of connections cannot flood the log.
 */
static int
relayqd_submit_rate_ok(struct relayqd_submit *s, uid_t uid)
{
	struct relayqd_submit_lograte *r = NULL, *old = &s->rate[0];
	time_t now = relayqd_submit_mono();
	struct timeval tv = { 1, 0 };

	for (size_t i = 0; i < RELAYQD_SUBMIT_LOG_UIDS; i++) {
		if (s->rate[i].used && s->rate[i].uid == uid) {
			r = &s->rate[i];
			break;
		}
		if (!s->rate[i].used || s->rate[i].last < old->last)
			old = &s->rate[i];
	}
	if (r == NULL) {
		/* The least recent slot goes; its count is logged first. */
		if (old->used)
			relayqd_submit_rate_flush(old, now);
		memset(old, 0, sizeof(*old));
		old->used = 1;
		old->uid = uid;
		old->last = now;
		return 1;
	}
	if (now - r->last >= 1) {
		relayqd_submit_rate_flush(r, now);
		r->last = now;
		return 1;
	}
	if (r->held++ == 0)
		r->first_held = now;
	if (s->ev_rate != NULL && !event_pending(s->ev_rate, EV_TIMEOUT, NULL))
		(void)event_add(s->ev_rate, &tv);
	return 0;
}

/* Answers X code text and closes the connection. */
static void
relayqd_submit_refuse(struct relayqd_submit_conn *c, int code, const char *text)
{
	struct buf b;

	if (relayqd_submit_rate_ok(c->s, c->peer.uid))
		log_info("submission from uid=%lu pid=%ld refused: %d %s",
		    (unsigned long)c->peer.uid, (long)c->peer.pid, code, text);
	buf_init(&b, 1024);
	if (queue_submit_error(&b, code, text) == 0)
		relayqd_submit_send(c, &b);
	else
		buf_free(&b);
	relayqd_submit_conn_free(c);
}

/* Maps a spool errno to a sysexits code (as the front end does). */
static int
relayqd_submit_exit_for(int e)
{
	switch (e) {
	case EINVAL:
		return EX_DATAERR; /* not in wire form */
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EROFS:
		return EX_CANTCREAT;
	default:
		return EX_TEMPFAIL;
	}
}

/* Adds the recipient waiting for its DSN frames to the envelope. */
static int
relayqd_submit_flush_rcpt(struct relayqd_submit_conn *c)
{
	int rv = 0;

	if (c->rcpt == NULL)
		return 0;
	/* A duplicate goes, as the front end drops it (addr_list_add). */
	for (size_t i = 0; i < c->env.nrcpt; i++)
		if (addr_is_same(c->env.rcpts[i], c->rcpt)) {
			log_debug("uid=%lu: duplicate recipient <%s> dropped",
			    (unsigned long)c->peer.uid, c->rcpt);
			goto out;
		}
	if (queue_env_add_rcpt_dsn(&c->env, c->rcpt, c->notify, c->orcpt) == -1)
		rv = -1;
	else if (addr_is_utf8(c->rcpt))
		c->env.flags |= QUEUE_ENV_F_SMTPUTF8;
out:
	free(c->rcpt);
	free(c->orcpt);
	c->rcpt = c->orcpt = NULL;
	c->notify = 0;
	return rv;
}

/*
 * The envelope sender for c: the S frame when this uid may choose one,
 * else its login name at masquerade or default_domain.  For a uid other
 * than 0 also sets c->login (its login name) and c->login_sender (its own
 * address), for X-Authentication-Warning.  Returns an owned string, or
 * NULL with *why.
 */
static char *
relayqd_submit_sender(struct relayqd_submit_conn *c, const char **why)
{
	const struct conf *conf = &c->s->rd->conf;
	const char *dom = conf->masquerade[0] != '\0' ? conf->masquerade
						      : conf->default_domain;
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096], *out = NULL;
	const char *errstr = NULL;

	if (c->peer.uid == 0)
		return xstrdup(c->sender);
	if (getpwuid_r(c->peer.uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    pwp == NULL) {
		if (conf->allow_from_override)
			return xstrdup(c->sender); /* warned: no login */
		*why = "no login name for this uid in the user database";
		return NULL;
	}
	c->login = xstrdup(pw.pw_name);
	if (addr_parse_sender(pw.pw_name, dom, &out, &errstr) == -1 ||
	    out[0] == '\0') {
		free(out);
		if (conf->allow_from_override)
			return xstrdup(c->sender);
		*why = "cannot make a sender address from the login name";
		return NULL;
	}
	c->login_sender = out;
	if (conf->allow_from_override)
		return xstrdup(c->sender);
	if (strcmp(out, c->sender) != 0)
		log_info("uid=%lu: sender <%s> replaced by <%s> "
			 "(allow_from_override = no)",
		    (unsigned long)c->peer.uid, c->sender, out);
	return xstrdup(out);
}

/*
 * The free-space reserve (queue_minfree) for a uid other than root, as
 * the spool path checks it in the front end: what is still to come of the
 * declared size, and of every other submission under way over the
 * socket, must leave the reserve free (so that submitters checking at
 * the same moment cannot each count the same free space).  Refuses c
 * (X75) and returns -1 when it would not.
 */
static int
relayqd_submit_reserve(struct relayqd_submit_conn *c)
{
	struct relayqd_unix_peer *p;
	struct rq_err err;
	uint64_t need = c->p.declared - c->p.body;

	c->reserve_at = c->p.body;
	if (c->peer.uid == 0)
		return 0;
	TAILQ_FOREACH(p, &c->s->peers.q, link) {
		const struct relayqd_submit_conn *o = p->owner;

		if (o != c && o->begun && !o->committing)
			need += o->p.declared - o->p.body;
	}
	if (queue_spool_room(&c->s->rd->spool, c->s->rd->conf.queue_minfree,
		need, &err) == 0)
		return 0;
	relayqd_submit_refuse(c, EX_TEMPFAIL, err.msg);
	return -1;
}

/* Z: completes the envelope, checks the size, creates tmp/<id>. */
static int
relayqd_submit_start(struct relayqd_submit_conn *c)
{
	struct relayd *rd = c->s->rd;
	const char *why = NULL;
	struct buf rcv, go;

	if (relayqd_submit_flush_rcpt(c) == -1) {
		relayqd_submit_refuse(c, EX_USAGE, "invalid recipient");
		return -1;
	}
	if (c->p.declared == 0) {
		/* The front end always writes a header section. */
		relayqd_submit_refuse(c, EX_DATAERR,
		    "empty message: no header section; not queued");
		return -1;
	}
	if (c->p.declared > (uint64_t)rd->conf.max_message_size) {
		char text[128];

		(void)snprintf(text, sizeof(text),
		    "message exceeds the size limit of %lld bytes; not queued",
		    rd->conf.max_message_size);
		relayqd_submit_refuse(c, EX_DATAERR, text);
		return -1;
	}
	if (relayqd_submit_reserve(c) == -1)
		return -1;
	if ((c->env.sender = relayqd_submit_sender(c, &why)) == NULL) {
		relayqd_submit_refuse(c, EX_CONFIG, why);
		return -1;
	}
	if (addr_is_utf8(c->env.sender))
		c->env.flags |= QUEUE_ENV_F_SMTPUTF8;
	if (c->decl_8bit)
		c->env.flags |= QUEUE_ENV_F_8BIT;
	if (queue_env_set_dsn(&c->env, c->dsn_ret, c->dsn_envid) == -1) {
		relayqd_submit_refuse(c, EX_USAGE, "invalid DSN RET or ENVID");
		return -1;
	}
	c->env.uid = (long long)c->peer.uid;
	c->env.arrival = relayqd_now();
	c->w = xmalloc(sizeof(*c->w));
	memset(c->w, 0, offsetof(struct queue_writer, buf));
	c->w->fd = -1;
	if (queue_writer_begin(c->w, &rd->spool, &c->env, &c->err) == -1) {
		int code = relayqd_submit_exit_for(errno);

		log_warnx("submission from uid=%lu: %s",
		    (unsigned long)c->peer.uid, c->err.msg);
		relayqd_submit_refuse(c, code == EX_DATAERR ? EX_USAGE : code,
		    "cannot create the queue file");
		return -1;
	}
	c->begun = 1;
	buf_init(&rcv, 4096);
	if (queue_submit_received(&rcv, rd->conf.hostname,
		(long long)c->peer.uid,
		c->proto[0] != '\0' ? c->proto : "local",
		c->helo[0] != '\0' ? c->helo : NULL, 0) == -1 ||
	    (queue_submit_warns((long long)c->peer.uid, c->env.sender,
		 c->login_sender) &&
		queue_submit_auth_warning(&rcv, rd->conf.hostname, c->login,
		    c->env.sender,
		    strcmp(c->proto, "ESMTP") == 0 ? "MAIL FROM" : "-f") ==
		    -1) ||
	    queue_writer_body(c->w, rcv.data, rcv.len) == -1) {
		buf_free(&rcv);
		relayqd_submit_refuse(c, EX_TEMPFAIL,
		    "cannot write the queue file");
		return -1;
	}
	buf_free(&rcv);
	buf_init(&go, 64);
	if (queue_submit_frame(&go, 'G', "", 0) == 0)
		relayqd_submit_send(c, &go);
	else
		buf_free(&go);
	return 0;
}

/* One envelope frame. */
static int
relayqd_submit_frame(struct relayqd_submit_conn *c,
    const struct queue_submit_ev *ev)
{
	if (ev->key != 'N' && ev->key != 'O' &&
	    relayqd_submit_flush_rcpt(c) == -1) {
		relayqd_submit_refuse(c, EX_USAGE, "invalid recipient");
		return -1;
	}
	switch (ev->key) {
	case 'S':
		c->sender = xstrdup(ev->val);
		break;
	case 'D':
		c->dsn_ret = xstrdup(ev->val);
		break;
	case 'V':
		c->dsn_envid = xstrdup(ev->val);
		break;
	case 'R':
		c->rcpt = xstrdup(ev->val);
		break;
	case 'N':
		(void)queue_env_parse_notify(ev->val, ev->len, &c->notify);
		break;
	case 'O':
		c->orcpt = xstrdup(ev->val);
		break;
	case 'P':
		(void)strlcpy(c->proto, ev->val, sizeof(c->proto));
		break;
	case 'W':
		(void)strlcpy(c->helo, ev->val, sizeof(c->helo));
		break;
	case 'F':
		c->decl_8bit = ev->len > 0;
		break;
	case 'Z':
		return relayqd_submit_start(c);
	default: /* H */
		break;
	}
	return 0;
}

/* Body bytes: into the queue writer (which checks the wire form). */
static int
relayqd_submit_body(struct relayqd_submit_conn *c, const char *p, size_t len)
{
	if (!c->decl_8bit && str_has_8bit(p, len)) {
		relayqd_submit_refuse(c, EX_DATAERR,
		    "8-bit data without the 8bit flag");
		return -1;
	}
	if (c->p.body - c->reserve_at >= RELAYQD_SUBMIT_RESERVE_EVERY &&
	    relayqd_submit_reserve(c) == -1)
		return -1;
	if (queue_writer_body(c->w, p, len) == -1) {
		int code = relayqd_submit_exit_for(errno);

		relayqd_submit_refuse(c, code,
		    code == EX_DATAERR ? "body not in wire form"
				       : "cannot write the queue file");
		return -1;
	}
	return 0;
}

/* E: hands the commit to the thread. */
static void
relayqd_submit_end(struct relayqd_submit_conn *c)
{
	event_del(c->ev_read);
	event_del(c->ev_timer);
	c->committing = 1;
	if (write(c->s->jobfd[1], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
		c->committing = 0;
		relayqd_submit_refuse(c, EX_TEMPFAIL, "cannot commit now");
	}
}

/* Maps a parser error to an exit code. */
static int
relayqd_submit_parse_code(const char *errstr)
{
	if (strstr(errstr, "recipient") != NULL ||
	    strstr(errstr, "sender") != NULL || strstr(errstr, "DSN") != NULL)
		return EX_USAGE;
	return EX_DATAERR;
}

/* Readable: feeds what came to the parser, event by event. */
static void
relayqd_submit_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit_conn *c = arg;
	struct timeval tv = { c->s->rd->conf.submit_timeout, 0 };
	struct queue_submit_ev ev;
	const char *errstr = NULL;
	size_t off = 0, used;
	ssize_t n;

	(void)what;
	if ((n = read(fd, c->s->rbuf, sizeof(c->s->rbuf))) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		relayqd_submit_conn_free(c);
		return;
	}
	if (n == 0) {
		/* The client went away before E: nothing is queued. */
		log_debug("submission from uid=%lu pid=%ld: connection closed "
			  "before the end",
		    (unsigned long)c->peer.uid, (long)c->peer.pid);
		relayqd_submit_conn_free(c);
		return;
	}
	event_add(c->ev_timer, &tv);
	c->nread += (uint64_t)n;
	while (off < (size_t)n) {
		switch (queue_submit_parse(&c->p, c->s->rbuf + off,
		    (size_t)n - off, &used, &ev, &errstr)) {
		case QUEUE_SUBMIT_EV_NEED:
			off += used;
			break;
		case QUEUE_SUBMIT_EV_FRAME:
			off += used;
			if (relayqd_submit_frame(c, &ev) == -1)
				return;
			break;
		case QUEUE_SUBMIT_EV_BODY:
			off += used;
			if (relayqd_submit_body(c, ev.val, ev.len) == -1)
				return;
			break;
		case QUEUE_SUBMIT_EV_END:
			relayqd_submit_end(c);
			return; /* anything after E is ignored */
		default:
			relayqd_submit_refuse(c,
			    relayqd_submit_parse_code(errstr), errstr);
			return;
		}
	}
}

/*
 * No progress for submit_timeout: drop the client.  One that waited as
 * long for a slot is told "busy:", which sendmail retries.
 */
static void
relayqd_submit_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->waiting)
		relayqd_submit_refuse(c, EX_TEMPFAIL,
		    "busy: no connection came free in time; try again later");
	else
		relayqd_submit_refuse(c, EX_TEMPFAIL,
		    "timeout: no data from the client");
}

/* A commit finished: answers the client. */
static void
relayqd_submit_done(struct relayqd_submit_conn *c)
{
	struct buf b;

	c->committing = 0;
	c->begun = 0; /* commit either committed or removed tmp/<id> */
	if (c->commit_rc == -1) {
		log_warnx("submission from uid=%lu: %s",
		    (unsigned long)c->peer.uid, c->err.msg);
		relayqd_submit_refuse(c,
		    relayqd_submit_exit_for(c->commit_errno),
		    "cannot commit the queue file");
		return;
	}
	log_info("%s: submitted over the socket by uid=%lu gid=%lu pid=%ld "
		 "from=<%s> nrcpt=%zu size=%llu",
	    c->w->id, (unsigned long)c->peer.uid, (unsigned long)c->peer.gid,
	    (long)c->peer.pid, c->env.sender, c->env.nrcpt,
	    (unsigned long long)c->p.declared);
	buf_init(&b, 64);
	if (queue_submit_frame(&b, 'K', c->w->id, strlen(c->w->id)) == 0)
		relayqd_submit_send(c, &b);
	else
		buf_free(&b);
	/* Durable in queue/ (like a bounce): schedule it now. */
	if (!c->s->rd->stopping) {
		relayqd_sched_add(c->s->rd->sched, c->w->id, relayqd_now());
		relayqd_stats_touch(c->s->rd);
		relayqd_kick(c->s->rd);
	}
	relayqd_submit_conn_free(c);
}

/* The commit thread reported: answers each client it is done with. */
static void
relayqd_submit_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit_conn *c[32];
	ssize_t n;

	(void)what;
	(void)arg;
	/*
	 * Pointer records are written whole (sizeof < PIPE_BUF).  A short
	 * read emptied the pipe: no second read to hear EAGAIN (what comes
	 * later makes the pipe readable again).
	 */
	do {
		if ((n = read(fd, c, sizeof(c))) <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(c[0]); i++)
			relayqd_submit_done(c[i]);
	} while ((size_t)n == sizeof(c));
}

/* True when a connection of uid may be read now. */
static int
relayqd_submit_has_room(const struct relayqd_submit *s, uid_t uid)
{
	return s->peers.n < RELAYQD_SUBMIT_MAX &&
	    relayqd_unix_peers_count(&s->peers, uid) < RELAYQD_SUBMIT_PER_UID;
}

/* Counts the waiting connections of uid. */
static int
relayqd_submit_nwaiting(const struct relayqd_submit *s, uid_t uid)
{
	const struct relayqd_submit_conn *c;
	int k = 0;

	TAILQ_FOREACH(c, &s->waitq, wlink)
		k += c->peer.uid == uid;
	return k;
}

/* Moves waiting c to the connections being read, with a fresh timeout. */
static void
relayqd_submit_activate(struct relayqd_submit_conn *c)
{
	struct relayqd_submit *s = c->s;
	struct timeval tv = { s->rd->conf.submit_timeout, 0 };

	TAILQ_REMOVE(&s->waitq, c, wlink);
	s->nwait--;
	c->waiting = 0;
	relayqd_unix_peers_add(&s->peers, &c->peer, c);
	c->since = relayqd_submit_mono_ms();
	c->nread = 0;
	if (event_add(c->ev_read, NULL) == -1 ||
	    event_add(c->ev_timer, &tv) == -1) {
		relayqd_submit_refuse(c, EX_TEMPFAIL, "out of resources");
		return;
	}
	/* Its envelope is most likely there already: read it this turn. */
	event_active(c->ev_read, EV_READ, 0);
}

/*
 * Returns nonzero when c, being read, is slow (RELAYQD_SUBMIT_SLOW_GRACE,
 * RELAYQD_SUBMIT_MIN_RATE): read for the grace at least, less than the
 * rate on average, and nothing unread in its socket (bytes waiting there
 * mean that relayqd, not the client, is behind).  A commit under way is
 * never slow.  *rate gets its average, in bytes a second.
 */
static int
relayqd_submit_is_slow(const struct relayqd_submit_conn *c, int64_t now,
    uint64_t *rate)
{
	int64_t ms = now - c->since;
	int unread = 0;

	if (c->waiting || c->committing ||
	    ms < (int64_t)RELAYQD_SUBMIT_SLOW_GRACE * 1000)
		return 0;
	*rate = c->nread * 1000 / (uint64_t)ms;
	if (*rate >= RELAYQD_SUBMIT_MIN_RATE)
		return 0;
	if (ioctl(c->fd, FIONREAD, &unread) == -1 || unread > 0)
		return 0;
	return 1;
}

/*
 * Every slot is taken and a connection of uid waits: when another uid
 * holds more slots than uid does, its slowest slow connection (see
 * relayqd_submit_is_slow) is dropped with "busy:" and 1 is returned (the
 * caller gives the slot to the waiting one at once).  So a few uids that
 * trickle bytes into every slot cannot lock the others out, and a busy
 * uid whose clients send at full speed keeps its slots.  Returns 0 when
 * nothing was dropped.
 */
static int
relayqd_submit_evict(struct relayqd_submit *s, uid_t uid)
{
	struct relayqd_unix_peer *p;
	struct relayqd_submit_conn *slow = NULL;
	uint64_t rate, best = 0;
	int64_t now = relayqd_submit_mono_ms();
	int mine;
	char text[160];

	if (s->peers.n < RELAYQD_SUBMIT_MAX ||
	    (mine = relayqd_unix_peers_count(&s->peers, uid)) >=
		RELAYQD_SUBMIT_PER_UID)
		return 0;
	TAILQ_FOREACH(p, &s->peers.q, link) {
		struct relayqd_submit_conn *c = p->owner;

		if (p->uid == uid ||
		    relayqd_unix_peers_count(&s->peers, p->uid) <= mine ||
		    !relayqd_submit_is_slow(c, now, &rate))
			continue;
		if (slow == NULL || rate < best) {
			slow = c;
			best = rate;
		}
	}
	if (slow == NULL)
		return 0;
	log_info("submission from uid=%lu pid=%ld dropped: %llu bytes in %llds "
		 "while uid=%lu waits for a connection",
	    (unsigned long)slow->peer.uid, (long)slow->peer.pid,
	    (unsigned long long)slow->nread,
	    (long long)((now - slow->since) / 1000), (unsigned long)uid);
	(void)snprintf(text, sizeof(text),
	    "busy: too slow (%llu bytes in %llds) while others wait; try "
	    "again later",
	    (unsigned long long)slow->nread,
	    (long long)((now - slow->since) / 1000));
	relayqd_submit_refuse(slow, EX_TEMPFAIL, text);
	return 1;
}

/*
 * Arms ev_evict: a second from now, the waiting connections that every
 * slot being taken keeps out look for a slow one to replace again.
 */
static void
relayqd_submit_evict_later(struct relayqd_submit *s)
{
	struct timeval tv = { 1, 0 };

	if (s->ev_evict != NULL && !s->closing &&
	    !event_pending(s->ev_evict, EV_TIMEOUT, NULL))
		(void)event_add(s->ev_evict, &tv);
}

/*
 * ev_evict: each waiting connection, oldest first, that finds every slot
 * taken and holds fewer than some other uid takes a slow one's slot
 * (relayqd_submit_evict).  Looks again a second later while any is left.
 */
static void
relayqd_submit_evict_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit *s = arg;
	struct relayqd_submit_conn *c, *next;
	int again = 0;

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&s->waitq); c != NULL; c = next) {
		next = TAILQ_NEXT(c, wlink);
		if (s->peers.n < RELAYQD_SUBMIT_MAX)
			break; /* ev_unpark's business */
		if (relayqd_unix_peers_count(&s->peers, c->peer.uid) >=
		    RELAYQD_SUBMIT_PER_UID)
			continue;
		if (relayqd_submit_evict(s, c->peer.uid))
			relayqd_submit_activate(c);
		else
			again = 1;
	}
	if (again)
		relayqd_submit_evict_later(s);
}

/* Takes accept() up again after a pause (ev_resume, or a freed fd). */
static void
relayqd_submit_resume(struct relayqd_submit *s)
{
	if (!s->paused)
		return;
	if (s->ev_resume != NULL)
		event_del(s->ev_resume);
	if (event_add(s->ev, NULL) == -1) {
		struct timeval tv = { 1, 0 };

		(void)event_add(s->ev_resume, &tv);
		return;
	}
	s->paused = 0;
}

/* ev_resume: a second after accept() failed for want of a descriptor. */
static void
relayqd_submit_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relayqd_submit_resume(arg);
}

/*
 * accept() failed: when for want of a descriptor or of memory, the
 * listener stays readable, and the loop would spin on it; it is taken
 * out until a connection ends or a second passed.  The clients wait in
 * the listen backlog meanwhile.
 */
static void
relayqd_submit_accept_failed(struct relayqd_submit *s)
{
	struct timeval tv = { 1, 0 };

	if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
	    errno != ENOMEM)
		return;
	log_warn("submission socket: cannot accept a connection; not "
		 "accepting until one ends or for a second");
	if (event_del(s->ev) == -1 || event_add(s->ev_resume, &tv) == -1) {
		(void)event_add(s->ev, NULL);
		return;
	}
	s->paused = 1;
}

/*
 * ev_unpark: slots (or descriptors) came free; the waiting connections
 * that fit now are read, oldest first, and a paused accept() resumes.
 */
static void
relayqd_submit_unpark_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_submit *s = arg;
	struct relayqd_submit_conn *c, *next;
	uid_t full = 0;
	int have_full = 0;

	(void)fd;
	(void)what;
	relayqd_submit_resume(s);
	for (c = TAILQ_FIRST(&s->waitq);
	     c != NULL && s->peers.n < RELAYQD_SUBMIT_MAX; c = next) {
		next = TAILQ_NEXT(c, wlink);
		/* A run of one uid's clients is counted once. */
		if (have_full && c->peer.uid == full)
			continue;
		if (relayqd_submit_has_room(s, c->peer.uid)) {
			relayqd_submit_activate(c);
		} else {
			full = c->peer.uid;
			have_full = 1;
		}
	}
}

/*
 * Accepts one connection.  One that finds no slot (RELAYQD_SUBMIT_MAX in
 * all, RELAYQD_SUBMIT_PER_UID for its uid) waits, unread, until a slot
 * comes free (at most submit_timeout): a burst of submitters then queues
 * here instead of each being refused and retrying, which cost relayqd's
 * loop an accept, a reply and a close per retry.  The waiting ones are
 * bounded too (s->wait_max, and s->wait_per_uid so that one uid cannot
 * take every place in the queue); beyond them the connection is refused
 * with "busy:" as before.
 */
static void
relayqd_submit_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct relayqd_submit *s = arg;
	struct relayqd_submit_conn *c;
	struct relayqd_unix_peer peer;
	struct timeval tv = { s->rd->conf.submit_timeout, 0 };
	int fd;

	(void)what;
	if ((fd = relayqd_unix_accept(lfd, &peer)) == -1) {
		relayqd_submit_accept_failed(s);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->fd = fd;
	c->peer = peer;
	queue_env_init(&c->env);
	queue_submit_init(&c->p, QUEUE_SUBMIT_SERVER,
	    (size_t)s->rd->conf.max_recipients);
	c->waiting = 1;
	TAILQ_INSERT_TAIL(&s->waitq, c, wlink);
	s->nwait++;
	if ((c->ev_read = relayqd_submit_event_new(s, fd, EV_READ | EV_PERSIST,
		 relayqd_submit_read_cb, c)) == NULL ||
	    (c->ev_timer = relayqd_submit_event_new(s, -1, 0,
		 relayqd_submit_timer_cb, c)) == NULL) {
		relayqd_submit_refuse(c, EX_TEMPFAIL, "out of resources");
		return;
	}
	if (relayqd_submit_has_room(s, c->peer.uid) ||
	    relayqd_submit_evict(s, c->peer.uid)) {
		relayqd_submit_activate(c);
		return;
	}
	if (s->nwait > s->wait_max ||
	    relayqd_submit_nwaiting(s, c->peer.uid) > s->wait_per_uid) {
		relayqd_submit_refuse(c, EX_TEMPFAIL,
		    s->peers.n >= RELAYQD_SUBMIT_MAX
			? "busy: too many submissions at once; try again later"
			: "busy: too many submissions from this user at "
			  "once; try again later");
		return;
	}
	if (event_add(c->ev_timer, &tv) == -1) {
		relayqd_submit_refuse(c, EX_TEMPFAIL, "out of resources");
		return;
	}
	if (s->peers.n >= RELAYQD_SUBMIT_MAX)
		relayqd_submit_evict_later(s);
}

/*
 * Sets how many connections may wait for a slot: RELAYQD_SUBMIT_WAIT_MAX,
 * or what RLIMIT_NOFILE leaves over RELAYQD_SUBMIT_FDS_KEPT (each one
 * holds a descriptor), so that waiting clients never take the files the
 * submissions being read and the deliveries need.
 */
static void
relayqd_submit_wait_bounds(struct relayqd_submit *s)
{
	struct rlimit rl;
	rlim_t left = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur > RELAYQD_SUBMIT_FDS_KEPT)
		left = rl.rlim_cur - RELAYQD_SUBMIT_FDS_KEPT;
	s->wait_max = left < RELAYQD_SUBMIT_WAIT_MAX ? (int)left
						     : RELAYQD_SUBMIT_WAIT_MAX;
	s->wait_per_uid = s->wait_max - s->wait_max / 8;
}

/* Takes the socket systemd passed, if any. */
int
relayqd_submit_inherited(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *errstr;
	long long p, n;
	int type = 0, acc = 0;
	socklen_t len = sizeof(int);
	struct sockaddr_un sun;
	socklen_t slen = sizeof(sun);

	if (pid == NULL || fds == NULL ||
	    str_to_ll(pid, 1, 1LL << 31, &p, &errstr) == -1 ||
	    str_to_ll(fds, 1, 64, &n, &errstr) == -1 ||
	    p != (long long)getpid())
		return -1;
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (getsockopt(RELAYQD_SUBMIT_LISTEN_FD, SOL_SOCKET, SO_TYPE, &type,
		&len) == -1 ||
	    type != SOCK_STREAM ||
	    getsockopt(RELAYQD_SUBMIT_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN,
		&acc, &len) == -1 ||
	    !acc ||
	    getsockname(RELAYQD_SUBMIT_LISTEN_FD, (struct sockaddr *)&sun,
		&slen) == -1 ||
	    sun.sun_family != AF_UNIX) {
		log_warnx("LISTEN_FDS: fd 3 is not a listening unix stream "
			  "socket; ignored");
		return -1;
	}
	(void)fcntl(RELAYQD_SUBMIT_LISTEN_FD, F_SETFD, FD_CLOEXEC);
	return RELAYQD_SUBMIT_LISTEN_FD;
}

/*
 * Binds path with mode 0666 and listens; returns the socket or -1
 * (logged, nothing left at path).
 */
static int
relayqd_submit_bind(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	char why[512];
	mode_t old;
	int fd, rc, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("submit_socket %s: path too long", path);
		return -1;
	}
	if (queue_spool_sockdir_check(path, why, sizeof(why)) == -1) {
		log_warnx("not listening for submissions: %s", why);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1) {
		log_warn("cannot create the submission socket");
		return -1;
	}
	if (lstat(path, &st) == 0) {
		/* Someone listening there keeps it; a dead socket goes. */
		int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (!S_ISSOCK(st.st_mode) || t == -1 ||
		    connect(t, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno != ECONNREFUSED) {
			log_warnx("submit_socket %s exists and is in use (or "
				  "not a socket); not listening there",
			    path);
			if (t != -1)
				(void)close(t);
			(void)close(fd);
			return -1;
		}
		(void)close(t);
		(void)unlink(path);
	}
	/*
	 * Mode 0666 from the start: the fd's mode and a umask around bind,
	 * never a chmod by path afterwards (it would follow a symlink put
	 * there meanwhile).
	 */
	(void)fchmod(fd, 0666);
	old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	(void)umask(old);
	if (rc == -1) {
		errno = e;
		log_warn("cannot bind the submission socket %s", path);
		(void)close(fd);
		return -1;
	}
	if (listen(fd, RELAYQD_SUBMIT_BACKLOG) == -1) {
		log_warn("cannot listen on %s", path);
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

/* Starts the commit thread; returns 0 or -1 (logged). */
static int
relayqd_submit_thread(struct relayqd_submit *s)
{
	sigset_t all, old;
	int e;

	if (pipe2(s->jobfd, O_CLOEXEC) == -1)
		goto fail;
	if (pipe2(s->donefd, O_CLOEXEC | O_NONBLOCK) == -1) {
		(void)close(s->jobfd[0]);
		(void)close(s->jobfd[1]);
		goto fail;
	}
	/* The loop never blocks on a job write (at most MAX in flight). */
	(void)fcntl(s->jobfd[1], F_SETFL, O_NONBLOCK);
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&s->thread, NULL, relayqd_submit_main, s);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		(void)close(s->jobfd[0]);
		(void)close(s->jobfd[1]);
		(void)close(s->donefd[0]);
		(void)close(s->donefd[1]);
		goto fail;
	}
	s->running = 1;
	return 0;
fail:
	log_warn("submission socket: cannot start the commit thread");
	s->jobfd[0] = s->jobfd[1] = s->donefd[0] = s->donefd[1] = -1;
	return -1;
}

/* The path a passed socket listens on, or "(from systemd)". */
static void
relayqd_submit_sockname(int fd, char *path, size_t pathsz)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX || sun.sun_path[0] == '\0' ||
	    strlcpy(path, sun.sun_path, pathsz) >= pathsz)
		(void)strlcpy(path, "(from systemd)", pathsz);
}

/* Creates the listener. */
struct relayqd_submit *
relayqd_submit_new(struct relayd *rd, int fd)
{
	struct relayqd_submit *s = xcalloc(1, sizeof(*s));

	s->rd = rd;
	s->fd = -1;
	relayqd_unix_peers_init(&s->peers);
	TAILQ_INIT(&s->waitq);
	relayqd_submit_wait_bounds(s);
	s->jobfd[0] = s->jobfd[1] = s->donefd[0] = s->donefd[1] = -1;
	if (fd != -1) {
		s->fd = fd;
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		relayqd_submit_sockname(fd, s->path, sizeof(s->path));
	} else if ((s->fd = relayqd_submit_bind(rd->conf.submit_socket)) ==
	    -1) {
		relayqd_submit_free(s);
		return NULL;
	} else {
		s->bound = 1;
		(void)strlcpy(s->path, rd->conf.submit_socket, sizeof(s->path));
	}
	if ((s->ev_rate = relayqd_submit_event_new(s, -1, 0,
		 relayqd_submit_rate_cb, s)) == NULL ||
	    (s->ev_unpark = relayqd_submit_event_new(s, -1, 0,
		 relayqd_submit_unpark_cb, s)) == NULL ||
	    (s->ev_resume = relayqd_submit_event_new(s, -1, 0,
		 relayqd_submit_resume_cb, s)) == NULL ||
	    (s->ev_evict = relayqd_submit_event_new(s, -1, 0,
		 relayqd_submit_evict_cb, s)) == NULL ||
	    relayqd_submit_thread(s) == -1 ||
	    (s->ev_done = relayqd_submit_event_new(s, s->donefd[0],
		 EV_READ | EV_PERSIST, relayqd_submit_done_cb, s)) == NULL ||
	    event_add(s->ev_done, NULL) == -1 ||
	    (s->ev = relayqd_submit_event_new(s, s->fd, EV_READ | EV_PERSIST,
		 relayqd_submit_accept_cb, s)) == NULL ||
	    event_add(s->ev, NULL) == -1) {
		log_warnx("submission socket %s not started", s->path);
		relayqd_submit_free(s);
		return NULL;
	}
	log_info("submission socket %s", s->bound ? s->path : "from systemd");
	return s;
}

/*
 * SIGHUP: follows a changed submit_socket.  A socket relayqd bound itself
 * moves: the new path is bound first, and only then is the old listener
 * closed and its path removed, so a new path that cannot be used keeps
 * the old one; connections already accepted go on.  The socket systemd
 * passed stays: relayqd.socket's ListenStream= decides its path.
 */
void
relayqd_submit_reload(struct relayqd_submit *s)
{
	const char *path = s->rd->conf.submit_socket;
	struct event *ev;
	int fd;

	if (!s->bound) {
		if (strcmp(path, s->path) == 0)
			return;
		log_info("submit_socket = %s is not used: the submission "
			 "socket comes from systemd (relayqd.socket's "
			 "ListenStream= sets its path)",
		    path);
		return;
	}
	if (strcmp(path, s->path) == 0)
		return;
	if ((fd = relayqd_submit_bind(path)) == -1) {
		log_warnx("submit_socket: still listening on %s", s->path);
		return;
	}
	if ((ev = relayqd_submit_event_new(s, fd, EV_READ | EV_PERSIST,
		 relayqd_submit_accept_cb, s)) == NULL ||
	    event_add(ev, NULL) == -1) {
		log_warnx("submit_socket %s: cannot watch it; still listening "
			  "on %s",
		    path, s->path);
		if (ev != NULL)
			event_free(ev);
		(void)close(fd);
		(void)unlink(path);
		return;
	}
	event_free(s->ev);
	(void)close(s->fd);
	(void)unlink(s->path);
	if (s->paused) {
		event_del(s->ev_resume);
		s->paused = 0;
	}
	log_info("submission socket moved from %s to %s", s->path, path);
	s->ev = ev;
	s->fd = fd;
	(void)strlcpy(s->path, path, sizeof(s->path));
}

/* Stops everything, answering the commits in flight. */
void
relayqd_submit_free(struct relayqd_submit *s)
{
	struct relayqd_submit_conn *c;

	if (s == NULL)
		return;
	s->closing = 1;
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->running) {
		int e;

		(void)close(s->jobfd[1]);
		s->jobfd[1] = -1;
		if ((e = pthread_join(s->thread, NULL)) != 0)
			log_warnx("submit: pthread_join: %s", strerror(e));
		relayqd_submit_done_cb(s->donefd[0], EV_READ, s);
	}
	while ((c = relayqd_unix_peers_first(&s->peers)) != NULL)
		relayqd_submit_conn_free(c);
	while ((c = TAILQ_FIRST(&s->waitq)) != NULL)
		relayqd_submit_conn_free(c);
	if (s->ev_unpark != NULL)
		event_free(s->ev_unpark);
	if (s->ev_resume != NULL)
		event_free(s->ev_resume);
	if (s->ev_evict != NULL)
		event_free(s->ev_evict);
	if (s->ev_done != NULL)
		event_free(s->ev_done);
	if (s->ev_rate != NULL) {
		time_t now = relayqd_submit_mono();

		for (size_t i = 0; i < RELAYQD_SUBMIT_LOG_UIDS; i++)
			if (s->rate[i].used)
				relayqd_submit_rate_flush(&s->rate[i], now);
		event_free(s->ev_rate);
	}
	for (int i = 0; i < 2; i++) {
		if (s->jobfd[i] != -1)
			(void)close(s->jobfd[i]);
		if (s->donefd[i] != -1)
			(void)close(s->donefd[i]);
	}
	if (s->fd != -1)
		(void)close(s->fd);
	if (s->bound)
		(void)unlink(s->path);
	free(s);
}
