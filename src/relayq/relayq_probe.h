/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq probe: checks the smarthost the configuration names the way
 * relayqd would reach it, and says what to fix.  The session itself is
 * libsmarthost's (smarthost_probe.c), shared with relayqd's TLS and AUTH
 * code; this file parses the arguments, takes relayqd's credentials to
 * read the secret, and maps the verdict to an exit code.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_PROBE_H
#define RELAYQ_RELAYQ_RELAYQ_PROBE_H

#include <stdio.h>

struct conf;

/* Prints probe's usage on fp. */
void relayq_probe_usage_print(FILE *fp);

/*
 * Runs relayq probe [--smarthost NAME] [--rcpt ADDR [--from ADDR]]
 * [--timeout DUR] with c ([smarthost], or the named one).  Returns the exit
 * code: EX_OK when mail could be sent, EX_UNAVAILABLE, EX_TEMPFAIL,
 * EX_NOPERM (authentication failed, or the secret is not readable by
 * the caller), EX_CONFIG, or EX_USAGE.
 */
int relayq_probe_main(struct conf *c, int argc, char *argv[]);

#endif
