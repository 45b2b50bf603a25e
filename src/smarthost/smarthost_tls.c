/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * TLS context and per-connection checks.  Pins are SHA-256 digests of
 * either the whole DER certificate (openssl x509 -fingerprint -sha256) or
 * its SubjectPublicKeyInfo; both are computed and compared with
 * CRYPTO_memcmp.  IP-literal smarthosts are verified against the
 * certificate's IP addresses and get no SNI (RFC 6066 section 3).
 *
 * Memory: OpenSSL's SSL_CTX costs about 3 MB (library initialisation)
 * and parsing the system CA bundle another 1.4 MB, so the context is
 * built at the first session, not at start: an idle relayqd that has
 * not yet sent mail does not carry it.  Configuration errors are still
 * found at start and on reload: the configured files are opened and
 * checked for PEM content then, and with a client certificate (whose key
 * must match it) the context is built at once.  The system trust store is
 * OpenSSL's hashed certificate directory, whose certificates are loaded
 * only when a chain needs them, or its bundle file when that directory
 * has no hash links.  SSL_CERT_FILE and SSL_CERT_DIR are deliberately
 * not read: the trust of a daemon comes from its configuration (ca_file,
 * ca_path), not from the environment it was started in.
 */
#include "config.h"

#include "smarthost/smarthost_tls.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

#define SMARTHOST_TLS_PINS_MAX 8

/* A PEM file's first "-----BEGIN" must be within this many bytes. */
#define SMARTHOST_TLS_PEM_SCAN (64 * 1024)

struct smarthost_tls {
	SSL_CTX *ctx; /* owned; NULL until the first session needs it */
	int verify;
	int verify_late; /* handshakes always complete (relayq probe) */
	int minv;
	char *ca_file; /* owned, may be "" */
	char *ca_path; /* owned, may be "" */
	char *cert;    /* owned, may be "" */
	char *key;     /* owned: the key file, or "" */
	size_t npins;
	unsigned char pins[SMARTHOST_TLS_PINS_MAX][SHA256_DIGEST_LENGTH];
};

/* Parses "sha256:AB:CD..." (colons optional) into one digest. */
static int
smarthost_tls_parse_pin(const char *s, size_t len, unsigned char *out)
{
	size_t n = 0;

	if (len > 7 && strncasecmp(s, "sha256:", 7) == 0) {
		s += 7;
		len -= 7;
	}
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == ':')
			continue;
		if (i + 1 >= len || n == SHA256_DIGEST_LENGTH)
			return -1;
		hi = OPENSSL_hexchar2int((unsigned char)s[i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		i++;
	}
	return n == SHA256_DIGEST_LENGTH ? 0 : -1;
}

/* Splits tls_fingerprint on commas and spaces into pins. */
static int
smarthost_tls_parse_pins(struct smarthost_tls *t, const char *list)
{
	const char *p = list;

	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (t->npins == SMARTHOST_TLS_PINS_MAX ||
		    smarthost_tls_parse_pin(p, len, t->pins[t->npins]) == -1)
			return -1;
		t->npins++;
		p += len;
	}
	return 0;
}

/* Appends OpenSSL's queued errors to buf. */
static void
smarthost_tls_ossl_errors(char *buf, size_t bufsz)
{
	unsigned long e;

	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (buf[0] != '\0')
			strlcat(buf, "; ", bufsz);
		strlcat(buf, one, bufsz);
	}
}

/*
 * Checks at load time that a configured PEM file can be read and holds a
 * PEM block, so a wrong path is reported at start and on reload even
 * though OpenSSL parses it only at the first session.
 */
int
smarthost_tls_check_pem(const char *key, const char *path, struct rq_err *err)
{
	static const char marker[] = "-----BEGIN ";
	char *buf;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, found;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		rq_err_set(err, "smarthost:%s: cannot open %s: %s", key, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		rq_err_set(err, "smarthost:%s: %s is not a regular file", key,
		    path);
		return -1;
	}
	buf = xmalloc(SMARTHOST_TLS_PEM_SCAN);
	while (got < SMARTHOST_TLS_PEM_SCAN &&
	    (n = read(fd, buf + got, SMARTHOST_TLS_PEM_SCAN - got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rq_err_set(err, "smarthost:%s: cannot read %s: %s", key,
			    path, strerror(errno));
			free(buf);
			(void)close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	(void)close(fd);
	found = memmem(buf, got, marker, sizeof(marker) - 1) != NULL;
	free(buf);
	if (!found) {
		rq_err_set(err, "smarthost:%s: %s holds no PEM data", key,
		    path);
		return -1;
	}
	return 0;
}

/* Checks at load time that ca_path is a directory we can open. */
static int
smarthost_tls_check_dir(const char *path, struct rq_err *err)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rq_err_set(err, "smarthost:ca_path: cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* True when dir holds at least one OpenSSL hash link ("8 hex digits.N"). */
static int
smarthost_tls_is_hashed_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		found = strlen(n) >= 10 && strspn(n, "0123456789abcdef") == 8 &&
		    n[8] == '.' && n[9] >= '0' && n[9] <= '9';
	}
	(void)closedir(d);
	return found;
}

/*
 * Loads the system trust store: the hashed directory (certificates are
 * read when a chain needs them), else the bundle file.  The environment
 * (SSL_CERT_DIR, SSL_CERT_FILE) is not consulted; see the file header.
 */
static int
smarthost_tls_load_system(SSL_CTX *ctx)
{
	const char *dir = X509_get_default_cert_dir();

	if (smarthost_tls_is_hashed_dir(dir))
		return SSL_CTX_load_verify_dir(ctx, dir);
	return SSL_CTX_load_verify_file(ctx, X509_get_default_cert_file());
}

/* Builds t->ctx from the saved settings; -1 with a reason in err. */
static int
smarthost_tls_build(struct smarthost_tls *t, struct rq_err *err)
{
	SSL_CTX *ctx;
	char detail[512] = "";

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, t->minv) != 1) {
		smarthost_tls_ossl_errors(detail, sizeof(detail));
		rq_err_set(err, "cannot create the TLS context: %s", detail);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	if (t->ca_file[0] != '\0' || t->ca_path[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx,
			t->ca_file[0] ? t->ca_file : NULL,
			t->ca_path[0] ? t->ca_path : NULL) != 1) {
			smarthost_tls_ossl_errors(detail, sizeof(detail));
			rq_err_set(err, "cannot load ca_file/ca_path: %s",
			    detail);
			goto fail;
		}
	} else if (smarthost_tls_load_system(ctx) != 1) {
		smarthost_tls_ossl_errors(detail, sizeof(detail));
		rq_err_set(err, "cannot load the system trust store: %s",
		    detail);
		goto fail;
	}
	if (t->cert[0] != '\0') {
		if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, t->key,
			SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			smarthost_tls_ossl_errors(detail, sizeof(detail));
			rq_err_set(err,
			    "smarthost:tls_cert: cannot load the certificate "
			    "or its tls_key: %s",
			    detail);
			goto fail;
		}
	}
	t->ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* Saves and checks the TLS settings; the context itself comes later. */
struct smarthost_tls *
smarthost_tls_new(const struct conf *c, struct rq_err *err)
{
	struct smarthost_tls *t = xcalloc(1, sizeof(*t));

	t->minv = strcmp(c->smarthosts[0].tls_min_version, "1.3") == 0
	    ? TLS1_3_VERSION
	    : TLS1_2_VERSION;
	t->ca_file = xstrdup(c->smarthosts[0].ca_file);
	t->ca_path = xstrdup(c->smarthosts[0].ca_path);
	t->cert = xstrdup(c->smarthosts[0].tls_cert);
	t->key =
	    xstrdup(c->smarthosts[0].tls_key[0] ? c->smarthosts[0].tls_key
						: c->smarthosts[0].tls_cert);
	if (smarthost_tls_parse_pins(t, c->smarthosts[0].tls_fingerprint) ==
	    -1) {
		rq_err_set(err,
		    "smarthost:tls_fingerprint: expected "
		    "sha256:<64 hex digits>[, ...]");
		goto fail;
	}
	t->verify = c->smarthosts[0].tls_verify && t->npins == 0;
	if ((t->ca_file[0] != '\0' &&
		smarthost_tls_check_pem("ca_file", t->ca_file, err) == -1) ||
	    (t->ca_path[0] != '\0' &&
		smarthost_tls_check_dir(t->ca_path, err) == -1))
		goto fail;
	/* A client key must match its certificate: check that now. */
	if (t->cert[0] != '\0' && smarthost_tls_build(t, err) == -1)
		goto fail;
	return t;
fail:
	smarthost_tls_free(t);
	return NULL;
}

/* Checks the TLS keys of c as relayqd does at start; see .h. */
int
smarthost_tls_check_conf(const struct conf *c, struct rq_err *err)
{
	struct smarthost_tls *t;

	if (c->smarthosts[0].tls == CONF_TLS_NONE)
		return 0;
	if ((t = smarthost_tls_new(c, err)) == NULL)
		return -1;
	smarthost_tls_free(t);
	return 0;
}

/* Frees the context. */
void
smarthost_tls_free(struct smarthost_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->ca_file);
	free(t->ca_path);
	free(t->cert);
	free(t->key);
	free(t);
}

/* True when host is an IPv4 or IPv6 literal. */
static int
smarthost_tls_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* Creates the SSL for one connection. */
SSL *
smarthost_tls_ssl_new(struct smarthost_tls *t, const char *host)
{
	SSL *ssl;
	struct rq_err err;

	if (t == NULL)
		return NULL;
	if (t->ctx == NULL && smarthost_tls_build(t, &err) == -1) {
		log_warnx("TLS: %s", err.msg);
		return NULL;
	}
	if ((ssl = SSL_new(t->ctx)) == NULL)
		return NULL;
	if (smarthost_tls_is_ip(host)) {
		if (t->verify &&
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) !=
			1)
			goto fail;
	} else {
		/* The macro casts away const; OpenSSL copies the name. */
		char *sni = xstrdup(host);
		int rv = SSL_set_tlsext_host_name(ssl, sni);

		free(sni);
		if (rv != 1)
			goto fail;
		if (t->verify && SSL_set1_host(ssl, host) != 1)
			goto fail;
	}
	if (t->verify_late)
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/* Checks verification and pins after the handshake. */
int
smarthost_tls_check_peer(struct smarthost_tls *t, SSL *ssl, char *buf,
    size_t bufsz)
{
	X509 *cert;
	unsigned char der_md[SHA256_DIGEST_LENGTH],
	    spki_md[SHA256_DIGEST_LENGTH];
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int n, match = 0;

	if (t == NULL) {
		(void)!rq_snprintf(buf, bufsz,
		    "TLS was turned off by a reload during the handshake");
		return -1;
	}
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		(void)!rq_snprintf(buf, bufsz, "server sent no certificate");
		return -1;
	}
	if (t->verify) {
		long v = SSL_get_verify_result(ssl);

		X509_free(cert);
		if (v != X509_V_OK) {
			(void)!rq_snprintf(buf, bufsz,
			    "certificate verification failed: %s",
			    X509_verify_cert_error_string(v));
			return -1;
		}
		return 0;
	}
	if (t->npins == 0) {
		X509_free(cert);
		return 0; /* tls_verify = no, no pins */
	}
	if (X509_digest(cert, EVP_sha256(), der_md, &mdlen) != 1 ||
	    (n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0) {
		X509_free(cert);
		(void)!rq_snprintf(buf, bufsz, "cannot digest certificate");
		return -1;
	}
	SHA256(der, (size_t)n, spki_md);
	OPENSSL_free(der);
	X509_free(cert);
	for (size_t i = 0; i < t->npins; i++)
		if (CRYPTO_memcmp(t->pins[i], der_md, sizeof(der_md)) == 0 ||
		    CRYPTO_memcmp(t->pins[i], spki_md, sizeof(spki_md)) == 0)
			match = 1;
	if (!match) {
		char hex[SHA256_DIGEST_LENGTH * 2 + 1];

		for (size_t i = 0; i < sizeof(der_md); i++)
			(void)!rq_snprintf(hex + 2 * i, 3, "%02x", der_md[i]);
		(void)!rq_snprintf(buf, bufsz,
		    "certificate fingerprint sha256:%s matches no "
		    "tls_fingerprint",
		    hex);
		return -1;
	}
	return 0;
}

/* One line on why a TLS session failed. */
void
smarthost_tls_describe_error(struct bufferevent *bev, SSL *ssl, char *buf,
    size_t bufsz)
{
	unsigned long e;
	long v;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		char one[256];

		if (ERR_GET_LIB(e) == 0)
			continue; /* libevent's raw SSL_get_error() code */
		ERR_error_string_n(e, one, sizeof(one));
		if (buf[0] != '\0')
			strlcat(buf, "; ", bufsz);
		strlcat(buf, one, bufsz);
	}
	if (ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		if (buf[0] != '\0')
			strlcat(buf, "; ", bufsz);
		strlcat(buf, "verify error: ", bufsz);
		strlcat(buf, X509_verify_cert_error_string(v), bufsz);
	}
	if (buf[0] == '\0')
		strlcpy(buf, "connection closed during TLS", bufsz);
}

/* Negotiated protocol name. */
const char *
smarthost_tls_version(SSL *ssl)
{
	return ssl != NULL ? SSL_get_version(ssl) : "none";
}

/* Completes every handshake; the caller checks the peer itself. */
void
smarthost_tls_set_verify_late(struct smarthost_tls *t)
{
	t->verify_late = 1;
}

/* Upgrades a plain session after STARTTLS's 220. */
struct bufferevent *
smarthost_tls_starttls(struct smarthost_tls *t, struct bufferevent *plain,
    const char *host, const char **why)
{
	struct bufferevent *tls;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(plain)) != 0) {
		*why = "server sent data after its STARTTLS reply; "
		       "aborting (possible injection)";
		return NULL;
	}
	if ((ssl = smarthost_tls_ssl_new(t, host)) == NULL) {
		*why = "cannot set up TLS";
		return NULL;
	}
	/* With CLOSE_ON_FREE a failed constructor has freed ssl already. */
	if ((tls = bufferevent_openssl_filter_new(bufferevent_get_base(plain),
		 plain, ssl, BUFFEREVENT_SSL_CONNECTING,
		 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		*why = "cannot start TLS";
	return tls;
}

/* Creates an implicit-TLS socket bufferevent. */
struct bufferevent *
smarthost_tls_socket_new(struct smarthost_tls *t, struct event_base *base,
    const char *host, const char **why)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = smarthost_tls_ssl_new(t, host)) == NULL) {
		*why = "cannot set up TLS";
		return NULL;
	}
	/* CLOSE_ON_FREE: a failed constructor frees ssl. */
	if ((bev = bufferevent_openssl_socket_new(base, -1, ssl,
		 BUFFEREVENT_SSL_CONNECTING,
		 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		*why = "cannot create the TLS connection";
	return bev;
}

/* Prints an X509 name (RFC 2253, escaped) into buf. */
static void
smarthost_tls_name(const X509_NAME *name, char *buf, size_t bufsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)bufsz - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* Appends the subjectAltName DNS names and IP addresses to buf. */
static void
smarthost_tls_alt_names(X509 *cert, char *buf, size_t bufsz)
{
	GENERAL_NAMES *gens;

	buf[0] = '\0';
	if ((gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL)) ==
	    NULL)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char one[128] = "";

		if (g->type == GEN_DNS) {
			const unsigned char *d =
			    ASN1_STRING_get0_data(g->d.dNSName);
			int len = ASN1_STRING_length(g->d.dNSName);

			for (int j = 0; j < len && j < (int)sizeof(one) - 1;
			     j++)
				one[j] = d[j] > 0x20 && d[j] < 0x7f ? (char)d[j]
								    : '?';
			one[len < (int)sizeof(one) - 1 ? len
						       : (int)sizeof(one) - 1] =
			    '\0';
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

			if (af == 0 ||
			    inet_ntop(af, ASN1_STRING_get0_data(g->d.iPAddress),
				one, sizeof(one)) == NULL)
				continue;
		} else
			continue;
		if (buf[0] != '\0')
			strlcat(buf, ", ", bufsz);
		strlcat(buf, one, bufsz);
	}
	GENERAL_NAMES_free(gens);
}

/* Describes the peer certificate. */
int
smarthost_tls_peer_info(SSL *ssl, struct smarthost_tls_peer *pi)
{
	X509 *cert;
	struct tm tm;

	memset(pi, 0, sizeof(*pi));
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return -1;
	smarthost_tls_name(X509_get_subject_name(cert), pi->subject,
	    sizeof(pi->subject));
	smarthost_tls_name(X509_get_issuer_name(cert), pi->issuer,
	    sizeof(pi->issuer));
	smarthost_tls_alt_names(cert, pi->names, sizeof(pi->names));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		(void)strftime(pi->expires, sizeof(pi->expires),
		    "%Y-%m-%d %H:%M:%S UTC", &tm);
	pi->expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
	X509_free(cert);
	pi->verify = SSL_get_verify_result(ssl);
	strlcpy(pi->verify_text, X509_verify_cert_error_string(pi->verify),
	    sizeof(pi->verify_text));
	return 0;
}
