/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayqd's counters for `relayq stats`, published in <spool>/stats.
 * The file is replaced atomically (stats.tmp, then rename; no fsync: it
 * is rebuilt from zero at each start) at most once a second, by a
 * one-shot libevent timer armed only when something changed, so an idle
 * daemon never wakes up for it.  Format, one "key=value" per line, in
 * this order, times in seconds since the epoch (0: never):
 *
 *	relayq-stats 1
 *	pid=N              relayqd's pid
 *	started=T          when relayqd started (counters count from here)
 *	updated=T          when this file was written
 *	delivered=N        recipients accepted by the smarthost
 *	deferred=N         recipient attempts deferred (4xx, host down)
 *	failed=N           recipients failed (5xx, expired)
 *	bounces=N          bounces and delay notices queued
 *	smarthost_up=0|1   0 while relayqd backs off a failing smarthost
 *	smarthost_since=T  when smarthost_up took its value (start, or the
 *	                   last up/down change): "down since" when 0
 *	last_success=T     last recipient accepted
 *	last_error_time=T  last deferral, failure or smarthost error
 *	last_error=TEXT    its text, clean (str_clean_text: one line of
 *	                   UTF-8, not escaped), may be empty
 *	pace=F             messages a second the smarthost is paced at
 *	                   now (rate_limit, or lower while throttled);
 *	                   0: no limit
 *	throttled=0|1      1 while throttling replies keep the pace lower
 *	bucket=F           rate_limit's bucket level at `updated` (tokens)
 *	bucket_size=N      its size, rate_limit's N (0: no rate_limit)
 *	rcpt_bucket=F      recipient_limit's bucket level (may be < 0)
 *	rcpt_bucket_size=N its size (0: no recipient_limit)
 *	smarthost=NAME ... one line per smarthost section, [smarthost]
 *	                   ("default") first, then the named ones in file
 *	                   order: its up/down state and since when, its
 *	                   sent, deferred and failed counters and its pace
 *	                   and buckets (format in common/hoststats.h)
 *
 * The global keys above are those of [smarthost] (smarthost_up, pace,
 * the buckets) or of the whole daemon (the counters, which also count
 * what no smarthost saw: an expired recipient is failed globally only).
 * A smarthost's figures live as long as its destination: a reload keeps
 * them, a restart or a reload that removes or renames the section does
 * not (relayqd_dest.h, struct relayqd_dest_stats).  The file is at most
 * RELAYQD_STATS_FILE_MAX bytes.  Readers must ignore keys they do not
 * know.  relayqd removes nothing at exit; `pid` and `updated` tell a
 * reader how fresh the file is.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_STATS_H
#define RELAYQ_RELAYQD_RELAYQD_STATS_H

#include <stddef.h>

/* Longest stats file written (about a thousand smarthosts). */
#define RELAYQD_STATS_FILE_MAX (256 * 1024)

struct relayd;
struct relayqd_stats;

/*
 * What the operator-facing parts (the systemd STATUS line, alerts) show:
 * a snapshot taken by relayqd_stats_view().  The same one-second timer
 * that publishes the file hands one to relayqd_notify_status() and
 * relayqd_alert_update() after each change, so they never poll.
 */
struct relayqd_stats_view {
	long long now;
	size_t queued; /* scheduled (waiting or busy) or listed in incoming/ */
	long long oldest;	   /* arrival of the oldest of them, or -1 */
	int host_up;		   /* 0 while the smarthost is backing off */
	long long host_since;	   /* when host_up last changed (or start) */
	long long last_error_time; /* 0: none */
	const char *last_error;	   /* borrowed: valid until the next event */
};

/* Creates the publisher (timer not armed); fatal on failure (start-up). */
struct relayqd_stats *relayqd_stats_new(struct relayd *rd);
/* Writes the file now if it is dirty, and frees; NULL is a no-op. */
void relayqd_stats_free(struct relayqd_stats *st);
/* Notes that a counter or the smarthost state changed. */
void relayqd_stats_touch(struct relayd *rd);
/* Notes an accepted recipient (last success time). */
void relayqd_stats_success(struct relayd *rd);
/* Notes an error toward the smarthost (copied, cleaned). */
void relayqd_stats_error(struct relayd *rd, const char *text);
/* Fills v with the current state (rd->stats may not be NULL). */
void relayqd_stats_view(struct relayd *rd, struct relayqd_stats_view *v);

#endif
