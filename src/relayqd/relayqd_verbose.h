/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * sendmail -v: deliver one message now and show its SMTP dialogue to the
 * user who queued it.  relayqd listens on the unix socket
 * <spool>/verbose (mode 0660, group relayq, so only the setgid front end
 * reaches it).  Protocol, one request per connection:
 *
 *	front end -> relayqd   "V<20 hex id>\n"
 *	relayqd -> front end   lines, each escaped once by str_sanitize()
 *	                       (printable ASCII; the front end undoes it):
 *	    "*** text"         what relayqd is doing
 *	    "<<< reply line"   from the smarthost
 *	    ">>> command"      to the smarthost
 *	    AUTH is "AUTH MECH <redacted>"; after it every line of the
 *	    exchange, both ways (334 challenges too), is "<redacted>" until
 *	    the final 2xx/4xx/5xx reply, which is shown as is
 *	    "RCPT st addr reply"  per recipient, st sent|deferred|failed
 *	    "RESULT st text"   the end; st sent|deferred|failed|error
 *
 * Or a flush, answered with one RESULT line: "F\n" (every waiting
 * message) or "F<20 hex id>\n" (that one).  From root or relayqd's own
 * user (`relayq flush`) it is SIGUSR1's flush; from anybody else it is a
 * user's, limited as relayqd_flush() says ("RESULT deferred" when the
 * limit refuses it).
 *
 * The request is untrusted input: only a valid queue id is accepted, and
 * only from the user who submitted that message (SO_PEERCRED against the
 * U record) or root.  Watching changes nothing but the time of the next
 * attempt (now); the delivery and its outcome are the normal ones.
 * The session glue reports to a watcher through the relayqd_watch_*
 * calls, all of which accept NULL.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_VERBOSE_H
#define RELAYQ_RELAYQD_RELAYQD_VERBOSE_H

#include <stddef.h>

#include "common/compat.h"
#include "common/status.h"

struct relayd;
struct relayqd_msg;
struct relayqd_verbose;
struct relayqd_watch;

#define RELAYQD_VERBOSE_SOCKET "verbose"
#define RELAYQD_VERBOSE_MAX 16 /* watchers at once (a uid: see the .c) */

/*
 * Creates the socket and its listener in rd's spool.  Returns NULL (with
 * a warning logged, at debug level when quiet) when it cannot; relayqd
 * then runs without -v support (and root's flush) and tries again at
 * SIGHUP and at each periodic scan.
 */
struct relayqd_verbose *relayqd_verbose_new(struct relayd *rd, int quiet);
/* Closes the socket and every watcher; NULL is a no-op. */
void relayqd_verbose_free(struct relayqd_verbose *v);

/*
 * Returns the watcher waiting for message id and marks it attached to
 * the caller's session (which must later end it with done or abandon),
 * or NULL when nobody watches id.
 */
struct relayqd_watch *relayqd_verbose_claim(struct relayqd_verbose *v,
    const char *id);
/* True when w watches message id. */
int relayqd_watch_is_for(const struct relayqd_watch *w, const char *id);
/* Sends "*** text". */
void relayqd_watch_note(struct relayqd_watch *w, const char *fmt, ...)
    RQ_PRINTF(2, 3);
/* Shows bytes written to the smarthost (whole command lines). */
void relayqd_watch_out(struct relayqd_watch *w, const char *data, size_t len);
/* Shows one line read from the smarthost (without its CRLF). */
void relayqd_watch_in(struct relayqd_watch *w, const char *line, size_t len);
/* Reports the transaction's outcome per recipient and ends the watch. */
void relayqd_watch_done(struct relayqd_watch *w, const struct relayqd_msg *m,
    enum rq_status st, const struct rq_reason *why);
/* Ends the watch without a transaction outcome ("RESULT deferred"). */
void relayqd_watch_abandon(struct relayqd_watch *w, const char *why);
/*
 * Detaches w from the session that claimed it, with "*** why": it waits
 * again (RELAYQD_VERBOSE_WAIT at most) for the session that takes its
 * message next (a probe gave the message back, relayqd_conn).
 */
void relayqd_watch_release(struct relayqd_watch *w, const char *why);

#endif
