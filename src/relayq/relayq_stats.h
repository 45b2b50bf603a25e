/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq stats: the queue's size by state and the age of its oldest
 * message, counted from the spool, plus relayqd's counters read from
 * <spool>/stats (written by relayqd_stats.c, format there).  Output as
 * text, JSON (--json) or the Prometheus text exposition (--prometheus,
 * for node_exporter's textfile collector).  Read-only.
 *
 * JSON: {"queue": {"total", "incoming", "pending", "deferred", "held",
 * "unreadable", "oldest_age_seconds"}, "relayqd": null or {"pid", "started",
 * "updated", "delivered", "deferred", "failed", "bounces",
 * "smarthost_up", "last_success", "last_error_time", "last_error",
 * and from a relayqd that paces the smarthost: "pace_per_second" (null:
 * no limit), "throttled", "rate_bucket" and "recipient_bucket" (null,
 * or {"level", "size"}: tokens left, the N of N/DURATION), and
 * "smarthosts": {NAME: {"up", "since", "down_since", "sent", "deferred",
 * "failed", "pace_per_second", "throttled", "rate_bucket",
 * "recipient_bucket"}} with one member per smarthost section
 * ("default" for [smarthost]; common/hoststats.h)}}.
 * Times are seconds since the epoch, 0 for never.  Text prints each
 * smarthost on lines that begin "smarthost NAME:", Prometheus as
 * families relayq_smarthost_*{smarthost="NAME"} whose names differ
 * from the unlabelled ones of [smarthost].
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_STATS_H
#define RELAYQ_RELAYQ_RELAYQ_STATS_H

#include "queue/queue_spool.h"

#define RELAYQ_STATS_TEXT 0
#define RELAYQ_STATS_JSON 1
#define RELAYQ_STATS_PROMETHEUS 2

/* Prints the statistics in format fmt; returns a sysexits code. */
int relayq_stats_print(struct queue_spool *sp, int fmt);

#endif
