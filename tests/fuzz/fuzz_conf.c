/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * libFuzzer target for the configuration loader (conf.c on iniparser).
 * conf_load() takes a path, so the input is written to a memfd and
 * loaded through /proc/self/fd/N.  A load either fails with a message
 * or gives a struct conf whose strings hold no control character and
 * whose numbers are within their documented ranges; conf_free() must
 * leave nothing behind (LeakSanitizer).
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts if s holds a control character. */
static void
fuzz_conf_str(const char *s)
{
	if (s == NULL)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

/* Loads one input as a configuration file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct conf c;
	struct rq_err err;

	if (fd == -1) {
		log_init("fuzz", LOG_TO_STDERR, 0);
		if ((fd = memfd_create("relayq-conf", 0)) == -1)
			abort();
	}
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&err, 0, sizeof(err));
	if (conf_load(&c, path, &err) == -1) {
		if (err.msg[0] == '\0')
			abort(); /* a failure must say why */
		return 0;
	}
	fuzz_conf_str(c.spool_dir);
	fuzz_conf_str(c.hostname);
	fuzz_conf_str(c.default_domain);
	fuzz_conf_str(c.smarthosts[0].host);
	fuzz_conf_str(c.smarthosts[0].username);
	fuzz_conf_str(c.smarthosts[0].password_file);
	fuzz_conf_str(c.smarthosts[0].password_command);
	if (c.smarthosts[0].port < 1 || c.smarthosts[0].port > 65535 ||
	    c.delivery_max_connections < 1 || c.delivery_max_connections > 64 ||
	    c.delivery_retry_min < 1 || c.delivery_retry_max < 1 ||
	    c.delivery_connect_timeout < 1 || c.max_recipients < 1 ||
	    c.max_message_size < 1024)
		abort();
	conf_free(&c);
	return 0;
}
