/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for queue_id and queue_env: ids, address checks, the
 * message file round trip, and every kind of damage a reader must
 * reject (truncation at every length, bad magic, bad lengths, unknown or
 * misplaced records, injected CR/LF/NUL, missing or wrong trailer, extra
 * bytes, a body not in wire form), both in memory and through a file.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_id.h"
#include "tap.h"

/* ok() whose condition is evaluated before the message arguments. */
#define okv(cond, ...)                     \
	do {                               \
		int okv_pass = !!(cond);   \
		ok(okv_pass, __VA_ARGS__); \
	} while (0)

static const char body1[] = "Subject: hi\r\n\r\nline one\r\n..dot\r\n";

/* Fills e with a small valid envelope. */
static void
make_env(struct queue_env *e)
{
	queue_env_init(e);
	memcpy(e->id, "0194A3F2C0004D1E2A7B", QUEUE_ID_LEN + 1);
	e->arrival = 1700000000;
	e->uid = 1000;
	e->sender = xstrdup("alice@example.org");
	if (queue_env_add_rcpt(e, "bob@example.net") == -1 ||
	    queue_env_add_rcpt(e, "\"c d\"@example.com") == -1)
		abort();
	e->flags = QUEUE_ENV_F_8BIT | QUEUE_ENV_F_SMTPUTF8;
}

/* Builds a whole message file image from e and a body. */
static char *
build(const struct queue_env *e, const char *body, size_t blen, size_t *lenp)
{
	char *head, *img, tr[QUEUE_ENV_TRAILER_MAX];
	const char *errstr;
	size_t hlen, tlen;

	if (queue_env_format_head(e, &head, &hlen, &errstr) == -1 ||
	    queue_env_format_trailer(blen, queue_env_crc32(0, body, blen), tr,
		sizeof(tr)) == -1)
		abort();
	tlen = strlen(tr);
	img = xmalloc(hlen + blen + tlen);
	memcpy(img, head, hlen);
	memcpy(img + hlen, body, blen);
	memcpy(img + hlen + blen, tr, tlen);
	free(head);
	*lenp = hlen + blen + tlen;
	return img;
}

/* Parses an image; returns 0 or -1 and frees the result. */
static int
try_parse(const char *img, size_t len, int crc, const char **errstr)
{
	struct queue_env e;
	int r;

	*errstr = "";
	r = queue_env_parse(&e, img, len, crc, errstr);
	queue_env_free(&e);
	return r;
}

/* Replaces the first occurrence of from (same length as to) in img. */
static char *
patched(const char *img, size_t len, const char *from, const char *to)
{
	char *p = xmalloc(len), *hit;
	size_t flen = strlen(from);

	memcpy(p, img, len);
	for (hit = p; hit + flen <= p + len; hit++)
		if (memcmp(hit, from, flen) == 0) {
			memcpy(hit, to, flen);
			return p;
		}
	abort();
}

/* Inserts ins at offset off of img. */
static char *
inserted(const char *img, size_t len, size_t off, const char *ins, size_t ilen,
    size_t *newlen)
{
	char *p = xmalloc(len + ilen);

	memcpy(p, img, off);
	memcpy(p + off, ins, ilen);
	memcpy(p + off + ilen, img + off, len - off);
	*newlen = len + ilen;
	return p;
}

/* DSN records: RET, ENVID, per-recipient NOTIFY and ORCPT. */
static void
test_dsn(void)
{
	struct queue_env e, p;
	const char *errstr = "";
	char *img, *bad, nt[64], orc[7 + 164 + 3];
	size_t len, blen;
	unsigned n;

	make_env(&e);
	okv(queue_env_set_dsn(&e, "hdrs", "QQ314159") == 0, "set RET, ENVID");
	okv(queue_env_add_rcpt_dsn(&e, "d@example.net",
		QUEUE_ENV_NOTIFY_SUCCESS | QUEUE_ENV_NOTIFY_FAILURE,
		"rfc822;D@Example.NET") == 0,
	    "recipient with NOTIFY and ORCPT");
	okv(queue_env_add_rcpt_dsn(&e, "e@example.net", QUEUE_ENV_NOTIFY_NEVER,
		NULL) == 0,
	    "recipient with NOTIFY=NEVER");
	img = build(&e, body1, strlen(body1), &len);
	okv(memmem(img, len, "S17:alice@example.org\nD4:HDRS\nV8:QQ314159\n",
		40) != NULL,
	    "D and V follow S");
	okv(memmem(img, len,
		"R13:d@example.net\nN15:SUCCESS,FAILURE\nO20:rfc822;D@Example."
		"NET\nR13:e@example.net\nN5:NEVER\n",
		85) != NULL,
	    "N and O follow their R");
	okv(queue_env_parse(&p, img, len, 1, &errstr) == 0,
	    "DSN round trip (%s)", errstr);
	is_str(p.dsn_ret, "HDRS", "RET kept, canonical case");
	is_str(p.dsn_envid, "QQ314159", "ENVID kept");
	is_int(p.nrcpt, 4, "four recipients");
	ok(p.notify != NULL && p.notify[0] == 0 && p.notify[1] == 0,
	    "no NOTIFY for the first two");
	ok(p.notify != NULL &&
		p.notify[2] ==
		    (QUEUE_ENV_NOTIFY_SUCCESS | QUEUE_ENV_NOTIFY_FAILURE) &&
		p.notify[3] == QUEUE_ENV_NOTIFY_NEVER,
	    "NOTIFY per recipient");
	ok(p.orcpt != NULL && p.orcpt[0] == NULL && p.orcpt[3] == NULL &&
		strcmp(p.orcpt[2], "rfc822;D@Example.NET") == 0,
	    "ORCPT per recipient");
	queue_env_free(&p);

	/* Out-of-order and non-canonical DSN records are refused. */
	bad = patched(img, len, "N15:SUCCESS,FAILURE", "N15:FAILURE,SUCCESS");
	okv(try_parse(bad, len, 0, &errstr) == -1, "non-canonical NOTIFY (%s)",
	    errstr);
	free(bad);
	bad = patched(img, len, "N5:NEVER", "N5:never");
	okv(try_parse(bad, len, 0, &errstr) == -1, "lower-case NOTIFY");
	free(bad);
	bad = patched(img, len, "D4:HDRS", "D4:NONE");
	okv(try_parse(bad, len, 0, &errstr) == -1, "bad RET");
	free(bad);
	bad = patched(img, len, "O20:rfc822;", "O20:rfc822\n");
	okv(try_parse(bad, len, 0, &errstr) == -1, "ORCPT with a control byte");
	free(bad);
	/* V before D is out of order: swap the two records. */
	bad = patched(img, len, "D4:HDRS\nV8:QQ314159\n",
	    "V8:QQ314159\nD4:HDRS\n");
	okv(try_parse(bad, len, 0, &errstr) == -1, "V before D refused");
	free(bad);
	/* N before any R. */
	bad = inserted(img, len,
	    (size_t)((char *)memmem(img, len, "R15:", 4) - img), "N7:SUCCESS\n",
	    11, &blen);
	okv(try_parse(bad, blen, 0, &errstr) == -1, "N before its R refused");
	free(bad);
	free(img);
	queue_env_free(&e);

	/* Values refused when set. */
	make_env(&e);
	okv(queue_env_set_dsn(&e, "all", NULL) == -1,
	    "RET other than FULL/HDRS");
	okv(queue_env_set_dsn(&e, NULL, "a b") == -1, "ENVID with a space");
	okv(queue_env_add_rcpt_dsn(&e, "f@example.net",
		QUEUE_ENV_NOTIFY_NEVER | QUEUE_ENV_NOTIFY_DELAY, NULL) == -1,
	    "NEVER combined refused");
	okv(queue_env_add_rcpt_dsn(&e, "f@example.net", 0, "nosemicolon") == -1,
	    "ORCPT without a type refused");
	is_int(e.nrcpt, 2, "refused recipients not added");
	/* Old files (no DSN records) still parse: make_env has none. */
	img = build(&e, body1, strlen(body1), &len);
	okv(memmem(img, len, "\nN", 2) == NULL &&
		memmem(img, len, "\nD", 2) == NULL,
	    "no DSN record without DSN values");
	okv(try_parse(img, len, 1, &errstr) == 0, "file without DSN parses");
	free(img);
	queue_env_free(&e);

	make_env(&e);
	/*
	 * ORCPT at the wire limit: "rfc822;" and 164 '+' (3 octets each
	 * once xtext-encoded) and one more octet make 500, two make 501.
	 */
	memset(orc, '+', sizeof(orc));
	memcpy(orc, "rfc822;", 7);
	memcpy(orc + 7 + 164, "ab", 3);
	okv(queue_env_add_rcpt_dsn(&e, "f@example.net", 0, orc) == -1 &&
		errno == EINVAL,
	    "ORCPT of 501 octets once encoded refused (%zu decoded)",
	    strlen(orc));
	orc[7 + 164 + 1] = '\0';
	is_int(queue_env_add_rcpt_dsn(&e, "g@example.net", 0, orc), 0,
	    "ORCPT of 500 octets once encoded accepted");
	is_int(queue_env_check_orcpt(orc), 0, "and valid for a reader");
	is_int(e.nrcpt, 3, "the refused one not added");
	queue_env_free(&e);

	okv(queue_env_parse_notify("Failure,delay", 13, &n) == 0 &&
		n == (QUEUE_ENV_NOTIFY_FAILURE | QUEUE_ENV_NOTIFY_DELAY),
	    "parse NOTIFY list any case");
	okv(queue_env_parse_notify("never,success", 13, &n) == -1,
	    "never with others refused");
	okv(queue_env_parse_notify("", 0, &n) == -1, "empty NOTIFY refused");
	okv(queue_env_notify_text(QUEUE_ENV_NOTIFY_DELAY |
		    QUEUE_ENV_NOTIFY_SUCCESS,
		nt, sizeof(nt)) == 0 &&
		strcmp(nt, "SUCCESS,DELAY") == 0,
	    "NOTIFY text in canonical order");
}

static void
test_ids(void)
{
	char a[QUEUE_ID_LEN + 1], b[QUEUE_ID_LEN + 1];
	long long now = (long long)time(NULL);

	okv(queue_id_new(a) == 0 && queue_id_new(b) == 0, "two new ids");
	okv(queue_id_is_valid(a), "new id is valid: %s", a);
	okv(strcmp(a, b) != 0, "ids differ");
	okv(queue_id_time(a) >= now - 2 && queue_id_time(a) <= now + 2,
	    "id encodes the arrival time");
	okv(queue_id_is_valid("0123456789ABCDEF0123"), "valid id");
	okv(!queue_id_is_valid("0123456789abcdef0123"), "lower case refused");
	okv(!queue_id_is_valid("0123456789ABCDEF012"), "short id refused");
	okv(!queue_id_is_valid("0123456789ABCDEF01234"), "long id refused");
	okv(!queue_id_is_valid("../x"), "../x refused");
	okv(!queue_id_is_valid(""), "empty refused");
	okv(!queue_id_is_valid(NULL), "NULL refused");
	is_int(queue_id_time("00000000A0000000000F"), 10, "time field decoded");
}

/* Bit-at-a-time CRC-32 (reflected 0xEDB88320): the reference. */
static uint32_t
crc_ref(const unsigned char *s, size_t len)
{
	uint32_t c = 0xffffffffU;

	for (size_t i = 0; i < len; i++) {
		c ^= s[i];
		for (int b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1)));
	}
	return ~c;
}

/* The slicing-by-8 path (long inputs), any split and any alignment. */
static void
test_crc_long(void)
{
	static unsigned char data[5000];
	uint32_t want, c;
	size_t bad = 0;
	unsigned x = 12345;

	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245U + 12345U;
		data[i] = (unsigned char)(x >> 16);
	}
	want = crc_ref(data, sizeof(data));
	is_int(queue_env_crc32(0, data, sizeof(data)), want,
	    "CRC-32 of 5000 bytes matches the bitwise reference");
	for (size_t cut = 0; cut <= sizeof(data); cut += 37) {
		c = queue_env_crc32(0, data, cut);
		c = queue_env_crc32(c, data + cut, sizeof(data) - cut);
		if (c != want)
			bad++;
	}
	is_int(bad, 0, "CRC-32 split at every 37th byte is the same");
	for (size_t off = 1; off < 8; off++)
		if (queue_env_crc32(0, data + off, 1000) !=
		    crc_ref(data + off, 1000))
			bad++;
	is_int(bad, 0, "CRC-32 at unaligned starts matches the reference");
}

static void
test_crc(void)
{
	uint32_t c;

	is_int(queue_env_crc32(0, "123456789", 9), 0xcbf43926L,
	    "CRC-32 check value");
	c = queue_env_crc32(0, "1234", 4);
	c = queue_env_crc32(c, "56789", 5);
	is_int(c, 0xcbf43926L, "CRC-32 is incremental");
	is_int(queue_env_crc32(0, "", 0), 0, "CRC-32 of nothing");
	test_crc_long();
}

static void
test_addr(void)
{
	static const char *good[] = { "a@b", "alice@example.org",
		"\"a b\"@example.org", "\"a\\\"b\"@x", "a@[IPv6:2001:db8::1]",
		"j\xc3\xbcrgen@example.de", "a+tag@sub.example.org",
		"-oQ/tmp@x" };
	static const char *bad[] = { "a\r\n@b", "a@b\r\nRCPT TO:<x@y>", "a\n@b",
		"a\r@b", "a\t@b", "a\x7f@b", "a b@c", "a@b c", "a", "@b", "a@",
		"a@b@c", "<a@b>", "a@b>", "\"unterminated@x", "\"a\"b@x",
		"a@b,c@d", "a(b)@c", "a@b;c" };
	char longaddr[QUEUE_ENV_ADDR_MAX + 2], local[80];
	const char *errstr;
	struct queue_env e;

	for (size_t i = 0; i < RQ_NELEM(good); i++)
		okv(queue_env_check_addr(good[i], 0, &errstr) == 0,
		    "address %zu accepted", i);
	for (size_t i = 0; i < RQ_NELEM(bad); i++) {
		errstr = "accepted";
		okv(queue_env_check_addr(bad[i], 1, &errstr) == -1,
		    "address %zu refused (%s)", i, errstr);
	}
	okv(queue_env_check_addr("", 1, &errstr) == 0, "null sender allowed");
	okv(queue_env_check_addr("", 0, &errstr) == -1,
	    "empty recipient refused");
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	longaddr[10] = '@';
	okv(queue_env_check_addr(longaddr, 0, &errstr) == -1,
	    "257-byte address refused");
	longaddr[QUEUE_ENV_ADDR_MAX] = '\0';
	okv(queue_env_check_addr(longaddr, 0, &errstr) == 0,
	    "256-byte address accepted");
	memset(local, 'l', 65);
	memcpy(local + 65, "@x", 3);
	okv(queue_env_check_addr(local, 0, &errstr) == -1,
	    "65-byte local part refused");

	queue_env_init(&e);
	okv(queue_env_add_rcpt(&e, "x\r\n@y") == -1, "add_rcpt refuses CRLF");
	is_int(e.nrcpt, 0, "nothing added");
	okv(queue_env_add_rcpt(&e, "-x@y") == 0, "add_rcpt accepts '-x@y'");
	queue_env_free(&e);
}

static void
test_format_refuses(void)
{
	struct queue_env e;
	const char *errstr;
	char *buf = NULL, tr[QUEUE_ENV_TRAILER_MAX];
	size_t len;

	make_env(&e);
	free(e.sender);
	e.sender = xstrdup("a@b\r\nR5:x@evil");
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "CR/LF in sender refused at format time (%s)", errstr);
	free(e.sender);
	e.sender = xstrdup("a@b\nI20:0000000000000000000");
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "LF in sender refused at format time");
	free(e.sender);
	e.sender = xstrdup("");
	free(e.rcpts[1]);
	e.rcpts[1] = xstrdup("c@d\r\nDATA");
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "CR/LF in a recipient refused at format time");
	free(e.rcpts[1]);
	e.rcpts[1] = xstrdup("c@d");
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == 0,
	    "valid again after the fix");
	free(buf);
	e.flags = 0x80;
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "unknown flag refused");
	e.flags = 0;
	memcpy(e.id, "0194a3f2c0004d1e2a7b", QUEUE_ID_LEN + 1);
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "invalid id refused");
	queue_env_free(&e);

	make_env(&e);
	for (size_t i = 0; i < e.nrcpt; i++)
		free(e.rcpts[i]);
	e.nrcpt = 0;
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1,
	    "no recipients refused");
	queue_env_free(&e);

	okv(queue_env_format_trailer(12, 0xabc, tr, 8) == -1,
	    "small trailer buffer refused");
	okv(queue_env_format_trailer(12, 0xabc, tr, sizeof(tr)) == 0 &&
		strcmp(tr, "E11:12 00000abc\n") == 0,
	    "trailer text");
}

static void
test_round_trip(void)
{
	struct queue_env e, p;
	const char *errstr = "";
	char *img;
	size_t len;

	make_env(&e);
	img = build(&e, body1, strlen(body1), &len);
	okv(queue_env_parse(&p, img, len, 1, &errstr) == 0, "round trip (%s)",
	    errstr);
	is_str(p.id, e.id, "id");
	is_int(p.arrival, e.arrival, "arrival");
	is_int(p.uid, e.uid, "uid");
	is_str(p.sender, "alice@example.org", "sender");
	is_int(p.nrcpt, 2, "recipient count");
	is_str(p.rcpts[0], "bob@example.net", "recipient 0");
	is_str(p.rcpts[1], "\"c d\"@example.com", "recipient 1");
	is_int(p.flags, QUEUE_ENV_F_8BIT | QUEUE_ENV_F_SMTPUTF8, "flags");
	is_int(p.body_len, strlen(body1), "body length");
	okv(p.body_off + p.body_len < len &&
		memcmp(img + p.body_off, body1, strlen(body1)) == 0,
	    "body offset points at the body");
	queue_env_free(&p);
	free(img);

	/* Null sender, no flags, empty body. */
	free(e.sender);
	e.sender = xstrdup("");
	e.flags = 0;
	img = build(&e, "", 0, &len);
	okv(queue_env_parse(&p, img, len, 1, &errstr) == 0,
	    "empty body, null sender (%s)", errstr);
	is_str(p.sender, "", "null sender kept");
	is_int(p.body_len, 0, "empty body");
	is_int(p.flags, 0, "no flags");
	okv(memmem(img, len, "\nF", 2) == NULL,
	    "no F record written without flags");
	queue_env_free(&p);
	free(img);
	queue_env_free(&e);
}

static void
test_truncation(void)
{
	struct queue_env e;
	const char *errstr;
	char *img;
	size_t len, rejected = 0, rejected_nocrc = 0;

	make_env(&e);
	img = build(&e, body1, strlen(body1), &len);
	for (size_t n = 0; n < len; n++) {
		if (try_parse(img, n, 1, &errstr) == -1)
			rejected++;
		if (try_parse(img, n, 0, &errstr) == -1)
			rejected_nocrc++;
	}
	is_int(rejected, len, "all %zu truncations rejected (with CRC)", len);
	is_int(rejected_nocrc, len, "all truncations rejected (without CRC)");
	okv(try_parse(img, len, 1, &errstr) == 0, "untruncated accepted");
	free(img);
	queue_env_free(&e);
}

static void
test_corruptions(void)
{
	struct queue_env e;
	const char *errstr;
	char *img, *bad, *withx;
	size_t len, blen, hoff;

	make_env(&e);
	img = build(&e, body1, strlen(body1), &len);
	hoff = (size_t)(strstr(img, "B0:\n") - img);

	bad = patched(img, len, "RELAYQ 1", "RELAYQ 2");
	okv(try_parse(bad, len, 0, &errstr) == -1, "bad magic: %s", errstr);
	free(bad);

	bad = patched(img, len, "I20:", "I21:");
	okv(try_parse(bad, len, 0, &errstr) == -1, "wrong length: %s", errstr);
	free(bad);
	bad = patched(img, len, "I20:", "I2x:");
	okv(try_parse(bad, len, 0, &errstr) == -1, "non-digit length: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "T10:", "T+9:");
	okv(try_parse(bad, len, 0, &errstr) == -1, "signed length: %s", errstr);
	free(bad);
	bad = patched(img, len, "U4:1000", "U4:-100");
	okv(try_parse(bad, len, 0, &errstr) == -1, "negative uid: %s", errstr);
	free(bad);
	bad = patched(img, len, "U4:1000", "U4:0100");
	okv(try_parse(bad, len, 0, &errstr) == -1, "leading zero number: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "0194A3F2C0004D1E2A7B", "0194a3f2c0004d1e2a7b");
	okv(try_parse(bad, len, 0, &errstr) == -1, "invalid id record: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "alice@example.org", "alice\r\nexample.or");
	okv(try_parse(bad, len, 0, &errstr) == -1, "CRLF in stored sender: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "bob@example.net", "bob@exa\0ple.net");
	okv(try_parse(bad, len, 0, &errstr) == -1, "NUL in recipient: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "bob@example.net", "-ob@example.net");
	okv(try_parse(bad, len, 0, &errstr) == 0,
	    "leading '-' in a stored recipient accepted");
	free(bad);
	bad = patched(img, len, "8bit,smtputf8", "smtputf8,8bit");
	okv(try_parse(bad, len, 0, &errstr) == -1, "non-canonical flags: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "8bit,smtputf8", "8bit,7bit0000");
	okv(try_parse(bad, len, 0, &errstr) == -1, "unknown flag: %s", errstr);
	free(bad);
	bad = patched(img, len, "B0:", "B1:");
	okv(try_parse(bad, len, 0, &errstr) == -1, "bad body marker: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "T10:", "Q10:");
	okv(try_parse(bad, len, 0, &errstr) == -1 &&
		strcmp(errstr, "unknown record") == 0,
	    "unknown record letter: %s", errstr);
	free(bad);
	bad = patched(img, len, "T10:", "t10:");
	okv(try_parse(bad, len, 0, &errstr) == -1, "lower-case key: %s",
	    errstr);
	free(bad);

	bad = inserted(img, len, hoff, "Z1:x\n", 5, &blen);
	okv(try_parse(bad, blen, 0, &errstr) == -1, "extra unknown record: %s",
	    errstr);
	free(bad);
	bad = inserted(img, len, hoff, "T1:5\n", 5, &blen);
	okv(try_parse(bad, blen, 0, &errstr) == -1, "repeated record: %s",
	    errstr);
	free(bad);
	bad = inserted(img, len, hoff, "R99999999:", 10, &blen);
	okv(try_parse(bad, blen, 0, &errstr) == -1, "huge length: %s", errstr);
	free(bad);
	bad = inserted(img, len, hoff, "R4097:", 6, &blen);
	okv(try_parse(bad, blen, 0, &errstr) == -1 &&
		strcmp(errstr, "record too long") == 0,
	    "length over QUEUE_ENV_REC_MAX: %s", errstr);
	free(bad);
	{
		/* A huge length must be refused before any data arrives. */
		const char pre[] = "RELAYQ 1\nI999999";

		okv(try_parse(pre, sizeof(pre) - 1, 0, &errstr) == -1,
		    "huge length refused early: %s", errstr);
	}

	/* Out of order: swap T and U records. */
	bad = patched(img, len, "T10:1700000000\nU4:1000\n",
	    "U4:1000\nT10:1700000000\n");
	okv(try_parse(bad, len, 0, &errstr) == -1, "records out of order: %s",
	    errstr);
	free(bad);

	/* Trailer damage. */
	okv(try_parse(img, len - 16, 0, &errstr) == -1, "missing trailer: %s",
	    errstr);
	bad = patched(img, len, "E11:32 ", "X11:32 ");
	okv(try_parse(bad, len, 0, &errstr) == -1, "bad trailer key: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "E11:32 ", "E11:31 ");
	okv(try_parse(bad, len, 0, &errstr) == -1, "wrong body length: %s",
	    errstr);
	free(bad);
	bad = patched(img, len, "E11:32 ", "E12:32 ");
	okv(try_parse(bad, len, 0, &errstr) == -1, "wrong trailer length: %s",
	    errstr);
	free(bad);
	withx = inserted(img, len, len, "x", 1, &blen);
	okv(try_parse(withx, blen, 0, &errstr) == -1, "extra byte: %s", errstr);
	free(withx);
	withx = inserted(img, len, len, "E11:12 00000abc\n", 16, &blen);
	okv(try_parse(withx, blen, 0, &errstr) == -1, "second trailer: %s",
	    errstr);
	free(withx);
	withx = inserted(img, len, hoff + 4, "X\r\n", 3, &blen);
	okv(try_parse(withx, blen, 0, &errstr) == -1, "extra body bytes: %s",
	    errstr);
	free(withx);

	/* Body damage: only the CRC notices. */
	bad = patched(img, len, "line one", "line 0ne");
	okv(try_parse(bad, len, 0, &errstr) == 0, "changed body without CRC");
	okv(try_parse(bad, len, 1, &errstr) == -1 &&
		strcmp(errstr, "checksum mismatch") == 0,
	    "changed body with CRC: %s", errstr);
	free(bad);
	free(img);
	queue_env_free(&e);

	{
		char *u = NULL;

		make_env(&e);
		img = build(&e, body1, strlen(body1), &len);
		u = xmalloc(len);
		memcpy(u, img, len);
		for (size_t i = len - 9; i < len - 1; i++)
			if (u[i] >= 'a' && u[i] <= 'f')
				u[i] = (char)(u[i] - 'a' + 'A');
		okv(memcmp(u, img, len) == 0 ||
			try_parse(u, len, 0, &errstr) == -1,
		    "upper-case CRC refused");
		free(u);
		free(img);
		queue_env_free(&e);
	}
}

/* Feeds body in pieces of at most step bytes; 0 or -1 as the checker. */
static int
wire_pieces(const char *body, size_t len, size_t step)
{
	struct queue_env_wire w;
	const char *errstr = "";

	queue_env_wire_init(&w);
	for (size_t i = 0; i < len; i += step)
		if (queue_env_wire_feed(&w, body + i,
			len - i < step ? len - i : step, &errstr) == -1)
			return -1;
	return queue_env_wire_end(&w, &errstr);
}

/*
 * The fast path inside lines: long lines, and CR, LF and dots at every
 * piece boundary give the same verdict whole and in pieces.
 */
static void
test_wire_split(void)
{
	static const struct {
		const char *body;
		int want;
	} cases[] = {
		{ "abcdefghij\r\n..klmnop\r\nqrstuvwxyz\r\n", 0 },
		{ "abcdefghij\r\nklmnop\nqrstuvwxyz\r\n", -1 },
		{ "abcdefghij\r\nklm\rnop\r\n", -1 },
		{ "abcdefghij\r\nklmnop\r\r\n", -1 },
		{ "abcdefghij\r\n.klmnop\r\n", -1 },
		{ "abcdefghij\r\nklmnop\r", -1 },
		{ "abcdefghij\r\nklmnop", -1 },
		{ "abcdefghij\r\n\r\n\r\nx\r\n", 0 },
	};
	static char big[70000];
	size_t bad = 0, n;

	for (size_t i = 0; i < RQ_NELEM(cases); i++)
		for (size_t step = 1; step <= strlen(cases[i].body); step++)
			if (wire_pieces(cases[i].body, strlen(cases[i].body),
				step) != cases[i].want)
				bad++;
	is_int(bad, 0, "wire check: same verdict in pieces of any size");
	/* one 69,998-byte line, then CRLF */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	n = sizeof(big);
	okv(wire_pieces(big, n, n) == 0 && wire_pieces(big, n, 4096) == 0 &&
		wire_pieces(big, n, 7) == 0,
	    "a 70,000-byte line in wire form accepted");
	big[30000] = '\n';
	okv(wire_pieces(big, n, n) == -1 && wire_pieces(big, n, 4096) == -1,
	    "a bare LF deep inside a long line refused");
	big[30000] = '\r';
	okv(wire_pieces(big, n, n) == -1 && wire_pieces(big, n, 30001) == -1,
	    "a bare CR deep inside a long line refused");
}

static void
test_wire(void)
{
	struct queue_env e;
	struct queue_env_wire w;
	const char *errstr = "";
	static const char *badbodies[] = { "bare LF\n", "bare\rCR\r\n", ".\r\n",
		".x\r\n", "ok\r\n.\r\n", "no end", "ab\r" };
	static const char *goodbodies[] = { "", "\r\n", "..\r\n",
		"a\r\n..b\r\n", "x.y\r\n" };
	char *img;
	size_t len;

	make_env(&e);
	for (size_t i = 0; i < RQ_NELEM(badbodies); i++) {
		img = build(&e, badbodies[i], strlen(badbodies[i]), &len);
		okv(try_parse(img, len, 1, &errstr) == -1,
		    "body %zu not in wire form refused: %s", i, errstr);
		free(img);
	}
	for (size_t i = 0; i < RQ_NELEM(goodbodies); i++) {
		img = build(&e, goodbodies[i], strlen(goodbodies[i]), &len);
		okv(try_parse(img, len, 1, &errstr) == 0,
		    "body %zu in wire form accepted", i);
		free(img);
	}
	img = build(&e, "no end", 6, &len);
	okv(try_parse(img, len, 0, &errstr) == -1,
	    "missing final CRLF refused even without CRC: %s", errstr);
	free(img);
	queue_env_free(&e);

	/* Chunk boundaries inside CRLF and "..". */
	queue_env_wire_init(&w);
	okv(queue_env_wire_feed(&w, "a\r", 2, &errstr) == 0 &&
		queue_env_wire_feed(&w, "\n.", 2, &errstr) == 0 &&
		queue_env_wire_feed(&w, ".b\r\n", 4, &errstr) == 0 &&
		queue_env_wire_end(&w, &errstr) == 0,
	    "wire check across chunks");
	queue_env_wire_init(&w);
	okv(queue_env_wire_feed(&w, "a\r\n.", 4, &errstr) == 0 &&
		queue_env_wire_feed(&w, "\r\n", 2, &errstr) == -1,
	    "lone dot across chunks refused");
	okv(queue_env_wire_feed(&w, "ok\r\n", 4, &errstr) == -1,
	    "wire error is sticky");
	test_wire_split();
}

static void
test_limits(void)
{
	struct queue_env e;
	const char *errstr;
	char *buf, addr[QUEUE_ENV_ADDR_MAX + 1];
	size_t len;
	int r = 0;

	queue_env_init(&e);
	for (size_t i = 0; i < QUEUE_ENV_RCPT_MAX && r == 0; i++)
		r = queue_env_add_rcpt(&e, "r@x");
	okv(r == 0, "QUEUE_ENV_RCPT_MAX recipients added");
	okv(queue_env_add_rcpt(&e, "r@x") == -1 && errno == E2BIG,
	    "one more refused");
	queue_env_free(&e);

	/* 20000 recipients of 250 bytes make a head over 4 MiB. */
	make_env(&e);
	memset(addr, 'd', 250);
	memcpy(addr, "x@", 2);
	addr[250] = '\0';
	for (size_t i = 0; i < 20000; i++)
		if (queue_env_add_rcpt(&e, addr) == -1)
			abort();
	okv(queue_env_format_head(&e, &buf, &len, &errstr) == -1 &&
		strcmp(errstr, "envelope too large") == 0,
	    "head over QUEUE_ENV_HEADER_MAX refused");
	queue_env_free(&e);
}

/* Writes an image to a temporary file and returns its fd. */
static int
tmpfile_with(const char *img, size_t len)
{
	char path[] = "/tmp/test_queue_env.XXXXXX";
	int fd = mkstemp(path);

	if (fd == -1 || unlink(path) == -1 ||
	    write(fd, img, len) != (ssize_t)len)
		abort();
	return fd;
}

static void
test_read_fd(void)
{
	struct queue_env e, p;
	const char *errstr = "";
	char *img, *big, *bad, *data;
	size_t len, blen;
	int fd;

	make_env(&e);
	img = build(&e, body1, strlen(body1), &len);
	fd = tmpfile_with(img, len);
	okv(queue_env_read_fd(&p, fd, 1, &errstr) == 0, "read_fd (%s)", errstr);
	is_int(p.body_len, strlen(body1), "read_fd body length");
	is_int(p.body_off + p.body_len + 16, len, "read_fd offsets");
	is_str(p.rcpts[1], "\"c d\"@example.com", "read_fd recipient");
	queue_env_free(&p);
	/* A small file is read once, whole, and handed over. */
	okv(queue_env_read_fd_size(&p, fd, len, 1, &data, &errstr) == 0,
	    "read_fd_size (%s)", errstr);
	ok(data != NULL && memcmp(data, img, len) == 0,
	    "read_fd_size hands over the whole small file");
	is_int(p.body_len, strlen(body1), "read_fd_size body length");
	queue_env_free(&p);
	free(data);
	close(fd);
	for (size_t n = 0; n < len; n += 7) {
		fd = tmpfile_with(img, n);
		if (queue_env_read_fd(&p, fd, 0, &errstr) == 0 ||
		    errno != EBADMSG)
			break;
		close(fd);
		fd = -1;
	}
	okv(fd == -1, "truncated files rejected by read_fd with EBADMSG");
	if (fd != -1)
		close(fd);
	bad = patched(img, len, "line one", "line 0ne");
	fd = tmpfile_with(bad, len);
	okv(queue_env_read_fd(&p, fd, 0, &errstr) == 0,
	    "read_fd without CRC skips the body");
	queue_env_free(&p);
	okv(queue_env_read_fd(&p, fd, 1, &errstr) == -1 && errno == EBADMSG,
	    "read_fd with CRC: %s", errstr);
	data = img;
	okv(queue_env_read_fd_size(&p, fd, len, 1, &data, &errstr) == -1 &&
		errno == EBADMSG && strcmp(errstr, "checksum mismatch") == 0 &&
		data == NULL,
	    "read_fd_size checks the CRC in memory: %s", errstr);
	close(fd);
	free(bad);
	bad = patched(img, len, "line one", "line\none");
	fd = tmpfile_with(bad, len);
	okv(queue_env_read_fd_size(&p, fd, len, 1, &data, &errstr) == -1 &&
		errno == EBADMSG && data == NULL,
	    "read_fd_size checks the wire form in memory: %s", errstr);
	close(fd);
	free(bad);
	free(img);

	/* A head larger than the first read, and a body of many chunks. */
	for (size_t i = 0; i < 300; i++)
		if (queue_env_add_rcpt(&e,
			"someone.with.a.long.name@example.org") == -1)
			abort();
	blen = 300 * 1024;
	big = xmalloc(blen);
	for (size_t i = 0; i < blen; i++)
		big[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : 'x';
	img = build(&e, big, blen, &len);
	fd = tmpfile_with(img, len);
	okv(queue_env_read_fd(&p, fd, 1, &errstr) == 0,
	    "large head and body (%s)", errstr);
	is_int(p.nrcpt, 302, "all recipients read");
	is_int(p.body_len, blen, "large body length");
	queue_env_free(&p);
	okv(queue_env_read_fd_size(&p, fd, len, 1, &data, &errstr) == 0 &&
		data == NULL,
	    "read_fd_size keeps no copy of a large file (%s)", errstr);
	queue_env_free(&p);
	close(fd);
	free(img);
	/* 100 KB: read whole when the CRC is checked, else only the head. */
	img = build(&e, big, 100 * 1024, &len);
	fd = tmpfile_with(img, len);
	okv(queue_env_read_fd_size(&p, fd, len, 1, &data, &errstr) == 0 &&
		data != NULL && memcmp(data, img, len) == 0,
	    "read_fd_size with CRC reads a 100 KB file whole (%s)", errstr);
	queue_env_free(&p);
	free(data);
	okv(queue_env_read_fd_size(&p, fd, len, 0, &data, &errstr) == 0 &&
		data == NULL,
	    "read_fd_size without CRC reads only its head (%s)", errstr);
	queue_env_free(&p);
	close(fd);
	free(img);
	free(big);
	queue_env_free(&e);

	fd = tmpfile_with("", 0);
	okv(queue_env_read_fd(&p, fd, 0, &errstr) == -1 && errno == EBADMSG,
	    "empty file rejected: %s", errstr);
	close(fd);
}

/* One record: KEY LEN ":" VALUE "\n", the length in decimal. */
static void
test_put(void)
{
	static char big[100000];
	char want[64];
	struct buf b;
	const size_t lens[] = { 0, 1, 9, 10, 99, 100, 65536, sizeof(big) };

	memset(big, 'v', sizeof(big));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int n = snprintf(want, sizeof(want), "R%zu:", lens[i]);

		buf_init(&b, sizeof(big) + 64);
		ok(queue_env_put(&b, 'R', big, lens[i]) == 0 &&
			b.len == (size_t)n + lens[i] + 1 &&
			memcmp(b.data, want, (size_t)n) == 0 &&
			b.data[b.len - 1] == '\n',
		    "record of %zu bytes: %s...", lens[i], want);
		buf_free(&b);
	}
	buf_init(&b, 8);
	ok(queue_env_put(&b, 'R', big, 10) == -1,
	    "a record over the buffer's bound is refused");
	buf_free(&b);
}

int
main(void)
{
	test_put();
	test_ids();
	test_crc();
	test_addr();
	test_format_refuses();
	test_round_trip();
	test_dsn();
	test_truncation();
	test_corruptions();
	test_wire();
	test_limits();
	test_read_fd();
	return done_testing();
}
