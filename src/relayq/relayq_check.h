/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq check-config: the checks an operator runs before (re)starting
 * relayqd.  Loading the config already validated every key (conf_load
 * rejects unknown keys and bad values); this adds what conf_load cannot
 * see: the spool layout (each directory present, a real directory, with
 * the mode queue_spool.c creates and owned by the spool's owner, tmp/
 * and incoming/ in the spool's group), and that password_file is a
 * regular file owned by the spool's owner (relayqd's user) with no
 * group or other permission (for every smarthost section).  It changes
 * nothing.  Before the checks it lists the smarthosts on stdout:
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
