/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The submission protocol between sendmail and relayqd's submit socket
 * (doc/submit-protocol.md), and the one rule both submission paths
 * share that needs the submitter's uid: the Received: field.  I/O-free:
 * the parser takes bytes and returns events; the encoder appends frames
 * to a struct buf.
 */
#ifndef RELAYQ_QUEUE_QUEUE_SUBMIT_H
#define RELAYQ_QUEUE_QUEUE_SUBMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/compat.h"

#define QUEUE_SUBMIT_VERSION "relayq-submit/1"
#define QUEUE_SUBMIT_CHUNK_MAX 65536 /* longest M (body) frame value */
#define QUEUE_SUBMIT_VAL_MAX 512     /* longest other frame value */
#define QUEUE_SUBMIT_HELO_MAX 64     /* W value */
#define QUEUE_SUBMIT_TEXT_MAX 300    /* X value */
#define QUEUE_SUBMIT_SIZE_MAX ((uint64_t)1 << 40) /* Z value */
/* Both paths: longest line on the wire, CRLF and a stuffed dot excluded. */
#define QUEUE_SUBMIT_LINE_MAX 998
/* Both paths: more Received: fields than this is a mail loop. */
#define QUEUE_SUBMIT_HOPS_MAX 50

/* Which side's frames the parser reads. */
enum queue_submit_role {
	QUEUE_SUBMIT_SERVER, /* relayqd: reads H S D V R N O P W F Z M E */
	QUEUE_SUBMIT_CLIENT  /* sendmail: reads G K X */
};

enum queue_submit_ev_type {
	QUEUE_SUBMIT_EV_NEED,  /* every byte given was consumed */
	QUEUE_SUBMIT_EV_FRAME, /* a whole non-body frame: key, val, len */
	QUEUE_SUBMIT_EV_BODY,  /* body bytes: val (into the input), len */
	QUEUE_SUBMIT_EV_END,   /* E: the body is complete (size == Z) */
	QUEUE_SUBMIT_EV_ERROR  /* *errstr says why; sticky */
};

struct queue_submit_ev {
	char key;
	const char *val; /* borrowed: into the parser or the input */
	size_t len;
};

struct queue_submit_parser {
	enum queue_submit_role role;
	int state;			    /* private */
	char key;			    /* frame being read */
	char hdr[8];			    /* length digits so far */
	size_t nhdr;			    /* digits in hdr */
	size_t vlen, vgot;		    /* frame value length, bytes seen */
	char last;			    /* key of the previous frame */
	size_t max_rcpt;		    /* R frames allowed */
	size_t nrcpt;			    /* read-only: R frames seen */
	uint64_t declared;		    /* read-only: the Z value */
	uint64_t body;			    /* read-only: M bytes seen */
	size_t linelen;			    /* body: bytes of this line */
	char lstart;			    /* body: its first byte */
	int in_header;			    /* body: still in the header */
	char fname[10];			    /* body: line start, lowercase */
	unsigned hops;			    /* body: Received: fields seen */
	const char *error;		    /* sticky */
	char val[QUEUE_SUBMIT_VAL_MAX + 1]; /* value, NUL-terminated */
};

/* Prepares p for the given side; max_rcpt bounds R frames (server). */
void queue_submit_init(struct queue_submit_parser *p,
    enum queue_submit_role role, size_t max_rcpt);
/*
 * Consumes bytes from buf[0..len) up to the next event and sets *used to
 * the count consumed.  Returns the event type; for FRAME and BODY ev is
 * filled (BODY's val points into buf, FRAME's into p, valid until the
 * next call).  Frame values are checked here: order, lengths, addresses
 * (queue_env_check_addr), NOTIFY, ORCPT, ENVID, RET, sizes, and for the
 * body that the M bytes add up to exactly the Z value, hold no NUL, no
 * line over QUEUE_SUBMIT_LINE_MAX and at most QUEUE_SUBMIT_HOPS_MAX
 * Received: fields (the front end's rules for the spool path).  After an ERROR,
 * every call returns ERROR with the same *errstr.
 */
enum queue_submit_ev_type queue_submit_parse(struct queue_submit_parser *p,
    const char *buf, size_t len, size_t *used, struct queue_submit_ev *ev,
    const char **errstr);

/* Appends one frame KEY LEN ":" VALUE "\n" to b.  Returns 0 or -1. */
int queue_submit_frame(struct buf *b, char key, const void *val, size_t len)
    RQ_WUR;
/* Appends an X frame "<code> <text>" (text sanitised, bounded). */
int queue_submit_error(struct buf *b, int code, const char *text) RQ_WUR;

/*
 * Appends the Received: field both paths put first: "by HOST (relayq,
 * from userid UID) with PROTO; DATE", or with a HELO name (-bs) "from
 * HELO (uid UID) by HOST (relayq) with PROTO; DATE".  helo may be NULL;
 * only host-name characters of it are kept.  now 0 means time().
 * Returns 0 or -1.
 */
int queue_submit_received(struct buf *b, const char *hostname, long long uid,
    const char *proto, const char *helo, time_t now) RQ_WUR;
/*
 * The rule for X-Authentication-Warning, on both paths: returns nonzero
 * when a user other than root (uid != 0) uses the envelope sender
 * sender that is not login_sender, the user's own address (local part
 * exact, domain in any case; login_sender NULL: no own address).
 */
int queue_submit_warns(long long uid, const char *sender,
    const char *login_sender);
/*
 * Appends "X-Authentication-Warning: HOST: USER set sender to ADDR using
 * VIA" (Sendmail's wording; via NULL is "-f").  The user name keeps only
 * login-name characters and the address no control byte, so the field
 * is one line of at most about 650 octets.  Returns 0 or -1.
 */
int queue_submit_auth_warning(struct buf *b, const char *hostname,
    const char *user, const char *sender, const char *via) RQ_WUR;
/* Formats an RFC 5322 date with a numeric zone; 0 or -1 (too small). */
int queue_submit_date(time_t now, char *buf, size_t bufsz);
/* Returns hostname if usable in a Message-ID, else a fixed name. */
const char *queue_submit_idhost(const char *hostname);

#endif
