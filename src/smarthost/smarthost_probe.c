/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq probe's session: the libevent glue between one socket, the
 * reply parser and the I/O-free smtp_client, with relayqd's TLS policy
 * (smarthost_tls) and SASL code (smarthost_auth).  It owns its event
 * base, the bufferevent, one timer and the client; everything is freed
 * after the loop has returned, never from a callback.  It does not own
 * the configuration, the TLS context or the AUTH policy.
 *
 * What it prints: every line sent ("C: ") and received ("S: "), and
 * notes ("* ") on the connection and the certificate.  Invariants: no
 * secret is ever printed: every line written while an AUTH exchange is
 * open (from ops->auth_start until a reply other than 334) is shown as
 * "AUTH MECH <redacted>" or "<redacted>"; every line is printed as clean
 * text (str_clean_text: a control character, C1 included, a bidirectional
 * control or a byte that is not UTF-8 is U+FFFD, o14 F5).  With a
 * recipient, the transaction is a smtp_msg with no_data set: MAIL and
 * RCPT, then RSET, never DATA.
 *
 * TLS: the handshake is allowed to complete whatever the certificate
 * (smarthost_tls_set_verify_late(), set by the caller), so the
 * certificate can be shown; smarthost_tls_check_peer(), relayqd's own
 * check, then decides before a single byte goes over the connection.
 *
 * The verdict is decided once, by the first failure seen (or at the
 * clean end), and comes with one sentence on what to fix.
 */
#include "config.h"

#include "smarthost/smarthost_probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "common/conf.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "smarthost/smarthost_auth.h"
#include "smarthost/smarthost_io.h"
#include "smarthost/smarthost_tls.h"
#include "smtp/smtp_client.h"
#include "smtp/smtp_reply.h"

#define PROBE_SESSION 0x01   /* TCP (and implicit TLS) up, SMTP running */
#define PROBE_HANDSHAKE 0x02 /* STARTTLS handshake running */
#define PROBE_TLS 0x04	     /* the session is encrypted */
#define PROBE_AUTH 0x08	     /* an AUTH exchange is open: redact */
#define PROBE_SENT 0x10	     /* the test transaction was started */
#define PROBE_OVER 0x20	     /* the loop is ending */
#define PROBE_BADREPLY 0x40  /* the server sent a reply that is not one */

/* Time allowed for a TLS handshake, as relayqd (STYLE.md section 9). */
#define PROBE_TLS_TIMEOUT 60

struct smarthost_probe {
	const struct conf *c;		      /* borrowed */
	struct smarthost_tls *tls;	      /* borrowed, may be NULL */
	struct smarthost_auth *auth;	      /* borrowed, may be NULL */
	const struct smarthost_probe_opts *o; /* borrowed */
	FILE *out;			      /* borrowed */
	struct event_base *base;	      /* owned */
	struct bufferevent *bev;	      /* owned */
	struct event *timer;		      /* owned */
	struct evutil_addrinfo *ai;	      /* owned */
	struct evutil_addrinfo *ai_next;      /* borrowed */
	struct smtp_client *smtp;	      /* owned */
	struct smarthost_sasl *sasl;	      /* owned */
	struct smtp_reply reply;
	struct smtp_client_conf sconf;
	struct smtp_msg msg;
	const char *rcpts[1];
	int flags;
	int conn_errno;	       /* last connect error, ETIMEDOUT on a timeout */
	char relay[300];       /* host[addr]:port */
	char stage[16];	       /* client state the last reply answered */
	char fail_stage[16];   /* state of the first reply >= 400, or "" */
	char bad_stage[16];    /* state a malformed reply came in, or "" */
	struct rq_reason fail; /* that reply */
	char local_err[256];   /* why auth_start refused, or "" */
	int decided;
	enum smarthost_probe_result result;
	char *advice; /* borrowed: the caller's buffer */
	size_t advicesz;
};

static void smarthost_probe_read_cb(struct bufferevent *, void *);
static void smarthost_probe_event_cb(struct bufferevent *, short, void *);
static void smarthost_probe_connect_next(struct smarthost_probe *);

static void smarthost_probe_say(struct smarthost_probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void smarthost_probe_decide(struct smarthost_probe *p,
    enum smarthost_probe_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints one note line. */
static void
smarthost_probe_say(struct smarthost_probe *p, const char *fmt, ...)
{
	va_list ap;

	fputs("* ", p->out);
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->out);
	fflush(p->out);
}

/*
 * Prints one protocol line (len bytes) as clean text (str_clean_text),
 * as relayqd's log and relayq show make a server's reply: a C1 control
 * (U+009B is a CSI), a bidirectional control or a byte that is not UTF-8
 * must not reach the terminal (o14 F5).
 */
static void
smarthost_probe_line(struct smarthost_probe *p, const char *dir, const char *s,
    size_t len)
{
	char clean[3 * SMTP_REPLY_LINE_MAX + 1];

	(void)str_clean_text(clean, sizeof(clean), s, len);
	fprintf(p->out, "%s%s\n", dir, clean);
	fflush(p->out);
}

/* Records the verdict and its sentence; the first decision stands. */
static void
smarthost_probe_decide(struct smarthost_probe *p, enum smarthost_probe_result r,
    const char *fmt, ...)
{
	va_list ap;

	if (p->decided)
		return;
	p->decided = 1;
	p->result = r;
	va_start(ap, fmt);
	(void)vsnprintf(p->advice, p->advicesz, fmt, ap);
	va_end(ap);
}

/* Stops the loop; everything is freed once it has returned. */
static void
smarthost_probe_end(struct smarthost_probe *p)
{
	p->flags |= PROBE_OVER;
	if (p->bev != NULL)
		bufferevent_disable(p->bev, EV_READ | EV_WRITE);
	event_del(p->timer);
	event_base_loopbreak(p->base);
}

/* Arms the timer for secs seconds, at most o->timeout. */
static void
smarthost_probe_timer(struct smarthost_probe *p, long long secs)
{
	struct timeval tv;

	if (p->o->timeout > 0 && secs > p->o->timeout)
		secs = p->o->timeout;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = 0;

	event_del(p->timer);
	event_add(p->timer, &tv);
}

/* True when the mechanism list or the policy means a bearer token. */
static int
smarthost_probe_is_token(const struct smarthost_probe *p)
{
	return strcasecmp(p->c->smarthosts[0].auth, "xoauth2") == 0 ||
	    strcasecmp(p->c->smarthosts[0].auth, "oauthbearer") == 0;
}

/* ---- verdicts ---- */

/* The verdict for a refused AUTH (r is the server's reply). */
static void
smarthost_probe_auth_refused(struct smarthost_probe *p,
    const struct rq_reason *r)
{
	if (r->code / 100 == 4) {
		smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
		    "The server could not check the login just now (%s): try "
		    "again later.",
		    r->text);
	} else if (strcmp(r->esc, "5.7.30") == 0 ||
	    strstr(r->text, "5.7.30") != NULL) {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "%d 5.7.30: this tenant refuses passwords; set auth = "
		    "xoauth2 and run relayq oauth2 login.",
		    r->code);
	} else if (strcmp(r->esc, "5.7.139") == 0 ||
	    strstr(r->text, "SmtpClientAuthentication") != NULL) {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "SMTP AUTH is turned off for this mailbox or tenant (%s): "
		    "the Microsoft 365 admin must allow Authenticated SMTP "
		    "for it.",
		    r->text);
	} else if (strcmp(r->esc, "5.7.9") == 0 ||
	    strcmp(r->esc, "5.7.14") == 0) {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "The provider refuses this password (%s): use an app "
		    "password where the admin allows them, or set auth = "
		    "xoauth2 and run relayq oauth2 login.",
		    r->text);
	} else if (smarthost_probe_is_token(p) &&
	    p->c->smarthosts[0].oauth2_token_url[0] != '\0') {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "The server refused the access token the token endpoint "
		    "gave for %s (%s): check that username is the mailbox "
		    "that gave consent, and oauth2_scope.",
		    p->c->smarthosts[0].username, r->text);
	} else if (smarthost_probe_is_token(p)) {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "The server refused the access token for %s (%s): check "
		    "username and where the token comes from.",
		    p->c->smarthosts[0].username, r->text);
	} else {
		smarthost_probe_decide(p, SMARTHOST_PROBE_AUTHFAIL,
		    "The server refused the login of %s (%s): check username "
		    "and the password in %s.",
		    p->c->smarthosts[0].username, r->text,
		    p->c->smarthosts[0].password_file[0]
			? p->c->smarthosts[0].password_file
			: "password_command's output");
	}
}

/* The verdict when the server offers no AUTH (after the last EHLO). */
static void
smarthost_probe_no_auth(struct smarthost_probe *p)
{
	const struct smtp_caps *caps = smtp_client_caps(p->smtp);

	if (!(p->flags & PROBE_TLS) && (caps->ext & SMTP_EXT_STARTTLS))
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The server offers no AUTH on this unencrypted "
		    "connection: with port %d use tls = starttls.",
		    p->c->smarthosts[0].port);
	else if (!(p->flags & PROBE_TLS))
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The server offers no AUTH on port %d: use its submission "
		    "port (587 with tls = starttls, or 465 with tls = "
		    "implicit).",
		    p->c->smarthosts[0].port);
	else
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The server offers no AUTH on this connection: check host "
		    "and port, or leave username empty if this relay needs "
		    "no login.");
}

/* The verdict for a failed test transaction (MAIL or RCPT refused). */
static void
smarthost_probe_txn_refused(struct smarthost_probe *p)
{
	enum smarthost_probe_result r = p->fail.code / 100 == 4
	    ? SMARTHOST_PROBE_TEMPFAIL
	    : SMARTHOST_PROBE_UNAVAILABLE;

	if (strcmp(p->fail_stage, "mail") == 0)
		smarthost_probe_decide(p, r,
		    "The server refuses the sender <%s> (%s): try --from with "
		    "an address this account may send as.",
		    p->o->sender, p->fail.text);
	else
		smarthost_probe_decide(p, r,
		    "The server refuses the recipient <%s> (%s)%s.", p->o->rcpt,
		    p->fail.text,
		    r == SMARTHOST_PROBE_TEMPFAIL ? ": try again later" : "");
}

/* The verdict for a session that ended on a server reply >= 400. */
static void
smarthost_probe_refused(struct smarthost_probe *p)
{
	const struct rq_reason *r = &p->fail;
	enum smarthost_probe_result tr = r->code / 100 == 4
	    ? SMARTHOST_PROBE_TEMPFAIL
	    : SMARTHOST_PROBE_UNAVAILABLE;

	if (strcmp(p->fail_stage, "auth") == 0)
		smarthost_probe_auth_refused(p, r);
	else if (strcmp(p->fail_stage, "banner") == 0 || r->code == 421)
		smarthost_probe_decide(p, tr,
		    "The server turned this host away (%s)%s.", r->text,
		    tr == SMARTHOST_PROBE_TEMPFAIL
			? ": try again later"
			: ": ask its operator whether this address may "
			  "connect");
	else if (strcmp(p->fail_stage, "ehlo") == 0 ||
	    strcmp(p->fail_stage, "helo") == 0)
		smarthost_probe_decide(p, tr,
		    "The server refuses the EHLO name %s (%s): set helo_name "
		    "to this host's public name.",
		    p->sconf.helo_name, r->text);
	else if (strcmp(p->fail_stage, "starttls") == 0)
		smarthost_probe_decide(p, tr,
		    "The server refused STARTTLS (%s): check the port, or ask "
		    "its operator.",
		    r->text);
	else
		smarthost_probe_txn_refused(p);
}

/*
 * The verdict for a failure found here (no server reply behind it, or one
 * that could not be parsed as a reply).
 */
static void
smarthost_probe_local(struct smarthost_probe *p, const struct rq_reason *why)
{
	if (p->flags & PROBE_BADREPLY)
		smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
		    "The server's reply in the %s stage was malformed (%s): "
		    "relayqd defers mail on it; if it goes on, ask the "
		    "server's operator.",
		    p->bad_stage, why->text);
	else if (strcmp(why->text, "STARTTLS not offered") == 0)
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The server does not offer STARTTLS on port %d: use port "
		    "587 with tls = starttls, or port 465 with tls = implicit.",
		    p->c->smarthosts[0].port);
	else if (strcmp(why->text, "server offers no AUTH") == 0)
		smarthost_probe_no_auth(p);
	else if (p->local_err[0] != '\0')
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "AUTH cannot start: %s.", p->local_err);
	else if (strncmp(why->text, "refusing to send AUTH", 21) == 0)
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "AUTH would go over an unencrypted connection: set tls = "
		    "starttls (or tls = implicit on port 465).");
	else if (strcmp(p->stage, "") == 0 &&
	    p->c->smarthosts[0].tls != CONF_TLS_IMPLICIT &&
	    strncmp(why->text, "timeout", 7) == 0)
		smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
		    "The server sent no greeting (%s): if port %d expects TLS "
		    "from the first byte (as 465 does), set tls = implicit.",
		    why->text, p->c->smarthosts[0].port);
	else
		smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
		    "The session failed (%s): try again later; if it goes on, "
		    "check the network and the server.",
		    why->text);
}

/* The verdict for a certificate that relayqd would refuse. */
static void
smarthost_probe_cert_refused(struct smarthost_probe *p,
    const struct smarthost_tls_peer *pi, const char *text)
{
	const char *host = p->c->smarthosts[0].host;

	switch (pi->verify) {
	case X509_V_OK:
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The certificate does not match tls_fingerprint (%s): "
		    "update tls_fingerprint if the server's certificate was "
		    "renewed.",
		    text);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The certificate does not name %s (it names %s): set host "
		    "to one of the names it carries.",
		    host, pi->names[0] != '\0' ? pi->names : pi->subject);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		smarthost_probe_decide(p, SMARTHOST_PROBE_UNAVAILABLE,
		    "The server's certificate expired on %s: its operator "
		    "must renew it.",
		    pi->expires);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The certificate is not signed by a CA this host trusts "
		    "(%s): set ca_file to the CA that signed it, or pin it "
		    "with tls_fingerprint.",
		    pi->verify_text);
		break;
	default:
		smarthost_probe_decide(p, SMARTHOST_PROBE_UNAVAILABLE,
		    "The certificate fails verification (%s): ask the "
		    "server's operator.",
		    text);
		break;
	}
}

/*
 * Shows the certificate and applies relayqd's check.  Returns 0, or -1
 * when relayqd would refuse it (the verdict is then decided).
 */
static int
smarthost_probe_check_cert(struct smarthost_probe *p, SSL *ssl)
{
	struct smarthost_tls_peer pi;
	char text[300];

	smarthost_probe_say(p, "TLS: %s, cipher %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	if (smarthost_tls_peer_info(ssl, &pi) == 0) {
		smarthost_probe_say(p, "certificate subject: %s", pi.subject);
		smarthost_probe_say(p, "certificate issuer: %s", pi.issuer);
		if (pi.names[0] != '\0')
			smarthost_probe_say(p, "certificate names: %s",
			    pi.names);
		smarthost_probe_say(p, "certificate expires: %s%s", pi.expires,
		    pi.expired ? " (expired)" : "");
		smarthost_probe_say(p, "certificate verification: %s%s",
		    pi.verify == X509_V_OK ? "ok" : pi.verify_text,
		    !p->c->smarthosts[0].tls_verify ? " (tls_verify = no)"
			: p->c->smarthosts[0].tls_fingerprint[0] != '\0'
			? " (tls_fingerprint decides)"
			: "");
	}
	if (smarthost_tls_check_peer(p->tls, ssl, text, sizeof(text)) == -1) {
		smarthost_probe_say(p, "relayqd would refuse this server: %s",
		    text);
		smarthost_probe_cert_refused(p, &pi, text);
		return -1;
	}
	p->flags |= PROBE_TLS;
	return 0;
}

/* ---- smtp_client ops ---- */

/* ops->write: shows each line (redacted during AUTH), then sends. */
static void
smarthost_probe_op_write(void *arg, const char *data, size_t len)
{
	struct smarthost_probe *p = arg;
	const char *s = data, *end = data + len, *nl;

	if (p->flags & PROBE_OVER)
		return;
	while (s < end) {
		size_t n;

		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		n = (size_t)(nl - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (!(p->flags & PROBE_AUTH))
			smarthost_probe_line(p, "C: ", s, n);
		else if (n > 5 && strncasecmp(s, "AUTH ", 5) == 0) {
			size_t m = strcspn(s + 5, " \r\n");

			fprintf(p->out, "C: AUTH %.*s%s\n", (int)m, s + 5,
			    5 + m < n ? " <redacted>" : "");
		} else
			fputs("C: <redacted>\n", p->out);
		s = nl < end ? nl + 1 : end;
	}
	fflush(p->out);
	if (bufferevent_write(p->bev, data, len) == -1)
		smtp_client_fail(p->smtp, RQ_TEMPFAIL, "cannot buffer output");
}

/* ops->set_timeout: arms the timer as relayqd would. */
static void
smarthost_probe_op_set_timeout(void *arg, enum smtp_timeout kind)
{
	struct smarthost_probe *p = arg;
	const struct conf *c = p->c;
	long long secs = c->delivery_command_timeout;

	if (kind == SMTP_TMO_GREETING)
		secs = c->delivery_greeting_timeout;
	else if (kind == SMTP_TMO_DATA)
		secs = c->delivery_data_timeout;
	else if (kind == SMTP_TMO_DOT)
		secs = c->delivery_dot_timeout;
	smarthost_probe_timer(p, secs);
}

/* ops->starttls: the handshake, on the same socket. */
static void
smarthost_probe_op_starttls(void *arg)
{
	struct smarthost_probe *p = arg;
	struct bufferevent *tls;
	const char *why;

	if ((tls = smarthost_tls_starttls(p->tls, p->bev,
		 p->c->smarthosts[0].host, &why)) == NULL) {
		smtp_client_fail(p->smtp, RQ_TEMPFAIL, why);
		return;
	}
	p->bev = tls; /* owns the plain bufferevent from now on */
	bufferevent_setcb(tls, smarthost_probe_read_cb, NULL,
	    smarthost_probe_event_cb, p);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	p->flags |= PROBE_HANDSHAKE;
	smarthost_probe_timer(p, PROBE_TLS_TIMEOUT);
}

/* ops->ready: the test transaction once, then QUIT. */
static void
smarthost_probe_op_ready(void *arg)
{
	struct smarthost_probe *p = arg;

	event_del(p->timer);
	if (p->o->rcpt != NULL && !(p->flags & PROBE_SENT)) {
		p->flags |= PROBE_SENT;
		p->rcpts[0] = p->o->rcpt;
		p->msg.id = "probe";
		p->msg.sender = p->o->sender;
		p->msg.rcpts = p->rcpts;
		p->msg.nrcpt = 1;
		p->msg.no_data = 1;
		if (smtp_client_send(p->smtp, &p->msg) == 0)
			return;
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The sender <%s> or the recipient <%s> cannot be written "
		    "in an SMTP command: check --from and --rcpt.",
		    p->o->sender, p->o->rcpt);
	}
	smtp_client_quit(p->smtp);
}

/* ops->send_body: never called (no_data); refuse if it is. */
static void
smarthost_probe_op_send_body(void *arg)
{
	struct smarthost_probe *p = arg;

	smtp_client_fail(p->smtp, RQ_TEMPFAIL, "the probe sends no message");
}

/* ops->rcpt_done: the outcome comes with msg_done. */
static void
smarthost_probe_op_rcpt_done(void *arg, size_t idx, enum rq_status st,
    const struct rq_reason *why)
{
	(void)arg;
	(void)idx;
	(void)st;
	(void)why;
}

/* ops->msg_done: the test transaction's outcome. */
static void
smarthost_probe_op_msg_done(void *arg, enum rq_status st,
    const struct rq_reason *why)
{
	struct smarthost_probe *p = arg;

	if (st == RQ_OK)
		smarthost_probe_decide(p, SMARTHOST_PROBE_OK,
		    "The server accepts mail from <%s> to <%s> after this "
		    "login: relayqd can send through it (nothing was sent).",
		    p->o->sender, p->o->rcpt);
	else if (p->fail_stage[0] != '\0')
		smarthost_probe_txn_refused(p);
	else /* no refusal: a malformed reply, a lost connection (o14 F6) */
		smarthost_probe_local(p, why);
}

/* ops->closed: the session is over; decide what is still open. */
static void
smarthost_probe_op_closed(void *arg, enum rq_status st,
    const struct rq_reason *why)
{
	struct smarthost_probe *p = arg;

	if (st == RQ_OK)
		smarthost_probe_decide(p, SMARTHOST_PROBE_OK,
		    "The server %s: relayqd can reach it%s.",
		    p->auth != NULL ? "accepts the login"
				    : "greets and answers",
		    p->o->rcpt == NULL
			? " (add --rcpt ADDR to try a recipient too)"
			: "");
	else if (p->fail_stage[0] != '\0' && why->code != 0)
		smarthost_probe_refused(p);
	else
		smarthost_probe_local(p, why);
	smarthost_probe_end(p);
}

/* ops->auth_start: fetch the secret and pick a mechanism, as relayqd. */
static int
smarthost_probe_op_auth_start(void *arg, const char *offered, const char **mech,
    char **resp, struct rq_reason *why)
{
	struct smarthost_probe *p = arg;

	if (smarthost_sasl_begin(p->auth, &p->sasl, p->o->token, offered, mech,
		resp, why) == -1) {
		strlcpy(p->local_err, why->text, sizeof(p->local_err));
		return -1;
	}
	p->flags |= PROBE_AUTH; /* what is written from now on is secret */
	return 0;
}

/* ops->auth_step: answer a 334 challenge. */
static int
smarthost_probe_op_auth_step(void *arg, const char *challenge, size_t len,
    char **resp, struct rq_reason *why)
{
	struct smarthost_probe *p = arg;

	return smarthost_sasl_answer(p->sasl, challenge, len, resp, why);
}

/* ops->auth_done: 235 arrived; SCRAM checks the server's signature. */
static int
smarthost_probe_op_auth_done(void *arg, struct rq_reason *why)
{
	struct smarthost_probe *p = arg;

	return smarthost_sasl_end(&p->sasl, why);
}

static const struct smtp_client_ops smarthost_probe_ops = {
	.write = smarthost_probe_op_write,
	.set_timeout = smarthost_probe_op_set_timeout,
	.starttls = smarthost_probe_op_starttls,
	.ready = smarthost_probe_op_ready,
	.send_body = smarthost_probe_op_send_body,
	.rcpt_done = smarthost_probe_op_rcpt_done,
	.msg_done = smarthost_probe_op_msg_done,
	.closed = smarthost_probe_op_closed,
	.auth_start = smarthost_probe_op_auth_start,
	.auth_step = smarthost_probe_op_auth_step,
	.auth_done = smarthost_probe_op_auth_done,
};

/* ---- libevent callbacks ---- */

/* Notes a complete reply, then hands it to the client. */
static void
smarthost_probe_reply(struct smarthost_probe *p, const struct smtp_reply *r)
{
	strlcpy(p->stage, smtp_client_state_name(p->smtp), sizeof(p->stage));
	if (r->code != 334)
		p->flags &= ~PROBE_AUTH;
	/* EHLO's 5xx is followed by HELO, not a failure. */
	if (r->code >= 400 && p->fail_stage[0] == '\0' &&
	    strcmp(p->stage, "quit") != 0 &&
	    !(strcmp(p->stage, "ehlo") == 0 && r->code / 100 == 5)) {
		strlcpy(p->fail_stage, p->stage, sizeof(p->fail_stage));
		p->fail.code = r->code;
		strlcpy(p->fail.esc, r->esc, sizeof(p->fail.esc));
		smtp_reply_summary(r, p->fail.text, sizeof(p->fail.text));
	}
	(void)smtp_client_on_reply(p->smtp, r);
}

/* Shows one server line. */
static void
smarthost_probe_line_cb(void *arg, const char *line, size_t len)
{
	smarthost_probe_line(arg, "S: ", line, len);
}

/* Reads complete replies, showing each line, and feeds the client. */
static void
smarthost_probe_read_cb(struct bufferevent *bev, void *arg)
{
	struct smarthost_probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct smtp_reply r;
	char text[128];
	int rv;

	while (!(p->flags & PROBE_OVER) && p->bev == bev) {
		if ((rv = smarthost_io_reply(in, &p->reply, &r,
			 smarthost_probe_line_cb, p, text, sizeof(text))) == 0)
			return;
		if (rv == -1) {
			p->flags |= PROBE_BADREPLY;
			strlcpy(p->bad_stage, smtp_client_state_name(p->smtp),
			    sizeof(p->bad_stage));
			smarthost_probe_say(p, "malformed reply: %s", text);
			smtp_client_fail(p->smtp, RQ_TEMPFAIL, text);
			return;
		}
		smarthost_probe_reply(p, &r);
	}
}

/* TCP (and for implicit TLS the handshake) is up: start SMTP. */
static void
smarthost_probe_connected(struct smarthost_probe *p)
{
	SSL *ssl = bufferevent_openssl_get_ssl(p->bev);

	event_del(p->timer);
	smarthost_probe_say(p, "connected to %s", p->relay);
	p->flags |= PROBE_SESSION;
	if (ssl != NULL && smarthost_probe_check_cert(p, ssl) == -1) {
		smarthost_probe_end(p);
		return;
	}
	smtp_reply_init(&p->reply);
	p->smtp = smtp_client_new(&p->sconf, &smarthost_probe_ops, p);
}

/* The STARTTLS handshake finished: check the peer, then EHLO again. */
static void
smarthost_probe_tls_up(struct smarthost_probe *p)
{
	SSL *ssl = bufferevent_openssl_get_ssl(p->bev);

	p->flags &= ~PROBE_HANDSHAKE;
	event_del(p->timer);
	if (smarthost_probe_check_cert(p, ssl) == -1) {
		smtp_client_fail(p->smtp, RQ_TEMPFAIL, "certificate refused");
		return;
	}
	smtp_client_tls_done(p->smtp);
}

/* The TLS handshake failed (detail says why): show it and decide. */
static void
smarthost_probe_tls_failed(struct smarthost_probe *p, const char *detail)
{
	smarthost_probe_say(p, "TLS handshake failed: %s", detail);
	if (p->c->smarthosts[0].tls == CONF_TLS_IMPLICIT &&
	    strstr(detail, "wrong version number") != NULL)
		smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
		    "The server does not speak TLS from the first byte on "
		    "port %d: set tls = starttls (as port 587 needs).",
		    p->c->smarthosts[0].port);
	else
		smarthost_probe_decide(p, SMARTHOST_PROBE_UNAVAILABLE,
		    "The TLS handshake failed (%s): check tls_min_version, "
		    "tls_cert and the port.",
		    detail);
	if (p->smtp != NULL)
		smtp_client_fail(p->smtp, RQ_TEMPFAIL, "TLS handshake failed");
	else
		smarthost_probe_end(p);
}

/* Connection events: connected, EOF, error. */
static void
smarthost_probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smarthost_probe *p = arg;
	int err = EVUTIL_SOCKET_ERROR();
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	char text[400];

	if (p->flags & PROBE_OVER)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (p->flags & PROBE_HANDSHAKE)
			smarthost_probe_tls_up(p);
		else
			smarthost_probe_connected(p);
		return;
	}
	if (ssl != NULL && (what & BEV_EVENT_ERROR) &&
	    ((p->flags & PROBE_HANDSHAKE) || !(p->flags & PROBE_SESSION))) {
		smarthost_tls_describe_error(bev, ssl, text, sizeof(text));
		/* Implicit TLS: no TLS error means the TCP connect failed. */
		if ((p->flags & PROBE_HANDSHAKE) || err == 0 ||
		    strcmp(text, "connection closed during TLS") != 0) {
			smarthost_probe_tls_failed(p, text);
			return;
		}
	}
	if (!(p->flags & PROBE_SESSION)) {
		p->conn_errno = (what & BEV_EVENT_ERROR) ? err : ECONNRESET;
		smarthost_probe_say(p, "cannot connect to %s: %s", p->relay,
		    evutil_socket_error_to_string(p->conn_errno));
		bufferevent_free(p->bev);
		p->bev = NULL;
		smarthost_probe_connect_next(p);
		return;
	}
	(void)!rq_snprintf(text, sizeof(text), "lost connection: %s",
	    (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(err)
				     : "closed by the server");
	smarthost_probe_say(p, "%s", text);
	smtp_client_fail(p->smtp, RQ_TEMPFAIL, text);
}

/* Connect, handshake and reply timeouts. */
static void
smarthost_probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smarthost_probe *p = arg;
	char text[128];

	(void)fd;
	(void)what;
	if (p->flags & PROBE_OVER)
		return;
	if (!(p->flags & PROBE_SESSION)) {
		p->conn_errno = ETIMEDOUT;
		smarthost_probe_say(p, "cannot connect to %s: timed out",
		    p->relay);
		bufferevent_free(p->bev);
		p->bev = NULL;
		smarthost_probe_connect_next(p);
		return;
	}
	if (p->flags & PROBE_HANDSHAKE)
		(void)!rq_snprintf(text, sizeof(text),
		    "timeout in the TLS handshake");
	else
		(void)!rq_snprintf(text, sizeof(text),
		    "timeout waiting for the server (state %s)",
		    smtp_client_state_name(p->smtp));
	smarthost_probe_say(p, "%s", text);
	smtp_client_fail(p->smtp, RQ_TEMPFAIL, text);
}

/* Records p->relay for address sa. */
static void
smarthost_probe_set_relay(struct smarthost_probe *p, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    addr, sizeof(addr));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    addr, sizeof(addr));
	(void)!rq_snprintf(p->relay, sizeof(p->relay), "%s[%s]:%d",
	    p->c->smarthosts[0].host, addr, p->c->smarthosts[0].port);
}

/* Tries the next address; decides when none is left. */
static void
smarthost_probe_connect_next(struct smarthost_probe *p)
{
	const struct conf *c = p->c;
	const char *why = "cannot create a socket";

	while (p->ai_next != NULL) {
		struct evutil_addrinfo *ai = p->ai_next;

		p->ai_next = ai->ai_next;
		smarthost_probe_set_relay(p, ai->ai_addr);
		if (c->smarthosts[0].tls == CONF_TLS_IMPLICIT)
			p->bev = smarthost_tls_socket_new(p->tls, p->base,
			    c->smarthosts[0].host, &why);
		else
			p->bev = bufferevent_socket_new(p->base, -1,
			    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (p->bev == NULL) {
			smarthost_probe_decide(p, SMARTHOST_PROBE_CONFIG,
			    "relayq cannot set up the connection (%s): check "
			    "the TLS settings with relayq check-config.",
			    why);
			smarthost_probe_end(p);
			return;
		}
		bufferevent_setcb(p->bev, smarthost_probe_read_cb, NULL,
		    smarthost_probe_event_cb, p);
		bufferevent_enable(p->bev, EV_READ | EV_WRITE);
		smarthost_probe_say(p, "connecting to %s", p->relay);
		smarthost_probe_timer(p, c->delivery_connect_timeout);
		if (bufferevent_socket_connect(p->bev, ai->ai_addr,
			(int)ai->ai_addrlen) == 0)
			return;
		p->conn_errno = errno;
		smarthost_probe_say(p, "cannot connect to %s: %s", p->relay,
		    strerror(errno));
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	if (p->conn_errno == ETIMEDOUT)
		smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
		    "%s does not answer on port %d: a firewall may block the "
		    "port, or the server is down.",
		    c->smarthosts[0].host, c->smarthosts[0].port);
	else
		smarthost_probe_decide(p, SMARTHOST_PROBE_UNAVAILABLE,
		    "Nothing accepts connections on %s port %d (%s): check "
		    "host and port (submission is 587 or 465).",
		    c->smarthosts[0].host, c->smarthosts[0].port,
		    strerror(p->conn_errno));
	smarthost_probe_end(p);
}

/* Resolves the smarthost (blocking: relayq is a command-line tool). */
static int
smarthost_probe_resolve(struct smarthost_probe *p)
{
	struct evutil_addrinfo hints;
	char port[16];
	int rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	(void)!rq_snprintf(port, sizeof(port), "%d", p->c->smarthosts[0].port);
	if ((rv = evutil_getaddrinfo(p->c->smarthosts[0].host, port, &hints,
		 &p->ai)) != 0) {
		smarthost_probe_say(p, "cannot resolve %s: %s",
		    p->c->smarthosts[0].host, evutil_gai_strerror(rv));
		if (rv == EVUTIL_EAI_AGAIN)
			smarthost_probe_decide(p, SMARTHOST_PROBE_TEMPFAIL,
			    "The name %s cannot be looked up just now: check "
			    "the DNS, then try again.",
			    p->c->smarthosts[0].host);
		else
			smarthost_probe_decide(p, SMARTHOST_PROBE_UNAVAILABLE,
			    "The name %s does not resolve: check host.",
			    p->c->smarthosts[0].host);
		return -1;
	}
	p->ai_next = p->ai;
	return 0;
}

/* Runs one probe session. */
enum smarthost_probe_result
smarthost_probe_run(const struct conf *c, struct smarthost_tls *tls,
    struct smarthost_auth *auth, const struct smarthost_probe_opts *o,
    FILE *out, char *advice, size_t advicesz)
{
	struct smarthost_probe p;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.tls = tls;
	p.auth = auth;
	p.o = o;
	p.out = out;
	p.advice = advice;
	p.advicesz = advicesz;
	p.sconf.helo_name = c->smarthosts[0].helo_name[0]
	    ? c->smarthosts[0].helo_name
	    : c->hostname;
	p.sconf.starttls = c->smarthosts[0].tls == CONF_TLS_STARTTLS;
	p.sconf.tls_on_connect = c->smarthosts[0].tls == CONF_TLS_IMPLICIT;
	p.sconf.auth = auth != NULL;
	p.sconf.allow_plaintext_auth = c->smarthosts[0].allow_plaintext_auth;
	advice[0] = '\0';
	if ((p.base = event_base_new()) == NULL ||
	    (p.timer = evtimer_new(p.base, smarthost_probe_timer_cb, &p)) ==
		NULL) {
		smarthost_probe_decide(&p, SMARTHOST_PROBE_TEMPFAIL,
		    "relayq cannot start its event loop: try again.");
		goto out;
	}
	if (smarthost_probe_resolve(&p) == -1)
		goto out;
	smarthost_probe_connect_next(&p);
	if (!(p.flags & PROBE_OVER))
		(void)event_base_dispatch(p.base);
	smarthost_probe_decide(&p, SMARTHOST_PROBE_TEMPFAIL,
	    "The session ended before a verdict: try again.");
out:
	if (p.bev != NULL)
		bufferevent_free(p.bev);
	if (p.timer != NULL)
		event_free(p.timer);
	if (p.ai != NULL)
		evutil_freeaddrinfo(p.ai);
	smtp_client_free(p.smtp);
	smarthost_sasl_free(p.sasl);
	if (p.base != NULL)
		event_base_free(p.base);
	return p.result;
}
