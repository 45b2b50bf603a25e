/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq oauth2 status and login (issue 14): the smarthost's OAuth2 settings, the
 * refresh token file's state, and relayqd's last refresh as it published
 * it in <spool>/oauth2.  Never prints a token or a secret.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_OAUTH2_H
#define RELAYQ_RELAYQ_RELAYQ_OAUTH2_H

struct conf;

/*
 * Prints the status on stdout.  Returns EX_OK, EX_CONFIG when OAuth2 is
 * not configured, or EX_IOERR.
 */
int relayq_oauth2_status(const struct conf *c);

/*
 * relayq oauth2 login: the device grant, or with browser the
 * authorization-code grant with PKCE and a loopback redirect; stores the
 * refresh token in oauth2_refresh_token_file (as relayqd's user when
 * run as root).  Returns EX_OK; EX_CONFIG (keys missing), EX_TEMPFAIL
 * (the code expired, or no redirect in time), EX_NOPERM (the user
 * declined), EX_UNAVAILABLE (an endpoint down), EX_PROTOCOL (another
 * error reply), EX_CANTCREAT (cannot store), EX_OSERR.  Never prints a
 * token.
 */
int relayq_oauth2_login(const struct conf *c, int browser);

#endif
