/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * [smarthost] provider presets: for each provider, the "section:key"
 * values it stands for (host, port, tls, auth, and for the OAuth2
 * providers the token, device and authorization endpoints and the
 * scope).  conf_load() applies a preset before the file's own keys, so
 * an explicit key always wins.  Only settings the provider publishes and
 * keeps stable are here; relayq.conf(5) lists them.  "{tenant}" in a
 * value stands for the Microsoft 365 tenant (smarthost:tenant, default
 * "organizations").
 */
#ifndef RELAYQ_COMMON_CONF_PRESET_H
#define RELAYQ_COMMON_CONF_PRESET_H

#include <stddef.h>

/* The tenant used when smarthost:tenant is not set. */
#define CONF_PRESET_TENANT_DEFAULT "organizations"

/* Called for each key of a preset; returns 0, or -1 to stop. */
typedef int (*conf_preset_fn)(void *arg, const char *key, const char *value);

/*
 * Calls fn for every key of provider, "{tenant}" replaced by tenant
 * (NULL or "": the default).  Returns 0; -1 when provider is unknown, or
 * when fn stopped the walk.
 */
int conf_preset_foreach(const char *provider, const char *tenant,
    conf_preset_fn fn, void *arg);

/* True when provider takes a tenant (microsoft365). */
int conf_preset_has_tenant(const char *provider);

/* Returns the known provider names, ", "-separated (static). */
const char *conf_preset_names(void);

#endif
