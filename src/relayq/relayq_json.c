/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq queue --json (format in relayq_json.h).  Read-only: nothing is
 * locked, moved or quarantined, so a message may be half-way between
 * incoming/ and queue/ while we look; it is then listed once.
 */
#include "config.h"

#include "relayq/relayq_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "queue/queue_env.h"
#include "queue/queue_scan.h"
#include "queue/queue_state.h"

/* Prints a JSON string or null. */
void
relayq_json_str(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* Prints a time or null for none. */
static void
relayq_json_time(FILE *out, const char *key, long long t)
{
	if (t > 0)
		fprintf(out, ", \"%s\": %lld", key, t);
	else
		fprintf(out, ", \"%s\": null", key);
}

/* Prints one message object; adds its size to *bytes. */
static void
relayq_json_msg(struct queue_spool *sp, enum queue_dir d, const char *id,
    int fd, FILE *out, uint64_t *bytes)
{
	struct queue_env e;
	struct queue_state s;
	const char *errstr;

	if (queue_env_read_fd(&e, fd, 0, &errstr) == -1) {
		fprintf(out, "{\"id\": \"%s\", \"error\": ", id);
		relayq_json_str(out,
		    errno == EBADMSG ? errstr : strerror(errno));
		fputc('}', out);
		return;
	}
	if (d != QUEUE_DIR_QUEUE ||
	    queue_spool_peek_state(sp, id, e.nrcpt, &s, &errstr) == -1)
		queue_state_init(&s, id, e.nrcpt);
	fprintf(out,
	    "{\"id\": \"%s\", \"directory\": \"%s\", \"size\": %" PRIu64
	    ", \"arrival\": %lld, \"sender\": ",
	    id, queue_spool_dirname(d), e.body_len, e.arrival);
	relayq_json_str(out, e.sender);
	fprintf(out, ", \"held\": %s, \"attempts\": %u",
	    s.held ? "true" : "false", s.tries);
	relayq_json_time(out, "first_attempt", s.first_try);
	relayq_json_time(out, "last_attempt", s.last_try);
	relayq_json_time(out, "next_attempt", s.next_try);
	fputs(", \"last_error\": ", out);
	relayq_json_str(out, *s.last_error != '\0' ? s.last_error : NULL);
	fputs(", \"recipients\": [", out);
	for (size_t i = 0; i < e.nrcpt; i++) {
		const char *st;

		switch (s.rcpt_st[i]) {
		case QUEUE_RCPT_DONE:
			st = "delivered";
			break;
		case QUEUE_RCPT_FAILED:
			st = "failed";
			break;
		default:
			st = s.tries > 0 ? "deferred" : "pending";
		}
		fputs(i > 0 ? ", {\"address\": " : "{\"address\": ", out);
		relayq_json_str(out, e.rcpts[i]);
		fprintf(out, ", \"state\": \"%s\", \"reply\": ", st);
		relayq_json_str(out,
		    s.rcpt_reply[i] != NULL && *s.rcpt_reply[i] != '\0'
			? s.rcpt_reply[i]
			: NULL);
		fputc('}', out);
	}
	fputs("]}", out);
	*bytes += e.body_len;
	queue_state_free(&s);
	queue_env_free(&e);
}

/*
 * Prints the message found in d (following one that moved to queue/);
 * returns 1 when something was printed, 0 when it had left.
 */
static int
relayq_json_one(struct queue_spool *sp, enum queue_dir d, const char *id,
    FILE *out, size_t n, uint64_t *bytes)
{
	int fd;

	fd = openat(sp->dirfd[d], id,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && d == QUEUE_DIR_INCOMING &&
	    sp->dirfd[QUEUE_DIR_QUEUE] != -1) {
		d = QUEUE_DIR_QUEUE;
		fd = openat(sp->dirfd[d], id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1 && errno == ENOENT)
		return 0;
	fputs(n > 0 ? ",\n  " : "\n  ", out);
	if (fd == -1) {
		fprintf(out, "{\"id\": \"%s\", \"error\": ", id);
		relayq_json_str(out, strerror(errno));
		fputc('}', out);
		return 1;
	}
	relayq_json_msg(sp, d, id, fd, out, bytes);
	(void)close(fd);
	return 1;
}

/* Prints the JSON listing. */
int
relayq_json_queue(struct queue_spool *sp, FILE *out)
{
	struct queue_idlist in = { NULL, 0 }, q = { NULL, 0 };
	uint64_t bytes = 0;
	size_t i = 0, j = 0, n = 0;

	/* An unreadable incoming/ only hides messages not yet picked up. */
	if (sp->dirfd[QUEUE_DIR_INCOMING] != -1 &&
	    queue_scan_dir(sp, QUEUE_DIR_INCOMING, &in, NULL) == -1)
		in.n = 0;
	if (sp->dirfd[QUEUE_DIR_QUEUE] != -1 &&
	    queue_scan_dir(sp, QUEUE_DIR_QUEUE, &q, NULL) == -1) {
		fprintf(stderr, "relayq: cannot scan %s/queue: %s\n", sp->path,
		    strerror(errno));
		queue_idlist_free(&in);
		return EX_IOERR;
	}
	fputs("{\"messages\": [", out);
	while (i < in.n || j < q.n) {
		int c = i == in.n ? 1
		    : j == q.n	  ? -1
				  : strcmp(in.ids[i], q.ids[j]);

		if (c < 0)
			n += (size_t)relayq_json_one(sp, QUEUE_DIR_INCOMING,
			    in.ids[i++], out, n, &bytes);
		else {
			if (c == 0)
				i++;
			n += (size_t)relayq_json_one(sp, QUEUE_DIR_QUEUE,
			    q.ids[j++], out, n, &bytes);
		}
	}
	fprintf(out, "%s],\n \"count\": %zu, \"bytes\": %" PRIu64 "}\n",
	    n > 0 ? "\n" : "", n, bytes);
	queue_idlist_free(&in);
	queue_idlist_free(&q);
	if (fflush(out) == EOF || ferror(out)) {
		fprintf(stderr, "relayq: write error\n");
		return EX_IOERR;
	}
	return EX_OK;
}
