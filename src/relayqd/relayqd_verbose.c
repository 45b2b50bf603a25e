/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The -v socket (protocol in relayqd_verbose.h).  A watcher goes
 * through: reading (its request line, bounded to 64 bytes and
 * RELAYQD_VERBOSE_WAIT seconds), waiting (registered for an id, the
 * message made due now), attached (a session reports to it), finished
 * (the RESULT line is being flushed; freed once written).  A front end
 * that goes away while its watcher is attached only marks it dead: the
 * session still holds the pointer, and done/abandon frees it.  Every
 * line sent is sanitised (str_sanitize), since server replies are
 * hostile input.
 *
 * A front end is local and untrusted: it may stop reading, be stopped
 * or be killed with output still unsent (issue 13).  So, in every state,
 * EOF, a write error, or no write progress for data_block_timeout ends
 * the client (the watcher is freed, or marked dead while attached); at
 * most RELAYQD_VERBOSE_OUT_MAX bytes wait for a client (later lines are
 * dropped and counted; the RESULT line always goes); and a uid other
 * than root holds at most RELAYQD_VERBOSE_PER_UID of the slots, all of
 * them together leaving RELAYQD_VERBOSE_ROOT_RESERVE for root.
 */
#include "config.h"

#include "relayqd/relayqd_verbose.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_id.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_msg.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_unix.h"

/* Seconds a watcher may wait for its message to be attempted. */
#define RELAYQD_VERBOSE_WAIT 900
#define RELAYQD_VERBOSE_REQ_MAX 64
/* Output bytes buffered for one client; lines beyond are dropped. */
#define RELAYQD_VERBOSE_OUT_MAX (512 * 1024)
/* Slots one uid other than root may hold, and those only root may use. */
#define RELAYQD_VERBOSE_PER_UID 4
#define RELAYQD_VERBOSE_ROOT_RESERVE 2

enum relayqd_watch_state {
	RQW_READING,
	RQW_WAITING,
	RQW_ATTACHED,
	RQW_FINISHED
};

struct relayqd_watch {
	struct relayqd_verbose *v; /* borrowed */
	struct bufferevent *bev;   /* owned; NULL once the client is gone */
	struct event *timer;	   /* owned */
	enum relayqd_watch_state state;
	int dead;    /* client gone while attached */
	int in_auth; /* inside an AUTH exchange: redact both ways */
	struct relayqd_unix_peer peer; /* SO_PEERCRED; in v->peers */
	unsigned long dropped;	       /* lines not sent: the output limit */
	char id[QUEUE_ID_LEN + 1];
};

struct relayqd_verbose {
	struct relayd *rd; /* borrowed */
	int fd;		   /* listening socket */
	struct event *ev;  /* owned */
	struct relayqd_unix_peers peers;
};

/* Unlinks w from its list and frees it. */
static void
relayqd_watch_free(struct relayqd_watch *w)
{
	relayqd_unix_peers_remove(&w->v->peers, &w->peer);
	log_debug("%s: sendmail -v watcher (uid %lu) freed, %d left",
	    w->id[0] != '\0' ? w->id : "-", (unsigned long)w->peer.uid,
	    w->v->peers.n);
	if (w->bev != NULL)
		bufferevent_free(w->bev);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/*
 * Sends one line (sanitised) to the client, if it is still there; drops
 * it (and counts it) when RELAYQD_VERBOSE_OUT_MAX bytes already wait,
 * unless force.
 */
static void
relayqd_watch_put(struct relayqd_watch *w, const char *prefix, const char *s,
    size_t len, int force)
{
	char clean[1100];

	if (w == NULL || w->bev == NULL)
		return;
	if (!force &&
	    evbuffer_get_length(bufferevent_get_output(w->bev)) >=
		RELAYQD_VERBOSE_OUT_MAX) {
		w->dropped++;
		return;
	}
	str_sanitize(clean, sizeof(clean), s, len > 1000 ? 1000 : len);
	(void)bufferevent_write(w->bev, prefix, strlen(prefix));
	(void)bufferevent_write(w->bev, clean, strlen(clean));
	(void)bufferevent_write(w->bev, "\n", 1);
}

/* Sends one line, within the output limit. */
static void
relayqd_watch_line(struct relayqd_watch *w, const char *prefix, const char *s,
    size_t len)
{
	relayqd_watch_put(w, prefix, s, len, 0);
}

static void relayqd_watch_read_cb(struct bufferevent *bev, void *arg);
static void relayqd_watch_event_cb(struct bufferevent *bev, short what,
    void *arg);

/* Output drained after the RESULT line: the watcher is done. */
static void
relayqd_watch_flushed_cb(struct bufferevent *bev, void *arg)
{
	struct relayqd_watch *w = arg;

	(void)bev;
	relayqd_watch_free(w);
}

/* Writes the RESULT line and frees w once it is written. */
static void
relayqd_watch_finish(struct relayqd_watch *w, const char *st, const char *text)
{
	char line[400];

	if (w->dropped > 0) {
		(void)snprintf(line, sizeof(line),
		    "%lu lines not shown: output limit reached (the client "
		    "read too slowly)",
		    w->dropped);
		relayqd_watch_put(w, "*** ", line, strlen(line), 1);
	}
	(void)snprintf(line, sizeof(line), "%s %s", st, text);
	relayqd_watch_put(w, "RESULT ", line, strlen(line), 1);
	w->state = RQW_FINISHED;
	if (w->timer != NULL)
		event_del(w->timer);
	if (w->bev == NULL) {
		relayqd_watch_free(w);
		return;
	}
	/* EOF, an error or the write timeout still free it (event_cb). */
	bufferevent_setcb(w->bev, relayqd_watch_read_cb,
	    relayqd_watch_flushed_cb, relayqd_watch_event_cb, w);
	if (evbuffer_get_length(bufferevent_get_output(w->bev)) == 0)
		relayqd_watch_free(w);
}

/* Sends "*** text". */
void
relayqd_watch_note(struct relayqd_watch *w, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (w == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	relayqd_watch_line(w, "*** ", text, strlen(text));
}

/* Shows command lines written to the smarthost, secrets redacted. */
void
relayqd_watch_out(struct relayqd_watch *w, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl;

	if (w == NULL)
		return;
	while (p < end) {
		size_t n;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= 5 && strncasecmp(p, "AUTH ", 5) == 0) {
			char line[64];
			size_t mech = strcspn(p + 5, " \r\n");

			(void)snprintf(line, sizeof(line),
			    "AUTH %.*s <redacted>",
			    (int)(mech > 20 ? 20 : mech), p + 5);
			relayqd_watch_line(w, ">>> ", line, strlen(line));
			w->in_auth = 1;
		} else if (w->in_auth)
			relayqd_watch_line(w, ">>> ", "<redacted>", 10);
		else
			relayqd_watch_line(w, ">>> ", p, n);
		p = nl < end ? nl + 1 : end;
	}
}

/* True when line is a 2xx, 4xx or 5xx reply line (ends an exchange). */
static int
relayqd_watch_is_final(const char *line, size_t len)
{
	return len >= 3 &&
	    (line[0] == '2' || line[0] == '4' || line[0] == '5') &&
	    line[1] >= '0' && line[1] <= '9' && line[2] >= '0' &&
	    line[2] <= '9' && (len == 3 || line[3] == ' ' || line[3] == '-');
}

/*
 * Shows one reply line.  Inside an AUTH exchange every line but the
 * final reply (235, 535, 454...) is "<redacted>": a 334 challenge can
 * hold what an offline attack on the password needs (a SCRAM salt and
 * iteration count, a CRAM-MD5 challenge to pair with our response).
 */
void
relayqd_watch_in(struct relayqd_watch *w, const char *line, size_t len)
{
	if (w == NULL)
		return;
	if (!w->in_auth) {
		relayqd_watch_line(w, "<<< ", line, len);
		return;
	}
	if (!relayqd_watch_is_final(line, len)) {
		relayqd_watch_line(w, "<<< ", "<redacted>", 10);
		return;
	}
	relayqd_watch_line(w, "<<< ", line, len);
	if (len == 3 || line[3] == ' ')
		w->in_auth = 0;
}

/* True when w watches id. */
int
relayqd_watch_is_for(const struct relayqd_watch *w, const char *id)
{
	return w != NULL && strcmp(w->id, id) == 0;
}

/* Returns "sent", "deferred" or "failed" for a status. */
static const char *
relayqd_watch_st(enum rq_status st)
{
	return st == RQ_OK ? "sent" : st == RQ_PERMFAIL ? "failed" : "deferred";
}

/* Reports the transaction and ends the watch. */
void
relayqd_watch_done(struct relayqd_watch *w, const struct relayqd_msg *m,
    enum rq_status st, const struct rq_reason *why)
{
	int any_temp = 0, any_perm = 0, all_ok = 1;
	char line[600];

	if (w == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		enum rq_status rs = m->rdone[i] ? m->rst[i] : st;
		const struct rq_reason *r = m->rdone[i] ? &m->rwhy[i] : why;

		any_temp |= rs == RQ_TEMPFAIL;
		any_perm |= rs == RQ_PERMFAIL;
		all_ok &= rs == RQ_OK;
		(void)snprintf(line, sizeof(line), "%s %s %s",
		    relayqd_watch_st(rs), m->rcpts[i],
		    r != NULL ? r->text : "");
		relayqd_watch_line(w, "RCPT ", line, strlen(line));
	}
	relayqd_watch_finish(w,
	    all_ok	   ? "sent"
		: any_temp ? "deferred"
		: any_perm ? "failed"
			   : relayqd_watch_st(st),
	    why != NULL ? why->text : "");
}

/* Ends the watch without a transaction. */
void
relayqd_watch_abandon(struct relayqd_watch *w, const char *why)
{
	if (w == NULL)
		return;
	relayqd_watch_finish(w, "deferred", why);
}

/* Detaches w from its session; the next one that takes its id claims it. */
void
relayqd_watch_release(struct relayqd_watch *w, const char *why)
{
	struct timeval tv = { RELAYQD_VERBOSE_WAIT, 0 };

	if (w == NULL)
		return;
	if (w->bev == NULL) {
		/* Its client went away while attached (dead): nobody waits. */
		relayqd_watch_free(w);
		return;
	}
	relayqd_watch_note(w, "%s", why);
	w->state = RQW_WAITING;
	if (w->timer != NULL)
		event_add(w->timer, &tv);
}

/* Finds the watcher waiting for id and attaches it. */
struct relayqd_watch *
relayqd_verbose_claim(struct relayqd_verbose *v, const char *id)
{
	struct relayqd_unix_peer *p;

	if (v == NULL || id == NULL)
		return NULL;
	TAILQ_FOREACH(p, &v->peers.q, link) {
		struct relayqd_watch *w = p->owner;

		if (w->state == RQW_WAITING && strcmp(w->id, id) == 0) {
			w->state = RQW_ATTACHED;
			if (w->timer != NULL)
				event_del(w->timer);
			return w;
		}
	}
	return NULL;
}

/*
 * Checks that message id exists (accepting it from incoming/ first when
 * needed) and belongs to the client.  Returns 0, or -1 with text set.
 */
static int
relayqd_verbose_check(struct relayqd_watch *w, char *text, size_t textsz)
{
	struct relayd *rd = w->v->rd;
	struct queue_env e;
	struct rq_err err;
	const char *errstr = NULL;
	int fd, rv = -1;

	if ((fd = openat(rd->spool.dirfd[QUEUE_DIR_QUEUE], w->id,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1 &&
	    errno == ENOENT) {
		if (queue_spool_accept(&rd->spool, w->id, &err) == -1) {
			(void)snprintf(text, textsz, "not accepted: %s",
			    err.msg);
			return -1;
		}
		log_debug("%s: accepted", w->id);
		(void)relayqd_sched_add(rd->sched, w->id, relayqd_now());
		fd = openat(rd->spool.dirfd[QUEUE_DIR_QUEUE], w->id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1) {
		(void)snprintf(text, textsz, "no such message in the queue");
		return -1;
	}
	if (queue_env_read_fd(&e, fd, 0, &errstr) == -1)
		(void)snprintf(text, textsz, "unreadable: %s", errstr);
	else {
		if (w->peer.uid != 0 && w->peer.uid != geteuid() &&
		    (long long)w->peer.uid != e.uid)
			(void)snprintf(text, textsz,
			    "permission denied: not your message");
		else
			rv = 0;
		queue_env_free(&e);
	}
	(void)close(fd);
	return rv;
}

/*
 * Handles "F" or "F<id>": a flush, root's (or relayqd's own user's)
 * as SIGUSR1, anybody else's limited (relayqd_flush).
 */
static void
relayqd_verbose_flush(struct relayqd_watch *w, const char *line)
{
	struct queue_idlist one = { NULL, 0 };
	char who[64], idbuf[1][QUEUE_ID_LEN + 1];
	int rv, priv = w->peer.uid == 0 || w->peer.uid == geteuid();

	if (line[1] != '\0' &&
	    (strlen(line) != 1 + QUEUE_ID_LEN ||
		!queue_id_is_valid(line + 1))) {
		relayqd_watch_finish(w, "error", "bad request");
		return;
	}
	if (line[1] != '\0') {
		memcpy(idbuf[0], line + 1, sizeof(idbuf[0]));
		one.ids = idbuf;
		one.n = 1;
	}
	(void)snprintf(who, sizeof(who), "relayq flush (uid %lu)",
	    (unsigned long)w->peer.uid);
	rv = relayqd_flush(w->v->rd, who, one.n > 0 ? &one : NULL, priv);
	if (rv == 0)
		relayqd_watch_finish(w, "sent",
		    priv ? "flushed" : "flushed (a user's flush: limited)");
	else
		relayqd_watch_finish(w, "deferred",
		    "a user's flush is taken at most once every probe_max");
}

/*
 * Tells the client which smarthost its message goes to: the route of its
 * sender (conf_route), and in it the first smarthost that is up, else its
 * first one.  The route's smarthosts that are backing off get their
 * probe now.
 */
static void
relayqd_verbose_route(struct relayqd_watch *w, long long now)
{
	struct relayd *rd = w->v->rd;
	size_t r = (size_t)relayqd_route_read(rd, w->id);
	const struct conf_smarthost *sh = &rd->conf.smarthosts[r];
	const struct relayqd_dest *d = relayqd_route_dest(rd, r);
	char addr[300];

	for (size_t i = 0; i < sh->nchain; i++) {
		struct relayqd_dest *c = rd->dests[sh->chain[i]];

		if (c->down && c->probe_ms > now * 1000)
			c->probe_ms = now * 1000;
	}
	if (d == NULL)
		d = rd->dests[sh->chain[0]];
	sh = relayqd_dest_sh(d);
	(void)conf_smarthost_addr(sh, addr, sizeof(addr));
	if (d->index == 0)
		relayqd_watch_note(w, "%s: delivering now via %s", w->id, addr);
	else
		relayqd_watch_note(w,
		    "%s: delivering now via %s ([smarthost %s])", w->id, addr,
		    sh->name);
}

/* Handles "V<id>": registers the watcher and makes the message due. */
static void
relayqd_verbose_request(struct relayqd_watch *w, const char *line)
{
	struct relayd *rd = w->v->rd;
	struct relayqd_unix_peer *p;
	long long now = relayqd_now(), due;
	char text[300];

	if (line[0] == 'F') {
		relayqd_verbose_flush(w, line);
		return;
	}
	if (line[0] != 'V' || strlen(line) != 1 + QUEUE_ID_LEN ||
	    !queue_id_is_valid(line + 1)) {
		relayqd_watch_finish(w, "error", "bad request");
		return;
	}
	memcpy(w->id, line + 1, QUEUE_ID_LEN + 1);
	TAILQ_FOREACH(p, &w->v->peers.q, link) {
		struct relayqd_watch *o = p->owner;

		if (o != w && o->state != RQW_READING &&
		    strcmp(o->id, w->id) == 0) {
			relayqd_watch_finish(w, "error",
			    "already watched by another request");
			return;
		}
	}
	if (relayqd_verbose_check(w, text, sizeof(text)) == -1) {
		relayqd_watch_finish(w, "error", text);
		return;
	}
	/*
	 * A message already under way (inotify picked the drop up before
	 * this request came: a slow or loaded machine) keeps its attempt:
	 * the session that has it claims w when it starts it, or gives w
	 * its outcome when the transaction ends (relayqd_conn).
	 */
	if (!relayqd_sched_has(rd->sched, w->id))
		(void)relayqd_sched_add(rd->sched, w->id, now);
	else if ((due = relayqd_sched_take(rd->sched, w->id)) != -1)
		relayqd_sched_reschedule(rd->sched, w->id, now);
	relayqd_verbose_route(w, now);
	w->state = RQW_WAITING;
	log_info("%s: delivery with -v requested by uid %lu", w->id,
	    (unsigned long)w->peer.uid);
	relayqd_kick(rd);
}

/* Reads the request line. */
static void
relayqd_watch_read_cb(struct bufferevent *bev, void *arg)
{
	struct relayqd_watch *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	if (w->state != RQW_READING) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL) {
		if (evbuffer_get_length(in) > RELAYQD_VERBOSE_REQ_MAX)
			relayqd_watch_finish(w, "error", "request too long");
		return;
	}
	if (len != strlen(line) || len > RELAYQD_VERBOSE_REQ_MAX)
		relayqd_watch_finish(w, "error", "bad request");
	else
		relayqd_verbose_request(w, line);
	free(line);
}

/*
 * The client went away, or a read or write error, or it took no output
 * for data_block_timeout: whatever the state, the client is dropped.
 */
static void
relayqd_watch_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relayqd_watch *w = arg;

	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		log_info("%s: sendmail -v client (uid %lu) dropped: %s",
		    w->id[0] != '\0' ? w->id : "-", (unsigned long)w->peer.uid,
		    what & BEV_EVENT_TIMEOUT ? "it stopped reading"
					     : "connection error");
	if (w->state == RQW_ATTACHED) {
		/* The session still points at w: keep it until done. */
		bufferevent_free(w->bev);
		w->bev = NULL;
		w->dead = 1;
		return;
	}
	relayqd_watch_free(w);
}

/* A waiting or reading watcher ran out of time. */
static void
relayqd_watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_watch *w = arg;

	(void)fd;
	(void)what;
	if (w->state == RQW_READING || w->state == RQW_WAITING)
		relayqd_watch_finish(w, "deferred",
		    "no delivery attempt in time; the message stays queued");
}

/*
 * True when uid may take one more slot: root up to RELAYQD_VERBOSE_MAX,
 * any other uid up to RELAYQD_VERBOSE_PER_UID of the slots, all of them
 * together leaving RELAYQD_VERBOSE_ROOT_RESERVE.
 */
static int
relayqd_verbose_has_room(const struct relayqd_verbose *v, uid_t uid)
{
	if (v->peers.n >= RELAYQD_VERBOSE_MAX)
		return 0;
	if (uid == 0)
		return 1;
	if (v->peers.n >= RELAYQD_VERBOSE_MAX - RELAYQD_VERBOSE_ROOT_RESERVE)
		return 0;
	return relayqd_unix_peers_count(&v->peers, uid) <
	    RELAYQD_VERBOSE_PER_UID;
}

/* Accepts a connection on the socket. */
static void
relayqd_verbose_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static const char busy[] =
	    "RESULT error busy: too many sendmail -v requests at once "
	    "(yours or everyone's)\n";
	struct relayqd_verbose *v = arg;
	struct relayqd_watch *w;
	struct relayqd_unix_peer peer;
	struct timeval tv = { RELAYQD_VERBOSE_WAIT, 0 };
	struct timeval wtv = { 0, 0 };
	int fd;

	(void)what;
	if ((fd = relayqd_unix_accept(lfd, &peer)) == -1)
		return;
	if (!relayqd_verbose_has_room(v, peer.uid)) {
		char req[RELAYQD_VERBOSE_REQ_MAX];

		/*
		 * A new socket's buffer takes this line whole, or not at
		 * all; the request already sent is read first, so that the
		 * close does not reset the connection before the line is
		 * read.
		 */
		(void)!read(fd, req, sizeof(req));
		(void)!write(fd, busy, sizeof(busy) - 1);
		(void)close(fd);
		log_info("sendmail -v from uid %lu refused: no slot free",
		    (unsigned long)peer.uid);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->v = v;
	w->peer = peer;
	w->state = RQW_READING;
	w->bev = bufferevent_socket_new(v->rd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	w->timer = evtimer_new(v->rd->base, relayqd_watch_timer_cb, w);
	relayqd_unix_peers_add(&v->peers, &w->peer, w);
	if (w->bev == NULL || w->timer == NULL) {
		if (w->bev == NULL)
			(void)close(fd);
		relayqd_watch_free(w);
		return;
	}
	bufferevent_setcb(w->bev, relayqd_watch_read_cb, NULL,
	    relayqd_watch_event_cb, w);
	/* A client that takes no output for this long is dropped. */
	wtv.tv_sec = (time_t)v->rd->conf.delivery_data_block_timeout;
	(void)bufferevent_set_timeouts(w->bev, NULL, &wtv);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
	event_add(w->timer, &tv);
}

/* Creates the socket and the listener. */
struct relayqd_verbose *
relayqd_verbose_new(struct relayd *rd, int quiet)
{
	struct relayqd_verbose *v;
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (rq_snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
		rd->spool.path, RELAYQD_VERBOSE_SOCKET) == -1) {
		if (!quiet)
			log_warnx("spool path too long for the -v socket; "
				  "sendmail -v will not deliver in the "
				  "foreground");
		return NULL;
	}
	/* We hold the spool lock: a socket left there is stale. */
	(void)unlinkat(rd->spool.rootfd, RELAYQD_VERBOSE_SOCKET, 0);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1) {
		if (!quiet)
			log_warn("cannot create the -v socket");
		return NULL;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, RELAYQD_VERBOSE_MAX) == -1) {
		(void)umask(old);
		if (quiet)
			log_debug("cannot listen on %s yet: %s", sun.sun_path,
			    strerror(errno));
		else
			log_warn("cannot listen on %s (tried again at SIGHUP "
				 "and at each queue scan)",
			    sun.sun_path);
		(void)close(fd);
		return NULL;
	}
	(void)umask(old);
	if (quiet)
		log_info("listening on %s again", sun.sun_path);
	v = xcalloc(1, sizeof(*v));
	v->rd = rd;
	v->fd = fd;
	relayqd_unix_peers_init(&v->peers);
	if ((v->ev = event_new(rd->base, fd, EV_READ | EV_PERSIST,
		 relayqd_verbose_accept_cb, v)) == NULL ||
	    event_add(v->ev, NULL) == -1) {
		log_warnx("cannot watch the -v socket");
		relayqd_verbose_free(v);
		return NULL;
	}
	return v;
}

/* Closes everything. */
void
relayqd_verbose_free(struct relayqd_verbose *v)
{
	struct relayqd_watch *w;

	if (v == NULL)
		return;
	/* Attached watchers belong to sessions, which are gone by now. */
	while ((w = relayqd_unix_peers_first(&v->peers)) != NULL)
		relayqd_watch_free(w);
	if (v->ev != NULL)
		event_free(v->ev);
	(void)close(v->fd);
	(void)unlinkat(v->rd->spool.rootfd, RELAYQD_VERBOSE_SOCKET, 0);
	free(v);
}
