/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The logging sink.  Owns the process-wide destination (the only global
 * state outside main files, as syslog itself is process-wide).  Lines are
 * formatted into a fixed buffer, escaped with str_sanitize() and written
 * with one syslog() or one write(2) each, so concurrent writers do not
 * interleave within a line.
 */
#include "config.h"

#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/strutil.h"

static struct {
	const char *ident;
	enum log_dest dest;
	int verbose;
	int trace;
	int fatal_status; /* exit status of fatal() and fatalx() */
} log_state = { "relayq", LOG_TO_STDERR, 0, 0, 1 };

/* Sets the exit status of fatal() and fatalx() (default 1). */
void
log_set_fatal_status(int status)
{
	log_state.fatal_status = status;
}

/* Sets up the sink. */
void
log_init(const char *ident, enum log_dest dest, int verbose)
{
	log_state.ident = ident;
	log_state.dest = dest;
	log_state.verbose = verbose;
	if (dest == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* Enables trace masks. */
void
log_set_trace(int mask)
{
	log_state.trace |= mask;
}

/* Returns nonzero when mask is traced. */
int
log_trace_on(int mask)
{
	return (log_state.trace & mask) != 0;
}

static void log_emit(int pri, const char *fmt, va_list ap, int err)
    __attribute__((format(printf, 2, 0)));

/*
 * Formats, sanitises and emits one line at priority pri, followed by
 * strerror(err) unless err is -1.
 */
static void
log_emit(int pri, const char *fmt, va_list ap, int err)
{
	char raw[LOG_LINE_MAX * 2], clean[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 64];
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(raw))
		n = sizeof(raw) - 1;
	if (err != -1) {
		size_t len = (size_t)n;
		snprintf(raw + len, sizeof(raw) - len, ": %s", strerror(err));
		n = (int)strlen(raw);
	}
	str_sanitize(clean, sizeof(clean), raw, (size_t)n);
	if (log_state.dest == LOG_TO_SYSLOG) {
		syslog(pri, "%s", clean);
		return;
	}
	n = snprintf(line, sizeof(line), "%s: %s\n", log_state.ident, clean);
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The body of every printf-like function below (see log_emit()). */
#define LOG_VA_EMIT(pri, err)                     \
	do {                                      \
		va_list ap_;                      \
		va_start(ap_, fmt);               \
		log_emit((pri), fmt, ap_, (err)); \
		va_end(ap_);                      \
	} while (0)

/* Debug-level line, shown only when verbose. */
void
log_debug(const char *fmt, ...)
{
	if (log_state.verbose)
		LOG_VA_EMIT(LOG_DEBUG, -1);
}

/* Trace line; the log_trace() macro checks the mask first. */
void
log_trace_msg(const char *fmt, ...)
{
	LOG_VA_EMIT(LOG_DEBUG, -1);
}

/* Informational line. */
void
log_info(const char *fmt, ...)
{
	LOG_VA_EMIT(LOG_INFO, -1);
}

/* Warning with strerror(errno); errno is kept. */
void
log_warn(const char *fmt, ...)
{
	int err = errno;

	LOG_VA_EMIT(LOG_WARNING, err);
	errno = err;
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	LOG_VA_EMIT(LOG_WARNING, -1);
}

/* Logs with strerror(errno) and exits with the fatal status. */
void
fatal(const char *fmt, ...)
{
	int err = errno;

	LOG_VA_EMIT(LOG_CRIT, err);
	exit(log_state.fatal_status);
}

/* Logs and exits with the fatal status. */
void
fatalx(const char *fmt, ...)
{
	LOG_VA_EMIT(LOG_CRIT, -1);
	exit(log_state.fatal_status);
}

/* Reports a failed RQ_ASSERT and aborts. */
void
log_assert_fail(const char *file, int line, const char *expr)
{
	log_warnx("assertion failed at %s:%d: %s", file, line, expr);
	abort();
}
