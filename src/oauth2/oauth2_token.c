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

/*
 * Fills error (and code, the "error" member alone) from an error reply
 * {"error": ..., "error_description": ...}.
 */
static enum oauth2_token_result
oauth2_token_error(json_t *root, char *error, size_t errorsz, char *code,
    size_t codesz)
{
	json_t *e = json_object_get(root, "error");
	json_t *d = json_object_get(root, "error_description");
	char desc[160];

	if (!json_is_string(e) || json_string_length(e) == 0) {
		(void)!rq_snprintf(error, errorsz,
		    "error reply without an \"error\" string");
		return OAUTH2_TOKEN_MALFORMED;
	}
	oauth2_token_clean(code, codesz, json_string_value(e));
	desc[0] = '\0';
	if (json_is_string(d))
		oauth2_token_clean(desc, sizeof(desc), json_string_value(d));
	(void)!rq_snprintf(error, errorsz, "error=%s%s%s%s", code,
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

	/* First: a valid rotated token is kept whatever else is wrong. */
	if (rt != NULL && !json_is_null(rt) &&
	    (t->refresh_token = oauth2_token_dup(rt)) == NULL)
		what = "refresh_token is not a valid token string";
	else if (json_object_get(root, "access_token") == NULL)
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
	if (what == NULL)
		return OAUTH2_TOKEN_OK;
	(void)!rq_snprintf(t->error, sizeof(t->error), "malformed reply: %s",
	    what);
	return OAUTH2_TOKEN_MALFORMED;
}

/*
 * Checks the size and status of a reply and loads its JSON object;
 * returns NULL with error set when it is not one.
 */
static json_t *
oauth2_token_load(const char *body, size_t len, int status, char *error,
    size_t errorsz)
{
	json_error_t jerr;
	json_t *root;

	if (len > OAUTH2_TOKEN_REPLY_MAX) {
		(void)!rq_snprintf(error, errorsz,
		    "reply of %zu bytes is larger than %d", len,
		    OAUTH2_TOKEN_REPLY_MAX);
		return NULL;
	}
	if (status != 200 && status != 400 && status != 401) {
		(void)!rq_snprintf(error, errorsz, "HTTP status %d", status);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char text[80], *near;

		/*
		 * jansson quotes the input "near '...'": in a cut-off reply
		 * that is a piece of a token, so it never reaches a log.
		 */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		oauth2_token_clean(text, sizeof(text), jerr.text);
		(void)!rq_snprintf(error, errorsz,
		    "malformed reply: not JSON (%s at byte %d)", text,
		    jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		(void)!rq_snprintf(error, errorsz,
		    "malformed reply: not a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Parses a token endpoint reply. */
enum oauth2_token_result
oauth2_token_parse(const char *body, size_t len, int status,
    struct oauth2_token *t)
{
	enum oauth2_token_result r;
	json_t *root;

	memset(t, 0, sizeof(*t));
	if ((root = oauth2_token_load(body, len, status, t->error,
		 sizeof(t->error))) == NULL)
		return OAUTH2_TOKEN_MALFORMED;
	if (status == 200)
		r = oauth2_token_success(root, t);
	else
		r = oauth2_token_error(root, t->error, sizeof(t->error),
		    t->error_code, sizeof(t->error_code));
	json_decref(root);
	if (r != OAUTH2_TOKEN_OK) {
		char keep[sizeof(t->error)], code[sizeof(t->error_code)];
		char *rt = t->refresh_token;

		memcpy(keep, t->error, sizeof(keep));
		memcpy(code, t->error_code, sizeof(code));
		t->refresh_token = NULL;
		oauth2_token_clear(t);
		memcpy(t->error, keep, sizeof(keep));
		memcpy(t->error_code, code, sizeof(code));
		t->refresh_token = rt; /* a 200's valid rotated token */
	}
	return r;
}

/*
 * Copies a string member of printable ASCII without spaces (1 to outsz -
 * 1 bytes) into out; -1 when absent or not so.
 */
static int
oauth2_token_word(json_t *v, char *out, size_t outsz)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= outsz || strlen(s) != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* Reads an optional whole number in [1, max]; dflt when absent, -1 bad. */
static long long
oauth2_token_number(json_t *v, long long dflt, long long max)
{
	long long n;

	if (v == NULL)
		return dflt;
	if (!json_is_integer(v))
		return -1;
	n = (long long)json_integer_value(v);
	return n >= 1 && n <= max ? n : -1;
}

/* Fills d from a device authorization success reply. */
static enum oauth2_token_result
oauth2_token_device(json_t *root, struct oauth2_device *d)
{
	json_t *uri = json_object_get(root, "verification_uri");
	json_t *complete = json_object_get(root, "verification_uri_complete");
	char code[OAUTH2_TOKEN_MAX + 1];
	const char *what = NULL;

	if (uri == NULL)
		uri = json_object_get(root, "verification_url"); /* Google */
	if (oauth2_token_word(json_object_get(root, "device_code"), code,
		sizeof(code)) == -1)
		what = "device_code is missing or not printable";
	else if (oauth2_token_word(json_object_get(root, "user_code"),
		     d->user_code, sizeof(d->user_code)) == -1)
		what = "user_code is missing or not printable";
	else if (oauth2_token_word(uri, d->verification_uri,
		     sizeof(d->verification_uri)) == -1 ||
	    (strncasecmp(d->verification_uri, "https://", 8) != 0 &&
		strncasecmp(d->verification_uri, "http://", 7) != 0))
		what = "verification_uri is missing or not an http(s) URL";
	else if (complete != NULL && !json_is_null(complete) &&
	    (oauth2_token_word(complete, d->verification_uri_complete,
		 sizeof(d->verification_uri_complete)) == -1 ||
		(strncasecmp(d->verification_uri_complete, "https://", 8) !=
			0 &&
		    strncasecmp(d->verification_uri_complete, "http://", 7) !=
			0)))
		what = "verification_uri_complete is not an http(s) URL";
	else if ((d->expires_in = oauth2_token_number(json_object_get(root,
							  "expires_in"),
		      -1, OAUTH2_DEVICE_EXPIRES_MAX)) == -1)
		what = "expires_in is missing or out of range";
	else if ((d->interval =
			 oauth2_token_number(json_object_get(root, "interval"),
			     OAUTH2_DEVICE_INTERVAL_DEFAULT,
			     OAUTH2_DEVICE_INTERVAL_MAX)) == -1)
		what = "interval is out of range";
	if (what == NULL) {
		d->device_code = xstrdup(code);
		OPENSSL_cleanse(code, sizeof(code));
		return OAUTH2_TOKEN_OK;
	}
	OPENSSL_cleanse(code, sizeof(code));
	(void)!rq_snprintf(d->error, sizeof(d->error), "malformed reply: %s",
	    what);
	return OAUTH2_TOKEN_MALFORMED;
}

/* Parses a device authorization reply. */
enum oauth2_token_result
oauth2_token_parse_device(const char *body, size_t len, int status,
    struct oauth2_device *d)
{
	enum oauth2_token_result r;
	json_t *root;

	memset(d, 0, sizeof(*d));
	if ((root = oauth2_token_load(body, len, status, d->error,
		 sizeof(d->error))) == NULL)
		return OAUTH2_TOKEN_MALFORMED;
	if (status == 200)
		r = oauth2_token_device(root, d);
	else
		r = oauth2_token_error(root, d->error, sizeof(d->error),
		    d->error_code, sizeof(d->error_code));
	json_decref(root);
	return r;
}

/* Wipes and frees the device code. */
void
oauth2_device_clear(struct oauth2_device *d)
{
	if (d->device_code != NULL) {
		OPENSSL_cleanse(d->device_code, strlen(d->device_code));
		free(d->device_code);
	}
	memset(d, 0, sizeof(*d));
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
