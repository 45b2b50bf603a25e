/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for smarthost_auth: the AUTH settings check, password_file and
 * password_command, mechanism choice, and every SASL mechanism against
 * the published examples (RFC 4616, RFC 2195, RFC 7677, RFC 7628 and
 * Google's XOAUTH2 page).  Expected base64 strings were computed
 * independently with Python's base64 module.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smarthost/smarthost_auth.h"
#include "common/compat.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "tap.h"

/* Scratch files for one run. */
struct tenv {
	char dir[64];
	char path[128]; /* the file put_file() wrote last */
};

/* Replaces an owned conf string. */
static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* Writes text to dir/name with mode; returns the path (static). */
static const char *
put_file(struct tenv *t, const char *name, const char *text, mode_t mode)
{
	int fd;

	(void)snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	(void)unlink(t->path);
	fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, mode) == -1 || close(fd) == -1)
		printf("# cannot write %s: %s\n", t->path, strerror(errno));
	return t->path;
}

/* Fills c with defaults plus the given AUTH settings. */
static void
conf_auth(struct conf *c, const char *user, const char *file, const char *cmd,
    const char *auth)
{
	conf_defaults(c);
	set_str(&c->smarthosts[0].username, user);
	set_str(&c->smarthosts[0].password_file, file);
	set_str(&c->smarthosts[0].password_command, cmd);
	set_str(&c->smarthosts[0].auth, auth);
	set_str(&c->smarthosts[0].host, "server.example.com");
	c->smarthosts[0].port = 143;
}

/* Returns a session for user and secret (from a 0600 file) under auth. */
static struct smarthost_sasl *
session(struct tenv *t, const char *user, const char *secret, const char *auth)
{
	struct smarthost_auth *a;
	struct smarthost_sasl *s = NULL;
	struct rq_err err;
	struct conf c;

	put_file(t, "secret", secret, 0600);
	conf_auth(&c, user, t->path, "", auth);
	if ((a = smarthost_auth_new(&c, &err)) == NULL)
		printf("# smarthost_auth_new: %s\n", err.msg);
	else if ((s = smarthost_sasl_new(a, &err)) == NULL)
		printf("# smarthost_sasl_new: %s\n", err.msg);
	smarthost_auth_free(a); /* sessions do not depend on it */
	conf_free(&c);
	return s;
}

/* Runs one step and returns the response (static copy, or "(fail)"). */
static const char *
step(struct smarthost_sasl *s, const char *challenge, struct rq_reason *why)
{
	static char out[4096];
	char *resp = NULL;

	memset(why, 0, sizeof(*why));
	if (smarthost_sasl_step(s, challenge, strlen(challenge), &resp, why) ==
	    -1) {
		free(resp);
		return "(fail)";
	}
	(void)strlcpy(out, resp != NULL ? resp : "(null)", sizeof(out));
	free(resp);
	return out;
}

/* Starts s on offered; returns the mechanism name or "(fail)". */
static const char *
start(struct smarthost_sasl *s, const char *offered, char *resp, size_t respsz,
    struct rq_reason *why)
{
	const char *mech = NULL;
	char *r = NULL;

	memset(why, 0, sizeof(*why));
	if (smarthost_sasl_start(s, offered, &mech, &r, why) == -1) {
		ok(r == NULL && mech == NULL, "nothing returned on failure");
		return "(fail)";
	}
	(void)strlcpy(resp, r != NULL ? r : "(null)", respsz);
	free(r);
	return mech;
}

/* PLAIN (RFC 4616): one initial response, nothing more. */
static void
test_plain(struct tenv *t)
{
	struct smarthost_sasl *s =
	    session(t, "tim", "tanstaaftanstaaf", "plain");
	struct rq_reason why;
	char resp[4096];

	is_str(start(s, "LOGIN PLAIN", resp, sizeof(resp), &why), "PLAIN",
	    "PLAIN chosen");
	is_str(resp, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "NUL tim NUL password");
	is_int(smarthost_sasl_finish(s, &why), 0, "complete after 235");
	is_str(step(s, "", &why), "(fail)", "a challenge after PLAIN fails");
	ok(strstr(why.text, "tanstaaf") == NULL, "reason holds no secret");
	smarthost_sasl_free(s);

	s = session(t, "user", "pencil", "plain");
	start(s, "PLAIN", resp, sizeof(resp), &why);
	is_str(resp, "AHVzZXIAcGVuY2ls", "reference example");
	is_str(start(s, "PLAIN", resp, sizeof(resp), &why), "(fail)",
	    "start only once");
	smarthost_sasl_free(s);
}

/* LOGIN: answered by step count, whatever the prompt says. */
static void
test_login(struct tenv *t)
{
	struct smarthost_sasl *s = session(t, "user", "pencil", "login");
	struct rq_reason why;
	char resp[4096];

	is_str(start(s, "PLAIN LOGIN", resp, sizeof(resp), &why), "LOGIN",
	    "LOGIN chosen");
	is_str(resp, "(null)", "no initial response");
	is_str(step(s, "VXNlcm5hbWU6", &why), "dXNlcg==", "Username: -> user");
	is_str(step(s, "UGFzc3dvcmQ6", &why), "cGVuY2ls",
	    "Password: -> password");
	is_str(step(s, "", &why), "(fail)", "a third challenge fails");
	smarthost_sasl_free(s);

	s = session(t, "user", "pencil", "login");
	start(s, "LOGIN", resp, sizeof(resp), &why);
	is_str(step(s, "UGFzc3dvcmQ6", &why),
	    "dXNlcg==", "prompts are not trusted: first answer is the user");
	is_str(step(s, "", &why), "cGVuY2ls", "second is the password");
	smarthost_sasl_free(s);
}

/* CRAM-MD5 against the RFC 2195 example. */
static void
test_cram_md5(struct tenv *t)
{
	struct smarthost_sasl *s =
	    session(t, "tim", "tanstaaftanstaaf", "cram-md5");
	struct rq_reason why;
	char resp[4096];

	is_str(start(s, "PLAIN CRAM-MD5", resp, sizeof(resp), &why), "CRAM-MD5",
	    "CRAM-MD5 chosen");
	is_str(resp, "(null)", "no initial response");
	/* <1896.697170952@postoffice.reston.mci.net> */
	is_str(step(s,
		   "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
		   &why),
	    /* "tim b913a602c7eda7a495b4e6e7334d3890" */
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
	    "RFC 2195 digest");
	is_str(step(s, "", &why), "(fail)", "one challenge only");
	smarthost_sasl_free(s);

	s = session(t, "tim", "tanstaaftanstaaf", "cram-md5");
	start(s, "CRAM-MD5", resp, sizeof(resp), &why);
	is_str(step(s, "", &why), "(fail)", "empty challenge refused");
	smarthost_sasl_free(s);
}

#define RFC7677_SFIRST                                                         \
	"cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRr" \
	"MCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY="
#define RFC7677_CFINAL                                                         \
	"Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxq" \
	"KWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0Fu" \
	"ZFZRPQ=="
#define RFC7677_SFINAL \
	"dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ=="

/* Returns a SCRAM session with the RFC 7677 nonce, started. */
static struct smarthost_sasl *
scram_started(struct tenv *t, const char *user, const char *pw)
{
	struct smarthost_sasl *s = session(t, user, pw, "scram-sha-256");
	struct rq_reason why;
	char resp[4096];

	if (s == NULL)
		return NULL;
	if (smarthost_sasl_set_nonce(s, "rOprNGfwEbeRWgbNEkqO") == -1)
		printf("# nonce refused\n");
	start(s, "SCRAM-SHA-256", resp, sizeof(resp), &why);
	return s;
}

/* Base64 of s (test-side, for hand-made server messages). */
static const char *
b64(const char *s)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char out[1024];
	size_t n = strlen(s), o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* SCRAM-SHA-256 against the RFC 7677 example, and its failure modes. */
static void
test_scram(struct tenv *t)
{
	struct smarthost_sasl *s =
	    session(t, "user", "pencil", "scram-sha-256");
	struct rq_reason why;
	char resp[4096];

	ok(smarthost_sasl_set_nonce(s, "a,b") == -1, "nonce with ',' refused");
	ok(smarthost_sasl_set_nonce(s, "") == -1, "empty nonce refused");
	is_int(smarthost_sasl_set_nonce(s, "rOprNGfwEbeRWgbNEkqO"), 0,
	    "test nonce set");
	is_str(start(s, "PLAIN SCRAM-SHA-256", resp, sizeof(resp), &why),
	    "SCRAM-SHA-256", "SCRAM chosen");
	/* n,,n=user,r=rOprNGfwEbeRWgbNEkqO */
	is_str(resp,
	    "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=", "client-first");
	is_str(step(s, RFC7677_SFIRST, &why), RFC7677_CFINAL,
	    "client-final with the RFC 7677 proof");
	is_int(smarthost_sasl_finish(s, &why), -1,
	    "235 before the server signature is refused");
	ok(strstr(why.text, "server signature") != NULL, "reason: %s",
	    why.text);
	is_str(step(s, RFC7677_SFINAL, &why), "", "server-final verified");
	is_int(smarthost_sasl_finish(s, &why), 0, "complete");
	is_str(step(s, "", &why), "(fail)", "no fourth message");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	step(s, RFC7677_SFIRST, &why);
	is_str(step(s, b64("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
		   &why),
	    "(fail)", "wrong server signature fails");
	is_str(why.text, "AUTH SCRAM-SHA-256: server signature does not verify",
	    "reason");
	is_int(smarthost_sasl_finish(s, &why), -1, "and never completes");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	step(s, RFC7677_SFIRST, &why);
	is_str(step(s, b64("v=6rriTRBi"), &why), "(fail)",
	    "short signature fails");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	step(s, RFC7677_SFIRST, &why);
	is_str(step(s, b64("e=invalid-proof"), &why), "(fail)",
	    "server error fails");
	is_str(why.text, "AUTH SCRAM-SHA-256: server error invalid-proof",
	    "server's error named");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("r=XXXprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ=="
		       ",i=4096"),
		   &why),
	    "(fail)", "server nonce not extending ours fails");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ=="
		       ",i=4096"),
		   &why),
	    "(fail)", "server nonce equal to ours fails");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=="
		       ",i=4095"),
		   &why),
	    "(fail)", "4095 iterations refused");
	ok(strstr(why.text, "4095") != NULL, "reason: %s", why.text);
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=="
		       ",i=100001"),
		   &why),
	    "(fail)", "100001 iterations refused (cap)");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=="
		       ",i=4096x"),
		   &why),
	    "(fail)", "junk iteration count refused");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s,
		   b64("m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6"
		       "gQ==,i=4096"),
		   &why),
	    "(fail)", "mandatory extension refused");
	smarthost_sasl_free(s);

	s = scram_started(t, "user", "pencil");
	is_str(step(s, b64("r=rOprNGfwEbeRWgbNEkqOx,s=W22Z!J0S,i=4096"), &why),
	    "(fail)", "bad salt refused");
	smarthost_sasl_free(s);

	/* saslname escaping */
	s = session(t, "a,b=c", "pencil", "scram-sha-256");
	smarthost_sasl_set_nonce(s, "abc");
	start(s, "SCRAM-SHA-256", resp, sizeof(resp), &why);
	is_str(resp, b64("n,,n=a=2Cb=3Dc,r=abc"), "',' and '=' escaped");
	smarthost_sasl_free(s);

	/* random nonce: 24 base64 characters */
	s = session(t, "user", "pencil", "scram-sha-256");
	start(s, "SCRAM-SHA-256", resp, sizeof(resp), &why);
	is_int(strlen(resp),
	    strlen(b64("n,,n=user,r=123456789012345678901234")),
	    "random nonce of 18 bytes");
	smarthost_sasl_free(s);

	/* no SASLprep: ASCII only */
	s = session(t, "user", "p\xc3\xa9ncil", "scram-sha-256");
	is_str(start(s, "SCRAM-SHA-256 PLAIN", resp, sizeof(resp), &why),
	    "(fail)", "explicit SCRAM with a non-ASCII password fails");
	ok(strstr(why.text, "SASLprep") != NULL, "reason: %s", why.text);
	ok(strstr(why.text, "ncil") == NULL, "reason holds no secret");
	smarthost_sasl_free(s);
	s = session(t, "user", "p\xc3\xa9ncil", "auto");
	is_str(start(s, "SCRAM-SHA-256 PLAIN", resp, sizeof(resp), &why),
	    "PLAIN", "auto skips SCRAM for a non-ASCII password");
	smarthost_sasl_free(s);
}

/* XOAUTH2 and OAUTHBEARER exact strings and error handling. */
static void
test_oauth(struct tenv *t)
{
	struct smarthost_sasl *s;
	struct rq_reason why;
	char resp[4096];

	s = session(t, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\n", "xoauth2");
	is_str(start(s, "PLAIN XOAUTH2", resp, sizeof(resp), &why), "XOAUTH2",
	    "XOAUTH2 chosen");
	/* user=someuser@example.com^Aauth=Bearer ya29...^A^A */
	is_str(resp,
	    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
	    "dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
	    "Google's example");
	is_str(step(s,
		   b64("{\"status\":\"401\",\"schemes\":\"bearer\","
		       "\"scope\":\"https://mail.google.com/\"}"),
		   &why),
	    "", "error JSON answered with an empty line");
	is_str(step(s, "", &why), "(fail)", "no second challenge");
	smarthost_sasl_free(s);

	s = session(t, "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "oauthbearer");
	is_str(start(s, "OAUTHBEARER XOAUTH2", resp, sizeof(resp), &why),
	    "OAUTHBEARER", "OAUTHBEARER chosen");
	/* n,a=user@example.com,^Ahost=server.example.com^Aport=143^A
	 * auth=Bearer vF9...==^A^A (RFC 7628 section 4.1) */
	is_str(resp,
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBv"
	    "cnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1s"
	    "emRHRXVZMjl0Q2c9PQEB",
	    "RFC 7628 example");
	is_str(step(s, b64("{\"status\":\"invalid_token\"}"), &why),
	    "AQ==", "error answered with ^A");
	is_str(step(s, "", &why), "(fail)", "no second challenge");
	smarthost_sasl_free(s);

	s = session(t, "a,=b", "tok", "oauthbearer");
	start(s, "OAUTHBEARER", resp, sizeof(resp), &why);
	is_str(resp,
	    b64("n,a=a=2C=3Db,\001host=server.example.com\001port=143\001"
		"auth=Bearer tok\001\001"),
	    "OAUTHBEARER escapes the user");
	smarthost_sasl_free(s);

	s = session(t, "u", "to\001k", "xoauth2");
	is_str(start(s, "XOAUTH2", resp, sizeof(resp), &why), "(fail)",
	    "token with a control character refused");
	smarthost_sasl_free(s);
}

/* auth = auto: the strongest offered password mechanism; explicit ones. */
static void
test_choice(struct tenv *t)
{
	static const struct {
		const char *auth, *offered, *want;
	} cases[] = {
		{ "auto", "LOGIN PLAIN CRAM-MD5 SCRAM-SHA-256 XOAUTH2",
		    "SCRAM-SHA-256" },
		{ "auto", "LOGIN PLAIN CRAM-MD5 XOAUTH2", "PLAIN" },
		{ "auto", "LOGIN CRAM-MD5", "LOGIN" },
		{ "cram-md5", "LOGIN CRAM-MD5", "CRAM-MD5" },
		{ "auto", "XOAUTH2 LOGIN PLAIN", "PLAIN" },
		{ "auto", "login", "LOGIN" },
		{ "auto", "scram-sha-256 plain", "SCRAM-SHA-256" },
		{ "auto", "SCRAM-SHA-1 DIGEST-MD5 PLAIN", "PLAIN" },
		{ "auto", "XOAUTH2 OAUTHBEARER", "(fail)" },
		{ "auto", "GSSAPI", "(fail)" },
		{ "auto", "", "(fail)" },
		{ "plain", "LOGIN SCRAM-SHA-256", "(fail)" },
		{ "PLAIN", "LOGIN PLAIN SCRAM-SHA-256", "PLAIN" },
		{ "login", "LOGIN PLAIN", "LOGIN" },
		{ "xoauth2", "PLAIN XOAUTH2", "XOAUTH2" },
		{ "xoauth2", "PLAIN", "(fail)" },
		{ "oauthbearer", "OAUTHBEARER", "OAUTHBEARER" },
		{ "cram-md5", "PLAIN", "(fail)" },
		{ "auto", "PLAINX XPLAIN", "(fail)" },
	};
	struct smarthost_sasl *s;
	struct rq_reason why;
	char resp[4096];

	for (size_t i = 0; i < RQ_NELEM(cases); i++) {
		s = session(t, "user", "pencil", cases[i].auth);
		is_str(start(s, cases[i].offered, resp, sizeof(resp), &why),
		    cases[i].want, "auth=%s offered '%s'", cases[i].auth,
		    cases[i].offered);
		ok(strstr(why.text, "pencil") == NULL, "no secret in reason");
		smarthost_sasl_free(s);
	}
	s = session(t, "user", "pencil", "plain");
	start(s, "LOGIN SCRAM-SHA-256", resp, sizeof(resp), &why);
	is_str(why.text,
	    "server does not offer AUTH PLAIN (it offers: LOGIN SCRAM-SHA-256)",
	    "explicit mechanism not offered: clear reason");
	smarthost_sasl_free(s);
	s = session(t, "user", "pencil", "auto");
	start(s, "XOAUTH2", resp, sizeof(resp), &why);
	ok(strstr(why.text, "set auth = xoauth2") != NULL,
	    "token-only server: hint (%s)", why.text);
	smarthost_sasl_free(s);
}

/* Challenges that are not strict base64 are refused before decoding. */
static void
test_bad_base64(struct tenv *t)
{
	static const char *const bad[] = { "abc", "YQ==YWJj",
		"Y===", "====", "YW Jj", "YWJj\r\n", "YW=j", "Y!Jj",
		"YWJj YWJj", "\xc3\xa9YWJ" };
	struct smarthost_sasl *s;
	struct rq_reason why;
	char resp[4096];

	for (size_t i = 0; i < RQ_NELEM(bad); i++) {
		s = session(t, "user", "pencil", "login");
		start(s, "LOGIN", resp, sizeof(resp), &why);
		is_str(step(s, bad[i], &why), "(fail)",
		    "bad base64 %zu refused", i);
		ok(strstr(why.text, "not valid base64") != NULL, "reason: %s",
		    why.text);
		smarthost_sasl_free(s);
	}
	s = session(t, "user", "pencil", "login");
	start(s, "LOGIN", resp, sizeof(resp), &why);
	is_str(step(s, "YQ==", &why), "dXNlcg==", "padded challenge accepted");
	smarthost_sasl_free(s);
}

/* The AUTH settings check: off, errors, password_file permissions. */
static void
test_config(struct tenv *t)
{
	struct smarthost_auth *a;
	struct smarthost_sasl *s;
	struct rq_reason why;
	struct rq_err err;
	struct conf c;
	char resp[4096], link[160];

	conf_auth(&c, "", "", "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL && err.msg[0] == '\0',
	    "no username: AUTH off");
	conf_free(&c);
	conf_auth(&c, "user", put_file(t, "pw", "pencil\n", 0600), "", "none");
	ok(smarthost_auth_new(&c, &err) == NULL && err.msg[0] == '\0',
	    "auth = none: AUTH off");
	conf_free(&c);
	conf_auth(&c, "", t->path, "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL && err.msg[0] != '\0',
	    "password without username: error (%s)", err.msg);
	conf_free(&c);
	conf_auth(&c, "user", t->path, "", "digest-md5");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "unknown mechanism") != NULL,
	    "unknown mechanism: %s", err.msg);
	conf_free(&c);
	conf_auth(&c, "user", t->path, "/bin/echo x", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "exactly one") != NULL,
	    "both sources: %s", err.msg);
	conf_free(&c);
	conf_auth(&c, "user", "", "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "exactly one") != NULL,
	    "no source: %s", err.msg);
	conf_free(&c);
	conf_auth(&c, "us\ter", t->path, "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL && err.msg[0] != '\0',
	    "control character in username: %s", err.msg);
	conf_free(&c);
	conf_auth(&c, "user", "relative/pw", "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL && err.msg[0] != '\0',
	    "relative password_file: %s", err.msg);
	conf_free(&c);

	/* permissions */
	put_file(t, "pw", "pencil\n", 0644);
	conf_auth(&c, "user", t->path, "", "auto");
	a = smarthost_auth_new(&c, &err);
	ok(a == NULL, "mode 0644 refused");
	ok(strstr(err.msg, t->path) != NULL, "message names the file");
	ok(strstr(err.msg, "0644") != NULL, "message gives the mode");
	ok(strstr(err.msg, "chmod 600") != NULL, "message says how to fix");
	printf("# %s\n", err.msg);
	put_file(t, "pw", "pencil\n", 0640);
	ok(smarthost_auth_new(&c, &err) == NULL, "mode 0640 refused");
	put_file(t, "pw", "pencil\n", 0604);
	ok(smarthost_auth_new(&c, &err) == NULL, "mode 0604 refused");
	put_file(t, "pw", "pencil\n", 0400);
	a = smarthost_auth_new(&c, &err);
	ok(a != NULL, "mode 0400 accepted");
	smarthost_auth_free(a);
	put_file(t, "pw", "pencil\r\nsecond line\n", 0600);
	a = smarthost_auth_new(&c, &err);
	ok(a != NULL, "mode 0600 accepted");
	s = smarthost_sasl_new(a, &err);
	start(s, "PLAIN", resp, sizeof(resp), &why);
	is_str(resp, "AHVzZXIAcGVuY2ls", "first line, CR/LF stripped");
	smarthost_sasl_free(s);

	/* re-read and re-checked for every session */
	put_file(t, "pw", "tanstaaftanstaaf", 0600);
	s = smarthost_sasl_new(a, &err);
	start(s, "PLAIN", resp, sizeof(resp), &why);
	is_str(resp, "AHVzZXIAdGFuc3RhYWZ0YW5zdGFhZg==",
	    "file read again (no final newline)");
	smarthost_sasl_free(s);
	(void)chmod(t->path, 0644);
	ok(smarthost_sasl_new(a, &err) == NULL && strstr(err.msg, "0644"),
	    "mode checked again on each read");
	smarthost_auth_free(a);
	conf_free(&c);

	put_file(t, "pw", "\nsecret\n", 0600);
	conf_auth(&c, "user", t->path, "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "empty") != NULL,
	    "empty first line: %s", err.msg);
	{
		char big[SMARTHOST_AUTH_FILE_MAX + 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		put_file(t, "pw", big, 0600);
		ok(smarthost_auth_new(&c, &err) == NULL &&
			strstr(err.msg, "larger") != NULL,
		    "file over 4 KiB: %s", err.msg);
		big[SMARTHOST_AUTH_FILE_MAX] = '\0';
		put_file(t, "pw", big, 0600);
		a = smarthost_auth_new(&c, &err);
		ok(a != NULL, "file of exactly 4 KiB accepted");
		smarthost_auth_free(a);
	}
	conf_free(&c);

	put_file(t, "pw", "pencil\n", 0600);
	(void)snprintf(link, sizeof(link), "%s/link", t->dir);
	(void)unlink(link);
	if (symlink(t->path, link) == -1)
		printf("# symlink: %s\n", strerror(errno));
	conf_auth(&c, "user", link, "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "symbolic link") != NULL,
	    "symlink refused: %s", err.msg);
	conf_free(&c);
	(void)unlink(link);
	conf_auth(&c, "user", t->dir, "", "auto");
	ok(smarthost_auth_new(&c, &err) == NULL &&
		strstr(err.msg, "not a regular file") != NULL,
	    "directory refused: %s", err.msg);
	conf_free(&c);
}

/* Returns a policy running cmd, with a short time limit. */
static struct smarthost_auth *
cmd_auth(const char *cmd, const char *auth)
{
	struct smarthost_auth *a;
	struct rq_err err;
	struct conf c;

	conf_auth(&c, "user", "", cmd, auth);
	if ((a = smarthost_auth_new(&c, &err)) == NULL)
		printf("# smarthost_auth_new: %s\n", err.msg);
	else
		smarthost_auth_set_command_timeout(a, 300);
	conf_free(&c);
	return a;
}

/* Returns the number of lines in the file at path. */
static int
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int c, n = 0;

	if (fp == NULL)
		return 0;
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

/*
 * True once the process whose pid is in file path is gone (killed, and
 * reaped by init, whose child it became), within 60 s; kills it if not.
 */
static int
left_gone(const char *path)
{
	FILE *fp = fopen(path, "r");
	long pid = 0;

	if (fp == NULL || fscanf(fp, "%ld", &pid) != 1 || pid <= 0) {
		if (fp != NULL)
			fclose(fp);
		return 0;
	}
	fclose(fp);
	for (int i = 0; i < 600; i++) {
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			return 1;
		(void)poll(NULL, 0, 100);
	}
	(void)kill((pid_t)pid, SIGKILL);
	return 0;
}

/* password_command: run per session, first line, failures, time limit. */
static void
test_command(struct tenv *t)
{
	struct smarthost_auth *a;
	struct smarthost_sasl *s;
	struct rq_reason why;
	struct rq_err err;
	char resp[4096], cmd[512], log[160];
	struct timespec t0, t1;
	double secs;

	a = cmd_auth("/bin/echo  token123", "xoauth2");
	s = smarthost_sasl_new(a, &err);
	ok(s != NULL, "echo runs");
	start(s, "XOAUTH2", resp, sizeof(resp), &why);
	is_str(resp, b64("user=user\001auth=Bearer token123\001\001"),
	    "first line of stdout is the token");
	smarthost_sasl_free(s);
	smarthost_auth_free(a);

	a = cmd_auth("/usr/bin/printf \tfirst\\nsecond\\n", "plain");
	s = smarthost_sasl_new(a, &err);
	start(s, "PLAIN", resp, sizeof(resp), &why);
	is_str(resp, "AHVzZXIAZmlyc3Q=", "blank-separated words; first line");
	smarthost_sasl_free(s);
	smarthost_auth_free(a);

	a = cmd_auth("/bin/false", "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "exited with status 1") != NULL,
	    "non-zero exit: %s", err.msg);
	smarthost_auth_free(a);

	a = cmd_auth("/bin/true", "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "empty") != NULL,
	    "no output: %s", err.msg);
	smarthost_auth_free(a);

	a = cmd_auth("/bin/cat", "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "empty") != NULL,
	    "stdin is /dev/null: %s", err.msg);
	smarthost_auth_free(a);

	a = cmd_auth("/nonexistent/helper --flag", "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "127") != NULL,
	    "missing program: %s", err.msg);
	smarthost_auth_free(a);

	a = cmd_auth("/usr/bin/head -c 9000 /dev/zero", "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "more than") != NULL,
	    "output over 8 KiB: %s", err.msg);
	smarthost_auth_free(a);

	a = cmd_auth("/bin/sleep 5", "plain");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "timed out") != NULL,
	    "slow command: %s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(secs < 2.0, "killed at the time limit (%.2f s)", secs);
	smarthost_auth_free(a);

	/* output, then a hang with stdout open: killed at the limit */
	put_file(t, "hang.sh", "echo tok; exec /bin/sleep 5\n", 0600);
	(void)snprintf(cmd, sizeof(cmd), "/bin/sh %s", t->path);
	a = cmd_auth(cmd, "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "timed out") != NULL,
	    "hang after output: %s", err.msg);
	smarthost_auth_free(a);

	/* stdout closed, then a hang: reaping is bounded too */
	put_file(t, "hang.sh", "echo tok; exec >&-; exec /bin/sleep 5\n", 0600);
	a = cmd_auth(cmd, "plain");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "timed out") != NULL,
	    "no exit after EOF: %s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(secs < 2.0, "killed at the time limit (%.2f s)", secs);
	smarthost_auth_free(a);

	/* killed by a signal */
	put_file(t, "hang.sh", "echo tok; kill -TERM $$\n", 0600);
	a = cmd_auth(cmd, "plain");
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg, "signal 15") != NULL,
	    "signal: %s", err.msg);
	smarthost_auth_free(a);

	/*
	 * It exits at once, and a process it started holds stdout open:
	 * the reason says so, and that process is killed at the limit (a
	 * generous one: the script only has to exit before it).
	 */
	(void)snprintf(log, sizeof(log), "%s/left.pid", t->dir);
	(void)unlink(log);
	put_file(t, "left.sh", "sleep 30 & echo $! > \"$1\"; exit 5\n", 0600);
	(void)snprintf(cmd, sizeof(cmd), "/bin/sh %s %s", t->path, log);
	a = cmd_auth(cmd, "plain");
	smarthost_auth_set_command_timeout(a, 5000);
	ok(smarthost_sasl_new(a, &err) == NULL &&
		strstr(err.msg,
		    "/bin/sh exited with status 5, but its output stayed "
		    "open: a process it started still holds it (killed "
		    "after 5000 ms)") != NULL,
	    "exited, a child holding its output: %s", err.msg);
	ok(left_gone(log), "that child was killed (its process group)");
	smarthost_auth_free(a);
	(void)unlink(log);

	/* run anew for every session (token refresh) */
	(void)snprintf(log, sizeof(log), "%s/runs", t->dir);
	(void)unlink(log);
	put_file(t, "helper.sh", "echo run >> \"$1\"; echo tok\n", 0600);
	(void)snprintf(cmd, sizeof(cmd), "/bin/sh %s %s", t->path, log);
	a = cmd_auth(cmd, "xoauth2");
	s = smarthost_sasl_new(a, &err);
	smarthost_sasl_free(s);
	s = smarthost_sasl_new(a, &err);
	ok(s != NULL, "helper script runs");
	smarthost_sasl_free(s);
	is_int(count_lines(log), 2, "run once per session");
	smarthost_auth_free(a);
	(void)unlink(log);
}

/*
 * password_command's program: an executable file for relayqd's user,
 * found as execvp() finds it; the same words from relayqd and
 * check-config (smarthost_auth_check_program).
 */
static void
test_program(struct tenv *t)
{
	/* not the effective uid, not root, in no group of the file */
	const uid_t other = geteuid() == 65534 ? 65533 : 65534;
	struct rq_err err;
	struct conf c;
	char dirs[300];

	put_file(t, "prog", "#!/bin/sh\necho x\n", 0755);
	ok(secret_check_program("k", t->path, NULL, (uid_t)-1, &err) == 0,
	    "an executable file (our uid)");
	ok(secret_check_program("k", t->path, NULL, other, &err) == 0,
	    "an executable file (mode 0755, another uid)");
	(void)snprintf(dirs, sizeof(dirs), "/nonexistent:%s", t->dir);
	ok(secret_check_program("k", "prog", dirs, (uid_t)-1, &err) == 0,
	    "a bare name found in the path's second directory");
	ok(secret_check_program("k", "prog", "/nonexistent", (uid_t)-1, &err) ==
		    -1 &&
		strcmp(err.msg,
		    "k: prog is not an executable file found in PATH") == 0,
	    "a bare name not in the path: %s", err.msg);
	(void)chmod(t->path, 0644);
	ok(secret_check_program("k", t->path, NULL, (uid_t)-1, &err) == -1 &&
		strstr(err.msg, "prog is not an executable file") != NULL,
	    "mode 0644: %s", err.msg);
	(void)chmod(t->path, 0710);
	ok(secret_check_program("k", t->path, NULL, other, &err) == -1 &&
		strstr(err.msg, "for relayqd's user") != NULL,
	    "mode 0710: not for a uid outside its owner and group: %s",
	    err.msg);
	(void)chmod(t->path, 0701);
	ok(secret_check_program("k", t->path, NULL, other, &err) == 0,
	    "mode 0701: executable by others");
	ok(secret_check_program("k", t->dir, NULL, (uid_t)-1, &err) == -1,
	    "a directory is not a program");

	(void)chmod(t->path, 0755);
	conf_auth(&c, "user", "", "", "plain");
	set_str(&c.smarthosts[0].password_command, "/nonexistent/helper -x");
	ok(smarthost_auth_check_program(&c, (uid_t)-1, &err) == -1 &&
		strcmp(err.msg,
		    "smarthost password_command: /nonexistent/helper is not "
		    "an executable file") == 0,
	    "password_command: its first word is checked: %s", err.msg);
	set_str(&c.smarthosts[0].password_command, t->path);
	ok(smarthost_auth_check_program(&c, (uid_t)-1, &err) == 0,
	    "password_command: an executable program passes");
	conf_free(&c);
}

/* Runs every test and prints the TAP plan. */
int
main(void)
{
	static const char *const files[] = { "secret", "pw", "helper.sh",
		"hang.sh", "left.sh", "prog" };
	struct tenv t;

	log_init("test_smarthost_auth", LOG_TO_STDERR, 0);
	memset(&t, 0, sizeof(t));
	(void)strlcpy(t.dir, "/tmp/test_smarthost_auth.XXXXXX", sizeof(t.dir));
	if (mkdtemp(t.dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_plain(&t);
	test_login(&t);
	test_cram_md5(&t);
	test_scram(&t);
	test_oauth(&t);
	test_choice(&t);
	test_bad_base64(&t);
	test_config(&t);
	test_command(&t);
	test_program(&t);
	for (size_t i = 0; i < RQ_NELEM(files); i++) {
		(void)snprintf(t.path, sizeof(t.path), "%s/%s", t.dir,
		    files[i]);
		(void)unlink(t.path);
	}
	if (rmdir(t.dir) == -1)
		printf("# rmdir %s: %s\n", t.dir, strerror(errno));
	return done_testing();
}
