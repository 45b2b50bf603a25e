/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * RFC 5322 address-list parsing for command-line recipients and for
 * To/Cc/Bcc under -t: groups, comments (nested), display names, quoted
 * strings, angle addresses, obsolete routes, bare local parts.  Results
 * are addr-specs ready for MAIL FROM / RCPT TO (quotes kept in a quoted
 * local part, trailing dot of the domain removed, bare local parts
 * qualified with the given domain).  No I/O, no allocation limits beyond
 * the input length; every output is validated with queue-safe rules (no
 * control characters, RFC 5321 lengths; a leading '-' is allowed).
 */
#ifndef RELAYQ_COMMON_ADDR_H
#define RELAYQ_COMMON_ADDR_H

#include <stddef.h>

#include "common/compat.h"

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256
#define ADDR_NAME_MAX 256 /* display name bytes kept */

/* Flags for addr_parse_list_ex(). */
#define ADDR_F_KEEP_BARE 0x01 /* return bare local parts unqualified */

struct addr_list {
	char **v; /* owned array of owned strings */
	size_t n;
};

/* Initialises an empty list. */
void addr_list_init(struct addr_list *l);
/* Frees the list's strings and array. */
void addr_list_free(struct addr_list *l);
/*
 * Appends a copy of a unless the list already has it (local part
 * compared exactly, domain case-insensitively).  Returns 1 if added, 0 if
 * it was a duplicate.
 */
int addr_list_add(struct addr_list *l, const char *a);

/*
 * Parses s (len bytes; header values may be folded) as an address list
 * and appends each address to out, qualifying bare local parts with
 * domain.  An empty group ("undisclosed-recipients:;") adds nothing.
 * Returns the number of addresses added, or -1 with *errstr when any
 * part is malformed (then out is unchanged).
 */
int addr_parse_list(const char *s, size_t len, const char *domain,
    struct addr_list *out, const char **errstr);

/*
 * Like addr_parse_list(), but for -t header values: a malformed member
 * (junk such as "@@", an unbalanced '<', an empty "<>") is skipped
 * instead of failing the whole list.  *nbad is set to the number skipped
 * and *errstr describes the last one.  Returns the number of addresses
 * added; never fails.
 */
int addr_parse_list_lenient(const char *s, size_t len, const char *domain,
    struct addr_list *out, size_t *nbad, const char **errstr);

/*
 * The general form of the two above: strict when nbad is NULL, lenient
 * otherwise.  With ADDR_F_KEEP_BARE a bare local part ("root") is
 * validated but returned as it is, without "@domain", so the caller can
 * apply aliases before qualifying it.
 */
int addr_parse_list_ex(const char *s, size_t len, const char *domain, int flags,
    struct addr_list *out, size_t *nbad, const char **errstr);

/*
 * For header rewriting: copies the address-list value s (len bytes,
 * folding kept) into a new string *out (*outlen bytes, NUL-terminated)
 * with "@domain" inserted right after every bare local part; comments,
 * display names and white space are kept byte for byte.  Returns the
 * number of insertions (0: *out is NULL and s needs no change), or -1
 * when s does not parse strictly (then it is left alone).
 */
int addr_qualify_value(const char *s, size_t len, const char *domain,
    char **out, size_t *outlen);

/*
 * Parses a field value holding exactly one mailbox (From:).  *addr gets
 * the address (bare local parts qualified with domain; *bare is set when
 * it had no domain), *name the display name: the phrase before '<' with
 * quotes and escapes removed, or for "addr (Comment)" the comment's
 * text, or NULL when there is neither.  Both are new strings.  Returns 0,
 * or -1 with *errstr.
 */
int addr_parse_mailbox_name(const char *s, size_t len, const char *domain,
    char **addr, char **name, int *bare, const char **errstr);

/*
 * Parses one sender address as given to -f/-r: "<>" or "" gives "" (the
 * null sender); "Name <a@x>" gives a@x; a bare local part is qualified;
 * an address starting with '-' (a misplaced option) is refused.
 * Returns a new string in *out, or -1 with *errstr.
 */
int addr_parse_sender(const char *s, const char *domain, char **out,
    const char **errstr);

/*
 * Validates an addr-spec as produced above: local@domain, lengths, no
 * controls, no unquoted spaces.  Returns 0 or -1.
 */
int addr_check(const char *a, const char **errstr);

/* Returns nonzero when a has a byte >= 0x80 (needs SMTPUTF8). */
int addr_is_utf8(const char *a);

/*
 * Returns nonzero when a and b name the same mailbox: local part exact,
 * domain in any case (the rule for duplicates and for one's own address).
 */
int addr_is_same(const char *a, const char *b);

#endif
