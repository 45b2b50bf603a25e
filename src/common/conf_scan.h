/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * A pre-scan of the configuration file for what iniparser hides: it
 * merges a section that appears twice and keeps the last value of a key
 * set twice, silently, and refuses an over-long line without naming it.
 * conf_scan() reads the lines as iniparser 4.1 does (comments, trailing
 * backslash continuation, the same section and key names) and reports
 * those cases with the line; conf_load() runs it before iniparser.
 */
#ifndef RELAYQ_COMMON_CONF_SCAN_H
#define RELAYQ_COMMON_CONF_SCAN_H

#include "common/status.h"

/* The longest line iniparser 4.1 reads (its ASCIILINESZ 1024, less the
 * newline and the NUL), continuation lines joined. */
#define CONF_SCAN_LINE_MAX 1022

/*
 * Scans path.  Returns -1 with err set for the first problem outside the
 * smarthost sections: a line longer than CONF_SCAN_LINE_MAX or holding a
 * NUL byte, an empty section name "[]", a section header given twice,
 * a key set twice in one section, or a file that cannot be read.  The
 * first such problem inside a [smarthost] or [smarthost NAME] section
 * (a header or a key given twice) goes to sherr instead (sherr->msg is
 * "" when there is none) and the scan goes on; the return is then 0.
 * Section names compare as iniparser's do, case-insensitively, and with
 * runs of blanks counted as one (conf.c reads "smarthost  a" as "smarthost
 * a").  Messages read "FILE:LINE: ...", naming the section and key.
 */
int conf_scan(const char *path, struct rq_err *err, struct rq_err *sherr);

#endif
