/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The provider preset table.  Sources (checked 2026-12): Microsoft,
 * "Authenticate an IMAP, POP or SMTP connection using OAuth"
 * (smtp.office365.com:587 STARTTLS, XOAUTH2, scope
 * https://outlook.office.com/SMTP.Send, the v2.0 endpoints under
 * login.microsoftonline.com/{tenant}); Google, "OAuth 2.0 for Mobile &
 * Desktop Apps" and the Gmail XOAUTH2 protocol page (smtp.gmail.com:587,
 * scope https://mail.google.com/, which the device grant does not
 * allow: no device endpoint, relayq oauth2 login --browser); Fastmail,
 * "Server names and ports" (smtp.fastmail.com:465, implicit TLS);
 * mailbox.org, "E-mail configuration" (smtp.mailbox.org:465, implicit
 * TLS); Apple, iCloud Mail server settings (smtp.mail.me.com:587,
 * STARTTLS).  The plain presets leave auth = auto: each takes an app
 * password in password_file.
 */
#include "config.h"

#include "common/conf_preset.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/strutil.h"

#define MS_LOGIN "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/"

struct conf_preset_kv {
	const char *key, *value;
};

struct conf_preset {
	const char *name;
	int tenant;			 /* takes smarthost:tenant */
	const struct conf_preset_kv *kv; /* ends with { NULL, NULL } */
};

static const struct conf_preset_kv conf_preset_ms365[] = {
	{ "smarthost:host", "smtp.office365.com" },
	{ "smarthost:port", "587" },
	{ "smarthost:tls", "starttls" },
	{ "smarthost:auth", "xoauth2" },
	{ "smarthost:oauth2_token_url", MS_LOGIN "token" },
	{ "smarthost:oauth2_device_url", MS_LOGIN "devicecode" },
	{ "smarthost:oauth2_auth_url", MS_LOGIN "authorize" },
	{ "smarthost:oauth2_scope",
	    "https://outlook.office.com/SMTP.Send offline_access" },
	{ NULL, NULL },
};

static const struct conf_preset_kv conf_preset_google[] = {
	{ "smarthost:host", "smtp.gmail.com" },
	{ "smarthost:port", "587" },
	{ "smarthost:tls", "starttls" },
	{ "smarthost:auth", "xoauth2" },
	{ "smarthost:oauth2_token_url", "https://oauth2.googleapis.com/token" },
	{ "smarthost:oauth2_auth_url",
	    "https://accounts.google.com/o/oauth2/v2/auth" },
	{ "smarthost:oauth2_scope", "https://mail.google.com/" },
	{ NULL, NULL },
};

static const struct conf_preset_kv conf_preset_fastmail[] = {
	{ "smarthost:host", "smtp.fastmail.com" },
	{ "smarthost:port", "465" },
	{ "smarthost:tls", "implicit" },
	{ NULL, NULL },
};

static const struct conf_preset_kv conf_preset_icloud[] = {
	{ "smarthost:host", "smtp.mail.me.com" },
	{ "smarthost:port", "587" },
	{ "smarthost:tls", "starttls" },
	{ NULL, NULL },
};

static const struct conf_preset_kv conf_preset_mailbox_org[] = {
	{ "smarthost:host", "smtp.mailbox.org" },
	{ "smarthost:port", "465" },
	{ "smarthost:tls", "implicit" },
	{ NULL, NULL },
};

static const struct conf_preset conf_presets[] = {
	{ "microsoft365", 1, conf_preset_ms365 },
	{ "google", 0, conf_preset_google },
	{ "fastmail", 0, conf_preset_fastmail },
	{ "icloud", 0, conf_preset_icloud },
	{ "mailbox.org", 0, conf_preset_mailbox_org },
};

/* Finds a provider by name (case-insensitive), or NULL. */
static const struct conf_preset *
conf_preset_find(const char *provider)
{
	for (size_t i = 0; i < RQ_NELEM(conf_presets); i++)
		if (provider != NULL &&
		    strcasecmp(conf_presets[i].name, provider) == 0)
			return &conf_presets[i];
	return NULL;
}

/* Writes value into buf with "{tenant}" replaced; -1 when too long. */
static int
conf_preset_expand(const char *value, const char *tenant, char *buf,
    size_t bufsz)
{
	const char *t = strstr(value, "{tenant}");

	if (t == NULL)
		return rq_snprintf(buf, bufsz, "%s", value);
	return rq_snprintf(buf, bufsz, "%.*s%s%s", (int)(t - value), value,
	    tenant, t + 8);
}

/* Walks a provider's keys. */
int
conf_preset_foreach(const char *provider, const char *tenant, conf_preset_fn fn,
    void *arg)
{
	const struct conf_preset *p = conf_preset_find(provider);
	char value[512];

	if (p == NULL)
		return -1;
	if (tenant == NULL || tenant[0] == '\0')
		tenant = CONF_PRESET_TENANT_DEFAULT;
	for (const struct conf_preset_kv *kv = p->kv; kv->key != NULL; kv++)
		if (conf_preset_expand(kv->value, tenant, value,
			sizeof(value)) == -1 ||
		    fn(arg, kv->key, value) == -1)
			return -1;
	return 0;
}

/* True for a provider that takes a tenant. */
int
conf_preset_has_tenant(const char *provider)
{
	const struct conf_preset *p = conf_preset_find(provider);

	return p != NULL && p->tenant;
}

/* The known names. */
const char *
conf_preset_names(void)
{
	return "microsoft365, google, fastmail, icloud, mailbox.org";
}
