/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The relayq subcommands that act on queued messages (see relayq_cmd.h).
 * This module only reads the spool and changes state files and messages
 * under the per-message flock; it never delivers anything.
 */
#include "config.h"

#include "relayq/relayq_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_id.h"
#include "queue/queue_list.h"
#include "queue/queue_scan.h"
#include "queue/queue_state.h"

#define RELAYQ_CMD_HEAD_MAX (64 * 1024) /* header bytes show prints */
/* How long a change waits for a delivery attempt to let go of a message. */
#define RELAYQ_CMD_LOCK_WAIT_MS 10000
#define RELAYQ_CMD_LOCK_POLL_MS 50

/* Opens the wake FIFO to write; ENXIO: relayqd does not run. */
static int
relayq_cmd_wake_open(struct queue_spool *sp)
{
	return openat(sp->rootfd, "wake",
	    O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
}

/* Tells whether relayqd runs on sp: the test relayq flush makes. */
int
relayq_cmd_running(struct queue_spool *sp)
{
	int fd;

	if ((fd = relayq_cmd_wake_open(sp)) != -1) {
		(void)close(fd);
		return 1;
	}
	return errno == ENXIO || errno == ENOENT ? 0 : -1;
}

/* Writes buf into the wake FIFO; returns a sysexits code. */
static int
relayq_cmd_wake(struct queue_spool *sp, const char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = relayq_cmd_wake_open(sp)) == -1) {
		if (errno == ENXIO) {
			fprintf(stderr,
			    "relayq: relayqd is not running on %s\n", sp->path);
			return EX_TEMPFAIL;
		}
		fprintf(stderr, "relayq: cannot open %s/wake: %s\n", sp->path,
		    strerror(errno));
		return EX_UNAVAILABLE;
	}
	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "relayq: cannot poke relayqd: %s\n",
			    n == -1 ? strerror(errno) : "short write");
			(void)close(fd);
			return EX_TEMPFAIL;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1) {
		fprintf(stderr, "relayq: cannot poke relayqd: %s\n",
		    strerror(errno));
		return EX_TEMPFAIL;
	}
	return EX_OK;
}

/*
 * Asks relayqd for a flush ("F" or "F<id>") on its -v socket, where it
 * knows our uid: root's flush is not limited as a user's is (relayqd.h).
 * Returns a sysexits code, or -1 when the socket cannot be reached (the
 * caller then uses the wake FIFO).
 */
static int
relayq_cmd_flush_socket(struct queue_spool *sp, const char *id)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char req[QUEUE_ID_LEN + 3], reply[512];
	size_t have = 0;
	ssize_t n;
	int fd, ex = EX_TEMPFAIL;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (rq_snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/verbose",
		sp->path) == -1 ||
	    rq_snprintf(req, sizeof(req), "F%s\n", id != NULL ? id : "") == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		(void)close(fd);
		return -1;
	}
	/* One line back, within 10 s: relayqd answers at once. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (have < sizeof(reply) - 1 && memchr(reply, '\n', have) == NULL &&
	    poll(&pfd, 1, 10000) == 1) {
		if ((n = read(fd, reply + have, sizeof(reply) - 1 - have)) <= 0)
			break;
		have += (size_t)n;
	}
	(void)close(fd);
	reply[have] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (strncmp(reply, "RESULT sent", 11) == 0)
		ex = EX_OK;
	else
		fprintf(stderr, "relayq: flush: %s\n",
		    have > 0 ? reply : "no answer from relayqd");
	return ex;
}

/* Checks an id given on the command line; prints the error. */
static int
relayq_cmd_check_id(const char *id)
{
	if (queue_id_is_valid(id))
		return 0;
	fprintf(stderr, "relayq: %s: not a queue id\n", id);
	return -1;
}

/* Asks relayqd, if it runs, to take up queue/<id>; silent. */
static void
relayq_cmd_wake_id_quiet(struct queue_spool *sp, const char *id)
{
	char rec[QUEUE_ID_LEN + 3];
	int fd;

	if (rq_snprintf(rec, sizeof(rec), "R%s\n", id) == -1)
		return;
	if ((fd = relayq_cmd_wake_open(sp)) == -1)
		return; /* no relayqd: its start-up scan takes queue/ */
	if (write(fd, rec, strlen(rec)) == -1) {
		/* EAGAIN: the FIFO is full; requeue or a restart takes it. */
	}
	(void)close(fd);
}

/* Tells whether failed/<id> exists (relayqd never takes it out again). */
static int
relayq_cmd_in_failed(struct queue_spool *sp, const char *id)
{
	struct stat st;

	return sp->dirfd[QUEUE_DIR_FAILED] != -1 &&
	    fstatat(sp->dirfd[QUEUE_DIR_FAILED], id, &st,
		AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * queue_spool_open_msg(), waiting while a delivery attempt holds the
 * message (bounded by RELAYQ_CMD_LOCK_WAIT_MS): a retry of a down
 * smarthost may come every second, and an operator should not have to
 * race it.  errno is EWOULDBLOCK when the wait ran out.
 */
static int
relayq_cmd_open_wait(struct queue_spool *sp, const char *id,
    struct queue_env *e, struct rq_err *err)
{
	struct timespec ts = { 0, RELAYQ_CMD_LOCK_POLL_MS * 1000000L };
	int fd;

	for (int waited = 0;; waited += RELAYQ_CMD_LOCK_POLL_MS) {
		if ((fd = queue_spool_open_msg(sp, id, e, err)) != -1 ||
		    errno != EWOULDBLOCK || waited >= RELAYQ_CMD_LOCK_WAIT_MS)
			return fd;
		(void)nanosleep(&ts, NULL);
	}
}

/*
 * Opens queue/<id> under its flock into e; returns the fd, or -1 after
 * printing why, with *ex set to the exit code.  A message still in
 * incoming/ (relayqd stopped, or not there yet) is first accepted into
 * queue/ exactly as relayqd accepts it (queue_spool_accept: the same
 * checks, a RENAME_NOREPLACE that only one of relayq and relayqd can
 * win, both directories fsync'd), so every change is then made under
 * the per-message flock.  A message that a delivery attempt holds is
 * waited for, up to RELAYQ_CMD_LOCK_WAIT_MS.  *adopted is set when this call moved it: a
 * running relayqd did not see it arrive, so the caller must name it to
 * relayqd unless it is gone or held.  A message in failed/ is
 * refused as having nothing to verb.
 */
static int
relayq_cmd_lock(struct queue_spool *sp, const char *id, const char *verb,
    struct queue_env *e, int *ex, int *adopted)
{
	struct rq_err err;
	int fd;

	*adopted = 0;
	if (relayq_cmd_check_id(id) == -1) {
		*ex = EX_USAGE;
		return -1;
	}
	for (int pass = 0; pass < 2; pass++) {
		if ((fd = relayq_cmd_open_wait(sp, id, e, &err)) != -1)
			return fd;
		if (errno != ENOENT || pass > 0)
			break;
		if (queue_spool_accept(sp, id, &err) == 0)
			*adopted = 1;
		else if (errno == EBADMSG) {
			fprintf(stderr, "relayq: %s: %s\n", id, err.msg);
			*ex = EX_DATAERR;
			return -1;
		} else if (errno != ENOENT) {
			fprintf(stderr, "relayq: %s: %s\n", id, err.msg);
			*ex = EX_IOERR;
			return -1;
		}
		/* ENOENT: not there, or relayqd accepted it meanwhile. */
	}
	if (errno == EWOULDBLOCK) {
		fprintf(stderr, "relayq: %s: being delivered, try again\n", id);
		*ex = EX_TEMPFAIL;
	} else if (errno == ENOENT && relayq_cmd_in_failed(sp, id)) {
		fprintf(stderr, "relayq: %s is in failed/: nothing to %s\n", id,
		    verb);
		*ex = EX_DATAERR;
	} else if (errno == ENOENT) {
		fprintf(stderr, "relayq: %s: no such message\n", id);
		*ex = EX_NOINPUT;
	} else {
		fprintf(stderr, "relayq: %s: %s\n", id, err.msg);
		*ex = errno == EBADMSG ? EX_DATAERR : EX_IOERR;
	}
	if (*adopted)
		relayq_cmd_wake_id_quiet(sp, id);
	return -1;
}

/* Formats a time for show, or "-" for none. */
static void
relayq_cmd_time(char *buf, size_t bufsz, long long secs)
{
	struct tm tm;
	time_t t = (time_t)secs;

	if (secs <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)strlcpy(buf, "-", bufsz);
}

/*
 * Milliseconds until one token is in bucket n/per whose level was
 * level at stamp (ms), at now (ms); 0 when it has one.
 */
static long long
relayq_cmd_bucket_wait(const struct conf_rate *b, double level, long long stamp,
    long long now)
{
	double speed = (double)b->n / ((double)b->per * 1000.0);

	if (now > stamp)
		level += (double)(now - stamp) * speed;
	return level >= 1 ? 0 : (long long)((1 - level) / speed) + 1;
}

/* Reads relayqd's rate file of smarthost idx (relayqd_rate.h). */
long long
relayq_cmd_rate_wait(struct queue_spool *sp, const struct conf *c, size_t idx,
    long long now)
{
	const struct conf_smarthost *sh = &c->smarthosts[idx];
	char file[80], buf[1025], *line, *next;
	double msgs = 2, rcpts = 2;
	long long stamp = -1, w = 0, rw;
	ssize_t n;
	int fd;

	if (sh->rate_limit.n == 0 && sh->recipient_limit.n == 0)
		return 0;
	(void)!rq_snprintf(file, sizeof(file), idx == 0 ? "rate" : "rate.%s",
	    sh->name);
	if ((fd = openat(sp->rootfd, file,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return 0; /* none yet (full buckets), or not ours to read */
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, "stamp=", 6) == 0)
			stamp = strtoll(line + 6, NULL, 10);
		else if (strncmp(line, "messages=", 9) == 0)
			msgs = strtod(line + 9, NULL);
		else if (strncmp(line, "recipients=", 11) == 0)
			rcpts = strtod(line + 11, NULL);
	}
	if (stamp < 0)
		return 0;
	if (sh->rate_limit.n > 0)
		w = relayq_cmd_bucket_wait(&sh->rate_limit, msgs, stamp, now);
	if (sh->recipient_limit.n > 0 &&
	    (rw = relayq_cmd_bucket_wait(&sh->recipient_limit, rcpts, stamp,
		 now)) > w)
		w = rw;
	return w;
}

/* Prints the message's header section (bounded) from fd at e->body_off. */
static void
relayq_cmd_show_headers(int fd, const struct queue_env *e)
{
	char *buf, *end;
	size_t want, got = 0;
	ssize_t n;

	want = e->body_len < RELAYQ_CMD_HEAD_MAX ? (size_t)e->body_len
						 : RELAYQ_CMD_HEAD_MAX;
	buf = xmalloc(want + 1);
	while (got < want) {
		n = pread(fd, buf + got, want - got,
		    (off_t)(e->body_off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if ((end = strstr(buf, "\r\n\r\n")) != NULL)
		end[2] = '\0';
	for (char *p = buf; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' || *p == '\t' || (*p >= 0x20 && *p < 0x7f) ||
		    (unsigned char)*p >= 0x80)
			putchar(*p);
		else
			printf("\\x%02x", (unsigned char)*p);
	}
	if (end == NULL && got > 0)
		printf("(headers truncated)\n");
	free(buf);
}

/* relayq show ID. */
int
relayq_cmd_show(struct queue_spool *sp, const struct conf *c, const char *id)
{
	const struct conf_smarthost *sh;
	char addr[300];
	struct queue_env e;
	struct queue_state s;
	enum queue_dir d = QUEUE_DIR_INCOMING;
	const char *errstr;
	char when[192], token[64];
	struct timespec ts;
	long long wait = 0;
	int fd;

	if (relayq_cmd_check_id(id) == -1)
		return EX_USAGE;
	/*
	 * incoming/ first: a message relayqd moves meanwhile is followed,
	 * into queue/ and from there into failed/.
	 */
	if ((fd = queue_list_open(sp, &d, id)) == -1 && errno == ENOENT &&
	    sp->dirfd[QUEUE_DIR_FAILED] != -1) {
		d = QUEUE_DIR_FAILED;
		fd = openat(sp->dirfd[d], id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1) {
		fprintf(stderr, "relayq: %s: %s\n", id,
		    errno == ENOENT ? "no such message" : strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if (queue_list_read(sp, d, id, fd, &e, &s, &errstr, &errstr) == -1) {
		fprintf(stderr, "relayq: %s: unreadable: %s\n", id,
		    errno == EBADMSG ? errstr : strerror(errno));
		(void)close(fd);
		return EX_DATAERR;
	}
	printf("id: %s\n", id);
	printf("directory: %s\n", queue_spool_dirname(d));
	relayq_cmd_time(when, sizeof(when), e.arrival);
	printf("arrival: %s\n", when);
	printf("uid: %lld\n", e.uid);
	printf("size: %" PRIu64 "\n", e.body_len);
	printf("sender: <%s>\n", e.sender);
	/* Where it will go; a message in failed/ goes nowhere. */
	if (d != QUEUE_DIR_FAILED) {
		sh = &c->smarthosts[conf_route(c, e.sender)];
		(void)conf_smarthost_addr(sh, addr, sizeof(addr));
		printf("Smarthost: %s (%s)\n", sh->name, addr);
	}
	printf("held: %s\n", s.held ? "yes" : "no");
	printf("attempts: %u\n", s.tries);
	relayq_cmd_time(when, sizeof(when), s.first_try);
	printf("first attempt: %s\n", when);
	relayq_cmd_time(when, sizeof(when), s.last_try);
	printf("last attempt: %s\n", when);
	/* Due, but its smarthost's rate bucket may hold it (issue 15). */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (d != QUEUE_DIR_FAILED && !s.held && s.next_try <= ts.tv_sec)
		wait = relayq_cmd_rate_wait(sp, c, conf_route(c, e.sender),
		    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (d == QUEUE_DIR_FAILED)
		(void)strlcpy(when, "none (in failed/)", sizeof(when));
	else if (wait > 0) {
		relayq_cmd_time(token, sizeof(token),
		    (long long)ts.tv_sec + (wait + 999) / 1000);
		(void)!rq_snprintf(when, sizeof(when),
		    "%s (waiting for the rate limit of smarthost %s)", token,
		    c->smarthosts[conf_route(c, e.sender)].name);
	} else if (s.next_try == 0)
		(void)strlcpy(when, "now", sizeof(when));
	else
		relayq_cmd_time(when, sizeof(when), s.next_try);
	printf("next attempt: %s\n", when);
	if (errstr != NULL)
		printf("state unreadable: %s\n", errstr);
	if (*s.last_error != '\0')
		printf("last error: %s\n", s.last_error);
	printf("recipients:\n");
	for (size_t i = 0; i < e.nrcpt; i++) {
		printf("  <%s> %s", e.rcpts[i], queue_list_rcpt_state(&s, i));
		if (s.rcpt_reply[i] != NULL && *s.rcpt_reply[i] != '\0')
			printf(" (%s)", s.rcpt_reply[i]);
		putchar('\n');
	}
	printf("headers:\n");
	relayq_cmd_show_headers(fd, &e);
	(void)close(fd);
	queue_state_free(&s);
	queue_env_free(&e);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}

/* relayq flush [ID]. */
int
relayq_cmd_flush(struct queue_spool *sp, const char *id)
{
	char rec[QUEUE_ID_LEN + 3];
	int ex, why;

	if (id != NULL && relayq_cmd_check_id(id) == -1)
		return EX_USAGE;
	if ((ex = relayq_cmd_flush_socket(sp, id)) != -1)
		return ex;
	why = errno;
	if (id == NULL)
		ex = relayq_cmd_wake(sp, "F", 1);
	else if (rq_snprintf(rec, sizeof(rec), "R%s\n", id) == -1)
		return EX_SOFTWARE;
	else
		ex = relayq_cmd_wake(sp, rec, strlen(rec));
	/* relayqd runs, but root's flush could not be said as root's. */
	if (ex == EX_OK && geteuid() == 0)
		fprintf(stderr,
		    "relayq: cannot reach relayqd's socket %s/verbose (%s); "
		    "asked through %s/wake instead, which relayqd takes as a "
		    "user's flush (at most one every probe_max, no forced "
		    "probe); SIGHUP relayqd to make the socket again\n",
		    sp->path, strerror(why), sp->path);
	return ex;
}

/* relayq requeue. */
int
relayq_cmd_requeue(struct queue_spool *sp)
{
	struct queue_idlist l;
	char rec[QUEUE_ID_LEN + 3];
	int ex = EX_OK;

	if (queue_scan_dir(sp, QUEUE_DIR_QUEUE, &l, NULL) == -1) {
		fprintf(stderr, "relayq: cannot scan %s/queue: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	for (size_t i = 0; i < l.n && ex == EX_OK; i++) {
		struct queue_env e;
		struct queue_state s;
		enum queue_dir d = QUEUE_DIR_QUEUE;
		const char *errstr;
		int fd, held = 0;

		if ((fd = queue_list_open(sp, &d, l.ids[i])) == -1)
			continue;
		if (queue_list_read(sp, d, l.ids[i], fd, &e, &s, &errstr,
			NULL) == 0) {
			held = s.held;
			queue_state_free(&s);
			queue_env_free(&e);
		}
		(void)close(fd);
		if (held)
			continue;
		if (rq_snprintf(rec, sizeof(rec), "R%s\n", l.ids[i]) == -1)
			ex = EX_SOFTWARE;
		else
			ex = relayq_cmd_wake(sp, rec, strlen(rec));
	}
	queue_idlist_free(&l);
	if (ex != EX_OK)
		return ex;
	return relayq_cmd_flush(sp, NULL);
}

/* relayq hold ID / release ID. */
int
relayq_cmd_hold(struct queue_spool *sp, const char *id, int hold)
{
	struct queue_env e;
	struct queue_state s;
	struct rq_err err;
	char rec[QUEUE_ID_LEN + 3];
	int fd, ex = EX_OK, adopted, was_held = 1;

	if ((fd = relayq_cmd_lock(sp, id, hold ? "hold" : "release", &e, &ex,
		 &adopted)) == -1)
		return ex;
	if (queue_spool_load_state(sp, id, e.nrcpt, &s, &err) == -1) {
		fprintf(stderr, "relayq: %s: %s\n", id, err.msg);
		ex = EX_IOERR;
		goto out;
	}
	if (!hold && !s.held)
		was_held = 0; /* nothing to change, nothing to say to relayqd */
	else {
		s.held = hold;
		if (queue_spool_save_state(sp, &s) == -1) {
			fprintf(stderr, "relayq: %s: cannot save state: %s\n",
			    id, strerror(errno));
			ex = EX_IOERR;
		}
	}
	queue_state_free(&s);
out:
	(void)close(fd); /* drops the flock */
	queue_env_free(&e);
	if (ex != EX_OK || !was_held) {
		if (adopted)
			relayq_cmd_wake_id_quiet(sp, id);
		if (!was_held)
			printf("%s was not on hold\n", id);
		return ex;
	}
	printf("%s: %s\n", id, hold ? "held" : "released");
	if (!hold && rq_snprintf(rec, sizeof(rec), "R%s\n", id) != -1 &&
	    relayq_cmd_wake(sp, rec, strlen(rec)) != EX_OK)
		fprintf(stderr,
		    "relayq: %s: released; relayqd will take it up when it "
		    "runs\n",
		    id);
	return EX_OK;
}

/*
 * Removes failed/<id> and then its state, as relayq failed --purge does
 * (nothing delivers from failed/, so no flock); returns a sysexits code,
 * or -1 when failed/<id> is not there.
 */
static int
relayq_cmd_delete_failed(struct queue_spool *sp, const char *id)
{
	char state[QUEUE_ID_LEN + sizeof(".state")];

	if (sp->dirfd[QUEUE_DIR_FAILED] == -1 ||
	    rq_snprintf(state, sizeof(state), "%s.state", id) == -1)
		return -1;
	if (unlinkat(sp->dirfd[QUEUE_DIR_FAILED], id, 0) == -1) {
		if (errno == ENOENT)
			return -1;
		fprintf(stderr, "relayq: %s: cannot delete from failed/: %s\n",
		    id, strerror(errno));
		return EX_IOERR;
	}
	if ((unlinkat(sp->dirfd[QUEUE_DIR_FAILED], state, 0) == -1 &&
		errno != ENOENT) ||
	    queue_spool_sync_dir(sp, QUEUE_DIR_FAILED) == -1) {
		fprintf(stderr, "relayq: %s: cannot delete from failed/: %s\n",
		    id, strerror(errno));
		return EX_IOERR;
	}
	printf("%s: deleted from failed/\n", id);
	return EX_OK;
}

/* Deletes one message under its flock; returns a sysexits code. */
static int
relayq_cmd_delete_one(struct queue_spool *sp, const char *id)
{
	struct queue_env e;
	int fd, ex = EX_OK, adopted;

	if (relayq_cmd_check_id(id) == -1)
		return EX_USAGE;
	/* failed/ first: nothing leaves it for queue/. */
	if ((ex = relayq_cmd_delete_failed(sp, id)) != -1)
		return ex;
	ex = EX_OK;
	if ((fd = relayq_cmd_lock(sp, id, "delete", &e, &ex, &adopted)) == -1)
		return ex;
	if (queue_spool_remove(sp, id) == -1) {
		fprintf(stderr, "relayq: %s: cannot delete: %s\n", id,
		    strerror(errno));
		ex = EX_IOERR;
	} else
		printf("%s: deleted\n", id);
	(void)close(fd);
	queue_env_free(&e);
	if (ex != EX_OK && adopted)
		relayq_cmd_wake_id_quiet(sp, id);
	return ex;
}

/* relayq delete ID... / delete --all --yes. */
int
relayq_cmd_delete(struct queue_spool *sp, char *const *ids, int n, int all)
{
	struct queue_idlist l;
	int ex = EX_OK, r;

	if (!all) {
		for (int i = 0; i < n; i++) {
			r = relayq_cmd_delete_one(sp, ids[i]);
			if (r != EX_OK)
				ex = r;
		}
		return ex;
	}
	if (queue_scan_dir(sp, QUEUE_DIR_QUEUE, &l, NULL) == -1) {
		fprintf(stderr, "relayq: cannot scan %s/queue: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	for (size_t i = 0; i < l.n; i++) {
		r = relayq_cmd_delete_one(sp, l.ids[i]);
		if (r != EX_OK && r != EX_NOINPUT)
			ex = r; /* one that left meanwhile is fine */
	}
	queue_idlist_free(&l);
	return ex;
}

/* relayq failed --purge [--older-than DUR]. */
int
relayq_cmd_purge_failed(struct queue_spool *sp, long long older)
{
	struct queue_scan_failed res;

	if (sp->dirfd[QUEUE_DIR_FAILED] == -1) {
		printf("purged 0 failed messages, 0 left\n");
		return EX_OK; /* no failed/: relayqd never ran here */
	}
	if (queue_scan_purge_failed(sp,
		older > 0 ? (long long)time(NULL) - older : LLONG_MAX,
		&res) == -1) {
		fprintf(stderr, "relayq: cannot purge %s/failed: %s\n",
		    sp->path, strerror(errno));
		return EX_IOERR;
	}
	printf("purged %zu failed message%s, %zu left\n", res.purged,
	    res.purged == 1 ? "" : "s", res.left);
	return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
}
