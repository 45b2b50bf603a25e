/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq's JSON output (format in relayq_json.h), built and encoded with
 * jansson.  queue --json is read-only: nothing is locked, moved or
 * quarantined, so a message may be half-way between incoming/ and queue/
 * while we look; it is then listed once.  Invariant: every string handed
 * to jansson went through relayq_json_str(), so it is valid UTF-8 and
 * jansson never refuses it.
 */
#include "config.h"

#include "relayq/relayq_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/strutil.h"
#include "queue/queue_env.h"
#include "queue/queue_list.h"
#include "queue/queue_state.h"

/* Encoding flags: one line, ", " and ": " separators, keys in order. */
#define RELAYQ_JSON_FLAGS (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Makes s a JSON string: bytes that are not UTF-8 become U+FFFD. */
json_t *
relayq_json_str(const char *s)
{
	static const char repl[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	size_t len, k;
	struct buf b;
	json_t *v;

	if (s == NULL)
		return json_null();
	len = strlen(s);
	buf_init(&b, 3 * len + 1);
	for (size_t i = 0; i < len; i += k)
		if ((k = str_utf8_len(p + i, len - i)) == 0) {
			k = 1;
			if (buf_add(&b, repl, 3) == -1)
				fatalx("relayq_json_str: buffer");
		} else if (buf_add(&b, s + i, k) == -1)
			fatalx("relayq_json_str: buffer");
	v = json_stringn(b.len > 0 ? b.data : "", b.len);
	buf_free(&b);
	if (v == NULL)
		fatalx("out of memory");
	return v;
}

/* An epoch time, or null for none. */
json_t *
relayq_json_time(long long t)
{
	return t > 0 ? json_integer(t) : json_null();
}

/* Sets obj[key]; consumes v_take. */
void
relayq_json_set(json_t *obj, const char *key, json_t *v_take)
{
	if (json_object_set_new(obj, key, v_take) == -1)
		fatalx("out of memory");
}

/* Writes v_take without a newline; consumes it. */
static int
relayq_json_dump(json_t *v_take, FILE *out)
{
	int rv;

	if (v_take == NULL)
		fatalx("out of memory");
	rv = json_dumpf(v_take, out, RELAYQ_JSON_FLAGS);
	json_decref(v_take);
	return rv;
}

/* Writes v_take and a newline; consumes it. */
int
relayq_json_print(json_t *v_take, FILE *out)
{
	if (relayq_json_dump(v_take, out) == -1 || fputc('\n', out) == EOF)
		return -1;
	return 0;
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

/* The object of a message that cannot be read: its id and why. */
static json_t *
relayq_json_error(const char *id, const char *why)
{
	json_t *o = json_object();

	if (o == NULL)
		fatalx("out of memory");
	relayq_json_set(o, "id", relayq_json_str(id));
	relayq_json_set(o, "error", relayq_json_str(why));
	return o;
}

/* The recipients of a message. */
static json_t *
relayq_json_rcpts(const struct queue_env *e, const struct queue_state *s)
{
	json_t *a = json_array();

	if (a == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < e->nrcpt; i++) {
		const char *reply = s->rcpt_reply[i];
		json_t *r = json_object();

		if (r == NULL)
			fatalx("out of memory");
		relayq_json_set(r, "address", relayq_json_str(e->rcpts[i]));
		relayq_json_set(r, "state",
		    relayq_json_str(queue_list_rcpt_state(s, i)));
		relayq_json_set(r, "reply",
		    relayq_json_str(
			reply != NULL && *reply != '\0' ? reply : NULL));
		if (json_array_append_new(a, r) == -1)
			fatalx("out of memory");
	}
	return a;
}

/* The object of one message; adds its size to *bytes. */
static json_t *
relayq_json_msg(struct queue_spool *sp, const struct conf *c, enum queue_dir d,
    const char *id, int fd, uint64_t *bytes)
{
	struct queue_env e;
	struct queue_state s;
	const char *errstr;
	json_t *o;

	if (queue_list_read(sp, d, id, fd, &e, &s, &errstr, NULL) == -1)
		return relayq_json_error(id,
		    errno == EBADMSG ? errstr : strerror(errno));
	if ((o = json_object()) == NULL)
		fatalx("out of memory");
	relayq_json_set(o, "id", relayq_json_str(id));
	relayq_json_set(o, "directory",
	    relayq_json_str(queue_spool_dirname(d)));
	relayq_json_set(o, "size", json_integer((json_int_t)e.body_len));
	relayq_json_set(o, "arrival", json_integer(e.arrival));
	relayq_json_set(o, "sender", relayq_json_str(e.sender));
	relayq_json_set(o, "smarthost",
	    relayq_json_str(c->smarthosts[conf_route(c, e.sender)].name));
	relayq_json_set(o, "held", json_boolean(s.held));
	relayq_json_set(o, "attempts", json_integer(s.tries));
	relayq_json_set(o, "first_attempt", relayq_json_time(s.first_try));
	relayq_json_set(o, "last_attempt", relayq_json_time(s.last_try));
	relayq_json_set(o, "next_attempt", relayq_json_time(s.next_try));
	relayq_json_set(o, "last_error",
	    relayq_json_str(*s.last_error != '\0' ? s.last_error : NULL));
	relayq_json_set(o, "recipients", relayq_json_rcpts(&e, &s));
	*bytes += e.body_len;
	queue_state_free(&s);
	queue_env_free(&e);
	return o;
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
	json_t *o;
	int fd;

	fd = queue_list_open(sp, &d, id);
	if (fd == -1 && errno == ENOENT)
		return;
	if (fd == -1)
		o = relayq_json_error(id, strerror(errno));
	else {
		o = relayq_json_msg(sp, ctx->c, d, id, fd, &ctx->bytes);
		(void)close(fd);
	}
	relayq_json_open(ctx);
	fputs(ctx->n > 0 ? ",\n  " : "\n  ", ctx->out);
	ctx->n++;
	(void)relayq_json_dump(o,
	    ctx->out); /* ferror() is checked at the end */
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
