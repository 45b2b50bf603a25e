/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Delivery attempt set-up and tear-down.  The message file stays open
 * and flock'd for the whole attempt, so neither a second daemon nor the
 * relayq tool can act on it meanwhile.
 */
#include "config.h"

#include "relayqd/relayqd_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_stash.h"
#include "smtp/smtp_cmd.h"

/* Current time with microseconds, for delay= figures. */
static double
relayqd_msg_clock(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/*
 * Points the SMTP message at the envelope's DSN parameters (RFC 3461),
 * per attempt index; smtp_client sends them only when DSN is offered.
 */
static void
relayqd_msg_dsn(struct relayqd_msg *m)
{
	m->smsg.dsn_ret = m->env.dsn_ret;
	m->smsg.dsn_envid = m->env.dsn_envid;
	if (m->env.notify == NULL)
		return;
	m->dsn_notify = xcalloc(m->n, sizeof(*m->dsn_notify));
	m->dsn_orcpt = xcalloc(m->n, sizeof(*m->dsn_orcpt));
	for (size_t k = 0; k < m->n; k++) {
		unsigned q = m->env.notify[m->map[k]], n = 0;

		n |= (q & QUEUE_ENV_NOTIFY_NEVER) ? SMTP_CMD_NOTIFY_NEVER : 0;
		n |= (q & QUEUE_ENV_NOTIFY_SUCCESS) ? SMTP_CMD_NOTIFY_SUCCESS
						    : 0;
		n |= (q & QUEUE_ENV_NOTIFY_FAILURE) ? SMTP_CMD_NOTIFY_FAILURE
						    : 0;
		n |= (q & QUEUE_ENV_NOTIFY_DELAY) ? SMTP_CMD_NOTIFY_DELAY : 0;
		m->dsn_notify[k] = n;
		m->dsn_orcpt[k] = m->env.orcpt[m->map[k]];
	}
	m->smsg.dsn_notify = m->dsn_notify;
	m->smsg.dsn_orcpt = m->dsn_orcpt;
}

/* Opens, locks and loads id, with the state it really has. */
struct relayqd_msg *
relayqd_msg_load(struct relayd *rd, const char *id, struct rq_err *err)
{
	struct relayqd_msg *m = xcalloc(1, sizeof(*m));

	queue_env_init(&m->env);
	/* A small file is read whole once: its body is sent from memory. */
	if ((m->fd = queue_spool_open_msg_data(&rd->spool, id, &m->env,
		 &m->data, err)) == -1) {
		int saved = errno;

		queue_env_free(&m->env);
		free(m);
		errno = saved;
		return NULL;
	}
	/* A corrupt state file is moved to corrupt/: start afresh. */
	if (queue_spool_load_state_found(&rd->spool, id, m->env.nrcpt,
		&m->state, &m->has_state, err) == -1 &&
	    (errno != EBADMSG ||
		queue_spool_load_state_found(&rd->spool, id, m->env.nrcpt,
		    &m->state, &m->has_state, err) == -1)) {
		int saved = errno;

		(void)close(m->fd);
		queue_env_free(&m->env);
		free(m->data);
		free(m);
		errno = saved;
		return NULL;
	}
	/* What the disk could not take yet is in memory (issue 18). */
	(void)relayqd_stash_overlay(rd->stash, &m->state);
	return m;
}

/* Opens an attempt for id. */
struct relayqd_msg *
relayqd_msg_open(struct relayd *rd, const char *id, int *skip,
    struct rq_err *err)
{
	struct relayqd_msg *m;
	size_t k = 0;

	*skip = 0;
	if ((m = relayqd_msg_load(rd, id, err)) == NULL)
		return NULL;
	m->n = queue_state_pending(&m->state);
	if (m->state.held || m->n == 0) {
		*skip = m->state.held ? RELAYQD_MSG_HELD : RELAYQD_MSG_FINISHED;
		relayqd_msg_free(m);
		return NULL;
	}
	m->map = xcalloc(m->n, sizeof(*m->map));
	m->rcpts = xcalloc(m->n, sizeof(*m->rcpts));
	m->rst = xcalloc(m->n, sizeof(*m->rst));
	m->rwhy = xcalloc(m->n, sizeof(*m->rwhy));
	m->rdone = xcalloc(m->n, 1);
	for (size_t i = 0; i < m->env.nrcpt; i++) {
		if (m->state.rcpt_st[i] != QUEUE_RCPT_PENDING)
			continue;
		m->map[k] = i;
		m->rcpts[k] = m->env.rcpts[i];
		k++;
	}
	m->smsg.id = m->env.id;
	m->smsg.sender = m->env.sender;
	m->smsg.rcpts = m->rcpts;
	m->smsg.nrcpt = m->n;
	m->smsg.size = m->env.body_len;
	m->smsg.body_8bit = (m->env.flags & QUEUE_ENV_F_8BIT) != 0;
	m->smsg.smtputf8 = (m->env.flags & QUEUE_ENV_F_SMTPUTF8) != 0;
	relayqd_msg_dsn(m);
	m->started = relayqd_msg_clock();
	return m;
}

/* Frees an attempt. */
void
relayqd_msg_free(struct relayqd_msg *m)
{
	if (m == NULL)
		return;
	if (m->fd != -1)
		(void)close(m->fd);
	queue_env_free(&m->env);
	queue_state_free(&m->state);
	free(m->data);
	free(m->map);
	free(m->rcpts);
	free(m->rst);
	free(m->rwhy);
	free(m->rdone);
	free(m->dsn_notify);
	free(m->dsn_orcpt);
	free(m);
}

/* Records one recipient's result. */
void
relayqd_msg_rcpt_result(struct relayqd_msg *m, size_t idx, enum rq_status st,
    const struct rq_reason *why)
{
	if (idx >= m->n || m->rdone[idx])
		return;
	m->rdone[idx] = 1;
	m->rst[idx] = st;
	if (why != NULL)
		m->rwhy[idx] = *why;
}
