/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the configuration loader: defaults, every value kind,
 * strict numbers, unknown keys and sections, syntax errors, quoting, and
 * the [smarthost] TLS and AUTH keys (port 465 implies implicit TLS unless
 * tls is given; tls_min_version is 1.2 or 1.3).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/compat.h"
#include "common/conf.h"
#include "common/conf_preset.h"
#include "common/conf_scan.h"
#include "tap.h"

static char path[64];

/* Writes text to the temporary config file. */
static void
put(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Loads the file; returns conf_load's result, err in *err. */
static int
load(const char *text, struct conf *c, struct rq_err *err)
{
	put(text);
	return conf_load(c, path, err);
}

/* The TLS and AUTH keys of [smarthost]: defaults, values, port 465. */
static void
test_tls_auth(void)
{
	static const char *bad_versions[] = { "1.1", "1.0", "1.4", "1",
		"tls1.3", "TLSv1.2", "1.2 ", "" };
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = mx.example\n", &c, &err) == 0,
	    "minimal smarthost loads");
	is_int(c.smarthosts[0].port, 587, "default port 587");
	is_int(c.smarthosts[0].tls, CONF_TLS_STARTTLS,
	    "default tls is starttls");
	is_int(c.smarthosts[0].tls_verify, 1, "default tls_verify is yes");
	is_str(c.smarthosts[0].tls_min_version, "1.2",
	    "default tls_min_version");
	is_str(c.smarthosts[0].auth, "auto", "default auth is auto");
	is_int(c.smarthosts[0].allow_plaintext_auth, 0,
	    "default allow_plaintext_auth is no");
	is_str(c.smarthosts[0].username, "", "no username by default");
	is_str(c.smarthosts[0].tls_fingerprint, "", "no pin by default");
	conf_free(&c);

	ok(load("[smarthost]\nport = 465\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_IMPLICIT,
	    "port 465 without a tls key implies implicit");
	conf_free(&c);
	ok(load("[smarthost]\ntls_verify = yes\nport = 465\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_IMPLICIT,
	    "port 465 implies implicit whatever the key order");
	conf_free(&c);
	ok(load("[smarthost]\nport = 465\ntls = starttls\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "port 465 with an explicit tls = starttls keeps starttls");
	conf_free(&c);
	ok(load("[smarthost]\ntls = none\nport = 465\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_NONE,
	    "port 465 with an explicit tls = none keeps none");
	conf_free(&c);
	ok(load("[smarthost]\nport = 465\nTLS = StartTLS\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "an explicit tls wins in any case of key and value");
	conf_free(&c);
	ok(load("[smarthost]\nport = 587\ntls = implicit\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_IMPLICIT,
	    "implicit on another port");
	conf_free(&c);
	ok(load("[smarthost]\nport = 25\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "other ports default to starttls");
	conf_free(&c);
	ok(load("[smarthost]\nport = 465\ntls =\n", &c, &err) == -1,
	    "an empty tls value is refused, not read as absent");

	ok(load("[smarthost]\ntls_min_version = 1.3\n", &c, &err) == 0,
	    "tls_min_version 1.3 accepted");
	is_str(c.smarthosts[0].tls_min_version, "1.3",
	    "tls_min_version 1.3 kept");
	conf_free(&c);
	ok(load("[smarthost]\ntls_min_version = 1.2\n", &c, &err) == 0,
	    "tls_min_version 1.2 accepted");
	conf_free(&c);
	for (size_t i = 0; i < sizeof(bad_versions) / sizeof(*bad_versions);
	     i++) {
		char text[128];

		snprintf(text, sizeof(text),
		    "[smarthost]\ntls_min_version = \"%s\"\n", bad_versions[i]);
		ok(load(text, &c, &err) == -1 &&
			strstr(err.msg, "tls_min_version") != NULL,
		    "tls_min_version \"%s\" refused: %s", bad_versions[i],
		    err.msg);
	}

	ok(load("[smarthost]\nhost = smtp.example\nusername = u@example\n"
		"password_command = /usr/bin/token --user u\n"
		"auth = xoauth2\nallow_plaintext_auth = yes\n"
		"tls_verify = no\nca_file = /etc/ca.pem\nca_path = /etc/ca.d\n"
		"tls_fingerprint = \"sha256:AB:CD, sha256:EF\"\n"
		"tls_cert = /etc/c.pem\ntls_key = /etc/c.key\n",
	       &c, &err) == 0,
	    "every TLS and AUTH key loads: %s", err.msg);
	is_str(c.smarthosts[0].username, "u@example", "username");
	is_str(c.smarthosts[0].password_command, "/usr/bin/token --user u",
	    "password_command kept whole (split by relayqd, not here)");
	is_str(c.smarthosts[0].auth, "xoauth2", "auth");
	is_int(c.smarthosts[0].allow_plaintext_auth, 1, "allow_plaintext_auth");
	is_int(c.smarthosts[0].tls_verify, 0, "tls_verify = no");
	is_str(c.smarthosts[0].ca_file, "/etc/ca.pem", "ca_file");
	is_str(c.smarthosts[0].ca_path, "/etc/ca.d", "ca_path");
	is_str(c.smarthosts[0].tls_fingerprint, "sha256:AB:CD, sha256:EF",
	    "tls_fingerprint list kept (parsed by relayqd)");
	is_str(c.smarthosts[0].tls_cert, "/etc/c.pem", "tls_cert");
	is_str(c.smarthosts[0].tls_key, "/etc/c.key", "tls_key");
	conf_free(&c);
	ok(load("[smarthost]\nallow_plaintext_auth = sometimes\n", &c, &err) ==
		-1,
	    "allow_plaintext_auth must be a boolean");
	ok(load("[smarthost]\npassword_file = \"/etc/pw\x01\"\n", &c, &err) ==
		-1,
	    "a control character in password_file is refused");
}

/* The retry, bounce and timeout keys of issue #4. */
static void
test_delivery_keys(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[relayq]\nhostname = h.example\n", &c, &err) == 0 &&
		c.delivery_delay_warning == 0 &&
		c.delivery_bounce_full_message == 0 &&
		strcmp(c.delivery_bounce_copy_to, "") == 0 &&
		c.delivery_data_block_timeout == 180,
	    "defaults: no delay notice, headers only, no copy, 3 min blocks");
	conf_free(&c);
	ok(load("[delivery]\ndelay_warning = 4h\nbounce_full_message = yes\n"
		"bounce_copy_to = postmaster@example.org\n"
		"data_block_timeout = 7s\n",
	       &c, &err) == 0 &&
		c.delivery_delay_warning == 4 * 3600 &&
		c.delivery_bounce_full_message == 1 &&
		strcmp(c.delivery_bounce_copy_to, "postmaster@example.org") ==
		    0 &&
		c.delivery_data_block_timeout == 7,
	    "delay_warning, bounce_full_message, bounce_copy_to, "
	    "data_block_timeout set (%s)",
	    err.msg);
	conf_free(&c);
	ok(load("[delivery]\ndelay_warning = 0\n", &c, &err) == 0 &&
		c.delivery_delay_warning == 0,
	    "delay_warning = 0 turns the notice off");
	conf_free(&c);
	ok(load("[delivery]\nbounce_copy_to = not an address\n", &c, &err) ==
		    -1 &&
		strstr(err.msg, "bounce_copy_to") != NULL,
	    "bad bounce_copy_to refused: %s", err.msg);
	ok(load("[delivery]\ndata_block_timeout = 0\n", &c, &err) == -1,
	    "zero data_block_timeout refused");
	ok(load("[delivery]\n", &c, &err) == 0 &&
		strcmp(c.delivery_alert_command, "") == 0 &&
		c.delivery_alert_after == 3600,
	    "alert_command off by default, alert_after 1h");
	conf_free(&c);
	ok(load("[delivery]\nalert_command = logger -t relayq x\n"
		"alert_after = 90s\n",
	       &c, &err) == 0 &&
		strcmp(c.delivery_alert_command, "logger -t relayq x") == 0 &&
		c.delivery_alert_after == 90,
	    "alert_command with a bare name, alert_after 90s");
	conf_free(&c);
	ok(load("[delivery]\nalert_command = bin/alert\n", &c, &err) == -1 &&
		strstr(err.msg, "relative path") != NULL,
	    "relative alert_command refused: %s", err.msg);
	ok(load("[delivery]\nalert_command = a b c d e f g h i j k l m n o p q "
		"r s t u v w x y z 1 2 3 4 5 6 7\n",
	       &c, &err) == -1 &&
		strstr(err.msg, "more than 32 words") != NULL,
	    "alert_command of 33 words refused: %s", err.msg);
	ok(load("[delivery]\nalert_after = 0\n", &c, &err) == -1,
	    "alert_after = 0 refused");
}

/* Finds key in a preset walk; records its value in arg. */
static int
preset_get_cb(void *arg, const char *key, const char *value)
{
	char *want = arg; /* "key" in, "value" out */

	if (strcmp(key, want) == 0)
		snprintf(want, 256, "%s", value);
	return 0;
}

/* Returns the value provider's preset gives key, or "". */
static const char *
preset_value(const char *provider, const char *tenant, const char *key)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", key);
	if (conf_preset_foreach(provider, tenant, preset_get_cb, buf) == -1 ||
	    strcmp(buf, key) == 0)
		return "";
	return buf;
}

/* What an OAuth2 preset needs from the file. */
#define PRESET_OAUTH2                      \
	"oauth2_client_id = 0123-client\n" \
	"oauth2_refresh_token_file = /var/lib/relayq/oauth2/token\n"

/* smarthost:provider presets: explicit keys win; bad names refused. */
static void
test_presets(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nprovider = microsoft365\n", &c, &err) == -1 &&
		strstr(err.msg, "oauth2_client_id") != NULL,
	    "microsoft365 without a client id refused: %s", err.msg);
	ok(load("[smarthost]\nprovider = microsoft365\n" PRESET_OAUTH2, &c,
	       &err) == 0,
	    "provider = microsoft365 loads");
	is_str(c.smarthosts[0].host, "smtp.office365.com", "ms365: host");
	is_int(c.smarthosts[0].port, 587, "ms365: port");
	is_int(c.smarthosts[0].tls, CONF_TLS_STARTTLS, "ms365: tls");
	is_str(c.smarthosts[0].auth, "xoauth2", "ms365: auth");
	is_str(c.smarthosts[0].provider, "microsoft365", "provider kept");
	conf_free(&c);

	ok(load("[smarthost]\nhost = relay.example\nauth = plain\n"
		"provider = Microsoft365\ntenant = contoso.onmicrosoft.com\n",
	       &c, &err) == 0,
	    "explicit keys before the provider, any case");
	is_str(c.smarthosts[0].host, "relay.example", "explicit host wins");
	is_str(c.smarthosts[0].auth, "plain", "explicit auth wins");
	is_int(c.smarthosts[0].port, 587, "preset port kept");
	is_str(c.smarthosts[0].tenant, "contoso.onmicrosoft.com",
	    "tenant kept");
	conf_free(&c);

	ok(load("[smarthost]\nprovider = google\nhost = "
		"smtp.example\n" PRESET_OAUTH2,
	       &c, &err) == 0 &&
		strcmp(c.smarthosts[0].host, "smtp.example") == 0 &&
		strcmp(c.smarthosts[0].auth, "xoauth2") == 0,
	    "google: explicit host after the provider wins, auth preset");
	conf_free(&c);

	ok(load("[smarthost]\nprovider = google\n"
		"password_file = /etc/relayq/app-password\n",
	       &c, &err) == 0 &&
		strcmp(c.smarthosts[0].host, "smtp.gmail.com") == 0 &&
		strcmp(c.smarthosts[0].auth, "auto") == 0 &&
		c.smarthosts[0].oauth2_token_url[0] == '\0',
	    "google with an app password: the preset's host, no OAuth2: %s",
	    err.msg);
	conf_free(&c);

	ok(load("[smarthost]\nprovider = fastmail\n", &c, &err) == 0 &&
		strcmp(c.smarthosts[0].host, "smtp.fastmail.com") == 0 &&
		c.smarthosts[0].port == 465 &&
		c.smarthosts[0].tls == CONF_TLS_IMPLICIT &&
		strcmp(c.smarthosts[0].auth, "auto") == 0,
	    "fastmail: 465, implicit TLS, auth auto");
	conf_free(&c);
	ok(load("[smarthost]\nprovider = fastmail\nport = 587\n", &c, &err) ==
		    0 &&
		c.smarthosts[0].port == 587 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "fastmail with port = 587: tls follows the port (starttls)");
	conf_free(&c);
	ok(load("[smarthost]\nprovider = mailbox.org\nport = 587\n"
		"tls = implicit\n",
	       &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_IMPLICIT &&
		strcmp(c.smarthosts[0].host, "smtp.mailbox.org") == 0,
	    "mailbox.org: an explicit tls wins over the port");
	conf_free(&c);
	ok(load("[smarthost]\nprovider = icloud\n", &c, &err) == 0 &&
		strcmp(c.smarthosts[0].host, "smtp.mail.me.com") == 0 &&
		c.smarthosts[0].port == 587 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "icloud: smtp.mail.me.com 587 starttls");
	conf_free(&c);

	ok(load("[smarthost]\nprovider = hotmale\n", &c, &err) == -1,
	    "unknown provider refused");
	ok(strstr(err.msg, "smarthost:provider") != NULL &&
		strstr(err.msg, "hotmale") != NULL &&
		strstr(err.msg, "microsoft365") != NULL,
	    "error names the key, the value and the known ones: %s", err.msg);
	ok(load("[smarthost]\nprovider = google\ntenant = x\n", &c, &err) ==
		    -1 &&
		strstr(err.msg, "smarthost:tenant") != NULL,
	    "tenant without microsoft365 refused: %s", err.msg);
	ok(load("[smarthost]\nprovider = microsoft365\ntenant = a/b?x\n", &c,
	       &err) == -1 &&
		strstr(err.msg, "smarthost:tenant") != NULL,
	    "tenant with '/' refused: %s", err.msg);

	is_str(preset_value("microsoft365", NULL, "smarthost:oauth2_token_url"),
	    "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
	    "ms365 token endpoint, default tenant");
	is_str(preset_value("microsoft365", "contoso.onmicrosoft.com",
		   "smarthost:oauth2_device_url"),
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/"
	    "oauth2/v2.0/devicecode",
	    "ms365 device endpoint with the tenant");
	is_str(preset_value("microsoft365", NULL, "smarthost:oauth2_scope"),
	    "https://outlook.office.com/SMTP.Send offline_access",
	    "ms365 scope");
	is_str(preset_value("google", NULL, "smarthost:oauth2_scope"),
	    "https://mail.google.com/", "google scope");
	is_str(preset_value("google", NULL, "smarthost:oauth2_token_url"),
	    "https://oauth2.googleapis.com/token", "google token endpoint");
	is_str(preset_value("google", NULL, "smarthost:oauth2_device_url"), "",
	    "google: no device endpoint (mail scopes need --browser)");
	is_int(conf_preset_foreach("nope", NULL, preset_get_cb, NULL), -1,
	    "unknown provider: -1");
}

/* rate_limit and recipient_limit (issue 15): N/DURATION or nothing. */
static void
test_rate_keys(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = mx.example\n", &c, &err) == 0 &&
		c.smarthosts[0].rate_limit.n == 0 &&
		c.smarthosts[0].recipient_limit.n == 0,
	    "no rate limits by default");
	conf_free(&c);
	ok(load("[smarthost]\nrate_limit = 30/1m\n"
		"recipient_limit = 10000/1d\n",
	       &c, &err) == 0 &&
		c.smarthosts[0].rate_limit.n == 30 &&
		c.smarthosts[0].rate_limit.per == 60 &&
		c.smarthosts[0].recipient_limit.n == 10000 &&
		c.smarthosts[0].recipient_limit.per == 86400,
	    "rate_limit 30/1m and recipient_limit 10000/1d");
	conf_free(&c);
	ok(load("[smarthost]\nrate_limit =\n", &c, &err) == 0 &&
		c.smarthosts[0].rate_limit.n == 0,
	    "an empty rate_limit is no limit");
	conf_free(&c);
	ok(load("[smarthost]\nrate_limit = 30 per minute\n", &c, &err) == -1 &&
		strstr(err.msg, "smarthost:rate_limit") != NULL,
	    "malformed rate_limit refused, naming the key: %s", err.msg);
	ok(load("[smarthost]\nrecipient_limit = 0/1d\n", &c, &err) == -1 &&
		strstr(err.msg, "smarthost:recipient_limit") != NULL,
	    "recipient_limit 0/1d refused, naming the key: %s", err.msg);
}

/* A valid file; [delivery] comes last, so a key can be appended. */
#define TEST_CONF_VALID                                            \
	"[relayq]\nspool_dir = /var/tmp/q\nhostname = h.example\n" \
	"[smarthost]\nhost = mx.example\nport = 25\ntls = none\n"  \
	"password_file = \"/etc/x;y\"\n"                           \
	"[delivery]\nretry_min = 30s\nretry_max = 2h\n"            \
	"max_connections = 8\n"

static int has_all(const struct rq_err *err, ...);

/* host literals and the resolver's files (issue 15). */
static void
test_host_keys(void)
{
	struct conf c;
	struct rq_err err;
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} hosts[] = {
		{ "mx.example", "mx.example" },
		{ "192.0.2.7", "192.0.2.7" },
		{ "::1", "::1" },
		{ "[::1]", "::1" },
		{ "[2001:db8::25]", "2001:db8::25" },
		{ "[192.0.2.7]", "192.0.2.7" },
		{ "[mx.example]", NULL },
		{ "[::1", NULL },
		{ "[]", NULL },
		{ "mx.example:25", NULL },
		{ "[::1]:25", NULL },
		{ "exa mple.org", NULL },
		{ "a..b", NULL },
		{ ".a.example", NULL },
		{ "-bad.example", NULL },
		{ "bad-.example", NULL },
		{ "a_b.example", "a_b.example" },
		{ "mx.example.", "mx.example." },
		{ "localhost", "localhost" },
	};
	char text[128];

	ok(load("[smarthost]\nhost = [::1]:25\n", &c, &err) == -1 &&
		has_all(&err, "smarthost:host",
		    "write the port in port =", "not needed", NULL),
	    "host = [::1]:25: says where the port goes: %s", err.msg);
	ok(load("[smarthost w]\nhost = exa mple.org\n", &c, &err) == -1 &&
		has_all(&err, "smarthost w:host", "no blank", NULL),
	    "host = exa mple.org names the key: %s", err.msg);
	for (size_t i = 0; i < RQ_NELEM(hosts); i++) {
		snprintf(text, sizeof(text), "[smarthost]\nhost = %s\n",
		    hosts[i].in);
		if (hosts[i].out != NULL) {
			ok(load(text, &c, &err) == 0 &&
				strcmp(c.smarthosts[0].host, hosts[i].out) == 0,
			    "host = %s -> %s", hosts[i].in, hosts[i].out);
			conf_free(&c);
		} else
			ok(load(text, &c, &err) == -1 &&
				strstr(err.msg, "smarthost:host") != NULL,
			    "host = %s refused: %s", hosts[i].in, err.msg);
	}
	ok(load("[relayq]\nresolv_conf = /t/resolv.conf\n"
		"hosts_file = /t/hosts\n",
	       &c, &err) == 0,
	    "resolv_conf and hosts_file");
	is_str(c.resolv_conf, "/t/resolv.conf", "resolv_conf kept");
	is_str(c.hosts_file, "/t/hosts", "hosts_file kept");
	conf_free(&c);
	ok(load("[relayq]\n", &c, &err) == 0 && c.resolv_conf[0] == '\0' &&
		c.hosts_file[0] == '\0',
	    "the system's resolver files by default");
	conf_free(&c);
	ok(load("[relayq]\nhosts_file = hosts\n", &c, &err) == -1 &&
		strstr(err.msg, "relayq:hosts_file") != NULL,
	    "relative hosts_file refused: %s", err.msg);
	ok(load("[relayq]\nresolv_conf = r.conf\n", &c, &err) == -1 &&
		strstr(err.msg, "relayq:resolv_conf") != NULL,
	    "relative resolv_conf refused: %s", err.msg);
}

/* Returns nonzero when err.msg holds each of the NULL-ended strings. */
static int
has_all(const struct rq_err *err, ...)
{
	va_list ap;
	const char *want;
	int all = 1;

	va_start(ap, err);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (strstr(err->msg, want) == NULL)
			all = 0;
	va_end(ap);
	return all;
}

/* Formats a chain as "0 2 1" into a static buffer. */
static const char *
chain_str(const struct conf_smarthost *sh)
{
	static char buf[128];

	buf[0] = '\0';
	for (size_t i = 0; i < sh->nchain; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%zu",
		    i > 0 ? " " : "", sh->chain[i]);
	return buf;
}

/* [smarthost NAME]: names, nothing inherited, presets per section. */
static void
test_smarthosts_named(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = main.example\nusername = u0\n"
		"password_file = /etc/p0\nport = 2525\nrate_limit = 5/1s\n"
		"[smarthost Work]\nhost = [::1]\nport = 465\n"
		"username = w@work.example\n"
		"[smarthost personal.mail_2-x]\nprovider = fastmail\n"
		"password_file = /etc/p2\n",
	       &c, &err) == 0,
	    "named sections load: %s", err.msg);
	is_int(c.nsmarthosts, 3, "three smarthosts");
	is_str(c.smarthosts[0].name, "default", "[smarthost] first");
	is_str(c.smarthosts[1].name, "work", "[smarthost Work] is work");
	is_str(c.smarthosts[2].name, "personal.mail_2-x", "a-z0-9._- name");
	is_str(c.smarthosts[1].host, "::1", "named host normalised");
	is_int(c.smarthosts[1].tls, CONF_TLS_IMPLICIT,
	    "port 465 implies implicit TLS in a named section");
	is_str(c.smarthosts[1].username, "w@work.example", "own username");
	is_str(c.smarthosts[1].password_file, "",
	    "no password_file inherited from [smarthost]");
	is_int(c.smarthosts[1].rate_limit.n, 0, "no rate_limit inherited");
	is_str(c.smarthosts[2].host, "smtp.fastmail.com",
	    "a provider fills its own section");
	is_int(c.smarthosts[2].port, 465, "its port");
	is_str(c.smarthosts[0].host, "main.example",
	    "[smarthost] untouched by another section's provider");
	is_int(c.smarthosts[0].port, 2525, "[smarthost] keeps its port");
	is_int(conf_smarthost_find(&c, "work"), 1, "find work");
	is_int(conf_smarthost_find(&c, "Personal.Mail_2-X"), 2,
	    "find ignores case");
	is_int(conf_smarthost_find(&c, "nope"), -1, "find unknown");
	ok(strcmp(chain_str(&c.smarthosts[1]), "1") == 0,
	    "no fallback: the chain is the smarthost itself");
	{
		struct conf view;

		conf_view_smarthost(&view, &c, 1);
		ok(view.nsmarthosts == 1 &&
			strcmp(view.smarthosts[0].name, "work") == 0 &&
			strcmp(view.smarthosts[0].username, "w@work.example") ==
			    0 &&
			view.spool_dir == c.spool_dir,
		    "conf_view_smarthost: work as smarthosts[0], the rest "
		    "borrowed");
		ok(conf_view_smarthost_named(&view, &c, "WORK", &err) == 0 &&
			strcmp(view.smarthosts[0].name, "work") == 0,
		    "conf_view_smarthost_named: work, without regard to case");
		ok(conf_view_smarthost_named(&view, &c, "default", &err) == 0 &&
			view.smarthosts == &c.smarthosts[0],
		    "conf_view_smarthost_named: default is [smarthost]");
		ok(conf_view_smarthost_named(&view, &c, "nope", &err) == -1 &&
			strstr(err.msg, "--smarthost nope: ") == err.msg &&
			strstr(err.msg,
			    " has no [smarthost nope] (its "
			    "smarthosts: default, work, "
			    "personal.mail_2-x") != NULL,
		    "conf_view_smarthost_named: unknown, the known names "
		    "listed: %s",
		    err.msg);
	}
	conf_free(&c);

	ok(load("[smarthost]\nprovider = microsoft365\n" PRESET_OAUTH2
		"[smarthost backup]\nhost = relay.example\n",
	       &c, &err) == 0,
	    "a provider in [smarthost] only: %s", err.msg);
	is_str(c.smarthosts[1].auth, "auto",
	    "the named section gets none of [smarthost]'s preset");
	is_str(c.smarthosts[1].oauth2_token_url, "", "nor its OAuth2");
	conf_free(&c);

	ok(load("[smarthost a]\nhost = a.example\n", &c, &err) == 0 &&
		c.nsmarthosts == 2 && c.smarthosts[0].host[0] == '\0',
	    "a named section without [smarthost] loads (host checked by "
	    "relayqd)");
	conf_free(&c);

	ok(load("[smarthost work]\nport = 25\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost work:host", "not set", NULL),
	    "host required in a named section: %s", err.msg);
	ok(load("[smarthost work]\nhost = a.example:25\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost work:host", NULL),
	    "bad host in a named section names it: %s", err.msg);
	ok(load("[smarthost work]\nhost = a.example\nbogus = 1\n", &c, &err) ==
		    -1 &&
		has_all(&err, path, "unknown key smarthost work:bogus", NULL),
	    "unknown key in a named section: %s", err.msg);
	ok(load("[smarthost work]\nhost = a.example\ntls_min_version = 1.1\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost work:tls_min_version", NULL),
	    "bad tls_min_version names the section: %s", err.msg);
	ok(load("[smarthost work]\nhost = a.example\n"
		"oauth2_token_url = http://x\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost work:oauth2_token_url", "https",
		    NULL),
	    "OAuth2 checks per section: %s", err.msg);
	ok(load("[smarthost work]\nhost = a.example\nrate_limit = 5/x\n", &c,
	       &err) == -1 &&
		has_all(&err, path, "smarthost work:rate_limit", NULL),
	    "malformed rate in a named section: %s", err.msg);
	ok(load("[smarthost work]\nprovider = hotmale\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost work:provider", "hotmale", NULL),
	    "unknown provider in a named section: %s", err.msg);
	ok(load("[smarthost default]\nhost = a.example\n", &c, &err) == -1 &&
		has_all(&err, path, "[smarthost default]", "[smarthost]", NULL),
	    "[smarthost default] refused: %s", err.msg);
	ok(load("[smarthost a/b]\nhost = a.example\n", &c, &err) == -1 &&
		has_all(&err, path, "[smarthost a/b]", "1 to 32", NULL),
	    "a name with '/' refused: %s", err.msg);
	ok(load("[smarthost abcdefghijabcdefghijabcdefghijabc]\nhost = a\n", &c,
	       &err) == -1 &&
		has_all(&err, path, "1 to 32", NULL),
	    "a 33-character name refused: %s", err.msg);
	ok(load("[smarthost abcdefghijabcdefghijabcdefghijab]\nhost = a\n", &c,
	       &err) == 0,
	    "a 32-character name loads: %s", err.msg);
	conf_free(&c);
	ok(load("[smarthostx]\nhost = a\n", &c, &err) == -1 &&
		has_all(&err, "unknown section [smarthostx]", NULL),
	    "[smarthostx] is an unknown section: %s", err.msg);
}

/* fallback: chains, unknown names, cycles, the list limit. */
static void
test_fallback(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = m\nfallback = b, a\n"
		"[smarthost a]\nhost = a\nfallback = c, b\n"
		"[smarthost b]\nhost = b\nfallback = d\n"
		"[smarthost c]\nhost = c\n"
		"[smarthost d]\nhost = d\nfallback = c\n",
	       &c, &err) == 0,
	    "fallback lists load: %s", err.msg);
	is_str(chain_str(&c.smarthosts[0]), "0 2 4 3 1",
	    "default: itself, b (then d, then c), a (its own dups skipped)");
	is_str(chain_str(&c.smarthosts[1]), "1 3 2 4", "a: itself, c, b, d");
	is_str(chain_str(&c.smarthosts[2]), "2 4 3", "b: itself, d, c");
	is_str(chain_str(&c.smarthosts[3]), "3", "c: no fallback");
	is_int(c.smarthosts[0].nfallback, 2, "the names are kept");
	is_str(c.smarthosts[0].fallback[0], "b", "as written");
	conf_free(&c);

	ok(load("[smarthost]\nhost = m\n[smarthost w]\nhost = w\n"
		"fallback = DEFAULT\n",
	       &c, &err) == 0 &&
		strcmp(chain_str(&c.smarthosts[1]), "1 0") == 0,
	    "fallback = default names [smarthost]: %s", err.msg);
	conf_free(&c);
	ok(load("[smarthost]\nhost = m\nfallback =\n", &c, &err) == 0 &&
		c.smarthosts[0].nchain == 1,
	    "an empty fallback is none");
	conf_free(&c);

	ok(load("[smarthost]\nhost = m\nfallback = nope\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost:fallback",
		    "unknown smarthost nope", NULL),
	    "unknown fallback in [smarthost]: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nfallback = b\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost a:fallback",
		    "unknown smarthost b", NULL),
	    "unknown fallback in a named section: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nfallback = a\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost a:fallback", "cycle: a -> a",
		    NULL),
	    "a -> a is a cycle: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nfallback = b\n"
		"[smarthost b]\nhost = b\nfallback = a\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost b:fallback",
		    "cycle: a -> b -> a", NULL),
	    "a -> b -> a is a cycle: %s", err.msg);
	ok(load("[smarthost]\nhost = m\nfallback = a\n"
		"[smarthost a]\nhost = a\nfallback = b\n"
		"[smarthost b]\nhost = b\nfallback = c, default\n"
		"[smarthost c]\nhost = c\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost b:fallback",
		    "cycle: default -> a -> b -> default", NULL),
	    "a longer cycle through default: %s", err.msg);
	ok(load("[smarthost]\nhost = m\nfallback = a,a,a,a,a,a,a,a\n"
		"[smarthost a]\nhost = a\n",
	       &c, &err) == 0 &&
		strcmp(chain_str(&c.smarthosts[0]), "0 1") == 0,
	    "8 names load (duplicates skipped in the chain): %s", err.msg);
	conf_free(&c);
	ok(load("[smarthost]\nhost = m\nfallback = a,a,a,a,a,a,a,a,a\n"
		"[smarthost a]\nhost = a\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost:fallback", "more than 8 names",
		    NULL),
	    "9 names refused: %s", err.msg);
	ok(load("[smarthost]\nhost = m\nfallback = a,,b\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost:fallback", "empty item", NULL),
	    "an empty name refused: %s", err.msg);
	ok(load("[smarthost]\nhost = m\nfallback = a,\n", &c, &err) == -1 &&
		has_all(&err, path, "smarthost:fallback", "empty item", NULL),
	    "a trailing comma refused: %s", err.msg);
}

/* senders: where they may go, their form, one owner each. */
static void
test_senders(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = m\n[smarthost a]\nhost = a\n"
		"senders = @Work.Example,  Alerts@Example.ORG ,\"q x\"@e.org\n",
	       &c, &err) == 0,
	    "senders load: %s", err.msg);
	is_int(c.smarthosts[1].nsenders, 3, "three patterns");
	is_str(c.smarthosts[1].senders[0], "@work.example", "lower case");
	is_str(c.smarthosts[1].senders[1], "alerts@example.org",
	    "trimmed, lower case");
	conf_free(&c);

	ok(load("[smarthost]\nhost = m\nsenders = @a.example\n", &c, &err) ==
		    -1 &&
		has_all(&err, path, "smarthost:senders", "named", NULL),
	    "senders in [smarthost] refused: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nsenders = @x.example\n"
		"[smarthost b]\nhost = b\nsenders = u@y.example, @X.example\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost b:senders", "@x.example",
		    "[smarthost a]", NULL),
	    "a pattern claimed twice names both sections: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nsenders = u@x.example\n"
		"[smarthost b]\nhost = b\nsenders = U@X.example\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost b:senders", "u@x.example",
		    "[smarthost a]", NULL),
	    "an address claimed twice, any case: %s", err.msg);
	ok(load("[smarthost a]\nhost = a\nsenders = @x.example, @x.example\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost a:senders", "listed twice",
		    NULL),
	    "a pattern twice in one section: %s", err.msg);
	{
		static const char *bad[] = { "x.example", "@", "u@", "@a@b",
			"*@x.example", "@*.x.example", "a b@x.example",
			"@x..example", "@.x", "@[1.2.3.4", NULL };

		for (size_t i = 0; bad[i] != NULL; i++) {
			char text[256];

			snprintf(text, sizeof(text),
			    "[smarthost a]\nhost = a\nsenders = %s\n", bad[i]);
			ok(load(text, &c, &err) == -1 &&
				has_all(&err, path, "smarthost a:senders",
				    NULL),
			    "malformed pattern '%s' refused: %s", bad[i],
			    err.msg);
		}
	}
	ok(load("[smarthost a]\nhost = a\nsenders = @a.example,,@b.example\n",
	       &c, &err) == -1 &&
		has_all(&err, path, "smarthost a:senders", "empty item", NULL),
	    "an empty pattern refused: %s", err.msg);
}

/* conf_route: exact beats @domain, any case, null sender to 0. */
static void
test_route(void)
{
	static const struct {
		const char *sender;
		size_t want;
	} table[] = {
		{ "boss@work.example", 1 },
		{ "Boss@WORK.example", 1 },
		{ "alerts@work.example", 3 },
		{ "ALERTS@Work.Example", 3 },
		{ "me@home.example", 2 },
		{ "me@sub.home.example", 0 },
		{ "me@home.example.org", 0 },
		{ "work.example@other.example", 0 },
		{ "cron@server.example", 3 },
		{ "other@server.example", 0 },
		{ "", 0 },
		{ "root", 0 },
		{ "\"a@b\"@home.example", 2 },
	};
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = relay.example\n"
		"[smarthost work]\nhost = w\nsenders = @work.example\n"
		"[smarthost home]\nhost = h\nsenders = @home.example\n"
		"[smarthost alerts]\nhost = x\n"
		"senders = alerts@work.example, cron@server.example\n",
	       &c, &err) == 0,
	    "routing table loads: %s", err.msg);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		is_int(conf_route(&c, table[i].sender), table[i].want,
		    "route <%s> -> %zu", table[i].sender, table[i].want);
	is_int(conf_route(&c, NULL), 0, "NULL routes to 0");
	conf_free(&c);

	/* Exact beats @domain whatever the section order. */
	ok(load("[smarthost exact]\nhost = e\nsenders = a@d.example\n"
		"[smarthost dom]\nhost = d\nsenders = @d.example\n",
	       &c, &err) == 0 &&
		conf_route(&c, "a@d.example") == 1 &&
		conf_route(&c, "b@d.example") == 2,
	    "exact before @domain in the file: exact wins");
	conf_free(&c);
	ok(load("[smarthost dom]\nhost = d\nsenders = @d.example\n"
		"[smarthost exact]\nhost = e\nsenders = A@D.example\n",
	       &c, &err) == 0 &&
		conf_route(&c, "a@d.example") == 2 &&
		conf_route(&c, "b@d.example") == 1,
	    "exact after @domain in the file: exact wins");
	conf_free(&c);
}

/* The smarthost array with [smarthost] only (issue 15, first step). */
static void
test_smarthosts_single(void)
{
	struct conf c;
	struct rq_err err;

	ok(load("[smarthost]\nhost = mx.example\nrate_limit = 5/1s\n", &c,
	       &err) == 0,
	    "[smarthost] alone loads: %s", err.msg);
	is_int(c.nsmarthosts, 1, "one smarthost");
	is_str(c.smarthosts[0].name, "default", "[smarthost] is named default");
	ok(c.smarthosts[0].nchain == 1 && c.smarthosts[0].chain[0] == 0,
	    "its chain is itself");
	is_int(c.smarthosts[0].nsenders, 0, "no sender patterns");
	is_int(c.smarthosts[0].rate_limit.n, 5, "rate_limit in smarthosts[0]");
	is_int(conf_smarthost_find(&c, "default"), 0, "find default: 0");
	is_int(conf_smarthost_find(&c, "DEFAULT"), 0, "find ignores case");
	is_int(conf_smarthost_find(&c, "backup"), -1, "find unknown: -1");
	is_int(conf_route(&c, "a@example.org"), 0, "a sender routes to 0");
	is_int(conf_route(&c, ""), 0, "the null sender routes to 0");
	conf_free(&c);
	ok(c.smarthosts == NULL && c.nsmarthosts == 0, "conf_free clears");

	conf_defaults(&c);
	ok(c.nsmarthosts == 1 && strcmp(c.smarthosts[0].host, "") == 0 &&
		c.smarthosts[0].port == 587,
	    "conf_defaults gives one default smarthost");
	conf_free(&c);
}

/*
 * What iniparser hides (issue 15): a section or a key given twice, a
 * line too long.  conf_scan() refuses them, naming file, line, section
 * and key, and reads lines as iniparser does.
 */
static void
test_twice(void)
{
	static const char *sh_dup[] = {
		"[smarthost work]\nhost = a.example\n[smarthost Work]\nhost = "
		"b.example\n",
		"[smarthost work]\nhost = a.example\n[smarthost  work]\nhost = "
		"b.example\n",
		"[smarthost work]\nhost = a.example\n[ SMARTHOST\twork ]\n",
		"[smarthost]\nhost = a.example\n[Smarthost]\nport = 25\n",
	};
	char big[1200], msg[1200];
	struct conf c;
	struct rq_err err;

	for (size_t i = 0; i < RQ_NELEM(sh_dup); i++) {
		ok(load(sh_dup[i], &c, &err) == -1 &&
			has_all(&err, path, ":3: [smarthost", "appears twice",
			    "first at line 1", NULL),
		    "a smarthost section given twice is refused (%zu): %s", i,
		    err.msg);
		put(sh_dup[i]);
		ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) ==
			    0 &&
			c.smarthost_error != NULL &&
			strstr(c.smarthost_error, "appears twice") != NULL &&
			c.nsmarthosts == 1 && c.smarthosts[0].host[0] == '\0',
		    "... a front end loads it without any smarthost (%zu)", i);
		conf_free(&c);
	}
	ok(load("[relayq]\nhostname = a\n[delivery]\nretry_min = 1s\n"
		"[RELAYQ]\nhostname = b\n",
	       &c, &err) == -1 &&
		has_all(&err, path, ":5: [relayq] appears twice",
		    "first at line 1", NULL),
	    "[relayq] given twice is refused: %s", err.msg);
	put("[relayq]\nhostname = a\n[relayq]\nhostname = b\n");
	ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) == -1,
	    "... by a front end too");
	ok(load("[smarthost work]\nhost = a.example\nsenders = @one, @two\n"
		"; a comment\n  SENDERS = @three\n",
	       &c, &err) == -1 &&
		has_all(&err, path, ":5: smarthost work:senders", "set twice",
		    "first at line 3", NULL),
	    "a key given twice is refused: %s", err.msg);
	ok(load("[delivery]\nretry_min = 1s\nretry_max = 2s\nretry_min = 1s\n",
	       &c, &err) == -1 &&
		has_all(&err, path, ":4: delivery:retry_min", "set twice",
		    NULL),
	    "... in [delivery] too: %s", err.msg);
	/* Not twice: other sections, a comment, a continued value. */
	ok(load("[smarthost a]\nhost = a.example\n[smarthost b]\nhost = "
		"a.example\n# host = x\n;host=y\n[relayq]\nhostname = \\\n"
		"  h.example\n",
	       &c, &err) == 0,
	    "the same key in two sections, or in comments, loads: %s", err.msg);
	conf_free(&c);
	/* A continued line is one: its second half sets no key. */
	ok(load("[relayq]\nhostname = a\\\nhostname = b\n", &c, &err) == 0 &&
		strcmp(c.hostname, "ahostname = b") == 0,
	    "a continuation line is part of the key before it: %s", err.msg);
	conf_free(&c);
	/* A continued comment swallows the next line, as in iniparser. */
	ok(load("[relayq]\nhostname = a\n; x \\\nhostname = b\n", &c, &err) ==
		0,
	    "a continued comment hides the next line: %s", err.msg);
	conf_free(&c);
	ok(load("[relayq]\nhostname = a\n[]\nhostname = b\n", &c, &err) == -1 &&
		has_all(&err, path, ":3: empty section name", NULL),
	    "[] is refused (iniparser would go on in [relayq]): %s", err.msg);
	/* The longest line loads; one more character is named. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "[relayq]\naliases = /", 20);
	big[9 + CONF_SCAN_LINE_MAX] = '\n';
	big[10 + CONF_SCAN_LINE_MAX] = '\0';
	ok(load(big, &c, &err) == 0 &&
		strlen(c.aliases) == CONF_SCAN_LINE_MAX - 10,
	    "a line of %d characters loads: %s", CONF_SCAN_LINE_MAX, err.msg);
	conf_free(&c);
	big[9 + CONF_SCAN_LINE_MAX] = 'x';
	big[10 + CONF_SCAN_LINE_MAX] = '\n';
	big[11 + CONF_SCAN_LINE_MAX] = '\0';
	ok(load(big, &c, &err) == -1 &&
		has_all(&err, path, ":2: line too long", "[relayq]",
		    "key aliases", "at most 1022 characters", NULL),
	    "one more is refused, naming line, section and key: %s", err.msg);
	(void)snprintf(msg, sizeof(msg), "[relayq]\naliases = /\\\n%.1000s\n",
	    big + 30);
	ok(load(msg, &c, &err) == 0, "a continued line within the limit loads");
	conf_free(&c);
}

/*
 * CONF_LOAD_SMARTHOST_LAX (issue 15): an error in a smarthost section
 * only is kept apart; elsewhere it still fails.
 */
static void
test_lax(void)
{
	static const char *sh_bad[] = {
		"[smarthost]\nhost = a.example\nfallback = prvi\n",
		"[smarthost work]\nhost = a.example\nsenders = nobody\n",
		"[smarthost work]\nhost = a.example\nrate_limit = lots\n",
		"[smarthost work]\nhost = a.example\nnosuchkey = 1\n",
		"[smarthost Bad!]\nhost = a.example\n",
		"[smarthost work]\n",
		"[smarthost]\ntls_min_version = 1.1\n",
	};
	struct conf c;
	struct rq_err err;

	for (size_t i = 0; i < RQ_NELEM(sh_bad); i++) {
		char text[512];

		(void)snprintf(text, sizeof(text),
		    "[relayq]\nspool_dir = /var/tmp/lax\n%s"
		    "[delivery]\nretry_min = 7s\n",
		    sh_bad[i]);
		ok(load(text, &c, &err) == -1, "strict: refused (%zu): %s", i,
		    err.msg);
		put(text);
		ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) ==
			    0 &&
			c.smarthost_error != NULL &&
			strstr(c.smarthost_error, path) != NULL &&
			strcmp(c.spool_dir, "/var/tmp/lax") == 0 &&
			c.delivery_retry_min == 7 && c.nsmarthosts == 1 &&
			c.smarthosts[0].host[0] == '\0',
		    "lax: loads, the other sections read, no smarthost (%zu): "
		    "%s",
		    i, c.smarthost_error != NULL ? c.smarthost_error : err.msg);
		conf_free(&c);
	}
	put("[relayq]\nspool_dir = relative\n[smarthost]\nfallback = x\n");
	ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) == -1 &&
		strstr(err.msg, "spool_dir") != NULL,
	    "lax: an error outside the smarthosts still fails: %s", err.msg);
	put("[relayq]\nmax_message_size = big\n");
	ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) == -1,
	    "lax: a bad max_message_size fails");
	put("[smarthost]\nhost = a.example\n[smarthost w]\nhost = b.example\n"
	    "senders = @w.example\n");
	ok(conf_load_flags(&c, path, CONF_LOAD_SMARTHOST_LAX, &err) == 0 &&
		c.smarthost_error == NULL && c.nsmarthosts == 2 &&
		conf_route(&c, "x@w.example") == 1,
	    "lax: a good file loads whole");
	conf_free(&c);
}

/* conf_smarthost_msg(): relayq.conf(5)'s SECTION:KEY form (issue 15). */
static void
test_sh_msg(void)
{
	struct conf_smarthost def = { 0 }, work = { 0 };
	char buf[256];

	def.name = (char *)(uintptr_t) "default";
	work.name = (char *)(uintptr_t) "work";
	conf_smarthost_msg(&work, "smarthost:tls_fingerprint: expected x", buf,
	    sizeof(buf));
	is_str(buf, "smarthost work:tls_fingerprint: expected x",
	    "smarthost:KEY in a named section");
	conf_smarthost_msg(&work, "smarthost username is empty", buf,
	    sizeof(buf));
	is_str(buf, "smarthost work:username is empty",
	    "smarthost KEY in a named section");
	conf_smarthost_msg(&work, "smarthost: set one", buf, sizeof(buf));
	is_str(buf, "smarthost work: set one", "smarthost: in a named section");
	conf_smarthost_msg(&work, "AUTH is configured", buf, sizeof(buf));
	is_str(buf, "smarthost work: AUTH is configured",
	    "no key, a named section");
	conf_smarthost_msg(&def, "smarthost username is empty", buf,
	    sizeof(buf));
	is_str(buf, "smarthost:username is empty", "smarthost KEY in default");
	conf_smarthost_msg(&def, "smarthost:ca_file: x", buf, sizeof(buf));
	is_str(buf, "smarthost:ca_file: x", "smarthost:KEY in default");
	conf_smarthost_msg(&def, "AUTH is configured", buf, sizeof(buf));
	is_str(buf, "AUTH is configured", "no key, default");
}

int
main(void)
{
	struct conf c;
	struct rq_err err;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_conf.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return 1;
	close(fd);
	test_rate_keys();

	ok(load(TEST_CONF_VALID "no_such_key = 1\n", &c, &err) == -1,
	    "unknown key in [delivery] refused");
	ok(strstr(err.msg, "no_such_key") != NULL, "error names the key: %s",
	    err.msg);

	ok(load(TEST_CONF_VALID, &c, &err) == 0, "valid file loads");
	is_str(c.spool_dir, "/var/tmp/q", "spool_dir");
	is_str(c.smarthosts[0].host, "mx.example", "host");
	is_int(c.smarthosts[0].port, 25, "port");
	is_int(c.smarthosts[0].tls, CONF_TLS_NONE, "tls none");
	is_str(c.smarthosts[0].password_file, "/etc/x;y", "quoted value kept");
	is_int(c.delivery_retry_min, 30, "retry_min 30s");
	is_int(c.delivery_retry_max, 7200, "retry_max 2h");
	is_int(c.delivery_max_connections, 8, "max_connections");
	is_int(c.delivery_messages_per_connection, 1000, "default kept");
	is_str(c.default_domain, "h.example", "default_domain from hostname");
	conf_free(&c);

	ok(load("[smarthost]\nport = 025\n", &c, &err) == 0 &&
		c.smarthosts[0].port == 25,
	    "025 is 25, not octal 21");
	conf_free(&c);
	ok(load("[smarthost]\nport = 25x\n", &c, &err) == -1, "25x refused: %s",
	    err.msg);
	ok(load("[smarthost]\nport = 70000\n", &c, &err) == -1,
	    "port out of range refused");
	ok(load("[smarthost]\nport =\n", &c, &err) == -1,
	    "empty number refused");
	ok(load("[smarthost]\ntls = maybe\n", &c, &err) == -1,
	    "bad tls value refused");
	ok(load("[smarthost]\ntls_verify = perhaps\n", &c, &err) == -1,
	    "bad boolean refused");
	ok(load("[smarthost]\ntls_verify = off\n", &c, &err) == 0 &&
		c.smarthosts[0].tls_verify == 0,
	    "off is a boolean");
	conf_free(&c);
	ok(load("[smarthost]\ntls = STARTTLS\n", &c, &err) == 0 &&
		c.smarthosts[0].tls == CONF_TLS_STARTTLS,
	    "enum values ignore case");
	conf_free(&c);
	ok(load("[nosuch]\nx = 1\n", &c, &err) == -1, "unknown section");
	ok(load("[relayq]\nthis line has no equals sign\n", &c, &err) == -1,
	    "syntax error refused: %s", err.msg);
	ok(load("[relayq]\nspool_dir = relative/path\n", &c, &err) == -1,
	    "relative spool_dir refused");
	ok(load("[delivery]\nretry_min = 2h\nretry_max = 1m\n", &c, &err) == -1,
	    "retry_max < retry_min refused");
	ok(load("[delivery]\nretry_min = 0s\n", &c, &err) == -1,
	    "zero retry refused");
	test_tls_auth();
	test_delivery_keys();
	test_presets();
	test_host_keys();
	test_smarthosts_single();
	test_smarthosts_named();
	test_fallback();
	test_senders();
	test_route();
	test_twice();
	test_lax();
	test_sh_msg();
	unlink(path);
	ok(conf_load(&c, path, &err) == -1 && strstr(err.msg, path) != NULL,
	    "missing file names the path");
	ok(strcmp(conf_path("/x.conf", 1), "/x.conf") == 0,
	    "explicit path wins");
	setenv("RELAYQ_CONFIG", "/env.conf", 1);
	ok(strcmp(conf_path(NULL, 1), "/env.conf") == 0, "RELAYQ_CONFIG used");
	ok(strcmp(conf_path(NULL, 0), conf_default_path()) == 0,
	    "environment ignored when not allowed");
	return done_testing();
}
