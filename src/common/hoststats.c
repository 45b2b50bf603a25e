/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * A smarthost's "smarthost=" line of <spool>/stats (format in
 * hoststats.h).  Pure string code: the caller reads and writes the file.
 * The field table below is the one list of the fields, used by both
 * directions, so the writer and the reader cannot disagree.
 */
#include "config.h"

#include "common/hoststats.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/strutil.h"

/* Longest value parsed: 12 fields of at most ~40 bytes, and the name. */
#define HOSTSTATS_LINE_MAX 1024
/* Reals outside (-HOSTSTATS_REAL_MAX, HOSTSTATS_REAL_MAX) are refused. */
#define HOSTSTATS_REAL_MAX 1e15

enum hoststats_type {
	HOSTSTATS_FLAG, /* int, 0 or 1 */
	HOSTSTATS_NUM,	/* long long, 0 to 2^62 */
	HOSTSTATS_REAL, /* double, printed with 6 decimals */
};

static const struct hoststats_field {
	const char *key;
	enum hoststats_type type;
	size_t off;
} hoststats_fields[] = {
	{ "up", HOSTSTATS_FLAG, offsetof(struct hoststats, up) },
	{ "since", HOSTSTATS_NUM, offsetof(struct hoststats, since) },
	{ "sent", HOSTSTATS_NUM, offsetof(struct hoststats, sent) },
	{ "deferred", HOSTSTATS_NUM, offsetof(struct hoststats, deferred) },
	{ "failed", HOSTSTATS_NUM, offsetof(struct hoststats, failed) },
	{ "pace", HOSTSTATS_REAL, offsetof(struct hoststats, pace) },
	{ "throttled", HOSTSTATS_FLAG, offsetof(struct hoststats, throttled) },
	{ "bucket", HOSTSTATS_REAL, offsetof(struct hoststats, bucket) },
	{ "bucket_size", HOSTSTATS_NUM,
	    offsetof(struct hoststats, bucket_size) },
	{ "rcpt_bucket", HOSTSTATS_REAL,
	    offsetof(struct hoststats, rcpt_bucket) },
	{ "rcpt_bucket_size", HOSTSTATS_NUM,
	    offsetof(struct hoststats, rcpt_bucket_size) },
	{ "stamp", HOSTSTATS_NUM, offsetof(struct hoststats, stamp) },
	{ "bucket_per", HOSTSTATS_NUM, offsetof(struct hoststats, bucket_per) },
	{ "rcpt_bucket_per", HOSTSTATS_NUM,
	    offsetof(struct hoststats, rcpt_bucket_per) },
};

/* True when the len bytes of name are a smarthost name (conf.c's rule). */
static int
hoststats_name_is_valid(const char *name, size_t len)
{
	return len > 0 && len <= CONF_SMARTHOST_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Writes hs as one "smarthost=" value. */
int
hoststats_format(const struct hoststats *hs, char *buf, size_t bufsz)
{
	size_t len = 0;
	int n;

	if (!hoststats_name_is_valid(hs->name, strlen(hs->name)) ||
	    rq_snprintf(buf, bufsz, "%s", hs->name) == -1)
		return -1;
	len = strlen(buf);
	for (size_t i = 0; i < RQ_NELEM(hoststats_fields); i++) {
		const struct hoststats_field *f = &hoststats_fields[i];
		const char *p = (const char *)hs + f->off;

		if (f->type == HOSTSTATS_FLAG)
			n = rq_snprintf(buf + len, bufsz - len, " %s=%d",
			    f->key, *(const int *)(const void *)p != 0);
		else if (f->type == HOSTSTATS_NUM)
			n = rq_snprintf(buf + len, bufsz - len, " %s=%lld",
			    f->key, *(const long long *)(const void *)p);
		else
			n = rq_snprintf(buf + len, bufsz - len, " %s=%.6f",
			    f->key, *(const double *)(const void *)p);
		if (n == -1)
			return -1;
		len += (size_t)n;
	}
	return (int)len;
}

/* Stores the value v of field f into hs; -1 with *errstr. */
static int
hoststats_set(struct hoststats *hs, const struct hoststats_field *f,
    const char *v, const char **errstr)
{
	char *p = (char *)hs + f->off, *end;
	long long ll;
	double d;

	switch (f->type) {
	case HOSTSTATS_FLAG:
		if (str_to_ll(v, 0, 1, &ll, errstr) == -1)
			return -1;
		*(int *)(void *)p = (int)ll;
		return 0;
	case HOSTSTATS_NUM:
		if (str_to_ll(v, 0, (long long)1 << 62, &ll, errstr) == -1)
			return -1;
		*(long long *)(void *)p = ll;
		return 0;
	case HOSTSTATS_REAL:
	default:
		d = strtod(v, &end);
		if (end == v || *end != '\0' || !isfinite(d) ||
		    d <= -HOSTSTATS_REAL_MAX || d >= HOSTSTATS_REAL_MAX) {
			*errstr = "invalid";
			return -1;
		}
		*(double *)(void *)p = d;
		return 0;
	}
}

/* Parses one "smarthost=" value. */
int
hoststats_parse(const char *s, struct hoststats *hs, const char **errstr)
{
	char line[HOSTSTATS_LINE_MAX], *tok, *next, *eq;
	uint32_t seen = 0;
	size_t len;

	memset(hs, 0, sizeof(*hs));
	if (strlcpy(line, s, sizeof(line)) >= sizeof(line)) {
		*errstr = "line too long";
		return -1;
	}
	len = strcspn(line, " ");
	if (!hoststats_name_is_valid(line, len)) {
		*errstr = "invalid smarthost name";
		return -1;
	}
	memcpy(hs->name, line, len);
	hs->name[len] = '\0';
	for (tok = line + len; *tok != '\0'; tok = next) {
		size_t i;

		tok += strspn(tok, " ");
		if (*tok == '\0')
			break;
		next = tok + strcspn(tok, " ");
		if (*next != '\0')
			*next++ = '\0';
		if ((eq = strchr(tok, '=')) == NULL) {
			*errstr = "field without '='";
			return -1;
		}
		*eq = '\0';
		for (i = 0; i < RQ_NELEM(hoststats_fields); i++)
			if (strcmp(tok, hoststats_fields[i].key) == 0)
				break;
		if (i == RQ_NELEM(hoststats_fields))
			continue; /* a newer writer's field */
		if (seen & (UINT32_C(1) << i)) {
			*errstr = "repeated field";
			return -1;
		}
		seen |= UINT32_C(1) << i;
		if (hoststats_set(hs, &hoststats_fields[i], eq + 1, errstr) ==
		    -1)
			return -1;
	}
	return 0;
}

/* Refills one bucket of size tokens per per seconds over ms. */
static void
hoststats_refill_one(double *level, long long size, long long per, long long ms)
{
	if (size <= 0 || per <= 0 || *level >= (double)size)
		return;
	*level += (double)ms * (double)size / ((double)per * 1000.0);
	if (*level > (double)size)
		*level = (double)size;
}

/* Brings the levels to now_ms. */
void
hoststats_refill(struct hoststats *hs, long long now_ms)
{
	if (hs->stamp <= 0 || now_ms <= hs->stamp)
		return;
	hoststats_refill_one(&hs->bucket, hs->bucket_size, hs->bucket_per,
	    now_ms - hs->stamp);
	hoststats_refill_one(&hs->rcpt_bucket, hs->rcpt_bucket_size,
	    hs->rcpt_bucket_per, now_ms - hs->stamp);
	hs->stamp = now_ms;
}
