/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The mailq listing.  Per message: id, size, arrival and sender, the
 * last error, an attempts line (count, last and next attempt, whether
 * the delay notice went out), then each recipient with its state and
 * last reply.  It merges the sorted ids of incoming/ and queue/
 * (an id seen in both, because relayqd moved it between the two scans,
 * is listed once), reads each envelope without the body CRC, and reads
 * the state file without side effects.  It never moves, locks or
 * quarantines anything, so it is safe to run from the setgid front end
 * while relayqd works.  Every text it prints was validated on the way
 * into the spool (no control characters; the last error and replies are
 * clean text, see queue_state.c, printed as they are, never escaped
 * again), and a broken file becomes one
 * "(unreadable: ...)" line instead of an error.  When incoming/ cannot be
 * read (a spool set up without its group read), a note says so instead
 * of silently listing less.  queue_list_print_uid() lists one user's
 * messages only (mailq_all_users = no), by the envelope's U record.
 */
#include "config.h"

#include "queue/queue_list.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_env.h"
#include "queue/queue_scan.h"
#include "queue/queue_state.h"

/* Width of the columns before the sender: id+mark, size, time, gaps. */
#define QUEUE_LIST_INDENT (QUEUE_ID_LEN + 1 + 1 + 8 + 1 + 19 + 2)

/* Running totals of a listing, and whose messages it shows. */
struct queue_list_tot {
	uint64_t bytes;
	size_t requests;
	long long uid; /* only messages whose U record is this; -1: all */
	FILE *out;     /* borrowed */
	int flags;     /* QUEUE_LIST_* */
	int header;    /* the column header was printed */
	queue_list_route_fn route; /* names a sender's smarthost, or NULL */
	const void *route_arg;
};

/* Prints the column header before the first entry of a listing. */
static void
queue_list_header(FILE *out, struct queue_list_tot *tot)
{
	if (tot->header)
		return;
	tot->header = 1;
	fprintf(out, "%-*s %8s %-19s  %s\n", QUEUE_ID_LEN + 1, "-Queue ID-",
	    "--Size--", "----Arrival Time---", "-Sender/Recipient-------");
}

/* Prints one indented continuation line. */
static void
queue_list_line(FILE *out, const char *pre, const char *text, const char *post)
{
	fprintf(out, "%*s%s%s%s\n", QUEUE_LIST_INDENT, "", pre, text, post);
}

/*
 * Prints the line for a file we could not read (not when listing one
 * user's messages: whose it is cannot be told).
 */
static void
queue_list_unreadable(FILE *out, const char *id, const char *why,
    struct queue_list_tot *tot)
{
	if (tot->uid >= 0)
		return;
	queue_list_header(out, tot);
	fprintf(out, "%s (unreadable: %s)\n\n", id, why);
	tot->requests++;
}

/* Formats a time like the arrival column; "?" when it cannot. */
static void
queue_list_time(long long secs, char *buf, size_t bufsz)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, bufsz, "%a %b %e %H:%M:%S", &tm) == 0)
		(void)strlcpy(buf, "?", bufsz);
}

/*
 * Prints the attempts line: how many, the last and the next one; for a
 * message in failed/ (failed_at > 0), when it was moved there instead
 * of the next one.
 */
static void
queue_list_attempts(FILE *out, const struct queue_state *s, long long failed_at)
{
	char last[32], next[32], line[160];

	if (failed_at > 0) {
		queue_list_time(failed_at, next, sizeof(next));
		(void)snprintf(line, sizeof(line),
		    "(attempts: %u, moved to failed/: %s)", s->tries, next);
		queue_list_line(out, "", line, "");
		return;
	}
	if (s->tries == 0 && s->next_try == 0) {
		queue_list_line(out, "", "(no attempt yet)", "");
		return;
	}
	queue_list_time(s->last_try, last, sizeof(last));
	if (s->next_try <= (long long)time(NULL))
		(void)strlcpy(next, "now", sizeof(next));
	else
		queue_list_time(s->next_try, next, sizeof(next));
	(void)snprintf(line, sizeof(line),
	    "(attempts: %u, last: %s, next: %s%s)", s->tries,
	    s->tries > 0 ? last : "none", next,
	    s->warned != 0 ? ", delay notice sent" : "");
	queue_list_line(out, "", line, "");
}

/*
 * Prints the recipients of a message with their state: pending ones
 * always ("deferred" once a reply was recorded), failed ones always,
 * delivered ones only with QUEUE_LIST_ALL_RCPTS (otherwise counted).
 * The last reply follows on its own line, unless it is the message's
 * last error already shown above.
 */
static void
queue_list_rcpts(FILE *out, const struct queue_env *e,
    const struct queue_state *s, int flags)
{
	size_t ndone = 0;
	char line[64];

	for (size_t i = 0; i < e->nrcpt; i++) {
		const char *reply = s->rcpt_reply[i];
		int has_reply = reply != NULL && *reply != '\0';

		switch (s->rcpt_st[i]) {
		case QUEUE_RCPT_PENDING:
			queue_list_line(out, "", e->rcpts[i],
			    has_reply ? "  (deferred)" : "  (pending)");
			if (has_reply && strcmp(reply, s->last_error) != 0)
				queue_list_line(out, "  (", reply, ")");
			break;
		case QUEUE_RCPT_DONE:
			if (!(flags & QUEUE_LIST_ALL_RCPTS)) {
				ndone++;
				break;
			}
			queue_list_line(out, "", e->rcpts[i], "  (delivered)");
			if (has_reply)
				queue_list_line(out, "  (", reply, ")");
			break;
		default:
			queue_list_line(out, "", e->rcpts[i], "  (failed)");
			if (has_reply)
				queue_list_line(out, "  (", reply, ")");
			break;
		}
	}
	if (ndone > 0) {
		(void)snprintf(line, sizeof(line),
		    "(%zu recipient%s delivered)", ndone,
		    ndone == 1 ? "" : "s");
		queue_list_line(out, "", line, "");
	}
}

/* Prints one message of an already opened file. */
static void
queue_list_msg(struct queue_spool *sp, enum queue_dir d, const char *id, int fd,
    const struct stat *st, FILE *out, int flags, struct queue_list_tot *tot)
{
	struct queue_env e;
	struct queue_state s;
	char when[32];
	const char *errstr, *staterr, *via;

	if (queue_list_read(sp, d, id, fd, &e, &s, &errstr, &staterr) == -1) {
		queue_list_unreadable(out, id,
		    errno == EBADMSG ? errstr : strerror(errno), tot);
		return;
	}
	if (tot->uid >= 0 && e.uid != tot->uid) {
		queue_state_free(&s); /* another user's message */
		queue_env_free(&e);
		return;
	}
	queue_list_header(out, tot);
	queue_list_time(e.arrival, when, sizeof(when));
	fprintf(out, "%s%c %8" PRIu64 " %-19s  %s\n", id, s.held ? '!' : ' ',
	    e.body_len, when, *e.sender != '\0' ? e.sender : "MAILER-DAEMON");
	if (tot->route != NULL && d != QUEUE_DIR_FAILED &&
	    (via = tot->route(tot->route_arg, e.sender)) != NULL)
		queue_list_line(out, "(smarthost: ", via, ")");
	if (staterr != NULL)
		queue_list_line(out, "(state unreadable: ", staterr, ")");
	if (*s.last_error != '\0')
		queue_list_line(out, "(", s.last_error, ")");
	queue_list_attempts(out, &s,
	    d == QUEUE_DIR_FAILED ? (long long)st->st_ctime : 0);
	queue_list_rcpts(out, &e, &s, flags);
	fputc('\n', out);
	tot->bytes += e.body_len;
	tot->requests++;
	queue_state_free(&s);
	queue_env_free(&e);
}

/*
 * Lists the message id found in directory d (a queue_list_walk_fn, arg
 * the struct queue_list_tot); one that moved from incoming/ to queue/
 * meanwhile is followed, one that left is skipped.
 */
static void
queue_list_one(struct queue_spool *sp, enum queue_dir d, const char *id,
    void *arg)
{
	struct queue_list_tot *tot = arg;
	FILE *out = tot->out;
	int flags = tot->flags;
	struct stat st;
	int fd;

	fd = queue_list_open(sp, &d, id);
	if (fd == -1) {
		if (errno != ENOENT)
			queue_list_unreadable(out, id, strerror(errno), tot);
		return;
	}
	if (fstat(fd, &st) == -1)
		queue_list_unreadable(out, id, strerror(errno), tot);
	else if (!S_ISREG(st.st_mode))
		queue_list_unreadable(out, id, "not a regular file", tot);
	else
		queue_list_msg(sp, d, id, fd, &st, out, flags, tot);
	(void)close(fd);
}

/* Prints the totals (or empty) and flushes out; returns 0 or -1. */
static int
queue_list_end(FILE *out, const struct queue_list_tot *tot, const char *empty)
{
	if (tot->requests == 0)
		fprintf(out, "%s\n", empty);
	else
		fprintf(out, "-- %" PRIu64 " Kbytes in %zu Request%s.\n",
		    (tot->bytes + 1023) / 1024, tot->requests,
		    tot->requests == 1 ? "" : "s");
	errno = 0;
	if (fflush(out) == EOF || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* Prints the mailq listing. */
int
queue_list_print(struct queue_spool *sp, FILE *out, int flags)
{
	return queue_list_print_uid(sp, out, flags, -1);
}

/* Prints the mailq listing of one user's messages, or all (uid -1). */
int
queue_list_print_uid(struct queue_spool *sp, FILE *out, int flags,
    long long uid)
{
	return queue_list_print_route(sp, out, flags, uid, NULL, NULL);
}

/* Prints the mailq listing, with each message's smarthost by route. */
int
queue_list_print_route(struct queue_spool *sp, FILE *out, int flags,
    long long uid, queue_list_route_fn route, const void *arg)
{
	struct queue_list_tot tot = { 0, 0, uid, out, flags, 0, route, arg };
	int in_err;

	if (queue_list_walk(sp, queue_list_one, &tot, &in_err) == -1)
		return -1;
	if (in_err != 0)
		fprintf(out,
		    "(incoming/ not readable: %s; messages not yet "
		    "picked up by relayqd are not shown)\n",
		    strerror(in_err));
	return queue_list_end(out, &tot, "Mail queue is empty");
}

/* Prints the listing of failed/. */
int
queue_list_print_failed(struct queue_spool *sp, FILE *out)
{
	struct queue_idlist l = { NULL, 0 };
	struct queue_list_tot tot = { 0, 0, -1, out, QUEUE_LIST_ALL_RCPTS, 0,
		NULL, NULL };

	/* No failed/ yet: relayqd never ran on this spool. */
	if (sp->dirfd[QUEUE_DIR_FAILED] != -1 &&
	    queue_scan_dir(sp, QUEUE_DIR_FAILED, &l, NULL) == -1)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		queue_list_one(sp, QUEUE_DIR_FAILED, l.ids[i], &tot);
	queue_idlist_free(&l);
	return queue_list_end(out, &tot, "No failed messages");
}

/* Opens id in *d, following it from incoming/ to queue/. */
int
queue_list_open(struct queue_spool *sp, enum queue_dir *d, const char *id)
{
	int fd = -1;

	errno = ENOENT;
	if (sp->dirfd[*d] != -1)
		fd = openat(sp->dirfd[*d], id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && *d == QUEUE_DIR_INCOMING &&
	    sp->dirfd[QUEUE_DIR_QUEUE] != -1) {
		*d = QUEUE_DIR_QUEUE;
		fd = openat(sp->dirfd[*d], id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	return fd;
}

/* Reads a message's envelope and its state, without side effects. */
int
queue_list_read(struct queue_spool *sp, enum queue_dir d, const char *id,
    int fd, struct queue_env *e, struct queue_state *s, const char **errstr,
    const char **staterr)
{
	const char *why = NULL;
	int rc = 0;

	if (queue_env_read_fd(e, fd, 0, errstr) == -1)
		return -1;
	if (d == QUEUE_DIR_FAILED)
		rc = queue_spool_peek_failed_state(sp, id, e->nrcpt, s, &why);
	else if (d == QUEUE_DIR_QUEUE && sp->dirfd[QUEUE_DIR_STATE] != -1)
		rc = queue_spool_peek_state(sp, id, e->nrcpt, s, &why);
	else
		rc = -1; /* incoming/: no attempt yet */
	if (rc == -1)
		queue_state_init(s, id, e->nrcpt);
	if (staterr != NULL)
		*staterr = why;
	return 0;
}

/* The state word of recipient i for show and JSON. */
const char *
queue_list_rcpt_state(const struct queue_state *s, size_t i)
{
	switch (s->rcpt_st[i]) {
	case QUEUE_RCPT_DONE:
		return "delivered";
	case QUEUE_RCPT_FAILED:
		return "failed";
	default:
		return s->tries > 0 ? "deferred" : "pending";
	}
}

/* Walks incoming/ and queue/ merged in arrival order. */
int
queue_list_walk(struct queue_spool *sp, queue_list_walk_fn fn, void *arg,
    int *in_err)
{
	struct queue_idlist in = { NULL, 0 }, q = { NULL, 0 };
	size_t i = 0, j = 0;
	int saved_errno;

	*in_err = 0;
	if (sp->dirfd[QUEUE_DIR_INCOMING] != -1 &&
	    queue_scan_dir(sp, QUEUE_DIR_INCOMING, &in, NULL) == -1)
		*in_err = errno;
	/* No queue/ yet: relayqd never ran on this spool. */
	if (sp->dirfd[QUEUE_DIR_QUEUE] != -1 &&
	    queue_scan_dir(sp, QUEUE_DIR_QUEUE, &q, NULL) == -1) {
		saved_errno = errno;
		queue_idlist_free(&in);
		errno = saved_errno;
		return -1;
	}
	while (i < in.n || j < q.n) {
		int c = i == in.n ? 1
		    : j == q.n	  ? -1
				  : strcmp(in.ids[i], q.ids[j]);

		if (c < 0)
			fn(sp, QUEUE_DIR_INCOMING, in.ids[i++], arg);
		else {
			if (c == 0)
				i++;
			fn(sp, QUEUE_DIR_QUEUE, q.ids[j++], arg);
		}
	}
	queue_idlist_free(&in);
	queue_idlist_free(&q);
	return 0;
}
