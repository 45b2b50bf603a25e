/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The logging sink: syslog (facility mail) or stderr.  Every line is
 * sanitised here (control characters escaped, truncated at 1 KiB), so
 * callers may pass server replies and addresses as they are.
 */
#ifndef RELAYQ_COMMON_LOG_H
#define RELAYQ_COMMON_LOG_H

#include "common/compat.h"

enum log_dest { LOG_TO_SYSLOG, LOG_TO_STDERR };

#define LOG_LINE_MAX 1024

/* Trace masks for log_trace(). */
#define LOG_TRACE_SMTP 0x01  /* SMTP dialogue, AUTH redacted */
#define LOG_TRACE_STATE 0x02 /* state machine transitions */
#define LOG_TRACE_QUEUE 0x04 /* queue scans and claims */

/* Sets the program name, destination and verbosity (0 quiet, 1 debug). */
void log_init(const char *ident, enum log_dest dest, int verbose);
/*
 * Sets the exit status of fatal() and fatalx(), 1 by default; the
 * sendmail front end uses EX_TEMPFAIL (out of memory: not queued).
 */
void log_set_fatal_status(int status);
/* Enables the trace masks in mask. */
void log_set_trace(int mask);
/* Returns nonzero when any bit of mask is being traced. */
int log_trace_on(int mask);
void log_debug(const char *fmt, ...) RQ_PRINTF(1, 2);
void log_info(const char *fmt, ...) RQ_PRINTF(1, 2);
/* log_warn appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) RQ_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) RQ_PRINTF(1, 2);
RQ_NORETURN void fatal(const char *fmt, ...) RQ_PRINTF(1, 2);
RQ_NORETURN void fatalx(const char *fmt, ...) RQ_PRINTF(1, 2);
void log_trace_msg(const char *fmt, ...) RQ_PRINTF(1, 2);

#define log_trace(mask, ...)                        \
	do {                                        \
		if (log_trace_on(mask))             \
			log_trace_msg(__VA_ARGS__); \
	} while (0)

#define RQ_ASSERT(x)                                             \
	do {                                                     \
		if (!(x))                                        \
			log_assert_fail(__FILE__, __LINE__, #x); \
	} while (0)

RQ_NORETURN void log_assert_fail(const char *file, int line, const char *expr);

#endif
