/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * RFC 3461 values shared by the front end, the queue and the SMTP
 * client: xtext encoding and the wire length of an ORCPT value.  The
 * front end refuses at submission exactly what the client could not
 * send (a RCPT line of at most SMTP_CMD_DSN_LINE_MAX octets), so one
 * limit and one encoder serve both sides.
 */
#ifndef RELAYQ_COMMON_DSN_H
#define RELAYQ_COMMON_DSN_H

#include <stddef.h>

/*
 * The longest ORCPT value as sent, "addr-type;xtext(address)": RFC 3461
 * section 4 lets NOTIFY and ORCPT add 500 octets to a RCPT line.  A
 * 256-octet path, the longest NOTIFY and this value fit in
 * SMTP_CMD_DSN_LINE_MAX.
 */
#define DSN_ORCPT_WIRE_MAX 500

/*
 * Writes s xtext-encoded (RFC 3461 section 4: '+', '=' and bytes outside
 * 0x21-0x7e as "+HH") into out, NUL-terminated.  Returns 0, or -1 when
 * out is too small.
 */
int dsn_xtext(const char *s, char *out, size_t outsz);

/* Returns the length of s once xtext-encoded. */
size_t dsn_xtext_len(const char *s);

/*
 * Returns the length of a decoded ORCPT value "addr-type;address" as
 * sent: the type and ';' as they are, the address xtext-encoded.
 */
size_t dsn_orcpt_wire_len(const char *orcpt);

#endif
