/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Queue ids: made by relayq, never taken from input.  An id is 20
 * uppercase hex digits: 9 of seconds since the epoch, 5 of microseconds
 * and 6 random, so ids sort by arrival and are safe as file names.
 */
#ifndef RELAYQ_QUEUE_QUEUE_ID_H
#define RELAYQ_QUEUE_QUEUE_ID_H

#include <stdbool.h>

#define QUEUE_ID_LEN 20

/* Writes a new id (QUEUE_ID_LEN chars + NUL) into id.  Returns 0 or -1. */
int queue_id_new(char id[QUEUE_ID_LEN + 1]);

/* True when name is exactly QUEUE_ID_LEN uppercase hex digits. */
bool queue_id_is_valid(const char *name);

/* Returns the arrival time (seconds) encoded in a valid id. */
long long queue_id_time(const char *id);

#endif
