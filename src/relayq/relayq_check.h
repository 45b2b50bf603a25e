/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq check-config: the checks an operator runs before (re)starting
 * relayqd.  Loading the config already validated every key (conf_load
 * rejects unknown keys and bad values); this adds what conf_load cannot
 * see: the spool layout (each directory present, a real directory, with
 * the mode queue_spool.c creates and owned by the spool's owner, tmp/
 * and incoming/ in the spool's group), the AUTH and OAuth2 keys of every
 * smarthost section against one another (smarthost_auth_check_conf, as
 * relayqd at start), and that their password_file,
 * oauth2_client_secret_file and an existing oauth2_refresh_token_file
 * follow the secret file rules (common/secret.h, as relayqd when it reads
 * them) with the spool's owner as relayqd's user.  It changes nothing.
 * Before the checks it lists the smarthosts on stdout:
 *
 *	smarthost default: relay.example:587, tls starttls
 *	  chain: default -> backup
 *	  senders: every sender no other smarthost claims, and bounces
 *	smarthost backup: [2001:db8::25]:25, tls none
 *	  chain: backup
 *	  senders: none (a fallback only)
 *
 * and notes a named smarthost that no sender pattern and no chain uses.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_CHECK_H
#define RELAYQ_RELAYQ_RELAYQ_CHECK_H

#include "common/conf.h"

/*
 * Lists the smarthosts, then runs every check on the loaded conf,
 * printing one line per problem to stderr ("relayq: check-config: ...").  Returns EX_OK when all pass,
 * else EX_CONFIG.
 */
int relayq_check_config(const struct conf *c);

#endif
