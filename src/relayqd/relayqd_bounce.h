/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Delivery status notifications (RFC 3464 inside an RFC 6522
 * multipart/report): the bounce for recipients that failed or expired,
 * and the delay notice.  relayqd_bounce_build() is pure: it turns a
 * description of the report into the message text, already in the
 * spool's wire form (CRLF lines, dot-stuffed, ending in CRLF), in a
 * struct buf.  relayqd_bounce_read_original() reads the part of the
 * original message to return, and relayqd_bounce_queue() builds a
 * report and commits it into queue/ with the null sender through the
 * queue writer.
 * What to report, to whom and when is decided by relayqd_outcome.c.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_BOUNCE_H
#define RELAYQ_RELAYQD_RELAYQD_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/aliases.h"
#include "common/compat.h"
#include "common/status.h"
#include "queue/queue_id.h"

struct buf;
struct queue_spool;

/* Largest report built, original included (bytes). */
#define RELAYQD_BOUNCE_MAX (16 * 1024 * 1024)
/* Largest original returned whole; bigger ones return their header. */
#define RELAYQD_BOUNCE_FULL_MAX (10 * 1024 * 1024)
/* Largest original header returned; longer ones are cut at a line. */
#define RELAYQD_BOUNCE_HDR_MAX (256 * 1024)

enum relayqd_bounce_kind {
	RELAYQD_BOUNCE_FAILED,	/* Action: failed (bounce) */
	RELAYQD_BOUNCE_DELAYED, /* Action: delayed (warning) */
};

struct relayqd_bounce_rcpt {
	const char *addr;   /* borrowed: the recipient as queued */
	const char *orcpt;  /* borrowed: ORCPT "type;address", or NULL */
	const char *reply;  /* borrowed: last reply as stored, or "" */
	long long last_try; /* Last-Attempt-Date, 0 when never tried */
	int expired;	    /* failed because the queue lifetime ran out */
};

struct relayqd_bounce {
	enum relayqd_bounce_kind kind;
	const char *hostname;	/* borrowed: Reporting-MTA, From domain */
	const char *remote_mta; /* borrowed: the smarthost, or NULL */
	const char *sender;	/* borrowed: original sender, the To */
	const char *queue_id;	/* borrowed: the original's queue id */
	const char *envid;	/* borrowed: ENVID, or NULL */
	const char *msgid;	/* borrowed: Message-ID local part (set by
				   relayqd_bounce_queue: the queue id) */
	long long now;		/* Date */
	long long arrival;	/* Arrival-Date */
	long long retry_until;	/* Will-Retry-Until (delayed only) */
	long long lifetime;	/* queue lifetime, for the text (seconds) */
	const struct relayqd_bounce_rcpt *rcpts; /* borrowed */
	size_t nrcpt;
	const char *orig; /* borrowed: original in wire form, or NULL */
	size_t orig_len;
	int orig_full;	    /* orig is the whole message, not its header */
	int orig_truncated; /* the whole message was too big to return */
};

/*
 * Parses a reply as relayqd stores it ("550 5.1.1 text", or a local
 * error without a code): *code gets the 3-digit code (0 when there is
 * none), esc the enhanced code ("" when none; at most 15 bytes), *text
 * the rest (borrowed from reply).  Never fails.
 */
void relayqd_bounce_parse_reply(const char *reply, int *code, char esc[16],
    const char **text);

/*
 * Writes into status (16 bytes) the RFC 3463 code to report for a
 * recipient of a report of kind: "5.4.7" when expired; otherwise the
 * reply's enhanced code when its class matches the report (5 for
 * failed, 4 for delayed), else X.0.0 derived from the reply code, or,
 * with no reply code, 5.0.0 for failed and 4.4.1 for delayed.
 */
void relayqd_bounce_status(enum relayqd_bounce_kind kind,
    const struct relayqd_bounce_rcpt *r, char status[16]);

/*
 * Formats t as an RFC 5322 date ("Tue, 03 Mar 2026 10:00:00 +0100", local
 * time) into buf.  Returns 0, or -1 when buf is too small.
 */
int relayqd_bounce_date(long long t, char *buf, size_t bufsz);

/*
 * Builds the report described by b into out (which the caller has
 * initialised; the text is appended).  Returns 0, or -1 with errno
 * EMSGSIZE when out's maximum is reached or EINVAL when b has no
 * recipient.  Nothing in b is trusted to be clean: replies and
 * addresses are reduced to printable ASCII in the human-readable part.
 */
int relayqd_bounce_build(const struct relayqd_bounce *b, struct buf *out)
    RQ_WUR;

/*
 * Reads the original message to return from fd (its body is len bytes
 * at offset off, in wire form) into out: the whole of it when want_full
 * and len <= RELAYQD_BOUNCE_FULL_MAX (*full set to 1), else its header
 * lines without the blank line that ends them, at most
 * RELAYQD_BOUNCE_HDR_MAX bytes cut at a line end (*full set to 0).
 * Uses pread only.  Returns 0, or -1 with errno.
 */
int relayqd_bounce_read_original(int fd, uint64_t off, uint64_t len,
    int want_full, struct buf *out, int *full) RQ_WUR;

/*
 * Appends to out the addresses a report about a message from sender goes
 * to: as for any recipient of sendmail (aliases_resolve()), a sender
 * that is a bare local part or at hostname or localhost is expanded
 * through the aliases a (NULL: none), and a bare local part is
 * qualified with domain; other senders are kept as they are.  Problems
 * in the aliases go to warn.  Returns the number added (at least 1), or
 * -1 when sender is the null sender.
 */
int relayqd_bounce_recipients(const struct aliases *a, const char *sender,
    const char *domain, const char *hostname, struct addr_list *out,
    aliases_warn_fn warn, void *arg);

/* True when the report of b holds 8-bit bytes (it then says so). */
int relayqd_bounce_is_8bit(const struct relayqd_bounce *b);

/*
 * Builds the report described by b and queues it into queue/ with the
 * null sender for the n recipients rcpts, durably, and returns its new
 * id in id.  Its Message-ID is <id@hostname> (b->msgid is not used), so
 * it matches the log line "bounce ID queued".  Returns 0, or -1 with err
 * filled and errno set; nothing is left in the spool on failure.
 */
int relayqd_bounce_queue(struct queue_spool *sp, const char *const *rcpts,
    size_t n, const struct relayqd_bounce *b, char id[QUEUE_ID_LEN + 1],
    struct rq_err *err) RQ_WUR;

#endif
