/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The pace of one smarthost (issue 15): a token bucket for messages
 * (rate_limit = N/DURATION) and one for recipients (recipient_limit),
 * each holding at most N tokens and refilled at N per DURATION, plus an
 * adaptive pace that throttling replies (421, 451, 454... with an
 * enhanced code 4.7.x) halve and that recovers by RELAYQD_RATE_GROW every
 * step without one.  One object per smarthost, no globals: the caller
 * passes the time (milliseconds since the epoch) to every function, so
 * the arithmetic is unit-tested exactly.
 *
 * What it owns: the levels, the adaptive pace, and their file in the
 * spool (relayqd_rate_load/_save), so that a restart does not reset a
 * daily quota.  What it leaves to others: which message goes (the
 * scheduler), what a reply means for the message (relayqd_outcome.c,
 * which asks relayqd_rate_is_throttle and calls _throttle), timers.
 *
 * Invariants: a message may start only when relayqd_rate_wait() is 0,
 * that is at least one token is in each configured bucket and, while
 * throttled, 1/pace has passed since the last start; relayqd_rate_take()
 * takes one message token; relayqd_rate_charge() takes the recipients
 * of the message that went (the recipient bucket may go below zero by
 * one message's recipients: the next message waits for the debt).
 * A message that waits is never an attempt: it stays due in the
 * scheduler.
 *
 * The file, <spool>/<file> (mode 0600), written as <file>.tmp, fsynced,
 * renamed over the old one and the directory fsynced, so a crash
 * leaves the old or the new version, never a torn one:
 *
 *	relayq-rate 1
 *	stamp=MS            when the levels below were true (ms, epoch)
 *	messages=F          message bucket level (absent: no rate_limit)
 *	recipients=F        recipient bucket level (absent: no limit)
 *	pace=F              throttled pace, messages a second (0: none)
 *	pace_target=F       the pace it recovers to
 *	end
 *
 * A missing file is a first start: full buckets.  A file that cannot be
 * read or parsed is reported (the caller logs it) and the buckets start
 * empty and refill at their rate: never above a provider's cap.
 * Between two saves a crash loses the takes made since the last save;
 * relayqd saves after each message sent through a limited smarthost.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_RATE_H
#define RELAYQ_RELAYQD_RELAYQD_RATE_H

#include <stddef.h>

#include "common/conf.h"
#include "common/status.h"

struct relayqd_rate;

/* Slowest pace throttling brings a smarthost to: 1 message a minute. */
#define RELAYQD_RATE_FLOOR (1.0 / 60)
/* A throttled pace grows by this factor at each step without one... */
#define RELAYQD_RATE_GROW 1.25
/* ...a step being this long (ms), or 4 messages at that pace if longer. */
#define RELAYQD_RATE_STEP_MS 30000LL
/* Longest file accepted. */
#define RELAYQD_RATE_FILE_MAX 1024

/* What `relayq stats` shows (relayqd_rate_view). */
struct relayqd_rate_view {
	double pace;		   /* messages a second now; 0: no limit */
	int throttled;		   /* the pace was lowered by throttling */
	double messages;	   /* message bucket level (if messages_size) */
	long long messages_size;   /* rate_limit's N; 0: no rate_limit */
	double recipients;	   /* recipient bucket level */
	long long recipients_size; /* recipient_limit's N; 0: none */
};

/*
 * Creates the pace of smarthost name (copied, for the log) with full
 * buckets; msgs and rcpts may have n 0 (no limit).  Not attached to a
 * file until relayqd_rate_load().
 */
struct relayqd_rate *relayqd_rate_new(const char *name,
    const struct conf_rate *msgs, const struct conf_rate *rcpts, long long now);
/* Frees r (no save); NULL is a no-op. */
void relayqd_rate_free(struct relayqd_rate *r);

/* Writes limit r for the log into buf: "N/PERs", or "none" for n 0. */
void relayqd_rate_limit_txt(const struct conf_rate *r, char *buf, size_t bufsz);

/*
 * New limits (a reload): levels are kept, clamped to the new sizes; a
 * bucket that was not limited before starts full.
 */
void relayqd_rate_configure(struct relayqd_rate *r,
    const struct conf_rate *msgs, const struct conf_rate *rcpts, long long now);

/* True when a limit is configured or the pace is throttled. */
int relayqd_rate_is_limited(const struct relayqd_rate *r);

/* Returns the milliseconds before a message may start (0: now). */
long long relayqd_rate_wait(struct relayqd_rate *r, long long now);

/*
 * Takes one message token if a message may start now and returns 1;
 * else returns 0 and logs, at most once a minute at info level, that
 * messages wait and how long.
 */
int relayqd_rate_admit(struct relayqd_rate *r, long long now);

/* True when a recipient_limit is configured. */
int relayqd_rate_counts_rcpts(const struct relayqd_rate *r);

/* Takes nrcpt recipient tokens for the message that just started. */
void relayqd_rate_charge(struct relayqd_rate *r, size_t nrcpt, long long now);
/*
 * Gives back the message token and nrcpt recipient tokens of a message
 * whose session failed before the server accepted its MAIL (a refused
 * probe, a 421 greeting, a throttle at MAIL): nothing was sent, so a
 * down smarthost does not empty the bucket (issue 15).
 */
void relayqd_rate_refund(struct relayqd_rate *r, size_t nrcpt, long long now);

/*
 * True when why is a throttling reply, one that halves the pace: a 421
 * 4.7.x at any stage, or a 450/451/452/454 4.7.x that answered the
 * greeting, EHLO, AUTH, MAIL, DATA or the final dot.  A RCPT's 4xx
 * (450 4.7.1 greylisting, "Recipient address rejected: Access denied")
 * concerns that recipient only: it is a retry of the message with its
 * own backoff, never a throttle of the smarthost.
 */
int relayqd_rate_is_throttle(const struct rq_reason *why);

/*
 * A throttling reply (text, for the log) arrived: halves the pace (the
 * configured one, else the pace observed lately), not below
 * RELAYQD_RATE_FLOOR, and logs the change.  Replies within one message
 * interval (at least a second) of the last halving count once, so the
 * sessions in flight do not halve it again each.
 */
void relayqd_rate_throttle(struct relayqd_rate *r, const char *text,
    long long now);

/* Fills v with the state at now. */
void relayqd_rate_view(struct relayqd_rate *r, long long now,
    struct relayqd_rate_view *v);

/*
 * Attaches r to file (a name in directory dirfd, which stays open) and
 * reads it.  Returns 0 (also when it does not exist: full buckets), or
 * -1 with *errstr when it cannot be read or parsed: the buckets are then
 * empty (never above a limit); the caller logs it.
 */
int relayqd_rate_load(struct relayqd_rate *r, int dirfd, const char *file,
    long long now, const char **errstr);

/*
 * Writes the file when something changed since the last write and r is
 * attached.  Returns 0, or -1 with errno (logged here, once per run of
 * failures; the next call tries again).
 */
int relayqd_rate_save(struct relayqd_rate *r);

/*
 * Saves (as relayqd_rate_save) and detaches r from its file: it writes
 * it no more (a reload retired its smarthost; the file is the next
 * owner's).
 */
void relayqd_rate_detach(struct relayqd_rate *r);

#endif
