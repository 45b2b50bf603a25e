/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Reaching a smarthost: the resolver set-up, then a name or an IP
 * literal resolved with evdns and a TCP connection opened to one of its
 * addresses, every A and AAAA address in the resolver's order, with
 * RFC 8305 staggered attempts (see relayqd_dial.c).  The caller gets a
 * connected socket, or the reason why no address answered; what runs on
 * the socket (TLS, SMTP) is not this module's business.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_DIAL_H
#define RELAYQ_RELAYQD_RELAYQD_DIAL_H

#include <netinet/in.h>

#include "common/status.h"

struct event_base;
struct evdns_base;
struct relayqd_dial;

/*
 * RFC 8305 section 5 "Connection Attempt Delay": while one address has
 * not answered, the next one is tried in parallel after this long.
 */
#define RELAYQD_DIAL_STAGGER_MS 250
/* Addresses of one name tried at most (the rest are ignored). */
#define RELAYQD_DIAL_MAX 16

struct relayqd_dial_conf {
	const char *host; /* borrowed for the call: a name or a bare literal */
	int port;
	long long timeout; /* seconds one address may take to connect */
	int stagger_ms;	   /* RELAYQD_DIAL_STAGGER_MS; 0: one at a time */
};

/*
 * The result.  fd >= 0: a connected non-blocking socket, now the
 * callee's, and addr its peer's address as text ("192.0.2.7", "::1").
 * fd == -1: no address answered; why says why ("cannot resolve H: ...",
 * or "connect to H[addr]:port: Connection refused" for the last address
 * tried).  It runs from the event loop, never inside relayqd_dial_start(),
 * exactly once unless the dial is cancelled first; the dial is freed once
 * it returns.
 */
typedef void (
    *relayqd_dial_cb)(int fd, const char *addr, const char *why, void *arg);

/*
 * Starts resolving dc->host and connecting to its addresses.  Each
 * address that fails is logged (when the name has more than one), and
 * so is the one used after a failure.  Never returns NULL.
 */
struct relayqd_dial *relayqd_dial_start(struct event_base *base,
    struct evdns_base *dns, const struct relayqd_dial_conf *dc,
    relayqd_dial_cb cb, void *arg);

/* Stops a dial whose callback has not run: closes its sockets, frees it. */
void relayqd_dial_cancel(struct relayqd_dial *d);

/*
 * Creates the evdns base.  resolv_conf and hosts_file name the files
 * read instead of /etc/resolv.conf and /etc/hosts ("" : those); a file
 * named in the config must be readable (-1 with err set), the system's
 * may be missing (then evdns's defaults apply).
 */
struct evdns_base *relayqd_dial_dns_new(struct event_base *base,
    const char *resolv_conf, const char *hosts_file, struct rq_err *err);

#endif
