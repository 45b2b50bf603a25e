/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq oauth2 status (issue 14): the smarthost's OAuth2 settings, the
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

#endif
