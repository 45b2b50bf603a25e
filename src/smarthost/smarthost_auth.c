/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * SASL client mechanisms and the smarthost secret (RFC 4954, 4616, 2195,
 * 5802, 7677, 7628 and Google's XOAUTH2).  It owns fetching the secret
 * (password_file or password_command), choosing a mechanism from the
 * server's list, and computing every base64 line of the exchange with
 * OpenSSL.  It does not own the SMTP dialogue (smtp_client), the socket,
 * or logging: errors go back as text that never holds a secret.
 *
 * Invariants: only struct smarthost_sasl holds the secret, and every buffer
 * that held the secret or something derived from it (a plaintext
 * response, SCRAM keys, the file's or the command's output) is wiped with
 * OPENSSL_cleanse() or explicit_bzero() before it is freed or goes out
 * of scope.  Secret strings are built in buffers sized up front
 * (buf_init_secret(), wiped by buf_wipe()), never grown by realloc, so
 * no stale copy is left behind.  Server
 * challenges are checked against the base64 alphabet before
 * EVP_DecodeBlock(), which accepts '=' mid-string and blanks.
 */
#include "config.h"

#include "smarthost/smarthost_auth.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/strutil.h"
#include "common/xmalloc.h"

#define SMARTHOST_AUTH_AUTO (-1)       /* policy: pick from the offer */
#define SMARTHOST_AUTH_OFF (-2)	       /* policy: auth = none */
#define SMARTHOST_AUTH_ARGV_MAX 32     /* words in password_command */
#define SMARTHOST_AUTH_B64_MAX 12288   /* longest challenge or plaintext */
#define SMARTHOST_AUTH_NAME_MAX 255    /* username and host */
#define SMARTHOST_AUTH_NONCE_MAX 64    /* SCRAM client nonce, with NUL */
#define SMARTHOST_AUTH_NONCE_BYTES 18  /* random bytes in a nonce */
#define SMARTHOST_AUTH_SCRAM_KEY 32    /* SHA-256 output */
#define SMARTHOST_AUTH_SALT_MAX 1024   /* decoded SCRAM salt */
#define SMARTHOST_AUTH_REAP_POLL_MS 10 /* waiting for the command to exit */
#define SMARTHOST_AUTH_BEARER_LEN 14   /* "auth=Bearer " and "^A^A" */

struct smarthost_sasl;

typedef int (*smarthost_sasl_start_fn)(struct smarthost_sasl *, char **,
    struct rq_reason *);
typedef int (*smarthost_sasl_step_fn)(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);

enum smarthost_mech {
	SMARTHOST_MECH_SCRAM_SHA_256,
	SMARTHOST_MECH_CRAM_MD5,
	SMARTHOST_MECH_PLAIN,
	SMARTHOST_MECH_LOGIN,
	SMARTHOST_MECH_XOAUTH2,
	SMARTHOST_MECH_OAUTHBEARER,
};

struct smarthost_auth {
	char *username;		/* owned */
	char *password_file;	/* owned, or NULL */
	char *password_command; /* owned, or NULL */
	char *host;		/* owned: the smarthost, for OAUTHBEARER */
	int port;
	int policy; /* enum smarthost_mech, or SMARTHOST_AUTH_AUTO */
	int cmd_timeout_ms;
	int oauth2; /* the token comes from relayqd_oauth2 */
};

struct smarthost_sasl {
	char *username; /* owned copy */
	char *host;	/* owned copy */
	int port;
	int policy;   /* enum smarthost_mech, or SMARTHOST_AUTH_AUTO */
	char *secret; /* owned; wiped before free */
	size_t secretlen;
	int mech;			      /* chosen by start; -1 before */
	int steps;			      /* challenges answered */
	int complete;			      /* nothing more to check at 235 */
	char nonce[SMARTHOST_AUTH_NONCE_MAX]; /* SCRAM client nonce */
	char *client_first_bare;	      /* owned: SCRAM */
	unsigned char server_sig[SMARTHOST_AUTH_SCRAM_KEY]; /* SCRAM: wiped */
};

static int smarthost_sasl_plain_start(struct smarthost_sasl *, char **,
    struct rq_reason *);
static int smarthost_sasl_none_start(struct smarthost_sasl *, char **,
    struct rq_reason *);
static int smarthost_sasl_scram_start(struct smarthost_sasl *, char **,
    struct rq_reason *);
static int smarthost_sasl_xoauth2_start(struct smarthost_sasl *, char **,
    struct rq_reason *);
static int smarthost_sasl_oauthbearer_start(struct smarthost_sasl *, char **,
    struct rq_reason *);
static int smarthost_sasl_plain_step(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);
static int smarthost_sasl_login_step(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);
static int smarthost_sasl_cram_step(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);
static int smarthost_sasl_scram_step(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);
static int smarthost_sasl_bearer_step(struct smarthost_sasl *,
    const unsigned char *, size_t, char **, struct rq_reason *);

/*
 * Indexed by enum smarthost_mech, in order of preference for auth = auto
 * (which skips the token mechanisms and CRAM-MD5).
 */
static const struct smarthost_mech_desc {
	const char *name;      /* SASL name */
	const char *conf_name; /* value of smarthost auth */
	int token;	       /* carries a bearer token, not a password */
	smarthost_sasl_start_fn start;
	smarthost_sasl_step_fn step;
} smarthost_mechs[] = {
	[SMARTHOST_MECH_SCRAM_SHA_256] = { "SCRAM-SHA-256", "scram-sha-256", 0,
	    smarthost_sasl_scram_start, smarthost_sasl_scram_step },
	[SMARTHOST_MECH_CRAM_MD5] = { "CRAM-MD5", "cram-md5", 0,
	    smarthost_sasl_none_start, smarthost_sasl_cram_step },
	[SMARTHOST_MECH_PLAIN] = { "PLAIN", "plain", 0,
	    smarthost_sasl_plain_start, smarthost_sasl_plain_step },
	[SMARTHOST_MECH_LOGIN] = { "LOGIN", "login", 0,
	    smarthost_sasl_none_start, smarthost_sasl_login_step },
	[SMARTHOST_MECH_XOAUTH2] = { "XOAUTH2", "xoauth2", 1,
	    smarthost_sasl_xoauth2_start, smarthost_sasl_bearer_step },
	[SMARTHOST_MECH_OAUTHBEARER] = { "OAUTHBEARER", "oauthbearer", 1,
	    smarthost_sasl_oauthbearer_start, smarthost_sasl_bearer_step },
};

static void smarthost_auth_why(struct rq_reason *why, const char *fmt, ...)
    RQ_PRINTF(2, 3);

/* Fills why with a formatted local reason (never a secret). */
static void
smarthost_auth_why(struct rq_reason *why, const char *fmt, ...)
{
	char text[sizeof(why->text)];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rq_reason_set(why, 0, "", text);
}

/*
 * Appends n bytes to a secret string (buf_init_secret()); its capacity
 * was computed by the caller, so running out is a bug.
 */
static void
smarthost_auth_str_add(struct buf *s, const void *p, size_t n)
{
	RQ_ASSERT(buf_add(s, p, n) == 0);
}

/* Appends a NUL-terminated string. */
static void
smarthost_auth_str_adds(struct buf *s, const char *p)
{
	smarthost_auth_str_add(s, p, strlen(p));
}

/* Encodes n bytes as a malloc'd base64 string with no newlines. */
static char *
smarthost_auth_b64_encode(const void *in, size_t n)
{
	char *out;

	RQ_ASSERT(n <= SMARTHOST_AUTH_B64_MAX);
	out = xmalloc(4 * ((n + 2) / 3) + 1);
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

/* Returns nonzero for a character of the base64 alphabet (not '='). */
static int
smarthost_auth_is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Decodes len bytes of base64 after checking them strictly: alphabet
 * only, length a multiple of 4, at most two '=' and only at the end.
 * Returns a malloc'd NUL-terminated buffer (*outlen bytes), or NULL.
 */
static unsigned char *
smarthost_auth_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > SMARTHOST_AUTH_B64_MAX)
		return NULL;
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!smarthost_auth_is_b64(in[i]))
			return NULL;
	out = xmalloc(3 * (len / 4) + 1);
	*outlen = 0;
	if (len > 0) {
		n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
		if (n < 0 || (size_t)n < pad) {
			free(out);
			return NULL;
		}
		*outlen = (size_t)n - pad;
	}
	out[*outlen] = '\0';
	return out;
}

/* Returns nonzero when s (len bytes) is printable ASCII only. */
static int
smarthost_auth_is_print(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* Returns the length of name with ',' and '=' escaped (RFC 5802). */
static size_t
smarthost_auth_saslname_len(const char *name)
{
	size_t n = 0;

	for (; *name != '\0'; name++)
		n += (*name == ',' || *name == '=') ? 3 : 1;
	return n;
}

/* Appends name with ',' as "=2C" and '=' as "=3D" (RFC 5802, 7628). */
static void
smarthost_auth_str_add_saslname(struct buf *s, const char *name)
{
	for (; *name != '\0'; name++) {
		if (*name == ',')
			smarthost_auth_str_adds(s, "=2C");
		else if (*name == '=')
			smarthost_auth_str_adds(s, "=3D");
		else
			smarthost_auth_str_add(s, name, 1);
	}
}

/* Returns the mechanism whose smarthost auth value is name, or -1. */
static int
smarthost_auth_mech_by_conf(const char *name)
{
	for (size_t i = 0; i < RQ_NELEM(smarthost_mechs); i++)
		if (strcasecmp(name, smarthost_mechs[i].conf_name) == 0)
			return (int)i;
	return -1;
}

/* Returns nonzero when the space-separated list offered holds name. */
static int
smarthost_auth_offers(const char *offered, const char *name)
{
	size_t n = strlen(name), w;

	if (offered == NULL)
		return 0;
	while (*offered != '\0') {
		offered += strspn(offered, " ");
		w = strcspn(offered, " ");
		if (w == n && strncasecmp(offered, name, n) == 0)
			return 1;
		offered += w;
	}
	return 0;
}

/*
 * Takes the first line of buf (len bytes), without its LF and trailing
 * CR, as the secret.  Returns 0, or -1 with *errstr when it is empty or
 * holds a NUL byte: "is empty", "holds a NUL byte", to follow "the first
 * line of ...".
 */
static int
smarthost_auth_first_line(const char *buf, size_t len, char **secret,
    size_t *secretlen, const char **errstr)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl != NULL ? (size_t)(nl - buf) : len;

	while (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		*errstr = "is empty";
		return -1;
	}
	if (memchr(buf, '\0', n) != NULL) {
		*errstr = "holds a NUL byte";
		return -1;
	}
	*secret = xmalloc(n + 1);
	memcpy(*secret, buf, n);
	(*secret)[n] = '\0';
	*secretlen = n;
	return 0;
}

/*
 * Opens (no symlink), checks and reads password_file; its first line is
 * the secret.  Returns 0, or -1 with err set.
 */
static int
smarthost_auth_read_file(const char *path, char **secret, size_t *secretlen,
    struct rq_err *err)
{
	char buf[SMARTHOST_AUTH_FILE_MAX + 1];
	const char *errstr;
	size_t len = 0;
	ssize_t n;
	int fd, rv = -1;

	if ((fd = secret_open("password_file", path, SMARTHOST_AUTH_FILE_MAX,
		 err)) == -1)
		return -1;
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rq_err_set(err, "password_file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SMARTHOST_AUTH_FILE_MAX) {
		secret_too_large("password_file", path, SMARTHOST_AUTH_FILE_MAX,
		    err);
		goto out;
	}
	if (smarthost_auth_first_line(buf, len, secret, secretlen, &errstr) ==
	    -1) {
		rq_err_set(err, "password_file %s: its first line %s", path,
		    errstr);
		goto out;
	}
	rv = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	(void)close(fd);
	return rv;
}

/* Returns CLOCK_MONOTONIC in milliseconds. */
static long long
smarthost_auth_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves fd above stderr (so the child's dup2() cannot clobber it). */
static int
smarthost_auth_fd_high(int fd)
{
	int nfd;

	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	(void)close(fd);
	return nfd;
}

/*
 * In the child: default SIGPIPE and an empty signal mask, stdin from
 * /dev/null, stdout to the pipe, nothing else inherited; then exec.
 */
static RQ_NORETURN void
smarthost_auth_child(int in, int out, char **argv)
{
	struct sigaction sa;
	sigset_t none;

	(void)setpgid(0, 0); /* smarthost_auth_command_kill() */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		_exit(126);
#ifdef HAVE_CLOSE_RANGE
	(void)close_range(STDERR_FILENO + 1, ~0U, 0);
#endif
	execvp(argv[0], argv);
	/* as the shells do: 127 not found, 126 found but not executable */
	_exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
}

/*
 * Waits until deadline for pid to exit, then kills it.  Returns 0 with
 * its wait status, or -1 (errno set) when it cannot be reaped.
 */
static int
smarthost_auth_reap(pid_t pid, long long deadline, int *status, int *timed_out)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (r == 0 && smarthost_auth_now_ms() >= deadline)
			break;
		if (r == 0)
			(void)poll(NULL, 0, SMARTHOST_AUTH_REAP_POLL_MS);
	}
	*timed_out = 1;
	smarthost_auth_command_kill(pid);
	while ((r = waitpid(pid, status, 0)) == -1 && errno == EINTR)
		;
	return r == pid ? 0 : -1;
}

/*
 * Reads the command's stdout from fd into buf until EOF, the deadline, or
 * more than bufsz - 1 bytes.
 */
static enum smarthost_auth_pipe
smarthost_auth_read_pipe(int fd, long long deadline, char *buf, size_t bufsz,
    size_t *len)
{
	struct pollfd pfd;
	long long left;
	ssize_t n;
	int rv;

	*len = 0;
	for (;;) {
		if ((left = deadline - smarthost_auth_now_ms()) <= 0)
			return SMARTHOST_AUTH_PIPE_TIMEOUT;
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rv = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rv == -1 && errno == EINTR)
			continue;
		if (rv == -1)
			return SMARTHOST_AUTH_PIPE_ERROR;
		if (rv == 0)
			continue;
		n = read(fd, buf + *len, bufsz - *len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return SMARTHOST_AUTH_PIPE_ERROR;
		if (n == 0)
			return SMARTHOST_AUTH_PIPE_EOF;
		*len += (size_t)n;
		if (*len >= bufsz)
			return SMARTHOST_AUTH_PIPE_FULL;
	}
}

/*
 * Writes how the command ended, from its wait status, into buf: "exited
 * with status N", with the shell's meaning of 126 and 127 (execvp failed
 * in the child), or "was killed by signal N".
 */
static void
smarthost_auth_status_text(int status, char *buf, size_t bufsz)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	if (WIFSIGNALED(status))
		(void)!rq_snprintf(buf, bufsz, "was killed by signal %d",
		    WTERMSIG(status));
	else
		(void)!rq_snprintf(buf, bufsz, "exited with status %d%s", code,
		    code == 127	      ? " (command not found)"
			: code == 126 ? " (not executable)"
				      : "");
}

/* Explains how the command ended, or takes its secret. */
int
smarthost_auth_command_result(const struct smarthost_auth_run *r, char **secret,
    size_t *secretlen, struct rq_err *err)
{
	const char *errstr, *prog = r->prog;
	int status = r->status;
	char how[64];

	err->msg[0] = '\0';
	smarthost_auth_status_text(status, how, sizeof(how));
	if ((r->how == SMARTHOST_AUTH_PIPE_TIMEOUT || r->timed_out) &&
	    r->exited)
		rq_err_set(err,
		    "password_command %s %s, but its output stayed open: a "
		    "process it started still holds it (killed after %d ms)",
		    prog, how, r->timeout_ms);
	else if (r->how == SMARTHOST_AUTH_PIPE_TIMEOUT || r->timed_out)
		rq_err_set(err, "password_command %s timed out after %d ms",
		    prog, r->timeout_ms);
	else if (r->how == SMARTHOST_AUTH_PIPE_FULL)
		rq_err_set(err,
		    "password_command %s printed more than %d bytes", prog,
		    SMARTHOST_AUTH_CMD_OUT_MAX);
	else if (r->how == SMARTHOST_AUTH_PIPE_ERROR)
		rq_err_set(err, "password_command %s: reading its output: %s",
		    prog, strerror(r->read_errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rq_err_set(err, "password_command %s %s", prog, how);
	else if (smarthost_auth_first_line(r->out, r->len, secret, secretlen,
		     &errstr) == -1)
		rq_err_set(err,
		    "password_command %s: the first line of its output %s",
		    prog, errstr);
	else
		return 0;
	return -1;
}

/*
 * Starts password_command: fork + execvp of its blank-separated words, no
 * shell, stdin /dev/null, stdout a pipe, stderr and the environment
 * inherited.  The secret only ever travels through the pipe, never argv
 * or environ.  SIGCHLD must not be SIG_IGN in the caller, or waitpid()
 * loses the exit status.
 */
int
smarthost_auth_command_start(const struct smarthost_auth *a,
    struct smarthost_auth_run *r, struct rq_err *err)
{
	char *argv[SMARTHOST_AUTH_ARGV_MAX + 1];
	char *cmd =
	    xstrdup(a->password_command != NULL ? a->password_command : "");
	int pfd[2] = { -1, -1 }, nullfd = -1, rv = -1;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->timeout_ms = a->cmd_timeout_ms;
	if (str_split_words(cmd, argv, SMARTHOST_AUTH_ARGV_MAX) < 1) {
		rq_err_set(err, "password_command: none, or over %d words",
		    SMARTHOST_AUTH_ARGV_MAX);
		goto out;
	}
	(void)strlcpy(r->prog, argv[0], sizeof(r->prog));
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		rq_err_set(err, "password_command: pipe: %s", strerror(errno));
		goto out;
	}
	pfd[0] = smarthost_auth_fd_high(pfd[0]);
	pfd[1] = smarthost_auth_fd_high(pfd[1]);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd != -1)
		nullfd = smarthost_auth_fd_high(nullfd);
	if (pfd[0] == -1 || pfd[1] == -1 || nullfd == -1) {
		rq_err_set(err, "password_command: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) == -1) {
		rq_err_set(err, "password_command: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		smarthost_auth_child(nullfd, pfd[1], argv);
	(void)setpgid(pid, pid); /* either side may win; EACCES after exec */
	r->pid = pid;
	r->pgid = pid;
	r->fd = pfd[0];
	pfd[0] = -1;
	rv = 0;
out:
	if (pfd[0] != -1)
		(void)close(pfd[0]);
	if (pfd[1] != -1)
		(void)close(pfd[1]);
	if (nullfd != -1)
		(void)close(nullfd);
	free(cmd);
	return rv;
}

/* Kills the command's process group, and the command itself. */
void
smarthost_auth_command_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
}

/* Kills what is left of the process group of a command already reaped. */
void
smarthost_auth_command_kill_group(pid_t pgid)
{
	if (pgid > 0)
		(void)kill(-pgid, SIGKILL);
}

/*
 * Runs password_command to the end (smarthost_auth_command_start(), then
 * reading and waiting here until the time limit) and takes the first
 * line of its stdout as the secret.  Returns 0, or -1 with err set.
 */
static int
smarthost_auth_run_command(const struct smarthost_auth *a, char **secret,
    size_t *secretlen, struct rq_err *err)
{
	struct smarthost_auth_run r;
	long long deadline;
	pid_t pid;
	int rv;

	deadline = smarthost_auth_now_ms() + a->cmd_timeout_ms;
	if (smarthost_auth_command_start(a, &r, err) == -1)
		return -1;
	r.how = smarthost_auth_read_pipe(r.fd, deadline, r.out, sizeof(r.out),
	    &r.len);
	r.read_errno = errno;
	if (r.how != SMARTHOST_AUTH_PIPE_EOF) {
		/* It may have exited, leaving a child holding the pipe. */
		while ((pid = waitpid(r.pid, &r.status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		r.exited = pid == r.pid;
		if (r.exited)
			smarthost_auth_command_kill_group(r.pgid);
		else
			smarthost_auth_command_kill(r.pid);
	}
	(void)close(r.fd);
	if (!r.exited &&
	    smarthost_auth_reap(r.pid, deadline, &r.status, &r.timed_out) ==
		-1) {
		rq_err_set(err, "password_command %s: waitpid: %s", r.prog,
		    strerror(errno));
		rv = -1;
	} else
		rv = smarthost_auth_command_result(&r, secret, secretlen, err);
	OPENSSL_cleanse(r.out, sizeof(r.out));
	return rv;
}

/*
 * Finds the policy of c's auth key: SMARTHOST_AUTH_AUTO, a mechanism, or
 * SMARTHOST_AUTH_OFF.  Returns 0, or -1 with err set when it is unknown.
 */
static int
smarthost_auth_policy(const struct conf *c, int *policy, struct rq_err *err)
{
	*policy = SMARTHOST_AUTH_OFF;
	if (strcasecmp(c->smarthosts[0].auth, "none") == 0)
		return 0;
	if (strcasecmp(c->smarthosts[0].auth, "auto") == 0) {
		*policy = SMARTHOST_AUTH_AUTO;
		return 0;
	}
	if ((*policy = smarthost_auth_mech_by_conf(c->smarthosts[0].auth)) ==
	    -1) {
		rq_err_set(err,
		    "smarthost auth = %s: unknown mechanism (auto, none, "
		    "scram-sha-256, cram-md5, plain, login, xoauth2, "
		    "oauthbearer)",
		    c->smarthosts[0].auth);
		return -1;
	}
	return 0;
}

/* Why AUTH cannot go with c's TLS settings, or NULL (see .h). */
static const char *
smarthost_auth_plain_why(const struct conf *c)
{
	if (c->smarthosts[0].tls == CONF_TLS_NONE &&
	    !c->smarthosts[0].allow_plaintext_auth)
		return "AUTH is configured with tls = none; AUTH is never "
		       "sent without TLS unless allow_plaintext_auth = yes";
	return NULL;
}

/* Checks the AUTH keys of c against one another (no file is read). */
int
smarthost_auth_check_conf(const struct conf *c, struct rq_err *err)
{
	const char *user = c->smarthosts[0].username;
	const char *file = c->smarthosts[0].password_file;
	const char *cmd = c->smarthosts[0].password_command;
	char *argv[SMARTHOST_AUTH_ARGV_MAX + 1], *copy;
	int policy, words;

	err->msg[0] = '\0';
	if (smarthost_auth_policy(c, &policy, err) == -1)
		return -1;
	/* Whatever else is set: a token URL means an OAuth2 mechanism. */
	if (c->smarthosts[0].oauth2_token_url[0] != '\0') {
		if (policy != SMARTHOST_MECH_XOAUTH2 &&
		    policy != SMARTHOST_MECH_OAUTHBEARER) {
			rq_err_set(err,
			    "smarthost oauth2_token_url needs auth = xoauth2 "
			    "or oauthbearer (not %s)",
			    c->smarthosts[0].auth);
			return -1;
		}
		if (file[0] != '\0' || cmd[0] != '\0') {
			rq_err_set(err,
			    "smarthost oauth2_token_url replaces "
			    "password_file and password_command: set none "
			    "of them");
			return -1;
		}
	}
	if (policy == SMARTHOST_AUTH_OFF)
		return 0;
	if (user[0] == '\0') {
		if (file[0] != '\0' || cmd[0] != '\0' ||
		    policy != SMARTHOST_AUTH_AUTO) {
			rq_err_set(err,
			    "smarthost username is empty but password_file, "
			    "password_command or auth is set");
			return -1;
		}
		return 0;
	}
	if (strlen(user) > SMARTHOST_AUTH_NAME_MAX ||
	    str_has_ctl(user, strlen(user))) {
		rq_err_set(err,
		    "smarthost username is longer than %d bytes or "
		    "holds a control character",
		    SMARTHOST_AUTH_NAME_MAX);
		return -1;
	}
	if (c->smarthosts[0].oauth2_token_url[0] == '\0' &&
	    (file[0] == '\0') == (cmd[0] == '\0')) {
		rq_err_set(err,
		    "smarthost: set exactly one of password_file "
		    "and password_command");
		return -1;
	}
	if (policy == SMARTHOST_MECH_OAUTHBEARER &&
	    (c->smarthosts[0].host[0] == '\0' ||
		strlen(c->smarthosts[0].host) > SMARTHOST_AUTH_NAME_MAX ||
		str_has_ctl(c->smarthosts[0].host,
		    strlen(c->smarthosts[0].host)))) {
		rq_err_set(err,
		    "smarthost auth = oauthbearer needs a valid "
		    "smarthost host");
		return -1;
	}
	if (cmd[0] != '\0') {
		copy = xstrdup(cmd);
		words = str_split_words(copy, argv, SMARTHOST_AUTH_ARGV_MAX);
		free(copy);
		if (words < 1) {
			rq_err_set(err,
			    "smarthost password_command is blank or has "
			    "more than %d words",
			    SMARTHOST_AUTH_ARGV_MAX);
			return -1;
		}
	}
	if (file[0] != '\0' && file[0] != '/') {
		rq_err_set(err,
		    "smarthost password_file %s is not an absolute path", file);
		return -1;
	}
	/* relayqd refuses it at start: so does check-config (issue 15). */
	if (smarthost_auth_plain_why(c) != NULL) {
		rq_err_set(err, "%s", smarthost_auth_plain_why(c));
		return -1;
	}
	return 0;
}

/* Checks that password_command's program can be run by uid. */
int
smarthost_auth_check_program(const struct conf *c, uid_t uid,
    struct rq_err *err)
{
	char *argv[SMARTHOST_AUTH_ARGV_MAX + 1];
	char *copy = xstrdup(c->smarthosts[0].password_command);
	int rv = 0;

	err->msg[0] = '\0';
	/* The runner's own split (smarthost_auth_command_start). */
	if (str_split_words(copy, argv, SMARTHOST_AUTH_ARGV_MAX) >= 1)
		rv = secret_check_program("smarthost password_command", argv[0],
		    getenv("PATH"), uid, err);
	free(copy);
	return rv;
}

/* Creates the daemon-wide AUTH policy from the configuration. */
struct smarthost_auth *
smarthost_auth_new(const struct conf *c, struct rq_err *err)
{
	const char *file = c->smarthosts[0].password_file;
	const char *cmd = c->smarthosts[0].password_command;
	struct smarthost_auth *a;
	char *secret = NULL;
	size_t secretlen = 0;
	int policy;

	if (smarthost_auth_check_conf(c, err) == -1 ||
	    smarthost_auth_policy(c, &policy, err) == -1 ||
	    policy == SMARTHOST_AUTH_OFF ||
	    c->smarthosts[0].username[0] == '\0')
		return NULL;
	/* fail at start-up, not at the first delivery */
	if (file[0] != '\0') {
		if (smarthost_auth_read_file(file, &secret, &secretlen, err) ==
		    -1)
			return NULL;
		OPENSSL_cleanse(secret, secretlen);
		free(secret);
	}

	a = xcalloc(1, sizeof(*a));
	a->username = xstrdup(c->smarthosts[0].username);
	a->password_file = file[0] != '\0' ? xstrdup(file) : NULL;
	a->password_command = cmd[0] != '\0' ? xstrdup(cmd) : NULL;
	a->host = xstrdup(c->smarthosts[0].host);
	a->port = c->smarthosts[0].port;
	a->policy = policy;
	a->cmd_timeout_ms = c->smarthosts[0].password_command_timeout > 0
	    ? (int)c->smarthosts[0].password_command_timeout * 1000
	    : SMARTHOST_AUTH_CMD_TIMEOUT_MS;
	a->oauth2 = c->smarthosts[0].oauth2_token_url[0] != '\0';
	return a;
}

/* Refuses AUTH without TLS unless plaintext AUTH is allowed. */
const char *
smarthost_auth_check_tls(const struct smarthost_auth *a, const struct conf *c)
{
	return a != NULL ? smarthost_auth_plain_why(c) : NULL;
}

/* Frees the policy. */
void
smarthost_auth_free(struct smarthost_auth *a)
{
	if (a == NULL)
		return;
	free(a->username);
	free(a->password_file);
	free(a->password_command);
	free(a->host);
	free(a);
}

/* Sets the password_command time limit. */
void
smarthost_auth_set_command_timeout(struct smarthost_auth *a, int ms)
{
	a->cmd_timeout_ms = ms > 0 ? ms : 1;
}

/* True when the secret comes from password_command. */
int
smarthost_auth_has_command(const struct smarthost_auth *a)
{
	return a != NULL && a->password_command != NULL;
}

/* Creates an exchange without its secret. */
static struct smarthost_sasl *
smarthost_sasl_alloc(const struct smarthost_auth *a)
{
	struct smarthost_sasl *s = xcalloc(1, sizeof(*s));

	s->username = xstrdup(a->username);
	s->host = xstrdup(a->host);
	s->port = a->port;
	s->policy = a->policy;
	s->mech = -1;
	return s;
}

/* True when the token comes from relayqd_oauth2. */
int
smarthost_auth_is_oauth2(const struct smarthost_auth *a)
{
	return a != NULL && a->oauth2;
}

/* Starts a session's exchange with an OAuth2 access token. */
struct smarthost_sasl *
smarthost_sasl_new_token(struct smarthost_auth *a, const char *token,
    struct rq_err *err)
{
	struct smarthost_sasl *s;

	err->msg[0] = '\0';
	if (token == NULL || token[0] == '\0') {
		rq_err_set(err, "no OAuth2 access token");
		return NULL;
	}
	s = smarthost_sasl_alloc(a);
	s->secretlen = strlen(token);
	s->secret = xmalloc(s->secretlen + 1);
	memcpy(s->secret, token, s->secretlen + 1);
	return s;
}

/* Starts a session's exchange, fetching the secret. */
struct smarthost_sasl *
smarthost_sasl_new(struct smarthost_auth *a, struct rq_err *err)
{
	struct smarthost_sasl *s;
	int rv;

	err->msg[0] = '\0';
	if (a->oauth2) {
		rq_err_set(err, "no OAuth2 access token");
		return NULL;
	}
	s = smarthost_sasl_alloc(a);
	if (a->password_file != NULL)
		rv = smarthost_auth_read_file(a->password_file, &s->secret,
		    &s->secretlen, err);
	else
		rv = smarthost_auth_run_command(a, &s->secret, &s->secretlen,
		    err);
	if (rv == -1) {
		smarthost_sasl_free(s);
		return NULL;
	}
	return s;
}

/* Sets the SCRAM client nonce (tests). */
int
smarthost_sasl_set_nonce(struct smarthost_sasl *s, const char *nonce)
{
	size_t n = strlen(nonce);

	if (n == 0 || n >= sizeof(s->nonce) || strchr(nonce, ',') != NULL ||
	    !smarthost_auth_is_print(nonce, n) || strchr(nonce, ' ') != NULL)
		return -1;
	memcpy(s->nonce, nonce, n + 1);
	return 0;
}

/*
 * Returns NULL when mechanism m can carry this session's credentials, or
 * why not.
 */
static const char *
smarthost_sasl_unfit(const struct smarthost_sasl *s, int m)
{
	switch (m) {
	case SMARTHOST_MECH_SCRAM_SHA_256:
		/* no SASLprep: it is the identity on printable ASCII */
		if (!smarthost_auth_is_print(s->username,
			strlen(s->username)) ||
		    !smarthost_auth_is_print(s->secret, s->secretlen))
			return "needs a printable-ASCII username and password "
			       "(no SASLprep)";
		return NULL;
	case SMARTHOST_MECH_XOAUTH2:
	case SMARTHOST_MECH_OAUTHBEARER:
		if (str_has_ctl(s->secret, s->secretlen))
			return "the token holds a control character";
		return NULL;
	default:
		return NULL;
	}
}

/* Chooses the mechanism for this session from the server's offer. */
static int
smarthost_sasl_choose(struct smarthost_sasl *s, const char *offered,
    struct rq_reason *why)
{
	const char *unfit;

	if (s->policy != SMARTHOST_AUTH_AUTO) {
		if (!smarthost_auth_offers(offered,
			smarthost_mechs[s->policy].name)) {
			smarthost_auth_why(why,
			    "server does not offer AUTH %s (it offers: %s)",
			    smarthost_mechs[s->policy].name, offered);
			return -1;
		}
		if ((unfit = smarthost_sasl_unfit(s, s->policy)) != NULL) {
			smarthost_auth_why(why, "AUTH %s: %s",
			    smarthost_mechs[s->policy].name, unfit);
			return -1;
		}
		s->mech = s->policy;
		return 0;
	}
	for (size_t i = 0; i < RQ_NELEM(smarthost_mechs); i++) {
		/*
		 * CRAM-MD5 only when asked for: it needs the server to keep
		 * the password in the clear, and over TLS PLAIN is no weaker.
		 */
		if (smarthost_mechs[i].token || i == SMARTHOST_MECH_CRAM_MD5 ||
		    !smarthost_auth_offers(offered, smarthost_mechs[i].name) ||
		    smarthost_sasl_unfit(s, (int)i) != NULL)
			continue;
		s->mech = (int)i;
		return 0;
	}
	smarthost_auth_why(why,
	    "server offers no AUTH mechanism usable with a password (it "
	    "offers: %s)%s",
	    offered,
	    smarthost_auth_offers(offered, "XOAUTH2") ||
		    smarthost_auth_offers(offered, "OAUTHBEARER")
		? "; set auth = xoauth2 or oauthbearer for a token"
		: "");
	return -1;
}

/* Chooses a mechanism and computes its initial response. */
int
smarthost_sasl_start(struct smarthost_sasl *s, const char *offered,
    const char **mech, char **resp, struct rq_reason *why)
{
	*mech = NULL;
	*resp = NULL;
	if (s->mech != -1) {
		smarthost_auth_why(why, "AUTH already started");
		return -1;
	}
	if (smarthost_sasl_choose(s, offered, why) == -1)
		return -1;
	*mech = smarthost_mechs[s->mech].name;
	return smarthost_mechs[s->mech].start(s, resp, why);
}

/* Answers one 334 challenge after checking its base64. */
int
smarthost_sasl_step(struct smarthost_sasl *s, const char *challenge, size_t len,
    char **resp, struct rq_reason *why)
{
	unsigned char *data;
	size_t dlen;
	int rv;

	*resp = NULL;
	if (s->mech == -1) {
		smarthost_auth_why(why, "AUTH challenge before AUTH");
		return -1;
	}
	if ((data = smarthost_auth_b64_decode(challenge, len, &dlen)) == NULL) {
		smarthost_auth_why(why,
		    "AUTH %s: server challenge is not valid base64",
		    smarthost_mechs[s->mech].name);
		return -1;
	}
	s->steps++;
	rv = smarthost_mechs[s->mech].step(s, data, dlen, resp, why);
	free(data);
	return rv;
}

/* Checks that the mechanism finished before the server's 235. */
int
smarthost_sasl_finish(struct smarthost_sasl *s, struct rq_reason *why)
{
	if (s->mech == -1) {
		smarthost_auth_why(why, "AUTH success before AUTH");
		return -1;
	}
	if (s->mech == SMARTHOST_MECH_SCRAM_SHA_256 && !s->complete) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: server accepted without proving it "
		    "knows the password (no server signature)");
		return -1;
	}
	return 0;
}

/* Wipes and frees a session's exchange. */
void
smarthost_sasl_free(struct smarthost_sasl *s)
{
	if (s == NULL)
		return;
	if (s->secret != NULL) {
		OPENSSL_cleanse(s->secret, s->secretlen);
		free(s->secret);
	}
	free(s->client_first_bare);
	free(s->username);
	free(s->host);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* ops->auth_start for a session: a new exchange, then its start. */
int
smarthost_sasl_begin(struct smarthost_auth *a, struct smarthost_sasl **s,
    const char *token, const char *offered, const char **mech, char **resp,
    struct rq_reason *why)
{
	struct rq_err err;

	*mech = NULL;
	*resp = NULL;
	if (a == NULL) {
		rq_reason_set(why, 0, "", "AUTH is not configured");
		return -1;
	}
	smarthost_sasl_free(*s);
	*s = smarthost_auth_is_oauth2(a) ||
		(a->password_command != NULL && token != NULL)
	    ? smarthost_sasl_new_token(a, token, &err)
	    : smarthost_sasl_new(a, &err);
	if (*s == NULL) {
		rq_reason_set(why, 0, "", err.msg);
		return -1;
	}
	return smarthost_sasl_start(*s, offered, mech, resp, why);
}

/* ops->auth_step for a session. */
int
smarthost_sasl_answer(struct smarthost_sasl *s, const char *challenge,
    size_t len, char **resp, struct rq_reason *why)
{
	if (s == NULL) {
		*resp = NULL;
		rq_reason_set(why, 0, "", "AUTH challenge without an exchange");
		return -1;
	}
	return smarthost_sasl_step(s, challenge, len, resp, why);
}

/* ops->auth_done for a session: the verdict, then the secret goes. */
int
smarthost_sasl_end(struct smarthost_sasl **s, struct rq_reason *why)
{
	int rv;

	if (*s == NULL)
		return 0;
	rv = smarthost_sasl_finish(*s, why);
	smarthost_sasl_free(*s);
	*s = NULL;
	return rv;
}

/* Fails a step that the mechanism does not expect. */
static int
smarthost_sasl_unexpected(struct smarthost_sasl *s, struct rq_reason *why)
{
	smarthost_auth_why(why, "AUTH %s: unexpected challenge %d",
	    smarthost_mechs[s->mech].name, s->steps);
	return -1;
}

/* Mechanisms without an initial response (LOGIN, CRAM-MD5). */
static int
smarthost_sasl_none_start(struct smarthost_sasl *s, char **resp,
    struct rq_reason *why)
{
	(void)s;
	(void)why;
	*resp = NULL;
	return 0;
}

/* PLAIN: base64(NUL user NUL password), sent as the initial response. */
static int
smarthost_sasl_plain_start(struct smarthost_sasl *s, char **resp,
    struct rq_reason *why)
{
	struct buf m;

	(void)why;
	buf_init_secret(&m, strlen(s->username) + s->secretlen + 2);
	smarthost_auth_str_add(&m, "", 1);
	smarthost_auth_str_adds(&m, s->username);
	smarthost_auth_str_add(&m, "", 1);
	smarthost_auth_str_add(&m, s->secret, s->secretlen);
	*resp = smarthost_auth_b64_encode(m.data, m.len);
	buf_wipe(&m);
	s->complete = 1;
	return 0;
}

/* PLAIN sent everything up front: a challenge is an error. */
static int
smarthost_sasl_plain_step(struct smarthost_sasl *s, const unsigned char *data,
    size_t len, char **resp, struct rq_reason *why)
{
	(void)data;
	(void)len;
	(void)resp;
	return smarthost_sasl_unexpected(s, why);
}

/* LOGIN: the username, then the password, by step (not by prompt). */
static int
smarthost_sasl_login_step(struct smarthost_sasl *s, const unsigned char *data,
    size_t len, char **resp, struct rq_reason *why)
{
	(void)data;
	(void)len;
	if (s->steps == 1) {
		*resp =
		    smarthost_auth_b64_encode(s->username, strlen(s->username));
		return 0;
	}
	if (s->steps == 2) {
		*resp = smarthost_auth_b64_encode(s->secret, s->secretlen);
		s->complete = 1;
		return 0;
	}
	return smarthost_sasl_unexpected(s, why);
}

/* CRAM-MD5 (RFC 2195): "user HEX(HMAC-MD5(password, challenge))". */
static int
smarthost_sasl_cram_step(struct smarthost_sasl *s, const unsigned char *data,
    size_t len, char **resp, struct rq_reason *why)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf m;

	if (s->steps != 1)
		return smarthost_sasl_unexpected(s, why);
	if (len == 0) {
		smarthost_auth_why(why, "AUTH CRAM-MD5: empty challenge");
		return -1;
	}
	if (HMAC(EVP_md5(), s->secret, (int)s->secretlen, data, len, md,
		&mdlen) == NULL ||
	    mdlen != 16) {
		OPENSSL_cleanse(md, sizeof(md));
		smarthost_auth_why(why, "AUTH CRAM-MD5: HMAC-MD5 unavailable");
		return -1;
	}
	buf_init_secret(&m, strlen(s->username) + 1 + 2 * mdlen);
	smarthost_auth_str_adds(&m, s->username);
	smarthost_auth_str_add(&m, " ", 1);
	for (unsigned int i = 0; i < mdlen; i++) {
		smarthost_auth_str_add(&m, &hex[md[i] >> 4], 1);
		smarthost_auth_str_add(&m, &hex[md[i] & 0x0f], 1);
	}
	*resp = smarthost_auth_b64_encode(m.data, m.len);
	buf_wipe(&m);
	OPENSSL_cleanse(md, sizeof(md));
	s->complete = 1;
	return 0;
}

/* SCRAM-SHA-256 client-first: "n,,n=user,r=nonce" (no channel binding). */
static int
smarthost_sasl_scram_start(struct smarthost_sasl *s, char **resp,
    struct rq_reason *why)
{
	unsigned char rnd[SMARTHOST_AUTH_NONCE_BYTES];
	struct buf m;

	if (s->nonce[0] == '\0') {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			smarthost_auth_why(why,
			    "AUTH SCRAM-SHA-256: no random bytes for the "
			    "nonce");
			return -1;
		}
		/* 24 base64 characters: never a ',' */
		(void)EVP_EncodeBlock((unsigned char *)s->nonce, rnd,
		    (int)sizeof(rnd));
		OPENSSL_cleanse(rnd, sizeof(rnd));
	}
	buf_init_secret(&m,
	    5 + smarthost_auth_saslname_len(s->username) + strlen(s->nonce));
	smarthost_auth_str_adds(&m, "n=");
	smarthost_auth_str_add_saslname(&m, s->username);
	smarthost_auth_str_adds(&m, ",r=");
	smarthost_auth_str_adds(&m, s->nonce);
	s->client_first_bare = xstrdup(m.data);
	buf_wipe(&m);

	buf_init_secret(&m, 3 + strlen(s->client_first_bare));
	smarthost_auth_str_adds(&m, "n,,");
	smarthost_auth_str_adds(&m, s->client_first_bare);
	*resp = smarthost_auth_b64_encode(m.data, m.len);
	buf_wipe(&m);
	return 0;
}

/*
 * Parses server-first "r=NONCE,s=SALT,i=ITER[,ext]": the nonce must
 * extend ours; the iteration count must lie in our bounds.  Returns 0
 * with *nonce and *nlen (borrowed from msg), the decoded salt (malloc'd) and
 * the count, or -1 with why set.
 */
static int
smarthost_sasl_scram_parse(struct smarthost_sasl *s, const char *msg,
    const char **nonce, size_t *nlen, unsigned char **salt, size_t *saltlen,
    long long *iter, struct rq_reason *why)
{
	const char *p = msg, *errstr, *sv;
	char num[16];
	size_t n, cn = strlen(s->nonce);

	if (strncmp(p, "m=", 2) == 0) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: server demands an extension");
		return -1;
	}
	if (strncmp(p, "r=", 2) != 0)
		goto bad;
	*nonce = p + 2;
	*nlen = strcspn(*nonce, ",");
	if (*nlen <= cn || memcmp(*nonce, s->nonce, cn) != 0) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: server nonce does not extend ours");
		return -1;
	}
	p = *nonce + *nlen;
	if (strncmp(p, ",s=", 3) != 0)
		goto bad;
	sv = p + 3;
	n = strcspn(sv, ",");
	p = sv + n;
	if (n == 0 ||
	    (*salt = smarthost_auth_b64_decode(sv, n, saltlen)) == NULL)
		goto bad;
	if (*saltlen == 0 || *saltlen > SMARTHOST_AUTH_SALT_MAX) {
		free(*salt);
		goto bad;
	}
	if (strncmp(p, ",i=", 3) != 0 ||
	    (n = strcspn(p + 3, ",")) >= sizeof(num)) {
		free(*salt);
		goto bad;
	}
	memcpy(num, p + 3, n);
	num[n] = '\0';
	if (str_to_ll(num, SMARTHOST_AUTH_SCRAM_ITER_MIN,
		SMARTHOST_AUTH_SCRAM_ITER_MAX, iter, &errstr) == -1) {
		free(*salt);
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: iteration count %s is %s (allowed "
		    "%d to %d)",
		    num, errstr, SMARTHOST_AUTH_SCRAM_ITER_MIN,
		    SMARTHOST_AUTH_SCRAM_ITER_MAX);
		return -1;
	}
	return 0;
bad:
	smarthost_auth_why(why,
	    "AUTH SCRAM-SHA-256: malformed server-first message");
	return -1;
}

/*
 * Answers server-first with client-final "c=biws,r=NONCE,p=PROOF" and
 * keeps the server signature it must send back (RFC 5802 section 3).
 */
static int
smarthost_sasl_scram_final(struct smarthost_sasl *s, const char *msg,
    char **resp, struct rq_reason *why)
{
	unsigned char salted[SMARTHOST_AUTH_SCRAM_KEY];
	unsigned char ckey[SMARTHOST_AUTH_SCRAM_KEY];
	unsigned char stored[SMARTHOST_AUTH_SCRAM_KEY];
	unsigned char csig[SMARTHOST_AUTH_SCRAM_KEY];
	unsigned char skey[SMARTHOST_AUTH_SCRAM_KEY];
	struct buf am = { NULL, 0, 0, 0 }, cf = { NULL, 0, 0, 0 };
	unsigned char *salt = NULL;
	const char *nonce;
	size_t nlen, saltlen;
	long long iter;
	char *proof;
	int rv = -1;

	if (smarthost_sasl_scram_parse(s, msg, &nonce, &nlen, &salt, &saltlen,
		&iter, why) == -1)
		return -1;
	/* client-final-without-proof */
	buf_init_secret(&cf, 9 + nlen + 3 + 44);
	smarthost_auth_str_adds(&cf, "c=biws,r=");
	smarthost_auth_str_add(&cf, nonce, nlen);
	/* AuthMessage */
	buf_init_secret(&am,
	    strlen(s->client_first_bare) + strlen(msg) + cf.len + 2);
	smarthost_auth_str_adds(&am, s->client_first_bare);
	smarthost_auth_str_adds(&am, ",");
	smarthost_auth_str_adds(&am, msg);
	smarthost_auth_str_adds(&am, ",");
	smarthost_auth_str_add(&am, cf.data, cf.len);

	if (PKCS5_PBKDF2_HMAC(s->secret, (int)s->secretlen, salt, (int)saltlen,
		(int)iter, EVP_sha256(), sizeof(salted), salted) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
		(const unsigned char *)"Client Key", 10, ckey, NULL) == NULL ||
	    SHA256(ckey, sizeof(ckey), stored) == NULL ||
	    HMAC(EVP_sha256(), stored, sizeof(stored),
		(const unsigned char *)am.data, am.len, csig, NULL) == NULL ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
		(const unsigned char *)"Server Key", 10, skey, NULL) == NULL ||
	    HMAC(EVP_sha256(), skey, sizeof(skey),
		(const unsigned char *)am.data, am.len, s->server_sig,
		NULL) == NULL) {
		smarthost_auth_why(why, "AUTH SCRAM-SHA-256: OpenSSL failed");
		goto out;
	}
	for (size_t i = 0; i < sizeof(csig); i++)
		csig[i] ^= ckey[i]; /* ClientProof */
	proof = smarthost_auth_b64_encode(csig, sizeof(csig));
	smarthost_auth_str_adds(&cf, ",p=");
	smarthost_auth_str_adds(&cf, proof);
	OPENSSL_cleanse(proof, strlen(proof));
	free(proof);
	*resp = smarthost_auth_b64_encode(cf.data, cf.len);
	rv = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(csig, sizeof(csig));
	OPENSSL_cleanse(skey, sizeof(skey));
	buf_wipe(&am);
	buf_wipe(&cf);
	free(salt);
	return rv;
}

/* Checks server-final "v=SIGNATURE" in constant time; answers "". */
static int
smarthost_sasl_scram_verify(struct smarthost_sasl *s, const char *msg,
    char **resp, struct rq_reason *why)
{
	unsigned char *v;
	size_t n, vlen;
	int same;

	if (strncmp(msg, "e=", 2) == 0) {
		n = strcspn(msg + 2, ",");
		smarthost_auth_why(why, "AUTH SCRAM-SHA-256: server error %.*s",
		    (int)(n > 64 ? 64 : n), msg + 2);
		return -1;
	}
	n = strcspn(msg + 2, ",");
	if (strncmp(msg, "v=", 2) != 0 ||
	    (v = smarthost_auth_b64_decode(msg + 2, n, &vlen)) == NULL) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: malformed server-final message");
		return -1;
	}
	same = vlen == sizeof(s->server_sig) &&
	    CRYPTO_memcmp(v, s->server_sig, sizeof(s->server_sig)) == 0;
	free(v);
	if (!same) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: server signature does not verify");
		return -1;
	}
	s->complete = 1;
	*resp = xstrdup("");
	return 0;
}

/* SCRAM-SHA-256 steps: server-first, then server-final. */
static int
smarthost_sasl_scram_step(struct smarthost_sasl *s, const unsigned char *data,
    size_t len, char **resp, struct rq_reason *why)
{
	const char *msg = (const char *)data;

	if (s->steps > 2 || s->client_first_bare == NULL)
		return smarthost_sasl_unexpected(s, why);
	if (len == 0 || !smarthost_auth_is_print(msg, len)) {
		smarthost_auth_why(why,
		    "AUTH SCRAM-SHA-256: malformed server message");
		return -1;
	}
	if (s->steps == 1)
		return smarthost_sasl_scram_final(s, msg, resp, why);
	return smarthost_sasl_scram_verify(s, msg, resp, why);
}

/*
 * Ends a bearer-token initial response (XOAUTH2, OAUTHBEARER): m holds
 * the mechanism's own fields, sized with SMARTHOST_AUTH_BEARER_LEN more
 * bytes and the token; appends "auth=Bearer T^A^A", encodes it into
 * *resp and wipes m.
 */
static int
smarthost_sasl_bearer_finish(struct smarthost_sasl *s, struct buf *m,
    char **resp)
{
	smarthost_auth_str_adds(m, "auth=Bearer ");
	smarthost_auth_str_add(m, s->secret, s->secretlen);
	smarthost_auth_str_adds(m, "\001\001");
	*resp = smarthost_auth_b64_encode(m->data, m->len);
	buf_wipe(m);
	s->complete = 1;
	return 0;
}

/* XOAUTH2: "user=U^Aauth=Bearer T^A^A" as the initial response. */
static int
smarthost_sasl_xoauth2_start(struct smarthost_sasl *s, char **resp,
    struct rq_reason *why)
{
	struct buf m;

	(void)why;
	buf_init_secret(&m,
	    strlen(s->username) + 6 + SMARTHOST_AUTH_BEARER_LEN + s->secretlen);
	smarthost_auth_str_adds(&m, "user=");
	smarthost_auth_str_adds(&m, s->username);
	smarthost_auth_str_adds(&m, "\001");
	return smarthost_sasl_bearer_finish(s, &m, resp);
}

/*
 * OAUTHBEARER (RFC 7628 section 3.1):
 * "n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A" as the initial response.
 */
static int
smarthost_sasl_oauthbearer_start(struct smarthost_sasl *s, char **resp,
    struct rq_reason *why)
{
	struct buf m;
	char port[16];

	(void)why;
	(void)snprintf(port, sizeof(port), "%d", s->port);
	buf_init_secret(&m,
	    smarthost_auth_saslname_len(s->username) + strlen(s->host) +
		strlen(port) + 18 + SMARTHOST_AUTH_BEARER_LEN + s->secretlen);
	smarthost_auth_str_adds(&m, "n,a=");
	smarthost_auth_str_add_saslname(&m, s->username);
	smarthost_auth_str_adds(&m, ",\001host=");
	smarthost_auth_str_adds(&m, s->host);
	smarthost_auth_str_adds(&m, "\001port=");
	smarthost_auth_str_adds(&m, port);
	smarthost_auth_str_adds(&m, "\001");
	return smarthost_sasl_bearer_finish(s, &m, resp);
}

/*
 * XOAUTH2 and OAUTHBEARER: a challenge is the server's error JSON, and
 * the answer ends the exchange so that the failure reply follows: an
 * empty line for XOAUTH2 (Google), "^A" for OAUTHBEARER (RFC 7628
 * section 3.2.3).
 */
static int
smarthost_sasl_bearer_step(struct smarthost_sasl *s, const unsigned char *data,
    size_t len, char **resp, struct rq_reason *why)
{
	(void)data;
	(void)len;
	if (s->steps != 1)
		return smarthost_sasl_unexpected(s, why);
	*resp = s->mech == SMARTHOST_MECH_XOAUTH2
	    ? xstrdup("")
	    : smarthost_auth_b64_encode("\001", 1);
	return 0;
}
