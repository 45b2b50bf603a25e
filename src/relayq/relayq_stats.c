/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq stats (see relayq_stats.h).  Counting opens each message
 * without a lock, like the mailq listing; a message that moves or
 * leaves meanwhile is counted where it was found, or not at all.  One
 * that is there but cannot be opened or read is counted as unreadable
 * (part of the total), as relayq queue --json lists it with an error.
 */
#include "config.h"

#include "relayq/relayq_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/hoststats.h"
#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_list.h"
#include "queue/queue_scan.h"
#include "queue/queue_state.h"
#include "relayq/relayq_cmd.h"
#include "relayq/relayq_json.h"

/* relayqd_stats.h's RELAYQD_STATS_FILE_MAX: a longer file is cut. */
#define RELAYQ_STATS_FILE_MAX (256 * 1024)
/* Most "smarthost=" lines kept (more than such a file holds). */
#define RELAYQ_STATS_HOSTS_MAX 2048

struct relayq_stats_q {
	size_t incoming, pending, deferred, held;
	size_t unreadable; /* there, but cannot be opened or read */
	size_t failed;	   /* messages in failed/ (not part of the queue) */
	long long oldest;  /* arrival of the oldest, 0 if none */
};

struct relayq_stats_d {
	int present; /* <spool>/stats was read */
	int running; /* relayqd runs: 1, 0, -1 cannot tell */
	long long pid, started, updated, delivered, deferred, failed, bounces;
	long long smarthost_up, smarthost_since, last_success, last_error_time;
	char last_error[512];
	int has_rate; /* the pace keys were there (a newer relayqd) */
	double pace, bucket, rcpt_bucket;
	long long throttled, bucket_size, rcpt_bucket_size;
	struct hoststats *hosts; /* owned: one per smarthost, file order */
	size_t nhosts;
};

/* The messages in the queue, the unreadable ones included. */
static size_t
relayq_stats_total(const struct relayq_stats_q *q)
{
	return q->incoming + q->pending + q->deferred + q->held + q->unreadable;
}

/* Counts the messages of directory d. */
static int
relayq_stats_count(struct queue_spool *sp, enum queue_dir d,
    struct relayq_stats_q *q)
{
	struct queue_idlist l;

	if (sp->dirfd[d] == -1)
		return 0;
	if (queue_scan_dir(sp, d, &l, NULL) == -1)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		struct queue_env e;
		struct queue_state s;
		const char *errstr;
		int fd, rc;

		/* Not followed: one that moved is counted in queue/. */
		fd = openat(sp->dirfd[d], l.ids[i],
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd == -1) {
			if (errno != ENOENT)
				q->unreadable++;
			continue;
		}
		rc =
		    queue_list_read(sp, d, l.ids[i], fd, &e, &s, &errstr, NULL);
		(void)close(fd);
		if (rc == -1) {
			q->unreadable++;
			continue;
		}
		if (q->oldest == 0 || e.arrival < q->oldest)
			q->oldest = e.arrival;
		/* A state that cannot be read counts as pending. */
		if (d == QUEUE_DIR_INCOMING)
			q->incoming++;
		else if (s.held)
			q->held++;
		else if (s.tries > 0)
			q->deferred++;
		else
			q->pending++;
		queue_state_free(&s);
		queue_env_free(&e);
	}
	queue_idlist_free(&l);
	return 0;
}

/*
 * Keeps a "smarthost=" line's figures (hoststats.h); a line that does
 * not parse, or names a smarthost again, is ignored like a bad value.
 */
static void
relayq_stats_host(struct relayq_stats_d *dd, const char *v)
{
	struct hoststats hs;
	const char *errstr;

	if (dd->nhosts == RELAYQ_STATS_HOSTS_MAX ||
	    hoststats_parse(v, &hs, &errstr) == -1)
		return;
	for (size_t i = 0; i < dd->nhosts; i++)
		if (strcmp(dd->hosts[i].name, hs.name) == 0)
			return;
	dd->hosts =
	    xreallocarray(dd->hosts, dd->nhosts + 1, sizeof(*dd->hosts));
	dd->hosts[dd->nhosts++] = hs;
}

/* Stores one "key=value" line of the stats file into dd. */
static void
relayq_stats_line(struct relayq_stats_d *dd, const char *k, const char *v)
{
	static const struct {
		const char *key;
		size_t off;
	} nums[] = {
		{ "pid", offsetof(struct relayq_stats_d, pid) },
		{ "started", offsetof(struct relayq_stats_d, started) },
		{ "updated", offsetof(struct relayq_stats_d, updated) },
		{ "delivered", offsetof(struct relayq_stats_d, delivered) },
		{ "deferred", offsetof(struct relayq_stats_d, deferred) },
		{ "failed", offsetof(struct relayq_stats_d, failed) },
		{ "bounces", offsetof(struct relayq_stats_d, bounces) },
		{ "smarthost_up",
		    offsetof(struct relayq_stats_d, smarthost_up) },
		{ "smarthost_since",
		    offsetof(struct relayq_stats_d, smarthost_since) },
		{ "last_success",
		    offsetof(struct relayq_stats_d, last_success) },
		{ "last_error_time",
		    offsetof(struct relayq_stats_d, last_error_time) },
		{ "throttled", offsetof(struct relayq_stats_d, throttled) },
		{ "bucket_size", offsetof(struct relayq_stats_d, bucket_size) },
		{ "rcpt_bucket_size",
		    offsetof(struct relayq_stats_d, rcpt_bucket_size) },
	};
	static const struct {
		const char *key;
		size_t off;
	} reals[] = {
		{ "pace", offsetof(struct relayq_stats_d, pace) },
		{ "bucket", offsetof(struct relayq_stats_d, bucket) },
		{ "rcpt_bucket", offsetof(struct relayq_stats_d, rcpt_bucket) },
	};
	const char *errstr;
	char *end;

	for (size_t i = 0; i < RQ_NELEM(reals); i++)
		if (strcmp(k, reals[i].key) == 0) {
			double d = strtod(v, &end);

			if (end != v && *end == '\0' && d > -1e15 && d < 1e15)
				*(double *)(void *)((char *)dd + reals[i].off) =
				    d;
			dd->has_rate = 1;
			return;
		}
	if (strcmp(k, "smarthost") == 0) {
		relayq_stats_host(dd, v);
		return;
	}
	if (strcmp(k, "last_error") == 0) {
		/* Clean already: a no-op but for a file we did not write. */
		(void)str_clean_text(dd->last_error, sizeof(dd->last_error), v,
		    strlen(v));
		return;
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (strcmp(k, nums[i].key) == 0)
			(void)str_to_ll(v, 0, (long long)1 << 62,
			    (long long *)(void *)((char *)dd + nums[i].off),
			    &errstr);
}

/*
 * Reads at most RELAYQ_STATS_FILE_MAX bytes of fd into buf (which has
 * room for them and a NUL); returns the length, or -1.
 */
static ssize_t
relayq_stats_slurp(int fd, char *buf)
{
	size_t len = 0;
	ssize_t n;

	while (len < RELAYQ_STATS_FILE_MAX) {
		n = read(fd, buf + len, RELAYQ_STATS_FILE_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * Reads <spool>/stats; a missing file leaves dd->present 0.  The caller
 * frees dd with relayq_stats_d_free().
 */
static void
relayq_stats_read(struct queue_spool *sp, struct relayq_stats_d *dd)
{
	char *buf, *line, *next, *eq;
	struct timespec ts;
	ssize_t n;
	int fd;

	memset(dd, 0, sizeof(*dd));
	if ((fd = openat(sp->rootfd, "stats",
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;
	buf = xmalloc(RELAYQ_STATS_FILE_MAX + 1);
	n = relayq_stats_slurp(fd, buf);
	(void)close(fd);
	if (n <= 0 || strncmp(buf, "relayq-stats 1\n", 15) != 0) {
		free(buf);
		return;
	}
	dd->present = 1;
	for (line = buf + 15; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			break; /* torn last line: ignored */
		*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		relayq_stats_line(dd, line, eq + 1);
	}
	free(buf);
	/*
	 * The bucket levels as of now, not of relayqd's last write; the
	 * global keys repeat [smarthost]'s ("default").
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; i < dd->nhosts; i++) {
		struct hoststats *hs = &dd->hosts[i];

		if (hs->stamp <= 0)
			continue; /* an older relayqd's file */
		hoststats_refill(hs,
		    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		if (strcmp(hs->name, "default") == 0) {
			dd->bucket = hs->bucket;
			dd->rcpt_bucket = hs->rcpt_bucket;
		}
	}
}

/* Frees what relayq_stats_read() kept. */
static void
relayq_stats_d_free(struct relayq_stats_d *dd)
{
	free(dd->hosts);
	dd->hosts = NULL;
	dd->nhosts = 0;
}

/* When the smarthost went down, or 0 (up, or an older relayqd). */
static long long
relayq_stats_down_since(const struct relayq_stats_d *dd)
{
	return dd->smarthost_up ? 0 : dd->smarthost_since;
}

/* Prints s as a Prometheus label value: \\, \" and \n escaped. */
static void
relayq_stats_prom_label(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n')
			fputs("\\n", stdout);
		else {
			if (*s == '\\' || *s == '"')
				putchar('\\');
			putchar(*s);
		}
}

/* Prints the Prometheus text exposition. */
static void
relayq_stats_prom(const struct relayq_stats_q *q,
    const struct relayq_stats_d *dd, long long age)
{
	printf("# HELP relayq_queue_messages Messages in the queue, by "
	       "state.\n# TYPE relayq_queue_messages gauge\n");
	printf("relayq_queue_messages{state=\"incoming\"} %zu\n", q->incoming);
	printf("relayq_queue_messages{state=\"pending\"} %zu\n", q->pending);
	printf("relayq_queue_messages{state=\"deferred\"} %zu\n", q->deferred);
	printf("relayq_queue_messages{state=\"held\"} %zu\n", q->held);
	printf("relayq_queue_messages{state=\"unreadable\"} %zu\n",
	    q->unreadable);
	printf("# HELP relayq_queue_oldest_age_seconds Age of the oldest "
	       "queued message (0: empty).\n"
	       "# TYPE relayq_queue_oldest_age_seconds gauge\n"
	       "relayq_queue_oldest_age_seconds %lld\n",
	    age);
	printf("# HELP relayq_failed_messages Undeliverable null-sender "
	       "messages kept in failed/.\n"
	       "# TYPE relayq_failed_messages gauge\n"
	       "relayq_failed_messages %zu\n",
	    q->failed);
	printf("# HELP relayq_daemon_up 1 when relayqd runs and its stats "
	       "file was found.\n# TYPE relayq_daemon_up gauge\n"
	       "relayq_daemon_up %d\n",
	    dd->present);
	if (!dd->present)
		return;
	printf("# HELP relayq_start_time_seconds When relayqd started.\n"
	       "# TYPE relayq_start_time_seconds gauge\n"
	       "relayq_start_time_seconds %lld\n",
	    dd->started);
	printf("# HELP relayq_deliveries_total Recipients accepted by the "
	       "smarthost since start.\n# TYPE relayq_deliveries_total "
	       "counter\nrelayq_deliveries_total %lld\n",
	    dd->delivered);
	printf("# HELP relayq_deferrals_total Recipient attempts deferred "
	       "since start.\n# TYPE relayq_deferrals_total counter\n"
	       "relayq_deferrals_total %lld\n",
	    dd->deferred);
	printf("# HELP relayq_failures_total Recipients failed since "
	       "start.\n# TYPE relayq_failures_total counter\n"
	       "relayq_failures_total %lld\n",
	    dd->failed);
	printf("# HELP relayq_bounces_total Bounces and delay notices "
	       "queued since start.\n# TYPE relayq_bounces_total counter\n"
	       "relayq_bounces_total %lld\n",
	    dd->bounces);
	printf("# HELP relayq_smarthost_up 0 while relayqd backs off a "
	       "failing smarthost.\n# TYPE relayq_smarthost_up gauge\n"
	       "relayq_smarthost_up %lld\n",
	    dd->smarthost_up);
	printf("# HELP relayq_smarthost_down_since_timestamp_seconds When "
	       "the smarthost went down (0: it is up).\n"
	       "# TYPE relayq_smarthost_down_since_timestamp_seconds gauge\n"
	       "relayq_smarthost_down_since_timestamp_seconds %lld\n",
	    relayq_stats_down_since(dd));
	printf("# HELP relayq_last_success_timestamp_seconds Last "
	       "recipient accepted (0: none).\n"
	       "# TYPE relayq_last_success_timestamp_seconds gauge\n"
	       "relayq_last_success_timestamp_seconds %lld\n",
	    dd->last_success);
	printf("# HELP relayq_last_error_timestamp_seconds Last error "
	       "toward the smarthost (0: none).\n"
	       "# TYPE relayq_last_error_timestamp_seconds gauge\n"
	       "relayq_last_error_timestamp_seconds %lld\n",
	    dd->last_error_time);
	if (dd->last_error[0] != '\0') {
		fputs("# HELP relayq_last_error_info The last error toward "
		      "the smarthost, in label text.\n"
		      "# TYPE relayq_last_error_info gauge\n"
		      "relayq_last_error_info{text=\"",
		    stdout);
		relayq_stats_prom_label(dd->last_error);
		printf("\"} 1\n");
	}
	if (!dd->has_rate)
		return;
	printf("# HELP relayq_smarthost_pace_per_second Messages a second "
	       "the smarthost is paced at (0: no limit).\n"
	       "# TYPE relayq_smarthost_pace_per_second gauge\n"
	       "relayq_smarthost_pace_per_second %g\n"
	       "# HELP relayq_smarthost_throttled 1 while throttling replies "
	       "keep the pace lower.\n# TYPE relayq_smarthost_throttled "
	       "gauge\nrelayq_smarthost_throttled %lld\n",
	    dd->pace, dd->throttled);
	if (dd->bucket_size == 0 && dd->rcpt_bucket_size == 0)
		return;
	printf("# HELP relayq_smarthost_bucket_tokens Tokens left in the "
	       "rate_limit (messages) or recipient_limit bucket.\n"
	       "# TYPE relayq_smarthost_bucket_tokens gauge\n");
	if (dd->bucket_size > 0)
		printf("relayq_smarthost_bucket_tokens{bucket=\"messages\"} "
		       "%.3f\n",
		    dd->bucket);
	if (dd->rcpt_bucket_size > 0)
		printf("relayq_smarthost_bucket_tokens{bucket=\"recipients\"} "
		       "%.3f\n",
		    dd->rcpt_bucket);
	printf("# HELP relayq_smarthost_bucket_size_tokens Size of that "
	       "bucket (the N of N/DURATION).\n"
	       "# TYPE relayq_smarthost_bucket_size_tokens gauge\n");
	if (dd->bucket_size > 0)
		printf("relayq_smarthost_bucket_size_tokens{bucket="
		       "\"messages\"} "
		       "%lld\n",
		    dd->bucket_size);
	if (dd->rcpt_bucket_size > 0)
		printf("relayq_smarthost_bucket_size_tokens{bucket="
		       "\"recipients\"} %lld\n",
		    dd->rcpt_bucket_size);
}

/*
 * The per-smarthost families, each sample labelled smarthost="NAME" (a
 * name needs no escaping: hoststats.h).  They do not reuse the names of
 * the unlabelled [smarthost] figures above, so no family mixes samples
 * with and without the label.
 */
enum relayq_stats_kind {
	RELAYQ_STATS_LL,   /* a long long field of struct hoststats */
	RELAYQ_STATS_INT,  /* an int (0 or 1) */
	RELAYQ_STATS_REAL, /* a double */
};

static const struct relayq_stats_prom_host {
	const char *name, *type, *help;
	enum relayq_stats_kind kind;
	size_t off;
} relayq_stats_prom_hosts[] = {
	{ "relayq_smarthost_sent_total", "counter",
	    "Recipients the smarthost accepted since relayqd started.",
	    RELAYQ_STATS_LL, offsetof(struct hoststats, sent) },
	{ "relayq_smarthost_deferred_total", "counter",
	    "Recipient attempts deferred with the smarthost since start.",
	    RELAYQ_STATS_LL, offsetof(struct hoststats, deferred) },
	{ "relayq_smarthost_failed_total", "counter",
	    "Recipients the smarthost refused (5xx) since start.",
	    RELAYQ_STATS_LL, offsetof(struct hoststats, failed) },
	{ "relayq_smarthost_reachable", "gauge",
	    "1 while the smarthost is up, 0 while relayqd backs off.",
	    RELAYQ_STATS_INT, offsetof(struct hoststats, up) },
	{ "relayq_smarthost_state_since_timestamp_seconds", "gauge",
	    "When the smarthost last went up or down (or relayqd started).",
	    RELAYQ_STATS_LL, offsetof(struct hoststats, since) },
	{ "relayq_smarthost_pace_messages_per_second", "gauge",
	    "Messages a second the smarthost is paced at now (0: no limit).",
	    RELAYQ_STATS_REAL, offsetof(struct hoststats, pace) },
	{ "relayq_smarthost_pace_throttled", "gauge",
	    "1 while throttling replies keep the smarthost's pace lower.",
	    RELAYQ_STATS_INT, offsetof(struct hoststats, throttled) },
};

/*
 * Prints one bucket sample of family when the bucket is configured (its
 * size n > 0): the size itself, or its level with 3 decimals.
 */
static void
relayq_stats_prom_bucket(const char *family, const char *host,
    const char *bucket, int size, double level, long long n)
{
	if (n <= 0)
		return;
	printf("%s{smarthost=\"%s\",bucket=\"%s\"} ", family, host, bucket);
	if (size)
		printf("%lld\n", n);
	else
		printf("%.3f\n", level);
}

/* Prints one bucket family: level or size of each configured bucket. */
static void
relayq_stats_prom_buckets(const struct relayq_stats_d *dd, int size)
{
	const char *name = size ? "relayq_smarthost_bucket_capacity_tokens"
				: "relayq_smarthost_bucket_level_tokens";
	int any = 0;

	for (size_t i = 0; i < dd->nhosts; i++) {
		const struct hoststats *hs = &dd->hosts[i];

		if (hs->bucket_size <= 0 && hs->rcpt_bucket_size <= 0)
			continue;
		if (!any++)
			printf("# HELP %s %s\n# TYPE %s gauge\n", name,
			    size ? "Size of the smarthost's rate_limit "
				   "(messages) or recipient_limit bucket."
				 : "Tokens left in the smarthost's rate_limit "
				   "(messages) or recipient_limit bucket.",
			    name);
		relayq_stats_prom_bucket(name, hs->name, "messages", size,
		    hs->bucket, hs->bucket_size);
		relayq_stats_prom_bucket(name, hs->name, "recipients", size,
		    hs->rcpt_bucket, hs->rcpt_bucket_size);
	}
}

/* Prints the per-smarthost families (nothing from an older relayqd). */
static void
relayq_stats_prom_each(const struct relayq_stats_d *dd)
{
	if (dd->nhosts == 0)
		return;
	for (size_t f = 0; f < RQ_NELEM(relayq_stats_prom_hosts); f++) {
		const struct relayq_stats_prom_host *ph =
		    &relayq_stats_prom_hosts[f];

		printf("# HELP %s %s\n# TYPE %s %s\n", ph->name, ph->help,
		    ph->name, ph->type);
		for (size_t i = 0; i < dd->nhosts; i++) {
			const char *p = (const char *)&dd->hosts[i] + ph->off;

			printf("%s{smarthost=\"%s\"} ", ph->name,
			    dd->hosts[i].name);
			if (ph->kind == RELAYQ_STATS_LL)
				printf("%lld\n",
				    *(const long long *)(const void *)p);
			else if (ph->kind == RELAYQ_STATS_INT)
				printf("%d\n", *(const int *)(const void *)p);
			else
				printf("%g\n",
				    *(const double *)(const void *)p);
		}
	}
	relayq_stats_prom_buckets(dd, 0);
	relayq_stats_prom_buckets(dd, 1);
}

/* Prints each smarthost's figures as text, one "smarthost NAME:" each. */
static void
relayq_stats_text_each(const struct relayq_stats_d *dd)
{
	char when[64];
	long long ago;

	for (size_t i = 0; i < dd->nhosts; i++) {
		const struct hoststats *hs = &dd->hosts[i];

		str_localtime(when, sizeof(when), hs->since, STR_TIME_ZONE);
		ago = (long long)time(NULL) - hs->since;
		printf("smarthost %s: %s since %lld (%s, %llds ago)\n",
		    hs->name, hs->up ? "up" : "down", hs->since, when,
		    ago > 0 ? ago : 0);
		printf("smarthost %s: %lld sent, %lld deferred, %lld failed\n",
		    hs->name, hs->sent, hs->deferred, hs->failed);
		if (hs->pace > 0)
			printf("smarthost %s: pace %g messages a second%s",
			    hs->name, hs->pace,
			    hs->throttled ? " (throttled)" : "");
		else
			printf("smarthost %s: pace no limit", hs->name);
		if (hs->bucket_size > 0)
			printf("; rate_limit bucket %.2f of %lld", hs->bucket,
			    hs->bucket_size);
		if (hs->rcpt_bucket_size > 0)
			printf("; recipient_limit bucket %.2f of %lld",
			    hs->rcpt_bucket, hs->rcpt_bucket_size);
		printf("\n");
	}
}

/* A bucket as JSON: {"level": F (3 decimals), "size": N}, or null. */
static json_t *
relayq_stats_json_bucket(double level, long long size)
{
	char text[64];
	json_t *b;

	if (size <= 0)
		return json_null();
	if ((b = json_object()) == NULL)
		fatalx("out of memory");
	/* The double nearest the 3-decimal text prints as that text. */
	(void)snprintf(text, sizeof(text), "%.3f", level);
	relayq_json_set(b, "level", json_real(strtod(text, NULL)));
	relayq_json_set(b, "size", json_integer(size));
	return b;
}

/* Each smarthost's figures as JSON: an object keyed by its name. */
static json_t *
relayq_stats_json_hosts(const struct relayq_stats_d *dd)
{
	json_t *all = json_object(), *h;

	if (all == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < dd->nhosts; i++) {
		const struct hoststats *hs = &dd->hosts[i];

		if ((h = json_object()) == NULL)
			fatalx("out of memory");
		relayq_json_set(h, "up", json_boolean(hs->up));
		relayq_json_set(h, "since", json_integer(hs->since));
		relayq_json_set(h, "down_since",
		    relayq_json_time(hs->up ? 0 : hs->since));
		relayq_json_set(h, "sent", json_integer(hs->sent));
		relayq_json_set(h, "deferred", json_integer(hs->deferred));
		relayq_json_set(h, "failed", json_integer(hs->failed));
		relayq_json_set(h, "pace_per_second",
		    hs->pace > 0 ? json_real(hs->pace) : json_null());
		relayq_json_set(h, "throttled", json_boolean(hs->throttled));
		relayq_json_set(h, "rate_bucket",
		    relayq_stats_json_bucket(hs->bucket, hs->bucket_size));
		relayq_json_set(h, "recipient_bucket",
		    relayq_stats_json_bucket(hs->rcpt_bucket,
			hs->rcpt_bucket_size));
		relayq_json_set(all, hs->name, h);
	}
	return all;
}

/* relayqd's counters as JSON. */
static json_t *
relayq_stats_json_daemon(const struct relayq_stats_d *dd)
{
	json_t *r = json_object();

	if (r == NULL)
		fatalx("out of memory");
	relayq_json_set(r, "pid", json_integer(dd->pid));
	relayq_json_set(r, "started", json_integer(dd->started));
	relayq_json_set(r, "updated", json_integer(dd->updated));
	relayq_json_set(r, "delivered", json_integer(dd->delivered));
	relayq_json_set(r, "deferred", json_integer(dd->deferred));
	relayq_json_set(r, "failed", json_integer(dd->failed));
	relayq_json_set(r, "bounces", json_integer(dd->bounces));
	relayq_json_set(r, "smarthost_up", json_boolean(dd->smarthost_up));
	relayq_json_set(r, "smarthost_down_since",
	    relayq_json_time(relayq_stats_down_since(dd)));
	relayq_json_set(r, "last_success", json_integer(dd->last_success));
	relayq_json_set(r, "last_error_time",
	    json_integer(dd->last_error_time));
	relayq_json_set(r, "last_error", relayq_json_str(dd->last_error));
	if (dd->nhosts > 0)
		relayq_json_set(r, "smarthosts", relayq_stats_json_hosts(dd));
	if (!dd->has_rate)
		return r;
	relayq_json_set(r, "pace_per_second",
	    dd->pace > 0 ? json_real(dd->pace) : json_null());
	relayq_json_set(r, "throttled", json_boolean(dd->throttled));
	relayq_json_set(r, "rate_bucket",
	    relayq_stats_json_bucket(dd->bucket, dd->bucket_size));
	relayq_json_set(r, "recipient_bucket",
	    relayq_stats_json_bucket(dd->rcpt_bucket, dd->rcpt_bucket_size));
	return r;
}

/* Prints JSON; -1 on a write error. */
static int
relayq_stats_json(const struct relayq_stats_q *q,
    const struct relayq_stats_d *dd, long long age)
{
	json_t *o, *queue, *failed;

	if ((o = json_object()) == NULL || (queue = json_object()) == NULL ||
	    (failed = json_object()) == NULL)
		fatalx("out of memory");
	relayq_json_set(queue, "total",
	    json_integer((json_int_t)relayq_stats_total(q)));
	relayq_json_set(queue, "incoming",
	    json_integer((json_int_t)q->incoming));
	relayq_json_set(queue, "pending", json_integer((json_int_t)q->pending));
	relayq_json_set(queue, "deferred",
	    json_integer((json_int_t)q->deferred));
	relayq_json_set(queue, "held", json_integer((json_int_t)q->held));
	relayq_json_set(queue, "unreadable",
	    json_integer((json_int_t)q->unreadable));
	relayq_json_set(queue, "oldest_age_seconds", json_integer(age));
	relayq_json_set(o, "queue", queue);
	relayq_json_set(failed, "messages",
	    json_integer((json_int_t)q->failed));
	relayq_json_set(o, "failed", failed);
	relayq_json_set(o, "relayqd_running",
	    dd->running == -1 ? json_null() : json_boolean(dd->running));
	relayq_json_set(o, "relayqd",
	    dd->present ? relayq_stats_json_daemon(dd) : json_null());
	return relayq_json_print(o, stdout);
}

/* Prints text. */
static void
relayq_stats_text(const struct relayq_stats_q *q,
    const struct relayq_stats_d *dd, long long age)
{
	printf("queue: %zu messages (incoming %zu, pending %zu, deferred "
	       "%zu, held %zu",
	    relayq_stats_total(q), q->incoming, q->pending, q->deferred,
	    q->held);
	if (q->unreadable > 0)
		printf(", unreadable %zu", q->unreadable);
	printf(")\n");
	printf("oldest message: %llds old\n", age);
	printf("failed/: %zu messages\n", q->failed);
	if (dd->running == 0) {
		printf("relayqd: not running\n");
		return;
	}
	if (!dd->present) {
		printf("relayqd: no stats file (never ran on this spool)\n");
		return;
	}
	printf("relayqd: pid %lld, started %lld, updated %lld\n", dd->pid,
	    dd->started, dd->updated);
	printf("since start: %lld delivered, %lld deferred, %lld failed, "
	       "%lld bounces\n",
	    dd->delivered, dd->deferred, dd->failed, dd->bounces);
	if (dd->smarthost_up)
		printf("smarthost: up\n");
	else if (relayq_stats_down_since(dd) > 0) {
		char when[64];
		struct tm tm;
		time_t t = (time_t)dd->smarthost_since;
		long long ago;

		if (localtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm) ==
			0)
			(void)strlcpy(when, "?", sizeof(when));
		ago = (long long)time(NULL) - dd->smarthost_since;
		printf("smarthost: down since %lld (%s, %llds ago)\n",
		    dd->smarthost_since, when, ago > 0 ? ago : 0);
	} else
		printf("smarthost: down\n");
	printf("last success: %lld\n", dd->last_success);
	printf("last error: %lld %s\n", dd->last_error_time, dd->last_error);
	if (!dd->has_rate)
		return;
	if (dd->pace > 0)
		printf("pace: %g messages a second%s\n", dd->pace,
		    dd->throttled ? " (throttled)" : "");
	else
		printf("pace: no limit\n");
	if (dd->bucket_size > 0)
		printf("rate_limit bucket: %.2f of %lld\n", dd->bucket,
		    dd->bucket_size);
	if (dd->rcpt_bucket_size > 0)
		printf("recipient_limit bucket: %.2f of %lld\n",
		    dd->rcpt_bucket, dd->rcpt_bucket_size);
}

/* relayq stats. */
int
relayq_stats_print(struct queue_spool *sp, int fmt)
{
	struct relayq_stats_q q;
	struct relayq_stats_d dd;
	long long age = 0;

	memset(&q, 0, sizeof(q));
	if (relayq_stats_count(sp, QUEUE_DIR_INCOMING, &q) == -1 ||
	    relayq_stats_count(sp, QUEUE_DIR_QUEUE, &q) == -1) {
		fprintf(stderr, "relayq: cannot scan %s: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	if (sp->dirfd[QUEUE_DIR_FAILED] != -1) {
		struct queue_idlist l;

		if (queue_scan_dir(sp, QUEUE_DIR_FAILED, &l, NULL) == -1) {
			fprintf(stderr, "relayq: cannot scan %s/failed: %s\n",
			    sp->path, strerror(errno));
			return EX_IOERR;
		}
		q.failed = l.n;
		queue_idlist_free(&l);
	}
	relayq_stats_read(sp, &dd);
	/*
	 * A stats file relayqd left when it stopped says nothing of now:
	 * its pid, counters and smarthost state are not printed.
	 */
	if ((dd.running = relayq_cmd_running(sp)) == 0) {
		dd.present = 0;
		relayq_stats_d_free(&dd);
	}
	if (q.oldest > 0 && (long long)time(NULL) > q.oldest)
		age = (long long)time(NULL) - q.oldest;
	if (fmt == RELAYQ_STATS_JSON) {
		if (relayq_stats_json(&q, &dd, age) == -1) {
			relayq_stats_d_free(&dd);
			return EX_IOERR;
		}
	} else if (fmt == RELAYQ_STATS_PROMETHEUS) {
		relayq_stats_prom(&q, &dd, age);
		relayq_stats_prom_each(&dd);
	} else {
		relayq_stats_text(&q, &dd, age);
		relayq_stats_text_each(&dd);
	}
	relayq_stats_d_free(&dd);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}
