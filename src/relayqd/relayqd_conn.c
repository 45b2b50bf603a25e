/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * SMTP session glue.  Owns the bufferevent, the reply timer, the DNS
 * request and the smtp_client of one session.  Life cycle:
 *
 *	dial (relayqd_dial.c: resolve, connect to the first address that
 *	answers) -> [implicit TLS handshake] -> greeting ...
 *	ready <-> transaction ... -> QUIT -> closed -> deferred free
 *
 * Input lines are taken out of the bufferevent in the read callback and
 * bounded (STYLE.md §13e).  The queue file holds the body in wire form
 * (dot-stuffed, CRLF, checked on accept), so it is sent as stored.  The
 * final ".\r\n" is always appended to the last body bytes in one memory
 * chunk, so it never goes out as a lone small segment (libevent writes a
 * file segment with sendfile() on its own, and anything after it on the
 * next loop pass).  Plaintext: a body up to RC_BODY_INLINE is pread()
 * (or, when relayqd_msg_open() read the whole small file, copied) into
 * the output buffer with the dot, so one writev() carries both; a
 * larger one goes out with evbuffer_add_file() (sendfile) except its last
 * RC_BODY_TAIL bytes, which go from memory with the dot.  TLS: a file
 * segment would be mmap()ed and encrypted whole at once, so the body is
 * read in RC_BODY_CHUNK pieces, refilled as the socket drains.
 * While the body goes out, the timer is the data block timeout (RFC 5321
 * section 4.5.3.2.5), re-armed whenever the socket's output buffer
 * drains; the final reply's timeout starts once everything is written.
 *
 * A plaintext session (RC_DIRECT) does its own socket I/O around the
 * bufferevent's buffers, to save system calls on every message.
 * Writes: a socket bufferevent adds EPOLLOUT when output arrives and
 * removes it once the output is written, two epoll_ctl() calls and one
 * more pass of the loop for every burst, two bursts a message.  Its
 * EV_WRITE stays disabled instead; whatever is added to the output
 * activates rc->flush, which runs later in the same pass of the loop,
 * after every command of the burst was buffered, and writes the buffer
 * out at once (relayqd_conn_flush_cb).  Only when the socket cannot take
 * it all (a large body, a slow server) is EV_WRITE enabled, and libevent
 * writes the rest as before; disabled again once the output is empty.
 * Reads: libevent asks the kernel how much is there (ioctl FIONREAD)
 * before every read; rc->rev, a persistent read event of our own, just
 * reads into the input buffer (relayqd_conn_recv_cb), and end of file
 * or an error goes to relayqd_conn_event_cb as libevent would report it.
 * TLS sessions (implicit, or from STARTTLS on) leave all I/O to libevent.
 */
#include "config.h"

#include "relayqd/relayqd_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_id.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_dest.h"
#include "smarthost/smarthost_auth.h"
#include "smarthost/smarthost_io.h"
#include "relayqd/relayqd_dial.h"
#include "relayqd/relayqd_msg.h"
#include "relayqd/relayqd_oauth2.h"
#include "relayqd/relayqd_outcome.h"
#include "relayqd/relayqd_pwcmd.h"
#include "relayqd/relayqd_rate.h"
#include "relayqd/relayqd_sched.h"
#include "smarthost/smarthost_tls.h"
#include "relayqd/relayqd_verbose.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_reply.h"

#define RC_CLOSING 0x01	  /* free scheduled; ignore everything */
#define RC_SESSION 0x02	  /* TCP connected, SMTP running */
#define RC_WASREADY 0x04  /* the server got as far as ready once */
#define RC_IDLE 0x08	  /* idle timer running */
#define RC_STARTING 0x40  /* inside relayqd_conn_start() */
#define RC_HANDSHAKE 0x10 /* STARTTLS handshake running */
#define RC_TLS 0x20	  /* the session is encrypted */
#define RC_BODY 0x80	  /* the body is being written out */
#define RC_FILL 0x100	  /* body bytes or the dot still to buffer */
#define RC_TOKEN 0x200	  /* waiting for the OAuth2 refresh */
#define RC_AUTHING 0x400  /* AUTH sent, no 2xx yet */
#define RC_FRESH 0x800	  /* the token was refreshed for this session */
#define RC_SECRET 0x1000  /* waiting for password_command's output */
#define RC_DIRECT 0x2000  /* plaintext: socket I/O of our own (see above) */

/* Plaintext bodies up to this size go out from memory, with the dot. */
#define RC_BODY_INLINE (64 * 1024)
/* Larger ones: sendfile all but this many last bytes, sent with the dot. */
#define RC_BODY_TAIL (16 * 1024)
/* TLS: bytes read ahead of the socket; refilled below half of it. */
#define RC_BODY_CHUNK (64 * 1024)
/*
 * Largest single write.  libevent's default, 16384, would cut a body
 * chunk and its dot into 16 KB writes, and could leave the dot alone.
 */
#define RC_WRITE_MAX (RC_BODY_INLINE + RC_BODY_TAIL + 3)

/* Time allowed for a TLS handshake (our choice, STYLE.md section 9). */
#define RC_TLS_TIMEOUT 60
/* Time an idle session has to answer QUIT when relayqd stops. */
#define RC_STOP_QUIT_TIMEOUT 2

/* How many queued ids a ready session may skip over in one pull. */
#define RC_PULL_MAX 64

struct relayqd_conn {
	TAILQ_ENTRY(relayqd_conn) entry;
	struct relayd *rd;	   /* borrowed */
	struct relayqd_dest *dest; /* borrowed: the smarthost it talks to */
	int flags;
	struct bufferevent *bev;     /* owned */
	struct event *timer;	     /* owned */
	struct event *flush;	     /* owned: see RC_DIRECT, or NULL */
	struct event *rev;	     /* owned: see RC_DIRECT, or NULL */
	struct event *release;	     /* owned: a probe gives first_id back */
	struct relayqd_dial *dial;   /* owned until its cb */
	struct smarthost_sasl *sasl; /* owned: AUTH exchange, or NULL */
	char *token;		  /* owned, wiped: token or password, or NULL */
	unsigned token_gen;	  /* its relayqd_oauth2 generation */
	struct smtp_client *smtp; /* owned */
	struct smtp_reply reply;
	struct smtp_client_conf sconf;
	char first_id[QUEUE_ID_LEN + 1]; /* "" once taken */
	struct relayqd_msg *msg;	 /* owned: message in flight */
	struct relayqd_watch *watch;	 /* sendmail -v watcher, or NULL */
	char relay[300];		 /* host[addr]:port for logs */
	char last_err[256];		 /* last connect error */
	char *helo_name;		 /* owned (survives a reload) */
	char tls[32];			 /* protocol for logs, "none" */
	int nmsgs;
	uint64_t body_pos;  /* file offset of the next body byte to buffer */
	uint64_t body_left; /* body bytes not yet buffered */
};

static void relayqd_conn_read_cb(struct bufferevent *bev, void *arg);
static void relayqd_conn_event_cb(struct bufferevent *bev, short what,
    void *arg);
static void relayqd_conn_start(struct relayqd_conn *rc);
static void relayqd_conn_resolve(struct relayqd_conn *rc);
static void relayqd_conn_get_secret(struct relayqd_conn *rc);

/* Replaces the session's copy of the OAuth2 token (wiping the old). */
static void
relayqd_conn_set_token(struct relayqd_conn *rc, const char *token)
{
	if (rc->token != NULL) {
		OPENSSL_cleanse(rc->token, strlen(rc->token));
		free(rc->token);
	}
	rc->token = token != NULL ? xstrdup(token) : NULL;
}

/* Frees the session; runs from event_base_once on a clean stack. */
static void
relayqd_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	struct relayd *rd = rc->rd;

	(void)fd;
	(void)what;
	relayqd_watch_abandon(rc->watch,
	    rc->last_err[0] != '\0' ? rc->last_err
				    : "session closed before delivery");
	rc->watch = NULL;
	relayqd_dial_cancel(rc->dial);
	if (rc->rev != NULL) /* before its socket is closed */
		event_free(rc->rev);
	if (rc->bev != NULL)
		bufferevent_free(rc->bev);
	if (rc->timer != NULL)
		event_free(rc->timer);
	if (rc->release != NULL)
		event_free(rc->release);
	if (rc->flush != NULL)
		event_free(rc->flush);
	smtp_client_free(rc->smtp);
	smarthost_sasl_free(rc->sasl);
	relayqd_conn_set_token(rc, NULL);
	if (rc->msg != NULL) {
		relayqd_sched_reschedule(rd->sched, rc->msg->env.id,
		    relayqd_now());
		relayqd_msg_free(rc->msg);
	}
	if (rc->first_id[0] != '\0')
		relayqd_sched_reschedule(rd->sched, rc->first_id,
		    relayqd_now());
	TAILQ_REMOVE(&rc->dest->conns, rc, entry);
	/* No session left: the next one goes alone until ready (slow start). */
	if (--rc->dest->nconns == 0)
		rc->dest->ok = 0;
	free(rc->helo_name);
	free(rc);
	relayqd_kick(rd);
}

/* Marks the session closing and schedules its free. */
static void
relayqd_conn_close(struct relayqd_conn *rc)
{
	if (rc->flags & RC_CLOSING)
		return;
	rc->flags |= RC_CLOSING;
	if (rc->bev != NULL)
		bufferevent_disable(rc->bev, EV_READ | EV_WRITE);
	if (rc->timer != NULL)
		event_del(rc->timer);
	if (rc->release != NULL)
		event_del(rc->release);
	if (rc->flush != NULL)
		event_del(rc->flush);
	if (rc->rev != NULL)
		event_del(rc->rev);
	if (event_base_once(rc->rd->base, -1, EV_TIMEOUT, relayqd_conn_free_cb,
		rc, NULL) == -1)
		fatalx("event_base_once failed");
}

/* Arms the session timer for secs seconds. */
static void
relayqd_conn_timer(struct relayqd_conn *rc, long long secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	event_del(rc->timer);
	event_add(rc->timer, &tv);
}

/* True when m's route has a smarthost up other than d (a failover). */
static int
relayqd_conn_failover(struct relayd *rd, const struct relayqd_dest *d,
    const struct relayqd_msg *m)
{
	const struct conf_smarthost *sh =
	    &rd->conf.smarthosts[conf_route(&rd->conf, m->env.sender)];
	const struct relayqd_dest *up =
	    relayqd_dest_pick(rd->dests, sh->chain, sh->nchain);

	return up != NULL && up != d;
}

/* Deals with a message that relayqd_msg_open() did not open. */
static void
relayqd_conn_skip(struct relayd *rd, const char *id, int skip,
    const struct rq_err *err)
{
	if (skip == RELAYQD_MSG_FINISHED) {
		relayqd_sched_remove(rd->sched, id);
		if (queue_spool_remove(&rd->spool, id) == -1)
			log_warn("%s: cannot remove finished message", id);
		else
			log_info("%s: removed (no recipient pending)", id);
	} else if (skip == RELAYQD_MSG_HELD || errno == ENOENT) {
		relayqd_sched_remove(rd->sched, id);
	} else if (errno == EBADMSG) {
		/* open_msg moved it to corrupt/ */
		log_warnx("%s: quarantined: %s", id, err->msg);
		relayqd_sched_remove(rd->sched, id);
	} else {
		log_warnx("%s: cannot open: %s", id, err->msg);
		relayqd_sched_reschedule(rd->sched, id,
		    relayqd_now() + rd->conf.delivery_retry_min);
	}
}

/*
 * The session could not carry the message it was opened for (the
 * destination is down): defer that message with the reason, so it shows
 * in the log and in mailq, until the destination's next probe.
 */
static void
relayqd_conn_defer_first(struct relayqd_conn *rc, const struct rq_reason *why)
{
	struct relayd *rd = rc->rd;
	struct relayqd_msg *m;
	struct rq_err err;
	int skip;
	char id[QUEUE_ID_LEN + 1];

	if (rc->first_id[0] == '\0')
		return;
	/* Not started: its message token goes back (no recipient taken). */
	relayqd_rate_refund(rc->dest->rate, 0, relayqd_now_ms());
	memcpy(id, rc->first_id, sizeof(id));
	rc->first_id[0] = '\0';
	if ((m = relayqd_msg_open(rd, id, &skip, &err)) == NULL) {
		relayqd_conn_skip(rd, id, skip, &err);
		return;
	}
	relayqd_outcome_host_defer(rd, rc->dest, m, why, rc->relay, rc->tls);
	/*
	 * It fails over to another smarthost of its route that is up (due
	 * again at once): a watcher (sendmail -v) follows it there.  Not
	 * to the down smarthost's next probe: -v reports one attempt.
	 */
	if (rc->watch != NULL && queue_state_pending(&m->state) > 0 &&
	    m->state.next_try <= relayqd_now() &&
	    relayqd_conn_failover(rd, rc->dest, m)) {
		char note[300];

		(void)!rq_snprintf(note, sizeof(note),
		    "%s; the message goes by another smarthost", why->text);
		relayqd_watch_release(rc->watch, note);
		rc->watch = NULL;
	}
	relayqd_msg_free(m);
}

/* A session that never became ready failed: the host is down. */
static void
relayqd_conn_fail_early(struct relayqd_conn *rc, const char *text)
{
	struct rq_reason why;

	rq_reason_set(&why, 0, "", text);
	relayqd_outcome_host_down(rc->rd, rc->dest, &why);
	relayqd_conn_defer_first(rc, &why);
	relayqd_watch_abandon(rc->watch, text);
	rc->watch = NULL;
	relayqd_conn_close(rc);
}

/* ---- smtp_client ops ---- */

/* ops->write: queue bytes for the server. */
static void
relayqd_conn_op_write(void *arg, const char *data, size_t len)
{
	struct relayqd_conn *rc = arg;

	if (rc->flags & RC_CLOSING)
		return;
	relayqd_watch_out(rc->watch, data, len);
	if (bufferevent_write(rc->bev, data, len) == -1)
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, "cannot buffer output");
}

/* ops->set_timeout: arm the reply timer. */
static void
relayqd_conn_op_set_timeout(void *arg, enum smtp_timeout kind)
{
	struct relayqd_conn *rc = arg;
	const struct conf *c = &rc->rd->conf;
	long long secs = c->delivery_command_timeout;

	rc->flags &= ~(RC_BODY | RC_FILL);

	switch (kind) {
	case SMTP_TMO_GREETING:
		secs = c->delivery_greeting_timeout;
		break;
	case SMTP_TMO_COMMAND:
		secs = c->delivery_command_timeout;
		break;
	case SMTP_TMO_DATA:
		secs = c->delivery_data_timeout;
		break;
	case SMTP_TMO_DOT:
		secs = c->delivery_dot_timeout;
		break;
	}
	rc->flags &= ~RC_IDLE;
	relayqd_conn_timer(rc, secs);
}

/* ops->starttls: TLS is the next issue; refuse cleanly. */
static void
relayqd_conn_op_starttls(void *arg)
{
	struct relayqd_conn *rc = arg;
	struct bufferevent *tls;
	const char *why;

	/* From here libevent does the I/O: the TLS filter drives it. */
	rc->flags &= ~RC_DIRECT;
	if (rc->rev != NULL)
		event_del(rc->rev);
	bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
	if ((tls = smarthost_tls_starttls(rc->dest->tls, rc->bev,
		 relayqd_dest_sh(rc->dest)->host, &why)) == NULL) {
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, why);
		return;
	}
	rc->bev = tls; /* owns the plain bufferevent from now on */
	bufferevent_setcb(tls, relayqd_conn_read_cb, NULL,
	    relayqd_conn_event_cb, rc);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	rc->flags |= RC_HANDSHAKE;
	relayqd_conn_timer(rc, RC_TLS_TIMEOUT);
}

/* ops->ready: take the next message, or idle. */
static void
relayqd_conn_op_ready(void *arg)
{
	struct relayqd_conn *rc = arg;

	if (!(rc->flags & RC_WASREADY)) {
		rc->flags |= RC_WASREADY;
		relayqd_outcome_host_up(rc->rd, rc->dest);
	}
	event_del(rc->timer);
	/*
	 * smtp_client_send() may finish a message at once (SIZE or
	 * SMTPUTF8 refusal) and call ready from inside it: the loop in
	 * relayqd_conn_start() then goes on by itself, without recursion.
	 */
	if (rc->flags & RC_STARTING)
		return;
	relayqd_conn_start(rc);
}

/* Bytes of the session not yet handed to the kernel. */
static size_t
relayqd_conn_unsent(struct relayqd_conn *rc)
{
	struct bufferevent *low = bufferevent_get_underlying(rc->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(rc->bev));

	if (low != NULL)
		n += evbuffer_get_length(bufferevent_get_output(low));
	return n;
}

/* Reads len body bytes at the current position into out, plus the dot. */
static int
relayqd_conn_body_read(struct relayqd_conn *rc, struct evbuffer *out,
    size_t len)
{
	struct evbuffer_iovec v;
	size_t want = len, got = 0;
	int last = (uint64_t)len == rc->body_left;
	ssize_t n;

	if (last)
		want += 3;
	if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) != 1 ||
	    v.iov_len < want)
		return -1;
	if (rc->msg->data != NULL) {
		/* The whole file was read with the envelope. */
		memcpy(v.iov_base, rc->msg->data + rc->body_pos, len);
		got = len;
	}
	while (got < len) {
		n = pread(rc->msg->fd, (char *)v.iov_base + got, len - got,
		    (off_t)(rc->body_pos + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* I/O error, or the file shrank */
		got += (size_t)n;
	}
	if (last)
		memcpy((char *)v.iov_base + len, ".\r\n", 3);
	v.iov_len = want;
	if (evbuffer_commit_space(out, &v, 1) == -1)
		return -1;
	rc->body_pos += len;
	rc->body_left -= len;
	if (last)
		rc->flags &= ~RC_FILL;
	return 0;
}

/*
 * Buffers more of the body: see the file header for the plan.  Returns
 * -1 with a reason in *why.
 */
static int
relayqd_conn_body_fill(struct relayqd_conn *rc, const char **why)
{
	struct evbuffer *out = bufferevent_get_output(rc->bev);
	size_t n;
	int fd;

	if (!(rc->flags & RC_TLS) && rc->body_left > RC_BODY_INLINE) {
		uint64_t head = rc->body_left - RC_BODY_TAIL;

		if ((fd = fcntl(rc->msg->fd, F_DUPFD_CLOEXEC, 3)) == -1) {
			*why = "cannot duplicate message fd";
			return -1;
		}
		/* evbuffer_add_file() owns fd from here, even on failure. */
		if (evbuffer_add_file(out, fd, (ev_off_t)rc->body_pos,
			(ev_off_t)head) == -1) {
			*why = "cannot read message body";
			return -1;
		}
		rc->body_pos += head;
		rc->body_left -= head;
	}
	/* Plaintext: what is left fits RC_BODY_INLINE; TLS: read ahead. */
	do {
		n = rc->body_left < RC_BODY_CHUNK ? (size_t)rc->body_left
						  : RC_BODY_CHUNK;
		if (relayqd_conn_body_read(rc, out, n) == -1) {
			*why = "cannot read message body";
			return -1;
		}
	} while ((rc->flags & RC_FILL) && (rc->flags & RC_TLS) &&
	    relayqd_conn_unsent(rc) < RC_BODY_CHUNK);
	return 0;
}

/* ops->send_body: stream the stored wire-form body and the final dot. */
static void
relayqd_conn_op_send_body(void *arg)
{
	struct relayqd_conn *rc = arg;
	struct relayqd_msg *m = rc->msg;
	const char *why;

	if (m == NULL) {
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, "no message for body");
		return;
	}
	rc->body_pos = m->env.body_off;
	rc->body_left = m->env.body_len;
	rc->flags |= RC_FILL;
	if (relayqd_conn_body_fill(rc, &why) == -1) {
		rc->flags &= ~RC_FILL;
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, why);
		return;
	}
	/* relayqd_conn_body_cb() takes it from here. */
	rc->flags |= RC_BODY;
	relayqd_conn_timer(rc, rc->rd->conf.delivery_data_block_timeout);
}

/*
 * Writes the front of a socket bufferevent's output to sock now, outside
 * its write callback.  Such an output is kept frozen at the start (only
 * that callback drains it), where evbuffer_write writes nothing: thaw it
 * for this one write.  Returns what evbuffer_write returns.
 */
static int
relayqd_conn_write_now(struct evbuffer *out, evutil_socket_t sock)
{
	int n;

	(void)evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, sock);
	(void)evbuffer_freeze(out, 1);
	return n;
}

/*
 * rc->flush: writes a plaintext session's output (RC_DIRECT) now; what
 * the socket does not take, and any error, is left to libevent's write
 * event (an error then reaches relayqd_conn_event_cb as before).  With
 * that event on, it only turns it off once the output is empty.
 */
static void
relayqd_conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	struct evbuffer *out;
	evutil_socket_t sock;

	(void)fd;
	(void)what;
	if ((rc->flags & (RC_DIRECT | RC_CLOSING)) != RC_DIRECT)
		return;
	out = bufferevent_get_output(rc->bev);
	if (bufferevent_get_enabled(rc->bev) & EV_WRITE) {
		if (evbuffer_get_length(out) == 0)
			bufferevent_disable(rc->bev, EV_WRITE);
		return;
	}
	sock = bufferevent_getfd(rc->bev);
	while (evbuffer_get_length(out) > 0 && !(rc->flags & RC_CLOSING) &&
	    relayqd_conn_write_now(out, sock) > 0)
		;
	if (!(rc->flags & RC_CLOSING) && evbuffer_get_length(out) > 0)
		bufferevent_enable(rc->bev, EV_WRITE);
}

/*
 * Output progress on the socket's buffer.  Under RC_DIRECT, new output
 * (or an output that libevent emptied) schedules rc->flush.  While the
 * body is being sent, each drain re-arms the data block timer, and the
 * last one arms the timer for the reply to the final dot.
 */
static void
relayqd_conn_body_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct relayqd_conn *rc = arg;

	if ((rc->flags & (RC_DIRECT | RC_CLOSING)) == RC_DIRECT &&
	    ((bufferevent_get_enabled(rc->bev) & EV_WRITE)
		    ? evbuffer_get_length(buf) == 0
		    : info->n_added > 0))
		event_active(rc->flush, EV_TIMEOUT, 0);
	if (!(rc->flags & RC_BODY) || (rc->flags & RC_CLOSING) ||
	    info->n_deleted == 0)
		return;
	if ((rc->flags & RC_FILL) &&
	    relayqd_conn_unsent(rc) < RC_BODY_CHUNK / 2) {
		const char *why;

		if (relayqd_conn_body_fill(rc, &why) == -1) {
			rc->flags &= ~(RC_FILL | RC_BODY);
			smtp_client_fail(rc->smtp, RQ_TEMPFAIL, why);
			return;
		}
	}
	if (relayqd_conn_unsent(rc) > 0) {
		relayqd_conn_timer(rc,
		    rc->rd->conf.delivery_data_block_timeout);
		return;
	}
	rc->flags &= ~RC_BODY;
	relayqd_conn_timer(rc, rc->rd->conf.delivery_dot_timeout);
}

/* ops->rcpt_done: remember one recipient's result. */
static void
relayqd_conn_op_rcpt_done(void *arg, size_t idx, enum rq_status st,
    const struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;

	if (rc->msg != NULL)
		relayqd_msg_rcpt_result(rc->msg, idx, st, why);
}

/* ops->msg_done: the transaction is over; let the outcome decide. */
static void
relayqd_conn_op_msg_done(void *arg, enum rq_status st,
    const struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;
	struct relayqd_msg *m = rc->msg;

	rc->flags &= ~(RC_BODY | RC_FILL);
	if (m == NULL)
		return;
	rc->msg = NULL;
	rc->nmsgs++;
	/* A -v request that came once the transaction began: its outcome. */
	if (rc->watch == NULL)
		rc->watch = relayqd_verbose_claim(rc->rd->verbose, m->env.id);
	if (relayqd_watch_is_for(rc->watch, m->env.id)) {
		relayqd_watch_done(rc->watch, m, st, why);
		rc->watch = NULL;
	}
	relayqd_outcome_msg(rc->rd, rc->dest, m, st, why, rc->relay, rc->tls);
	relayqd_msg_free(m);
}

/*
 * After a clean QUIT, ends TLS with a close_notify alert (RFC 8446
 * section 6.1), so that the server sees an orderly close rather than a
 * truncation.  It does not wait for the server's own alert: the session
 * is over.  Under STARTTLS the alert lands in the socket bufferevent's
 * output, which is written out here, before the free.
 */
static void
relayqd_conn_tls_close(struct relayqd_conn *rc)
{
	SSL *ssl = bufferevent_openssl_get_ssl(rc->bev);
	struct bufferevent *low = bufferevent_get_underlying(rc->bev);

	if (ssl == NULL)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	if (low != NULL) {
		(void)relayqd_conn_write_now(bufferevent_get_output(low),
		    bufferevent_getfd(low));
	}
}

/*
 * The server refused our OAuth2 token (a 5xx to AUTH, after XOAUTH2's
 * error challenge): drops it from the cache.  Returns 1 when the session
 * should be retried at once with a new token, because the refused one
 * came from the cache; a token refreshed for this very session that is
 * refused fails the session as usual (defer, back off).
 */
static int
relayqd_conn_token_refused(struct relayqd_conn *rc, const struct rq_reason *why)
{
	struct relayqd_dest *d = rc->dest;

	if (rc->token == NULL || !(rc->flags & RC_AUTHING) ||
	    why->code / 100 != 5 || d->oauth2 == NULL)
		return 0;
	relayqd_oauth2_reject(d->oauth2, rc->token_gen);
	return !(rc->flags & RC_FRESH) && !rc->rd->stopping;
}

/* ops->closed: the session is over. */
static void
relayqd_conn_op_closed(void *arg, enum rq_status st,
    const struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;

	if (st == RQ_OK && (rc->flags & RC_TLS))
		relayqd_conn_tls_close(rc);
	if (st != RQ_OK && relayqd_conn_token_refused(rc, why)) {
		log_info("session to %s ended: %s; retrying with a new OAuth2 "
			 "token",
		    rc->relay, why->text);
		/* A probe ends here without a verdict: the next one is due. */
		rc->dest->probing = 0;
		relayqd_watch_abandon(rc->watch, why->text);
		rc->watch = NULL;
		relayqd_conn_close(rc); /* the free reschedules first_id now */
		return;
	}
	if (st != RQ_OK) {
		/*
		 * 421 means the server is going away: back off it too
		 * (unless the message in flight's outcome already did).
		 */
		if (!(rc->flags & RC_WASREADY))
			relayqd_outcome_host_refused(rc->rd, rc->dest, why);
		else if (why->code == 421 && !rc->dest->down) {
			relayqd_outcome_host_down(rc->rd, rc->dest, why);
			rc->dest->need_tx = 1; /* it got ready, then this */
		}
		relayqd_conn_defer_first(rc, why);
		log_info("session to %s ended: %s", rc->relay, why->text);
	}
	relayqd_watch_abandon(rc->watch, why->text);
	rc->watch = NULL;
	relayqd_conn_close(rc);
}

/*
 * ops->auth_start: take the secret (password_command's output was fetched
 * before connecting; a password_file is read now) and pick a mechanism.
 */
static int
relayqd_conn_op_auth_start(void *arg, const char *offered, const char **mech,
    char **resp, struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;
	int rv;

	if (smarthost_auth_has_command(rc->dest->auth) && rc->token == NULL) {
		/* A reload set password_command: never run it here. */
		rq_reason_set(why, 0, "",
		    "password_command was set while the session started");
		return -1;
	}
	rv = smarthost_sasl_begin(rc->dest->auth, &rc->sasl, rc->token, offered,
	    mech, resp, why);

	if (rc->sasl != NULL)
		rc->flags |= RC_AUTHING;
	return rv;
}

/* ops->auth_step: answer a 334 challenge. */
static int
relayqd_conn_op_auth_step(void *arg, const char *challenge, size_t len,
    char **resp, struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;

	return smarthost_sasl_answer(rc->sasl, challenge, len, resp, why);
}

/* ops->auth_done: 235 arrived; SCRAM checks the server's signature. */
static int
relayqd_conn_op_auth_done(void *arg, struct rq_reason *why)
{
	struct relayqd_conn *rc = arg;

	rc->flags &= ~RC_AUTHING;
	relayqd_conn_set_token(rc, NULL); /* not needed again */
	return smarthost_sasl_end(&rc->sasl, why);
}

static const struct smtp_client_ops relayqd_conn_ops = {
	.auth_start = relayqd_conn_op_auth_start,
	.auth_step = relayqd_conn_op_auth_step,
	.auth_done = relayqd_conn_op_auth_done,
	.write = relayqd_conn_op_write,
	.set_timeout = relayqd_conn_op_set_timeout,
	.starttls = relayqd_conn_op_starttls,
	.ready = relayqd_conn_op_ready,
	.send_body = relayqd_conn_op_send_body,
	.rcpt_done = relayqd_conn_op_rcpt_done,
	.msg_done = relayqd_conn_op_msg_done,
	.closed = relayqd_conn_op_closed,
};

/* ---- message hand-out ---- */

/*
 * Opens the next message for this ready session and starts its
 * transaction; QUITs when there is nothing to do and the idle timer ran
 * out, or when the per-connection limit is reached.
 */
static void
relayqd_conn_start(struct relayqd_conn *rc)
{
	struct relayd *rd = rc->rd;
	struct rq_err err;
	int skip, rv;

	for (int n = 0; n < RC_PULL_MAX; n++) {
		char id[QUEUE_ID_LEN + 1];
		const char *next;
		struct relayqd_msg *m;

		/*
		 * A throttle marked the smarthost down, or a reload retired
		 * it: stop here too.
		 */
		if (rd->stopping || rc->dest->down || rc->dest->retired ||
		    rc->nmsgs >= rd->conf.delivery_messages_per_connection) {
			smtp_client_quit(rc->smtp);
			return;
		}
		if (rc->first_id[0] != '\0') {
			memcpy(id, rc->first_id, sizeof(id));
			rc->first_id[0] = '\0';
		} else if ((next = relayqd_pop_due(rd, rc->dest,
				relayqd_now())) != NULL) {
			memcpy(id, next, sizeof(id));
		} else
			break;
		if ((m = relayqd_msg_open(rd, id, &skip, &err)) == NULL) {
			relayqd_conn_skip(rd, id, skip, &err);
			relayqd_watch_abandon(relayqd_verbose_claim(rd->verbose,
						  id),
			    "not attempted (held, finished or unreadable)");
			continue;
		}
		rc->msg = m;
		/*
		 * Its recipients count against recipient_limit now; the
		 * dispatcher held the next message back until they do.
		 */
		relayqd_rate_charge(rc->dest->rate, m->n, relayqd_now_ms());
		(void)relayqd_rate_save(rc->dest->rate); /* logged there */
		if (relayqd_rate_counts_rcpts(rc->dest->rate))
			relayqd_kick(rd);
		if (rc->watch == NULL)
			rc->watch = relayqd_verbose_claim(rd->verbose, id);
		relayqd_watch_note(rc->watch,
		    "%s: sending in the session to %s", id, rc->relay);
		rc->flags |= RC_STARTING;
		rv = smtp_client_send(rc->smtp, &m->smsg);
		rc->flags &= ~RC_STARTING;
		if (rv == -1) {
			struct rq_reason why;

			rc->msg = NULL;
			rq_reason_set(&why, 0, "",
			    "message cannot be sent in this session");
			relayqd_outcome_msg(rd, rc->dest, m, RQ_TEMPFAIL, &why,
			    rc->relay, rc->tls);
			relayqd_msg_free(m);
			continue;
		}
		if (rc->msg == NULL && !(rc->flags & RC_CLOSING) &&
		    smtp_client_is_ready(rc->smtp))
			continue; /* refused at once; the session is ready */
		return;
	}
	rc->flags |= RC_IDLE;
	relayqd_conn_timer(rc, rd->conf.delivery_idle_timeout);
}

/* List iteration for the dispatcher. */
struct relayqd_conn *
relayqd_conn_next(struct relayqd_conn *rc)
{
	return TAILQ_NEXT(rc, entry);
}

/* True while first_id is held, not yet charged. */
int
relayqd_conn_is_uncharged(const struct relayqd_conn *rc)
{
	return rc->first_id[0] != '\0';
}

/* True when ready with nothing in flight. */
int
relayqd_conn_is_idle(const struct relayqd_conn *rc)
{
	return !(rc->flags & RC_CLOSING) && rc->smtp != NULL &&
	    rc->msg == NULL && smtp_client_is_ready(rc->smtp);
}

/* Hands due messages to an idle session. */
void
relayqd_conn_pull(struct relayqd_conn *rc)
{
	if (relayqd_conn_is_idle(rc))
		relayqd_conn_start(rc);
}

/* ---- bufferevent callbacks ---- */

/* Shows a server line to a sendmail -v watcher. */
static void
relayqd_conn_line_cb(void *arg, const char *line, size_t len)
{
	struct relayqd_conn *rc = arg;

	relayqd_watch_in(rc->watch, line, len);
}

/* Reads complete replies and feeds them to the client. */
static void
relayqd_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct relayqd_conn *rc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct smtp_reply r;
	char text[128];
	int rv;

	while (!(rc->flags & RC_CLOSING)) {
		if ((rv = smarthost_io_reply(in, &rc->reply, &r,
			 relayqd_conn_line_cb, rc, text, sizeof(text))) == 0)
			return;
		if (rv == -1) {
			smtp_client_fail(rc->smtp, RQ_TEMPFAIL, text);
			return;
		}
		if (smtp_client_on_reply(rc->smtp, &r) == -1 || rc->bev != bev)
			return; /* closed, or STARTTLS replaced bev */
	}
}

/* Largest read of a plaintext session (libevent's own limit). */
#define RC_READ_MAX 16384

/*
 * rc->rev: reads what a plaintext session's server sent into the
 * bufferevent's input (see RC_DIRECT) and hands it to the read callback.
 */
static void
relayqd_conn_recv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	struct evbuffer *in = bufferevent_get_input(rc->bev);
	struct evbuffer_iovec v;
	ssize_t n = -1;
	int err;

	(void)what;
	if ((rc->flags & (RC_DIRECT | RC_CLOSING)) != RC_DIRECT)
		return;
	/* A socket bufferevent keeps its input's end frozen. */
	evbuffer_unfreeze(in, 0);
	if (evbuffer_reserve_space(in, RC_READ_MAX, &v, 1) == 1) {
		while ((n = read(fd, v.iov_base, v.iov_len)) == -1 &&
		    errno == EINTR)
			;
		if (n > 0) {
			v.iov_len = (size_t)n;
			if (evbuffer_commit_space(in, &v, 1) == -1) {
				n = -1;
				errno = ENOMEM;
			}
		}
	} else
		errno = ENOMEM;
	evbuffer_freeze(in, 0);
	if (n > 0) {
		relayqd_conn_read_cb(rc->bev, rc);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	err = errno; /* relayqd_conn_event_cb() reports it */
	event_del(rc->rev);
	errno = err;
	relayqd_conn_event_cb(rc->bev,
	    BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), rc);
}

/* TCP (and, for implicit TLS, the handshake) completed. */
static void
relayqd_conn_connected(struct relayqd_conn *rc)
{
	SSL *ssl = bufferevent_openssl_get_ssl(rc->bev);
	char text[300];
	int one = 1;

	(void)setsockopt(bufferevent_getfd(rc->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	/* Under STARTTLS this stays the socket bufferevent that writes. */
	(void)bufferevent_set_max_single_write(rc->bev, RC_WRITE_MAX);
	if (ssl != NULL) {
		if (smarthost_tls_check_peer(rc->dest->tls, ssl, text,
			sizeof(text)) == -1) {
			char msg[400];

			(void)!rq_snprintf(msg, sizeof(msg), "TLS with %s: %s",
			    rc->relay, text);
			relayqd_conn_fail_early(rc, msg);
			return;
		}
		rc->flags |= RC_TLS;
		strlcpy(rc->tls, smarthost_tls_version(ssl), sizeof(rc->tls));
	}
	rc->flags |= RC_SESSION;
	relayqd_watch_note(rc->watch, "connected to %s%s%s", rc->relay,
	    ssl != NULL ? " with " : "", ssl != NULL ? rc->tls : "");
	/* The lowest output buffer shows real progress of the body. */
	if (evbuffer_add_cb(bufferevent_get_output(rc->bev),
		relayqd_conn_body_cb, rc) == NULL) {
		relayqd_conn_fail_early(rc, "cannot watch the output buffer");
		return;
	}
	smtp_reply_init(&rc->reply);
	rc->smtp = smtp_client_new(&rc->sconf, &relayqd_conn_ops, rc);
}

/* The STARTTLS handshake finished: check the peer, then re-EHLO. */
static void
relayqd_conn_tls_up(struct relayqd_conn *rc)
{
	SSL *ssl = bufferevent_openssl_get_ssl(rc->bev);
	char text[300], msg[400];

	rc->flags &= ~RC_HANDSHAKE;
	event_del(rc->timer);
	if (smarthost_tls_check_peer(rc->dest->tls, ssl, text, sizeof(text)) ==
	    -1) {
		(void)!rq_snprintf(msg, sizeof(msg), "TLS with %s: %s",
		    rc->relay, text);
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, msg);
		return;
	}
	rc->flags |= RC_TLS;
	strlcpy(rc->tls, smarthost_tls_version(ssl), sizeof(rc->tls));
	relayqd_watch_note(rc->watch, "TLS established (%s)", rc->tls);
	smtp_client_tls_done(rc->smtp);
}

/* Connection events: connected, EOF, error. */
static void
relayqd_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	int err = EVUTIL_SOCKET_ERROR();
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	char text[600], detail[400];

	if (rc->flags & RC_CLOSING)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (rc->flags & RC_HANDSHAKE)
			relayqd_conn_tls_up(rc);
		else
			relayqd_conn_connected(rc);
		return;
	}
	if (ssl != NULL && (what & BEV_EVENT_ERROR) &&
	    (rc->flags & RC_HANDSHAKE)) {
		smarthost_tls_describe_error(bev, ssl, detail, sizeof(detail));
		(void)!rq_snprintf(text, sizeof(text),
		    "TLS handshake with %s failed: %s", rc->relay, detail);
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, text);
		return;
	}
	/*
	 * No session yet: implicit TLS, whose socket came connected from
	 * relayqd_dial, so only the handshake can have failed.
	 */
	if (!(rc->flags & RC_SESSION)) {
		if (ssl != NULL)
			smarthost_tls_describe_error(bev, ssl, detail,
			    sizeof(detail));
		else
			strlcpy(detail, "connection closed", sizeof(detail));
		(void)!rq_snprintf(text, sizeof(text),
		    "TLS handshake with %s failed: %s", rc->relay, detail);
		relayqd_conn_fail_early(rc, text);
		return;
	}
	(void)!rq_snprintf(text, sizeof(text), "lost connection with %s: %s",
	    rc->relay,
	    (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(err)
				     : "connection closed by server");
	smtp_client_fail(rc->smtp, RQ_TEMPFAIL, text);
}

/* Reply, connect and idle timeouts. */
static void
relayqd_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	char text[128];

	(void)fd;
	(void)what;
	if (rc->flags & RC_CLOSING)
		return;
	if (!(rc->flags & RC_SESSION)) {
		/* Implicit TLS: the TCP connection is up, the handshake not. */
		(void)!rq_snprintf(text, sizeof(text),
		    "TLS handshake with %s timed out", rc->relay);
		relayqd_conn_fail_early(rc, text);
		return;
	}
	if (rc->flags & RC_HANDSHAKE) {
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL,
		    "TLS handshake timed out");
		return;
	}
	if (rc->flags & RC_IDLE) {
		rc->flags &= ~RC_IDLE;
		smtp_client_quit(rc->smtp);
		return;
	}
	if (rc->flags & RC_BODY) {
		(void)!rq_snprintf(text, sizeof(text),
		    "timeout sending the message (no progress in %llds)",
		    rc->rd->conf.delivery_data_block_timeout);
		smtp_client_fail(rc->smtp, RQ_TEMPFAIL, text);
		return;
	}
	(void)!rq_snprintf(text, sizeof(text),
	    "timeout waiting for the server (state %s)",
	    smtp_client_state_name(rc->smtp));
	smtp_client_fail(rc->smtp, RQ_TEMPFAIL, text);
}

/*
 * Puts the connected socket fd under a bufferevent: plain (SMTP starts
 * at once) or implicit TLS (SMTP starts at BEV_EVENT_CONNECTED, once the
 * handshake is over).  Returns -1 with rc->last_err set; fd is closed.
 */
static int
relayqd_conn_attach(struct relayqd_conn *rc, int fd)
{
	struct relayd *rd = rc->rd;
	SSL *ssl;

	/*
	 * The session's own setting, not rd->conf: a reload may have
	 * changed tls since, and smtp_client must not believe a plaintext
	 * connection is encrypted.
	 */
	if (!rc->sconf.tls_on_connect) {
		if ((rc->bev = bufferevent_socket_new(rd->base, fd,
			 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) ==
		    NULL) {
			(void)close(fd);
			goto fail;
		}
		bufferevent_setcb(rc->bev, relayqd_conn_read_cb, NULL,
		    relayqd_conn_event_cb, rc);
		/* A new bufferevent has EV_WRITE on: see RC_DIRECT. */
		bufferevent_disable(rc->bev, EV_READ | EV_WRITE);
		/* On failure the free closes fd (the bufferevent owns it). */
		if ((rc->flush = event_new(rd->base, -1, 0,
			 relayqd_conn_flush_cb, rc)) == NULL ||
		    (rc->rev = event_new(rd->base, fd, EV_READ | EV_PERSIST,
			 relayqd_conn_recv_cb, rc)) == NULL ||
		    event_add(rc->rev, NULL) == -1)
			goto fail;
		rc->flags |= RC_DIRECT;
		relayqd_conn_connected(rc);
		return 0;
	}
	if ((ssl = smarthost_tls_ssl_new(rc->dest->tls,
		 relayqd_dest_sh(rc->dest)->host)) == NULL) {
		(void)close(fd);
		goto fail;
	}
	/* CLOSE_ON_FREE: a failed constructor frees ssl, never fd. */
	if ((rc->bev = bufferevent_openssl_socket_new(rd->base, -1, ssl,
		 BUFFEREVENT_SSL_CONNECTING,
		 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		(void)close(fd);
		goto fail;
	}
	/* From here the bufferevent owns fd (its BIO closes it). */
	if (bufferevent_setfd(rc->bev, fd) == -1)
		goto fail;
	bufferevent_setcb(rc->bev, relayqd_conn_read_cb, NULL,
	    relayqd_conn_event_cb, rc);
	bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
	relayqd_conn_timer(rc, rd->conf.delivery_connect_timeout);
	return 0;
fail:
	(void)!rq_snprintf(rc->last_err, sizeof(rc->last_err),
	    "cannot set up the connection to %s", rc->relay);
	return -1;
}

/* relayqd_dial's result: a connected socket, or why there is none. */
static void
relayqd_conn_dial_cb(int fd, const char *addr, const char *why, void *arg)
{
	struct relayqd_conn *rc = arg;
	const struct conf_smarthost *sh = relayqd_dest_sh(rc->dest);

	rc->dial = NULL;
	if (rc->flags & RC_CLOSING) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	if (fd == -1) {
		strlcpy(rc->last_err, why, sizeof(rc->last_err));
		relayqd_conn_fail_early(rc, rc->last_err);
		return;
	}
	(void)!rq_snprintf(rc->relay, sizeof(rc->relay), "%s[%s]:%d", sh->host,
	    addr, sh->port);
	if (relayqd_conn_attach(rc, fd) == -1)
		relayqd_conn_fail_early(rc, rc->last_err);
}

/*
 * release: a probe not ready after release_secs gives its message back
 * (another smarthost of its route is up and takes it at once), and goes
 * on without it to find out whether its smarthost is back; a watcher
 * (sendmail -v) follows the message.
 */
static void
relayqd_conn_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_conn *rc = arg;
	struct relayd *rd = rc->rd;
	char why[160];

	(void)fd;
	(void)what;
	if ((rc->flags & (RC_CLOSING | RC_WASREADY)) || rc->first_id[0] == '\0')
		return;
	log_info("%s: smarthost %s: its probe is not ready after %llds; the "
		 "message goes by another smarthost meanwhile",
	    rc->first_id, rc->dest->label, rd->conf.delivery_connect_timeout);
	(void)!rq_snprintf(why, sizeof(why),
	    "smarthost %s not ready after %llds: the message goes by another "
	    "smarthost",
	    rc->dest->label, rd->conf.delivery_connect_timeout);
	relayqd_watch_release(rc->watch, why);
	rc->watch = NULL;
	/* Not started: its message token goes back (no recipient taken). */
	relayqd_rate_refund(rc->dest->rate, 0, relayqd_now_ms());
	relayqd_sched_reschedule(rd->sched, rc->first_id, relayqd_now());
	rc->first_id[0] = '\0';
	relayqd_kick(rd);
}

/* Opens a session for first_id. */
struct relayqd_conn *
relayqd_conn_new(struct relayd *rd, struct relayqd_dest *dest,
    const char *first_id)
{
	return relayqd_conn_new_probe(rd, dest, first_id, 0);
}

/* Opens a session for first_id that may give it back (see release). */
struct relayqd_conn *
relayqd_conn_new_probe(struct relayd *rd, struct relayqd_dest *dest,
    const char *first_id, long long release_secs)
{
	struct relayqd_conn *rc = xcalloc(1, sizeof(*rc));
	const struct conf *c = dest->conf;
	const struct conf_smarthost *sh = relayqd_dest_sh(dest);

	rc->rd = rd;
	rc->dest = dest;
	strlcpy(rc->first_id, first_id, sizeof(rc->first_id));
	strlcpy(rc->tls, "none", sizeof(rc->tls));
	rc->helo_name = xstrdup(sh->helo_name[0] ? sh->helo_name : c->hostname);
	rc->sconf.helo_name = rc->helo_name;
	rc->sconf.starttls = sh->tls == CONF_TLS_STARTTLS;
	rc->sconf.tls_on_connect = sh->tls == CONF_TLS_IMPLICIT;
	rc->sconf.allow_plaintext_auth = sh->allow_plaintext_auth;
	(void)!rq_snprintf(rc->relay, sizeof(rc->relay), "%s:%d", sh->host,
	    sh->port);
	if ((rc->timer = evtimer_new(rd->base, relayqd_conn_timer_cb, rc)) ==
	    NULL)
		fatalx("evtimer_new failed");
	if (release_secs > 0) {
		struct timeval tv = { (time_t)release_secs, 0 };

		if ((rc->release = evtimer_new(rd->base,
			 relayqd_conn_release_cb, rc)) == NULL ||
		    event_add(rc->release, &tv) == -1)
			fatalx("evtimer_new failed");
	}
	TAILQ_INSERT_TAIL(&dest->conns, rc, entry);
	dest->nconns++;
	rc->watch = relayqd_verbose_claim(rd->verbose, first_id);
	relayqd_conn_get_secret(rc);
	return rc;
}

/*
 * Gets what AUTH needs before connecting, by the destination's current
 * settings: the OAuth2 token (cached, or wait for the refresh: RC_TOKEN),
 * password_command's output (wait for its run: RC_SECRET), or nothing
 * (no AUTH, or a password_file read at AUTH); then connects.
 */
static void
relayqd_conn_get_secret(struct relayqd_conn *rc)
{
	struct relayqd_dest *dest = rc->dest;
	const char *tok;

	rc->sconf.auth = dest->auth != NULL;
	if (dest->oauth2 != NULL) {
		tok = relayqd_oauth2_token(dest->oauth2, &rc->token_gen);
		if (tok == NULL) {
			/* relayqd_conn_token_done() goes on (maybe now). */
			rc->flags |= RC_TOKEN;
			relayqd_watch_note(rc->watch,
			    "waiting for an OAuth2 access token");
			relayqd_oauth2_refresh(dest->oauth2);
			return;
		}
		relayqd_conn_set_token(rc, tok);
	} else if (smarthost_auth_has_command(dest->auth)) {
		/* relayqd_conn_secret_done() goes on, from the loop. */
		rc->flags |= RC_SECRET;
		log_debug("%s: session waits for password_command%s",
		    rc->first_id,
		    relayqd_pwcmd_is_running(dest->pwcmd) ? " (running)" : "");
		relayqd_watch_note(rc->watch, "waiting for password_command");
		relayqd_pwcmd_run(dest->pwcmd, dest->auth);
		return;
	}
	relayqd_conn_resolve(rc);
}

/*
 * Returns the first session from rc on (in its destination's list) that
 * waits with flag (RC_TOKEN, RC_SECRET) and is not closing, with flag
 * cleared (it is resumed now), or NULL.
 */
static struct relayqd_conn *
relayqd_conn_waiting(struct relayqd_conn *rc, int flag)
{
	for (; rc != NULL; rc = TAILQ_NEXT(rc, entry))
		if ((rc->flags & flag) && !(rc->flags & RC_CLOSING)) {
			rc->flags &= ~flag;
			return rc;
		}
	return NULL;
}

/* password_command ended: resume or fail the sessions waiting for it. */
void
relayqd_conn_secret_done(void *arg, const char *secret, const char *why)
{
	struct relayqd_dest *dest = arg;
	struct relayqd_conn *rc, *next;

	if (secret == NULL)
		log_warnx("%s", why);
	for (rc = relayqd_conn_waiting(TAILQ_FIRST(&dest->conns), RC_SECRET);
	     rc != NULL; rc = relayqd_conn_waiting(next, RC_SECRET)) {
		next = TAILQ_NEXT(rc, entry);
		if (secret == NULL) {
			relayqd_conn_fail_early(rc, why);
			continue;
		}
		relayqd_conn_set_token(rc, secret);
		relayqd_conn_resolve(rc);
	}
}

/* The OAuth2 refresh ended: resume or fail the waiting sessions. */
void
relayqd_conn_token_done(struct relayqd_dest *dest, int ok, const char *why)
{
	struct relayqd_conn *rc, *next;

	for (rc = relayqd_conn_waiting(TAILQ_FIRST(&dest->conns), RC_TOKEN);
	     rc != NULL; rc = relayqd_conn_waiting(next, RC_TOKEN)) {
		next = TAILQ_NEXT(rc, entry);
		if (!ok) {
			relayqd_conn_fail_early(rc, why);
			continue;
		}
		relayqd_conn_set_token(rc,
		    relayqd_oauth2_token(dest->oauth2, &rc->token_gen));
		if (rc->token == NULL) {
			relayqd_conn_fail_early(rc,
			    "OAuth2 access token expired at once");
			continue;
		}
		rc->flags |= RC_FRESH;
		relayqd_conn_resolve(rc);
	}
}

/* Resolves the smarthost's name, then connects. */
static void
relayqd_conn_resolve(struct relayqd_conn *rc)
{
	struct relayd *rd = rc->rd;
	struct relayqd_dial_conf dc;

	relayqd_watch_note(rc->watch, "connecting to %s", rc->relay);
	relayqd_dest_dial_conf(rc->dest, &dc);
	/* The callback runs from the loop, never inside this call. */
	rc->dial = relayqd_dial_start(rd->base, rd->dns, &dc,
	    relayqd_conn_dial_cb, rc);
}

/*
 * Shutdown: an idle session says QUIT and has RC_STOP_QUIT_TIMEOUT
 * seconds for the reply (then it is dropped as on any timeout); any
 * other session is dropped at once, its message left queued.
 */
void
relayqd_conn_stop(struct relayqd_conn *rc)
{
	if (!relayqd_conn_is_idle(rc)) {
		relayqd_conn_abort(rc);
		return;
	}
	rc->flags &= ~RC_IDLE;
	smtp_client_quit(rc->smtp);
	if (!(rc->flags & RC_CLOSING))
		relayqd_conn_timer(rc, RC_STOP_QUIT_TIMEOUT);
}

/*
 * Reload: a transaction in flight finishes (so a recipient the server
 * accepted is never sent to again elsewhere), then relayqd_conn_start()
 * QUITs; an idle session QUITs now; one that is not ready yet (resolving,
 * connecting, TLS, greeting, EHLO, AUTH, waiting for a secret) is closed
 * at once, and its first message, which it has not begun, goes back to
 * the scheduler with its pace token (due now, not an attempt).
 */
void
relayqd_conn_retire(struct relayqd_conn *rc)
{
	if ((rc->flags & RC_CLOSING) || rc->msg != NULL)
		return;
	if (relayqd_conn_is_idle(rc)) {
		rc->flags &= ~RC_IDLE;
		smtp_client_quit(rc->smtp);
		return;
	}
	if (rc->first_id[0] != '\0')
		relayqd_rate_refund(rc->dest->rate, 0, relayqd_now_ms());
	log_info("session to %s closed before its first message: its "
		 "smarthost was retired by a reload",
	    rc->relay);
	strlcpy(rc->last_err, "the smarthost was retired by a reload",
	    sizeof(rc->last_err));
	relayqd_conn_close(rc); /* the free reschedules first_id now */
}

/* Drops a session at once, leaving its message queued. */
void
relayqd_conn_abort(struct relayqd_conn *rc)
{
	if (rc->msg != NULL) {
		relayqd_msg_free(rc->msg);
		rc->msg = NULL;
	}
	rc->first_id[0] = '\0';
	relayqd_dial_cancel(rc->dial);
	rc->dial = NULL;
	if (!(rc->flags & RC_CLOSING)) {
		rc->flags |= RC_CLOSING;
		relayqd_conn_free_cb(-1, 0, rc);
	}
}
