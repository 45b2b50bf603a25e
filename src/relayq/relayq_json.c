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
#include "queue/queue_list.h"
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

/* Where relayq_json_one() prints, and what it counted. */
struct relayq_json_ctx {
	FILE *out;
	const struct conf *c; /* borrowed: routes each sender */
	size_t n;	      /* messages printed */
	uint64_t bytes;	      /* their sizes */
	int opened;	      /* the document's head was printed */
};

/* Prints the head of the document once (not at all if queue/ fails). */
static void
relayq_json_open(struct relayq_json_ctx *ctx)
{
	if (!ctx->opened)
		fputs("{\"messages\": [", ctx->out);
	ctx->opened = 1;
}

/* Prints one message object; adds its size to *bytes. */
static void
relayq_json_msg(struct queue_spool *sp, const struct conf *c, enum queue_dir d,
    const char *id, int fd, FILE *out, uint64_t *bytes)
{
	struct queue_env e;
	struct queue_state s;
	const char *errstr;

	if (queue_list_read(sp, d, id, fd, &e, &s, &errstr, NULL) == -1) {
		fprintf(out, "{\"id\": \"%s\", \"error\": ", id);
		relayq_json_str(out,
		    errno == EBADMSG ? errstr : strerror(errno));
		fputc('}', out);
		return;
	}
	fprintf(out,
	    "{\"id\": \"%s\", \"directory\": \"%s\", \"size\": %" PRIu64
	    ", \"arrival\": %lld, \"sender\": ",
	    id, queue_spool_dirname(d), e.body_len, e.arrival);
	relayq_json_str(out, e.sender);
	fputs(", \"smarthost\": ", out);
	relayq_json_str(out, c->smarthosts[conf_route(c, e.sender)].name);
	fprintf(out, ", \"held\": %s, \"attempts\": %u",
	    s.held ? "true" : "false", s.tries);
	relayq_json_time(out, "first_attempt", s.first_try);
	relayq_json_time(out, "last_attempt", s.last_try);
	relayq_json_time(out, "next_attempt", s.next_try);
	fputs(", \"last_error\": ", out);
	relayq_json_str(out, *s.last_error != '\0' ? s.last_error : NULL);
	fputs(", \"recipients\": [", out);
	for (size_t i = 0; i < e.nrcpt; i++) {
		fputs(i > 0 ? ", {\"address\": " : "{\"address\": ", out);
		relayq_json_str(out, e.rcpts[i]);
		fprintf(out, ", \"state\": \"%s\", \"reply\": ",
		    queue_list_rcpt_state(&s, i));
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
 * Prints the message found in d (following one that moved to queue/),
 * unless it has left: a queue_list_walk_fn, arg the relayq_json_ctx.
 */
static void
relayq_json_one(struct queue_spool *sp, enum queue_dir d, const char *id,
    void *arg)
{
	struct relayq_json_ctx *ctx = arg;
	FILE *out = ctx->out;
	int fd;

	fd = queue_list_open(sp, &d, id);
	if (fd == -1 && errno == ENOENT)
		return;
	relayq_json_open(ctx);
	fputs(ctx->n > 0 ? ",\n  " : "\n  ", out);
	ctx->n++;
	if (fd == -1) {
		fprintf(out, "{\"id\": \"%s\", \"error\": ", id);
		relayq_json_str(out, strerror(errno));
		fputc('}', out);
		return;
	}
	relayq_json_msg(sp, ctx->c, d, id, fd, out, &ctx->bytes);
	(void)close(fd);
}

/* Prints the JSON listing. */
int
relayq_json_queue(struct queue_spool *sp, const struct conf *c, FILE *out)
{
	struct relayq_json_ctx ctx = { out, c, 0, 0, 0 };
	int in_err;

	/* An unreadable incoming/ only hides messages not yet picked up. */
	if (queue_list_walk(sp, relayq_json_one, &ctx, &in_err) == -1) {
		fprintf(stderr, "relayq: cannot scan %s/queue: %s\n", sp->path,
		    strerror(errno));
		return EX_IOERR;
	}
	relayq_json_open(&ctx);
	fprintf(out, "%s],\n \"count\": %zu, \"bytes\": %" PRIu64 "}\n",
	    ctx.n > 0 ? "\n" : "", ctx.n, ctx.bytes);
	if (fflush(out) == EOF || ferror(out)) {
		fprintf(stderr, "relayq: write error\n");
		return EX_IOERR;
	}
	return EX_OK;
}
