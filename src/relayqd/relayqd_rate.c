/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Token buckets and the adaptive pace of one smarthost (see
 * relayqd_rate.h for the contract and the file format).  Levels are
 * brought up to date lazily (relayqd_rate_refill) from the time the
 * caller passes; a clock that went back refills nothing.  Tokens are
 * doubles: N/DURATION refills N / (DURATION * 1000) a millisecond.
 */
#include "config.h"

#include "relayqd/relayqd_rate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

/* Gate log lines at info level at most this often (ms). */
#define RELAYQD_RATE_GATE_LOG_MS 60000LL

struct relayqd_rate_bucket {
	long long n, per; /* the limit: n per per seconds; n 0: none */
	double level;	  /* tokens now (may be < 0: a recipient debt) */
};

struct relayqd_rate {
	char *name; /* owned: the smarthost, for the log */
	struct relayqd_rate_bucket msgs, rcpts;
	long long stamp;       /* levels are true at this time (ms) */
	double pace;	       /* throttled pace (msgs/s); 0: not throttled */
	double pace_target;    /* the pace it recovers to */
	long long pace_step;   /* next recovery step (ms) */
	long long throttled;   /* last halving (ms), or 0 */
	long long last_take;   /* last message start (ms), or 0 */
	double gap;	       /* mean ms between starts lately; 0: unknown */
	long long gate_logged; /* last info line about waiting (ms) */
	int dirty;	       /* changed since the last save */
	int failing;	       /* the last save failed (logged) */
	int dirfd;	       /* borrowed; -1: not attached */
	char file[64];
};

/*
 * Rounds x >= 0 up to a whole number (no libm), ignoring a rounding
 * error of a microsecond: 1 / (3 / 86400000.0) is 28800000.000000004.
 */
static long long
relayqd_rate_ceil(double x)
{
	long long v;

	x -= 1e-6;
	v = (long long)x;

	return (double)v < x ? v + 1 : v;
}

/* Refill speed of b in tokens a millisecond (0: no limit). */
static double
relayqd_rate_speed(const struct relayqd_rate_bucket *b)
{
	return b->n > 0 ? (double)b->n / ((double)b->per * 1000.0) : 0;
}

/* The configured message pace (msgs/s), or 0. */
static double
relayqd_rate_cfg_pace(const struct relayqd_rate *r)
{
	return r->msgs.n > 0 ? (double)r->msgs.n / (double)r->msgs.per : 0;
}

/*
 * The pace in force (msgs/s), or 0 for none: while throttled, the
 * throttled pace, unless the configured one is slower and not a daily
 * cap's average (relayqd_rate_base).
 */
static double
relayqd_rate_pace(const struct relayqd_rate *r)
{
	double p = relayqd_rate_cfg_pace(r);

	if (r->pace > 0 && (p < RELAYQD_RATE_FLOOR || r->pace < p))
		p = r->pace;
	return p;
}

/* Formats pace p for the log: "5/s", "2.5/s", "1 every 60s". */
static const char *
relayqd_rate_fmt(double p, char *buf, size_t bufsz)
{
	if (p <= 0)
		(void)!rq_snprintf(buf, bufsz, "unlimited");
	else if (p >= 1)
		(void)!rq_snprintf(buf, bufsz, "%.3g/s", p);
	else
		(void)!rq_snprintf(buf, bufsz, "1 every %.3gs", 1.0 / p);
	return buf;
}

/* Length of a recovery step at pace p (ms). */
static long long
relayqd_rate_step(double p)
{
	double ms = p > 0 ? 4000.0 / p : 0;

	return ms > (double)RELAYQD_RATE_STEP_MS ? (long long)ms
						 : RELAYQD_RATE_STEP_MS;
}

/* Sets b's limit; a bucket that was not limited starts full. */
static void
relayqd_rate_set(struct relayqd_rate_bucket *b, const struct conf_rate *c)
{
	long long n = c != NULL ? c->n : 0;

	if (n > 0 && b->n == 0)
		b->level = (double)n;
	b->n = n;
	b->per = n > 0 ? c->per : 0;
	if (b->n > 0 && b->level > (double)b->n)
		b->level = (double)b->n;
}

/* Grows a throttled pace by the steps due at now; logs the result. */
static void
relayqd_rate_recover(struct relayqd_rate *r, long long now)
{
	double from = relayqd_rate_pace(r);
	char a[32], b[32];
	int n;

	for (n = 0; n < 200 && r->pace > 0 && now >= r->pace_step; n++) {
		r->pace *= RELAYQD_RATE_GROW;
		if (r->pace >= r->pace_target)
			r->pace = 0;
		r->pace_step += relayqd_rate_step(r->pace);
	}
	if (n == 0)
		return;
	r->dirty = 1;
	if (r->pace > 0)
		log_info("smarthost %s: no throttling lately, pace raised "
			 "from %s to %s",
		    r->name, relayqd_rate_fmt(from, a, sizeof(a)),
		    relayqd_rate_fmt(relayqd_rate_pace(r), b, sizeof(b)));
	else
		log_info("smarthost %s: pace recovered from %s to %s", r->name,
		    relayqd_rate_fmt(from, a, sizeof(a)),
		    relayqd_rate_fmt(relayqd_rate_pace(r), b, sizeof(b)));
}

/* Brings the levels and the pace up to now. */
static void
relayqd_rate_refill(struct relayqd_rate *r, long long now)
{
	struct relayqd_rate_bucket *bs[] = { &r->msgs, &r->rcpts };

	if (now > r->stamp)
		for (size_t i = 0; i < RQ_NELEM(bs); i++) {
			if (bs[i]->n == 0)
				continue;
			bs[i]->level += (double)(now - r->stamp) *
			    relayqd_rate_speed(bs[i]);
			if (bs[i]->level > (double)bs[i]->n)
				bs[i]->level = (double)bs[i]->n;
		}
	r->stamp = now; /* also when the clock went back: no refill */
	relayqd_rate_recover(r, now);
}

/* Creates a pace with full buckets. */
struct relayqd_rate *
relayqd_rate_new(const char *name, const struct conf_rate *msgs,
    const struct conf_rate *rcpts, long long now)
{
	struct relayqd_rate *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup(name);
	r->dirfd = -1;
	r->stamp = now;
	relayqd_rate_set(&r->msgs, msgs);
	relayqd_rate_set(&r->rcpts, rcpts);
	return r;
}

/* Formats a limit for the log. */
void
relayqd_rate_limit_txt(const struct conf_rate *r, char *buf, size_t bufsz)
{
	if (r->n == 0)
		(void)strlcpy(buf, "none", bufsz);
	else
		(void)!rq_snprintf(buf, bufsz, "%lld/%llds", r->n, r->per);
}

/* Frees r. */
void
relayqd_rate_free(struct relayqd_rate *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r);
}

/* New limits, levels kept. */
void
relayqd_rate_configure(struct relayqd_rate *r, const struct conf_rate *msgs,
    const struct conf_rate *rcpts, long long now)
{
	relayqd_rate_refill(r, now);
	relayqd_rate_set(&r->msgs, msgs);
	relayqd_rate_set(&r->rcpts, rcpts);
	r->dirty = 1;
}

/* A limit or a throttled pace. */
int
relayqd_rate_is_limited(const struct relayqd_rate *r)
{
	return r->msgs.n > 0 || r->rcpts.n > 0 || r->pace > 0;
}

/* Milliseconds until bucket b holds one token. */
static long long
relayqd_rate_bucket_wait(const struct relayqd_rate_bucket *b)
{
	if (b->n == 0 || b->level >= 1)
		return 0;
	return relayqd_rate_ceil((1 - b->level) / relayqd_rate_speed(b));
}

/* A recipient_limit. */
int
relayqd_rate_counts_rcpts(const struct relayqd_rate *r)
{
	return r->rcpts.n > 0;
}

/* Wait before the next message. */
long long
relayqd_rate_wait(struct relayqd_rate *r, long long now)
{
	long long w, next;

	if (!relayqd_rate_is_limited(r))
		return 0;
	relayqd_rate_refill(r, now);
	w = relayqd_rate_bucket_wait(&r->msgs);
	if (relayqd_rate_bucket_wait(&r->rcpts) > w)
		w = relayqd_rate_bucket_wait(&r->rcpts);
	if (r->pace > 0 && r->last_take > 0) {
		next = r->last_take + relayqd_rate_ceil(1000.0 / r->pace);
		if (next - now > w)
			w = next - now;
	}
	return w > 0 ? w : 0;
}

/* What a waiting message waits for, for the log. */
static const char *
relayqd_rate_why(const struct relayqd_rate *r, char *buf, size_t bufsz)
{
	char p[32];

	if (r->msgs.n > 0 && r->msgs.level < 1)
		(void)!rq_snprintf(buf, bufsz, "rate_limit %lld per %llds",
		    r->msgs.n, r->msgs.per);
	else if (r->rcpts.n > 0 && r->rcpts.level < 1)
		(void)!rq_snprintf(buf, bufsz, "recipient_limit %lld per %llds",
		    r->rcpts.n, r->rcpts.per);
	else
		(void)!rq_snprintf(buf, bufsz, "throttled pace %s",
		    relayqd_rate_fmt(relayqd_rate_pace(r), p, sizeof(p)));
	return buf;
}

/* Takes a message token when one may start. */
int
relayqd_rate_admit(struct relayqd_rate *r, long long now)
{
	long long w = relayqd_rate_wait(r, now);
	char why[64];

	if (w > 0) {
		if (r->gate_logged == 0 || now < r->gate_logged ||
		    now - r->gate_logged >= RELAYQD_RATE_GATE_LOG_MS) {
			r->gate_logged = now;
			log_info("smarthost %s: %s reached; messages wait, "
				 "next in %.3fs",
			    r->name, relayqd_rate_why(r, why, sizeof(why)),
			    (double)w / 1000);
		} else
			log_debug("smarthost %s: %s reached; next in %.3fs",
			    r->name, relayqd_rate_why(r, why, sizeof(why)),
			    (double)w / 1000);
		return 0;
	}
	if (r->msgs.n > 0)
		r->msgs.level -= 1;
	if (r->last_take > 0 && now > r->last_take)
		r->gap = r->gap > 0
		    ? 0.8 * r->gap + 0.2 * (double)(now - r->last_take)
		    : (double)(now - r->last_take);
	r->last_take = now;
	if (relayqd_rate_is_limited(r))
		r->dirty = 1;
	return 1;
}

/* Charges a started message's recipients. */
void
relayqd_rate_charge(struct relayqd_rate *r, size_t nrcpt, long long now)
{
	if (r->rcpts.n == 0)
		return;
	relayqd_rate_refill(r, now);
	r->rcpts.level -= (double)nrcpt;
	r->dirty = 1;
}

/* Gives back what a message that reached no MAIL took (relayqd_rate.h). */
void
relayqd_rate_refund(struct relayqd_rate *r, size_t nrcpt, long long now)
{
	if (r->msgs.n == 0 && r->rcpts.n == 0)
		return;
	relayqd_rate_refill(r, now);
	if (r->msgs.n > 0 && (r->msgs.level += 1) > (double)r->msgs.n)
		r->msgs.level = (double)r->msgs.n;
	if (r->rcpts.n > 0 &&
	    (r->rcpts.level += (double)nrcpt) > (double)r->rcpts.n)
		r->rcpts.level = (double)r->rcpts.n;
	r->dirty = 1;
}

/*
 * 4.7.x (RFC 3463: security or policy status) on a transient reply to
 * anything but a RCPT, or a 421 4.7.x anywhere (relayqd_rate.h).
 */
int
relayqd_rate_is_throttle(const struct rq_reason *why)
{
	if (strncmp(why->esc, "4.7.", 4) != 0)
		return 0;
	switch (why->code) {
	case 421:
		return 1;
	case 450:
	case 451:
	case 452:
	case 454:
		return why->stage != RQ_STAGE_RCPT;
	default:
		return 0;
	}
}

/*
 * The pace a throttle halves: the pace in force.  A configured pace
 * slower than RELAYQD_RATE_FLOOR (a daily cap: 10/1d is one every 8640
 * s on average) is no pace at all between two messages, since the
 * bucket lets its tokens go at once: such a limit, or none, halves the
 * pace observed lately (one a second when unknown) instead, so that one
 * throttle does not hold the next message for hours while tokens are
 * left (issue 15).
 */
static double
relayqd_rate_base(const struct relayqd_rate *r)
{
	double cfg = relayqd_rate_cfg_pace(r);

	if (cfg < RELAYQD_RATE_FLOOR)
		cfg = 0;
	if (r->pace > 0)
		return relayqd_rate_pace(r);
	if (cfg > 0)
		return cfg;
	if (r->gap <= 0)
		return 1.0;
	return 1000.0 / r->gap > RELAYQD_RATE_FLOOR ? 1000.0 / r->gap
						    : RELAYQD_RATE_FLOOR;
}

/* Halves the pace after a throttling reply. */
void
relayqd_rate_throttle(struct relayqd_rate *r, const char *text, long long now)
{
	double cur, next;
	char a[32], b[32];
	long long debounce, wait;

	relayqd_rate_refill(r, now);
	cur = relayqd_rate_base(r);
	debounce = relayqd_rate_ceil(1000.0 / cur);
	if (debounce < 1000)
		debounce = 1000;
	if (r->throttled > 0 && now >= r->throttled &&
	    now - r->throttled < debounce) {
		log_debug("smarthost %s: throttled again (%s); pace stays %s",
		    r->name, text, relayqd_rate_fmt(cur, a, sizeof(a)));
		return;
	}
	if (r->pace == 0)
		r->pace_target = cur;
	next = cur / 2;
	if (next < RELAYQD_RATE_FLOOR)
		next = cur < RELAYQD_RATE_FLOOR ? cur : RELAYQD_RATE_FLOOR;
	r->pace = next;
	r->throttled = now;
	r->pace_step = now + relayqd_rate_step(next);
	r->dirty = 1;
	r->last_take = now; /* the next message waits 1/pace from here */
	wait = relayqd_rate_wait(r, now);
	if (next < cur)
		log_info("smarthost %s: throttled (%s): pace halved from %s to "
			 "%s; next message in %.3fs at the earliest",
		    r->name, text, relayqd_rate_fmt(cur, a, sizeof(a)),
		    relayqd_rate_fmt(next, b, sizeof(b)), (double)wait / 1000);
	else
		log_info("smarthost %s: throttled (%s): pace stays at %s, the "
			 "slowest; next message in %.3fs at the earliest",
		    r->name, text, relayqd_rate_fmt(cur, a, sizeof(a)),
		    (double)wait / 1000);
}

/* The state for stats. */
void
relayqd_rate_view(struct relayqd_rate *r, long long now,
    struct relayqd_rate_view *v)
{
	relayqd_rate_refill(r, now);
	v->pace = relayqd_rate_pace(r);
	v->throttled = r->pace > 0;
	v->messages = r->msgs.level;
	v->messages_size = r->msgs.n;
	v->recipients = r->rcpts.level;
	v->recipients_size = r->rcpts.n;
}

/* Parses a finite double in [lo, hi]; returns 0 or -1. */
static int
relayqd_rate_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < lo ||
	    v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Parses the file text buf into r; returns 0 or -1 with *errstr. */
static int
relayqd_rate_parse(struct relayqd_rate *r, char *buf, long long now,
    const char **errstr)
{
	double stamp = -1, msgs = -1e300, rcpts = -1e300, pace = 0, target = 0;
	char *line, *next, *eq;
	int end = 0;

	if (strncmp(buf, "relayq-rate 1\n", 14) != 0) {
		*errstr = "not a relayq-rate 1 file";
		return -1;
	}
	for (line = buf + 14; *line != '\0' && !end; line = next) {
		double *dst = NULL, lo = 0, hi = 1e15;

		if ((next = strchr(line, '\n')) == NULL)
			break;
		*next++ = '\0';
		if (strcmp(line, "end") == 0) {
			end = 1;
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			*errstr = "a line without '='";
			return -1;
		}
		*eq++ = '\0';
		if (strcmp(line, "stamp") == 0)
			dst = &stamp;
		else if (strcmp(line, "messages") == 0)
			dst = &msgs;
		else if (strcmp(line, "recipients") == 0)
			dst = &rcpts;
		else if (strcmp(line, "pace") == 0)
			dst = &pace;
		else if (strcmp(line, "pace_target") == 0)
			dst = &target;
		if (dst == &msgs || dst == &rcpts)
			lo = -1e12;
		if (dst == NULL || relayqd_rate_num(eq, lo, hi, dst) == -1) {
			*errstr = "a bad line";
			return -1;
		}
	}
	if (!end || *line != '\0' || stamp < 0) {
		*errstr = "truncated (no end line or no stamp)";
		return -1;
	}
	/* Absent: not limited when saved; set as by relayqd_rate_set. */
	if (r->msgs.n > 0 && msgs > -1e300)
		r->msgs.level =
		    msgs < (double)r->msgs.n ? msgs : (double)r->msgs.n;
	if (r->rcpts.n > 0 && rcpts > -1e300)
		r->rcpts.level =
		    rcpts < (double)r->rcpts.n ? rcpts : (double)r->rcpts.n;
	r->stamp = (long long)stamp < now ? (long long)stamp : now;
	if (pace > 0 && target > 0) {
		r->pace = pace;
		r->pace_target = target;
		r->pace_step = now + relayqd_rate_step(pace);
		r->throttled = now;
	}
	relayqd_rate_refill(r, now);
	return 0;
}

/* Attaches and reads the file. */
int
relayqd_rate_load(struct relayqd_rate *r, int dirfd, const char *file,
    long long now, const char **errstr)
{
	char buf[RELAYQD_RATE_FILE_MAX + 1];
	ssize_t n;
	int fd;

	r->dirfd = dirfd;
	(void)!rq_snprintf(r->file, sizeof(r->file), "%s", file);
	fd = openat(dirfd, r->file,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	n = fd == -1 ? -1 : read(fd, buf, sizeof(buf));
	if (fd != -1)
		(void)close(fd);
	if (n >= 0 && (size_t)n <= RELAYQD_RATE_FILE_MAX) {
		buf[n] = '\0';
		if (memchr(buf, '\0', (size_t)n) != NULL)
			*errstr = "a NUL byte";
		else if (relayqd_rate_parse(r, buf, now, errstr) == 0)
			return 0;
	} else
		*errstr = n == -1 ? strerror(errno) : "too long";
	/* Unknown: assume the quota is spent (never above a limit). */
	r->msgs.level = r->msgs.n > 0 ? 0 : r->msgs.level;
	r->rcpts.level = r->rcpts.n > 0 ? 0 : r->rcpts.level;
	r->stamp = now;
	r->dirty = 1;
	return -1;
}

/* Writes the file text to <file>.tmp, fsyncs and renames it. */
static int
relayqd_rate_write(struct relayqd_rate *r, const char *text, size_t len)
{
	char tmp[80];
	int fd, saved;

	if (rq_snprintf(tmp, sizeof(tmp), "%s.tmp", r->file) == -1)
		return -1;
	/*
	 * 0640, like the queue files: relayq's listing and show read it to
	 * say that a message waits for the rate, also when run through the
	 * spool's group.  It holds bucket levels only, nothing secret.
	 */
	if ((fd = openat(r->dirfd, tmp,
		 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		 0640)) == -1)
		return -1;
	if (fchmod(fd, 0640) == -1 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) == -1) {
		saved = errno != 0 ? errno : EIO;
		(void)close(fd);
		(void)unlinkat(r->dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 ||
	    renameat(r->dirfd, tmp, r->dirfd, r->file) == -1) {
		saved = errno;
		(void)unlinkat(r->dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return fsync(r->dirfd);
}

/* Saves when dirty. */
int
relayqd_rate_save(struct relayqd_rate *r)
{
	char text[RELAYQD_RATE_FILE_MAX], msgs[64] = "", rcpts[64] = "";
	int n, saved;

	if (!r->dirty || r->dirfd == -1)
		return 0;
	if (r->msgs.n > 0)
		(void)!rq_snprintf(msgs, sizeof(msgs), "messages=%.6f\n",
		    r->msgs.level);
	if (r->rcpts.n > 0)
		(void)!rq_snprintf(rcpts, sizeof(rcpts), "recipients=%.6f\n",
		    r->rcpts.level);
	n = rq_snprintf(text, sizeof(text),
	    "relayq-rate 1\nstamp=%lld\n%s%space=%.9f\npace_target=%.9f\n"
	    "end\n",
	    r->stamp, msgs, rcpts, r->pace, r->pace > 0 ? r->pace_target : 0);
	if (n == -1 || relayqd_rate_write(r, text, (size_t)n) == -1) {
		saved = errno;
		if (!r->failing)
			log_warn("smarthost %s: cannot save its rate state in "
				 "%s",
			    r->name, r->file);
		r->failing = 1;
		errno = saved;
		return -1;
	}
	if (r->failing)
		log_info("smarthost %s: rate state saved again", r->name);
	r->failing = 0;
	r->dirty = 0;
	return 0;
}

/* Saves, then writes no more. */
void
relayqd_rate_detach(struct relayqd_rate *r)
{
	(void)relayqd_rate_save(r); /* logged there */
	r->dirfd = -1;
}
