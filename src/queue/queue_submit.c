/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The submission protocol (doc/submit-protocol.md) and the Received:
 * field both submission paths write.
 *
 * What this module owns: the frame syntax (KEY LEN ":" VALUE "\n", the
 * record encoding of the spool files, queue-format.md section 3), the
 * order of frames, the bound on every value, and the validation of each
 * value that can be checked without the peer's identity.  It does no
 * I/O and keeps no pointer to its input: relayqd_submit.c (the server)
 * and sendmail_socket.c (the client) feed it whatever read() returned.
 *
 * What it leaves to others: who the submitter is (SO_PEERCRED, in
 * relayqd_submit.c), what the sender may be (allow_from_override), the
 * configured size limit (checked by the server on the Z event, before
 * any body byte is read), the wire form of the body (queue_env_wire,
 * through the queue writer), and durability (queue_writer_commit).
 *
 * Invariants: a length is bounded before its value is read (a frame
 * header is at most 1 key + 7 digits + ':'); a non-body value is
 * copied into the parser's fixed buffer, never allocated; body bytes
 * are handed out in place, in pieces, and their sum never exceeds the
 * declared size; an error is sticky, so a caller that ignores one
 * return value still cannot resume a broken stream.
 */
#include "config.h"

#include "queue/queue_submit.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/addr.h"
#include "common/strutil.h"
#include "queue/queue_env.h"
#include "queue/queue_id.h"

enum queue_submit_state {
	QUEUE_SUBMIT_ST_KEY,
	QUEUE_SUBMIT_ST_LEN,
	QUEUE_SUBMIT_ST_VAL,
	QUEUE_SUBMIT_ST_NL,
	QUEUE_SUBMIT_ST_DONE,
	QUEUE_SUBMIT_ST_ERR
};

/* Prepares a parser. */
void
queue_submit_init(struct queue_submit_parser *p, enum queue_submit_role role,
    size_t max_rcpt)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	p->state = QUEUE_SUBMIT_ST_KEY;
	p->max_rcpt = max_rcpt;
	p->in_header = 1;
}

/* Records an error; returns the ERROR event. */
static enum queue_submit_ev_type
queue_submit_fail(struct queue_submit_parser *p, const char *why,
    const char **errstr)
{
	if (p->error == NULL)
		p->error = why;
	p->state = QUEUE_SUBMIT_ST_ERR;
	*errstr = p->error;
	return QUEUE_SUBMIT_EV_ERROR;
}

/* True when c is one of the keys in set (never for NUL). */
static int
queue_submit_in(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/*
 * Checks that key may come after p->last.  Returns the longest value
 * allowed for it, or -1 when the key is unknown or out of order.
 */
static long
queue_submit_allowed(const struct queue_submit_parser *p, char key)
{
	char l = p->last;

	if (p->role == QUEUE_SUBMIT_CLIENT) {
		switch (key) {
		case 'G':
			return l == '\0' ? 0 : -1;
		case 'K':
			return l == '\0' || l == 'G' ? QUEUE_ID_LEN : -1;
		case 'X':
			return l == '\0' || l == 'G' ? QUEUE_SUBMIT_TEXT_MAX
						     : -1;
		default:
			return -1;
		}
	}
	switch (key) {
	case 'H':
		return l == '\0' ? 32 : -1;
	case 'S':
		return l == 'H' ? QUEUE_ENV_ADDR_MAX : -1;
	case 'D':
		return l == 'S' ? 4 : -1;
	case 'V':
		return queue_submit_in(l, "SD") ? QUEUE_ENV_ENVID_MAX : -1;
	case 'R':
		return queue_submit_in(l, "SDVRNO") ? QUEUE_ENV_ADDR_MAX : -1;
	case 'N':
		return l == 'R' ? 32 : -1;
	case 'O':
		return queue_submit_in(l, "RN") ? QUEUE_ENV_ORCPT_MAX : -1;
	case 'P':
		return queue_submit_in(l, "RNO") ? 8 : -1;
	case 'W':
		return queue_submit_in(l, "RNOP") ? QUEUE_SUBMIT_HELO_MAX : -1;
	case 'F':
		return queue_submit_in(l, "RNOPW") ? 8 : -1;
	case 'Z':
		return queue_submit_in(l, "RNOPWF") ? 20 : -1;
	case 'M':
		return queue_submit_in(l, "ZM") ? QUEUE_SUBMIT_CHUNK_MAX : -1;
	case 'E':
		return queue_submit_in(l, "ZM") ? 0 : -1;
	default:
		return -1;
	}
}

/* Checks a complete non-body value; returns NULL or why it is bad. */
static const char *
queue_submit_check(struct queue_submit_parser *p)
{
	const char *v = p->val, *errstr = NULL;
	size_t len = p->vlen;
	long long n;
	unsigned nt;

	if (memchr(v, '\0', len) != NULL)
		return "NUL byte in a frame value";
	switch (p->key) {
	case 'H':
		return strcmp(v, QUEUE_SUBMIT_VERSION) == 0
		    ? NULL
		    : "unsupported protocol version";
	case 'S':
		return queue_env_check_addr(v, 1, &errstr) == 0
		    ? NULL
		    : "invalid sender address";
	case 'R':
		if (++p->nrcpt > p->max_rcpt)
			return "too many recipients";
		return queue_env_check_addr(v, 0, &errstr) == 0
		    ? NULL
		    : "invalid recipient address";
	case 'D':
		return strcmp(v, "FULL") == 0 || strcmp(v, "HDRS") == 0
		    ? NULL
		    : "invalid DSN RET";
	case 'V':
		return queue_env_check_envid(v) == 0 ? NULL
						     : "invalid DSN ENVID";
	case 'N':
		return queue_env_parse_notify(v, len, &nt) == 0 &&
			queue_env_check_notify(nt) == 0
		    ? NULL
		    : "invalid DSN NOTIFY";
	case 'O':
		return queue_env_check_orcpt(v) == 0 ? NULL
						     : "invalid DSN ORCPT";
	case 'P':
		return strcmp(v, "local") == 0 || strcmp(v, "ESMTP") == 0
		    ? NULL
		    : "invalid protocol name";
	case 'W':
		return len > 0 && !str_has_ctl(v, len) ? NULL
						       : "invalid HELO name";
	case 'F':
		return len == 0 || strcmp(v, "8bit") == 0 ? NULL
							  : "invalid flags";
	case 'Z':
		if (queue_env_parse_num(v, len, &n) == -1 ||
		    (uint64_t)n > QUEUE_SUBMIT_SIZE_MAX)
			return "invalid size";
		p->declared = (uint64_t)n;
		return NULL;
	case 'E':
		if (p->body != p->declared)
			return "body shorter than declared";
		/* Wire form: the last line ends with CRLF too. */
		return p->linelen == 0 ? NULL
				       : "the body does not end with CRLF";
	case 'K':
		return queue_id_is_valid(v) ? NULL : "invalid queue id";
	case 'X':
		return len >= 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' &&
			v[1] <= '9' && v[2] == ' '
		    ? NULL
		    : "invalid error reply";
	default:
		return NULL; /* G */
	}
}

/* Reads the key byte and the length digits up to ':'. */
static int
queue_submit_head(struct queue_submit_parser *p, char c, const char **why)
{
	long long n;
	long max;

	if (p->state == QUEUE_SUBMIT_ST_KEY) {
		if ((max = queue_submit_allowed(p, c)) == -1) {
			*why = c >= 'A' && c <= 'Z' ? "frame out of order"
						    : "not a frame key";
			return -1;
		}
		p->key = c;
		p->nhdr = 0;
		p->state = QUEUE_SUBMIT_ST_LEN;
		return 0;
	}
	if (c != ':') {
		if (c < '0' || c > '9' || p->nhdr >= 7 ||
		    (p->nhdr == 1 && p->hdr[0] == '0')) {
			*why = "bad frame length";
			return -1;
		}
		p->hdr[p->nhdr++] = c;
		return 0;
	}
	if (p->nhdr == 0 || queue_env_parse_num(p->hdr, p->nhdr, &n) == -1 ||
	    n > queue_submit_allowed(p, p->key)) {
		*why = "frame value too long";
		return -1;
	}
	if (p->key == 'M' && n == 0) {
		*why = "empty M frame (an M value has 1 byte at least)";
		return -1;
	}
	if (p->key == 'M' && (uint64_t)n > p->declared - p->body) {
		*why = "body longer than declared";
		return -1;
	}
	p->vlen = (size_t)n;
	p->vgot = 0;
	p->state = p->vlen > 0 ? QUEUE_SUBMIT_ST_VAL : QUEUE_SUBMIT_ST_NL;
	return 0;
}

/*
 * Checks the lines of body bytes b[0..n) as the front end makes them:
 * none longer than QUEUE_SUBMIT_LINE_MAX (a stuffed dot aside), and in
 * the header section at most QUEUE_SUBMIT_HOPS_MAX Received: fields.
 * Returns NULL or why the body is refused.
 */
static const char *
queue_submit_lines(struct queue_submit_parser *p, const char *b, size_t n)
{
	static const char rcvd[] = "received:";
	const char *nl;
	size_t i = 0, seg;

	while (i < n) {
		char c = b[i];

		if (c == '\n') {
			/* An empty line (CRLF) ends the header section. */
			if (p->linelen <= 1)
				p->in_header = 0;
			p->linelen = 0;
			i++;
			continue;
		}
		if (p->linelen == 0)
			p->lstart = c;
		if (p->in_header && p->linelen < sizeof(rcvd) - 1) {
			/* A field name is looked at byte by byte... */
			p->fname[p->linelen] =
			    (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			if (p->linelen == sizeof(rcvd) - 2 &&
			    memcmp(p->fname, rcvd, sizeof(rcvd) - 1) == 0 &&
			    ++p->hops > QUEUE_SUBMIT_HOPS_MAX)
				return "too many Received: headers (mail "
				       "loop?)";
			p->linelen++;
			i++;
			continue;
		}
		/* ...the rest of a line only counts: up to its LF at once. */
		nl = memchr(b + i, '\n', n - i);
		seg = nl != NULL ? (size_t)(nl - (b + i)) : n - i;
		p->linelen += seg;
		i += seg;
		/* + the CR; + a stuffed dot */
		if (p->linelen >
		    QUEUE_SUBMIT_LINE_MAX + 1 + (size_t)(p->lstart == '.'))
			return "a line is longer than 998 octets";
	}
	return NULL;
}

/* Parses up to the next event. */
enum queue_submit_ev_type
queue_submit_parse(struct queue_submit_parser *p, const char *buf, size_t len,
    size_t *used, struct queue_submit_ev *ev, const char **errstr)
{
	const char *why = NULL;
	size_t i = 0, take;

	*used = 0;
	if (p->state == QUEUE_SUBMIT_ST_ERR)
		return queue_submit_fail(p, p->error, errstr);
	while (i < len) {
		switch (p->state) {
		case QUEUE_SUBMIT_ST_KEY:
		case QUEUE_SUBMIT_ST_LEN:
			if (queue_submit_head(p, buf[i++], &why) == -1) {
				*used = i;
				return queue_submit_fail(p, why, errstr);
			}
			break;
		case QUEUE_SUBMIT_ST_VAL:
			take = len - i < p->vlen - p->vgot ? len - i
							   : p->vlen - p->vgot;
			if (p->key == 'M') {
				if (memchr(buf + i, '\0', take) != NULL) {
					*used = i;
					return queue_submit_fail(p,
					    "the message contains a NUL byte, "
					    "which RFC 5322 forbids",
					    errstr);
				}
				if ((why = queue_submit_lines(p, buf + i,
					 take)) != NULL) {
					*used = i;
					return queue_submit_fail(p, why,
					    errstr);
				}
				p->vgot += take;
				p->body += take;
				if (p->vgot == p->vlen)
					p->state = QUEUE_SUBMIT_ST_NL;
				ev->key = 'M';
				ev->val = buf + i;
				ev->len = take;
				*used = i + take;
				return QUEUE_SUBMIT_EV_BODY;
			}
			memcpy(p->val + p->vgot, buf + i, take);
			p->vgot += take;
			i += take;
			if (p->vgot == p->vlen)
				p->state = QUEUE_SUBMIT_ST_NL;
			break;
		case QUEUE_SUBMIT_ST_NL:
			if (buf[i++] != '\n') {
				*used = i;
				return queue_submit_fail(p,
				    "frame not ended by a newline", errstr);
			}
			*used = i;
			p->state = QUEUE_SUBMIT_ST_KEY;
			p->last = p->key;
			if (p->key == 'M')
				break;
			p->val[p->vlen] = '\0';
			if ((why = queue_submit_check(p)) != NULL)
				return queue_submit_fail(p, why, errstr);
			if (p->key == 'E' || p->key == 'K' || p->key == 'X')
				p->state = QUEUE_SUBMIT_ST_DONE;
			if (p->key == 'E')
				return QUEUE_SUBMIT_EV_END;
			ev->key = p->key;
			ev->val = p->val;
			ev->len = p->vlen;
			return QUEUE_SUBMIT_EV_FRAME;
		default: /* QUEUE_SUBMIT_ST_DONE */
			*used = i + 1;
			return queue_submit_fail(p, "data after the last frame",
			    errstr);
		}
	}
	*used = i;
	return QUEUE_SUBMIT_EV_NEED;
}

/* Appends one frame. */
int
queue_submit_frame(struct buf *b, char key, const void *val, size_t len)
{
	return queue_env_put(b, key, val, len);
}

/* Appends an error reply. */
int
queue_submit_error(struct buf *b, int code, const char *text)
{
	char clean[QUEUE_SUBMIT_TEXT_MAX - 3], msg[QUEUE_SUBMIT_TEXT_MAX + 1];
	int n;

	str_sanitize(clean, sizeof(clean), text, strlen(text));
	n = snprintf(msg, sizeof(msg), "%02d %s", code % 100, clean);
	if (n < 0)
		return -1;
	return queue_submit_frame(b, 'X', msg, strlen(msg));
}

/* Formats an RFC 5322 date with a numeric zone. */
int
queue_submit_date(time_t now, char *buf, size_t bufsz)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
		"Sat" };
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	int n;

	if (localtime_r(&now, &tm) == NULL)
		return -1;
	off = tm.tm_gmtoff / 60;
	n = snprintf(buf, bufsz, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
	    (off < 0 ? -off : off) % 60);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

/* Returns a host name usable in a Message-ID. */
const char *
queue_submit_idhost(const char *h)
{
	if (h == NULL || *h == '\0')
		return "localhost.localdomain";
	for (const char *p = h; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
			*p == '_'))
			return "localhost.localdomain";
	return h;
}

/* Builds the Received: field put first. */
int
queue_submit_received(struct buf *b, const char *hostname, long long uid,
    const char *proto, const char *helo, time_t now)
{
	char date[64], name[QUEUE_SUBMIT_HELO_MAX + 1];
	size_t o = 0;

	if (queue_submit_date(now != 0 ? now : time(NULL), date,
		sizeof(date)) == -1)
		return -1;
	if (helo != NULL) {
		/* Client-supplied: keep only host-name characters. */
		for (const char *p = helo; *p != '\0' && o + 1 < sizeof(name);
		     p++)
			if ((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' ||
			    *p == '-' || *p == '[' || *p == ']' || *p == ':')
				name[o++] = *p;
		name[o] = '\0';
	}
	if (o > 0)
		return buf_addf(b,
		    "Received: from %s (uid %lld)\r\n\tby %s "
		    "(relayq) with %s;\r\n\t%s\r\n",
		    name, uid, queue_submit_idhost(hostname), proto, date);
	return buf_addf(b,
	    "Received: by %s (relayq, from userid %lld)\r\n\twith %s;"
	    " %s\r\n",
	    queue_submit_idhost(hostname), uid, proto, date);
}

/* The X-Authentication-Warning rule (both paths). */
int
queue_submit_warns(long long uid, const char *sender, const char *login_sender)
{
	if (uid == 0)
		return 0;
	return login_sender == NULL || !addr_is_same(sender, login_sender);
}

/* Builds the X-Authentication-Warning field (both paths). */
int
queue_submit_auth_warning(struct buf *b, const char *hostname, const char *user,
    const char *sender, const char *via)
{
	char name[65], addr[QUEUE_ENV_ADDR_MAX + 3];
	size_t o = 0;

	for (const char *p = user != NULL ? user : "";
	     *p != '\0' && o + 1 < sizeof(name); p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_' || *p == '$' || *p == ' ')
			name[o++] = *p;
	name[o] = '\0';
	if (sender[0] == '\0')
		(void)strlcpy(addr, "<>", sizeof(addr));
	else if (str_has_ctl(sender, strlen(sender)))
		(void)strlcpy(addr, "(invalid address)", sizeof(addr));
	else
		(void)strlcpy(addr, sender, sizeof(addr));
	return buf_addf(b,
	    "X-Authentication-Warning: %s: %s set sender to %s using %s\r\n",
	    queue_submit_idhost(hostname), o > 0 ? name : "(unknown)", addr,
	    via != NULL ? via : "-f");
}
