/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The message file format: envelope records, the body in SMTP wire form,
 * and a trailer.  This module formats and parses it; it does no path
 * handling and never decides what a bad file means (queue_spool does).
 * Invariants: every record is length-prefixed, so no byte of a value
 * (CR, LF, NUL included) can start another record; every value is
 * validated when written and again when read; a reader accepts a file
 * only if it ends with a trailer whose body length matches the file size
 * exactly.  Format version 1, byte for byte:
 *
 *	file    = magic head body trailer
 *	magic   = "RELAYQ 1\n"
 *	record  = KEY LEN ":" VALUE "\n"
 *	          KEY is one uppercase ASCII letter; LEN is the value's
 *	          length in decimal (1-7 digits, no sign, no leading zero
 *	          except "0"); VALUE is exactly LEN bytes of any value
 *	head    = I T U S [D] [V] (R [N] [O])+ [F] B, in exactly this order:
 *	  I     the queue id, 20 uppercase hex digits (queue_id.h); it must
 *	        equal the file name (checked by queue_spool)
 *	  T     arrival time, decimal seconds since the epoch
 *	  U     submitting uid, decimal
 *	  S     envelope sender; empty value means the null sender <>
 *	  D     optional DSN RET (RFC 3461): "FULL" or "HDRS"
 *	  V     optional DSN ENVID, decoded: 1-100 printable US-ASCII
 *	        bytes (0x21-0x7e); xtext-encoded only on the wire
 *	  R     one recipient per record, at least one, at most
 *	        QUEUE_ENV_RCPT_MAX
 *	  N     optional, after its R: DSN NOTIFY, "NEVER" or a non-empty
 *	        list of SUCCESS, FAILURE, DELAY in this order, comma-separated
 *	  O     optional, after its R (and N): DSN ORCPT, decoded:
 *	        "addr-type;address", 3-500 bytes of 0x20-0x7e, addr-type an
 *	        atom of letters, digits and '-'
 *	        (D, V, N and O were added after version 1 first shipped: a
 *	        file without them is byte-for-byte what it always was, so
 *	        old files stay readable; only mail submitted with DSN
 *	        options carries them)
 *	  F     optional flags, comma-separated words in this order:
 *	        "8bit" (body has bytes >= 0x80), "smtputf8" (an address is
 *	        not ASCII); absent when no flag is set, never empty
 *	  B     the body marker, always "B0:\n"
 *	body    = the message in wire form: CRLF line ends, no bare CR or
 *	          LF, every line starting with "." dot-stuffed to "..",
 *	          empty or ending in CRLF; the final ".\r\n" is NOT stored
 *	trailer = "E" LEN ":" BODYLEN " " CRC "\n", the last bytes of the file
 *	          BODYLEN is the body length in decimal (no leading zero),
 *	          CRC the CRC-32 (IEEE 802.3, reflected polynomial
 *	          0xEDB88320, as zlib) of the body as 8 lowercase hex digits
 *
 * Numbers (T, U, BODYLEN) are 1-19 decimal digits without sign or
 * leading zero and fit in a signed 64-bit integer.  Addresses pass
 * queue_env_check_addr().  A reader rejects: a wrong magic (a new format
 * gets a new magic), an unknown or misplaced record letter, a record
 * longer than QUEUE_ENV_REC_MAX, a head longer than QUEUE_ENV_HEADER_MAX,
 * a missing or malformed trailer, any byte count mismatch (truncation or
 * extra bytes), and, when asked, a CRC mismatch or a body not in wire
 * form.  The same text is in doc/queue-format.md.
 */
#include "config.h"

#include "queue/queue_env.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/dsn.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

#define QUEUE_ENV_MAGIC_LEN (sizeof(QUEUE_ENV_MAGIC) - 1)
#define QUEUE_ENV_LEN_DIGITS 7	 /* digits in a record length */
#define QUEUE_ENV_NUM_DIGITS 19	 /* digits in a number value */
#define QUEUE_ENV_LOCAL_MAX 64	 /* RFC 5321 4.5.3.1.1 */
#define QUEUE_ENV_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define QUEUE_ENV_FLAGS_MAX 64
/* Longest trailer line: "E29:" + 19 digits + " " + 8 hex + "\n". */
#define QUEUE_ENV_TRAILER_VAL_MAX (QUEUE_ENV_NUM_DIGITS + 1 + 8)
#define QUEUE_ENV_TRAILER_LEN (4 + QUEUE_ENV_TRAILER_VAL_MAX + 1)
#define QUEUE_ENV_READ_CHUNK 8192
#define QUEUE_ENV_CRC_CHUNK (64 * 1024)
/* With check_crc every byte is read: a file up to this size in one read. */
#define QUEUE_ENV_WHOLE_MAX (256 * 1024)

/* Outcome of parsing a possibly incomplete head. */
enum queue_env_pr {
	QUEUE_ENV_PR_OK,   /* complete and valid */
	QUEUE_ENV_PR_MORE, /* valid so far, needs more bytes */
	QUEUE_ENV_PR_BAD,  /* invalid; *errstr says why */
};

/* States of struct queue_env_wire. */
enum queue_env_wire_state {
	QUEUE_ENV_WIRE_BOL, /* at the start of a line */
	QUEUE_ENV_WIRE_DOT, /* after a '.' at the start of a line */
	QUEUE_ENV_WIRE_MID, /* inside a line */
	QUEUE_ENV_WIRE_CR,  /* after a CR */
	QUEUE_ENV_WIRE_ERR, /* a violation was seen */
};

static const uint32_t queue_env_crc_table[256] = {
	0x00000000,
	0x77073096,
	0xee0e612c,
	0x990951ba,
	0x076dc419,
	0x706af48f,
	0xe963a535,
	0x9e6495a3,
	0x0edb8832,
	0x79dcb8a4,
	0xe0d5e91e,
	0x97d2d988,
	0x09b64c2b,
	0x7eb17cbd,
	0xe7b82d07,
	0x90bf1d91,
	0x1db71064,
	0x6ab020f2,
	0xf3b97148,
	0x84be41de,
	0x1adad47d,
	0x6ddde4eb,
	0xf4d4b551,
	0x83d385c7,
	0x136c9856,
	0x646ba8c0,
	0xfd62f97a,
	0x8a65c9ec,
	0x14015c4f,
	0x63066cd9,
	0xfa0f3d63,
	0x8d080df5,
	0x3b6e20c8,
	0x4c69105e,
	0xd56041e4,
	0xa2677172,
	0x3c03e4d1,
	0x4b04d447,
	0xd20d85fd,
	0xa50ab56b,
	0x35b5a8fa,
	0x42b2986c,
	0xdbbbc9d6,
	0xacbcf940,
	0x32d86ce3,
	0x45df5c75,
	0xdcd60dcf,
	0xabd13d59,
	0x26d930ac,
	0x51de003a,
	0xc8d75180,
	0xbfd06116,
	0x21b4f4b5,
	0x56b3c423,
	0xcfba9599,
	0xb8bda50f,
	0x2802b89e,
	0x5f058808,
	0xc60cd9b2,
	0xb10be924,
	0x2f6f7c87,
	0x58684c11,
	0xc1611dab,
	0xb6662d3d,
	0x76dc4190,
	0x01db7106,
	0x98d220bc,
	0xefd5102a,
	0x71b18589,
	0x06b6b51f,
	0x9fbfe4a5,
	0xe8b8d433,
	0x7807c9a2,
	0x0f00f934,
	0x9609a88e,
	0xe10e9818,
	0x7f6a0dbb,
	0x086d3d2d,
	0x91646c97,
	0xe6635c01,
	0x6b6b51f4,
	0x1c6c6162,
	0x856530d8,
	0xf262004e,
	0x6c0695ed,
	0x1b01a57b,
	0x8208f4c1,
	0xf50fc457,
	0x65b0d9c6,
	0x12b7e950,
	0x8bbeb8ea,
	0xfcb9887c,
	0x62dd1ddf,
	0x15da2d49,
	0x8cd37cf3,
	0xfbd44c65,
	0x4db26158,
	0x3ab551ce,
	0xa3bc0074,
	0xd4bb30e2,
	0x4adfa541,
	0x3dd895d7,
	0xa4d1c46d,
	0xd3d6f4fb,
	0x4369e96a,
	0x346ed9fc,
	0xad678846,
	0xda60b8d0,
	0x44042d73,
	0x33031de5,
	0xaa0a4c5f,
	0xdd0d7cc9,
	0x5005713c,
	0x270241aa,
	0xbe0b1010,
	0xc90c2086,
	0x5768b525,
	0x206f85b3,
	0xb966d409,
	0xce61e49f,
	0x5edef90e,
	0x29d9c998,
	0xb0d09822,
	0xc7d7a8b4,
	0x59b33d17,
	0x2eb40d81,
	0xb7bd5c3b,
	0xc0ba6cad,
	0xedb88320,
	0x9abfb3b6,
	0x03b6e20c,
	0x74b1d29a,
	0xead54739,
	0x9dd277af,
	0x04db2615,
	0x73dc1683,
	0xe3630b12,
	0x94643b84,
	0x0d6d6a3e,
	0x7a6a5aa8,
	0xe40ecf0b,
	0x9309ff9d,
	0x0a00ae27,
	0x7d079eb1,
	0xf00f9344,
	0x8708a3d2,
	0x1e01f268,
	0x6906c2fe,
	0xf762575d,
	0x806567cb,
	0x196c3671,
	0x6e6b06e7,
	0xfed41b76,
	0x89d32be0,
	0x10da7a5a,
	0x67dd4acc,
	0xf9b9df6f,
	0x8ebeeff9,
	0x17b7be43,
	0x60b08ed5,
	0xd6d6a3e8,
	0xa1d1937e,
	0x38d8c2c4,
	0x4fdff252,
	0xd1bb67f1,
	0xa6bc5767,
	0x3fb506dd,
	0x48b2364b,
	0xd80d2bda,
	0xaf0a1b4c,
	0x36034af6,
	0x41047a60,
	0xdf60efc3,
	0xa867df55,
	0x316e8eef,
	0x4669be79,
	0xcb61b38c,
	0xbc66831a,
	0x256fd2a0,
	0x5268e236,
	0xcc0c7795,
	0xbb0b4703,
	0x220216b9,
	0x5505262f,
	0xc5ba3bbe,
	0xb2bd0b28,
	0x2bb45a92,
	0x5cb36a04,
	0xc2d7ffa7,
	0xb5d0cf31,
	0x2cd99e8b,
	0x5bdeae1d,
	0x9b64c2b0,
	0xec63f226,
	0x756aa39c,
	0x026d930a,
	0x9c0906a9,
	0xeb0e363f,
	0x72076785,
	0x05005713,
	0x95bf4a82,
	0xe2b87a14,
	0x7bb12bae,
	0x0cb61b38,
	0x92d28e9b,
	0xe5d5be0d,
	0x7cdcefb7,
	0x0bdbdf21,
	0x86d3d2d4,
	0xf1d4e242,
	0x68ddb3f8,
	0x1fda836e,
	0x81be16cd,
	0xf6b9265b,
	0x6fb077e1,
	0x18b74777,
	0x88085ae6,
	0xff0f6a70,
	0x66063bca,
	0x11010b5c,
	0x8f659eff,
	0xf862ae69,
	0x616bffd3,
	0x166ccf45,
	0xa00ae278,
	0xd70dd2ee,
	0x4e048354,
	0x3903b3c2,
	0xa7672661,
	0xd06016f7,
	0x4969474d,
	0x3e6e77db,
	0xaed16a4a,
	0xd9d65adc,
	0x40df0b66,
	0x37d83bf0,
	0xa9bcae53,
	0xdebb9ec5,
	0x47b2cf7f,
	0x30b5ffe9,
	0xbdbdf21c,
	0xcabac28a,
	0x53b39330,
	0x24b4a3a6,
	0xbad03605,
	0xcdd70693,
	0x54de5729,
	0x23d967bf,
	0xb3667a2e,
	0xc4614ab8,
	0x5d681b02,
	0x2a6f2b94,
	0xb40bbe37,
	0xc30c8ea1,
	0x5a05df1b,
	0x2d02ef8d,
};

/*
 * Slicing-by-8 (Intel's method): queue_env_crc_slice[k][b] is the CRC of
 * byte b followed by k + 1 zero bytes, so eight bytes cost eight table
 * lookups and no loop-carried byte chain.  Built from the table above at
 * the first input of QUEUE_ENV_CRC_SLICE_MIN bytes or more (about 7,000
 * instructions), so a short input (state files, a small message) pays
 * nothing; the processes that use it are single-threaded.
 */
#define QUEUE_ENV_CRC_SLICE_MIN 512
static uint32_t queue_env_crc_slice[7][256];
static int queue_env_crc_slice_ready;

/* Fills queue_env_crc_slice from queue_env_crc_table. */
static void
queue_env_crc_slice_init(void)
{
	for (size_t b = 0; b < 256; b++) {
		uint32_t c = queue_env_crc_table[b];

		for (size_t k = 0; k < 7; k++) {
			c = queue_env_crc_table[c & 0xff] ^ (c >> 8);
			queue_env_crc_slice[k][b] = c;
		}
	}
	queue_env_crc_slice_ready = 1;
}

/* Updates a CRC-32 with len bytes; start with 0. */
uint32_t
queue_env_crc32(uint32_t crc, const void *p, size_t len)
{
	const unsigned char *s = p;

	crc = ~crc;
	if (len >= QUEUE_ENV_CRC_SLICE_MIN) {
		if (!queue_env_crc_slice_ready)
			queue_env_crc_slice_init();
		for (; len >= 8; len -= 8, s += 8) {
			uint32_t lo = crc ^
			    ((uint32_t)s[0] | (uint32_t)s[1] << 8 |
				(uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);

			crc = queue_env_crc_slice[6][lo & 0xff] ^
			    queue_env_crc_slice[5][(lo >> 8) & 0xff] ^
			    queue_env_crc_slice[4][(lo >> 16) & 0xff] ^
			    queue_env_crc_slice[3][lo >> 24] ^
			    queue_env_crc_slice[2][s[4]] ^
			    queue_env_crc_slice[1][s[5]] ^
			    queue_env_crc_slice[0][s[6]] ^
			    queue_env_crc_table[s[7]];
		}
	}
	while (len-- > 0)
		crc = queue_env_crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Initialises an empty envelope. */
void
queue_env_init(struct queue_env *e)
{
	memset(e->id, 0, sizeof(e->id));
	e->arrival = 0;
	e->uid = 0;
	e->sender = NULL;
	e->rcpts = NULL;
	e->nrcpt = 0;
	e->flags = 0;
	e->body_off = 0;
	e->body_len = 0;
	e->rcpt_cap = 0;
	e->dsn_ret = NULL;
	e->dsn_envid = NULL;
	e->notify = NULL;
	e->orcpt = NULL;
	e->dsn_cap = 0;
}

/* Frees owned fields and re-initialises. */
void
queue_env_free(struct queue_env *e)
{
	free(e->sender);
	for (size_t i = 0; i < e->nrcpt; i++) {
		free(e->rcpts[i]);
		if (e->orcpt != NULL)
			free(e->orcpt[i]);
	}
	free(e->rcpts);
	free(e->dsn_ret);
	free(e->dsn_envid);
	free(e->notify);
	free(e->orcpt);
	queue_env_init(e);
}

static void queue_env_dsn_reserve(struct queue_env *e);

/* Appends a recipient string, taking ownership; the count is checked. */
static void
queue_env_push_rcpt(struct queue_env *e, char *rcpt_take)
{
	if (e->nrcpt >= e->rcpt_cap) {
		size_t cap = e->nrcpt < 8 ? 8 : e->nrcpt * 2;

		e->rcpts = xreallocarray(e->rcpts, cap, sizeof(*e->rcpts));
		e->rcpt_cap = cap;
		if (e->notify != NULL)
			queue_env_dsn_reserve(e);
	}
	e->rcpts[e->nrcpt++] = rcpt_take;
}

/* Appends a validated copy of rcpt. */
int
queue_env_add_rcpt(struct queue_env *e, const char *rcpt)
{
	const char *errstr;

	if (e->nrcpt >= QUEUE_ENV_RCPT_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (queue_env_check_addr(rcpt, 0, &errstr) == -1) {
		errno = EINVAL;
		return -1;
	}
	queue_env_push_rcpt(e, xstrdup(rcpt));
	return 0;
}

/* Makes room for per-recipient DSN values up to rcpt_cap (zeroed). */
static void
queue_env_dsn_reserve(struct queue_env *e)
{
	size_t cap = e->rcpt_cap;

	if (e->dsn_cap >= cap)
		return;
	e->notify = xreallocarray(e->notify, cap, sizeof(*e->notify));
	e->orcpt = xreallocarray(e->orcpt, cap, sizeof(*e->orcpt));
	for (size_t i = e->dsn_cap; i < cap; i++) {
		e->notify[i] = 0;
		e->orcpt[i] = NULL;
	}
	e->dsn_cap = cap;
}

/* Checks a NOTIFY set. */
int
queue_env_check_notify(unsigned notify)
{
	unsigned all = QUEUE_ENV_NOTIFY_NEVER | QUEUE_ENV_NOTIFY_SUCCESS |
	    QUEUE_ENV_NOTIFY_FAILURE | QUEUE_ENV_NOTIFY_DELAY;

	if (notify == 0 || (notify & ~all) != 0)
		return -1;
	if ((notify & QUEUE_ENV_NOTIFY_NEVER) &&
	    notify != QUEUE_ENV_NOTIFY_NEVER)
		return -1;
	return 0;
}

/* Formats a NOTIFY set. */
int
queue_env_notify_text(unsigned notify, char *buf, size_t bufsz)
{
	static const struct {
		unsigned bit;
		const char *word;
	} words[] = {
		{ QUEUE_ENV_NOTIFY_NEVER, "NEVER" },
		{ QUEUE_ENV_NOTIFY_SUCCESS, "SUCCESS" },
		{ QUEUE_ENV_NOTIFY_FAILURE, "FAILURE" },
		{ QUEUE_ENV_NOTIFY_DELAY, "DELAY" },
	};

	if (bufsz == 0 || queue_env_check_notify(notify) == -1)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if ((notify & words[i].bit) == 0)
			continue;
		if ((buf[0] != '\0' && strlcat(buf, ",", bufsz) >= bufsz) ||
		    strlcat(buf, words[i].word, bufsz) >= bufsz)
			return -1;
	}
	return 0;
}

/* Parses a NOTIFY list, case-insensitively. */
int
queue_env_parse_notify(const char *s, size_t len, unsigned *out)
{
	static const struct {
		unsigned bit;
		const char *word;
	} words[] = {
		{ QUEUE_ENV_NOTIFY_NEVER, "never" },
		{ QUEUE_ENV_NOTIFY_SUCCESS, "success" },
		{ QUEUE_ENV_NOTIFY_FAILURE, "failure" },
		{ QUEUE_ENV_NOTIFY_DELAY, "delay" },
	};
	unsigned bits = 0;
	size_t i = 0;

	while (i <= len) {
		size_t j = i, k;

		while (j < len && s[j] != ',')
			j++;
		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (j - i == strlen(words[k].word) &&
			    strncasecmp(s + i, words[k].word, j - i) == 0)
				break;
		if (k == sizeof(words) / sizeof(words[0]))
			return -1;
		bits |= words[k].bit;
		i = j + 1;
	}
	if (queue_env_check_notify(bits) == -1)
		return -1;
	*out = bits;
	return 0;
}

/* Checks an ENVID. */
int
queue_env_check_envid(const char *envid)
{
	size_t len = strlen(envid);

	if (len == 0 || len > QUEUE_ENV_ENVID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (envid[i] < 0x21 || envid[i] > 0x7e)
			return -1;
	return 0;
}

/* Checks an ORCPT: "type;address", printable ASCII. */
int
queue_env_check_orcpt(const char *orcpt)
{
	size_t len = strlen(orcpt), semi;

	if (len < 3 || len > QUEUE_ENV_ORCPT_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (orcpt[i] < 0x20 || orcpt[i] > 0x7e)
			return -1;
	semi = strcspn(orcpt, ";");
	if (semi == 0 || semi >= len - 1)
		return -1;
	for (size_t i = 0; i < semi; i++) {
		char c = orcpt[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-'))
			return -1;
	}
	return 0;
}

/* Sets the message's DSN RET and ENVID. */
int
queue_env_set_dsn(struct queue_env *e, const char *ret, const char *envid)
{
	if ((ret != NULL && strcasecmp(ret, "FULL") != 0 &&
		strcasecmp(ret, "HDRS") != 0) ||
	    (envid != NULL && queue_env_check_envid(envid) == -1)) {
		errno = EINVAL;
		return -1;
	}
	free(e->dsn_ret);
	free(e->dsn_envid);
	e->dsn_ret = NULL;
	e->dsn_envid = NULL;
	if (ret != NULL)
		e->dsn_ret =
		    xstrdup(strcasecmp(ret, "FULL") == 0 ? "FULL" : "HDRS");
	if (envid != NULL)
		e->dsn_envid = xstrdup(envid);
	return 0;
}

/* Appends a recipient with DSN parameters. */
int
queue_env_add_rcpt_dsn(struct queue_env *e, const char *rcpt, unsigned notify,
    const char *orcpt)
{
	if ((notify != 0 && queue_env_check_notify(notify) == -1) ||
	    (orcpt != NULL &&
		(queue_env_check_orcpt(orcpt) == -1 ||
		    dsn_orcpt_wire_len(orcpt) > DSN_ORCPT_WIRE_MAX))) {
		errno = EINVAL;
		return -1;
	}
	if (queue_env_add_rcpt(e, rcpt) == -1)
		return -1;
	if (notify == 0 && orcpt == NULL)
		return 0;
	queue_env_dsn_reserve(e);
	e->notify[e->nrcpt - 1] = notify;
	e->orcpt[e->nrcpt - 1] = orcpt != NULL ? xstrdup(orcpt) : NULL;
	return 0;
}

/* True for the RFC 5322 specials that may not appear unquoted. */
static int
queue_env_is_special(unsigned char c)
{
	return c == ' ' || strchr("()<>[]:;,\\\"@", c) != NULL;
}

/* Checks an envelope address as stored (see queue_env.h). */
int
queue_env_check_addr(const char *addr, int allow_null, const char **errstr)
{
	size_t len, at, i;

	if (addr == NULL) {
		*errstr = "missing address";
		return -1;
	}
	if ((len = strnlen(addr, QUEUE_ENV_ADDR_MAX + 1)) >
	    QUEUE_ENV_ADDR_MAX) {
		*errstr = "address too long";
		return -1;
	}
	if (len == 0) {
		if (allow_null)
			return 0;
		*errstr = "empty address";
		return -1;
	}
	if (str_has_ctl(addr, len)) {
		*errstr = "control character in address";
		return -1;
	}
	if (addr[0] == '"') {
		for (i = 1; addr[i] != '"'; i++) {
			if (addr[i] == '\\' && addr[i + 1] != '\0')
				i++;
			else if (addr[i] == '\0' || addr[i] == '\\') {
				*errstr = "unterminated quoted local part";
				return -1;
			}
		}
		at = i + 1;
	} else {
		for (at = 0; addr[at] != '\0' && addr[at] != '@'; at++) {
			if (queue_env_is_special((unsigned char)addr[at])) {
				*errstr = "invalid character in local part";
				return -1;
			}
		}
	}
	if (addr[at] != '@') {
		*errstr = "address is not local@domain";
		return -1;
	}
	if (at == 0) {
		*errstr = "empty local part";
		return -1;
	}
	if (at > QUEUE_ENV_LOCAL_MAX) {
		*errstr = "local part too long";
		return -1;
	}
	if (len - at - 1 == 0) {
		*errstr = "empty domain";
		return -1;
	}
	if (len - at - 1 > QUEUE_ENV_DOMAIN_MAX) {
		*errstr = "domain too long";
		return -1;
	}
	for (i = at + 1; i < len; i++) {
		if (strchr(" ()<>,;\\\"@", addr[i]) != NULL) {
			*errstr = "invalid character in domain";
			return -1;
		}
	}
	return 0;
}

/*
 * Appends one record to b.  The header is formatted by hand: a queue file
 * has a dozen records, a submission frame or a state file a few, and
 * vsnprintf() twice per record cost more than the rest of writing them.
 */
int
queue_env_put(struct buf *b, char key, const void *val, size_t len)
{
	char head[1 + 20 + 1], dig[20];
	size_t nd = 0, h = 0, v = len;

	do {
		dig[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	head[h++] = key;
	while (nd > 0)
		head[h++] = dig[--nd];
	head[h++] = ':';
	if (buf_add(b, head, h) == -1 || buf_add(b, val, len) == -1 ||
	    buf_add(b, "\n", 1) == -1)
		return -1;
	return 0;
}

/* Appends a record holding a decimal number. */
static int
queue_env_put_num(struct buf *b, char key, unsigned long long v)
{
	char num[24];
	int n;

	if ((n = rq_snprintf(num, sizeof(num), "%llu", v)) == -1)
		return -1;
	return queue_env_put(b, key, num, (size_t)n);
}

/* Formats the flag words for flags into out; returns -1 on unknown bits. */
static int
queue_env_flags_text(unsigned flags, char *out, size_t outsz)
{
	out[0] = '\0';
	if (flags & ~(unsigned)(QUEUE_ENV_F_8BIT | QUEUE_ENV_F_SMTPUTF8))
		return -1;
	if (flags & QUEUE_ENV_F_8BIT)
		(void)strlcat(out, "8bit", outsz);
	if (flags & QUEUE_ENV_F_SMTPUTF8) {
		if (out[0] != '\0')
			(void)strlcat(out, ",", outsz);
		(void)strlcat(out, "smtputf8", outsz);
	}
	return 0;
}

/* Serialises the head of e, up to and including "B0:\n". */
int
queue_env_format_head(const struct queue_env *e, char **bufp, size_t *lenp,
    const char **errstr)
{
	struct buf b;
	char flags[QUEUE_ENV_FLAGS_MAX];

	if (!queue_id_is_valid(e->id)) {
		*errstr = "invalid queue id";
		return -1;
	}
	if (e->arrival < 0 || e->uid < 0) {
		*errstr = "negative arrival time or uid";
		return -1;
	}
	if (queue_env_check_addr(e->sender, 1, errstr) == -1)
		return -1;
	if (e->nrcpt == 0) {
		*errstr = "no recipients";
		return -1;
	}
	if (e->nrcpt > QUEUE_ENV_RCPT_MAX) {
		*errstr = "too many recipients";
		return -1;
	}
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (queue_env_check_addr(e->rcpts[i], 0, errstr) == -1)
			return -1;
		if ((e->notify != NULL && e->notify[i] != 0 &&
			queue_env_check_notify(e->notify[i]) == -1) ||
		    (e->orcpt != NULL && e->orcpt[i] != NULL &&
			queue_env_check_orcpt(e->orcpt[i]) == -1)) {
			*errstr = "invalid DSN recipient parameter";
			return -1;
		}
	}
	if ((e->dsn_ret != NULL && strcmp(e->dsn_ret, "FULL") != 0 &&
		strcmp(e->dsn_ret, "HDRS") != 0) ||
	    (e->dsn_envid != NULL &&
		queue_env_check_envid(e->dsn_envid) == -1)) {
		*errstr = "invalid DSN parameter";
		return -1;
	}
	if (queue_env_flags_text(e->flags, flags, sizeof(flags)) == -1) {
		*errstr = "unknown flag";
		return -1;
	}

	buf_init(&b, QUEUE_ENV_HEADER_MAX);
	if (buf_add(&b, QUEUE_ENV_MAGIC, QUEUE_ENV_MAGIC_LEN) == -1 ||
	    queue_env_put(&b, 'I', e->id, QUEUE_ID_LEN) == -1 ||
	    queue_env_put_num(&b, 'T', (unsigned long long)e->arrival) == -1 ||
	    queue_env_put_num(&b, 'U', (unsigned long long)e->uid) == -1 ||
	    queue_env_put(&b, 'S', e->sender, strlen(e->sender)) == -1)
		goto toolarge;
	if (e->dsn_ret != NULL &&
	    queue_env_put(&b, 'D', e->dsn_ret, strlen(e->dsn_ret)) == -1)
		goto toolarge;
	if (e->dsn_envid != NULL &&
	    queue_env_put(&b, 'V', e->dsn_envid, strlen(e->dsn_envid)) == -1)
		goto toolarge;
	for (size_t i = 0; i < e->nrcpt; i++) {
		char nt[QUEUE_ENV_FLAGS_MAX];

		if (queue_env_put(&b, 'R', e->rcpts[i], strlen(e->rcpts[i])) ==
		    -1)
			goto toolarge;
		if (e->notify != NULL && e->notify[i] != 0 &&
		    (queue_env_notify_text(e->notify[i], nt, sizeof(nt)) ==
			    -1 ||
			queue_env_put(&b, 'N', nt, strlen(nt)) == -1))
			goto toolarge;
		if (e->orcpt != NULL && e->orcpt[i] != NULL &&
		    queue_env_put(&b, 'O', e->orcpt[i], strlen(e->orcpt[i])) ==
			-1)
			goto toolarge;
	}
	if (flags[0] != '\0' &&
	    queue_env_put(&b, 'F', flags, strlen(flags)) == -1)
		goto toolarge;
	if (queue_env_put(&b, 'B', "", 0) == -1)
		goto toolarge;
	*bufp = buf_take(&b, lenp);
	return 0;

toolarge:
	buf_free(&b);
	*errstr = "envelope too large";
	return -1;
}

/* Formats the trailer line for a body. */
int
queue_env_format_trailer(uint64_t body_len, uint32_t crc, char *buf,
    size_t bufsz)
{
	char val[QUEUE_ENV_TRAILER_VAL_MAX + 1];
	int n;

	if (body_len > (uint64_t)LLONG_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if ((n = rq_snprintf(val, sizeof(val), "%llu %08lx",
		 (unsigned long long)body_len, (unsigned long)crc)) == -1)
		return -1;
	if (rq_snprintf(buf, bufsz, "E%d:%s\n", n, val) == -1)
		return -1;
	return 0;
}

/* Starts a wire-form check at the beginning of a line. */
void
queue_env_wire_init(struct queue_env_wire *w)
{
	w->state = QUEUE_ENV_WIRE_BOL;
	w->error = NULL;
}

/* Returns the state after byte c inside a line (or at its start). */
static int
queue_env_wire_mid(struct queue_env_wire *w, unsigned char c)
{
	if (c == '\r')
		return QUEUE_ENV_WIRE_CR;
	if (c == '\n') {
		w->error = "bare LF in body";
		return QUEUE_ENV_WIRE_ERR;
	}
	return QUEUE_ENV_WIRE_MID;
}

/* Advances the wire-form check over len bytes. */
int
queue_env_wire_feed(struct queue_env_wire *w, const void *p, size_t len,
    const char **errstr)
{
	const unsigned char *s = p;
	int st = w->state;

	for (size_t i = 0; i < len && st != QUEUE_ENV_WIRE_ERR; i++) {
		unsigned char c;

		if (st == QUEUE_ENV_WIRE_MID) {
			/*
			 * Fast path inside a line: jump to its CR, which must
			 * be followed by LF; no other CR or LF on the way.
			 */
			const unsigned char *nl = memchr(s + i, '\n', len - i);
			const unsigned char *end = nl != NULL ? nl : s + len;
			const unsigned char *cr =
			    memchr(s + i, '\r', (size_t)(end - (s + i)));

			if (cr == NULL && nl == NULL)
				break; /* all of it inside the line */
			if (cr == NULL) {
				w->error = "bare LF in body";
				st = QUEUE_ENV_WIRE_ERR;
				break;
			}
			if (cr + 1 == s + len) {
				st = QUEUE_ENV_WIRE_CR;
				break;
			}
			if (cr + 1 != nl) {
				w->error = "bare CR in body";
				st = QUEUE_ENV_WIRE_ERR;
				break;
			}
			i = (size_t)(nl - s);
			st = QUEUE_ENV_WIRE_BOL;
			continue;
		}
		c = s[i];
		switch (st) {
		case QUEUE_ENV_WIRE_BOL:
			st = c == '.' ? QUEUE_ENV_WIRE_DOT
				      : queue_env_wire_mid(w, c);
			break;
		case QUEUE_ENV_WIRE_DOT:
			st = QUEUE_ENV_WIRE_MID;
			if (c != '.') {
				w->error = "line starting with '.' is not "
					   "dot-stuffed";
				st = QUEUE_ENV_WIRE_ERR;
			}
			break;
		case QUEUE_ENV_WIRE_CR:
			st = QUEUE_ENV_WIRE_BOL;
			if (c != '\n') {
				w->error = "bare CR in body";
				st = QUEUE_ENV_WIRE_ERR;
			}
			break;
		default:
			st = queue_env_wire_mid(w, c);
			break;
		}
	}
	w->state = st;
	if (st == QUEUE_ENV_WIRE_ERR) {
		*errstr = w->error;
		return -1;
	}
	return 0;
}

/* Checks that the body ended with CRLF (or was empty). */
int
queue_env_wire_end(const struct queue_env_wire *w, const char **errstr)
{
	if (w->state == QUEUE_ENV_WIRE_ERR) {
		*errstr = w->error;
		return -1;
	}
	if (w->state != QUEUE_ENV_WIRE_BOL) {
		*errstr = "body does not end with CRLF";
		return -1;
	}
	return 0;
}

/*
 * Splits the record at data[*off] (avail bytes in all) into r and
 * advances *off past it.  Values longer than maxlen are rejected before
 * anything else, so a huge length never makes the reader wait for more.
 */
static enum queue_env_pr
queue_env_rec_get(const char *data, size_t avail, size_t *off, size_t maxlen,
    struct queue_env_rec *r, const char **errstr)
{
	size_t p = *off, len = 0, ndig = 0;

	if (p >= avail)
		return QUEUE_ENV_PR_MORE;
	if (data[p] < 'A' || data[p] > 'Z') {
		*errstr = "bad record key";
		return QUEUE_ENV_PR_BAD;
	}
	r->key = data[p++];
	for (;; p++, ndig++) {
		if (p >= avail)
			return QUEUE_ENV_PR_MORE;
		if (data[p] == ':')
			break;
		if (data[p] < '0' || data[p] > '9' ||
		    ndig >= QUEUE_ENV_LEN_DIGITS || (ndig > 0 && len == 0)) {
			*errstr = "bad record length";
			return QUEUE_ENV_PR_BAD;
		}
		len = len * 10 + (size_t)(data[p] - '0');
		if (len > maxlen) {
			*errstr = "record too long";
			return QUEUE_ENV_PR_BAD;
		}
	}
	if (ndig == 0) {
		*errstr = "bad record length";
		return QUEUE_ENV_PR_BAD;
	}
	p++;
	if (avail - p < len + 1)
		return QUEUE_ENV_PR_MORE;
	if (data[p + len] != '\n') {
		*errstr = "record not terminated";
		return QUEUE_ENV_PR_BAD;
	}
	r->val = data + p;
	r->len = len;
	*off = p + len + 1;
	return QUEUE_ENV_PR_OK;
}

/* Parses a decimal number of 1-19 digits without leading zero. */
static int
queue_env_num(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > QUEUE_ENV_NUM_DIGITS || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Splits one complete record (shared with queue_state). */
int
queue_env_record(const char *data, size_t size, size_t *off, size_t maxlen,
    struct queue_env_rec *r, const char **errstr)
{
	switch (queue_env_rec_get(data, size, off, maxlen, r, errstr)) {
	case QUEUE_ENV_PR_OK:
		return 0;
	case QUEUE_ENV_PR_MORE:
		*errstr = "truncated record";
		return -1;
	default:
		return -1;
	}
}

/* Parses a number value (shared with queue_state). */
int
queue_env_parse_num(const char *s, size_t len, long long *out)
{
	return queue_env_num(s, len, out);
}

/* Copies an address record value into a new string and checks it. */
static char *
queue_env_rec_addr(const struct queue_env_rec *r, int allow_null,
    const char **errstr)
{
	char *s;

	if (memchr(r->val, '\0', r->len) != NULL) {
		*errstr = "NUL in address";
		return NULL;
	}
	s = xstrndup(r->val, r->len);
	if (queue_env_check_addr(s, allow_null, errstr) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

/* Parses the F record's flag words. */
static int
queue_env_rec_flags(const struct queue_env_rec *r, unsigned *flags)
{
	char want[QUEUE_ENV_FLAGS_MAX];
	unsigned f = 0;
	size_t i = 0;

	/* Decode word by word, then require the canonical spelling. */
	while (i < r->len) {
		size_t j = i;

		while (j < r->len && r->val[j] != ',')
			j++;
		if (j - i == 4 && memcmp(r->val + i, "8bit", 4) == 0)
			f |= QUEUE_ENV_F_8BIT;
		else if (j - i == 8 && memcmp(r->val + i, "smtputf8", 8) == 0)
			f |= QUEUE_ENV_F_SMTPUTF8;
		else
			return -1;
		i = j + 1;
	}
	if (f == 0 || queue_env_flags_text(f, want, sizeof(want)) == -1 ||
	    strlen(want) != r->len || memcmp(want, r->val, r->len) != 0)
		return -1;
	*flags = f;
	return 0;
}

/*
 * Returns the step after a record with key, or -1 when the key is not
 * allowed there.  The step is the previous record's key (0 before the
 * first); 'B' means done.
 */
static int
queue_env_next_step(int step, char key)
{
	static const struct {
		char after;
		const char *allowed;
	} order[] = {
		{ 0, "I" },
		{ 'I', "T" },
		{ 'T', "U" },
		{ 'U', "S" },
		{ 'S', "DVR" },
		{ 'D', "VR" },
		{ 'V', "R" },
		{ 'R', "RNOFB" },
		{ 'N', "ROFB" },
		{ 'O', "RFB" },
		{ 'F', "B" },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i].after == step)
			return strchr(order[i].allowed, key) != NULL ? key : -1;
	return -1;
}

/* Copies a printable DSN value and checks it with check. */
static char *
queue_env_rec_text(const struct queue_env_rec *r, int (*check)(const char *))
{
	char *v;

	if (memchr(r->val, '\0', r->len) != NULL)
		return NULL;
	v = xstrndup(r->val, r->len);
	if (check(v) == -1) {
		free(v);
		return NULL;
	}
	return v;
}

/* Applies one head record to e; step tracks the required order. */
static int
queue_env_apply(struct queue_env *e, const struct queue_env_rec *r, int *step,
    const char **errstr)
{
	char *s;
	int next;

	if (strchr("ITUSDVRNOFB", r->key) == NULL) {
		*errstr = "unknown record";
		return -1;
	}
	if ((next = queue_env_next_step(*step, r->key)) == -1) {
		*errstr = "record missing or out of order";
		return -1;
	}
	*step = next;
	switch (r->key) {
	case 'I':
		*errstr = "invalid queue id";
		if (r->len != QUEUE_ID_LEN)
			return -1;
		memcpy(e->id, r->val, QUEUE_ID_LEN);
		e->id[QUEUE_ID_LEN] = '\0';
		return queue_id_is_valid(e->id) ? 0 : -1;
	case 'T':
	case 'U':
		*errstr = "invalid number";
		return queue_env_num(r->val, r->len,
		    r->key == 'T' ? &e->arrival : &e->uid);
	case 'S':
		if ((e->sender = queue_env_rec_addr(r, 1, errstr)) == NULL)
			return -1;
		return 0;
	case 'R':
		if (e->nrcpt >= QUEUE_ENV_RCPT_MAX) {
			*errstr = "too many recipients";
			return -1;
		}
		if ((s = queue_env_rec_addr(r, 0, errstr)) == NULL)
			return -1;
		queue_env_push_rcpt(e, s);
		return 0;
	case 'D':
		*errstr = "invalid DSN RET";
		if ((r->len != 4 ||
			(memcmp(r->val, "FULL", 4) != 0 &&
			    memcmp(r->val, "HDRS", 4) != 0)))
			return -1;
		e->dsn_ret = xstrndup(r->val, r->len);
		return 0;
	case 'V':
		*errstr = "invalid DSN ENVID";
		e->dsn_envid = queue_env_rec_text(r, queue_env_check_envid);
		return e->dsn_envid != NULL ? 0 : -1;
	case 'N': {
		char want[QUEUE_ENV_FLAGS_MAX];
		unsigned n;

		*errstr = "invalid DSN NOTIFY";
		if (queue_env_parse_notify(r->val, r->len, &n) == -1 ||
		    queue_env_notify_text(n, want, sizeof(want)) == -1 ||
		    strlen(want) != r->len || memcmp(want, r->val, r->len) != 0)
			return -1;
		queue_env_dsn_reserve(e);
		e->notify[e->nrcpt - 1] = n;
		return 0;
	}
	case 'O':
		*errstr = "invalid DSN ORCPT";
		if ((s = queue_env_rec_text(r, queue_env_check_orcpt)) == NULL)
			return -1;
		queue_env_dsn_reserve(e);
		e->orcpt[e->nrcpt - 1] = s;
		return 0;
	case 'F':
		*errstr = "invalid flags";
		return queue_env_rec_flags(r, &e->flags);
	default:
		*errstr = "bad body marker";
		return r->len == 0 ? 0 : -1;
	}
}

/*
 * Parses the head from the first avail bytes of a file into e (which
 * is freed first) and sets *body_off.  MORE means the bytes so far are a
 * valid prefix; e is left empty unless the result is OK.
 */
static enum queue_env_pr
queue_env_parse_head(struct queue_env *e, const char *data, size_t avail,
    uint64_t *body_off, const char **errstr)
{
	struct queue_env_rec r;
	enum queue_env_pr pr;
	size_t off, lim;
	int step = 0;

	queue_env_free(e);
	if (avail == 0)
		return QUEUE_ENV_PR_MORE;
	if (avail < QUEUE_ENV_MAGIC_LEN) {
		if (memcmp(data, QUEUE_ENV_MAGIC, avail) != 0) {
			*errstr = "bad magic";
			return QUEUE_ENV_PR_BAD;
		}
		return QUEUE_ENV_PR_MORE;
	}
	if (memcmp(data, QUEUE_ENV_MAGIC, QUEUE_ENV_MAGIC_LEN) != 0) {
		*errstr = "bad magic";
		return QUEUE_ENV_PR_BAD;
	}
	lim = avail > QUEUE_ENV_HEADER_MAX ? QUEUE_ENV_HEADER_MAX : avail;
	off = QUEUE_ENV_MAGIC_LEN;
	while (step != 'B') {
		pr = queue_env_rec_get(data, lim, &off, QUEUE_ENV_REC_MAX, &r,
		    errstr);
		if (pr == QUEUE_ENV_PR_MORE && lim == QUEUE_ENV_HEADER_MAX) {
			*errstr = "envelope too large";
			pr = QUEUE_ENV_PR_BAD;
		}
		if (pr == QUEUE_ENV_PR_OK &&
		    queue_env_apply(e, &r, &step, errstr) == -1)
			pr = QUEUE_ENV_PR_BAD;
		if (pr != QUEUE_ENV_PR_OK) {
			queue_env_free(e);
			return pr;
		}
	}
	*body_off = off;
	return QUEUE_ENV_PR_OK;
}

/*
 * Parses the trailer at the end of tail (the last tlen bytes of the
 * file; whole is nonzero when tail starts right at the body).  Sets
 * *trlen to the trailer's length.
 */
static int
queue_env_parse_trailer(const char *tail, size_t tlen, int whole, size_t *trlen,
    uint64_t *body_len, uint32_t *crc, const char **errstr)
{
	struct queue_env_rec r;
	size_t start = 0, off, sp;
	long long len;
	unsigned long c = 0;
	const char *why;

	if (tlen == 0 || tail[tlen - 1] != '\n')
		goto bad;
	for (start = tlen - 1; start > 0 && tail[start - 1] != '\n'; start--)
		;
	if (start == 0 && !whole)
		goto bad;
	off = start;
	if (queue_env_rec_get(tail, tlen, &off, QUEUE_ENV_TRAILER_VAL_MAX, &r,
		&why) != QUEUE_ENV_PR_OK ||
	    off != tlen || r.key != 'E')
		goto bad;
	for (sp = 0; sp < r.len && r.val[sp] != ' '; sp++)
		;
	if (queue_env_num(r.val, sp, &len) == -1 || r.len - sp != 9)
		goto bad;
	for (size_t i = sp + 1; i < r.len; i++) {
		char h = r.val[i];

		if (h >= '0' && h <= '9')
			c = c << 4 | (unsigned long)(h - '0');
		else if (h >= 'a' && h <= 'f')
			c = c << 4 | (unsigned long)(h - 'a' + 10);
		else
			goto bad;
	}
	*trlen = tlen - start;
	*body_len = (uint64_t)len;
	*crc = (uint32_t)c;
	return 0;

bad:
	*errstr = "missing or bad trailer";
	return -1;
}

/*
 * Checks the trailer found in tail against the file size and the head,
 * and sets e->body_len.  tail holds the last tlen bytes of a file of
 * size bytes whose body starts at e->body_off.
 */
static int
queue_env_check_tail(struct queue_env *e, const char *tail, size_t tlen,
    uint64_t size, uint32_t *crc, const char **errstr)
{
	uint64_t rest = size - e->body_off, blen;
	size_t trlen;

	if (queue_env_parse_trailer(tail, tlen, rest == tlen, &trlen, &blen,
		crc, errstr) == -1)
		return -1;
	if (rest < trlen || blen != rest - trlen) {
		*errstr = "body length does not match file size";
		return -1;
	}
	if (blen > 0 &&
	    (blen < 2 || tail[tlen - trlen - 2] != '\r' ||
		tail[tlen - trlen - 1] != '\n')) {
		*errstr = "body does not end with CRLF";
		return -1;
	}
	e->body_len = blen;
	return 0;
}

/* Length of the tail to examine for a file with rest bytes after the head. */
static size_t
queue_env_tail_len(uint64_t rest)
{
	return rest < QUEUE_ENV_TRAILER_LEN + 2 ? (size_t)rest
						: QUEUE_ENV_TRAILER_LEN + 2;
}

/* Checks a body held in memory (wire form, then the CRC). */
static int
queue_env_check_body_mem(const char *body, size_t len, uint32_t crc,
    const char **errstr)
{
	struct queue_env_wire w;

	queue_env_wire_init(&w);
	if (queue_env_wire_feed(&w, body, len, errstr) == -1 ||
	    queue_env_wire_end(&w, errstr) == -1) {
		errno = EBADMSG;
		return -1;
	}
	if (queue_env_crc32(0, body, len) != crc) {
		*errstr = "checksum mismatch";
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* Parses a message file held in memory. */
int
queue_env_parse(struct queue_env *e, const char *data, size_t size,
    int check_crc, const char **errstr)
{
	enum queue_env_pr pr;
	uint32_t crc;
	size_t tlen;

	queue_env_init(e);
	pr = queue_env_parse_head(e, data, size, &e->body_off, errstr);
	if (pr == QUEUE_ENV_PR_MORE)
		*errstr = "truncated envelope";
	if (pr != QUEUE_ENV_PR_OK)
		goto bad;
	tlen = queue_env_tail_len(size - e->body_off);
	if (queue_env_check_tail(e, data + size - tlen, tlen, size, &crc,
		errstr) == -1)
		goto bad;
	if (check_crc &&
	    queue_env_check_body_mem(data + e->body_off, (size_t)e->body_len,
		crc, errstr) == -1)
		goto bad;
	return 0;

bad:
	queue_env_free(e);
	errno = EBADMSG;
	return -1;
}

/*
 * Reads exactly len bytes at off.  A short read means the file changed
 * under us and is reported as a format error.
 */
static int
queue_env_pread(int fd, void *p, size_t len, uint64_t off, const char **errstr)
{
	char *s = p;

	while (len > 0) {
		ssize_t n = pread(fd, s, len, (off_t)off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			*errstr = "read error";
			return -1;
		}
		if (n == 0) {
			*errstr = "file shrank while reading";
			errno = EBADMSG;
			return -1;
		}
		s += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Streams the body for its CRC and wire-form check. */
static int
queue_env_check_body(const struct queue_env *e, int fd, uint32_t crc,
    const char **errstr)
{
	struct queue_env_wire w;
	uint64_t off = e->body_off, left = e->body_len;
	uint32_t got = 0;
	char *chunk = xmalloc(QUEUE_ENV_CRC_CHUNK);
	int saved_errno;

	queue_env_wire_init(&w);
	while (left > 0) {
		size_t n = left < QUEUE_ENV_CRC_CHUNK ? (size_t)left
						      : QUEUE_ENV_CRC_CHUNK;

		if (queue_env_pread(fd, chunk, n, off, errstr) == -1)
			goto fail;
		got = queue_env_crc32(got, chunk, n);
		if (queue_env_wire_feed(&w, chunk, n, errstr) == -1) {
			errno = EBADMSG;
			goto fail;
		}
		off += n;
		left -= n;
	}
	free(chunk);
	if (queue_env_wire_end(&w, errstr) == -1) {
		errno = EBADMSG;
		return -1;
	}
	if (got != crc) {
		*errstr = "checksum mismatch";
		errno = EBADMSG;
		return -1;
	}
	return 0;

fail:
	saved_errno = errno;
	free(chunk);
	errno = saved_errno;
	return -1;
}

/* Reads and parses the message file open on fd. */
int
queue_env_read_fd(struct queue_env *e, int fd, int check_crc,
    const char **errstr)
{
	struct stat st;

	queue_env_init(e);
	if (fstat(fd, &st) == -1) {
		*errstr = "cannot stat";
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		*errstr = "not a regular file";
		errno = EBADMSG;
		return -1;
	}
	return queue_env_read_fd_size(e, fd, (uint64_t)st.st_size, check_crc,
	    NULL, errstr);
}

/*
 * Reads and parses the regular file of size bytes open on fd.  A file
 * that the first read takes whole (up to QUEUE_ENV_READ_CHUNK bytes, or
 * QUEUE_ENV_WHOLE_MAX with check_crc, which reads the body anyway) is
 * not read again: its trailer and, with check_crc, its body are checked
 * in memory.
 */
int
queue_env_read_fd_size(struct queue_env *e, int fd, uint64_t size,
    int check_crc, char **data, const char **errstr)
{
	enum queue_env_pr pr;
	char *head = NULL;
	char tail[QUEUE_ENV_TRAILER_LEN + 2];
	size_t have = 0, want = QUEUE_ENV_READ_CHUNK, tlen;
	uint32_t crc;
	int saved_errno;

	queue_env_init(e);
	if (data != NULL)
		*data = NULL;
	if (check_crc && size <= QUEUE_ENV_WHOLE_MAX)
		want = (size_t)size;

	/* Read the head in growing chunks until it is complete. */
	for (;;) {
		size_t target = want;

		if ((uint64_t)target > size)
			target = (size_t)size;
		if (target > QUEUE_ENV_HEADER_MAX)
			target = QUEUE_ENV_HEADER_MAX;
		head = xreallocarray(head, target, 1);
		if (queue_env_pread(fd, head + have, target - have, have,
			errstr) == -1)
			goto fail;
		have = target;
		pr = queue_env_parse_head(e, head, have, &e->body_off, errstr);
		if (pr == QUEUE_ENV_PR_OK)
			break;
		if (pr == QUEUE_ENV_PR_MORE && (uint64_t)have == size) {
			*errstr = "truncated envelope";
			pr = QUEUE_ENV_PR_BAD;
		}
		if (pr == QUEUE_ENV_PR_BAD) {
			errno = EBADMSG;
			goto fail;
		}
		want = have * 2;
	}
	tlen = queue_env_tail_len(size - e->body_off);
	if ((uint64_t)have == size) {
		/* The whole file is in memory. */
		if (queue_env_check_tail(e, head + have - tlen, tlen, size,
			&crc, errstr) == -1) {
			errno = EBADMSG;
			goto fail;
		}
		if (check_crc &&
		    queue_env_check_body_mem(head + e->body_off,
			(size_t)e->body_len, crc, errstr) == -1)
			goto fail;
		if (data != NULL)
			*data = head;
		else
			free(head);
		return 0;
	}
	free(head);
	head = NULL;

	if (queue_env_pread(fd, tail, tlen, size - tlen, errstr) == -1)
		goto fail;
	if (queue_env_check_tail(e, tail, tlen, size, &crc, errstr) == -1) {
		errno = EBADMSG;
		goto fail;
	}
	if (check_crc && queue_env_check_body(e, fd, crc, errstr) == -1)
		goto fail;
	return 0;

fail:
	saved_errno = errno;
	free(head);
	queue_env_free(e);
	errno = saved_errno;
	return -1;
}
