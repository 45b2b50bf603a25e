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
 * control characters, no leading '-', RFC 5321 lengths).
 */
#ifndef RELAYQ_COMMON_ADDR_H
#define RELAYQ_COMMON_ADDR_H

#include <stddef.h>

#include "common/compat.h"

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256

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
 * Parses one sender address as given to -f/-r: "<>" or "" gives "" (the
 * null sender); "Name <a@x>" gives a@x; a bare local part is qualified.
 * Returns a new string in *out, or -1 with *errstr.
 */
int addr_parse_sender(const char *s, const char *domain, char **out,
    const char **errstr);

/*
 * Validates an addr-spec as produced above: local@domain, lengths, no
 * controls, no unquoted spaces, no leading '-'.  Returns 0 or -1.
 */
int addr_check(const char *a, const char **errstr);

/* Returns nonzero when a has a byte >= 0x80 (needs SMTPUTF8). */
int addr_is_utf8(const char *a);

#endif
