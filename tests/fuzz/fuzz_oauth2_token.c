/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the OAuth2 token endpoint's reply parser
 * (oauth2_token_parse, jansson underneath).  The first input byte picks
 * the HTTP status (200, 400, 401 or another), the rest is the body.  The
 * parser's promises are checked, so a violation aborts instead of passing
 * silently: a token is returned only with OAUTH2_TOKEN_OK, valid per
 * oauth2_token_is_valid(); expires_in is in range; the error text is
 * printable, NUL-terminated and never holds the access token.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2/oauth2_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s is printable ASCII and NUL-terminated within n bytes. */
static void
fuzz_oauth2_token_printable(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	if (len == n)
		abort();
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

/* Parses the input and checks the result. */
/* The same bytes as a device authorization reply. */
static void
fuzz_oauth2_token_device(const char *body, size_t len, int status)
{
	struct oauth2_device d;
	enum oauth2_token_result r;

	r = oauth2_token_parse_device(body, len, status, &d);
	fuzz_oauth2_token_printable(d.error, sizeof(d.error));
	if (r == OAUTH2_TOKEN_OK) {
		fuzz_oauth2_token_printable(d.user_code, sizeof(d.user_code));
		fuzz_oauth2_token_printable(d.verification_uri,
		    sizeof(d.verification_uri));
		fuzz_oauth2_token_printable(d.verification_uri_complete,
		    sizeof(d.verification_uri_complete));
		if (status != 200 || d.device_code == NULL ||
		    d.user_code[0] == '\0' || d.expires_in < 1 ||
		    d.expires_in > OAUTH2_DEVICE_EXPIRES_MAX ||
		    d.interval < 1 || d.interval > OAUTH2_DEVICE_INTERVAL_MAX)
			abort();
	} else if (d.device_code != NULL || d.error[0] == '\0')
		abort();
	oauth2_device_clear(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codes[] = { 200, 400, 401, 500 };
	struct oauth2_token t;
	enum oauth2_token_result r;
	int status;

	if (size == 0)
		return 0;
	status = codes[data[0] % 4];
	r = oauth2_token_parse((const char *)data + 1, size - 1, status, &t);
	fuzz_oauth2_token_printable(t.error, sizeof(t.error));
	if (r == OAUTH2_TOKEN_OK) {
		if (status != 200 || t.access_token == NULL ||
		    !oauth2_token_is_valid(t.access_token,
			strlen(t.access_token)) ||
		    t.expires_in < 1 ||
		    t.expires_in > OAUTH2_TOKEN_EXPIRES_MAX ||
		    (t.refresh_token != NULL &&
			!oauth2_token_is_valid(t.refresh_token,
			    strlen(t.refresh_token))))
			abort();
	} else {
		/*
		 * A refused 200 may keep the refresh token it carried (the
		 * provider rotated it): only a valid one, only from a 200.
		 */
		if (t.access_token != NULL || t.error[0] == '\0' ||
		    (t.refresh_token != NULL &&
			(status != 200 ||
			    !oauth2_token_is_valid(t.refresh_token,
				strlen(t.refresh_token)))))
			abort();
		if (r != OAUTH2_TOKEN_MALFORMED && status == 200)
			abort();
	}
	oauth2_token_clear(&t);
	fuzz_oauth2_token_device((const char *)data + 1, size - 1, status);
	return 0;
}
