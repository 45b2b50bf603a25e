/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The typed configuration.  conf_load() reads the INI file with
 * iniparser, validates and copies every value into struct conf, and frees
 * the dictionary before it returns, so no iniparser pointer survives.
 * Unknown sections and keys are errors (they are usually typos).
 */
#ifndef RELAYQ_COMMON_CONF_H
#define RELAYQ_COMMON_CONF_H

#include <stddef.h>
#include <sys/types.h>

#include "common/status.h"

enum conf_tls { CONF_TLS_NONE, CONF_TLS_STARTTLS, CONF_TLS_IMPLICIT };

#define CONF_SMARTHOST_NAME_MAX 32 /* [smarthost NAME]: 1-32 of a-z0-9._- */
#define CONF_FALLBACK_MAX 8	   /* names in one fallback list */

/* A rate "N/DURATION": n per per seconds; n == 0 means no limit. */
struct conf_rate {
	long long n;
	long long per;
};

/*
 * One smarthost: [smarthost] (index 0, named "default") or
 * [smarthost NAME] (1.., in file order).  The fields are the section's
 * keys.  A named section inherits nothing from [smarthost]: built-in
 * defaults, then its provider preset, then its own keys.
 *
 * chain is the order in which relayqd tries smarthosts for mail routed
 * here: this one, then each fallback in order, each expanded depth-first
 * by its own fallbacks, duplicates skipped.  conf_load() refuses unknown
 * fallback names and cycles, so every chain is finite and names existing
 * smarthosts.  senders holds the patterns that route mail here:
 * "user@domain" (exact) or "@domain" (that domain, not subdomains), only
 * in named sections, each claimed by one section at most.
 */
struct conf_smarthost {
	char *name; /* owned: "default", or NAME (lower case) */
	char *host; /* owned, may be "" (then relayqd refuses) */
	int port;
	enum conf_tls tls;
	int tls_verify;
	char *ca_file;		/* owned, may be "" */
	char *ca_path;		/* owned, may be "" */
	char *username;		/* owned, may be "" */
	char *password_file;	/* owned, may be "" */
	char *password_command; /* owned, may be "" */
	char *auth;		/* owned: "auto", "plain", ... */
	char *helo_name;	/* owned, may be "" (use hostname) */
	char *tls_fingerprint;	/* owned: "sha256:HEX" pins, or "" */
	char *tls_cert;		/* owned: client certificate, or "" */
	char *tls_key;		/* owned: its key, or "" */
	char *tls_min_version;	/* owned: "1.2" or "1.3" */
	int allow_plaintext_auth;
	long long password_command_timeout; /* seconds */
	char *provider; /* owned: preset name (conf_preset.c), or "" */
	char *tenant;	/* owned: Microsoft 365 tenant, or "" */
	/* OAuth2 (issue 14): relayqd fetches the XOAUTH2/OAUTHBEARER token. */
	char *oauth2_token_url;		  /* owned: https://, or "" */
	char *oauth2_client_id;		  /* owned, may be "" */
	char *oauth2_client_secret_file;  /* owned, may be "" */
	char *oauth2_grant;		  /* owned: refresh_token... */
	char *oauth2_refresh_token_file;  /* owned, may be "" */
	char *oauth2_scope;		  /* owned, may be "" */
	char *oauth2_device_url;	  /* owned, may be "" */
	char *oauth2_auth_url;		  /* owned, may be "" */
	char *oauth2_ca_file;		  /* owned, may be "" */
	struct conf_rate rate_limit;	  /* messages; n 0: none */
	struct conf_rate recipient_limit; /* recipients; likewise */
	/* Candidate order while this one is down: chain[0] is this
	 * smarthost's own index, then its fallbacks (issue 15). */
	size_t *chain;	/* owned */
	size_t nchain;	/* >= 1 */
	char **senders; /* owned: sender patterns, lower case */
	size_t nsenders;
	char **fallback;  /* owned: the fallback names as written, lower case */
	size_t nfallback; /* at most CONF_FALLBACK_MAX */
};

struct conf {
	char *path; /* owned: the file this was loaded from */

	/* [relayq] */
	char *spool_dir;      /* owned */
	char *hostname;	      /* owned: EHLO and Message-ID domain, never "" */
	char *default_domain; /* owned: qualifies bare local parts, never "" */
	char *aliases;	      /* owned, may be "" */
	char *masquerade;     /* owned: domain for local senders, or "" */
	int allow_from_override;    /* users other than root may use -f */
	long long max_message_size; /* bytes */
	long long max_recipients;
	/* mailq shows everyone's mail to users other than root (else own). */
	int mailq_all_users;
	long long queue_minfree;  /* bytes kept free for root; 0: off */
	char *submit_socket;	  /* owned: relayqd's submission socket */
	char *submission;	  /* owned: "auto", "spool" or "socket" */
	long long submit_timeout; /* seconds a socket client may stall */
	char *resolv_conf;	  /* owned: evdns reads it, or "" (system's) */
	char *hosts_file;	  /* owned: evdns reads it, or "" (system's) */

	/* [delivery] */
	int delivery_max_connections;
	int delivery_messages_per_connection;
	long long delivery_retry_min; /* seconds */
	long long delivery_retry_max; /* seconds */
	long long delivery_probe_max; /* longest wait between probes */
	long long delivery_max_queue_lifetime;
	long long delivery_connect_timeout;
	long long delivery_greeting_timeout;
	long long delivery_command_timeout;    /* MAIL, RCPT, others */
	long long delivery_data_timeout;       /* DATA's 354 reply */
	long long delivery_dot_timeout;	       /* end of data */
	long long delivery_data_block_timeout; /* each body write */
	long long delivery_idle_timeout;       /* idle pooled session */
	long long delivery_scan_interval;      /* fallback queue scan */
	long long delivery_delay_warning;      /* 0: no delay notice */
	int delivery_bounce_full_message;      /* return the whole message */
	char *delivery_bounce_copy_to;	       /* owned: operator copy, or "" */
	char *delivery_alert_command;	/* owned: run on a stall, or "" */
	long long delivery_alert_after; /* stall length before it runs */
	/* How long failed/ entries are kept; 0: forever. */
	long long delivery_failed_retention;

	struct conf_smarthost *smarthosts; /* owned; [0] is [smarthost] */
	size_t nsmarthosts;		   /* >= 1 */
	/* owned: with CONF_LOAD_SMARTHOST_LAX, the error in the smarthost
	 * sections that relayqd refuses (smarthosts then holds only the
	 * built-in [smarthost]), else NULL */
	char *smarthost_error;
};

/*
 * Returns the configuration path to use: explicit if not NULL, else
 * $RELAYQ_CONFIG when use_env is nonzero and it is set, else the
 * compiled-in default.  The string is borrowed (argv, environ or static).
 */
const char *conf_path(const char *explicit, int use_env);

/* Returns the compiled-in default configuration path. */
const char *conf_default_path(void);

/* Fills c with the built-in defaults (no file read). */
void conf_defaults(struct conf *c);

/*
 * Loads path over the defaults.  Returns 0, or -1 with err->msg set
 * (missing file, syntax error, unknown section or key, bad value, and for
 * the smarthost sections: a bad NAME, a named section without host, a
 * fallback naming an unknown smarthost, a fallback cycle, more than
 * CONF_FALLBACK_MAX fallback names, senders in [smarthost], a malformed
 * sender pattern, one pattern claimed twice).  The message names the
 * file, then "SECTION:KEY" ("smarthost NAME:KEY" for a named section).
 * On failure c is left freed.
 */
int conf_load(struct conf *c, const char *path, struct rq_err *err);

/*
 * conf_load_flags() flag for the programs that use no smarthost (the
 * sendmail front end, the queue listings): an error in a [smarthost] or
 * [smarthost NAME] section (its keys, a repeated key or header there,
 * its fallbacks and senders) does not fail the load; it is kept in
 * c->smarthost_error, and c->smarthosts is the built-in [smarthost]
 * alone.  Every other error still fails.
 */
#define CONF_LOAD_SMARTHOST_LAX 0x1

/*
 * conf_load() with flags (0 or CONF_LOAD_SMARTHOST_LAX).  Before
 * iniparser reads the file, conf_scan() refuses a section header or a
 * key given twice and a line too long, naming the line.
 */
int conf_load_flags(struct conf *c, const char *path, int flags,
    struct rq_err *err);

/*
 * Normalises a smarthost host in place ("[::1]" -> "::1"); -1 with
 * *errstr when it cannot be a name or an IP literal.
 */
int conf_host_normalize(char *host, const char **errstr);

/*
 * Returns the index of the smarthost that mail from sender (an address,
 * or "" for the null sender) routes to: the smarthost whose senders
 * pattern matches it most specifically, else 0 ([smarthost]).
 */
size_t conf_route(const struct conf *c, const char *sender);

/*
 * Formats msg, a message about sh's keys in [smarthost]'s words
 * ("smarthost KEY ..." or "smarthost:KEY ..."), for sh's own section
 * into buf, in relayq.conf(5)'s SECTION:KEY form: "smarthost:KEY ..."
 * for [smarthost], "smarthost NAME:KEY ..." for a named one.  A message
 * that names no key is kept for [smarthost] and gets "smarthost NAME: "
 * in front for a named one.
 */
void conf_smarthost_msg(const struct conf_smarthost *sh, const char *msg,
    char *buf, size_t bufsz);

/* Returns the index of the smarthost named name, or -1. */
ssize_t conf_smarthost_find(const struct conf *c, const char *name);

/*
 * Makes *view a shallow copy of c whose only smarthost is c's smarthost
 * idx (view->smarthosts[0]), for code that takes a struct conf and means
 * smarthosts[0]: libsmarthost's TLS, AUTH and probe, the OAuth2 client.
 * Everything in view is borrowed from c and valid while c is; never
 * conf_free() it.  Its chain holds c's indexes: do not route with view.
 */
void conf_view_smarthost(struct conf *view, const struct conf *c, size_t idx);

/*
 * For a command's --smarthost name: makes *view as conf_view_smarthost()
 * does for the smarthost named name ("default" is [smarthost]) and
 * returns 0, or returns -1 with err saying "--smarthost NAME: FILE has
 * no [smarthost NAME] (its smarthosts: default, ...)".
 */
int conf_view_smarthost_named(struct conf *view, const struct conf *c,
    const char *name, struct rq_err *err);

/*
 * For the queue listings (a queue_list_route_fn; conf is a const struct
 * conf *): the name of the smarthost sender routes to, or NULL when
 * [smarthost] is the only one, so that the listing stays as it was.
 */
const char *conf_route_label(const void *conf, const char *sender);

/*
 * Writes "host:port" ("[2001:db8::1]:port" for an IPv6 literal, "(no
 * host):port" when host is "") into buf.  Returns 0, or -1 when it was
 * cut short.
 */
int conf_smarthost_addr(const struct conf_smarthost *sh, char *buf,
    size_t bufsz);

/* Frees every owned string; c may be loaded again. */
void conf_free(struct conf *c);

#endif
