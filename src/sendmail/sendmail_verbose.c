/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The front end's side of -v.  Every line relayqd sends is escaped
 * once (str_sanitize: printable ASCII); it is unescaped once and made
 * clean text (str_clean_text) before it is printed, so a server's reply
 * shows as it was sent (a backslash as one backslash) and still holds no
 * control character.  Lines are bounded, and the whole wait is
 * bounded by the configured delivery timeouts, so a stuck daemon cannot
 * hold the caller forever: at worst the message simply stays queued.
 */
#include "config.h"

#include "sendmail/sendmail_verbose.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strutil.h"

#define SENDMAIL_VERBOSE_LINE_MAX 2048

/* Seconds a whole attempt may take, from the configured timeouts. */
static long long
sendmail_verbose_budget(const struct conf *c)
{
	long long t = c->delivery_connect_timeout +
	    c->delivery_greeting_timeout + 4 * c->delivery_command_timeout +
	    c->delivery_data_timeout + c->delivery_dot_timeout + 30;

	return t > 1800 ? 1800 : t;
}

/* Prints one line from relayqd; returns 1 for the RESULT line. */
static int
sendmail_verbose_line(const char *line, size_t len, int *delivered)
{
	char raw[SENDMAIL_VERBOSE_LINE_MAX + 1];
	char clean[3 * SENDMAIL_VERBOSE_LINE_MAX + 1];
	size_t n;

	n = str_unsanitize(raw, sizeof(raw), line, len);
	(void)str_clean_text(clean, sizeof(clean), raw, n);
	if (strncmp(clean, "RESULT ", 7) == 0) {
		const char *st = clean + 7, *text = st + strcspn(st, " ");

		text += *text == ' ';
		*delivered =
		    strncmp(st, "sent ", 5) == 0 || strcmp(st, "sent") == 0;
		if (*delivered)
			fprintf(stderr, "relayq: delivered\n");
		else if (strncmp(st, "failed", 6) == 0)
			fprintf(stderr,
			    "relayq: not delivered, failed permanently: %s "
			    "(a bounce follows)\n",
			    text);
		else if (strncmp(st, "error", 5) == 0)
			fprintf(stderr,
			    "relayq: cannot deliver now: %s; the message stays "
			    "queued\n",
			    text);
		else
			fprintf(stderr,
			    "relayq: not delivered now: %s; the message stays "
			    "queued and will be retried\n",
			    text);
		return 1;
	}
	if (strncmp(clean, "RCPT ", 5) == 0)
		fprintf(stderr, "relayq: recipient %s\n", clean + 5);
	else
		fprintf(stderr, "%s\n", clean);
	return 0;
}

/* Connects to relayqd's -v socket; returns the fd or -1. */
static int
sendmail_verbose_connect(const struct conf *conf)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (rq_snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/verbose",
		conf->spool_dir) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Watches the delivery of id. */
int
sendmail_verbose_run(const struct conf *conf, const char *id)
{
	char req[64], buf[SENDMAIL_VERBOSE_LINE_MAX];
	size_t have = 0;
	time_t end = time(NULL) + (time_t)sendmail_verbose_budget(conf);
	int fd, delivered = 0, done = 0;

	if ((fd = sendmail_verbose_connect(conf)) == -1)
		return -1;
	(void)snprintf(req, sizeof(req), "V%s\n", id);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		(void)close(fd);
		return -1;
	}
	while (!done) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		time_t now = time(NULL);
		ssize_t n;
		char *nl;

		if (now >= end) {
			fprintf(stderr,
			    "relayq: gave up waiting for the delivery; the "
			    "message stays queued\n");
			break;
		}
		if (poll(&pfd, 1, (int)(end - now) * 1000) <= 0) {
			if (errno == EINTR)
				continue;
			continue; /* the deadline check above ends it */
		}
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr,
			    "relayq: relayqd closed the connection; "
			    "the message stays queued\n");
			break;
		}
		have += (size_t)n;
		while (!done && (nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			done = sendmail_verbose_line(buf, len, &delivered);
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
		if (have == sizeof(buf)) {
			/* An over-long line: show it cut, carry on. */
			(void)sendmail_verbose_line(buf, have, &delivered);
			have = 0;
		}
	}
	(void)close(fd);
	return delivered ? EX_OK : EX_UNAVAILABLE;
}
