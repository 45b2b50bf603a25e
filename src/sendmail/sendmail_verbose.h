/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * sendmail -v: after queueing, ask relayqd through <spool>/verbose to
 * deliver the message now, and print the SMTP dialogue it streams back
 * (secrets already redacted by relayqd) on stderr.  The front end still
 * never talks to the network or reads credentials: relayqd does the
 * delivery, as always; this only watches it.  Protocol in
 * src/relayqd/relayqd_verbose.h.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_VERBOSE_H
#define RELAYQ_SENDMAIL_SENDMAIL_VERBOSE_H

#include "common/conf.h"

/*
 * Watches the delivery of queued message id.  Returns EX_OK when every
 * recipient was accepted by the smarthost, EX_UNAVAILABLE when the
 * attempt deferred or failed (the reason was printed; the message stays
 * queued, or bounces as usual), or -1 when relayqd cannot be reached
 * (nothing printed; the caller just pokes relayqd).
 */
int sendmail_verbose_run(const struct conf *conf, const char *id);

#endif
