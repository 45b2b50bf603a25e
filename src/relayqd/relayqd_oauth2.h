/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The smarthost's OAuth2 access token, shared by all its sessions
 * (issue 14).  A session that needs a token takes the cached one; when
 * there is none, or it is within a margin of expires_in, the session
 * waits (relayqd_conn's RC_TOKEN) while exactly one refresh runs
 * (oauth2_client); parallel refreshes would each rotate the refresh token
 * and invalidate one another.  When the refresh ends, every waiting
 * session is resumed through relayqd_conn_token_done(): with the new
 * token, or failed like a smarthost that cannot be reached, so mail is
 * deferred and the destination backs off (relayqd_outcome_host_down).
 *
 * invalid_grant (the refresh token was revoked or expired) runs
 * alert_command once per incident (until a refresh succeeds again) and
 * defers with RELAYQD_OAUTH2_REJECTED_TEXT, which mailq, relayq show and
 * relayq stats then show.  Mail is never bounced for a token problem.
 * Tokens never reach the log.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_OAUTH2_H
#define RELAYQ_RELAYQD_RELAYQD_OAUTH2_H

#include "common/conf.h"
#include "common/status.h"

struct relayd;
struct relayqd_dest;
struct relayqd_oauth2;

#define RELAYQD_OAUTH2_REJECTED_TEXT \
	"OAuth2 refresh token rejected: run relayq oauth2 login"

/*
 * Creates the cache for c's smarthost, destination dest (whose waiting
 * sessions it resumes: relayqd_conn_token_done); rd gives the event
 * base, the resolver, the spool (<spool>/oauth2) and the alerts.
 * Returns NULL with err->msg "" when oauth2_token_url is not set, or
 * NULL with err->msg set when the client secret file cannot be read or
 * oauth2_ca_file holds no PEM block (checked at start and on reload).
 * A missing or empty refresh token file, or one in a directory relayqd
 * cannot create files in, is only logged: mail waits for `relayq oauth2
 * login` or for the directory to be fixed.
 */
struct relayqd_oauth2 *relayqd_oauth2_new(struct relayd *rd,
    struct relayqd_dest *dest, const struct conf *c, struct rq_err *err);

/*
 * Replaces o's settings with n's (a reload): the cached token is kept
 * when the endpoint, client, grant, scope and files are the same; a
 * refresh in flight finishes with the old settings.  n is freed.
 */
void relayqd_oauth2_update(struct relayqd_oauth2 *o, struct relayqd_oauth2 *n);

/*
 * Wipes the token and frees; NULL is a no-op.  A refresh in flight that
 * may have spent the refresh token (its request may have gone out) is
 * not cancelled: it becomes an orphan of rd (oauth2_client_detach) that
 * finishes on its own, still holding the token file's lock, so a rotated
 * refresh token is stored and a refresh started meanwhile for the same
 * file waits for it and reads the new token.  The waiting sessions are
 * no longer resumed.  Any other refresh is cancelled.
 */
void relayqd_oauth2_free(struct relayqd_oauth2 *o);

/*
 * Shutdown: lets go of o's refresh as relayqd_oauth2_free() does, and
 * starts no other; the loop ends once the orphans are done (relayqd_kick).
 * NULL is a no-op.
 */
void relayqd_oauth2_stop(struct relayqd_oauth2 *o);

/* Cancels the orphans still in flight (teardown after a second signal). */
void relayqd_oauth2_orphans_free(struct relayd *rd);

/*
 * Returns the cached access token (borrowed until the next refresh or
 * invalidation: copy it) and its generation in *gen, or NULL when there
 * is none that is valid for a while yet.
 */
const char *relayqd_oauth2_token(struct relayqd_oauth2 *o, unsigned *gen);

/* Starts a refresh unless one is in flight. */
void relayqd_oauth2_refresh(struct relayqd_oauth2 *o);

/*
 * The smarthost refused the token of generation gen: it is dropped when
 * it is still the cached one.
 */
void relayqd_oauth2_reject(struct relayqd_oauth2 *o, unsigned gen);

#endif
