/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * What a delivery result means.  This is the only place that turns SMTP
 * outcomes into queue actions: a recipient accepted is done; a 4xx or a
 * broken session leaves it pending and the message is retried later; a
 * 5xx fails that recipient.  It writes one log line per recipient, then
 * persists the state (or removes the message when nothing is pending)
 * and reschedules.  It also decides when the destination itself is down.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_OUTCOME_H
#define RELAYQ_RELAYQD_RELAYQD_OUTCOME_H

#include "common/status.h"

struct relayd;
struct relayqd_msg;

/*
 * Applies a finished (or aborted) transaction of m, which the caller
 * then frees.  relay is "host[addr]:port" and tls the protocol ("none")
 * for the log.
 */
void relayqd_outcome_msg(struct relayd *rd, struct relayqd_msg *m,
    enum rq_status st, const struct rq_reason *why, const char *relay,
    const char *tls);

/*
 * A session failed before it could carry any message (connect refused,
 * DNS, greeting, TLS...).  The destination is considered down for
 * retry_min; a message that was waiting for this session is deferred
 * with the reason by the caller through relayqd_outcome_msg().
 */
void relayqd_outcome_host_down(struct relayd *rd, const struct rq_reason *why);

/* The destination answered a session: it is up again. */
void relayqd_outcome_host_up(struct relayd *rd);

/* Returns the delay before the next attempt after tries failures. */
long long relayqd_outcome_retry_delay(const struct relayd *rd, unsigned tries);

#endif
