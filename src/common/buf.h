/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * A growable byte buffer with a mandatory maximum (curl's dynbuf).  The
 * data is always NUL-terminated for convenience, but may hold NULs.
 * The struct stays valid as it grows; data may move.
 */
#ifndef RELAYQ_COMMON_BUF_H
#define RELAYQ_COMMON_BUF_H

#include <stddef.h>

#include "common/compat.h"

struct buf {
	char *data; /* owned */
	size_t len;
	size_t cap;
	size_t max; /* appends that would exceed this fail */
};

/* Initialises an empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);
/*
 * Initialises an empty buffer for a secret: room for exactly max bytes
 * (and the NUL) is allocated now, so appends never move the data and no
 * stale copy is left in freed memory.  Free it with buf_wipe().
 */
void buf_init_secret(struct buf *b, size_t max);
/* Clears the whole allocation with explicit_bzero(), then frees it. */
void buf_wipe(struct buf *b);
/* Frees the data; the buffer may be reused after buf_init(). */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Appends n bytes.  Returns 0, or -1 with errno EMSGSIZE over max. */
int buf_add(struct buf *b, const void *p, size_t n) RQ_WUR;
/* Appends a NUL-terminated string.  Same returns as buf_add(). */
int buf_adds(struct buf *b, const char *s) RQ_WUR;
/* Appends formatted text.  Same returns as buf_add(). */
int buf_addf(struct buf *b, const char *fmt, ...) RQ_PRINTF(2, 3) RQ_WUR;
/* Removes the first n bytes. */
void buf_drain(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *buf_take(struct buf *b, size_t *lenp);

#endif
