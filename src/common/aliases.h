/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The /etc/aliases file, for a relay that has no local delivery: each
 * entry "name: addr, addr" maps a local part to an address list, and
 * aliases_resolve() turns a local recipient (a bare local part, or an
 * address at the host name or localhost) into the addresses it stands
 * for, recursively.  Pipes ("|cmd"), files ("/path") and ":include:"
 * are refused with a clear message, never run or opened.  No I/O except
 * aliases_load() reading the file; problems are reported through a
 * callback so that newaliases can print them all and sendmail can warn.
 */
#ifndef RELAYQ_COMMON_ALIASES_H
#define RELAYQ_COMMON_ALIASES_H

#include <stddef.h>

#include "common/addr.h"
#include "common/compat.h"

/* Largest aliases file read, in bytes. */
#define ALIASES_FILE_MAX (4 * 1024 * 1024)
/* Deepest alias chain followed (sendmail uses 10 for forwards). */
#define ALIASES_DEPTH_MAX 16

/* Receives one problem: file, line (0 when none) and the message. */
typedef void (
    *aliases_warn_fn)(void *arg, const char *path, int line, const char *msg);

struct aliases_entry {
	char *name;  /* owned: the local part, lower case */
	char *value; /* owned: the unfolded right-hand side */
	int line;    /* where the entry starts */
};

struct aliases {
	char *path;		 /* owned: for messages */
	struct aliases_entry *v; /* owned, sorted by name */
	size_t n;
};

/* Initialises an empty table. */
void aliases_init(struct aliases *a);
/* Frees the table; it may be loaded again. */
void aliases_free(struct aliases *a);

/*
 * Parses text (len bytes) in aliases(5) syntax into a: "#" comments,
 * blank lines, continuation lines starting with white space, "name:
 * value".  A malformed line or a repeated name is reported through warn
 * (the first definition wins).  Returns the number of problems
 * reported (0 when the file is clean).
 */
int aliases_parse(struct aliases *a, const char *path, const char *text,
    size_t len, aliases_warn_fn warn, void *arg);

/*
 * Reads and parses path.  Returns the number of problems, or -1 with
 * errno when the file cannot be read (or is bigger than
 * ALIASES_FILE_MAX: EFBIG).
 */
int aliases_load(struct aliases *a, const char *path, aliases_warn_fn warn,
    void *arg);

/*
 * Resolves recipient addr: when it is a bare local part, or its domain
 * is hostname or "localhost", and the local part names an alias, the
 * alias is expanded recursively into out; otherwise addr is added to out,
 * a bare local part qualified with domain.  A name met again on its own
 * expansion path (root: root, admin) stops there and is qualified, as
 * sendmail does.  Pipes, files and :include: are skipped with a warning,
 * and so are malformed members; an alias that yields nothing (or a
 * chain deeper than ALIASES_DEPTH_MAX) leaves the recipient itself,
 * qualified, with a warning, so that mail is never silently lost.
 * a may be NULL (no aliases).  Returns the number of addresses added.
 */
int aliases_resolve(const struct aliases *a, const char *addr,
    const char *domain, const char *hostname, struct addr_list *out,
    aliases_warn_fn warn, void *arg);

/*
 * Checks every entry as newaliases does: each value must parse, must not
 * use pipes, files or :include:, and no chain may loop back to an alias
 * already on its path other than itself, or go deeper than
 * ALIASES_DEPTH_MAX.  Returns the number of problems reported.
 */
int aliases_check(const struct aliases *a, const char *domain,
    aliases_warn_fn warn, void *arg);

#endif
