/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Configuration loading and the route table.  Two static tables map keys
 * to fields and parsers: conf_keys holds the "section:key" names of
 * [relayq] and [delivery] (fields of struct conf), conf_sh_keys the bare
 * key names of a smarthost section (fields of struct conf_smarthost),
 * applied to [smarthost] (smarthosts[0]) and to each [smarthost NAME]
 * (smarthosts[1..], in file order).  A provider preset fills the section
 * that names it, before that section's own keys; a named section starts
 * from the built-in defaults, never from [smarthost].  conf_load() walks
 * the file's keys against the tables, so unknown keys are reported, and
 * the dictionary is freed before returning.  Numbers are parsed strictly
 * (never iniparser_getint, which accepts "25x" and octal).
 *
 * The route table is computed once, at load, and is read-only after:
 * every fallback name resolves to an index, there is no fallback cycle,
 * so each chain is finite, starts with its own smarthost and lists each
 * smarthost once; every senders pattern is well formed, lower case and
 * claimed by one named section.  conf_route() is then a pure lookup over
 * those patterns, and callers choose a message's route when they need it
 * (relayqd at each attempt, relayq show, the listings), so a reloaded
 * file reroutes queued mail without touching the spool.  Nothing here
 * knows whether a smarthost is up: that is relayqd's.
 */
#include "config.h"

#include "common/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#ifdef HAVE_INIPARSER_INIPARSER_H
#include <iniparser/iniparser.h>
#else
#include <iniparser.h>
#endif

#include "common/addr.h"
#include "common/conf_preset.h"
#include "common/conf_scan.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

/* The same number as text, for messages (conf.h's CONF_FALLBACK_MAX). */
#define CONF_FALLBACK_MAX_STR "8"

#ifndef RELAYQ_SYSCONFDIR
#define RELAYQ_SYSCONFDIR "/etc/relayq"
#endif
#ifndef RELAYQ_SPOOLDIR
#define RELAYQ_SPOOLDIR "/var/spool/relayq"
#endif

enum conf_kind {
	CONF_STR,      /* char * */
	CONF_BOOL,     /* int */
	CONF_INT,      /* int within [min, max] */
	CONF_LL,       /* long long within [min, max] */
	CONF_DURATION, /* long long seconds within [min, max] */
	CONF_SIZE,     /* long long bytes within [min, max] */
	CONF_TLS,      /* enum conf_tls */
	CONF_RATE,     /* struct conf_rate: N/DURATION, "" for none */
	CONF_LIST      /* char **, count at noff: "a, b", lower case */
};

struct conf_key {
	const char *name; /* "section:key" */
	enum conf_kind kind;
	size_t off;
	long long min, max; /* CONF_LIST: max is the most items, 0 any */
	size_t noff;	    /* CONF_LIST: the offset of the size_t count */
};

#define CK(n, k, f, lo, hi)                               \
	{                                                 \
		n, k, offsetof(struct conf, f), lo, hi, 0 \
	}

#define SK(n, k, f, lo, hi)                                         \
	{                                                           \
		n, k, offsetof(struct conf_smarthost, f), lo, hi, 0 \
	}
#define SKL(n, f, nf, hi)                                                \
	{                                                                \
		n, CONF_LIST, offsetof(struct conf_smarthost, f), 0, hi, \
		    offsetof(struct conf_smarthost, nf)                  \
	}

/* The keys of [relayq] and [delivery], offsets into struct conf. */
static const struct conf_key conf_keys[] = {
	CK("relayq:spool_dir", CONF_STR, spool_dir, 0, 0),
	CK("relayq:hostname", CONF_STR, hostname, 0, 0),
	CK("relayq:default_domain", CONF_STR, default_domain, 0, 0),
	CK("relayq:aliases", CONF_STR, aliases, 0, 0),
	CK("relayq:masquerade", CONF_STR, masquerade, 0, 0),
	CK("relayq:allow_from_override", CONF_BOOL, allow_from_override, 0, 0),
	CK("relayq:mailq_all_users", CONF_BOOL, mailq_all_users, 0, 0),
	CK("relayq:max_message_size", CONF_SIZE, max_message_size, 1024,
	    (long long)1 << 34),
	CK("relayq:max_recipients", CONF_LL, max_recipients, 1, 100000),
	CK("relayq:queue_minfree", CONF_SIZE, queue_minfree, 0,
	    (long long)1 << 40),
	CK("relayq:submit_socket", CONF_STR, submit_socket, 0, 0),
	CK("relayq:submission", CONF_STR, submission, 0, 0),
	CK("relayq:submit_timeout", CONF_DURATION, submit_timeout, 1, 3600),
	CK("relayq:resolv_conf", CONF_STR, resolv_conf, 0, 0),
	CK("relayq:hosts_file", CONF_STR, hosts_file, 0, 0),
	CK("delivery:max_connections", CONF_INT, delivery_max_connections, 1,
	    64),
	CK("delivery:messages_per_connection", CONF_INT,
	    delivery_messages_per_connection, 1, 100000),
	CK("delivery:retry_min", CONF_DURATION, delivery_retry_min, 1,
	    86400 * 30),
	CK("delivery:retry_max", CONF_DURATION, delivery_retry_max, 1,
	    86400 * 30),
	CK("delivery:probe_max", CONF_DURATION, delivery_probe_max, 1,
	    86400 * 30),
	CK("delivery:max_queue_lifetime", CONF_DURATION,
	    delivery_max_queue_lifetime, 1, 86400 * 365),
	CK("delivery:connect_timeout", CONF_DURATION, delivery_connect_timeout,
	    1, 3600),
	CK("delivery:greeting_timeout", CONF_DURATION,
	    delivery_greeting_timeout, 1, 3600),
	CK("delivery:command_timeout", CONF_DURATION, delivery_command_timeout,
	    1, 3600),
	CK("delivery:data_timeout", CONF_DURATION, delivery_data_timeout, 1,
	    3600),
	CK("delivery:dot_timeout", CONF_DURATION, delivery_dot_timeout, 1,
	    3600),
	CK("delivery:data_block_timeout", CONF_DURATION,
	    delivery_data_block_timeout, 1, 3600),
	CK("delivery:idle_timeout", CONF_DURATION, delivery_idle_timeout, 1,
	    3600),
	CK("delivery:scan_interval", CONF_DURATION, delivery_scan_interval, 1,
	    86400),
	CK("delivery:delay_warning", CONF_DURATION, delivery_delay_warning, 0,
	    86400 * 365),
	CK("delivery:bounce_full_message", CONF_BOOL,
	    delivery_bounce_full_message, 0, 0),
	CK("delivery:bounce_copy_to", CONF_STR, delivery_bounce_copy_to, 0, 0),
	CK("delivery:alert_command", CONF_STR, delivery_alert_command, 0, 0),
	CK("delivery:alert_after", CONF_DURATION, delivery_alert_after, 1,
	    86400 * 365),
	CK("delivery:failed_retention", CONF_DURATION,
	    delivery_failed_retention, 0, 86400 * 3650),
};

/*
 * The keys of any smarthost section, without the section, offsets into
 * struct conf_smarthost.
 */
static const struct conf_key conf_sh_keys[] = {
	SK("host", CONF_STR, host, 0, 0),
	SK("port", CONF_INT, port, 1, 65535),
	SK("tls", CONF_TLS, tls, 0, 0),
	SK("tls_verify", CONF_BOOL, tls_verify, 0, 0),
	SK("ca_file", CONF_STR, ca_file, 0, 0),
	SK("ca_path", CONF_STR, ca_path, 0, 0),
	SK("username", CONF_STR, username, 0, 0),
	SK("password_file", CONF_STR, password_file, 0, 0),
	SK("password_command", CONF_STR, password_command, 0, 0),
	SK("password_command_timeout", CONF_DURATION, password_command_timeout,
	    1, 300),
	SK("auth", CONF_STR, auth, 0, 0),
	SK("helo_name", CONF_STR, helo_name, 0, 0),
	SK("tls_fingerprint", CONF_STR, tls_fingerprint, 0, 0),
	SK("tls_cert", CONF_STR, tls_cert, 0, 0),
	SK("tls_key", CONF_STR, tls_key, 0, 0),
	SK("tls_min_version", CONF_STR, tls_min_version, 0, 0),
	SK("allow_plaintext_auth", CONF_BOOL, allow_plaintext_auth, 0, 0),
	SK("provider", CONF_STR, provider, 0, 0),
	SK("tenant", CONF_STR, tenant, 0, 0),
	SK("oauth2_token_url", CONF_STR, oauth2_token_url, 0, 0),
	SK("oauth2_client_id", CONF_STR, oauth2_client_id, 0, 0),
	SK("oauth2_client_secret_file", CONF_STR, oauth2_client_secret_file, 0,
	    0),
	SK("oauth2_grant", CONF_STR, oauth2_grant, 0, 0),
	SK("oauth2_refresh_token_file", CONF_STR, oauth2_refresh_token_file, 0,
	    0),
	SK("oauth2_scope", CONF_STR, oauth2_scope, 0, 0),
	SK("oauth2_device_url", CONF_STR, oauth2_device_url, 0, 0),
	SK("oauth2_auth_url", CONF_STR, oauth2_auth_url, 0, 0),
	SK("oauth2_ca_file", CONF_STR, oauth2_ca_file, 0, 0),
	SK("rate_limit", CONF_RATE, rate_limit, 0, 0),
	SK("recipient_limit", CONF_RATE, recipient_limit, 0, 0),
	SKL("fallback", fallback, nfallback, CONF_FALLBACK_MAX),
	SKL("senders", senders, nsenders, 0),
};

static const char *conf_sections[] = { "relayq", "delivery" };

/* Where iniparser's messages go while a load is running. */
static struct rq_err *conf_ini_err;

static int conf_ini_error_cb(const char *fmt, ...) RQ_PRINTF(1, 2);

/* iniparser error hook: keeps the first message for the caller. */
static int
conf_ini_error_cb(const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	if (conf_ini_err == NULL || conf_ini_err->msg[0] != '\0')
		return 0;
	va_start(ap, fmt);
	(void)vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	tmp[strcspn(tmp, "\n")] = '\0';
	str_sanitize(conf_ini_err->msg, sizeof(conf_ini_err->msg), tmp,
	    strlen(tmp));
	return 0;
}

/* Returns the compiled-in default path. */
const char *
conf_default_path(void)
{
	return RELAYQ_SYSCONFDIR "/relayq.conf";
}

/* Picks the configuration path. */
const char *
conf_path(const char *explicit, int use_env)
{
	const char *env;

	if (explicit != NULL)
		return explicit;
	if (use_env && (env = getenv("RELAYQ_CONFIG")) != NULL && *env != '\0')
		return env;
	return conf_default_path();
}

/* Returns the host's name, qualified if the resolver knows better. */
static char *
conf_host_fqdn(void)
{
	char host[256];
	struct addrinfo hints, *res = NULL;
	char *fqdn;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		return xstrdup("localhost.localdomain");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') != NULL)
		return xstrdup(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL)
		fqdn = xstrdup(res->ai_canonname);
	else
		fqdn = xstrdup(host);
	if (res != NULL)
		freeaddrinfo(res);
	return fqdn;
}

/* Fills sh with the built-in defaults of a smarthost section. */
static void
conf_sh_defaults(struct conf_smarthost *sh, const char *name, size_t idx)
{
	memset(sh, 0, sizeof(*sh));
	sh->name = xstrdup(name);
	sh->host = xstrdup("");
	sh->port = 587;
	sh->tls = CONF_TLS_STARTTLS;
	sh->tls_verify = 1;
	sh->ca_file = xstrdup("");
	sh->ca_path = xstrdup("");
	sh->username = xstrdup("");
	sh->password_file = xstrdup("");
	sh->password_command = xstrdup("");
	sh->password_command_timeout = 10;
	sh->auth = xstrdup("auto");
	sh->helo_name = xstrdup("");
	sh->tls_fingerprint = xstrdup("");
	sh->tls_cert = xstrdup("");
	sh->tls_key = xstrdup("");
	sh->tls_min_version = xstrdup("1.2");
	sh->provider = xstrdup("");
	sh->tenant = xstrdup("");
	sh->oauth2_token_url = xstrdup("");
	sh->oauth2_client_id = xstrdup("");
	sh->oauth2_client_secret_file = xstrdup("");
	sh->oauth2_grant = xstrdup("refresh_token");
	sh->oauth2_refresh_token_file = xstrdup("");
	sh->oauth2_scope = xstrdup("");
	sh->oauth2_device_url = xstrdup("");
	sh->oauth2_auth_url = xstrdup("");
	sh->oauth2_ca_file = xstrdup("");
	sh->chain = xcalloc(1, sizeof(*sh->chain));
	sh->chain[0] = idx;
	sh->nchain = 1;
}

/* Built-in defaults. */
void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->path = xstrdup("");
	c->spool_dir = xstrdup(RELAYQ_SPOOLDIR);
	c->hostname = xstrdup("");
	c->default_domain = xstrdup("");
	c->aliases = xstrdup("");
	c->masquerade = xstrdup("");
	c->allow_from_override = 1;
	c->mailq_all_users = 1;
	c->max_message_size = 35LL * 1024 * 1024;
	c->max_recipients = 1000;
	c->queue_minfree = 10LL * 1024 * 1024;
	c->submit_socket = xstrdup("/run/relayq/submit");
	c->submission = xstrdup("auto");
	c->submit_timeout = 60;
	c->resolv_conf = xstrdup("");
	c->hosts_file = xstrdup("");
	c->delivery_max_connections = 4;
	c->delivery_messages_per_connection = 1000;
	c->delivery_retry_min = 60;
	c->delivery_retry_max = 3600;
	c->delivery_probe_max = 10;
	c->delivery_max_queue_lifetime = 5 * 86400;
	c->delivery_connect_timeout = 30;
	c->delivery_greeting_timeout = 300;
	c->delivery_command_timeout = 300;
	c->delivery_data_timeout = 120;
	c->delivery_dot_timeout = 600;
	c->delivery_data_block_timeout = 180;
	c->delivery_idle_timeout = 10;
	c->delivery_scan_interval = 300;
	c->delivery_delay_warning = 0;
	c->delivery_bounce_full_message = 0;
	c->delivery_bounce_copy_to = xstrdup("");
	c->delivery_alert_command = xstrdup("");
	c->delivery_alert_after = 3600;
	c->delivery_failed_retention = 30 * 86400;
	c->smarthosts = xcalloc(1, sizeof(*c->smarthosts));
	c->nsmarthosts = 1;
	conf_sh_defaults(&c->smarthosts[0], "default", 0);
}

/* Frees the CONF_STR fields of base named in a key table. */
static void
conf_free_strs(void *base, const struct conf_key *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].kind == CONF_STR) {
			char **sp =
			    (char **)(void *)((char *)base + keys[i].off);

			free(*sp);
			*sp = NULL;
		}
	}
}

/* Frees a list of n strings. */
static void
conf_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees what a smarthost owns. */
static void
conf_sh_free(struct conf_smarthost *sh)
{
	conf_free_strs(sh, conf_sh_keys, RQ_NELEM(conf_sh_keys));
	conf_list_free(sh->senders, sh->nsenders);
	conf_list_free(sh->fallback, sh->nfallback);
	free(sh->chain);
	free(sh->name);
	memset(sh, 0, sizeof(*sh));
}

/* Frees owned strings. */
void
conf_free(struct conf *c)
{
	conf_free_strs(c, conf_keys, RQ_NELEM(conf_keys));
	for (size_t i = 0; i < c->nsmarthosts; i++)
		conf_sh_free(&c->smarthosts[i]);
	free(c->smarthosts);
	c->smarthosts = NULL;
	c->nsmarthosts = 0;
	free(c->path);
	c->path = NULL;
	free(c->smarthost_error);
	c->smarthost_error = NULL;
}

/*
 * Parses "a, b, c" into a new list of lower-case items (*vp, *np), "" into
 * an empty one.  Returns 0, or -1 with *errstr for an empty item or more
 * than max items (max 0: any number).
 */
static int
conf_list_parse(const char *val, long long max, char ***vp, size_t *np,
    const char **errstr)
{
	char **v = NULL;
	size_t n = 0;
	const char *p = val;

	p += strspn(p, " \t");
	if (*p == '\0') {
		*vp = NULL;
		*np = 0;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(p, ","), end = len;

		while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if (end == 0) {
			*errstr = "empty item in the list";
			conf_list_free(v, n);
			return -1;
		}
		if (max > 0 && n == (size_t)max) {
			*errstr = "more than " CONF_FALLBACK_MAX_STR " names";
			conf_list_free(v, n);
			return -1;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n] = xmalloc(end + 1);
		for (size_t i = 0; i < end; i++)
			v[n][i] = (char)tolower((unsigned char)p[i]);
		v[n++][end] = '\0';
		if (p[len] == '\0')
			break;
		p += len + 1;
		p += strspn(p, " \t");
	}
	*vp = v;
	*np = n;
	return 0;
}

/* Parses one value into its field. */
static int
conf_set(void *base, const struct conf_key *k, const char *val,
    const char **errstr)
{
	void *field = (char *)base + k->off;
	long long v;

	switch (k->kind) {
	case CONF_STR:
		if (str_has_ctl(val, strlen(val))) {
			*errstr = "control character in value";
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(val);
		return 0;
	case CONF_BOOL:
		if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") ||
		    !strcasecmp(val, "on") || !strcmp(val, "1"))
			*(int *)field = 1;
		else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") ||
		    !strcasecmp(val, "off") || !strcmp(val, "0"))
			*(int *)field = 0;
		else {
			*errstr = "expected yes or no";
			return -1;
		}
		return 0;
	case CONF_INT:
		if (str_to_ll(val, k->min, k->max, &v, errstr) == -1)
			return -1;
		*(int *)field = (int)v;
		return 0;
	case CONF_LL:
		if (str_to_ll(val, k->min, k->max, &v, errstr) == -1)
			return -1;
		*(long long *)field = v;
		return 0;
	case CONF_DURATION:
	case CONF_SIZE:
		if ((k->kind == CONF_DURATION
			    ? str_to_duration(val, &v, errstr)
			    : str_to_size(val, &v, errstr)) == -1)
			return -1;
		if (v < k->min || v > k->max) {
			*errstr = "out of range";
			return -1;
		}
		*(long long *)field = v;
		return 0;
	case CONF_TLS:
		if (!strcasecmp(val, "none"))
			*(enum conf_tls *)field = CONF_TLS_NONE;
		else if (!strcasecmp(val, "starttls"))
			*(enum conf_tls *)field = CONF_TLS_STARTTLS;
		else if (!strcasecmp(val, "implicit"))
			*(enum conf_tls *)field = CONF_TLS_IMPLICIT;
		else {
			*errstr = "expected none, starttls or implicit";
			return -1;
		}
		return 0;
	case CONF_LIST: {
		char ***vp = field, **list;
		size_t *np = (size_t *)(void *)((char *)base + k->noff), n;

		if (str_has_ctl(val, strlen(val))) {
			*errstr = "control character in value";
			return -1;
		}
		if (conf_list_parse(val, k->max, &list, &n, errstr) == -1)
			return -1;
		conf_list_free(*vp, *np);
		*vp = list;
		*np = n;
		return 0;
	}
	case CONF_RATE:
		if (val[0] == '\0') {
			((struct conf_rate *)field)->n = 0;
			((struct conf_rate *)field)->per = 0;
			return 0;
		}
		return str_to_rate(val, &((struct conf_rate *)field)->n,
		    &((struct conf_rate *)field)->per, errstr);
	}
	*errstr = "internal error";
	return -1;
}

/* Looks up a name in a key table. */
static const struct conf_key *
conf_find_key(const struct conf_key *keys, size_t nkeys, const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Writes the dictionary section of smarthost idx into buf: "smarthost"
 * for [smarthost], "smarthost NAME" for the others.  Error messages name
 * a key as "SECTION:KEY", as iniparser does.
 */
static const char *
conf_sh_section(const struct conf *c, size_t idx, char *buf, size_t bufsz)
{
	if (idx == 0 ||
	    rq_snprintf(buf, bufsz, "smarthost %s", c->smarthosts[idx].name) ==
		-1)
		return "smarthost";
	return buf;
}

/* Returns the value of sec:key in d, or NULL. */
static const char *
conf_get(dictionary *d, const char *sec, const char *key)
{
	char name[128];

	if (rq_snprintf(name, sizeof(name), "%s:%s", sec, key) == -1)
		return NULL;
	return iniparser_getstring(d, name, NULL);
}

/* What conf_preset_set_cb needs. */
struct conf_preset_arg {
	struct conf_smarthost *sh;
	int oauth2; /* the file keeps OAuth2: no password, no other auth */
};

/*
 * Sets one key of a provider preset.  Every key a preset names is a
 * "smarthost:KEY" of conf_sh_keys (test_conf checks each preset), so an
 * unknown one is an error.  A file that chose a password (password_file,
 * password_command, or an auth other than xoauth2/oauthbearer: an app
 * password) gets the preset's host, port and tls only, never its OAuth2
 * endpoints or its auth.
 */
static int
conf_preset_set_cb(void *arg, const char *key, const char *value)
{
	struct conf_preset_arg *pa = arg;
	const struct conf_key *k;
	const char *errstr;

	if (strncmp(key, "smarthost:", 10) != 0)
		return -1;
	key += 10;
	if ((k = conf_find_key(conf_sh_keys, RQ_NELEM(conf_sh_keys), key)) ==
	    NULL)
		return -1;
	if (!pa->oauth2 &&
	    (strncmp(key, "oauth2_", 7) == 0 || strcmp(key, "auth") == 0))
		return 0;
	return conf_set(pa->sh, k, value, &errstr);
}

/* True when section sec keeps the preset's OAuth2 (conf_preset_arg). */
static int
conf_preset_oauth2(dictionary *d, const char *sec)
{
	const char *auth = conf_get(d, sec, "auth");

	return (auth == NULL || strcasecmp(auth, "xoauth2") == 0 ||
		   strcasecmp(auth, "oauthbearer") == 0) &&
	    conf_get(d, sec, "password_file") == NULL &&
	    conf_get(d, sec, "password_command") == NULL;
}

/*
 * Applies the provider preset of smarthost idx (section sec) before the
 * section's own keys, which therefore win; checks its tenant.  Presets
 * apply per section: a provider fills only its own section.
 */
static int
conf_apply_preset(struct conf *c, size_t idx, dictionary *d, const char *sec,
    struct rq_err *err)
{
	const char *prov = conf_get(d, sec, "provider");
	const char *tenant = conf_get(d, sec, "tenant");
	struct conf_preset_arg pa;

	if (prov == NULL)
		prov = "";
	if (tenant != NULL && !conf_preset_has_tenant(prov)) {
		rq_err_set(err,
		    "%s: %s:tenant is only used with provider = "
		    "microsoft365",
		    c->path, sec);
		return -1;
	}
	if (tenant != NULL &&
	    tenant[strspn(tenant,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789.-")] != '\0') {
		rq_err_set(err,
		    "%s: %s:tenant: expected a tenant id or domain name",
		    c->path, sec);
		return -1;
	}
	if (prov[0] == '\0')
		return 0;
	pa.sh = &c->smarthosts[idx];
	pa.oauth2 = conf_preset_oauth2(d, sec);
	if (conf_preset_foreach(prov, tenant, conf_preset_set_cb, &pa) == -1) {
		rq_err_set(err,
		    "%s: %s:provider: unknown provider %.64s (known: %s)",
		    c->path, sec, prov, conf_preset_names());
		return -1;
	}
	return 0;
}

/*
 * Applies the keys of section sec (its "sec:key" names in keys[]) to base
 * through the key table.  Returns 0, or -1 with err set.
 */
static int
conf_apply_keys(struct conf *c, void *base, const struct conf_key *table,
    size_t ntable, dictionary *d, const char *sec, struct rq_err *err)
{
	size_t seclen = strlen(sec);
	const char **keys;
	int nkeys, rv = 0;

	nkeys = iniparser_getsecnkeys(d, sec);
	if (nkeys <= 0)
		return 0;
	keys = xcalloc((size_t)nkeys, sizeof(*keys));
	if (iniparser_getseckeys(d, sec, keys) == NULL) {
		free(keys);
		return 0;
	}
	for (int i = 0; i < nkeys && rv == 0; i++) {
		const struct conf_key *k;
		const char *val, *errstr = NULL;

		/* The smarthost table has bare names, the other one
		 * "section:key". */
		k = conf_find_key(table, ntable,
		    table == conf_sh_keys ? keys[i] + seclen + 1 : keys[i]);
		if (k == NULL) {
			rq_err_set(err, "%s: unknown key %.64s", c->path,
			    keys[i]);
			rv = -1;
			break;
		}
		val = iniparser_getstring(d, keys[i], NULL);
		if (val == NULL)
			val = "";
		if (conf_set(base, k, val, &errstr) == -1) {
			rq_err_set(err, "%s: %s: %s", c->path, keys[i], errstr);
			rv = -1;
		}
	}
	free(keys);
	return rv;
}

/* Applies the section sec of d to smarthost idx: preset, then keys. */
static int
conf_apply_sh(struct conf *c, size_t idx, dictionary *d, const char *sec,
    struct rq_err *err)
{
	struct conf_smarthost *sh = &c->smarthosts[idx];

	if (conf_apply_preset(c, idx, d, sec, err) == -1 ||
	    conf_apply_keys(c, sh, conf_sh_keys, RQ_NELEM(conf_sh_keys), d, sec,
		err) == -1)
		return -1;
	/* Port 465 is implicit TLS unless tls was chosen explicitly. */
	if (sh->port == 465 && conf_get(d, sec, "tls") == NULL)
		sh->tls = CONF_TLS_IMPLICIT;
	/* A preset's tls follows an explicit port (587: starttls). */
	else if (sh->provider[0] != '\0' && conf_get(d, sec, "port") != NULL &&
	    conf_get(d, sec, "tls") == NULL)
		sh->tls = CONF_TLS_STARTTLS;
	return 0;
}

/*
 * Tells what section sec is: 0 for [smarthost] or [relayq]/[delivery]
 * (*named 0), 1 for a [smarthost NAME] (*named 1, *name pointing into
 * sec), or -1 with err set for a bad NAME or an unknown section.
 */
static int
conf_section_kind(const struct conf *c, const char *sec, const char **name,
    int *named, struct rq_err *err)
{
	size_t n;

	*named = 0;
	if (strncmp(sec, "smarthost", 9) == 0 &&
	    (sec[9] == ' ' || sec[9] == '\t')) {
		*name = sec + 9 + strspn(sec + 9, " \t");
		n = strlen(*name);
		if (n == 0 || n > CONF_SMARTHOST_NAME_MAX ||
		    (*name)[strspn(*name,
			"abcdefghijklmnopqrstuvwxyz0123456789._-")] != '\0') {
			rq_err_set(err,
			    "%s: [%.64s]: a smarthost name is 1 to %d of a-z, "
			    "0-9, '.', '_' and '-'",
			    c->path, sec, CONF_SMARTHOST_NAME_MAX);
			return -1;
		}
		if (strcmp(*name, "default") == 0) {
			rq_err_set(err,
			    "%s: [%.64s]: \"default\" is the name of "
			    "[smarthost]; choose another",
			    c->path, sec);
			return -1;
		}
		*named = 1;
		return 0;
	}
	if (strcmp(sec, "smarthost") == 0)
		return 0;
	for (size_t j = 0; j < RQ_NELEM(conf_sections); j++)
		if (strcmp(sec, conf_sections[j]) == 0)
			return 0;
	rq_err_set(err, "%s: unknown section [%.64s]", c->path, sec);
	return -1;
}

/* True when the dictionary section sec is [smarthost] or a named one. */
static int
conf_sec_is_sh(const char *sec)
{
	return strncmp(sec, "smarthost", 9) == 0 &&
	    (sec[9] == '\0' || isspace((unsigned char)sec[9]));
}

/*
 * Walks every section of the dictionary and applies it.  A first pass
 * checks the section names and makes one smarthost per [smarthost NAME],
 * in file order, so that a second pass can apply any section.  An error
 * in a smarthost section goes to sherr (the first one only; the other
 * sections are still applied), any other to err (the walk stops).
 */
static int
conf_apply(struct conf *c, dictionary *d, struct rq_err *err,
    struct rq_err *sherr)
{
	int nsec = iniparser_getnsec(d);
	const char *name;
	int named;
	struct rq_err e;

	for (int s = 0; s < nsec; s++) {
		const char *sec = iniparser_getsecname(d, s);
		size_t i;

		if (sec == NULL)
			continue;
		if (conf_section_kind(c, sec, &name, &named, &e) == -1) {
			if (!conf_sec_is_sh(sec)) {
				*err = e;
				return -1;
			}
			if (sherr->msg[0] == '\0')
				*sherr = e;
			continue;
		}
		/* conf_scan() refused a repeated section, and iniparser
		 * merges one: no duplicates here. */
		if (!named || conf_smarthost_find(c, name) != -1)
			continue;
		i = c->nsmarthosts++;
		c->smarthosts = xreallocarray(c->smarthosts, c->nsmarthosts,
		    sizeof(*c->smarthosts));
		conf_sh_defaults(&c->smarthosts[i], name, i);
	}
	for (int s = 0; s < nsec; s++) {
		const char *sec = iniparser_getsecname(d, s);
		int rv;

		if (sec == NULL ||
		    conf_section_kind(c, sec, &name, &named, &e) == -1)
			continue;
		if (named || strcmp(sec, "smarthost") == 0) {
			if (sherr->msg[0] == '\0')
				(void)conf_apply_sh(c,
				    named ? (size_t)conf_smarthost_find(c, name)
					  : 0,
				    d, sec, sherr);
			continue;
		}
		rv = conf_apply_keys(c, c, conf_keys, RQ_NELEM(conf_keys), d,
		    sec, err);
		if (rv == -1)
			return -1;
	}
	/* Keys before any section are stored as ":key". */
	if (iniparser_find_entry(d, ":") != 0) {
		rq_err_set(err, "%s: key outside of any section", c->path);
		return -1;
	}
	return 0;
}

/*
 * Checks a command line that relayqd runs without a shell: empty (off),
 * or at most STR_ARGV_MAX words, the first an absolute path or a name
 * looked up in PATH.  Returns 0, or -1 with err set.
 */
static int
conf_check_command(const struct conf *c, const char *key, const char *cmd,
    struct rq_err *err)
{
	char *argv[STR_ARGV_MAX + 1], *copy;
	int n, rv = -1;

	if (cmd[0] == '\0')
		return 0;
	copy = xstrdup(cmd);
	n = str_split_words(copy, argv, STR_ARGV_MAX);
	if (n == 0)
		rq_err_set(err, "%s: %s is blank", c->path, key);
	else if (n == -1)
		rq_err_set(err, "%s: %s has more than %d words", c->path, key,
		    STR_ARGV_MAX);
	else if (strchr(argv[0], '/') != NULL && argv[0][0] != '/')
		rq_err_set(err,
		    "%s: %s: %.64s is a relative path (give an absolute one, "
		    "or a bare name to look up in PATH)",
		    c->path, key, argv[0]);
	else
		rv = 0;
	free(copy);
	return rv;
}

/*
 * Checks a host name (or an IPv4 address, which passes as one): labels
 * of 1 to 63 letters, digits, '-' (not first or last) and '_', joined by
 * single dots, a final dot allowed, at most 253 characters.  Returns 0,
 * or -1 with *errstr ("exa mple.org", "a..b", "-bad.example").
 */
static int
conf_host_check_name(const char *host, const char **errstr)
{
	size_t n = strlen(host), len;

	if (n > 253) {
		*errstr = "a host name has at most 253 characters";
		return -1;
	}
	if (host[strspn(host,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789-_.")] != '\0') {
		*errstr = "a host name holds only letters, digits, '-', '_' "
			  "and '.' (no blank)";
		return -1;
	}
	for (const char *p = host; *p != '\0'; p += len + (p[len] == '.')) {
		len = strcspn(p, ".");
		if (len == 0) {
			*errstr = "an empty label in the host name (a leading "
				  "dot, or two dots in a row)";
			return -1;
		}
		if (len > 63) {
			*errstr = "a label of the host name is longer than 63 "
				  "characters";
			return -1;
		}
		if (p[0] == '-' || p[len - 1] == '-') {
			*errstr = "a label of the host name starts or ends "
				  "with '-'";
			return -1;
		}
	}
	return 0;
}

/*
 * Normalises a smarthost host in place: "[2001:db8::1]" and "[192.0.2.7]"
 * lose their brackets, as everything after (evdns, TLS name checks, logs
 * "host[addr]:port") wants the bare literal.  Returns 0, or -1 with
 * *errstr for brackets around a name and for a colon outside an IPv6
 * literal ("host:25": the port has its own key).
 */
int
conf_host_normalize(char *host, const char **errstr)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char inner[INET6_ADDRSTRLEN];
	size_t n = strlen(host);

	if (n > 0 && host[0] == '[') {
		if (strstr(host, "]:") != NULL) {
			*errstr = "write the port in port = (brackets are not "
				  "needed around an IPv6 address)";
			return -1;
		}
		if (n < 3 || host[n - 1] != ']') {
			*errstr = "unbalanced [ ]";
			return -1;
		}
		if (n - 2 >= sizeof(inner)) {
			*errstr = "[ ] may only enclose an IP address";
			return -1;
		}
		memcpy(inner, host + 1, n - 2);
		inner[n - 2] = '\0';
		if (inet_pton(AF_INET6, inner, buf) != 1 &&
		    inet_pton(AF_INET, inner, buf) != 1) {
			*errstr = "[ ] may only enclose an IP address";
			return -1;
		}
		memcpy(host, inner, n - 1); /* with the NUL */
		return 0;
	}
	if (strchr(host, ':') != NULL) {
		if (inet_pton(AF_INET6, host, buf) == 1)
			return 0;
		*errstr = "neither a name nor an IP address (the port goes in "
			  "port =)";
		return -1;
	}
	return n == 0 ? 0 : conf_host_check_name(host, errstr);
}

/* True when url is https:// followed by a host. */
static int
conf_is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0 && url[8] != '\0' &&
	    url[8] != '/';
}

/*
 * True when the authority of an https:// url holds userinfo
 * ("user:password@host"): it would be logged and shown with the URL.
 */
static int
conf_url_has_userinfo(const char *url)
{
	size_t n = strcspn(url + 8, "/?#");

	return memchr(url + 8, '@', n) != NULL;
}

/*
 * Checks the OAuth2 keys of smarthost sh (section sec): every endpoint
 * https (a token or a secret never goes in clear) without a user name or
 * password in it, a known grant, the
 * files absolute paths, and the keys the grant needs.  Returns 0, or -1
 * with err set.
 */
static int
conf_check_oauth2(const struct conf *c, const struct conf_smarthost *sh,
    const char *sec, struct rq_err *err)
{
	const char *urls[] = { "oauth2_token_url", sh->oauth2_token_url,
		"oauth2_device_url", sh->oauth2_device_url, "oauth2_auth_url",
		sh->oauth2_auth_url };
	const char *files[] = { "oauth2_client_secret_file",
		sh->oauth2_client_secret_file, "oauth2_refresh_token_file",
		sh->oauth2_refresh_token_file, "oauth2_ca_file",
		sh->oauth2_ca_file };
	int refresh = strcmp(sh->oauth2_grant, "refresh_token") == 0;

	for (size_t i = 0; i < RQ_NELEM(urls); i += 2)
		if (urls[i + 1][0] != '\0' && !conf_is_https(urls[i + 1])) {
			rq_err_set(err,
			    "%s: %s:%s must be an https:// URL (tokens "
			    "and secrets never go in clear)",
			    c->path, sec, urls[i]);
			return -1;
		} else if (urls[i + 1][0] != '\0' &&
		    conf_url_has_userinfo(urls[i + 1])) {
			/* Not the URL itself: it holds a password. */
			rq_err_set(err,
			    "%s: %s:%s must not hold a user name or password "
			    "(user:password@ before the host): it would be "
			    "logged; the client secret goes in "
			    "oauth2_client_secret_file",
			    c->path, sec, urls[i]);
			return -1;
		}
	for (size_t i = 0; i < RQ_NELEM(files); i += 2)
		if (files[i + 1][0] != '\0' && files[i + 1][0] != '/') {
			rq_err_set(err, "%s: %s:%s must be an absolute path",
			    c->path, sec, files[i]);
			return -1;
		}
	if (!refresh && strcmp(sh->oauth2_grant, "client_credentials") != 0) {
		rq_err_set(err,
		    "%s: %s:oauth2_grant must be refresh_token or "
		    "client_credentials",
		    c->path, sec);
		return -1;
	}
	if (sh->oauth2_token_url[0] == '\0')
		return 0;
	if (sh->oauth2_client_id[0] == '\0') {
		rq_err_set(err,
		    "%s: %s:oauth2_token_url needs oauth2_client_id", c->path,
		    sec);
		return -1;
	}
	if (refresh && sh->oauth2_refresh_token_file[0] == '\0') {
		rq_err_set(err,
		    "%s: %s:oauth2_grant = refresh_token needs "
		    "oauth2_refresh_token_file",
		    c->path, sec);
		return -1;
	}
	if (!refresh && sh->oauth2_client_secret_file[0] == '\0') {
		rq_err_set(err,
		    "%s: %s:oauth2_grant = client_credentials needs "
		    "oauth2_client_secret_file",
		    c->path, sec);
		return -1;
	}
	return 0;
}

/* Checks the keys of smarthost idx that depend on each other. */
static int
conf_finish_sh(struct conf *c, size_t idx, struct rq_err *err)
{
	struct conf_smarthost *sh = &c->smarthosts[idx];
	char buf[64];
	const char *sec = conf_sh_section(c, idx, buf, sizeof(buf));
	const char *errstr;

	if (idx > 0 && sh->host[0] == '\0') {
		rq_err_set(err,
		    "%s: %s:host is not set (a named smarthost section needs "
		    "its own host, or a provider)",
		    c->path, sec);
		return -1;
	}
	if (conf_host_normalize(sh->host, &errstr) == -1) {
		rq_err_set(err, "%s: %s:host: %.64s: %s", c->path, sec,
		    sh->host, errstr);
		return -1;
	}
	if (strcmp(sh->tls_min_version, "1.2") != 0 &&
	    strcmp(sh->tls_min_version, "1.3") != 0) {
		rq_err_set(err, "%s: %s:tls_min_version must be 1.2 or 1.3",
		    c->path, sec);
		return -1;
	}
	return conf_check_oauth2(c, sh, sec, err);
}

/* What the fallback walk of conf_finish_fallback() shares. */
struct conf_walk {
	size_t **to;  /* to[i]: the indexes sh[i]'s fallback names */
	int *state;   /* 0 not seen, 1 on the current path, 2 done */
	size_t *path; /* the current path, for a cycle's message */
	size_t npath;
};

/*
 * Looks for a fallback cycle reachable from i (depth-first).  Returns 0,
 * or -1 with err naming the key that closes the cycle and the cycle.
 */
static int
conf_walk_cycle(const struct conf *c, struct conf_walk *w, size_t i,
    struct rq_err *err)
{
	const struct conf_smarthost *sh = &c->smarthosts[i];

	w->state[i] = 1;
	w->path[w->npath++] = i;
	for (size_t f = 0; f < sh->nfallback; f++) {
		size_t j = w->to[i][f], k = 0;
		char cyc[256] = "", buf[64];

		if (w->state[j] == 2)
			continue;
		if (w->state[j] == 0) {
			if (conf_walk_cycle(c, w, j, err) == -1)
				return -1;
			continue;
		}
		while (w->path[k] != j)
			k++;
		for (; k < w->npath; k++) {
			(void)strlcat(cyc, c->smarthosts[w->path[k]].name,
			    sizeof(cyc));
			(void)strlcat(cyc, " -> ", sizeof(cyc));
		}
		(void)strlcat(cyc, c->smarthosts[j].name, sizeof(cyc));
		rq_err_set(err, "%s: %s:fallback: a fallback cycle: %s",
		    c->path, conf_sh_section(c, i, buf, sizeof(buf)), cyc);
		return -1;
	}
	w->npath--;
	w->state[i] = 2;
	return 0;
}

/* Appends i and, depth-first, its fallbacks to sh's chain (once each). */
static void
conf_walk_chain(const struct conf *c, const struct conf_walk *w,
    struct conf_smarthost *sh, size_t i)
{
	for (size_t k = 0; k < sh->nchain; k++)
		if (sh->chain[k] == i)
			return;
	sh->chain[sh->nchain++] = i;
	for (size_t f = 0; f < c->smarthosts[i].nfallback; f++)
		conf_walk_chain(c, w, sh, w->to[i][f]);
}

/*
 * Resolves every fallback name, refuses unknown names and cycles, and
 * computes each smarthost's chain.  Returns 0, or -1 with err set.
 */
static int
conf_finish_fallback(struct conf *c, struct rq_err *err)
{
	struct conf_walk w;
	size_t n = c->nsmarthosts, i;
	int rv = 0;

	w.to = xcalloc(n, sizeof(*w.to));
	w.state = xcalloc(n, sizeof(*w.state));
	w.path = xcalloc(n, sizeof(*w.path));
	w.npath = 0;
	for (i = 0; i < n && rv == 0; i++) {
		struct conf_smarthost *sh = &c->smarthosts[i];
		char buf[64];

		w.to[i] = xcalloc(sh->nfallback + 1, sizeof(**w.to));
		for (size_t f = 0; f < sh->nfallback && rv == 0; f++) {
			ssize_t j = conf_smarthost_find(c, sh->fallback[f]);

			if (j == -1) {
				rq_err_set(err,
				    "%s: %s:fallback: unknown smarthost %.64s "
				    "(no [smarthost %.64s] section)",
				    c->path,
				    conf_sh_section(c, i, buf, sizeof(buf)),
				    sh->fallback[f], sh->fallback[f]);
				rv = -1;
			} else
				w.to[i][f] = (size_t)j;
		}
	}
	for (i = 0; i < n && rv == 0; i++)
		if (w.state[i] == 0)
			rv = conf_walk_cycle(c, &w, i, err);
	for (i = 0; i < n && rv == 0; i++) {
		struct conf_smarthost *sh = &c->smarthosts[i];

		free(sh->chain);
		sh->chain = xcalloc(n, sizeof(*sh->chain));
		sh->nchain = 0;
		conf_walk_chain(c, &w, sh, i);
	}
	for (i = 0; i < n; i++)
		free(w.to[i]);
	free(w.to);
	free(w.state);
	free(w.path);
	return rv;
}

/*
 * Checks one sender pattern: "user@domain" or "@domain".  Returns 0, or
 * -1 with *errstr.
 */
static int
conf_check_pattern(const char *p, const char **errstr)
{
	char buf[ADDR_PATH_MAX + 2];

	if (strchr(p, '*') != NULL || strchr(p, '?') != NULL) {
		*errstr = "no wildcards: write @domain for a whole domain";
		return -1;
	}
	if (p[0] != '@') {
		if (strchr(p, '@') == NULL) {
			*errstr = "expected user@domain or @domain";
			return -1;
		}
		return addr_check(p, errstr);
	}
	if (p[1] == '\0' || strchr(p + 1, '@') != NULL) {
		*errstr = "expected user@domain or @domain";
		return -1;
	}
	/* "@domain" is checked as the domain of an address. */
	if (rq_snprintf(buf, sizeof(buf), "u%s", p) == -1) {
		*errstr = "domain too long";
		return -1;
	}
	return addr_check(buf, errstr);
}

/*
 * Checks the senders patterns: only in named sections, well formed, and
 * each claimed once.  Returns 0, or -1 with err set.
 */
static int
conf_finish_senders(const struct conf *c, struct rq_err *err)
{
	char buf[64], buf2[64];
	const char *errstr;

	if (c->smarthosts[0].nsenders > 0) {
		rq_err_set(err,
		    "%s: smarthost:senders: only a named [smarthost NAME] "
		    "takes senders ([smarthost] has the mail no pattern "
		    "claims)",
		    c->path);
		return -1;
	}
	for (size_t i = 1; i < c->nsmarthosts; i++) {
		const struct conf_smarthost *sh = &c->smarthosts[i];

		for (size_t p = 0; p < sh->nsenders; p++) {
			if (conf_check_pattern(sh->senders[p], &errstr) == -1) {
				rq_err_set(err, "%s: %s:senders: %.64s: %s",
				    c->path,
				    conf_sh_section(c, i, buf, sizeof(buf)),
				    sh->senders[p], errstr);
				return -1;
			}
			/* Earlier sections, then earlier in this one. */
			for (size_t j = 1; j <= i; j++) {
				const struct conf_smarthost *o =
				    &c->smarthosts[j];
				size_t q, end = j == i ? p : o->nsenders;

				for (q = 0; q < end; q++)
					if (strcmp(o->senders[q],
						sh->senders[p]) == 0)
						break;
				if (q == end)
					continue;
				if (j == i)
					rq_err_set(err,
					    "%s: %s:senders: %.64s is listed "
					    "twice",
					    c->path,
					    conf_sh_section(c, i, buf,
						sizeof(buf)),
					    sh->senders[p]);
				else
					rq_err_set(err,
					    "%s: %s:senders: %.64s is also "
					    "claimed by [%s]; a sender routes "
					    "to one smarthost",
					    c->path,
					    conf_sh_section(c, i, buf,
						sizeof(buf)),
					    sh->senders[p],
					    conf_sh_section(c, j, buf2,
						sizeof(buf2)));
				return -1;
			}
		}
	}
	return 0;
}

/* Checks that a file key is empty or an absolute path. */
static int
conf_check_abs(const struct conf *c, const char *key, const char *val,
    struct rq_err *err)
{
	if (val[0] == '\0' || val[0] == '/')
		return 0;
	rq_err_set(err, "%s: %s must be an absolute path", c->path, key);
	return -1;
}

/* Fills derived defaults and checks cross-key rules. */
static int
conf_finish(struct conf *c, struct rq_err *err)
{
	const char *errstr;

	if (c->hostname[0] == '\0') {
		free(c->hostname);
		c->hostname = conf_host_fqdn();
	}
	if (c->default_domain[0] == '\0') {
		free(c->default_domain);
		c->default_domain = xstrdup(c->hostname);
	}
	if (c->spool_dir[0] != '/') {
		rq_err_set(err, "%s: relayq:spool_dir must be an absolute path",
		    c->path);
		return -1;
	}
	if (c->submit_socket[0] != '/' || strlen(c->submit_socket) > 100) {
		rq_err_set(err,
		    "%s: relayq:submit_socket must be an absolute path of at "
		    "most 100 bytes",
		    c->path);
		return -1;
	}
	if (conf_check_abs(c, "relayq:resolv_conf", c->resolv_conf, err) ==
		-1 ||
	    conf_check_abs(c, "relayq:hosts_file", c->hosts_file, err) == -1)
		return -1;
	if (strcmp(c->submission, "auto") != 0 &&
	    strcmp(c->submission, "spool") != 0 &&
	    strcmp(c->submission, "socket") != 0) {
		rq_err_set(err,
		    "%s: relayq:submission must be auto, spool or socket",
		    c->path);
		return -1;
	}
	if (c->delivery_retry_max < c->delivery_retry_min) {
		rq_err_set(err, "%s: delivery:retry_max is less than retry_min",
		    c->path);
		return -1;
	}
	if (c->delivery_bounce_copy_to[0] != '\0' &&
	    addr_check(c->delivery_bounce_copy_to, &errstr) == -1) {
		rq_err_set(err, "%s: delivery:bounce_copy_to: %s", c->path,
		    errstr);
		return -1;
	}
	return conf_check_command(c, "delivery:alert_command",
	    c->delivery_alert_command, err);
}

/* Checks the smarthost sections together: keys, fallbacks, senders. */
static int
conf_finish_smarthosts(struct conf *c, struct rq_err *err)
{
	for (size_t i = 0; i < c->nsmarthosts; i++)
		if (conf_finish_sh(c, i, err) == -1)
			return -1;
	if (conf_finish_fallback(c, err) == -1 ||
	    conf_finish_senders(c, err) == -1)
		return -1;
	return 0;
}

/*
 * With CONF_LOAD_SMARTHOST_LAX, keeps the smarthost error msg in c and
 * replaces the smarthosts by the built-in [smarthost] alone, so that no
 * half-checked smarthost section is ever used.
 */
static void
conf_drop_smarthosts(struct conf *c, const char *msg)
{
	for (size_t i = 0; i < c->nsmarthosts; i++)
		conf_sh_free(&c->smarthosts[i]);
	c->nsmarthosts = 1;
	conf_sh_defaults(&c->smarthosts[0], "default", 0);
	free(c->smarthost_error);
	c->smarthost_error = xstrdup(msg);
}

/* Loads and validates a configuration file. */
int
conf_load(struct conf *c, const char *path, struct rq_err *err)
{
	return conf_load_flags(c, path, 0, err);
}

/*
 * Loads and validates a configuration file: the pre-scan (repeated
 * sections and keys, long lines), iniparser, then the keys.  Errors in
 * the smarthost sections are kept apart in sherr so that a front end
 * (CONF_LOAD_SMARTHOST_LAX) can go on without them.
 */
int
conf_load_flags(struct conf *c, const char *path, int flags, struct rq_err *err)
{
	struct rq_err sherr;
	dictionary *d;
	int rc;

	err->msg[0] = '\0';
	sherr.msg[0] = '\0';
	conf_defaults(c);
	free(c->path);
	c->path = xstrdup(path);
	if (access(path, R_OK) == -1) {
		rq_err_set(err, "cannot read configuration %s: %s", path,
		    strerror(errno));
		conf_free(c);
		return -1;
	}
	if (conf_scan(path, err, &sherr) == -1) {
		conf_free(c);
		return -1;
	}
	conf_ini_err = err;
	iniparser_set_error_callback(conf_ini_error_cb);
	d = iniparser_load(path);
	iniparser_set_error_callback(NULL);
	conf_ini_err = NULL;
	if (d == NULL) {
		if (err->msg[0] == '\0')
			rq_err_set(err, "cannot parse configuration %s", path);
		conf_free(c);
		return -1;
	}
	rc = conf_apply(c, d, err, &sherr);
	iniparser_freedict(d);
	if (rc == 0)
		rc = conf_finish(c, err);
	if (rc == 0 && sherr.msg[0] == '\0')
		(void)conf_finish_smarthosts(c, &sherr);
	if (rc == 0 && sherr.msg[0] != '\0') {
		if (flags & CONF_LOAD_SMARTHOST_LAX)
			conf_drop_smarthosts(c, sherr.msg);
		else {
			*err = sherr;
			rc = -1;
		}
	}
	if (rc == -1)
		conf_free(c);
	return rc;
}

/* Finds a smarthost by name ("default" is [smarthost]). */
ssize_t
conf_smarthost_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nsmarthosts; i++)
		if (strcasecmp(c->smarthosts[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * Routes a sender.  An exact "user@domain" pattern beats an "@domain"
 * one; patterns are unique across sections (conf_load refuses a
 * pattern claimed twice), so the first match of each kind is the only
 * one.  The null sender (bounces) and a sender nothing claims go to 0.
 */
size_t
conf_route(const struct conf *c, const char *sender)
{
	const char *at;
	size_t domain_match = 0;

	if (sender == NULL || sender[0] == '\0')
		return 0;
	at = strrchr(sender, '@');
	for (size_t i = 0; i < c->nsmarthosts; i++) {
		const struct conf_smarthost *sh = &c->smarthosts[i];

		for (size_t j = 0; j < sh->nsenders; j++) {
			const char *p = sh->senders[j];

			if (p[0] != '@') {
				if (strcasecmp(p, sender) == 0)
					return i;
			} else if (domain_match == 0 && at != NULL &&
			    strcasecmp(p + 1, at + 1) == 0)
				domain_match = i;
		}
	}
	return domain_match;
}

/* Formats a smarthost's address for people. */
int
conf_smarthost_addr(const struct conf_smarthost *sh, char *buf, size_t bufsz)
{
	int v6 = strchr(sh->host, ':') != NULL;

	return rq_snprintf(buf, bufsz, "%s%s%s:%d", v6 ? "[" : "",
	    sh->host[0] != '\0' ? sh->host : "(no host)", v6 ? "]" : "",
	    sh->port);
}

/* Names a sender's smarthost for a listing, or NULL with only one. */
const char *
conf_route_label(const void *conf, const char *sender)
{
	const struct conf *c = conf;

	if (c->nsmarthosts < 2)
		return NULL;
	return c->smarthosts[conf_route(c, sender)].name;
}

/* A borrowed view of c with smarthost idx as its only smarthost. */
void
conf_view_smarthost(struct conf *view, const struct conf *c, size_t idx)
{
	*view = *c;
	view->smarthosts = &c->smarthosts[idx];
	view->nsmarthosts = 1;
}

/* A view of the smarthost named name, or an error naming the known ones. */
int
conf_view_smarthost_named(struct conf *view, const struct conf *c,
    const char *name, struct rq_err *err)
{
	char names[160] = "";
	ssize_t idx;

	if ((idx = conf_smarthost_find(c, name)) != -1) {
		conf_view_smarthost(view, c, (size_t)idx);
		return 0;
	}
	for (size_t i = 0; i < c->nsmarthosts; i++)
		if (strlcat(names, i > 0 ? ", " : "", sizeof(names)) >=
			sizeof(names) ||
		    strlcat(names, c->smarthosts[i].name, sizeof(names)) >=
			sizeof(names))
			break;
	(void)!rq_snprintf(err->msg, sizeof(err->msg),
	    "--smarthost %.64s: %s has no [smarthost %.64s] (its smarthosts: "
	    "%s)",
	    name, c->path, name, names);
	return -1;
}

/*
 * Names sh's section in a message about its keys, as SECTION:KEY
 * (relayq.conf(5)): "smarthost KEY ..." and "smarthost:KEY ..." become
 * "smarthost:KEY ..." for [smarthost] and "smarthost NAME:KEY ..." for a
 * named one; a message that names no key gets "smarthost NAME: " in
 * front for a named section.
 */
void
conf_smarthost_msg(const struct conf_smarthost *sh, const char *msg, char *buf,
    size_t bufsz)
{
	int def = strcmp(sh->name, "default") == 0;

	if (strncmp(msg, "smarthost ", 10) != 0 &&
	    strncmp(msg, "smarthost:", 10) != 0) {
		if (def)
			(void)strlcpy(buf, msg, bufsz);
		else
			(void)!rq_snprintf(buf, bufsz, "smarthost %s: %s",
			    sh->name, msg);
		return;
	}
	/* msg + 10: "KEY ...", "KEY: ..." or " text" */
	(void)!rq_snprintf(buf, bufsz, "smarthost%s%s:%s", def ? "" : " ",
	    def ? "" : sh->name, msg + 10);
}
