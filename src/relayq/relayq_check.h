/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq check-config: the checks an operator runs before (re)starting
 * relayqd.  Loading the config already validated every key (conf_load
 * rejects unknown keys and bad values); this adds what conf_load cannot
 * see: the spool layout (each directory present, a real directory, with
 * the mode queue_spool.c creates and owned by the spool's owner, tmp/
 * and incoming/ in the spool's group), the AUTH and OAuth2 keys against
 * one another (smarthost_auth_check_conf, as relayqd at start), and that
 * password_file, oauth2_client_secret_file and an existing
 * oauth2_refresh_token_file follow the secret file rules
 * (common/secret.h, as relayqd when it reads them) with the spool's owner
 * as relayqd's user.  It changes nothing.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_CHECK_H
#define RELAYQ_RELAYQ_RELAYQ_CHECK_H

#include "common/conf.h"

/*
 * Runs every check on the loaded conf, printing one line per problem to
 * stderr ("relayq: check-config: ...").  Returns EX_OK when all pass,
 * else EX_CONFIG.
 */
int relayq_check_config(const struct conf *c);

#endif
