/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One probe session to the smarthost, for relayq probe: the dialogue
 * relayqd would have (greeting, EHLO, STARTTLS, the certificate, EHLO
 * again, AUTH), printed as it happens with every secret shown as
 * <redacted>, and optionally MAIL and RCPT followed by RSET, so that
 * nothing is ever sent.  It drives the same smtp_client, TLS policy
 * (smarthost_tls) and SASL code (smarthost_auth) as relayqd, on its own
 * event base, and ends with a verdict and one sentence on what to fix.
 */
#ifndef RELAYQ_SMARTHOST_SMARTHOST_PROBE_H
#define RELAYQ_SMARTHOST_SMARTHOST_PROBE_H

#include <stddef.h>
#include <stdio.h>

struct conf;
struct smarthost_auth;
struct smarthost_tls;

/* The verdict; relayq maps it to sysexits codes. */
enum smarthost_probe_result {
	SMARTHOST_PROBE_OK,	     /* mail could be sent (EX_OK) */
	SMARTHOST_PROBE_UNAVAILABLE, /* refused, unreachable (EX_UNAVAILABLE) */
	SMARTHOST_PROBE_TEMPFAIL,    /* 4xx, timeout, lost (EX_TEMPFAIL) */
	SMARTHOST_PROBE_AUTHFAIL,    /* AUTH refused (EX_NOPERM) */
	SMARTHOST_PROBE_CONFIG,	     /* our settings are wrong (EX_CONFIG) */
};

struct smarthost_probe_opts {
	const char *sender; /* MAIL FROM with rcpt; "" the null sender */
	const char *rcpt;   /* NULL: no transaction */
	long long timeout;  /* caps every wait (seconds); 0: none */
	const char *token;  /* the OAuth2 access token, or NULL (borrowed) */
};

/*
 * Runs the probe described by c with the TLS policy tls (NULL when tls =
 * none) and the AUTH policy auth (NULL when AUTH is off; one that takes
 * an OAuth2 token sends o->token, which the caller fetched), printing the
 * dialogue on out.  Returns the verdict and writes one plain sentence on
 * what to fix (or what works) into advice.  Timeouts are c's delivery
 * timeouts, each capped at o->timeout.
 */
enum smarthost_probe_result smarthost_probe_run(const struct conf *c,
    struct smarthost_tls *tls, struct smarthost_auth *auth,
    const struct smarthost_probe_opts *o, FILE *out, char *advice,
    size_t advicesz);

#endif
