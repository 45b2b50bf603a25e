/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Names and helpers for enum rq_status and struct rq_reason.
 */
#include "config.h"

#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/compat.h"
#include "common/strutil.h"

/* Returns the printable name of a status. */
const char *
rq_status_name(enum rq_status st)
{
	switch (st) {
	case RQ_OK:
		return "ok";
	case RQ_TEMPFAIL:
		return "tempfail";
	case RQ_PERMFAIL:
		return "permfail";
	}
	return "?";
}

/* Fills a reason from a code, an enhanced status and a text. */
void
rq_reason_set(struct rq_reason *r, int code, const char *esc, const char *text)
{
	r->code = code;
	r->stage = RQ_STAGE_SESSION;
	strlcpy(r->esc, esc != NULL ? esc : "", sizeof(r->esc));
	(void)str_clean_text(r->text, sizeof(r->text), text != NULL ? text : "",
	    strlen(text != NULL ? text : ""));
}

/* Formats an error message, truncating quietly. */
void
rq_err_set(struct rq_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}
