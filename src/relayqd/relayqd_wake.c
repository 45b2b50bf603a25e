/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Reading the wake FIFO (protocol in relayqd_wake.h).  The drain reads
 * at most RELAYQD_WAKE_BUFSZ bytes per round and a bounded number of
 * rounds, so a flood of writes cannot keep the daemon in one callback;
 * what is left wakes the next one.
 */
#include "config.h"

#include "relayqd/relayqd_wake.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "queue/queue_id.h"
#include "relayqd/relayqd_sched.h"

#define RELAYQD_WAKE_BUFSZ 8192
#define RELAYQD_WAKE_ROUNDS 64

/* Appends id to ids unless it is full or already there. */
static void
relayqd_wake_add(struct queue_idlist *ids, const char *id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (memcmp(ids->ids[i], id, QUEUE_ID_LEN) == 0)
			return;
	if (ids->n >= RELAYQD_WAKE_IDS_MAX)
		return;
	if (ids->n % 64 == 0)
		ids->ids =
		    xreallocarray(ids->ids, ids->n + 64, sizeof(*ids->ids));
	memcpy(ids->ids[ids->n], id, QUEUE_ID_LEN);
	ids->ids[ids->n][QUEUE_ID_LEN] = '\0';
	ids->n++;
}

/* Parses wake bytes. */
int
relayqd_wake_parse(const char *buf, size_t len, struct queue_idlist *ids,
    size_t *used)
{
	char id[QUEUE_ID_LEN + 1];
	size_t i = 0;
	int flags = 0;

	while (i < len) {
		const char *nl;

		if (buf[i] != 'I' && buf[i] != 'R') {
			if (buf[i] == 'F')
				flags |= RELAYQD_WAKE_FLUSH;
			i++;
			continue;
		}
		nl = memchr(buf + i, '\n', len - i);
		if (nl == NULL) {
			if (len - i < RELAYQD_WAKE_REC_LEN)
				break; /* incomplete: wait for the rest */
			i = len;       /* junk without an end: drop it */
			break;
		}
		if ((size_t)(nl - (buf + i)) == 1 + QUEUE_ID_LEN) {
			memcpy(id, buf + i + 1, QUEUE_ID_LEN);
			id[QUEUE_ID_LEN] = '\0';
			if (queue_id_is_valid(id)) {
				relayqd_wake_add(ids, id);
				flags |= buf[i] == 'R'
				    ? RELAYQD_WAKE_BY_RELAYQ
				    : RELAYQD_WAKE_BY_SENDMAIL;
			}
		}
		i = (size_t)(nl - buf) + 1;
	}
	*used = i;
	return flags;
}

/* Reads and parses what the FIFO holds. */
int
relayqd_wake_drain(int fd, struct queue_idlist *ids)
{
	char buf[RELAYQD_WAKE_BUFSZ];
	size_t have = 0, used;
	ssize_t n;
	int flags = 0;

	for (int r = 0; r < RELAYQD_WAKE_ROUNDS; r++) {
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		flags |= relayqd_wake_parse(buf, have, ids, &used);
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	return flags;
}

/* Makes the listed waiting messages due now. */
size_t
relayqd_wake_flush_ids(struct relayqd_sched *s, const struct queue_idlist *ids,
    long long now)
{
	size_t moved = 0;

	for (size_t i = 0; i < ids->n; i++) {
		long long due = relayqd_sched_take(s, ids->ids[i]);

		if (due == -1)
			continue;
		relayqd_sched_reschedule(s, ids->ids[i], due < now ? due : now);
		moved++;
	}
	return moved;
}
