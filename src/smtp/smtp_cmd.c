/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * SMTP command lines and EHLO keywords.  This module owns the wire form
 * of every command the client sends and the meaning of the EHLO keywords
 * it understands (PIPELINING, SIZE, 8BITMIME, STARTTLS, SMTPUTF8,
 * ENHANCEDSTATUSCODES, AUTH in both forms, DSN).  It does not decide when
 * a command is sent.  A line is formatted into a local buffer first and
 * appended whole, so a refused argument never leaves half a command in
 * the output.
 */
#include "config.h"

#include "smtp/smtp_cmd.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/dsn.h"
#include "common/strutil.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_reply.h"

/* Appends the formatted line in line (n bytes, CRLF included) to b. */
static int
smtp_cmd_append(struct buf *b, const char *line, int n)
{
	if (n < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if (buf_add(b, line, (size_t)n) == -1) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Returns nonzero when name is a usable EHLO/HELO argument. */
static int
smtp_cmd_name_is_valid(const char *name)
{
	if (name == NULL || *name == '\0')
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Checks a path argument. */
int
smtp_cmd_addr_is_valid(const char *addr)
{
	int quoted = 0;

	if (addr == NULL || str_has_ctl(addr, strlen(addr)))
		return 0;
	for (const char *p = addr; *p != '\0'; p++) {
		if (quoted && *p == '\\') {
			if (p[1] == '\0')
				return 0;
			p++;
		} else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == '<' || *p == '>' || *p == ' '))
			return 0;
	}
	return !quoted;
}

/* Appends "verb name" after checking name. */
static int
smtp_cmd_hello(struct buf *b, const char *verb, const char *name)
{
	char line[SMTP_CMD_LINE_MAX + 1];

	if (!smtp_cmd_name_is_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	return smtp_cmd_append(b, line,
	    rq_snprintf(line, sizeof(line), "%s %s\r\n", verb, name));
}

/* Appends EHLO. */
int
smtp_cmd_ehlo(struct buf *b, const char *name)
{
	return smtp_cmd_hello(b, "EHLO", name);
}

/* Appends HELO. */
int
smtp_cmd_helo(struct buf *b, const char *name)
{
	return smtp_cmd_hello(b, "HELO", name);
}

/* Appends MAIL FROM with its parameters, DSN ones included. */
int
smtp_cmd_mail_dsn(struct buf *b, const char *sender, unsigned long long size,
    unsigned flags, const char *ret, const char *envid)
{
	char line[SMTP_CMD_DSN_LINE_MAX + 1], sz[32], env[3 * 100 + 1];

	if (!smtp_cmd_addr_is_valid(sender) ||
	    (ret != NULL && strcmp(ret, "FULL") != 0 &&
		strcmp(ret, "HDRS") != 0) ||
	    (envid != NULL &&
		(*envid == '\0' || strlen(envid) > 100 ||
		    dsn_xtext(envid, env, sizeof(env)) == -1))) {
		errno = EINVAL;
		return -1;
	}
	sz[0] = '\0';
	if (size > 0 && rq_snprintf(sz, sizeof(sz), " SIZE=%llu", size) == -1) {
		errno = EMSGSIZE;
		return -1;
	}
	return smtp_cmd_append(b, line,
	    rq_snprintf(line,
		ret == NULL && envid == NULL ? SMTP_CMD_LINE_MAX + 1
					     : sizeof(line),
		"MAIL FROM:<%s>%s%s%s%s%s%s%s\r\n", sender, sz,
		(flags & SMTP_CMD_MAIL_8BITMIME) ? " BODY=8BITMIME" : "",
		(flags & SMTP_CMD_MAIL_SMTPUTF8) ? " SMTPUTF8" : "",
		ret != NULL ? " RET=" : "", ret != NULL ? ret : "",
		envid != NULL ? " ENVID=" : "", envid != NULL ? env : ""));
}

/* Appends MAIL FROM with its parameters. */
int
smtp_cmd_mail(struct buf *b, const char *sender, unsigned long long size,
    unsigned flags)
{
	return smtp_cmd_mail_dsn(b, sender, size, flags, NULL, NULL);
}

/* Formats a NOTIFY set; returns -1 for an invalid one. */
static int
smtp_cmd_notify(unsigned notify, char *out, size_t outsz)
{
	static const struct {
		unsigned bit;
		const char *word;
	} words[] = {
		{ SMTP_CMD_NOTIFY_NEVER, "NEVER" },
		{ SMTP_CMD_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_CMD_NOTIFY_FAILURE, "FAILURE" },
		{ SMTP_CMD_NOTIFY_DELAY, "DELAY" },
	};

	out[0] = '\0';
	if ((notify & ~0x0fU) != 0 ||
	    ((notify & SMTP_CMD_NOTIFY_NEVER) &&
		notify != SMTP_CMD_NOTIFY_NEVER))
		return -1;
	for (size_t i = 0; i < RQ_NELEM(words); i++) {
		if ((notify & words[i].bit) == 0)
			continue;
		if (out[0] != '\0')
			(void)strlcat(out, ",", outsz);
		(void)strlcat(out, words[i].word, outsz);
	}
	return 0;
}

/* Appends RCPT TO with its DSN parameters. */
int
smtp_cmd_rcpt_dsn(struct buf *b, const char *rcpt, unsigned notify,
    const char *orcpt)
{
	char line[SMTP_CMD_DSN_LINE_MAX + 1], nt[40],
	    orc[DSN_ORCPT_WIRE_MAX + 1];
	size_t tlen = 0;

	if (rcpt == NULL || *rcpt == '\0' || !smtp_cmd_addr_is_valid(rcpt) ||
	    smtp_cmd_notify(notify, nt, sizeof(nt)) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (orcpt != NULL) {
		tlen = strcspn(orcpt, ";");
		if (tlen == 0 || orcpt[tlen] != ';' ||
		    orcpt[tlen + 1] == '\0' || tlen > 20 ||
		    dsn_orcpt_wire_len(orcpt) > DSN_ORCPT_WIRE_MAX ||
		    dsn_xtext(orcpt + tlen + 1, orc, sizeof(orc)) == -1) {
			errno = EINVAL;
			return -1;
		}
		for (size_t i = 0; i < tlen; i++) {
			char c = orcpt[i];

			if (!((c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '-')) {
				errno = EINVAL;
				return -1;
			}
		}
	}
	return smtp_cmd_append(b, line,
	    rq_snprintf(line,
		notify == 0 && orcpt == NULL ? SMTP_CMD_LINE_MAX + 1
					     : sizeof(line),
		"RCPT TO:<%s>%s%s%s%.*s%s%s\r\n", rcpt,
		notify != 0 ? " NOTIFY=" : "", nt,
		orcpt != NULL ? " ORCPT=" : "", (int)tlen,
		orcpt != NULL ? orcpt : "", orcpt != NULL ? ";" : "",
		orcpt != NULL ? orc : ""));
}

/* Appends RCPT TO. */
int
smtp_cmd_rcpt(struct buf *b, const char *rcpt)
{
	return smtp_cmd_rcpt_dsn(b, rcpt, 0, NULL);
}

/* Appends a command that takes no argument. */
static int
smtp_cmd_verb(struct buf *b, const char *verb)
{
	char line[SMTP_CMD_LINE_MAX + 1];

	return smtp_cmd_append(b, line,
	    rq_snprintf(line, sizeof(line), "%s\r\n", verb));
}

/* Appends DATA. */
int
smtp_cmd_data(struct buf *b)
{
	return smtp_cmd_verb(b, "DATA");
}

/* Appends RSET. */
int
smtp_cmd_rset(struct buf *b)
{
	return smtp_cmd_verb(b, "RSET");
}

/* Appends QUIT. */
int
smtp_cmd_quit(struct buf *b)
{
	return smtp_cmd_verb(b, "QUIT");
}

/* Appends STARTTLS. */
int
smtp_cmd_starttls(struct buf *b)
{
	return smtp_cmd_verb(b, "STARTTLS");
}

/* Parses the SIZE parameter; 0 (no limit) unless it is a plain number. */
static unsigned long long
smtp_cmd_parse_size(const char *s)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return 0;
		d = (unsigned)(*s - '0');
		if (v > (~0ULL - d) / 10)
			return 0; /* beyond any real limit: treat as none */
		v = v * 10 + d;
	}
	return v;
}

/* Returns nonzero when mech (len bytes) is a valid SASL mechanism name. */
static int
smtp_cmd_mech_is_valid(const char *mech, size_t len)
{
	if (len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = mech[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* Returns nonzero when list (space-separated) already holds mech. */
static int
smtp_cmd_mech_has(const char *list, const char *mech, size_t len)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, mech, len) == 0)
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

/* Adds the AUTH mechanisms in s to caps->auth (a union, no duplicates). */
static void
smtp_cmd_parse_auth(struct smtp_caps *caps, const char *s)
{
	size_t have, n;

	caps->ext |= SMTP_EXT_AUTH;
	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		n = strcspn(s, " \t");
		have = strlen(caps->auth);
		if (smtp_cmd_mech_is_valid(s, n) &&
		    !smtp_cmd_mech_has(caps->auth, s, n) &&
		    have + (have > 0) + n < sizeof(caps->auth)) {
			if (have > 0)
				caps->auth[have++] = ' ';
			memcpy(caps->auth + have, s, n);
			caps->auth[have + n] = '\0';
		}
		s += n;
	}
}

/* Applies one EHLO keyword line (NUL-terminated) to caps. */
static void
smtp_cmd_parse_keyword(struct smtp_caps *caps, const char *line)
{
	static const struct {
		const char *kw;
		unsigned ext;
	} simple[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
		{ "DSN", SMTP_EXT_DSN },
	};
	size_t kwlen;
	const char *params;

	line += strspn(line, " \t");
	if (strncasecmp(line, "AUTH=", 5) == 0) {
		smtp_cmd_parse_auth(caps, line + 5);
		return;
	}
	kwlen = strcspn(line, " \t");
	params = line + kwlen;
	params += strspn(params, " \t");
	if (kwlen == 4 && strncasecmp(line, "AUTH", 4) == 0) {
		smtp_cmd_parse_auth(caps, params);
		return;
	}
	if (kwlen == 4 && strncasecmp(line, "SIZE", 4) == 0) {
		char num[32];
		size_t n = strcspn(params, " \t");

		caps->ext |= SMTP_EXT_SIZE;
		caps->size_max = 0;
		if (n < sizeof(num)) {
			memcpy(num, params, n);
			num[n] = '\0';
			caps->size_max = smtp_cmd_parse_size(num);
		}
		return;
	}
	for (size_t i = 0; i < RQ_NELEM(simple); i++) {
		if (strlen(simple[i].kw) == kwlen &&
		    strncasecmp(line, simple[i].kw, kwlen) == 0) {
			caps->ext |= simple[i].ext;
			return;
		}
	}
}

/* Fills caps from an EHLO reply. */
int
smtp_cmd_parse_ehlo(const struct smtp_reply *r, struct smtp_caps *caps)
{
	char line[SMTP_REPLY_LINE_MAX + 1];
	const char *p;
	size_t len;

	memset(caps, 0, sizeof(*caps));
	if (!r->complete || r->code / 100 != 2)
		return -1;
	for (size_t i = 1; i < r->nlines; i++) {
		if (smtp_reply_line(r, i, &p, &len) == -1)
			break; /* the rest was truncated away */
		if (len >= sizeof(line))
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		smtp_cmd_parse_keyword(caps, line);
	}
	return 0;
}
