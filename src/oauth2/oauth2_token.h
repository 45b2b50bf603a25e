/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The token endpoint's reply (RFC 6749 sections 5.1 and 5.2), parsed with
 * jansson: pure, bounded, no I/O and no logging, so it is the fuzz target
 * (tests/fuzz/fuzz_oauth2_token.c).  A reply is accepted only when it is
 * one JSON object without duplicate keys, at most OAUTH2_TOKEN_REPLY_MAX
 * bytes, whose access_token is printable ASCII (RFC 6750 b64token
 * characters), whose token_type is "Bearer" (any case), and whose
 * expires_in, when present, is a whole number of seconds in [1, 1 year]
 * (a JSON integer, or a decimal string as some providers send).  The
 * error text never holds a token: only field names, and the provider's
 * error code and description with control characters removed.
 */
#ifndef RELAYQ_OAUTH2_OAUTH2_TOKEN_H
#define RELAYQ_OAUTH2_OAUTH2_TOKEN_H

#include <stddef.h>

#define OAUTH2_TOKEN_REPLY_MAX (64 * 1024) /* whole reply body */
#define OAUTH2_TOKEN_MAX 8192		   /* access or refresh token */
#define OAUTH2_TOKEN_EXPIRES_DEFAULT 3600  /* no expires_in given */
#define OAUTH2_TOKEN_EXPIRES_MAX (366LL * 86400)

enum oauth2_token_result {
	OAUTH2_TOKEN_OK,	    /* a usable token */
	OAUTH2_TOKEN_INVALID_GRANT, /* the refresh token (or consent) is gone */
	OAUTH2_TOKEN_ERROR,	    /* another OAuth2 error reply */
	OAUTH2_TOKEN_MALFORMED,	    /* not a valid reply at all */
};

struct oauth2_token {
	char *access_token;   /* owned, wiped by oauth2_token_clear() */
	char *refresh_token;  /* owned: a rotated refresh token, or NULL */
	long long expires_in; /* seconds */
	char error[256];      /* OAUTH2_TOKEN_ERROR/INVALID_GRANT/MALFORMED */
	char error_code[64];  /* the "error" member alone, or "" */
};

/*
 * A device authorization reply (RFC 8628 section 3.2).  device_code is
 * sent back when polling (printable ASCII, at most OAUTH2_TOKEN_MAX);
 * user_code and the verification URI (verification_uri, or Google's
 * verification_url) are printable ASCII without spaces, the URI an
 * https:// or http:// one; verification_uri_complete is optional.
 * expires_in is required, in [1, OAUTH2_DEVICE_EXPIRES_MAX]; interval
 * defaults to OAUTH2_DEVICE_INTERVAL_DEFAULT, at most
 * OAUTH2_DEVICE_INTERVAL_MAX.
 */
#define OAUTH2_DEVICE_INTERVAL_DEFAULT 5
#define OAUTH2_DEVICE_INTERVAL_MAX 300
#define OAUTH2_DEVICE_EXPIRES_MAX 86400

struct oauth2_device {
	char *device_code; /* owned, wiped by oauth2_device_clear() */
	char user_code[128];
	char verification_uri[1024];
	char verification_uri_complete[1024]; /* or "" */
	long long expires_in;
	long long interval;
	char error[256]; /* as struct oauth2_token's */
	char error_code[64];
};

/*
 * Parses the body (len bytes, not NUL-terminated) of a reply with HTTP
 * status code status.  A 2xx must carry a token; a 400 or 401 with an
 * "error" member is an OAuth2 error (invalid_grant told apart); any other
 * status, or a body that is not as above, is OAUTH2_TOKEN_MALFORMED.
 * Fills t (cleared first) and returns the result; t->error says why for
 * everything but OAUTH2_TOKEN_OK.  A 200 reply refused for another
 * reason (token_type, expires_in, access_token) still leaves in
 * t->refresh_token the valid refresh token it carried, if any: the
 * provider has rotated it, so the caller must store it.  Call
 * oauth2_token_clear() afterwards in every case.
 */
enum oauth2_token_result oauth2_token_parse(const char *body, size_t len,
    int status, struct oauth2_token *t);

/*
 * Parses a device authorization reply as oauth2_token_parse() does a
 * token reply (OAUTH2_TOKEN_OK, _ERROR or _MALFORMED; an invalid_grant
 * is _INVALID_GRANT).  Call oauth2_device_clear() afterwards in every
 * case.
 */
enum oauth2_token_result oauth2_token_parse_device(const char *body, size_t len,
    int status, struct oauth2_device *d);

/* Wipes and frees the device code; d may be parsed into again. */
void oauth2_device_clear(struct oauth2_device *d);

/* Wipes and frees the tokens; t may be parsed into again. */
void oauth2_token_clear(struct oauth2_token *t);

/* True when s (len bytes) may be sent as a bearer token. */
int oauth2_token_is_valid(const char *s, size_t len);

#endif
