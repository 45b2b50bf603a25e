/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * SMTP command formatting and the EHLO capability parser, free of I/O.
 * Each smtp_cmd_* writer appends exactly one CRLF-terminated command line
 * to a struct buf, so a pipelined group is several calls on one buffer.
 * An argument that could break the line (CR, LF, NUL or any other control
 * byte) or the path syntax is refused, and the buffer is then unchanged.
 */
#ifndef RELAYQ_SMTP_SMTP_CMD_H
#define RELAYQ_SMTP_SMTP_CMD_H

#include <stddef.h>

#include "common/compat.h"

struct buf;
struct smtp_caps;
struct smtp_reply;

/* A command line with its CRLF (RFC 5321 section 4.5.3.1.4). */
#define SMTP_CMD_LINE_MAX 512

/*
 * A MAIL or RCPT line carrying DSN parameters: RFC 3461 section 4 lets
 * ENVID/RET add 107 octets to MAIL and NOTIFY/ORCPT 500 to RCPT.
 */
#define SMTP_CMD_DSN_LINE_MAX 1024

/* MAIL FROM parameters for smtp_cmd_mail(). */
#define SMTP_CMD_MAIL_8BITMIME 0x01 /* BODY=8BITMIME */
#define SMTP_CMD_MAIL_SMTPUTF8 0x02 /* SMTPUTF8 */

/* RFC 3461 NOTIFY values for smtp_cmd_rcpt_dsn(); 0 means none. */
#define SMTP_CMD_NOTIFY_NEVER 0x01
#define SMTP_CMD_NOTIFY_SUCCESS 0x02
#define SMTP_CMD_NOTIFY_FAILURE 0x04
#define SMTP_CMD_NOTIFY_DELAY 0x08

/*
 * Each writer below returns 0, or -1 with nothing appended and errno set:
 * EINVAL for a refused argument, EMSGSIZE when the line would exceed
 * SMTP_CMD_LINE_MAX or the buffer its max.
 */

/* Appends "EHLO name"; name must be non-empty with no blank or control. */
int smtp_cmd_ehlo(struct buf *b, const char *name) RQ_WUR;
/* Appends "HELO name"; same rules as smtp_cmd_ehlo(). */
int smtp_cmd_helo(struct buf *b, const char *name) RQ_WUR;
/*
 * Appends "MAIL FROM:<sender>", then " SIZE=size" when size > 0 and the
 * SMTP_CMD_MAIL_* parameters in flags.  "" is the null sender.
 */
int smtp_cmd_mail(struct buf *b, const char *sender, unsigned long long size,
    unsigned flags) RQ_WUR;
/*
 * Like smtp_cmd_mail(), plus the DSN parameters " RET=ret" (ret "FULL"
 * or "HDRS") and " ENVID=xtext(envid)" when not NULL.
 */
int smtp_cmd_mail_dsn(struct buf *b, const char *sender,
    unsigned long long size, unsigned flags, const char *ret, const char *envid)
    RQ_WUR;
/* Appends "RCPT TO:<rcpt>"; rcpt must not be empty. */
int smtp_cmd_rcpt(struct buf *b, const char *rcpt) RQ_WUR;
/*
 * Like smtp_cmd_rcpt(), plus " NOTIFY=..." for the SMTP_CMD_NOTIFY_*
 * bits in notify (0: none) and " ORCPT=type;xtext(address)" for orcpt
 * ("type;address", NULL: none), refused (EINVAL) when its wire form is
 * over DSN_ORCPT_WIRE_MAX (common/dsn.h), the limit the front end applies.
 */
int smtp_cmd_rcpt_dsn(struct buf *b, const char *rcpt, unsigned notify,
    const char *orcpt) RQ_WUR;
/* Appends "DATA". */
int smtp_cmd_data(struct buf *b) RQ_WUR;
/* Appends "RSET". */
int smtp_cmd_rset(struct buf *b) RQ_WUR;
/* Appends "QUIT". */
int smtp_cmd_quit(struct buf *b) RQ_WUR;
/* Appends "STARTTLS". */
int smtp_cmd_starttls(struct buf *b) RQ_WUR;

/*
 * Returns nonzero when addr may be sent as a path: no control byte, and
 * no '<', '>' or blank outside a quoted string.
 */
int smtp_cmd_addr_is_valid(const char *addr);

/*
 * Fills caps from a complete 2xx EHLO reply (keywords of every line but
 * the first, case-insensitively).  Returns 0, or -1 with caps emptied
 * when r is not a complete 2xx reply.
 */
int smtp_cmd_parse_ehlo(const struct smtp_reply *r, struct smtp_caps *caps);

#endif
