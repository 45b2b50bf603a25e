/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * TLS policy for the smarthost (OpenSSL), shared by relayqd and relayq
 * probe: the client context (trust store, minimum version, client
 * certificate), one SSL per connection with SNI and host name
 * verification, certificate pinning, and turning OpenSSL's error stack
 * into one log-worthy line.  Verification is on by
 * default; with tls_fingerprint set, a pin match is what is required
 * instead of the CA chain (as msmtp's tls_fingerprint).
 */
#ifndef RELAYQ_SMARTHOST_SMARTHOST_TLS_H
#define RELAYQ_SMARTHOST_SMARTHOST_TLS_H

#include <stddef.h>

#include "common/conf.h"
#include "common/status.h"

struct bufferevent;
struct event_base;
struct smarthost_tls;
typedef struct ssl_st SSL;

/*
 * Takes the TLS settings from the [smarthost] keys and checks them: the
 * configured files must be readable PEM (ca_path a directory), and a
 * client certificate must match its key.  The OpenSSL context itself is
 * built at the first smarthost_tls_ssl_new() (or at once when a client
 * certificate is set).  Returns it, or NULL with err filled (bad CA
 * file, key mismatch, bad pin syntax).
 */
struct smarthost_tls *smarthost_tls_new(const struct conf *c,
    struct rq_err *err);

/*
 * Checks the TLS keys of c's smarthosts[0] as relayqd does at start
 * (smarthost_tls_new(), then freed), for relayq check-config: nothing
 * for tls = none.  Returns 0, or -1 with err set.
 */
int smarthost_tls_check_conf(const struct conf *c, struct rq_err *err);

/*
 * Checks that the PEM file path, the value of [smarthost] key, can be read
 * and holds a PEM block (as ca_file is checked at start and on reload;
 * also for oauth2_ca_file).  Returns 0, or -1 with err set naming the key
 * ("smarthost:KEY: ...").
 */
int smarthost_tls_check_pem(const char *key, const char *path,
    struct rq_err *err);
/* Frees the context; NULL is a no-op. */
void smarthost_tls_free(struct smarthost_tls *t);

/*
 * Creates the SSL for one connection to host, building the context first
 * if needed (a failure is logged).  Returns NULL on error, and when t is
 * NULL (a reload turned TLS off while a session was starting).
 */
SSL *smarthost_tls_ssl_new(struct smarthost_tls *t, const char *host);

/*
 * Checks the handshake's result: the verification result (unless
 * pinning or tls_verify = no) and the pins.  Returns 0, or -1 with a
 * reason in buf; t NULL (TLS turned off by a reload) is a failure.
 */
int smarthost_tls_check_peer(struct smarthost_tls *t, SSL *ssl, char *buf,
    size_t bufsz);

/*
 * Describes why a TLS bufferevent failed: OpenSSL's errors and the
 * verification result.  Writes one line into buf.
 */
void smarthost_tls_describe_error(struct bufferevent *bev, SSL *ssl, char *buf,
    size_t bufsz);

/* Returns the negotiated protocol name ("TLSv1.3"), or "none". */
const char *smarthost_tls_version(SSL *ssl);

/*
 * relayq probe: lets every handshake complete, so that the certificate
 * can be shown even when it fails verification; the verdict then comes
 * only from smarthost_tls_check_peer(), called before anything is sent.
 */
void smarthost_tls_set_verify_late(struct smarthost_tls *t);

/*
 * Starts TLS on plain, a connected socket bufferevent after the server's
 * 220 to STARTTLS.  Refuses when plain's input is not empty: anything the
 * server sent after its 220 would be read as if it came through TLS
 * (CVE-2011-0411 class).  Returns the TLS filter bufferevent (with
 * BEV_OPT_CLOSE_ON_FREE: it owns plain from then on), or NULL with a
 * reason in *why (plain is then untouched).
 */
struct bufferevent *smarthost_tls_starttls(struct smarthost_tls *t,
    struct bufferevent *plain, const char *host, const char **why);

/*
 * Creates an implicit-TLS socket bufferevent for host (not connected
 * yet).  Returns it, or NULL with a reason in *why.
 */
struct bufferevent *smarthost_tls_socket_new(struct smarthost_tls *t,
    struct event_base *base, const char *host, const char **why);

/* What the server's certificate says, for relayq probe. */
struct smarthost_tls_peer {
	char subject[256]; /* RFC 2253, control characters escaped */
	char issuer[256];
	char expires[32]; /* "YYYY-MM-DD HH:MM:SS UTC" */
	char names[256];  /* subjectAltName DNS names and IPs, ", " */
	int expired;	  /* notAfter has passed */
	long verify;	  /* X509_V_OK, or the verification error */
	char verify_text[128];
};

/*
 * Fills pi from the handshake's peer certificate.  Returns 0, or -1
 * when the server sent none.
 */
int smarthost_tls_peer_info(SSL *ssl, struct smarthost_tls_peer *pi);

#endif
