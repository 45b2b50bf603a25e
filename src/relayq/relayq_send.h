/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq send: composes a message from command-line options and submits
 * it through the sendmail front end, then prints its queue id.
 *
 * Addresses (--from, --to, --cc) go through the project's parser
 * (common/addr.c); --to and --cc take lists separated by ',' or ';'
 * ("A <a@x>; B <b@y>").  The message is RFC 5322 and MIME: From (with
 * --from), To, Cc, Subject (RFC 2047 encoded words when it is not plain
 * ASCII), MIME-Version, the --header fields, then either one text/plain
 * UTF-8 part (7bit, 8bit, or quoted-printable when a line is over 998
 * octets or holds a NUL or a bare CR) or multipart/mixed with the text
 * first and each --attach file in base64 (OpenSSL's EVP_EncodeBlock, 76
 * columns), its type guessed from the file name, its name in
 * Content-Disposition (RFC 2231 when not plain ASCII).  Lines end in LF:
 * sendmail turns them into CRLF.
 *
 * Deliberately not done here: Date, Message-ID and the default From are
 * added by sendmail (sendmail_msg.c), the same code that serves every
 * other caller, and so are the envelope checks, max_recipients, the
 * spool and the wake-up.  Submission execs sendmail without a shell
 * ("-i --print-queue-id [-f sender] -- rcpt...", the message on a pipe),
 * because only the setgid front end may write into the spool; its
 * status becomes relayq's.  Nothing is queued unless sendmail says so.
 */
#ifndef RELAYQ_RELAYQ_RELAYQ_SEND_H
#define RELAYQ_RELAYQ_RELAYQ_SEND_H

#include <stddef.h>
#include <stdio.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

/* Longest header line written, in octets (RFC 5322 section 2.1.1). */
#define RELAYQ_SEND_LINE_MAX 998

struct relayq_send_mbox {
	char *name; /* owned: display name (UTF-8), or NULL */
	char *addr; /* owned: addr-spec, qualified */
};

struct relayq_send_att {
	char *name;	  /* owned: file name shown (the path's last part) */
	const char *type; /* static: the guessed Content-Type */
	char *data;	  /* owned: the file's bytes */
	size_t len;
};

struct relayq_send_msg {
	struct relayq_send_mbox from; /* addr NULL: sendmail adds From */
	struct relayq_send_mbox *to;  /* owned array */
	size_t nto;
	struct relayq_send_mbox *cc; /* owned array */
	size_t ncc;
	struct addr_list rcpts; /* envelope: To and Cc, once each */
	const char *subject;	/* borrowed: UTF-8, or NULL */
	const char *body;	/* borrowed: UTF-8 text */
	size_t bodylen;
	struct relayq_send_att *att; /* owned array */
	size_t natt;
	const char **hdrs; /* borrowed: checked "Name: value" */
	size_t nhdrs;
	const char *boundary; /* borrowed: fixed (tests), or NULL */
};

/* Initialises an empty message. */
void relayq_send_msg_init(struct relayq_send_msg *m);
/* Frees what m owns. */
void relayq_send_msg_free(struct relayq_send_msg *m);

/*
 * Parses one --to or --cc value: members separated by ',' or ';', each
 * "addr", "Name <addr>" or "addr (Name)".  Bare local parts get
 * "@domain" in the header but stay bare in m->rcpts, so sendmail applies
 * the aliases.  Appends to *list (m->to or m->cc; *n entries) and to
 * m->rcpts; an address already in m->rcpts is not listed again.  Returns
 * EX_OK, EX_DATAERR for a control character (CR, LF: an injection
 * attempt), or EX_USAGE for an empty list, a group or an address that
 * does not parse; err is filled and nothing is added on failure.
 */
int relayq_send_add_rcpts(struct relayq_send_msg *m,
    struct relayq_send_mbox **list, size_t *n, const char *arg,
    const char *domain, const char *opt, struct rq_err *err);

/*
 * Checks a --header value "Name: value": a field name of printable
 * ASCII, a value of printable ASCII and tabs, one line of at most
 * RELAYQ_SEND_LINE_MAX octets, and not a field relayq send writes or
 * sendmail adds (From, To, Cc, Bcc, Subject, Date, Message-ID,
 * MIME-Version, Content-*).  Returns EX_OK, EX_DATAERR (control or
 * 8-bit character, too long) or EX_USAGE, with err filled.
 */
int relayq_send_check_header(const char *h, struct rq_err *err);

/* Returns the Content-Type guessed from a file name's extension. */
const char *relayq_send_mime_type(const char *name);

/*
 * Writes the whole message (header section, empty line, body) into out,
 * whose max bounds its size.  Returns EX_OK, EX_DATAERR when a text is
 * not UTF-8 or the message is over out->max, or EX_OSERR when no random
 * boundary can be made; err is filled on failure.
 */
int relayq_send_compose(const struct relayq_send_msg *m, struct buf *out,
    struct rq_err *err);

/*
 * relayq [-c config] send OPTIONS: parses argv (the words after "send"),
 * reads the body and attachments, composes and submits.  cfg is the -c
 * path, or NULL when relayq had none (sendmail then finds the same file
 * itself).  Prints the queue id on stdout and returns sendmail's exit
 * status, or a sysexits code with a message on stderr.
 */
int relayq_send_main(const struct conf *conf, const char *cfg, int argc,
    char *argv[]);

/* Prints the usage of relayq send (its options) on fp. */
void relayq_send_usage_print(FILE *fp);

#endif
