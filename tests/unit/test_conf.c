/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for the configuration loader: defaults, every value kind,
 * strict numbers, unknown keys and sections, syntax errors, quoting.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
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

	ok(load("[relayq]\nspool_dir = /var/tmp/q\nhostname = h.example\n"
		"[smarthost]\nhost = mx.example\nport = 25\ntls = none\n"
		"password_file = \"/etc/x;y\"\n"
		"[delivery]\nretry_min = 30s\nretry_max = 2h\n"
		"max_connections = 8\ntls_dummy_ignored_below = 1\n",
		&c, &err) == -1,
	    "unknown key in [delivery] refused");
	ok(strstr(err.msg, "tls_dummy_ignored_below") != NULL,
	    "error names the key: %s", err.msg);

	ok(load("[relayq]\nspool_dir = /var/tmp/q\nhostname = h.example\n"
		"[smarthost]\nhost = mx.example\nport = 25\ntls = none\n"
		"password_file = \"/etc/x;y\"\n"
		"[delivery]\nretry_min = 30s\nretry_max = 2h\n"
		"max_connections = 8\n",
		&c, &err) == 0,
	    "valid file loads");
	is_str(c.spool_dir, "/var/tmp/q", "spool_dir");
	is_str(c.smarthost_host, "mx.example", "host");
	is_int(c.smarthost_port, 25, "port");
	is_int(c.smarthost_tls, CONF_TLS_NONE, "tls none");
	is_str(c.smarthost_password_file, "/etc/x;y", "quoted value kept");
	is_int(c.delivery_retry_min, 30, "retry_min 30s");
	is_int(c.delivery_retry_max, 7200, "retry_max 2h");
	is_int(c.delivery_max_connections, 8, "max_connections");
	is_int(c.delivery_messages_per_connection, 100, "default kept");
	is_str(c.default_domain, "h.example", "default_domain from hostname");
	conf_free(&c);

	ok(load("[smarthost]\nport = 025\n", &c, &err) == 0 &&
		c.smarthost_port == 25,
	    "025 is 25, not octal 21");
	conf_free(&c);
	ok(load("[smarthost]\nport = 25x\n", &c, &err) == -1,
	    "25x refused: %s", err.msg);
	ok(load("[smarthost]\nport = 70000\n", &c, &err) == -1,
	    "port out of range refused");
	ok(load("[smarthost]\nport =\n", &c, &err) == -1,
	    "empty number refused");
	ok(load("[smarthost]\ntls = maybe\n", &c, &err) == -1,
	    "bad tls value refused");
	ok(load("[smarthost]\ntls_verify = perhaps\n", &c, &err) == -1,
	    "bad boolean refused");
	ok(load("[smarthost]\ntls_verify = off\n", &c, &err) == 0 &&
		c.smarthost_tls_verify == 0,
	    "off is a boolean");
	conf_free(&c);
	ok(load("[smarthost]\ntls = STARTTLS\n", &c, &err) == 0 &&
		c.smarthost_tls == CONF_TLS_STARTTLS,
	    "enum values ignore case");
	conf_free(&c);
	ok(load("[nosuch]\nx = 1\n", &c, &err) == -1, "unknown section");
	ok(load("[relayq]\nthis line has no equals sign\n", &c, &err) == -1,
	    "syntax error refused: %s", err.msg);
	ok(load("[relayq]\nspool_dir = relative/path\n", &c, &err) == -1,
	    "relative spool_dir refused");
	ok(load("[delivery]\nretry_min = 2h\nretry_max = 1m\n", &c, &err) ==
		-1,
	    "retry_max < retry_min refused");
	ok(load("[delivery]\nretry_min = 0s\n", &c, &err) == -1,
	    "zero retry refused");
	unlink(path);
	ok(conf_load(&c, path, &err) == -1 && strstr(err.msg, path) != NULL,
	    "missing file names the path");
	ok(strcmp(conf_path("/x.conf", 1), "/x.conf") == 0,
	    "explicit path wins");
	setenv("RELAYQ_CONFIG", "/env.conf", 1);
	ok(strcmp(conf_path(NULL, 1), "/env.conf") == 0,
	    "RELAYQ_CONFIG used");
	ok(strcmp(conf_path(NULL, 0), conf_default_path()) == 0,
	    "environment ignored when not allowed");
	return done_testing();
}
