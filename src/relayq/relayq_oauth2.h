/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq oauth2 status and login (issue 14): a smarthost's OAuth2
 * settings, the refresh token file's state, and relayqd's last refresh as
 * it published it in <spool>/oauth2.  Never prints a token or a secret.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_OAUTH2_H
#define RELAYQ_RELAYQ_RELAYQ_OAUTH2_H

struct conf;

/*
 * Runs relayq oauth2 with its arguments (argv[0] is status or login):
 * relayq_oauth2_status() or relayq_oauth2_login(), or EX_USAGE after a
 * usage message.
 */
int relayq_oauth2_main(const struct conf *c, int argc, char *argv[]);

/*
 * Prints the status on stdout: of [smarthost NAME] when name is not
 * NULL; else of [smarthost], or, when a named section sets
 * oauth2_token_url, of every section that does, each labelled.  Returns
 * EX_OK, EX_USAGE (no such section: the message lists the known ones),
 * EX_CONFIG when OAuth2 is not configured, or EX_IOERR.
 */
int relayq_oauth2_status(const struct conf *c, const char *name);

/*
 * relayq oauth2 login for [smarthost], or [smarthost NAME] when name is
 * not NULL, with that section's keys only: the device grant, or with
 * browser the authorization-code grant with PKCE and a loopback
 * redirect; stores the refresh token in the section's
 * oauth2_refresh_token_file (as relayqd's user when run as root).
 * Returns EX_OK; EX_USAGE (no such section), EX_CONFIG (keys missing),
 * EX_TEMPFAIL (the code expired, or no redirect in time), EX_NOPERM (the
 * user declined), EX_UNAVAILABLE (an endpoint down), EX_PROTOCOL
 * (another error reply), EX_CANTCREAT (cannot store), EX_OSERR.  Never
 * prints a token.
 */
int relayq_oauth2_login(const struct conf *c, const char *name, int browser);

#endif
