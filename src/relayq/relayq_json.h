/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The relayq tool's JSON output (queue --json, stats --json), encoded by
 * jansson (issue 14: the library that parses OAuth2 token replies; no
 * hand-written escaping).  relayq queue --json is the mailq listing as
 * one JSON document, for scripts.  It only reads the spool (like
 * queue_list.c).  Format:
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
 * its id and "error": "reason" only.  The listing streams: each message
 * object is encoded and written on its own line as it is read, so a
 * large queue is never held in memory; only the brackets around the list
 * and the totals after it are literal text.
 *
 * Strings are UTF-8 (RFC 8259 section 8.1), so every output parses:
 * jansson escapes quotes, backslashes and control characters, and each
 * byte that is not part of a well-formed UTF-8 sequence (an address may
 * hold any byte >= 0x80) becomes U+FFFD, the replacement character.
 * Such a string no longer names the address byte for byte; the message
 * id does.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_JSON_H
#define RELAYQ_RELAYQ_RELAYQ_JSON_H

#include <stdio.h>

#include "common/conf.h"
#include "queue/queue_spool.h"

struct json_t;

/* Prints the JSON listing to out; returns a sysexits code. */
int relayq_json_queue(struct queue_spool *sp, const struct conf *c, FILE *out);

/*
 * Returns a new JSON string holding s with each byte that is not UTF-8
 * replaced by U+FFFD, or JSON null when s is NULL.
 */
struct json_t *relayq_json_str(const char *s);

/* Returns a new JSON integer t, or null when t is 0 (no such time). */
struct json_t *relayq_json_time(long long t);

/*
 * Sets obj[key] to v_take (a new reference, consumed).  Out of memory
 * (a NULL v_take from a jansson constructor) is fatal.
 */
void relayq_json_set(struct json_t *obj, const char *key,
    struct json_t *v_take);

/*
 * Writes v_take (consumed) on one line to out, with ", " and ": "
 * between items and reals to 15 significant digits.  Returns 0, or -1
 * on a write error.
 */
int relayq_json_print(struct json_t *v_take, FILE *out);

#endif
