/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the EHLO capability parser and the command
 * writers (smtp_cmd.c).  The input's lines are fed to the reply parser;
 * every complete reply goes through smtp_cmd_parse_ehlo(), whose result
 * must be consistent (a failed parse leaves the caps empty; the AUTH
 * list is a NUL-terminated string with no control byte).  Each input
 * line is also offered as an address and a HELO name to the command
 * writers: a writer either refuses it and leaves the buffer unchanged,
 * or appends exactly one CRLF-terminated line of at most its limit with
 * no other CR or LF in it, so no input can inject a second command.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless b grew by one well-formed command line, or not at all. */
static void
fuzz_smtp_ehlo_check_cmd(const struct buf *b, size_t before, int rv, size_t max)
{
	const char *p = b->data != NULL ? b->data + before : NULL;
	size_t n = b->len - before;

	if (rv == -1) {
		if (n != 0)
			abort();
		return;
	}
	if (rv != 0 || n < 2 || n > max || p[n - 2] != '\r' || p[n - 1] != '\n')
		abort();
	for (size_t i = 0; i < n - 2; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			abort();
}

/* Runs every writer on one NUL-terminated argument. */
static void
fuzz_smtp_ehlo_cmds(const char *arg, unsigned char flags)
{
	struct buf b;
	size_t before;
	int rv;

	buf_init(&b, 1 << 16);
	before = b.len;
	rv = smtp_cmd_ehlo(&b, arg);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_LINE_MAX);
	before = b.len;
	rv = smtp_cmd_helo(&b, arg);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_LINE_MAX);
	before = b.len;
	rv = smtp_cmd_mail(&b, arg, flags, flags & 3u);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_LINE_MAX);
	if (rv == 0 && !smtp_cmd_addr_is_valid(arg))
		abort();
	before = b.len;
	rv = smtp_cmd_mail_dsn(&b, arg, 0, 0, (flags & 4) ? "FULL" : NULL,
	    (flags & 8) ? arg : NULL);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_DSN_LINE_MAX);
	before = b.len;
	rv = smtp_cmd_rcpt(&b, arg);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_LINE_MAX);
	before = b.len;
	rv = smtp_cmd_rcpt_dsn(&b, "a@example.org", flags & 0x0f,
	    (flags & 0x10) ? arg : NULL);
	fuzz_smtp_ehlo_check_cmd(&b, before, rv, SMTP_CMD_DSN_LINE_MAX);
	buf_free(&b);
}

/* Feeds lines to the reply parser and parses each complete reply. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size, *nl;
	const char *errstr;
	struct smtp_caps caps;
	char arg[1100];
	unsigned char flags = size > 0 ? data[0] : 0;
	int rv;

	smtp_reply_init(&r);
	while (p < end) {
		size_t len;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len < sizeof(arg)) {
			memcpy(arg, p, len);
			arg[len] = '\0';
			if (len > 0 && arg[len - 1] == '\r')
				arg[len - 1] = '\0';
			fuzz_smtp_ehlo_cmds(arg, flags);
		}
		rv = smtp_reply_feed(&r, p, len, &errstr);
		if (rv == 1) {
			if (smtp_cmd_parse_ehlo(&r, &caps) == 0) {
				if (r.code / 100 != 2 ||
				    memchr(caps.auth, '\0',
					sizeof(caps.auth)) == NULL)
					abort();
				for (const char *a = caps.auth; *a != '\0'; a++)
					if ((unsigned char)*a < 0x20 ||
					    *a == 0x7f)
						abort();
				if (caps.size_max != 0 &&
				    !(caps.ext & SMTP_EXT_SIZE))
					abort();
			} else if (caps.ext != 0 || caps.size_max != 0 ||
			    caps.auth[0] != '\0')
				abort();
			smtp_reply_init(&r);
		} else if (rv == -1)
			smtp_reply_init(&r);
		p = nl < end ? nl + 1 : end;
	}
	return 0;
}
