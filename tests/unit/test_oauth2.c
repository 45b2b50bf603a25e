/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the OAuth2 token-reply parser (oauth2_token.c) and the
 * refresh token store (oauth2_store.c): what a reply must hold to be
 * accepted, invalid_grant told apart, error texts without tokens, and
 * the file checks, durable replacement and lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oauth2/oauth2_store.h"
#include "oauth2/oauth2_token.h"
#include "tap.h"

/* Parses s with status and returns the result; t is cleared after. */
static enum oauth2_token_result
parse(const char *s, int status, char *err, size_t errsz)
{
	struct oauth2_token t;
	enum oauth2_token_result r;

	r = oauth2_token_parse(s, strlen(s), status, &t);
	snprintf(err, errsz, "%s", t.error);
	oauth2_token_clear(&t);
	return r;
}

/* Replies: accepted, refused, and why. */
static void
test_parse(void)
{
	struct oauth2_token t;
	char err[256], *big;
	const char *ok1 = "{\"access_token\":\"ya29.a0-x_y~z+/=\","
			  "\"token_type\":\"bearer\",\"expires_in\":3599,"
			  "\"refresh_token\":\"1//0rt\",\"scope\":\"s\"}";
	const char *ok2 = "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
			  "\"expires_in\":\"120\"}";
	const char *ok3 = "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}";

	is_int(oauth2_token_parse(ok1, strlen(ok1), 200, &t), OAUTH2_TOKEN_OK,
	    "a full reply is accepted");
	is_str(t.access_token, "ya29.a0-x_y~z+/=", "access_token copied");
	is_str(t.refresh_token, "1//0rt", "rotated refresh_token copied");
	ok(t.expires_in == 3599, "expires_in read");
	oauth2_token_clear(&t);
	ok(t.access_token == NULL && t.refresh_token == NULL, "cleared");

	is_int(oauth2_token_parse(ok2, strlen(ok2), 200, &t), OAUTH2_TOKEN_OK,
	    "expires_in as a decimal string");
	ok(t.expires_in == 120 && t.refresh_token == NULL,
	    "string expires_in, no refresh_token");
	oauth2_token_clear(&t);
	is_int(oauth2_token_parse(ok3, strlen(ok3), 200, &t), OAUTH2_TOKEN_OK,
	    "no expires_in: accepted");
	ok(t.expires_in == OAUTH2_TOKEN_EXPIRES_DEFAULT,
	    "no expires_in: the default lifetime");
	oauth2_token_clear(&t);

	/* o14 F2: a refused 200 keeps the rotated token it carried. */
	ok1 = "{\"access_token\":\"a\",\"token_type\":\"MAC\","
	      "\"refresh_token\":\"rt-new\"}";
	is_int(oauth2_token_parse(ok1, strlen(ok1), 200, &t),
	    OAUTH2_TOKEN_MALFORMED,
	    "token_type MAC with a refresh_token: refused");
	is_str(t.refresh_token != NULL ? t.refresh_token : "(null)", "rt-new",
	    "but its refresh_token is kept");
	ok(t.access_token == NULL, "and its access_token is not");
	oauth2_token_clear(&t);
	ok2 = "{\"token_type\":\"Bearer\",\"refresh_token\":\"rt-2\"}";
	is_int(oauth2_token_parse(ok2, strlen(ok2), 200, &t),
	    OAUTH2_TOKEN_MALFORMED,
	    "no access_token with a refresh_token: refused");
	is_str(t.refresh_token != NULL ? t.refresh_token : "(null)", "rt-2",
	    "but its refresh_token is kept");
	oauth2_token_clear(&t);

	is_int(parse("{\"error\":\"invalid_grant\",\"error_description\":"
		     "\"AADSTS70000:\\u0007 revoked\"}",
		   400, err, sizeof(err)),
	    OAUTH2_TOKEN_INVALID_GRANT, "invalid_grant told apart");
	is_str(err, "error=invalid_grant (AADSTS70000:? revoked)",
	    "error text: code and description, control characters replaced");
	is_int(parse("{\"error\":\"invalid_client\"}", 401, err, sizeof(err)),
	    OAUTH2_TOKEN_ERROR, "another OAuth2 error");
	is_int(parse("{\"x\":1}", 400, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "a 400 without error is malformed");
	is_int(parse("{}", 503, err, sizeof(err)), OAUTH2_TOKEN_MALFORMED,
	    "a 503 is not a reply");
	is_str(err, "HTTP status 503", "503 named");
	is_int(parse("<html>", 200, err, sizeof(err)), OAUTH2_TOKEN_MALFORMED,
	    "not JSON");
	ok(strstr(err, "not JSON") != NULL, "not JSON named");
	is_int(parse("{\"access_token\":\"at-LEAK-1\",\"refresh_token\":"
		     "\"rt-LEAK-999",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "a cut-off reply is malformed");
	ok(strstr(err, "not JSON") != NULL && strstr(err, "LEAK") == NULL,
	    "its error quotes no piece of a token: %s", err);
	is_int(parse("[1]", 200, err, sizeof(err)), OAUTH2_TOKEN_MALFORMED,
	    "an array");
	is_int(parse("{\"access_token\":\"a\",\"access_token\":\"b\","
		     "\"token_type\":\"Bearer\"}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "duplicate keys refused");
	is_int(parse("{\"token_type\":\"Bearer\"}", 200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "no access_token");
	is_str(err, "malformed reply: no access_token",
	    "no access_token named");
	is_int(parse("{\"access_token\":\"a b\",\"token_type\":\"Bearer\"}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "a token with a space refused");
	ok(strstr(err, "a b") == NULL, "the token is not in the error text");
	is_int(parse("{\"access_token\":\"a\\u0000b\",\"token_type\":"
		     "\"Bearer\"}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "a token with NUL refused");
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"MAC\"}", 200,
		   err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "token_type MAC refused");
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"Bearer\","
		     "\"expires_in\":0}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "expires_in 0 refused");
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"Bearer\","
		     "\"expires_in\":\"12x\"}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "expires_in 12x refused");
	is_int(parse("{\"access_token\":\"a\",\"token_type\":\"Bearer\","
		     "\"refresh_token\":7}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "a numeric refresh_token refused");
	big = malloc(OAUTH2_TOKEN_REPLY_MAX + 2);
	memset(big, ' ', OAUTH2_TOKEN_REPLY_MAX + 1);
	big[OAUTH2_TOKEN_REPLY_MAX + 1] = '\0';
	is_int(parse(big, 200, err, sizeof(err)), OAUTH2_TOKEN_MALFORMED,
	    "an oversized reply refused");
	free(big);
}

/*
 * Writes to path (mode 0600) a first line of len 'x' and a newline, then
 * 'y' up to total bytes in all.
 */
static void
put_file(const char *path, size_t len, size_t total)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; i < total; i++)
		fputc(i < len ? 'x' : i == len ? '\n' : 'y', f);
	fclose(f);
	chmod(path, 0600);
}

/*
 * The size limits, as relayq.conf(5) gives them: a client secret file
 * of at most 4 KiB (password_file's), a refresh token file of at most
 * 16 KiB whose token is at most OAUTH2_TOKEN_MAX.
 */
static void
test_store_limits(const char *path)
{
	struct rq_err err;
	size_t n;
	char *tok;

	put_file(path, 4095, 4096);
	ok(oauth2_store_read(path, 0, &tok, &n, &err) == 0 && n == 4095,
	    "a client secret file of 4096 bytes is read");
	free(tok);
	put_file(path, 4096, 4097);
	ok(oauth2_store_read(path, 0, &tok, &n, &err) == -1 &&
		strstr(err.msg, "oauth2_client_secret_file") != NULL &&
		strstr(err.msg, "larger than 4 KiB") != NULL,
	    "a client secret file of 4097 bytes is refused: %s", err.msg);
	put_file(path, OAUTH2_TOKEN_MAX, OAUTH2_TOKEN_MAX + 1);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == 0 &&
		n == OAUTH2_TOKEN_MAX,
	    "a refresh token of OAUTH2_TOKEN_MAX bytes is read");
	free(tok);
	put_file(path, OAUTH2_TOKEN_MAX + 1, OAUTH2_TOKEN_MAX + 2);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == -1 &&
		strstr(err.msg, "not a valid token") != NULL,
	    "a longer refresh token is refused: %s", err.msg);
	put_file(path, 8, 16384);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == 0 && n == 8,
	    "a refresh token file of 16384 bytes is read (first line)");
	free(tok);
	put_file(path, 8, 16385);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == -1 &&
		strstr(err.msg, "oauth2_refresh_token_file") != NULL &&
		strstr(err.msg, "larger than 16 KiB") != NULL,
	    "a refresh token file of 16385 bytes is refused: %s", err.msg);
}

/* The store: checks, durable replacement, lock. */
static void
test_store(void)
{
	char dir[] = "/tmp/test_oauth2.XXXXXX", path[256], *tok;
	struct rq_err err;
	struct stat st;
	size_t n;
	int fd, fd2;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/refresh", dir);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == -1 &&
		strstr(err.msg, "oauth2_refresh_token_file") != NULL &&
		strstr(err.msg, "No such file") != NULL,
	    "a missing file is an error naming the key: %s", err.msg);
	ok(oauth2_store_write(path, "rt-one", &err) == 0, "write");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "written mode 0600");
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == 0 &&
		strcmp(tok, "rt-one") == 0 && n == 6,
	    "read back");
	free(tok);
	ok(oauth2_store_write(path, "rt-two", &err) == 0 &&
		oauth2_store_read(path, 1, &tok, &n, &err) == 0 &&
		strcmp(tok, "rt-two") == 0,
	    "replaced");
	free(tok);
	chmod(path, 0640);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == -1,
	    "a group-readable file is refused");
	f = fopen(path, "w");
	fputs("bad token\n", f);
	fclose(f);
	chmod(path, 0600);
	ok(oauth2_store_read(path, 1, &tok, &n, &err) == -1 &&
		strstr(err.msg, "bad") == NULL,
	    "an invalid token refused, not quoted");
	ok(oauth2_store_read(path, 0, &tok, &n, &err) == 0,
	    "the same line is a valid secret");
	free(tok);
	test_store_limits(path);
	fd = oauth2_store_lock(path, 1);
	ok(fd != -1, "lock taken");
	/* flock locks belong to the open file: a second open conflicts. */
	fd2 = oauth2_store_lock(path, 1);
	ok(fd2 == -1 && errno == EWOULDBLOCK, "a second lock is refused");
	close(fd);
	fd2 = oauth2_store_lock(path, 1);
	ok(fd2 != -1, "the lock is free again after close");
	close(fd2);
	snprintf(path, sizeof(path), "%s/nodir/refresh", dir);
	ok(oauth2_store_write(path, "rt", &err) == -1 &&
		strstr(err.msg, "cannot create") != NULL,
	    "a write into a missing directory fails cleanly");
	snprintf(path, sizeof(path), "%s/refresh", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/refresh.lock", dir);
	unlink(path);
	rmdir(dir);
}

/* Parses a device authorization reply; d is cleared after. */
static enum oauth2_token_result
parse_device(const char *s, int status, char *err, size_t errsz)
{
	struct oauth2_device d;
	enum oauth2_token_result r;

	r = oauth2_token_parse_device(s, strlen(s), status, &d);
	snprintf(err, errsz, "%s", d.error);
	oauth2_device_clear(&d);
	return r;
}

/* Device authorization replies (RFC 8628 section 3.2). */
static void
test_device(void)
{
	struct oauth2_token tok;
	struct oauth2_device d;
	char err[256];
	const char *ms = "{\"device_code\":\"DAQABAAEAAAB-x.y\","
			 "\"user_code\":\"FJ4W9VS3H\","
			 "\"verification_uri\":"
			 "\"https://microsoft.com/devicelogin\","
			 "\"expires_in\":900,\"interval\":5}";
	const char *google = "{\"device_code\":\"AH-1Ng\",\"user_code\":"
			     "\"GQVQ-JKEC\",\"verification_url\":"
			     "\"https://www.google.com/device\","
			     "\"expires_in\":1800}";

	is_int(oauth2_token_parse_device(ms, strlen(ms), 200, &d),
	    OAUTH2_TOKEN_OK, "device: a Microsoft reply");
	is_str(d.device_code, "DAQABAAEAAAB-x.y", "device: device_code");
	is_str(d.user_code, "FJ4W9VS3H", "device: user_code");
	is_str(d.verification_uri, "https://microsoft.com/devicelogin",
	    "device: verification_uri");
	ok(d.expires_in == 900 && d.interval == 5,
	    "device: expires_in and interval");
	oauth2_device_clear(&d);
	ok(d.device_code == NULL, "device: cleared");
	is_int(oauth2_token_parse_device(google, strlen(google), 200, &d),
	    OAUTH2_TOKEN_OK, "device: Google's verification_url");
	ok(d.interval == OAUTH2_DEVICE_INTERVAL_DEFAULT,
	    "device: interval defaults to 5 s");
	oauth2_device_clear(&d);
	is_int(parse_device("{\"user_code\":\"A\",\"verification_uri\":"
			    "\"https://x/\",\"expires_in\":9}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "device: no device_code refused");
	is_str(err, "malformed reply: device_code is missing or not printable",
	    "device: says why");
	is_int(parse_device("{\"device_code\":\"d\",\"user_code\":\"A B\","
			    "\"verification_uri\":\"https://x/\","
			    "\"expires_in\":9}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "device: a user_code with a space refused");
	is_int(parse_device("{\"device_code\":\"d\",\"user_code\":\"A\","
			    "\"verification_uri\":\"javascript:x\","
			    "\"expires_in\":9}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "device: a non-http URI refused");
	is_int(parse_device("{\"device_code\":\"d\",\"user_code\":\"A\","
			    "\"verification_uri\":\"https://x/\"}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "device: no expires_in refused");
	is_int(parse_device("{\"device_code\":\"d\",\"user_code\":\"A\","
			    "\"verification_uri\":\"https://x/\","
			    "\"expires_in\":9,\"interval\":0}",
		   200, err, sizeof(err)),
	    OAUTH2_TOKEN_MALFORMED, "device: interval 0 refused");
	is_int(oauth2_token_parse_device("{\"error\":\"invalid_client\"}", 26,
		   400, &d),
	    OAUTH2_TOKEN_ERROR, "device: an error reply");
	is_str(d.error_code, "invalid_client", "device: its error code");
	oauth2_device_clear(&d);
	is_int(oauth2_token_parse("{\"error\":\"slow_down\"}", 21, 400, &tok),
	    OAUTH2_TOKEN_ERROR, "token: slow_down is an error reply");
	is_str(tok.error_code, "slow_down", "token: with its error code");
	oauth2_token_clear(&tok);
}

int
main(void)
{
	test_parse();
	test_device();
	test_store();
	return done_testing();
}
