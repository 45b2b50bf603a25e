/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Token endpoint replies, parsed with jansson (never by hand).  Owns
 * nothing beyond the struct oauth2_token it fills; see the header for
 * what is accepted.  Invariant: every copy of a token this module makes
 * is wiped before it is freed (OPENSSL_cleanse), and jansson's own
 * copies are freed with the parsed tree as soon as the token is copied.
 */
#include "config.h"

#include "oauth2/oauth2_token.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/strutil.h"
#include "common/xmalloc.h"

/* Copies printable ASCII of s into out, replacing anything else by '?'. */
static void
oauth2_token_clean(char *out, size_t outsz, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outsz; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

/* RFC 6750 section 2.1 b64token characters (plus '=' at the end). */
int
oauth2_token_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > OAUTH2_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || strchr("-._~+/=", c) != NULL))
			return 0;
	}
	return 1;
}

/* Copies a valid token string member, or returns NULL. */
static char *
oauth2_token_dup(json_t *v)
{
	const char *s;
	size_t n;
	char *p;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n || !oauth2_token_is_valid(s, n))
		return NULL;
	p = xmalloc(n + 1);
	memcpy(p, s, n + 1);
	return p;
}

/* Reads expires_in: an integer, or a decimal string.  -1 if bad. */
static long long
oauth2_token_expires(json_t *v)
{
	long long n;
	const char *errstr;

	if (v == NULL)
		return OAUTH2_TOKEN_EXPIRES_DEFAULT;
	if (json_is_integer(v))
		n = (long long)json_integer_value(v);
	else if (json_is_string(v)) {
		if (str_to_ll(json_string_value(v), 1, OAUTH2_TOKEN_EXPIRES_MAX,
			&n, &errstr) == -1)
			return -1;
	} else
		return -1;
	return n >= 1 && n <= OAUTH2_TOKEN_EXPIRES_MAX ? n : -1;
}

/* Fills t from an error reply {"error": ..., "error_description": ...}. */
static enum oauth2_token_result
oauth2_token_error(json_t *root, struct oauth2_token *t)
{
	json_t *e = json_object_get(root, "error");
	json_t *d = json_object_get(root, "error_description");
	char code[64], desc[160];

	if (!json_is_string(e) || json_string_length(e) == 0) {
		(void)!rq_snprintf(t->error, sizeof(t->error),
		    "error reply without an \"error\" string");
		return OAUTH2_TOKEN_MALFORMED;
	}
	oauth2_token_clean(code, sizeof(code), json_string_value(e));
	desc[0] = '\0';
	if (json_is_string(d))
		oauth2_token_clean(desc, sizeof(desc), json_string_value(d));
	(void)!rq_snprintf(t->error, sizeof(t->error), "error=%s%s%s%s", code,
	    desc[0] != '\0' ? " (" : "", desc, desc[0] != '\0' ? ")" : "");
	return strcmp(json_string_value(e), "invalid_grant") == 0
	    ? OAUTH2_TOKEN_INVALID_GRANT
	    : OAUTH2_TOKEN_ERROR;
}

/* Fills t from a success reply. */
static enum oauth2_token_result
oauth2_token_success(json_t *root, struct oauth2_token *t)
{
	json_t *type = json_object_get(root, "token_type");
	json_t *rt = json_object_get(root, "refresh_token");
	const char *what = NULL;

	if (json_object_get(root, "access_token") == NULL)
		what = "no access_token";
	else if ((t->access_token = oauth2_token_dup(
		      json_object_get(root, "access_token"))) == NULL)
		what = "access_token is not a valid token string";
	else if (!json_is_string(type) ||
	    strcasecmp(json_string_value(type), "bearer") != 0)
		what = "token_type is not Bearer";
	else if ((t->expires_in = oauth2_token_expires(
		      json_object_get(root, "expires_in"))) == -1)
		what = "expires_in is not a number of seconds in range";
	else if (rt != NULL && !json_is_null(rt) &&
	    (t->refresh_token = oauth2_token_dup(rt)) == NULL)
		what = "refresh_token is not a valid token string";
	if (what == NULL)
		return OAUTH2_TOKEN_OK;
	(void)!rq_snprintf(t->error, sizeof(t->error), "malformed reply: %s",
	    what);
	return OAUTH2_TOKEN_MALFORMED;
}

/* Parses a token endpoint reply. */
enum oauth2_token_result
oauth2_token_parse(const char *body, size_t len, int status,
    struct oauth2_token *t)
{
	enum oauth2_token_result r;
	json_error_t jerr;
	json_t *root;

	memset(t, 0, sizeof(*t));
	if (len > OAUTH2_TOKEN_REPLY_MAX) {
		(void)!rq_snprintf(t->error, sizeof(t->error),
		    "reply of %zu bytes is larger than %d", len,
		    OAUTH2_TOKEN_REPLY_MAX);
		return OAUTH2_TOKEN_MALFORMED;
	}
	if (status != 200 && status != 400 && status != 401) {
		(void)!rq_snprintf(t->error, sizeof(t->error), "HTTP status %d",
		    status);
		return OAUTH2_TOKEN_MALFORMED;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char text[80];

		oauth2_token_clean(text, sizeof(text), jerr.text);
		(void)!rq_snprintf(t->error, sizeof(t->error),
		    "malformed reply: not JSON (%s at byte %d)", text,
		    jerr.position);
		return OAUTH2_TOKEN_MALFORMED;
	}
	if (!json_is_object(root)) {
		(void)!rq_snprintf(t->error, sizeof(t->error),
		    "malformed reply: not a JSON object");
		r = OAUTH2_TOKEN_MALFORMED;
	} else if (status == 200)
		r = oauth2_token_success(root, t);
	else
		r = oauth2_token_error(root, t);
	json_decref(root);
	if (r != OAUTH2_TOKEN_OK) {
		char keep[sizeof(t->error)];

		memcpy(keep, t->error, sizeof(keep));
		oauth2_token_clear(t);
		memcpy(t->error, keep, sizeof(keep));
	}
	return r;
}

/* Wipes and frees one token string. */
static void
oauth2_token_wipe(char **p)
{
	if (*p == NULL)
		return;
	OPENSSL_cleanse(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

/* Wipes and frees the tokens. */
void
oauth2_token_clear(struct oauth2_token *t)
{
	oauth2_token_wipe(&t->access_token);
	oauth2_token_wipe(&t->refresh_token);
	memset(t, 0, sizeof(*t));
}
