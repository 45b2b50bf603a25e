/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Delivery outcomes.  Per recipient: 2xx -> done; 4xx, a lost session or
 * a local error -> pending, retried after the backoff; 5xx -> failed and
 * bounced.  A message leaves the queue only when no recipient is
 * pending, and only after its state was made durable or removed
 * (STYLE.md section 6).  Log lines follow the documented key=value form:
 *
 *	ID: to=<rcpt> relay=host[addr]:port tls=TLSv1.3 delay=S tries=N
 *	    status=sent (reply)
 *
 * with status sent, deferred, failed (5xx: bounced) or expired, then,
 * for a message that stays queued, "ID: tries=N next attempt in Ss".
 *
 * Order of the durable steps (reliability-security.md section 1.7, the
 * qmail order): a bounce is committed to queue/ (fsync'd) before the
 * state that marks its recipients failed is saved, or the message
 * removed; if the bounce cannot be queued its recipients are written
 * as pending (so a crash tries them again: a duplicate RCPT or bounce,
 * never a lost one) but kept failed in memory and not sent again, and
 * the bounce is queued when it can be.  A message with the null sender
 * is never bounced (RFC 5321 section 4.5.5): once nothing is pending,
 * one that failed is moved to failed/ and the failure is logged.
 *
 * The duplicate window (RFC 1047, reliability-security.md section 1.6):
 * when the session breaks after the final "." was sent but before the
 * server's reply arrived, the server may have accepted the message.
 * Those recipients are deferred and sent again, because losing mail is
 * worse than a duplicate; so is a crash between the 250 and the state
 * write.  doc/delivery.md describes both windows.
 *
 * A full spool (issue 18): when the state or a bounce cannot be
 * written, what the server said is kept in memory (relayqd_stash.h) and
 * the stash timer writes it again with backoff (relayqd_outcome_resave).
 * Only a state that could not be written holds the message (no new
 * attempt: its result could not be recorded); when only the bounce
 * failed, the state is on disk and the message's pending recipients are
 * tried as usual while the bounce is retried on its own.  The first
 * failed state write opens a "spool full" incident (one log line, one
 * alert_command run; no other warning per message while it lasts); it
 * closes, with a log line, when no held message waits for room (state
 * unwritten, or a bounce that failed with ENOSPC/EDQUOT).  Nothing
 * accepted in this daemon's lifetime is sent again; a crash meanwhile
 * restarts from state/<id> (the second window above).  A held message
 * still expires; a bounce that cannot be queued goes to failed/ at the
 * expiry, or, when it lacks room, one more max_queue_lifetime later
 * (relayqd_outcome_give_up_at), and only once its real state is
 * written: failed/ never gets a stale state (doc/delivery.md section
 * 7).
 *
 * Schedules: a message's own retries back off exponentially with its
 * attempts (relayqd_sched_backoff); the destination has a backoff of its
 * own while it is down (relayqd_outcome_host_down), and messages that
 * only waited for it become due together when it is back.  Every retry
 * time is clamped to the message's expiry, so it expires on time.
 */
#include "config.h"

#include "relayqd/relayqd_outcome.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_spool.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_alert.h"
#include "relayqd/relayqd_bounce.h"
#include "relayqd/relayqd_closer.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_msg.h"
#include "relayqd/relayqd_purge.h"
#include "relayqd/relayqd_rate.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_stash.h"
#include "relayqd/relayqd_stats.h"

/* Why a recipient goes into a report (a mark per envelope recipient). */
#define RELAYQD_OUTCOME_NONE 0
#define RELAYQD_OUTCOME_FAILED 1  /* permanent failure now */
#define RELAYQD_OUTCOME_EXPIRED 2 /* the queue lifetime ran out */
#define RELAYQD_OUTCOME_DELAYED 3 /* in a delay notice */

/* Seconds since the message arrived, from the id's time stamp. */
static double
relayqd_outcome_delay(const char *id)
{
	struct timeval tv;
	char usec[6];
	unsigned long us;

	gettimeofday(&tv, NULL);
	memcpy(usec, id + 9, 5);
	usec[5] = '\0';
	us = strtoul(usec, NULL, 16);
	return (double)(tv.tv_sec - queue_id_time(id)) +
	    ((double)tv.tv_usec - (double)us) / 1e6;
}

/* True when text already starts with the reply code (a reply summary). */
static int
relayqd_outcome_has_code(const struct rq_reason *why)
{
	char code[8];
	size_t n;

	if (rq_snprintf(code, sizeof(code), "%d", why->code) == -1)
		return 0;
	n = strlen(code);
	return strncmp(why->text, code, n) == 0 &&
	    (why->text[n] == ' ' || why->text[n] == '\0');
}

/*
 * Formats a reason as "code esc text" for logs and the state file (the
 * form relayqd_bounce_parse_reply() reads back).  The SMTP client passes
 * the whole reply summary, code included, which is kept as it is.
 */
static void
relayqd_outcome_text(const struct rq_reason *why, char *buf, size_t bufsz)
{
	if (why == NULL)
		(void)!rq_snprintf(buf, bufsz, "no reason given");
	else if (why->code == 0 || relayqd_outcome_has_code(why))
		(void)!rq_snprintf(buf, bufsz, "%s", why->text);
	else if (why->esc[0] != '\0')
		(void)!rq_snprintf(buf, bufsz, "%d %s %s", why->code, why->esc,
		    why->text);
	else
		(void)!rq_snprintf(buf, bufsz, "%d %s", why->code, why->text);
}

/*
 * True when why, the reply that ended a transaction, throttles the whole
 * smarthost, which then counts as down: a 421 at any stage (the server
 * is going away), or a 4xx with an enhanced code 4.7.x (policy: rate
 * or quota exceeded), or SES's 454 "Throttling failure"; but never a
 * RCPT's reply (the transaction ended because no recipient was
 * accepted): that is the recipients' retry.
 */
static int
relayqd_outcome_is_throttle(const struct rq_reason *why)
{
	if (why == NULL || why->code / 100 != 4)
		return 0;
	if (why->code == 421)
		return 1;
	if (why->stage == RQ_STAGE_RCPT)
		return 0;
	return why->code == 454 || strncmp(why->esc, "4.7.", 4) == 0;
}

/* Delay before the next attempt. */
long long
relayqd_outcome_retry_delay(const struct relayd *rd, unsigned tries)
{
	return relayqd_sched_backoff(rd->conf.delivery_retry_min,
	    rd->conf.delivery_retry_max, tries, relayqd_random());
}

/*
 * Returns the RFC 3461 NOTIFY set of envelope recipient i: what the
 * submitter asked for, or by default FAILURE and DELAY (the delay
 * notice itself is off unless delay_warning is set).
 */
static unsigned
relayqd_outcome_notify(const struct queue_env *e, size_t i)
{
	unsigned n = e->notify != NULL ? e->notify[i] : 0;

	return n != 0 ? n : QUEUE_ENV_NOTIFY_FAILURE | QUEUE_ENV_NOTIFY_DELAY;
}

/* Returns the last reply recorded for recipient i, or "". */
static const char *
relayqd_outcome_reply(const struct queue_state *s, size_t i)
{
	if (s->rcpt_reply[i] != NULL && s->rcpt_reply[i][0] != '\0')
		return s->rcpt_reply[i];
	return s->last_error;
}

/* Fills the report description of m except its recipients. */
static void
relayqd_outcome_describe(struct relayd *rd, const struct relayqd_msg *m,
    enum relayqd_bounce_kind kind, long long now, struct relayqd_bounce *b)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->hostname = rd->conf.hostname;
	b->remote_mta = rd->conf.smarthosts[0].host;
	b->sender = m->env.sender;
	b->queue_id = m->env.id;
	b->envid = m->env.dsn_envid;
	b->now = now;
	b->arrival = m->env.arrival;
	b->lifetime = rd->conf.delivery_max_queue_lifetime;
	b->retry_until = m->env.arrival + rd->conf.delivery_max_queue_lifetime;
}

/*
 * Builds and queues a report of kind about the recipients of m that have
 * a mark and whose NOTIFY asks for it, and schedules it at once.
 * Returns 0 (also when nobody asked for one), or -1 with errno and err
 * when it could not be queued (the caller logs it: it knows whether the
 * message is held).
 */
static int
relayqd_outcome_report(struct relayd *rd, struct relayqd_msg *m,
    enum relayqd_bounce_kind kind, const unsigned char *mark, long long now,
    struct rq_err *err)
{
	const struct queue_env *e = &m->env;
	const struct queue_state *s = &m->state;
	const char *what =
	    kind == RELAYQD_BOUNCE_FAILED ? "bounce" : "delay notice";
	unsigned bit = kind == RELAYQD_BOUNCE_FAILED ? QUEUE_ENV_NOTIFY_FAILURE
						     : QUEUE_ENV_NOTIFY_DELAY;
	struct relayqd_bounce_rcpt *rr;
	struct relayqd_bounce b;
	struct buf orig;
	struct addr_list to;
	char id[QUEUE_ID_LEN + 1], who[1024];
	size_t n = 0;
	int full = 0, want_full, rv = -1, saved = 0;

	rr = xcalloc(e->nrcpt, sizeof(*rr));
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (mark[i] == RELAYQD_OUTCOME_NONE ||
		    (relayqd_outcome_notify(e, i) & bit) == 0)
			continue;
		rr[n].addr = e->rcpts[i];
		rr[n].orcpt = e->orcpt != NULL ? e->orcpt[i] : NULL;
		rr[n].reply = relayqd_outcome_reply(s, i);
		rr[n].last_try = s->last_try;
		rr[n].expired = mark[i] == RELAYQD_OUTCOME_EXPIRED;
		n++;
	}
	if (n == 0) {
		log_info("%s: no %s: NOTIFY does not ask for one", e->id, what);
		free(rr);
		return 0;
	}
	/* The sender through the aliases, as for sendmail's recipients. */
	addr_list_init(&to);
	if (relayqd_bounce_recipients(&rd->aliases, e->sender,
		rd->conf.default_domain, rd->conf.hostname, &to,
		relayqd_aliases_warn, NULL) <= 0) {
		log_warnx("%s: no %s: bad sender <%s>", e->id, what, e->sender);
		addr_list_free(&to);
		free(rr);
		return 0;
	}
	who[0] = '\0';
	for (size_t i = 0; i < to.n; i++)
		(void)!rq_snprintf(who + strlen(who), sizeof(who) - strlen(who),
		    "%s<%s>", i > 0 ? ", " : "", to.v[i]);
	if (rd->conf.delivery_bounce_copy_to[0] != '\0' &&
	    addr_list_add(&to, rd->conf.delivery_bounce_copy_to) == 1)
		(void)!rq_snprintf(who + strlen(who), sizeof(who) - strlen(who),
		    ", copy to %s", rd->conf.delivery_bounce_copy_to);
	want_full = kind == RELAYQD_BOUNCE_FAILED &&
	    (e->dsn_ret != NULL ? strcmp(e->dsn_ret, "FULL") == 0
				: rd->conf.delivery_bounce_full_message);
	buf_init(&orig, RELAYQD_BOUNCE_FULL_MAX);
	if (relayqd_bounce_read_original(m->fd, e->body_off, e->body_len,
		want_full, &orig, &full) == -1) {
		saved = errno;
		rq_err_set(err, "cannot read the message: %s", strerror(saved));
		goto out;
	}
	relayqd_outcome_describe(rd, m, kind, now, &b);
	b.rcpts = rr;
	b.nrcpt = n;
	b.orig = orig.data;
	b.orig_len = orig.len;
	b.orig_full = full;
	b.orig_truncated = want_full && !full;
	if (relayqd_bounce_queue(&rd->spool, (const char *const *)to.v, to.n,
		&b, id, err) == -1) {
		saved = errno;
		goto out;
	}
	log_info("%s: %s %s queued for %s (%zu recipient%s)", e->id, what, id,
	    who, n, n == 1 ? "" : "s");
	relayqd_sched_add(rd->sched, id, now);
	rd->n_bounces++;
	relayqd_stats_touch(rd);
	relayqd_kick(rd);
	rv = 0;
out:
	buf_free(&orig);
	addr_list_free(&to);
	free(rr);
	if (rv == -1)
		errno = saved != 0 ? saved : EIO;
	return rv;
}

/* True when some recipient of s failed permanently. */
static int
relayqd_outcome_has_failed(const struct queue_state *s)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (s->rcpt_st[i] == QUEUE_RCPT_FAILED)
			return 1;
	return 0;
}

/*
 * Expires what is still pending once the queue lifetime has run out:
 * marks those recipients failed and expired, with one log line each.
 */
static void
relayqd_outcome_expire(struct relayd *rd, struct relayqd_msg *m,
    unsigned char *mark)
{
	struct queue_state *s = &m->state;
	const char *id = m->env.id;

	for (size_t i = 0; i < s->nrcpt; i++) {
		if (s->rcpt_st[i] != QUEUE_RCPT_PENDING)
			continue;
		s->rcpt_st[i] = QUEUE_RCPT_FAILED;
		mark[i] = RELAYQD_OUTCOME_EXPIRED;
		rd->n_failed++;
		relayqd_stats_error(rd, "message expired in the queue");
		log_info("%s: to=<%s> delay=%.2f tries=%u status=expired "
			 "(%s)",
		    id, m->env.rcpts[i], relayqd_outcome_delay(id), s->tries,
		    relayqd_outcome_reply(s, i)[0] != '\0'
			? relayqd_outcome_reply(s, i)
			: "never attempted");
	}
}

/* Sends the one delay notice when it is due. */
static void
relayqd_outcome_warn(struct relayd *rd, struct relayqd_msg *m, long long now)
{
	struct queue_state *s = &m->state;
	struct rq_err err;
	unsigned char *mark;

	if (rd->conf.delivery_delay_warning == 0 || s->warned != 0 ||
	    queue_state_pending(s) == 0 ||
	    now < m->env.arrival + rd->conf.delivery_delay_warning)
		return;
	if (m->env.sender[0] == '\0') {
		s->warned = now; /* never to the null sender */
		return;
	}
	mark = xcalloc(s->nrcpt, 1);
	for (size_t i = 0; i < s->nrcpt; i++)
		if (s->rcpt_st[i] == QUEUE_RCPT_PENDING)
			mark[i] = RELAYQD_OUTCOME_DELAYED;
	if (relayqd_outcome_report(rd, m, RELAYQD_BOUNCE_DELAYED, mark, now,
		&err) == 0)
		s->warned = now;
	else if (relayqd_stash_has(rd->stash, m->env.id) ||
	    rd->spool_full_since != 0)
		/* Held, or the incident's one line said it already. */
		log_debug("%s: cannot queue its delay notice yet: %s",
		    m->env.id, err.msg);
	else
		log_warnx("%s: cannot queue its delay notice: %s", m->env.id,
		    err.msg);
	free(mark);
}

/* Longest wait between two tries of a held write (seconds). */
#define RELAYQD_OUTCOME_RESAVE_MAX 60

/* True when errno value e says that the file system lacks room. */
static int
relayqd_outcome_is_noroom(int e)
{
#ifdef EDQUOT
	if (e == EDQUOT)
		return 1;
#endif
	return e == ENOSPC;
}

/*
 * Saves the state of m; the recipients marked in owed (NULL: none) are
 * written as pending, so that a crash sends them again rather than lose
 * their bounce.  Returns 0, or -1 with errno.
 */
static int
relayqd_outcome_save(struct relayd *rd, struct relayqd_msg *m,
    const unsigned char *owed)
{
	struct queue_state *s = &m->state;
	char *real = NULL;
	int rv, saved;

	if (owed != NULL) {
		real = xmalloc(s->nrcpt);
		memcpy(real, s->rcpt_st, s->nrcpt);
		for (size_t i = 0; i < s->nrcpt; i++)
			if (owed[i] != RELAYQD_OUTCOME_NONE)
				s->rcpt_st[i] = QUEUE_RCPT_PENDING;
	}
	rv = queue_spool_save_state(&rd->spool, s);
	saved = errno;
	if (real != NULL) {
		memcpy(s->rcpt_st, real, s->nrcpt);
		free(real);
	}
	if (rv == 0)
		m->has_state = 1;
	errno = saved;
	return rv;
}

/*
 * Ends the spool-full incident once nothing waits for room: no state
 * left unwritten and no bounce that failed for lack of room.
 */
static void
relayqd_outcome_spool_ok(struct relayd *rd, long long now)
{
	if (rd->spool_full_since == 0 ||
	    relayqd_stash_flagged(rd->stash,
		RELAYQD_STASH_UNSAVED | RELAYQD_STASH_NOROOM) > 0)
		return;
	log_info("spool full: incident over after %llds, no delivery state "
		 "or bounce left unwritten",
	    now - rd->spool_full_since);
	rd->spool_full_since = 0;
}

/*
 * When a message whose bounce cannot be queued (bounce_errno) goes to
 * failed/: at its expiry; when the bounce lacked room, one more
 * max_queue_lifetime later (room usually comes back: the spool-full
 * incident alerted the operator).
 */
static long long
relayqd_outcome_give_up_at(const struct relayd *rd, const struct relayqd_msg *m,
    int bounce_errno)
{
	long long life = rd->conf.delivery_max_queue_lifetime;

	return m->env.arrival + life +
	    (relayqd_outcome_is_noroom(bounce_errno) ? life : 0);
}

/*
 * A bounce that could not be queued by relayqd_outcome_give_up_at(): the
 * message goes to failed/ with its state as it really is (who was
 * accepted, who failed and why), with a log line and an alert_command
 * run, so that it is never kept forever.  The state is written first:
 * returns -1 with errno when it cannot be, or the move fails (the
 * message is then held and this is tried again), else 0.  A crash
 * between the two leaves a finished state in queue/: the message is
 * then removed, not kept in failed/ (its bounce was lost either way).
 */
static int
relayqd_outcome_give_up(struct relayd *rd, struct relayqd_msg *m,
    int bounce_errno, long long now)
{
	const char *id = m->env.id;
	char text[300];
	int saved;

	if (relayqd_outcome_save(rd, m, NULL) == -1) {
		saved = errno;
		log_debug("%s: cannot save delivery state for failed/: %s", id,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	if (queue_spool_fail(&rd->spool, id) == -1) {
		saved = errno;
		log_warn("%s: cannot move to failed/", id);
		errno = saved;
		return -1;
	}
	relayqd_sched_remove(rd->sched, id);
	relayqd_stash_forget(rd->stash, id);
	(void)!rq_snprintf(text, sizeof(text),
	    "%s: its bounce could not be queued within max_queue_lifetime%s "
	    "(%s); moved to failed/",
	    id,
	    relayqd_outcome_is_noroom(bounce_errno) ? " and as long again" : "",
	    strerror(bounce_errno));
	log_warnx("%s", text);
	relayqd_alert_event(rd->alert, RELAYQD_ALERT_BOUNCE_FAILED, text);
	relayqd_purge_arm(rd->purge);
	relayqd_outcome_spool_ok(rd, now);
	return 0;
}

/*
 * Keeps m's state in memory after a write failed with errno err (unsaved
 * when it was state/<id>, else only the bounce of the recipients in
 * owed), and holds the message: it stays busy in the scheduler (the
 * caller reschedules it when its state was written and something is
 * pending), and the stash timer writes it again with backoff, at
 * deadline at the latest
 * (when it expires or gives up).  The first state write that fails opens
 * the spool-full incident: one log line and alert_command.
 */
static void
relayqd_outcome_hold(struct relayd *rd, struct relayqd_msg *m,
    const unsigned char *owed, int unsaved, int err, long long now,
    long long deadline)
{
	const char *id = m->env.id;
	long long cap = rd->conf.delivery_retry_max, wait;
	unsigned fails;
	char text[300];

	if (unsaved && rd->spool_full_since == 0) {
		rd->spool_full_since = now;
		(void)!rq_snprintf(text, sizeof(text),
		    "spool full: delivery state cannot be saved (%s)",
		    strerror(err));
		log_warnx("%s: %s; attempts are held and the state is kept in "
			  "memory until it can be written",
		    id, text);
		relayqd_alert_event(rd->alert, RELAYQD_ALERT_SPOOL_FULL, text);
	}
	fails = relayqd_stash_keep(rd->stash, &m->state, owed,
	    (unsaved ? RELAYQD_STASH_UNSAVED : 0) |
		(relayqd_outcome_is_noroom(err) ? RELAYQD_STASH_NOROOM : 0));
	if (cap > RELAYQD_OUTCOME_RESAVE_MAX)
		cap = RELAYQD_OUTCOME_RESAVE_MAX;
	wait = relayqd_sched_backoff(1, cap, fails, relayqd_random());
	if (wait > cap) /* the cap holds after the jitter */
		wait = cap;
	/* The expiry or give-up is checked when the write is tried. */
	if (now + wait > deadline && deadline > now)
		wait = deadline - now;
	relayqd_stash_retry(rd->stash, id, now + wait);
	log_debug("%s: %s kept in memory; writing it again in %llds (try %u)",
	    id, unsaved ? "delivery state" : "bounce", wait, fails);
	relayqd_arm_stash(rd);
}

/*
 * The common end of an attempt, a sweep or a held write: expires what
 * is due, bounces the recipients marked failed (first, durably) with
 * those whose bounce is still owed, sends the delay notice, then removes
 * the message, moves it to failed/, or saves its state with next_try
 * (clamped to the expiry) and reschedules it.  What cannot be written is
 * kept in memory and the message held (relayqd_outcome_hold).
 */
static void
relayqd_outcome_settle(struct relayd *rd, struct relayqd_msg *m,
    unsigned char *mark, long long now, long long next_try)
{
	struct queue_state *s = &m->state;
	const char *id = m->env.id;
	long long expires =
	    m->env.arrival + rd->conf.delivery_max_queue_lifetime;
	long long deadline = expires;
	int nullsender = m->env.sender[0] == '\0', reported = 1;
	int bounce_errno = 0, saved_errno;
	size_t nfail = 0, nowed;
	struct rq_err berr;

	/* Failures whose bounce could not be queued before (issue 18). */
	nowed = relayqd_stash_owed(rd->stash, id, mark, s->nrcpt);
	if (queue_state_pending(s) > 0 && now >= expires)
		relayqd_outcome_expire(rd, m, mark);
	for (size_t i = 0; i < s->nrcpt; i++)
		if (mark[i] != RELAYQD_OUTCOME_NONE)
			nfail++;
	if (nfail > 0 && nullsender)
		log_info("%s: %zu recipient%s failed; no bounce for a message "
			 "with the null sender",
		    id, nfail, nfail == 1 ? "" : "s");
	else if (nfail > 0 &&
	    relayqd_outcome_report(rd, m, RELAYQD_BOUNCE_FAILED, mark, now,
		&berr) == -1) {
		/*
		 * Nothing is lost: the failures stay in memory, are not sent
		 * again, and their bounce is queued when it can be; on disk
		 * they stay pending, so a crash tries them again.  Only past
		 * relayqd_outcome_give_up_at() does the message go to failed/,
		 * and only with its real state written.
		 */
		reported = 0;
		bounce_errno = errno;
		log_debug("%s: cannot queue its bounce yet: %s", id, berr.msg);
		if (now >= expires)
			deadline =
			    relayqd_outcome_give_up_at(rd, m, bounce_errno);
		if (now >= deadline &&
		    relayqd_outcome_give_up(rd, m, bounce_errno, now) == 0)
			return;
	}
	relayqd_outcome_warn(rd, m, now);
	if (s->warned != 0 || rd->conf.delivery_delay_warning == 0)
		relayqd_sched_set_flags(rd->sched, id, RELAYQD_SCHED_F_WARNED);

	if (reported && queue_state_pending(s) == 0) {
		if (nullsender && relayqd_outcome_has_failed(s)) {
			/* Its state goes along (it says why): written first. */
			if (relayqd_outcome_save(rd, m, NULL) == -1) {
				saved_errno = errno;
				relayqd_outcome_hold(rd, m, NULL, 1,
				    saved_errno, now, deadline);
				return;
			}
			relayqd_sched_remove(rd->sched, id);
			relayqd_stash_forget(rd->stash, id);
			if (queue_spool_fail(&rd->spool, id) == -1)
				log_warn("%s: cannot move to failed/", id);
			else {
				log_info("%s: moved to failed/ (null sender, "
					 "never bounced)",
				    id);
				relayqd_purge_arm(rd->purge);
			}
		} else {
			relayqd_sched_remove(rd->sched, id);
			relayqd_stash_forget(rd->stash, id);
			if (queue_spool_remove_done(&rd->spool, id,
				m->has_state) == -1)
				log_warn("%s: cannot remove finished message",
				    id);
			else {
				log_info("%s: removed", id);
				/* The last close of a deleted file is slow. */
				relayqd_closer_close(rd->closer, m->fd);
				m->fd = -1;
				/* That made room: held writes may go now. */
				relayqd_stash_hurry(rd->stash, now);
				relayqd_arm_stash(rd);
			}
		}
		relayqd_outcome_spool_ok(rd, now);
		return;
	}
	/* One last attempt at the expiry time, not after it. */
	if (next_try > expires && expires > now)
		next_try = expires;
	s->next_try = next_try;
	if (relayqd_outcome_save(rd, m, reported ? NULL : mark) == -1) {
		saved_errno = errno;
		relayqd_outcome_hold(rd, m, reported ? NULL : mark, 1,
		    saved_errno, now, deadline);
		return;
	}
	if (!reported) {
		/* Once per message; in an incident its one line said it. */
		if (nowed == 0 && rd->spool_full_since == 0)
			log_warnx("%s: %zu failed recipient%s kept until their "
				  "bounce can be queued (%s)",
			    id, nfail, nfail == 1 ? "" : "s", berr.msg);
		relayqd_outcome_hold(rd, m, mark, 0, bounce_errno, now,
		    deadline);
		relayqd_outcome_spool_ok(rd, now);
		if (queue_state_pending(s) == 0)
			return;
		/*
		 * The state is written, so the attempt's result is recorded:
		 * the pending recipients are tried as usual (the owed ones
		 * are failed in memory, not sent again), and only the bounce
		 * waits for the stash timer.
		 */
		relayqd_sched_reschedule(rd->sched, id, next_try);
		relayqd_kick(rd);
		return;
	}
	relayqd_stash_forget(rd->stash, id);
	relayqd_outcome_spool_ok(rd, now);
	relayqd_sched_reschedule(rd->sched, id, next_try);
	/* Re-arms the due timer and the sweep for a message that waits. */
	relayqd_kick(rd);
}

/*
 * After an attempt whose state could not be written: says that no
 * attempt follows until it is (not "next attempt in Ss", which would
 * not be true) and returns 1; else 0.
 */
static int
relayqd_outcome_held_note(struct relayd *rd, const struct relayqd_msg *m,
    unsigned tries)
{
	if ((relayqd_stash_flags(rd->stash, m->env.id) &
		RELAYQD_STASH_UNSAVED) == 0 ||
	    queue_state_pending(&m->state) == 0)
		return 0;
	log_info("%s: tries=%u no next attempt until its delivery state can "
		 "be written (held)",
	    m->env.id, tries);
	return 1;
}

#define RELAYQD_OUTCOME_EARLY \
	" (a user's flush brought this attempt forward: not counted)"

/*
 * Returns the due time a user's flush brought message id forward from,
 * when that is still ahead (the attempt then does not count: its tries
 * stay and it keeps that due time, issue 13), else 0.
 */
static long long
relayqd_outcome_early(struct relayd *rd, const char *id, long long now)
{
	long long early = relayqd_sched_early_take(rd->sched, id);

	return early > now ? early : 0;
}

/* Writes again what the disk could not take for id (held by the stash). */
void
relayqd_outcome_resave(struct relayd *rd, const char *id)
{
	struct relayqd_msg *m;
	struct rq_err err;
	unsigned char *mark;
	long long now = relayqd_now();

	if ((m = relayqd_msg_load(rd, id, &err)) == NULL) {
		if (errno == ENOENT || errno == EBADMSG) {
			/* Deleted by the operator, or quarantined. */
			log_info("%s: gone from the queue (%s); its unsaved "
				 "state is dropped",
			    id, err.msg);
			relayqd_stash_forget(rd->stash, id);
			relayqd_sched_remove(rd->sched, id);
			relayqd_outcome_spool_ok(rd, now);
		} else
			relayqd_stash_retry(rd->stash, id,
			    now + rd->conf.delivery_retry_min);
		return;
	}
	mark = xcalloc(m->env.nrcpt, 1);
	relayqd_outcome_settle(rd, m, mark, now,
	    m->state.next_try > now ? m->state.next_try : now);
	free(mark);
	relayqd_msg_free(m);
}

#define RELAYQD_OUTCOME_THROTTLED \
	" (throttled: not counted; the smarthost's pace decides)"

/*
 * Returns the reply of the first recipient of m deferred by a throttling
 * reply (relayqd_rate_is_throttle), or NULL.  Such an attempt does not
 * count: the smarthost's pace is halved instead, and the message waits
 * for it, due at once (issue 15).
 */
static const struct rq_reason *
relayqd_outcome_throttled(const struct relayqd_msg *m, enum rq_status st,
    const struct rq_reason *why)
{
	for (size_t k = 0; k < m->n; k++) {
		enum rq_status rs = m->rdone[k] ? m->rst[k] : st;
		const struct rq_reason *rw = m->rdone[k] ? &m->rwhy[k] : why;

		if (rs == RQ_TEMPFAIL && rw != NULL &&
		    relayqd_rate_is_throttle(rw))
			return rw;
	}
	return NULL;
}

/* The smarthost settings of m's route (conf_route of its sender). */
static const struct conf_smarthost *
relayqd_outcome_route(const struct relayd *rd, const struct relayqd_msg *m)
{
	return &rd->conf.smarthosts[conf_route(&rd->conf, m->env.sender)];
}

/*
 * When m is due again after its attempt with a destination that is now
 * down: at once when a fallback of its route is up (failover costs no
 * backoff), else with the first probe that may carry it; never a
 * backoff of its own: the probe may be less than a second away, and a
 * retry_min wait would then strand the message long after the smarthost
 * is back.
 */
static long long
relayqd_outcome_route_due(const struct relayd *rd, const struct relayqd_msg *m,
    long long now)
{
	const struct conf_smarthost *sh = relayqd_outcome_route(rd, m);

	return relayqd_dest_route_due(rd->dests, sh->chain, sh->nchain, now);
}

/*
 * A throttling reply (throttle) ended message id's attempt with d (id
 * NULL: a session before it carried any): halves d's pace, once per
 * incident: again (d already waited for an accepted message after a
 * throttle) means a probe's throttle, which does not halve it again.
 */
static void
relayqd_outcome_halve(struct relayqd_dest *d, const char *id,
    const struct rq_reason *throttle, int again)
{
	char text[300];

	if (again) {
		if (id != NULL)
			log_info("%s: throttled again while the smarthost is "
				 "down; the pace stays",
			    id);
		else
			log_info("smarthost %s: throttled again while down; "
				 "the pace stays",
			    d->label);
		return;
	}
	relayqd_outcome_text(throttle, text, sizeof(text));
	relayqd_rate_throttle(d->rate, text, relayqd_now_ms());
	(void)relayqd_rate_save(d->rate); /* logged there */
}

/* Applies a transaction's results to the queue. */
void
relayqd_outcome_msg(struct relayd *rd, struct relayqd_dest *d,
    struct relayqd_msg *m, enum rq_status st, const struct rq_reason *why,
    const char *relay, const char *tls)
{
	struct queue_state *s = &m->state;
	const char *id = m->env.id;
	long long now = relayqd_now(), next;
	long long early = relayqd_outcome_early(rd, id, now);
	const struct rq_reason *throttle =
	    relayqd_outcome_throttled(m, st, why);
	double delay = relayqd_outcome_delay(id);
	unsigned tries = s->tries + (early == 0 && throttle == NULL);
	char text[300], first_err[300] = "";
	unsigned char *mark = xcalloc(m->env.nrcpt, 1);
	int throttled = st == RQ_TEMPFAIL && relayqd_outcome_is_throttle(why);
	int accepted = 0, again = d->need_tx;

	/*
	 * The server throttled the whole transaction: the smarthost counts
	 * as down (issue 17), so the other sessions stop, one probe at a
	 * time follows, and this message waits for it.
	 */
	if (throttled) {
		relayqd_outcome_host_down(rd, d, why);
		d->need_tx = 1;
	}
	/* MAIL refused (4xx or 5xx): nothing was sent, give the tokens. */
	if (st != RQ_OK && why != NULL && why->stage == RQ_STAGE_MAIL) {
		relayqd_rate_refund(d->rate, m->n, relayqd_now_ms());
		(void)relayqd_rate_save(d->rate); /* logged there */
	}
	if (throttle != NULL)
		relayqd_outcome_halve(d, id, throttle, again);

	for (size_t k = 0; k < m->n; k++) {
		size_t i = m->map[k];
		enum rq_status rs = m->rdone[k] ? m->rst[k] : st;
		const struct rq_reason *rw = m->rdone[k] ? &m->rwhy[k] : why;
		const char *status;

		/* A recipient never reported cannot have been delivered. */
		if (!m->rdone[k] && rs == RQ_OK)
			rs = RQ_TEMPFAIL;
		relayqd_outcome_text(rw, text, sizeof(text));
		switch (rs) {
		case RQ_OK:
			queue_state_set_rcpt(s, i, QUEUE_RCPT_DONE, text);
			status = "sent";
			accepted = 1;
			rd->n_delivered++;
			d->stats->sent++;
			relayqd_stats_success(rd);
			break;
		case RQ_PERMFAIL:
			queue_state_set_rcpt(s, i, QUEUE_RCPT_FAILED, text);
			mark[i] = RELAYQD_OUTCOME_FAILED;
			status = "failed";
			rd->n_failed++;
			d->stats->failed++;
			relayqd_stats_error(rd, text);
			break;
		case RQ_TEMPFAIL:
		default:
			queue_state_set_rcpt(s, i, QUEUE_RCPT_PENDING, text);
			status = "deferred";
			rd->n_deferred++;
			d->stats->deferred++;
			relayqd_stats_error(rd, text);
			if (first_err[0] == '\0')
				strlcpy(first_err, text, sizeof(first_err));
			break;
		}
		log_info("%s: to=<%s> relay=%s tls=%s delay=%.2f tries=%u "
			 "status=%s (%s)",
		    id, m->env.rcpts[i], relay, tls, delay, tries, status,
		    text);
	}
	if (accepted)
		relayqd_outcome_host_accepted(rd, d);
	s->tries = tries;
	if (s->first_try == 0)
		s->first_try = now;
	s->last_try = now;
	if (first_err[0] != '\0')
		queue_state_set_error(s, first_err);
	if (early != 0)
		next = early;
	else if (throttled && d->down)
		next = relayqd_outcome_route_due(rd, m, now);
	else if (throttle != NULL)
		next = now; /* the pace decides when (relayqd_pop_due) */
	else
		next = now + relayqd_outcome_retry_delay(rd, tries);
	relayqd_outcome_settle(rd, m, mark, now, next);
	if (!relayqd_outcome_held_note(rd, m, tries) &&
	    queue_state_pending(s) > 0)
		log_info("%s: tries=%u next attempt in %llds%s", id, tries,
		    s->next_try - now,
		    early != 0
			? RELAYQD_OUTCOME_EARLY
			: (throttle != NULL ? RELAYQD_OUTCOME_THROTTLED : ""));
	free(mark);
}

/* The destination was down: one attempt, then wait for its next probe. */
void
relayqd_outcome_host_defer(struct relayd *rd, struct relayqd_dest *d,
    struct relayqd_msg *m, const struct rq_reason *why, const char *relay,
    const char *tls)
{
	struct queue_state *s = &m->state;
	const char *id = m->env.id;
	long long now = relayqd_now(), next, early;
	double delay = relayqd_outcome_delay(id);
	unsigned char *mark = xcalloc(m->env.nrcpt, 1);
	char text[300];
	const struct conf_smarthost *sh;
	struct relayqd_dest *up;
	int throttled = relayqd_rate_is_throttle(why);
	const char *note = throttled ? RELAYQD_OUTCOME_THROTTLED : "";

	relayqd_outcome_text(why, text, sizeof(text));
	/* A throttle (421 4.7.x at the greeting) is not an attempt. */
	if ((early = relayqd_outcome_early(rd, id, now)) == 0 && !throttled)
		s->tries++;
	for (size_t k = 0; k < m->n; k++) {
		size_t i = m->map[k];

		queue_state_set_rcpt(s, i, QUEUE_RCPT_PENDING, text);
		rd->n_deferred++;
		d->stats->deferred++;
		relayqd_stats_error(rd, text);
		log_info("%s: to=<%s> relay=%s tls=%s delay=%.2f tries=%u "
			 "status=deferred (%s)",
		    id, m->env.rcpts[i], relay, tls, delay, s->tries, text);
	}
	if (s->first_try == 0)
		s->first_try = now;
	s->last_try = now;
	queue_state_set_error(s, text);
	if (early != 0)
		next = early;
	else if (d->down)
		next = relayqd_outcome_route_due(rd, m, now);
	else
		next = now + relayqd_outcome_retry_delay(rd, 1);
	relayqd_outcome_settle(rd, m, mark, now, next);
	if (relayqd_outcome_held_note(rd, m, s->tries) ||
	    queue_state_pending(s) == 0) {
		free(mark);
		return;
	}
	sh = relayqd_outcome_route(rd, m);
	if (early == 0 && d->down &&
	    (up = relayqd_dest_pick(rd->dests, sh->chain, sh->nchain)) != NULL)
		log_info("%s: tries=%u next attempt in %llds (smarthost %s is "
			 "down: failover to %s)%s",
		    id, s->tries, s->next_try - now, relayqd_dest_sh(d)->name,
		    relayqd_dest_sh(up)->name, note);
	else
		log_info("%s: tries=%u next attempt in %llds (with the "
			 "smarthost's next probe)%s",
		    id, s->tries, s->next_try - now,
		    early != 0 ? RELAYQD_OUTCOME_EARLY : note);
	free(mark);
}

/* Expiry and delay notice for a message that is not being attempted. */
void
relayqd_outcome_sweep(struct relayd *rd, struct relayqd_msg *m, long long due)
{
	struct queue_state *s = &m->state;
	unsigned char *mark = xcalloc(m->env.nrcpt, 1);
	const struct conf_smarthost *sh = relayqd_outcome_route(rd, m);
	const struct relayqd_dest *p = rd->dests[sh->chain[0]];

	/* Never tried because its smarthosts are down: say why. */
	if (s->last_error[0] == '\0' && p->error[0] != '\0' &&
	    relayqd_dest_pick(rd->dests, sh->chain, sh->nchain) == NULL)
		queue_state_set_error(s, p->error);
	relayqd_outcome_settle(rd, m, mark, relayqd_now(), due);
	free(mark);
}

/* The smarthost could not be reached: back off the destination. */
void
relayqd_outcome_host_down(struct relayd *rd, struct relayqd_dest *d,
    const struct rq_reason *why)
{
	char text[300];

	relayqd_outcome_text(why, text, sizeof(text));
	if (!relayqd_dest_mark_down(d, text, relayqd_now_ms(),
		relayqd_random()))
		return;
	relayqd_stats_error(rd, text);
	relayqd_kick(rd);
}

/* A session failed before it got ready: a throttle halves the pace. */
void
relayqd_outcome_host_refused(struct relayd *rd, struct relayqd_dest *d,
    const struct rq_reason *why)
{
	if (relayqd_rate_is_throttle(why)) {
		relayqd_outcome_halve(d, NULL, why, d->need_tx);
		d->need_tx = 1;
	}
	relayqd_outcome_host_down(rd, d, why);
}

/*
 * A session got ready.  After a failure of a ready session (a throttle)
 * that is not enough: the probe session carries messages, alone, until
 * one is accepted (relayqd_outcome_host_accepted).
 */
void
relayqd_outcome_host_up(struct relayd *rd, struct relayqd_dest *d)
{
	if (!relayqd_dest_mark_up(d))
		return;
	relayqd_stats_touch(rd);
	relayqd_kick(rd);
}

/* The smarthost accepted a message: the slow start is over. */
void
relayqd_outcome_host_accepted(struct relayd *rd, struct relayqd_dest *d)
{
	if (relayqd_dest_mark_accepted(d))
		relayqd_outcome_host_up(rd, d);
}
