/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The message file: envelope records, the message in wire form, and a
 * trailer.  The full format is specified in queue_env.c and in
 * doc/queue-format.md.  In short:
 *
 *	RELAYQ 1\n
 *	I20:<id>\n  T<n>:<arrival>\n  U<n>:<uid>\n  S<n>:<sender>\n
 *	[D<n>:<ret>\n] [V<n>:<envid>\n]
 *	R<n>:<recipient>\n [N<n>:<notify>\n] [O<n>:<orcpt>\n] ...
 *	F<n>:<flags>\n
 *	B0:\n
 *	<body: CRLF lines, already dot-stuffed, ending in CRLF>
 *	E<n>:<body length> <crc32 hex>\n
 *
 * Every record is length-prefixed, so a CR, LF or NUL in a field can
 * never start a new record; a reader rejects any file without a valid
 * trailer.  The body is stored in SMTP wire form so relayqd can stream it
 * with evbuffer_add_file() followed by ".\r\n".
 */
#ifndef RELAYQ_QUEUE_QUEUE_ENV_H
#define RELAYQ_QUEUE_QUEUE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "common/compat.h"
#include "queue/queue_id.h"

struct buf;

#define QUEUE_ENV_MAGIC "RELAYQ 1\n"
#define QUEUE_ENV_ADDR_MAX 256 /* RFC 5321 path limit */
#define QUEUE_ENV_RCPT_MAX 100000
#define QUEUE_ENV_HEADER_MAX (4 * 1024 * 1024) /* envelope section bound */
#define QUEUE_ENV_REC_MAX 4096	 /* longest record value a reader accepts */
#define QUEUE_ENV_TRAILER_MAX 40 /* buffer size for the trailer, with NUL */

#define QUEUE_ENV_F_8BIT 0x01	  /* body has bytes >= 0x80 */
#define QUEUE_ENV_F_SMTPUTF8 0x02 /* an address is not ASCII */

/* RFC 3461 NOTIFY per recipient (N record); 0 means not given. */
#define QUEUE_ENV_NOTIFY_NEVER 0x01
#define QUEUE_ENV_NOTIFY_SUCCESS 0x02
#define QUEUE_ENV_NOTIFY_FAILURE 0x04
#define QUEUE_ENV_NOTIFY_DELAY 0x08
#define QUEUE_ENV_ENVID_MAX 100 /* RFC 3461 section 4.4 */
#define QUEUE_ENV_ORCPT_MAX 500 /* RFC 3461 section 4.2 */

struct queue_env {
	char id[QUEUE_ID_LEN + 1];
	long long arrival; /* seconds since the epoch */
	long long uid;	   /* submitting user */
	char *sender;	   /* owned; "" is the null sender <> */
	char **rcpts;	   /* owned array of owned strings */
	size_t nrcpt;
	unsigned flags;	   /* QUEUE_ENV_F_* */
	uint64_t body_off; /* offset of the body in the file (reader) */
	uint64_t body_len; /* body bytes, excluding the final ".\r\n" */
	size_t rcpt_cap;   /* allocated slots in rcpts */
	/* DSN (RFC 3461), all optional; NULL/0 when not given. */
	char *dsn_ret;	  /* owned: "FULL" or "HDRS" (D record) */
	char *dsn_envid;  /* owned: ENVID, decoded (V record) */
	unsigned *notify; /* owned: per recipient, or NULL for none */
	char **orcpt;	  /* owned: per recipient "type;addr" or NULL */
	size_t dsn_cap;	  /* allocated slots in notify and orcpt */
};

/*
 * Incremental check that a body is in SMTP wire form: every line ends in
 * CRLF (no bare CR or LF), every line that starts with '.' starts with
 * ".." (dot-stuffed), and the body is empty or ends with CRLF.  Used by
 * the writer while the body streams and by the reader under check_crc.
 */
struct queue_env_wire {
	int state;	   /* private */
	const char *error; /* first violation, or NULL */
};

/* Initialises an empty envelope. */
void queue_env_init(struct queue_env *e);
/* Frees owned fields and re-initialises. */
void queue_env_free(struct queue_env *e);
/* Appends a recipient copy.  Returns 0, or -1 if invalid/too many. */
int queue_env_add_rcpt(struct queue_env *e, const char *rcpt) RQ_WUR;
/*
 * Appends a recipient with its DSN parameters: notify is a set of
 * QUEUE_ENV_NOTIFY_* bits (0: none; NEVER only alone), orcpt the
 * decoded original recipient "addr-type;address" (NULL: none).
 * Returns 0, or -1 (errno EINVAL) when a value is invalid, or when the
 * ORCPT could never be sent: over DSN_ORCPT_WIRE_MAX once xtext-encoded
 * (a reader still accepts such a value from an older queue file).
 */
int queue_env_add_rcpt_dsn(struct queue_env *e, const char *rcpt,
    unsigned notify, const char *orcpt) RQ_WUR;
/*
 * Sets the message's DSN parameters (copied): ret "FULL" or "HDRS"
 * (any case; NULL: none), envid 1-100 printable US-ASCII (NULL: none).
 * Returns 0, or -1 (errno EINVAL) when a value is invalid.
 */
int queue_env_set_dsn(struct queue_env *e, const char *ret, const char *envid)
    RQ_WUR;
/* Checks a NOTIFY set, an ENVID and an ORCPT value; 0 when valid. */
int queue_env_check_notify(unsigned notify);
int queue_env_check_envid(const char *envid);
int queue_env_check_orcpt(const char *orcpt);
/* Parses "never" or a list of success, failure, delay (any case). */
int queue_env_parse_notify(const char *s, size_t len, unsigned *out);
/* Formats a NOTIFY set as RFC 3461 text ("SUCCESS,FAILURE") into buf. */
int queue_env_notify_text(unsigned notify, char *buf, size_t bufsz);

/*
 * Checks an envelope address as stored: at most QUEUE_ENV_ADDR_MAX bytes,
 * no control characters, no space outside a quoted local part, and
 * (unless empty and allow_null) has the form local@domain.  A leading
 * '-' is allowed: no address ever reaches a command line.  Returns 0, or -1 with *errstr.
 */
int queue_env_check_addr(const char *addr, int allow_null, const char **errstr);

/*
 * Appends the record KEY LEN ":" VALUE "\n" to b (the encoding of queue
 * and state files and of the submission protocol's frames).  Returns 0 or
 * -1 when b would grow over its bound.
 */
int queue_env_put(struct buf *b, char key, const void *val, size_t len) RQ_WUR;

/*
 * Serialises everything up to and including the "B0:\n" marker into buf
 * (malloc'd, owned by the caller).  Returns 0 or -1 with *errstr when a
 * field is invalid.
 */
int queue_env_format_head(const struct queue_env *e, char **buf, size_t *len,
    const char **errstr) RQ_WUR;

/*
 * Formats the trailer for a body of body_len bytes with crc into buf
 * (NUL-terminated; QUEUE_ENV_TRAILER_MAX bytes always suffice).  Returns
 * 0, or -1 with errno ENAMETOOLONG when bufsz is too small.
 */
int queue_env_format_trailer(uint64_t body_len, uint32_t crc, char *buf,
    size_t bufsz) RQ_WUR;

/* Starts a wire-form check. */
void queue_env_wire_init(struct queue_env_wire *w);
/* Feeds body bytes.  Returns 0, or -1 with *errstr (sticky) on a violation. */
int queue_env_wire_feed(struct queue_env_wire *w, const void *p, size_t len,
    const char **errstr) RQ_WUR;
/* Checks the body ended at a line boundary.  Returns 0 or -1 with *errstr. */
int queue_env_wire_end(const struct queue_env_wire *w, const char **errstr)
    RQ_WUR;

/* One record "K<len>:<value>\n"; val points into the parsed data. */
struct queue_env_rec {
	char key;
	const char *val; /* borrowed */
	size_t len;
};

/*
 * Splits the complete record at data[*off] (size bytes in all), whose
 * value may be at most maxlen bytes, and advances *off past it.  Shared
 * by the state file reader.  Returns 0, or -1 with *errstr.
 */
int queue_env_record(const char *data, size_t size, size_t *off, size_t maxlen,
    struct queue_env_rec *r, const char **errstr) RQ_WUR;
/*
 * Parses a record number: 1-19 decimal digits, no sign, no leading
 * zero, at most LLONG_MAX.  Returns 0 or -1.
 */
int queue_env_parse_num(const char *s, size_t len, long long *out) RQ_WUR;

/* Incremental CRC-32 (IEEE); start with crc = 0. */
uint32_t queue_env_crc32(uint32_t crc, const void *p, size_t len);

/*
 * Parses a whole message file held in memory (size bytes).  Fills e,
 * including body_off and body_len; verifies the trailer, and the body
 * CRC and wire form when check_crc is nonzero.  e is initialised here
 * (anything it held is not freed); on failure it is left empty.  Returns
 * 0, or -1 with *errstr and errno EBADMSG.
 */
int queue_env_parse(struct queue_env *e, const char *data, size_t size,
    int check_crc, const char **errstr) RQ_WUR;

/*
 * Reads and parses the message file open on fd (from offset 0), reading
 * the envelope section and the trailer but streaming the body only when
 * check_crc is nonzero.  Uses pread() only, so the file offset is left
 * alone.  e is initialised as by queue_env_parse().  Returns 0, or -1
 * with *errstr and errno: EBADMSG when the file is malformed (or not a
 * regular file), another errno for an I/O error.
 */
int queue_env_read_fd(struct queue_env *e, int fd, int check_crc,
    const char **errstr) RQ_WUR;

/*
 * As queue_env_read_fd() for a file the caller found regular, of size
 * bytes (its own fstat: none is made here).  When data is not NULL, it
 * is set to the file's bytes (size of them; owned by the caller) when
 * reading the envelope took the whole file (one read for a file up to
 * 8 KB; with check_crc, up to 256 KB), else to NULL.
 */
int queue_env_read_fd_size(struct queue_env *e, int fd, uint64_t size,
    int check_crc, char **data, const char **errstr) RQ_WUR;

#endif
