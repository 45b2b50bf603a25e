/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayq_json.c: strings of any bytes become valid JSON (control
 * characters, quotes and backslashes escaped by jansson, bytes that are
 * not UTF-8 replaced by U+FFFD one for one) and every document printed
 * reads back with jansson's strict parser.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relayq/relayq_json.h"
#include "tap.h"

/* Prints {"k": relayq_json_str(in)} to memory and reads it back. */
static void
check(const char *in, const char *want, const char *what)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *o = json_object(), *back;
	json_error_t jerr;

	relayq_json_set(o, "k", relayq_json_str(in));
	ok(relayq_json_print(o, f) == 0, "%s: printed", what);
	fclose(f);
	ok(len > 0 && text[len - 1] == '\n' &&
		memchr(text, '\n', len - 1) == NULL,
	    "%s: one line", what);
	back = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	ok(back != NULL, "%s: parses (%s)", what, back ? "" : jerr.text);
	if (back != NULL) {
		json_t *k = json_object_get(back, "k");

		if (want == NULL)
			ok(json_is_null(k), "%s: null", what);
		else
			is_str(json_is_string(k) ? json_string_value(k) : "?",
			    want, "%s: value", what);
		json_decref(back);
	}
	free(text);
}

int
main(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *o;

	check(NULL, NULL, "NULL");
	check("", "", "empty");
	check("plain@example.org", "plain@example.org", "ASCII");
	check("\"q\\\"uo\\\\te\"@example.org", "\"q\\\"uo\\\\te\"@example.org",
	    "quotes and backslashes");
	check("a\x01\x1b[31m\tb\r\n\x7f", "a\x01\x1b[31m\tb\r\n\x7f",
	    "control characters");
	check("\xc3\xbc\xe2\x82\xac\xf0\x9f\x93\xa7",
	    "\xc3\xbc\xe2\x82\xac"
	    "\xf0\x9f\x93\xa7",
	    "valid UTF-8 kept");
	check("b\xff\xfe"
	      "ad",
	    "b\xef\xbf\xbd\xef\xbf\xbd"
	    "ad",
	    "0xff 0xfe: one U+FFFD each");
	check("x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd", "cut-short sequence");
	check("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "overlong '/'");
	check("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	    "surrogate U+D800");
	check("\xf4\x90\x80\x80z",
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
	    "beyond U+10FFFF");
	check("\x80\xc3\xa9", "\xef\xbf\xbd\xc3\xa9",
	    "stray continuation byte, then valid");

	/* Times: 0 is null. */
	f = open_memstream(&text, &len);
	o = json_object();
	relayq_json_set(o, "t", relayq_json_time(0));
	relayq_json_set(o, "u", relayq_json_time(1796670908));
	ok(relayq_json_print(o, f) == 0, "times printed");
	fclose(f);
	is_str(text, "{\"t\": null, \"u\": 1796670908}\n",
	    "time 0 is null, others a number, ', ' and ': ' separators");
	free(text);
	return done_testing();
}
