/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for address parsing (common/addr.c): the input is
 * parsed as an argv recipient list (strict and with bare local parts
 * kept), as a -t header value (lenient), as a -f sender, as a From:
 * mailbox and through the header qualifier.  Every address that comes
 * out must be safe to queue and to send: queue_env_check_addr() and
 * addr_check() accept it (no control byte, RFC 5321
 * lengths), and the SMTP writers can put it in a path.  A failed strict
 * parse must leave the output list unchanged.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "queue/queue_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True for a bare local part: no '@', or only inside a quoted string. */
static int
fuzz_addr_is_bare(const char *a)
{
	const char *at = strrchr(a, '@');

	return at == NULL || (a[0] == '"' && strrchr(a, '"') > at);
}

/* Aborts unless every address in l from index from on is queue-safe. */
static void
fuzz_addr_check_list(const struct addr_list *l, size_t from, int bare_ok)
{
	const char *errstr;

	for (size_t i = from; i < l->n; i++) {
		const char *a = l->v[i];

		if (bare_ok && fuzz_addr_is_bare(a)) {
			/* a bare local part, kept for aliases */
			for (const char *p = a; *p != '\0'; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					abort();
			if (a[0] == '\0')
				abort();
			continue;
		}
		if (addr_check(a, &errstr) == -1 ||
		    queue_env_check_addr(a, 0, &errstr) == -1)
			abort();
	}
}

/* Parses one input in every supported way. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *errstr = NULL;
	struct addr_list l;
	char *str, *out = NULL, *name = NULL, *addr = NULL;
	size_t nbad = 0, outlen = 0;
	int n, bare = 0;

	addr_list_init(&l);
	(void)addr_list_add(&l, "keep@example.org");
	n = addr_parse_list(s, size, "example.org", &l, &errstr);
	if (n == -1 ? (l.n != 1 || errstr == NULL) : l.n > 1 + (size_t)n)
		abort();
	fuzz_addr_check_list(&l, 0, 0);
	addr_list_free(&l);

	addr_list_init(&l);
	n = addr_parse_list_ex(s, size, "example.org", ADDR_F_KEEP_BARE, &l,
	    NULL, &errstr);
	if (n == -1 && l.n != 0)
		abort();
	fuzz_addr_check_list(&l, 0, 1);
	addr_list_free(&l);

	addr_list_init(&l);
	n = addr_parse_list_lenient(s, size, "example.org", &l, &nbad, &errstr);
	if (n < 0 || (size_t)n < l.n)
		abort();
	fuzz_addr_check_list(&l, 0, 0);
	addr_list_free(&l);

	if (addr_qualify_value(s, size, "example.org", &out, &outlen) > 0) {
		if (out == NULL || strlen(out) != outlen)
			abort();
	}
	free(out);

	if (addr_parse_mailbox_name(s, size, "example.org", &addr, &name, &bare,
		&errstr) == 0) {
		if (addr == NULL)
			abort();
		if (addr[0] != '\0' && (addr_check(addr, &errstr) == -1))
			abort();
	}
	free(addr);
	free(name);

	/* The -f form needs a C string. */
	str = malloc(size + 1);
	if (str == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	if (strlen(str) == size &&
	    addr_parse_sender(str, "example.org", &out, &errstr) == 0) {
		if (out[0] != '\0' &&
		    (addr_check(out, &errstr) == -1 ||
			queue_env_check_addr(out, 1, &errstr) == -1))
			abort();
		free(out);
	}
	free(str);
	return 0;
}
