/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * One SMTP session to the smarthost: the libevent glue between a socket
 * (bufferevent), the reply parser and the I/O-free SMTP client.  A
 * session is opened for a first message, then pulls further due messages
 * from the scheduler while it is ready, up to messages_per_connection,
 * and says QUIT when idle.  It is freed from a clean stack (never inside
 * its own callback): relayqd_conn_close() marks it closing and schedules
 * the free.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_CONN_H
#define RELAYQ_RELAYQD_RELAYQD_CONN_H

struct relayd;
struct relayqd_conn;
struct relayqd_dest;

/* Returns the next session in its destination's list, or NULL. */
struct relayqd_conn *relayqd_conn_next(struct relayqd_conn *rc);

/*
 * True while rc holds the message it was opened for, admitted by the
 * pace but not yet started: its recipients are not yet charged to
 * recipient_limit (relayqd_rate_charge), which happens once it is ready.
 */
int relayqd_conn_is_uncharged(const struct relayqd_conn *rc);

/*
 * Opens a session to dest (which lists it in its conns while it lives)
 * that will carry message first_id (copied).
 */
struct relayqd_conn *relayqd_conn_new(struct relayd *rd,
    struct relayqd_dest *dest, const char *first_id);
/*
 * The same for a probe of a down dest whose message another smarthost of
 * its route could carry: when the session is not ready after
 * release_secs (a server that accepts the connection but never greets,
 * or stalls in TLS), first_id is given back to the scheduler, due now,
 * and the probe goes on without it; 0 never gives it back.
 */
struct relayqd_conn *relayqd_conn_new_probe(struct relayd *rd,
    struct relayqd_dest *dest, const char *first_id, long long release_secs);

/*
 * dest's OAuth2 refresh ended (relayqd_oauth2): every session of dest
 * waiting for a token goes on with the new one (ok), or fails as when the
 * smarthost cannot be reached, with why as the reason (its first message
 * is deferred and the destination backs off).
 */
void relayqd_conn_token_done(struct relayqd_dest *dest, int ok,
    const char *why);

/*
 * password_command ended (relayqd_pwcmd's done callback; arg is the
 * struct relayqd_dest whose command it was): every session waiting for it goes on with secret (its
 * output, copied), or, when secret is NULL, fails as when the smarthost
 * cannot be reached, with why as the reason (logged once here; its first
 * message is deferred, never bounced, and the destination backs off).
 */
void relayqd_conn_secret_done(void *arg, const char *secret, const char *why);

/* True when the session is ready and idle: it can take a message. */
int relayqd_conn_is_idle(const struct relayqd_conn *rc);

/* Starts delivering due messages on an idle session. */
void relayqd_conn_pull(struct relayqd_conn *rc);

/*
 * Shutdown (SIGTERM): an idle session sends QUIT and is freed after the
 * reply (TLS then sends close_notify), or after a short bound without
 * one; any other session is dropped as by relayqd_conn_abort(), which
 * may free it at once.  Must not be called from the conn's own
 * callbacks.
 */
void relayqd_conn_stop(struct relayqd_conn *rc);

/*
 * A reload retired the session's smarthost (relayqd_dest_retire): the
 * transaction in flight finishes, then the session QUITs; an idle one
 * QUITs now; one not ready yet is closed and its first message put back
 * in the scheduler, due now.  Must not be called from the conn's own
 * callbacks.
 */
void relayqd_conn_retire(struct relayqd_conn *rc);

/*
 * Drops the session at once (shutdown): no QUIT, the message in flight
 * is left untouched in the queue, and the conn is freed.  Must not be
 * called from the conn's own callbacks.
 */
void relayqd_conn_abort(struct relayqd_conn *rc);

#endif
