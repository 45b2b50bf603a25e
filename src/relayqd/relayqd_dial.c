/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Resolving the smarthost and opening one TCP connection to it.  Owns the
 * evdns request, the address list and the sockets of the attempts; hands
 * the winning socket to the caller and closes the others.  It knows
 * nothing of TLS or SMTP, nor of which smarthost it dials for.
 *
 * Order: every address evdns gives, A and AAAA, in the order it gives
 * them (the hosts file's order for a name found there, else the A
 * answers, then the AAAA ones).  No RFC 8305 section 4 re-sorting: the
 * resolver's order is the contract, so an operator can put the address
 * to use first.  Attempts are staggered (RFC 8305 section 5): the first
 * address is tried; when it fails, the next starts at once; while it has
 * neither connected nor failed after RELAYQD_DIAL_STAGGER_MS, the next
 * starts in parallel, and so on.  The first attempt to connect wins and
 * the others are closed before anything is written.  So a refused
 * address costs a round trip and a silent (blackholed) one costs the
 * stagger delay, not connect_timeout; each attempt gives up after the
 * connect timeout, and the dial fails when every attempt has.  The cost:
 * a slow but alive server may see a second connection opened and closed
 * at once.
 *
 * Invariants: the callback runs from the event loop (ev_done, or an
 * attempt's event), never inside relayqd_dial_start(), and once; a
 * dial is freed right after its callback or by relayqd_dial_cancel();
 * the evdns callback may run inside evdns_getaddrinfo() (reference notes
 * 1.7), so nothing after that call assumes it has not.
 */
#include "config.h"

#include "relayqd/relayqd_dial.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

struct relayqd_dial_try {
	struct relayqd_dial *d; /* borrowed: the dial it belongs to */
	int fd;			/* owned, -1 once closed */
	struct event *ev;	/* owned: writable or timed out */
	char addr[INET6_ADDRSTRLEN];
};

struct relayqd_dial {
	struct event_base *base; /* borrowed */
	char *host;		 /* owned */
	int port;
	struct timeval timeout;
	struct timeval stagger;
	int stagger_ms; /* 0: one address at a time */
	relayqd_dial_cb cb;
	void *arg;
	struct evdns_getaddrinfo_request *req; /* until its callback */
	struct evutil_addrinfo *ai;	       /* owned */
	struct evutil_addrinfo *next;	       /* borrowed: next to try */
	int naddrs;			       /* usable addresses resolved */
	int ntries;			       /* attempts started or failed */
	int inflight;			       /* attempts waiting */
	int nfailed;			       /* attempts that failed */
	int resolved;			       /* the evdns callback ran */
	struct relayqd_dial_try tries[RELAYQD_DIAL_MAX];
	struct event *ev_stagger; /* owned */
	struct event *ev_done;	  /* owned: reports a failure */
	char why[320];
};

static void relayqd_dial_next(struct relayqd_dial *d);

/* Closes one attempt. */
static void
relayqd_dial_try_close(struct relayqd_dial_try *t)
{
	if (t->ev != NULL) {
		event_free(t->ev);
		t->ev = NULL;
	}
	if (t->fd != -1) {
		(void)close(t->fd);
		t->fd = -1;
	}
}

/* Frees the dial and everything it still holds. */
static void
relayqd_dial_free(struct relayqd_dial *d)
{
	if (d->req != NULL) {
		struct evdns_getaddrinfo_request *req = d->req;

		d->req = NULL;
		evdns_getaddrinfo_cancel(req); /* runs the callback now */
	}
	for (int i = 0; i < d->ntries; i++)
		relayqd_dial_try_close(&d->tries[i]);
	if (d->ev_stagger != NULL)
		event_free(d->ev_stagger);
	if (d->ev_done != NULL)
		event_free(d->ev_done);
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	free(d->host);
	free(d);
}

/* Records why attempt i failed; logs it when the name has other addresses. */
static void
relayqd_dial_failed(struct relayqd_dial *d, int i, const char *text)
{
	d->nfailed++;
	(void)!rq_snprintf(d->why, sizeof(d->why), "connect to %s[%s]:%d: %s",
	    d->host, d->tries[i].addr, d->port, text);
	if (d->naddrs > 1)
		log_warnx("%s (address %d of %d)", d->why, i + 1, d->naddrs);
}

/* True when an address is left to try. */
static int
relayqd_dial_more(const struct relayqd_dial *d)
{
	return d->next != NULL && d->ntries < RELAYQD_DIAL_MAX;
}

/* Reports a failure from the loop. */
static void
relayqd_dial_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_dial *d = arg;

	(void)fd;
	(void)what;
	if (d->naddrs > 1 && d->nfailed == d->naddrs) {
		char text[sizeof(d->why)];

		(void)!rq_snprintf(text, sizeof(text),
		    "%s (all %d addresses failed)", d->why, d->naddrs);
		strlcpy(d->why, text, sizeof(d->why));
	}
	d->cb(-1, NULL, d->why, d->arg);
	relayqd_dial_free(d);
}

/* Ends the dial with the failure in d->why, from the loop. */
static void
relayqd_dial_fail(struct relayqd_dial *d)
{
	event_del(d->ev_stagger);
	event_active(d->ev_done, EV_TIMEOUT, 1);
}

/* An attempt's socket became writable, or its time ran out. */
static void
relayqd_dial_try_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_dial_try *t = arg;
	struct relayqd_dial *d = t->d;
	int err = 0, sock, used;
	socklen_t len = sizeof(err);
	char addr[INET6_ADDRSTRLEN];

	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		d->inflight--;
		relayqd_dial_try_close(t);
		relayqd_dial_failed(d, (int)(t - d->tries),
		    err == ETIMEDOUT ? "timed out" : strerror(err));
		relayqd_dial_next(d); /* the next address starts at once */
		return;
	}
	/* The first to connect wins; the others never see a byte. */
	sock = t->fd;
	t->fd = -1;
	memcpy(addr, t->addr, sizeof(addr));
	used = (int)(t - d->tries) + 1;
	relayqd_dial_try_close(t);
	if (used > 1)
		log_info("connected to %s[%s]:%d (address %d of %d; %d failed, "
			 "%d abandoned)",
		    d->host, addr, d->port, used, d->naddrs, d->nfailed,
		    d->inflight - 1);
	d->cb(sock, addr, NULL, d->arg);
	relayqd_dial_free(d);
}

/* No answer yet from the newest attempt: start the next one too. */
static void
relayqd_dial_stagger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_dial *d = arg;

	(void)fd;
	(void)what;
	if (!relayqd_dial_more(d))
		return;
	log_info("connect to %s[%s]:%d: no answer yet after %d ms; trying the "
		 "next address too",
	    d->host, d->tries[d->ntries - 1].addr, d->port, d->stagger_ms);
	relayqd_dial_next(d);
}

/*
 * Starts an attempt on the next address that takes one.  An address
 * that fails at once (no route, no socket) is recorded and the next is
 * taken; with none left and nothing waiting, the dial fails.
 */
static void
relayqd_dial_next(struct relayqd_dial *d)
{
	while (relayqd_dial_more(d)) {
		struct evutil_addrinfo *ai = d->next;
		struct relayqd_dial_try *t = &d->tries[d->ntries];

		d->next = ai->ai_next;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		d->ntries++;
		t->d = d;
		str_sockaddr(ai->ai_addr, t->addr, sizeof(t->addr));
		t->fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (t->fd == -1) {
			relayqd_dial_failed(d, d->ntries - 1, strerror(errno));
			continue;
		}
		if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			int saved_errno = errno;

			relayqd_dial_try_close(t);
			relayqd_dial_failed(d, d->ntries - 1,
			    strerror(saved_errno));
			continue;
		}
		/* Connected or in progress: writable tells which. */
		if ((t->ev = event_new(d->base, t->fd, EV_WRITE,
			 relayqd_dial_try_cb, t)) == NULL ||
		    event_add(t->ev, &d->timeout) == -1) {
			relayqd_dial_try_close(t);
			relayqd_dial_failed(d, d->ntries - 1,
			    "cannot watch the socket");
			continue;
		}
		d->inflight++;
		if (d->stagger_ms > 0 && relayqd_dial_more(d))
			event_add(d->ev_stagger, &d->stagger);
		else
			event_del(d->ev_stagger);
		return;
	}
	if (d->inflight == 0)
		relayqd_dial_fail(d);
}

/*
 * Says why evdns found no address.  libevent 2.1 reports every DNS
 * failure but NXDOMAIN as EVUTIL_EAI_FAIL, whose text ("Non-recoverable
 * failure in name resolution") is wrong for a name server that timed out
 * or answered SERVFAIL or REFUSED: relayqd tries again later.
 */
static const char *
relayqd_dial_dns_why(int result)
{
	if (result == EVUTIL_EAI_FAIL)
		return "no answer from the name servers (timed out, refused "
		       "or failed)";
	if (result == EVUTIL_EAI_NONAME)
		return "no such name";
	return result != 0 ? evutil_gai_strerror(result) : "no address";
}

/* evdns answered (or failed, or was cancelled). */
static void
relayqd_dial_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct relayqd_dial *d = arg;

	d->req = NULL;
	d->resolved = 1;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return; /* relayqd_dial_free() is running */
	}
	if (result != 0 || res == NULL) {
		(void)!rq_snprintf(d->why, sizeof(d->why),
		    "cannot resolve %s: %s", d->host,
		    relayqd_dial_dns_why(result));
		if (res != NULL)
			evutil_freeaddrinfo(res);
		relayqd_dial_fail(d);
		return;
	}
	d->ai = d->next = res;
	for (struct evutil_addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    d->naddrs < RELAYQD_DIAL_MAX)
			d->naddrs++;
	(void)!rq_snprintf(d->why, sizeof(d->why), "%s: no address", d->host);
	relayqd_dial_next(d);
}

/* Starts a dial. */
struct relayqd_dial *
relayqd_dial_start(struct event_base *base, struct evdns_base *dns,
    const struct relayqd_dial_conf *dc, relayqd_dial_cb cb, void *arg)
{
	struct relayqd_dial *d = xcalloc(1, sizeof(*d));
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints;
	char port[16];

	d->base = base;
	d->host = xstrdup(dc->host);
	d->port = dc->port;
	d->timeout.tv_sec = (time_t)dc->timeout;
	d->stagger_ms = dc->stagger_ms;
	d->stagger.tv_sec = dc->stagger_ms / 1000;
	d->stagger.tv_usec = (dc->stagger_ms % 1000) * 1000;
	d->cb = cb;
	d->arg = arg;
	if ((d->ev_stagger = evtimer_new(base, relayqd_dial_stagger_cb, d)) ==
		NULL ||
	    (d->ev_done = event_new(base, -1, 0, relayqd_dial_done_cb, d)) ==
		NULL)
		fatalx("event_new failed");

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/*
	 * No EVUTIL_AI_ADDRCONFIG: libevent would call getifaddrs(), whose
	 * AF_NETLINK socket the unit's RestrictAddressFamilies= refuses
	 * (a warning at every start).  Every address is tried, so an AAAA
	 * answer on a host without IPv6 fails at once (ENETUNREACH) and
	 * the next address is used.
	 */
	(void)!rq_snprintf(port, sizeof(port), "%d", dc->port);
	req = evdns_getaddrinfo(dns, dc->host, port, &hints,
	    relayqd_dial_dns_cb, d);
	/* NULL when the callback ran already (a literal, the hosts file). */
	if (!d->resolved)
		d->req = req;
	return d;
}

/* Cancels a dial. */
void
relayqd_dial_cancel(struct relayqd_dial *d)
{
	if (d != NULL)
		relayqd_dial_free(d);
}

/* Creates the evdns base from the given or the system's files. */
struct evdns_base *
relayqd_dial_dns_new(struct event_base *base, const char *resolv_conf,
    const char *hosts_file, struct rq_err *err)
{
	struct evdns_base *dns;
	int rv;

	if ((dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)) ==
	    NULL) {
		rq_err_set(err, "evdns_base_new failed");
		return NULL;
	}
	/*
	 * What EVDNS_BASE_INITIALIZE_NAMESERVERS does, with the hosts file
	 * read separately so that it can be another one.  0: parsed; 6:
	 * no nameserver listed (evdns then asks 127.0.0.1); 1-5: not read.
	 */
	rv = evdns_base_resolv_conf_parse(dns,
	    DNS_OPTIONS_ALL & ~DNS_OPTION_HOSTSFILE,
	    resolv_conf[0] != '\0' ? resolv_conf : "/etc/resolv.conf");
	if (rv >= 1 && rv <= 5 && resolv_conf[0] != '\0') {
		rq_err_set(err,
		    "relayq:resolv_conf: cannot read %s (evdns error %d)",
		    resolv_conf, rv);
		evdns_base_free(dns, 0);
		return NULL;
	}
	if (evdns_base_load_hosts(dns,
		hosts_file[0] != '\0' ? hosts_file : NULL) != 0 &&
	    hosts_file[0] != '\0') {
		rq_err_set(err, "relayq:hosts_file: cannot read %s",
		    hosts_file);
		evdns_base_free(dns, 0);
		return NULL;
	}
	return dns;
}
