/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Delivery outcomes.  Per recipient: 2xx -> done; 4xx, a lost session or
 * a local error -> pending, retried after the retry delay; 5xx -> failed.
 * A message leaves the queue only when no recipient is pending, and only
 * after its state was made durable or removed (STYLE.md §6).  Log lines
 * follow the documented key=value form:
 *
 *	ID: to=<rcpt> relay=host[addr]:port tls=TLSv1.3 delay=S tries=N
 *	    status=sent (reply)
 *
 * XXX(#4): the retry delay is a fixed retry_min; exponential backoff,
 * expiry and bounces for failed recipients come with issue 4.
 */
#include "config.h"

#include "relayqd/relayqd_outcome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "common/strutil.h"
#include "queue/queue_spool.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_msg.h"
#include "relayqd/relayqd_sched.h"

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

/* Formats a reason as "code esc text" for logs and the state file. */
static void
relayqd_outcome_text(const struct rq_reason *why, char *buf, size_t bufsz)
{
	if (why == NULL)
		(void)!rq_snprintf(buf, bufsz, "no reason given");
	else if (why->code == 0)
		(void)!rq_snprintf(buf, bufsz, "%s", why->text);
	else if (why->esc[0] != '\0')
		(void)!rq_snprintf(buf, bufsz, "%d %s %s", why->code, why->esc,
		    why->text);
	else
		(void)!rq_snprintf(buf, bufsz, "%d %s", why->code, why->text);
}

/* Delay before the next attempt. */
long long
relayqd_outcome_retry_delay(const struct relayd *rd, unsigned tries)
{
	(void)tries;
	return rd->conf.delivery_retry_min;
}

/* Applies a transaction's results to the queue. */
void
relayqd_outcome_msg(struct relayd *rd, struct relayqd_msg *m, enum rq_status st,
    const struct rq_reason *why, const char *relay, const char *tls)
{
	struct queue_state *s = &m->state;
	const char *id = m->env.id;
	long long now = relayqd_now();
	double delay = relayqd_outcome_delay(id);
	unsigned tries = s->tries + 1;
	char text[300], first_err[300] = "";

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
			rd->n_delivered++;
			break;
		case RQ_PERMFAIL:
			queue_state_set_rcpt(s, i, QUEUE_RCPT_FAILED, text);
			status = "failed";
			rd->n_failed++;
			break;
		case RQ_TEMPFAIL:
		default:
			queue_state_set_rcpt(s, i, QUEUE_RCPT_PENDING, text);
			status = "deferred";
			rd->n_deferred++;
			if (first_err[0] == '\0')
				strlcpy(first_err, text, sizeof(first_err));
			break;
		}
		log_info("%s: to=<%s> relay=%s tls=%s delay=%.2f tries=%u "
			 "status=%s (%s)",
		    id, m->env.rcpts[i], relay, tls, delay, tries, status,
		    text);
	}

	if (queue_state_pending(s) == 0) {
		relayqd_sched_remove(rd->sched, id);
		if (queue_spool_remove(&rd->spool, id) == -1)
			log_warn("%s: cannot remove delivered message", id);
		else
			log_info("%s: removed", id);
		return;
	}
	s->tries = tries;
	if (s->first_try == 0)
		s->first_try = now;
	s->last_try = now;
	s->next_try = now + relayqd_outcome_retry_delay(rd, tries);
	queue_state_set_error(s, first_err);
	if (queue_spool_save_state(&rd->spool, s) == -1)
		log_warn("%s: cannot save delivery state", id);
	relayqd_sched_reschedule(rd->sched, id, s->next_try);
}

/* The smarthost could not be reached: back off the destination. */
void
relayqd_outcome_host_down(struct relayd *rd, const struct rq_reason *why)
{
	char text[300];
	long long now = relayqd_now();

	relayqd_outcome_text(why, text, sizeof(text));
	rd->host_down_until = now + rd->conf.delivery_retry_min;
	rd->host_probing = 0;
	log_info("smarthost %s unavailable (%s); next try in %llds",
	    rd->conf.smarthost_host, text, rd->conf.delivery_retry_min);
}

/* The smarthost answered: everything may flow again. */
void
relayqd_outcome_host_up(struct relayd *rd)
{
	if (rd->host_down_until != 0)
		log_info("smarthost %s is back", rd->conf.smarthost_host);
	rd->host_down_until = 0;
	rd->host_probing = 0;
	relayqd_kick(rd);
}
