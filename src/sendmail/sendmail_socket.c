/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The client half of the submission protocol (doc/submit-protocol.md).
 *
 * The message is complete before the socket is opened: sendmail_submit
 * has rewritten it into wire form, in memory when it fits in one M frame,
 * else in an anonymous memory file (memfd_create), so the exact size
 * goes in the Z frame and a slow
 * writer on stdin never holds one of relayqd's connections.  The
 * exchange is lock-step: the envelope frames and Z, then wait for G (or
 * X: refused before any body byte was sent), the body in M frames and
 * E, then wait for K (the message is durable in queue/) or X.
 * Anything else (EOF, a reset, a malformed reply, a signal) is
 * EX_TEMPFAIL: sendmail never exits 0 without relayqd's K frame.  A
 * "busy:" refusal (no connection to spare) is retried for up to 30 s.
 *
 * The envelope sent is what the front end parsed; relayqd decides the
 * sender from the uid SO_PEERCRED gives it and adds Received: itself, so
 * nothing here is trusted by the daemon.
 */
#include "config.h"

#include "sendmail/sendmail_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "queue/queue_submit.h"

/* Milliseconds to wait for one reply (the commit includes two fsyncs). */
#define SENDMAIL_SOCKET_WAIT (600 * 1000)
/* Milliseconds of pauses spent retrying a busy relayqd at most. */
#define SENDMAIL_SOCKET_BUSY_MS (30 * 1000)

/* A cheap random number for retry pauses (not for anything secret). */
static unsigned long
sendmail_socket_random(void)
{
	static unsigned long x;
	struct timespec ts;

	if (x == 0) {
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (unsigned long)ts.tv_nsec ^
		    ((unsigned long)getpid() << 16) ^ 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* True when the spool directory d can be written with effective ids. */
static int
sendmail_socket_dir_ok(const struct queue_spool *sp, enum queue_dir d)
{
	return faccessat(sp->rootfd, queue_spool_dirname(d), W_OK | X_OK,
		   AT_EACCESS) == 0;
}

/*
 * After the whole body was sent, a connection that ends without K leaves
 * the outcome open: relayqd may have committed the message and died
 * before answering (doc/submit-protocol.md §3).
 */
#define SENDMAIL_SOCKET_MAYBE                                            \
	"the message may or may not have been queued (relayqd may have " \
	"committed it before it stopped); a retry may send it twice"

/* Chooses the spool or the socket. */
int
sendmail_socket_choose(const struct conf *conf, struct queue_spool *sp,
    struct sendmail_socket *ss, int *use_socket, struct rq_err *err)
{
	struct stat st;
	int e;

	memset(ss, 0, sizeof(*ss));
	ss->path = conf->submit_socket;
	/* Who may listen on the socket: root or the spool's owner. */
	if (stat(conf->spool_dir, &st) == 0) {
		ss->owner = st.st_uid;
		ss->owner_known = 1;
	}
	*use_socket = 0;
	if (strcmp(conf->submission, "socket") == 0) {
		*use_socket = 1;
		return EX_OK;
	}
	if (queue_spool_open(sp, conf->spool_dir,
		QUEUE_SPOOL_FRONTEND | QUEUE_SPOOL_CREATE, err) == -1) {
		(void)snprintf(ss->spool_why, sizeof(ss->spool_why),
		    "the spool %s cannot be opened (%s)", conf->spool_dir,
		    strerror(errno));
		log_debug("%s: submitting over %s", ss->spool_why, ss->path);
		*use_socket = 1;
		return EX_OK;
	}
	if (sendmail_socket_dir_ok(sp, QUEUE_DIR_TMP) &&
	    sendmail_socket_dir_ok(sp, QUEUE_DIR_INCOMING))
		return EX_OK;
	e = errno;
	queue_spool_close(sp);
	(void)snprintf(ss->spool_why, sizeof(ss->spool_why),
	    "the spool %s is not writable (%s)", conf->spool_dir, strerror(e));
	log_debug("%s: submitting over %s", ss->spool_why, ss->path);
	*use_socket = 1;
	return EX_OK;
}

/* Connects; returns the socket or -1 with err filled. */
static int
sendmail_socket_connect(const struct sendmail_socket *ss, struct rq_err *err)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd, e, got;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ss->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		rq_err_set(err, "submit_socket %s: path too long", ss->path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		rq_err_set(err, "socket: %s", strerror(errno));
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR && !*ss->stop)
			continue;
		e = errno;
		(void)close(fd);
		if (ss->spool_why[0] != '\0')
			rq_err_set(err,
			    "%s, and relayqd is not listening on %s (%s; start "
			    "relayqd.socket or relayqd); message not queued",
			    ss->spool_why, ss->path, strerror(e));
		else
			rq_err_set(err,
			    "relayqd is not listening on %s (%s; start "
			    "relayqd.socket or relayqd); message not queued",
			    ss->path, strerror(e));
		return -1;
	}
	/*
	 * Only relayqd may hear the message: a listener that is neither
	 * root nor the spool's owner got there first (a directory others
	 * can write) and would capture it.  Nothing is sent to it.
	 */
	if ((got = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) ==
		-1 ||
	    (cred.uid != 0 && (!ss->owner_known || cred.uid != ss->owner))) {
		e = errno;
		(void)close(fd);
		if (got == -1)
			rq_err_set(err,
			    "cannot tell who listens on %s (%s); message not "
			    "sent, not queued",
			    ss->path, strerror(e));
		else
			rq_err_set(err,
			    "the listener on %s is uid %lu, not root or the "
			    "spool's owner: it is not relayqd (another user "
			    "may "
			    "have taken the socket's name); message not sent, "
			    "not queued",
			    ss->path, (unsigned long)cred.uid);
		return -1;
	}
	return fd;
}

/*
 * Writes all of the n pieces in iov (changed as they go out) with one
 * sendmsg() each time the socket takes them; returns 0 or -1 (errno).
 * One call per M frame (and E with the last one) instead of one per
 * piece: relayqd then wakes up once, not once per piece.
 */
static int
sendmail_socket_writev(const struct sendmail_socket *ss, int fd,
    struct iovec *iov, size_t n)
{
	struct msghdr mh;
	ssize_t w;

	while (n > 0) {
		if (*ss->stop) {
			errno = EINTR;
			return -1;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = n;
		if ((w = sendmsg(fd, &mh, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Skips what went out, partly sent piece included. */
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Writes all of p; returns 0 or -1 (errno). */
static int
sendmail_socket_write(const struct sendmail_socket *ss, int fd, const char *p,
    size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)p, len };

	return sendmail_socket_writev(ss, fd, &iov, 1);
}

/*
 * Reads the next reply frame.  Returns its key ('G', 'K', 'X') with the
 * value in ev, or 0 with err filled: "not queued" while sent is 0, "may or
 * may not have been queued" once the whole body was sent.  Unused bytes
 * stay in rb.
 */
static char
sendmail_socket_reply(const struct sendmail_socket *ss, int fd,
    struct queue_submit_parser *p, struct buf *rb, struct queue_submit_ev *ev,
    int sent, struct rq_err *err)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	const char *errstr = NULL;
	char tmp[512];
	size_t used;
	ssize_t n;

	for (;;) {
		if (rb->len > 0) {
			enum queue_submit_ev_type t = queue_submit_parse(p,
			    rb->data, rb->len, &used, ev, &errstr);

			if (t == QUEUE_SUBMIT_EV_FRAME) {
				/* ev->val points into p, not rb. */
				buf_drain(rb, used);
				return ev->key;
			}
			if (t != QUEUE_SUBMIT_EV_NEED) {
				rq_err_set(err,
				    "bad reply from relayqd (%s); %s",
				    errstr != NULL ? errstr : "unexpected",
				    sent ? SENDMAIL_SOCKET_MAYBE
					 : "message not queued");
				return 0;
			}
			buf_drain(rb, used);
		}
		if (*ss->stop) {
			rq_err_set(err, "interrupted; %s",
			    sent ? SENDMAIL_SOCKET_MAYBE
				 : "message not queued");
			return 0;
		}
		n = poll(&pfd, 1, SENDMAIL_SOCKET_WAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rq_err_set(err, "no answer from relayqd on %s; %s",
			    ss->path,
			    sent ? SENDMAIL_SOCKET_MAYBE
				 : "message not queued");
			return 0;
		}
		if ((n = read(fd, tmp, sizeof(tmp))) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rq_err_set(err,
			    "relayqd closed the connection on %s without an "
			    "answer; %s",
			    ss->path,
			    sent ? SENDMAIL_SOCKET_MAYBE
				 : "message not queued");
			return 0;
		}
		if (buf_add(rb, tmp, (size_t)n) == -1) {
			rq_err_set(err, "reply from relayqd too long");
			return 0;
		}
	}
}

/* Turns an X frame into err and an exit code. */
static int
sendmail_socket_refused(const struct queue_submit_ev *ev, struct rq_err *err)
{
	int code = (ev->val[0] - '0') * 10 + (ev->val[1] - '0');

	rq_err_set(err, "relayqd: %s", ev->val + 3);
	switch (code) {
	case EX_USAGE:
	case EX_DATAERR:
	case EX_CANTCREAT:
	case EX_CONFIG:
		return code;
	default:
		return EX_TEMPFAIL;
	}
}

/* Builds the envelope frames of e into b. */
static int
sendmail_socket_envelope(struct buf *b, const struct queue_env *e,
    const char *proto, const char *helo, uint64_t size)
{
	char num[32], nt[64];
	int rv = 0;

	rv |= queue_submit_frame(b, 'H', QUEUE_SUBMIT_VERSION,
	    strlen(QUEUE_SUBMIT_VERSION));
	rv |= queue_submit_frame(b, 'S', e->sender, strlen(e->sender));
	if (e->dsn_ret != NULL)
		rv |=
		    queue_submit_frame(b, 'D', e->dsn_ret, strlen(e->dsn_ret));
	if (e->dsn_envid != NULL)
		rv |= queue_submit_frame(b, 'V', e->dsn_envid,
		    strlen(e->dsn_envid));
	for (size_t i = 0; i < e->nrcpt; i++) {
		rv |= queue_submit_frame(b, 'R', e->rcpts[i],
		    strlen(e->rcpts[i]));
		if (e->notify != NULL && e->notify[i] != 0) {
			if (queue_env_notify_text(e->notify[i], nt,
				sizeof(nt)) == -1)
				return -1;
			rv |= queue_submit_frame(b, 'N', nt, strlen(nt));
		}
		if (e->orcpt != NULL && e->orcpt[i] != NULL)
			rv |= queue_submit_frame(b, 'O', e->orcpt[i],
			    strlen(e->orcpt[i]));
	}
	rv |= queue_submit_frame(b, 'P', proto, strlen(proto));
	if (helo != NULL && helo[0] != '\0')
		rv |= queue_submit_frame(b, 'W', helo,
		    strnlen(helo, QUEUE_SUBMIT_HELO_MAX));
	if (e->flags & QUEUE_ENV_F_8BIT)
		rv |= queue_submit_frame(b, 'F', "8bit", 4);
	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
	rv |= queue_submit_frame(b, 'Z', num, strlen(num));
	return rv;
}

/*
 * Sends the body, from mem when bodyfd is -1, else from bodyfd, in M
 * frames, then E, each frame with one sendmsg() (E goes with the last
 * one).  Returns 0, -1 with err filled (the message could not be read
 * back), or -2 when sending failed (relayqd may have said why).
 */
static int
sendmail_socket_body(const struct sendmail_socket *ss, int fd, const char *mem,
    int bodyfd, uint64_t size, struct rq_err *err)
{
	static char chunk[QUEUE_SUBMIT_CHUNK_MAX];
	static char nl[] = "\n", end[] = "E0:\n";
	char head[16];
	struct iovec iov[4];
	uint64_t left = size;
	ssize_t n;
	int hl;

	if (bodyfd != -1 && lseek(bodyfd, 0, SEEK_SET) == -1) {
		rq_err_set(err, "cannot rewind the message: %s",
		    strerror(errno));
		return -1;
	}
	while (left > 0) {
		size_t want =
		    left < sizeof(chunk) ? (size_t)left : sizeof(chunk);

		if (bodyfd == -1) {
			iov[1].iov_base =
			    (void *)(uintptr_t)(mem + (size - left));
			n = (ssize_t)want;
		} else if ((n = read(bodyfd, chunk, want)) > 0) {
			iov[1].iov_base = chunk;
		} else {
			if (n == -1 && errno == EINTR)
				continue;
			rq_err_set(err, "cannot read the message back: %s",
			    n == 0 ? "short file" : strerror(errno));
			return -1;
		}
		left -= (uint64_t)n;
		hl = snprintf(head, sizeof(head), "M%zd:", n);
		iov[0].iov_base = head;
		iov[0].iov_len = (size_t)hl;
		iov[1].iov_len = (size_t)n;
		iov[2].iov_base = nl;
		iov[2].iov_len = 1;
		iov[3].iov_base = end;
		iov[3].iov_len = sizeof(end) - 1;
		if (sendmail_socket_writev(ss, fd, iov, left == 0 ? 4 : 3) ==
		    -1)
			return -2;
	}
	if (size == 0 &&
	    sendmail_socket_write(ss, fd, end, sizeof(end) - 1) == -1)
		return -2;
	return 0;
}

/* One exchange; *busy is set when relayqd said "busy:" at once. */
static int
sendmail_socket_once(const struct sendmail_socket *ss,
    const struct queue_env *e, const char *proto, const char *helo,
    const char *mem, int bodyfd, uint64_t size, char id[QUEUE_ID_LEN + 1],
    struct rq_err *err, int *busy)
{
	struct queue_submit_parser p;
	struct queue_submit_ev ev;
	struct buf b, rb;
	int fd, rc = EX_TEMPFAIL, werr = 0;
	char k;

	*busy = 0;
	if ((fd = sendmail_socket_connect(ss, err)) == -1)
		return EX_TEMPFAIL;
	queue_submit_init(&p, QUEUE_SUBMIT_CLIENT, 0);
	buf_init(&b, 4 * 1024 * 1024);
	buf_init(&rb, 4096);
	if (sendmail_socket_envelope(&b, e, proto, helo, size) == -1) {
		rq_err_set(err, "envelope too large for the socket");
		goto out;
	}
	if (sendmail_socket_write(ss, fd, b.data, b.len) == -1)
		werr = 1; /* relayqd may have said why: read the reply */
	if ((k = sendmail_socket_reply(ss, fd, &p, &rb, &ev, 0, err)) == 0)
		goto out;
	if (k == 'X') {
		rc = sendmail_socket_refused(&ev, err);
		*busy = strncmp(ev.val, "75 busy:", 8) == 0;
		goto out;
	}
	if (k != 'G' || werr) {
		rq_err_set(err,
		    "relayqd broke the exchange; message not queued");
		goto out;
	}
	if (sendmail_socket_body(ss, fd, mem, bodyfd, size, err) == -1)
		goto out;
	/* After a failed send, relayqd's X (or EOF) says what happened. */
	if ((k = sendmail_socket_reply(ss, fd, &p, &rb, &ev, 1, err)) == 0)
		goto out;
	if (k == 'X') {
		rc = sendmail_socket_refused(&ev, err);
		goto out;
	}
	/* K: the message is durable in relayqd's queue/. */
	memcpy(id, ev.val, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	rc = EX_OK;
out:
	buf_free(&b);
	buf_free(&rb);
	(void)close(fd);
	return rc;
}

/*
 * The whole exchange.  relayqd answers "X75 busy: ..." at once when it
 * has no connection to spare (in all, or for this uid): that is retried
 * after a random pause that grows (10 ms to 1 s), for
 * SENDMAIL_SOCKET_BUSY_MS in all, so a burst of submitters queues
 * instead of failing without keeping relayqd busy refusing them.
 */
int
sendmail_socket_submit(const struct sendmail_socket *ss,
    const struct queue_env *e, const char *proto, const char *helo,
    const char *mem, int bodyfd, uint64_t size, char id[QUEUE_ID_LEN + 1],
    struct rq_err *err)
{
	struct timespec ts;
	long waited = 0, pause, cap = 20;
	int rc, busy;

	for (;;) {
		rc = sendmail_socket_once(ss, e, proto, helo, mem, bodyfd, size,
		    id, err, &busy);
		if (!busy || waited >= SENDMAIL_SOCKET_BUSY_MS || *ss->stop)
			return rc;
		/* Exponential backoff with jitter: 10 ms .. 1 s. */
		pause =
		    10 + (long)(sendmail_socket_random() % (unsigned long)cap);
		if (cap < 1000)
			cap *= 2;
		ts.tv_sec = 0;
		ts.tv_nsec = pause * 1000000L;
		(void)nanosleep(&ts, NULL);
		waited += pause;
	}
}
