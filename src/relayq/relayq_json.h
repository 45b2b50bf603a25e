/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq queue --json: the mailq listing as one JSON document, for
 * scripts.  It only reads the spool (like queue_list.c).  Format:
 *
 *	{"messages": [{"id": "...", "directory": "queue"|"incoming",
 *	  "size": N, "arrival": EPOCH, "sender": "...", "smarthost": "NAME",
 *	  "held": BOOL,
 *	  "attempts": N, "first_attempt": EPOCH|null,
 *	  "last_attempt": EPOCH|null, "next_attempt": EPOCH|null,
 *	  "last_error": "..."|null,
 *	  "recipients": [{"address": "...", "state": "pending"|"deferred"|
 *	    "delivered"|"failed", "reply": "..."|null}]}, ...],
 *	 "count": N, "bytes": N}
 *
 * The null sender is "".  "smarthost" names the smarthost the sender
 * routes to ("default" for [smarthost]; relayq.conf(5)).  A message that cannot be read is listed with
 * its id and "error": "reason" only.  Strings are escaped per RFC 8259;
 * bytes of 0x80 and above are copied (addresses are UTF-8).
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_JSON_H
#define RELAYQ_RELAYQ_RELAYQ_JSON_H

#include <stdio.h>

#include "common/conf.h"
#include "queue/queue_spool.h"

/* Prints the JSON listing to out; returns a sysexits code. */
int relayq_json_queue(struct queue_spool *sp, const struct conf *c, FILE *out);
/* Prints s as a JSON string (with quotes), or null when s is NULL. */
void relayq_json_str(FILE *out, const char *s);

#endif
