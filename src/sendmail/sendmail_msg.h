/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Turning the bytes a caller pipes into sendmail into the message as the
 * spool stores it: SMTP wire form (CRLF lines, dot-stuffed, no final
 * ".\r\n"), with Bcc removed and Date, From and Message-ID added when
 * missing.  This module does no I/O of its own: input is pushed in with
 * sendmail_msg_feed() and output leaves through a sink callback, so the
 * unit tests drive it with strings and a struct buf.
 *
 * Use:
 *	sendmail_msg_init(&m, &params);
 *	feed until sendmail_msg_headers_done() (feed stops consuming at the
 *	    end of the header section; end_input() at EOF);
 *	sendmail_msg_rcpts() for -t;
 *	sendmail_msg_start_body();
 *	feed the rest, sendmail_msg_end_input() at EOF;
 *	sendmail_msg_finish();  sendmail_msg_free().
 *
 * The sink is called only after start_body(), whenever flush_at bytes are
 * buffered and once more from finish(), so a message smaller than
 * flush_at reaches the sink in one call after the whole input was seen.
 */
#ifndef RELAYQ_SENDMAIL_SENDMAIL_MSG_H
#define RELAYQ_SENDMAIL_SENDMAIL_MSG_H

#include <stddef.h>
#include <time.h>

#include "common/addr.h"
#include "common/buf.h"
#include "queue/queue_submit.h"

/* Longest line on the wire, CRLF and the stuffed dot excluded. */
#define SENDMAIL_MSG_LINE_MAX QUEUE_SUBMIT_LINE_MAX
/* Default bound on the header section as read. */
#define SENDMAIL_MSG_HEADER_MAX (1024 * 1024)
/* More Received: fields than this is a mail loop. */
#define SENDMAIL_MSG_HOPS_MAX QUEUE_SUBMIT_HOPS_MAX

/* Receives wire bytes; returns 0, or -1 with errno set. */
typedef int (*sendmail_msg_sink_fn)(void *arg, const char *p, size_t len);

struct sendmail_msg_params {
	int ignore_dots;      /* -i: a lone "." line is data */
	const char *sender;   /* borrowed: envelope sender, "" for <> */
	const char *fullname; /* borrowed: for a generated From:, or NULL */
	const char *domain;   /* borrowed: default domain */
	const char *hostname; /* borrowed: Message-ID right-hand side */
	long long max_size;   /* wire bytes allowed; 0 for no limit */
	size_t max_header;    /* header section bytes allowed */
	size_t flush_at;      /* bytes buffered before the sink is called */
	time_t now;	      /* Date: and Message-ID time; 0 for time() */
	long pid;	      /* Message-ID pid; 0 for getpid() */
	unsigned long long msgid_rand; /* Message-ID random part; 0: fresh */
	sendmail_msg_sink_fn sink;
	void *sink_arg;
	int keep_bare;		/* -t: bare local parts left unqualified */
	const char *masquerade; /* borrowed: domain for local senders, or "" */
	long long uid;		/* submitting user, for Received: */
	const char *received;	/* borrowed: Received: protocol ("local",
				   "ESMTP"), or NULL for no Received: */
	const char *helo;	/* borrowed: -bs client name, or NULL */
	int undisclosed;	/* add "To: undisclosed-recipients:;" when
				   there is neither To nor Cc */
	const char *warn_user;	/* borrowed: login name of a user who set
				  the sender, for X-Authentication-Warning
				  after Received:; NULL for none */
	const char *warn_via;	/* borrowed: how ("-f", "MAIL FROM") */
};

enum sendmail_msg_error {
	SENDMAIL_MSG_ERR_NONE,
	SENDMAIL_MSG_ERR_SIZE,	 /* bigger than max_size */
	SENDMAIL_MSG_ERR_HEADER, /* header section bigger than max_header */
	SENDMAIL_MSG_ERR_LOOP,	 /* more than SENDMAIL_MSG_HOPS_MAX hops */
	SENDMAIL_MSG_ERR_NUL,	 /* a NUL byte in the input */
	SENDMAIL_MSG_ERR_SINK	 /* the sink failed; see sink_errno */
};

enum sendmail_msg_state {
	SENDMAIL_MSG_ST_HEADER,	  /* reading the header section */
	SENDMAIL_MSG_ST_HDR_DONE, /* waiting for start_body() */
	SENDMAIL_MSG_ST_BODY,	  /* streaming the body */
	SENDMAIL_MSG_ST_DISCARD	  /* message over ("." or EOF) */
};

struct sendmail_msg_field {
	size_t off, len; /* bytes in hdr, the final CRLF included */
	size_t namelen;
};

/* All fields are private except the ones marked read-only. */
struct sendmail_msg {
	struct sendmail_msg_params p;
	enum sendmail_msg_state state;
	char seg[SENDMAIL_MSG_LINE_MAX + 1]; /* current line piece */
	size_t seglen;
	int seg_first;	/* seg starts an input line */
	size_t ncr;	/* CRs seen and not yet resolved */
	int first_line; /* still at the first input line */
	int dropping;	/* skipping a leading "From " line */
	int carry;	/* seg is the first body line */
	int carry_ev;	/* how that line ended */
	int input_done; /* read-only: "." line or EOF seen */
	int body_started;
	struct buf hdr;			   /* header section, wire form */
	struct sendmail_msg_field *fields; /* owned */
	size_t nfields, capfields;
	struct buf out;		       /* wire bytes not yet sunk */
	long long wire_size;	       /* read-only: bytes produced */
	int eightbit;		       /* read-only: saw a byte >= 0x80 */
	size_t nuls;		       /* read-only: NUL bytes seen (0 or 1) */
	size_t nsplit;		       /* read-only: over-long lines broken */
	size_t nbarecr;		       /* read-only: bare CRs made breaks */
	int hdr_utf8;		       /* read-only: non-ASCII address in
					  From/To/Cc/Bcc/Sender/Reply-To */
	size_t nrewritten;	       /* read-only: header fields rewritten */
	enum sendmail_msg_error error; /* read-only */
	int sink_errno;		       /* read-only */
};

/* Prepares m; p is copied (its strings stay borrowed). */
void sendmail_msg_init(struct sendmail_msg *m,
    const struct sendmail_msg_params *p);
/* Frees everything m owns. */
void sendmail_msg_free(struct sendmail_msg *m);

/*
 * Pushes len input bytes.  In the header phase it stops right after the
 * header section ends and sets *used to the bytes consumed; the rest must
 * be fed again after sendmail_msg_start_body().  Once the message is over
 * (a "." line without -i) input is consumed and discarded.  Returns 0, or
 * -1 with m->error set.
 */
int sendmail_msg_feed(struct sendmail_msg *m, const char *p, size_t len,
    size_t *used);

/* Signals EOF on the input.  Returns 0, or -1 with m->error set. */
int sendmail_msg_end_input(struct sendmail_msg *m);

/* Returns nonzero once the header section is complete. */
int sendmail_msg_headers_done(const struct sendmail_msg *m);

/*
 * Adds the -t recipients to out: To, Cc and Bcc, or only Resent-To,
 * Resent-Cc and Resent-Bcc when any of those exist.  Malformed members
 * are skipped; *nbad counts them and *errstr describes the last.
 * Returns the number of addresses added to out.
 */
int sendmail_msg_rcpts(const struct sendmail_msg *m, struct addr_list *out,
    size_t *nbad, const char **errstr);

/*
 * Ends the header phase: checks the hop count, writes the header section
 * and the empty line.  On the way: a Received: field is put first (when
 * p.received is set); Bcc and Resent-Bcc are dropped; bare local parts
 * in From, To and Cc get "@domain" (for From, "@masquerade" when set);
 * with masquerade, a From: holding one local mailbox becomes
 * "Name <local@masquerade>" (the name from the phrase or the comment);
 * the missing Date, From and Message-ID are added, and "To:
 * undisclosed-recipients:;" when there is neither To nor Cc.  Non-ASCII
 * addresses in the address fields set hdr_utf8.  Returns 0, or -1 with
 * m->error set.
 */
int sendmail_msg_start_body(struct sendmail_msg *m);

/*
 * After EOF: passes the remaining output to the sink.  Returns 0, or -1
 * with m->error set.
 */
int sendmail_msg_finish(struct sendmail_msg *m);

/*
 * Returns the QUEUE_ENV_F_8BIT bit when the message has 8-bit bytes, or
 * when the input is not over yet (the envelope is written before the
 * whole body is seen, so an unfinished message is declared 8-bit), and
 * QUEUE_ENV_F_SMTPUTF8 when hdr_utf8 is set.
 */
unsigned sendmail_msg_flags(const struct sendmail_msg *m);

/* Returns a one-line description of m->error. */
const char *sendmail_msg_strerror(const struct sendmail_msg *m);

#endif
