/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * main() of the front end, installed as sendmail (setgid relayq), mailq
 * and newaliases.  It owns process set-up and the decisions that need
 * privilege or the environment; the work is in sendmail_args (command
 * line), sendmail_msg (message rewriting) and sendmail_submit (spool).
 *
 * Start-up order, each step before anything that depends on it:
 *  1. fds 0-2 are made valid (/dev/null), so no spool file can become
 *     stdout; umask 077 (libqueue fchmods its files to 0640); SIGPIPE
 *     and SIGXFSZ ignored, SIGINT/SIGTERM/SIGHUP set a flag (unless the
 *     caller ignored them) and make the submission fail with 75;
 *  2. the command line is parsed; a usage error exits 64 before stdin
 *     or any file is read;
 *  3. a non-default configuration (-C or $RELAYQ_CONFIG) while setgid
 *     drops the group privilege for good first (setregid; verified);
 *  4. the configuration is loaded (78 on any error);
 *  5. sender and argv recipients are parsed and validated (64; 65 for
 *     a control character such as CR or LF, an injection attempt);
 *  6. the spool is opened (73/75), the process chdirs into it, the
 *     message is queued, and relayqd is poked unless -odq/-odd.
 *
 * The front end never talks to the network, never opens credentials,
 * never opens the -X file, and logs only to stderr, prefixed "relayq:".
 * It reaches relayqd only through the spool: the wake FIFO (a poke, the
 * flush byte, or "I<id>" records for -qR/-qS/-qI) and, for -v, the
 * <spool>/verbose socket (sendmail_verbose.c), over which relayqd
 * delivers the message now and streams back the redacted dialogue.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/aliases.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_list.h"
#include "queue/queue_scan.h"
#include "queue/queue_state.h"
#include "queue/queue_spool.h"
#include "sendmail/sendmail_args.h"
#include "sendmail/sendmail_smtp.h"
#include "sendmail/sendmail_socket.h"
#include "sendmail/sendmail_verbose.h"
#include "sendmail/sendmail_submit.h"

/* Longest full name used for From:, in bytes. */
#define SENDMAIL_NAME_MAX 256
/* Longest login name kept for X-Authentication-Warning, with its NUL. */
#define SENDMAIL_LOGIN_MAX 65

/* Set by SIGINT, SIGTERM and SIGHUP; checked while reading input. */
static volatile sig_atomic_t sendmail_stop;

/* Records a terminating signal. */
static void
sendmail_signal_cb(int sig)
{
	(void)sig;
	sendmail_stop = 1;
}

/* Makes sure fds 0, 1 and 2 are open, on /dev/null if need be. */
static int
sendmail_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((nfd = open("/dev/null", O_RDWR)) != fd) {
			if (nfd != -1)
				(void)close(nfd);
			return -1;
		}
	}
	return 0;
}

/* Installs the signal dispositions described above. */
static void
sendmail_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGXFSZ, &sa, NULL);
	/* No SA_RESTART: a blocked read() must return EINTR. */
	sa.sa_handler = sendmail_signal_cb;
	for (size_t i = 0; i < RQ_NELEM(sigs); i++) {
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue; /* nohup and friends: stay ignored */
		(void)sigaction(sigs[i], &sa, NULL);
	}
}

/* Gives up the setgid group for good; returns 0 or -1. */
static int
sendmail_drop_group(void)
{
	gid_t gid = getgid(), egid = getegid();

	if (egid == gid)
		return 0;
	if (setregid(gid, gid) == -1)
		return -1;
	if (getgid() != gid || getegid() != gid)
		return -1;
	/* The saved set-group-ID must be gone too. */
	if (setegid(egid) != -1)
		return -1;
	return 0;
}

/* Prints the usage summary. */
static void
sendmail_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: sendmail [-i] [-t] [-v] [-f sender] [-F name] [-C config]\n"
	    "                [-odq] [-B 7BIT|8BITMIME] [-N dsn] [-R ret] [-V "
	    "envid]\n"
	    "                [--] [recipient ...]\n"
	    "       sendmail -bs\n"
	    "       sendmail -bp | mailq\n"
	    "       sendmail -bi | newaliases\n"
	    "       sendmail -q[R|S|I substr]\n"
	    "       sendmail -bv recipient ...\n"
	    "       sendmail --help | --version\n");
}

/* Copies the full name for From: (-F, $NAME, then the gecos field). */
static void
sendmail_fullname(const struct sendmail_opts *o, const struct passwd *pw,
    char *buf, size_t bufsz)
{
	const char *env;
	size_t o_len = 0;

	buf[0] = '\0';
	if (o->fullname != NULL) {
		(void)strlcpy(buf, o->fullname, bufsz);
		return;
	}
	if ((env = getenv("NAME")) != NULL && *env != '\0') {
		(void)strlcpy(buf, env, bufsz);
		return;
	}
	if (pw == NULL || pw->pw_gecos == NULL)
		return;
	/* BSD gecos: the name ends at ','; '&' is the capitalised login. */
	for (const char *p = pw->pw_gecos; *p != '\0' && *p != ','; p++) {
		if (*p == '&') {
			for (const char *l = pw->pw_name; *l != '\0'; l++) {
				if (o_len + 1 >= bufsz)
					break;
				buf[o_len++] =
				    l == pw->pw_name && *l >= 'a' && *l <= 'z'
				    ? (char)(*l - 'a' + 'A')
				    : *l;
			}
		} else if (o_len + 1 < bufsz)
			buf[o_len++] = *p;
	}
	buf[o_len] = '\0';
}

/* Rewrites a sender at this host to the masquerade domain. */
static void
sendmail_masquerade(const struct conf *conf, char **sender)
{
	const char *at;
	char *n;
	size_t len;

	if (conf->masquerade[0] == '\0' ||
	    (at = strrchr(*sender, '@')) == NULL || (*sender)[0] == '"')
		return;
	if (strcasecmp(at + 1, "localhost") != 0 &&
	    strcasecmp(at + 1, "localhost.localdomain") != 0 &&
	    strcasecmp(at + 1, conf->hostname) != 0)
		return;
	len = (size_t)(at - *sender);
	(void)xasprintf(&n, "%.*s@%s", (int)len, *sender, conf->masquerade);
	log_debug("sender %s masqueraded as %s", *sender, n);
	free(*sender);
	*sender = n;
}

/*
 * Works out the envelope sender: -f/-r parsed strictly, or the login
 * name of the real uid at the default domain.  Returns EX_OK or a
 * sysexits code with a message printed.
 */
static int
sendmail_sender(const struct sendmail_opts *o, const struct conf *conf,
    const struct passwd *pw, char **sender)
{
	const char *errstr = NULL, *src;
	const char *dom = conf->masquerade[0] != '\0' ? conf->masquerade
						      : conf->default_domain;
	int from_given = o->sender != NULL;

	if (from_given && !conf->allow_from_override && getuid() != 0) {
		log_warnx("ignoring -f/-r %s: allow_from_override = no",
		    o->sender);
		from_given = 0;
	}
	if (from_given) {
		if (o->nsender > 1)
			log_warnx("-f/-r given %d times; using the last one",
			    o->nsender);
		src = o->sender;
	} else if (pw == NULL) {
		log_warnx("no login name found for user ID %lu",
		    (unsigned long)getuid());
		return EX_OSERR;
	} else
		src = pw->pw_name;
	if (str_has_ctl(src, strlen(src))) {
		/* CR, LF (NUL cannot be in argv): injection, EX_DATAERR. */
		log_warnx("invalid sender address \"%s\": control character "
			  "in address",
		    src);
		return from_given ? EX_DATAERR : EX_OSERR;
	}
	if (addr_parse_sender(src, dom, sender, &errstr) == -1) {
		log_warnx("invalid sender address \"%s\": %s", src,
		    errstr != NULL ? errstr : "syntax error");
		return from_given ? EX_USAGE : EX_OSERR;
	}
	sendmail_masquerade(conf, sender);
	if (!from_given && (*sender)[0] == '\0') {
		free(*sender);
		*sender = NULL;
		log_warnx("cannot make a sender address from the login name");
		return EX_OSERR;
	}
	return EX_OK;
}

/*
 * Sets *addr to the login address of the real uid (what
 * sendmail_sender() gives without -f) and name to the login name, or
 * "uid N" with *addr NULL when there is no passwd entry.
 */
static void
sendmail_login(const struct sendmail_opts *o, const struct conf *conf,
    const struct passwd *pw, char **addr, char *name, size_t namesz)
{
	struct sendmail_opts lo = *o;

	*addr = NULL;
	if (pw == NULL) {
		(void)snprintf(name, namesz, "uid %lu",
		    (unsigned long)getuid());
		return;
	}
	(void)strlcpy(name, pw->pw_name, namesz);
	lo.sender = NULL;
	if (sendmail_sender(&lo, conf, pw, addr) != EX_OK)
		*addr = NULL;
}

/*
 * Parses every recipient argument into l; returns EX_OK, EX_DATAERR for a
 * control character (CR, LF: an injection attempt), or EX_USAGE.
 */
static int
sendmail_rcpts(const struct sendmail_opts *o, const struct conf *conf,
    struct addr_list *l)
{
	for (int i = 0; i < o->nrcpts; i++) {
		const char *arg = o->rcpts[i], *errstr = NULL;
		struct addr_list one;

		addr_list_init(&one);
		for (const char *p = arg; *p != '\0'; p++) {
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f) {
				log_warnx("invalid recipient \"%s\": control "
					  "character in address",
				    arg);
				return EX_DATAERR;
			}
		}
		if (addr_parse_list_ex(arg, strlen(arg), conf->default_domain,
			ADDR_F_KEEP_BARE, &one, NULL, &errstr) == -1) {
			log_warnx("invalid recipient \"%s\": %s", arg, errstr);
			return EX_USAGE;
		}
		if (one.n == 0) {
			log_warnx("invalid recipient \"%s\": no address", arg);
			return EX_USAGE;
		}
		for (size_t k = 0; k < one.n; k++)
			(void)addr_list_add(l, one.v[k]);
		addr_list_free(&one);
	}
	return EX_OK;
}

/* Loads the configured aliases file into a; warnings on stderr. */
static int
sendmail_aliases(const struct conf *conf, struct aliases *a, int quiet)
{
	int n;

	aliases_init(a);
	if (conf->aliases[0] == '\0')
		return 0;
	n = aliases_load(a, conf->aliases,
	    quiet ? NULL : sendmail_submit_alias_warn, NULL);
	if (n == -1) {
		log_warn("cannot read aliases file %s; not using aliases",
		    conf->aliases);
		return -1;
	}
	log_debug("%s: %zu aliases", conf->aliases, a->n);
	return n;
}

/* -bi, newaliases: checks the aliases file and reports every problem. */
static int
sendmail_newaliases(const struct conf *conf)
{
	struct aliases a;
	int n;

	if (conf->aliases[0] == '\0') {
		log_debug("no aliases file configured (relayq has no local "
			  "alias database)");
		return EX_OK;
	}
	if ((n = sendmail_aliases(conf, &a, 0)) == -1)
		return errno == ENOENT ? EX_OK : EX_CONFIG;
	n += aliases_check(&a, conf->default_domain, sendmail_submit_alias_warn,
	    NULL);
	log_debug("%s: %zu aliases, %d problem%s", conf->aliases, a.n, n,
	    n == 1 ? "" : "s");
	aliases_free(&a);
	return n > 0 ? EX_CONFIG : EX_OK;
}

/* -bv: checks each recipient's syntax and says where it would go. */
static int
sendmail_verify(const struct sendmail_opts *o, const struct conf *conf)
{
	struct aliases a;
	int rc = EX_OK;

	(void)sendmail_aliases(conf, &a, 1);
	for (int i = 0; i < o->nrcpts; i++) {
		const char *errstr = "control character in address";
		char shown[512];
		struct addr_list l;
		int n = -1;

		addr_list_init(&l);
		str_sanitize(shown, sizeof(shown), o->rcpts[i],
		    strlen(o->rcpts[i]));
		if (!str_has_ctl(o->rcpts[i], strlen(o->rcpts[i])))
			n = addr_parse_list_ex(o->rcpts[i], strlen(o->rcpts[i]),
			    conf->default_domain, ADDR_F_KEEP_BARE, &l, NULL,
			    &errstr);
		if (n != -1)
			(void)sendmail_submit_resolve(conf, &a, &l);
		if (n == -1 || l.n == 0) {
			printf("%s... invalid address: %s\n", shown,
			    n == -1 ? errstr : "no address");
			rc = EX_NOUSER;
		}
		for (size_t k = 0; k < l.n; k++) {
			str_sanitize(shown, sizeof(shown), l.v[k],
			    strlen(l.v[k]));
			printf("%s... deliverable: relayed via %s\n", shown,
			    conf->smarthosts[0].host[0] != '\0'
				? conf->smarthosts[0].host
				: "(no smarthost configured)");
		}
		addr_list_free(&l);
	}
	aliases_free(&a);
	if (fflush(stdout) == EOF)
		return EX_IOERR;
	return rc;
}

/* Opens the spool with flags and moves into it. */
static int
sendmail_open_spool(const struct conf *conf, int flags, struct queue_spool *sp)
{
	struct rq_err err;
	int e;

	if (queue_spool_open(sp, conf->spool_dir, flags, &err) == -1) {
		e = errno;
		log_warnx("%s", err.msg);
		return sendmail_submit_exit_for_errno(e);
	}
	if (chdir(conf->spool_dir) == -1) {
		e = errno;
		log_warn("cannot chdir to %s", conf->spool_dir);
		queue_spool_close(sp);
		return sendmail_submit_exit_for_errno(e);
	}
	return EX_OK;
}

/*
 * Opens the way a submission goes ([relayq] submission): the spool
 * (opened, and the process moves into it) or relayqd's socket.
 */
static int
sendmail_open_path(const struct conf *conf, struct queue_spool *sp,
    struct sendmail_socket *ss, int *use_socket)
{
	struct rq_err err;
	int rc;

	*use_socket = 0;
	ss->stop = &sendmail_stop;
	if (strcmp(conf->submission, "spool") == 0)
		return sendmail_open_spool(conf,
		    QUEUE_SPOOL_FRONTEND | QUEUE_SPOOL_CREATE, sp);
	if ((rc = sendmail_socket_choose(conf, sp, ss, use_socket, &err)) !=
	    EX_OK) {
		log_warnx("%s", err.msg);
		return rc;
	}
	ss->stop = &sendmail_stop;
	if (!*use_socket && chdir(conf->spool_dir) == -1) {
		rc = sendmail_submit_exit_for_errno(errno);
		log_warn("cannot chdir to %s", conf->spool_dir);
		queue_spool_close(sp);
		return rc;
	}
	return EX_OK;
}

/* -bp / mailq: lists the spool on stdout. */
static int
sendmail_list(const struct conf *conf)
{
	struct queue_spool sp;
	int rc = EX_OK;

	if ((rc = sendmail_open_spool(conf, QUEUE_SPOOL_READER, &sp)) != EX_OK)
		return rc;
	/* mailq_all_users = no: a user other than root sees only theirs. */
	if (queue_list_print_route(&sp, stdout, 0,
		conf->mailq_all_users || getuid() == 0 ? -1
						       : (long long)getuid(),
		conf_route_label, conf) == -1) {
		log_warn("cannot list the queue in %s", conf->spool_dir);
		rc = EX_IOERR;
	}
	if (fflush(stdout) == EOF)
		rc = EX_IOERR;
	queue_spool_close(&sp);
	return rc;
}

/* Returns nonzero when hay contains needle, ignoring ASCII case. */
static int
sendmail_ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return n == 0;
}

/*
 * -qR/-qS/-qI: returns nonzero when queued message id matches: a
 * pending recipient, the sender, or the id containing the substring.
 */
static int
sendmail_queue_match(struct queue_spool *sp, const char *id, char kind,
    const char *match)
{
	struct queue_env e;
	struct queue_state st;
	const char *errstr = NULL;
	int fd, hit = 0;

	if (kind == 'I')
		return sendmail_ci_contains(id, match);
	if ((fd = openat(sp->dirfd[QUEUE_DIR_QUEUE], id,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return 0;
	if (queue_env_read_fd(&e, fd, 0, &errstr) == -1) {
		(void)close(fd);
		return 0;
	}
	(void)close(fd);
	if (kind == 'S')
		hit = sendmail_ci_contains(e.sender, match);
	else if (queue_spool_peek_state(sp, id, e.nrcpt, &st, &errstr) == 0) {
		for (size_t i = 0; i < e.nrcpt && !hit; i++)
			hit = st.rcpt_st[i] == QUEUE_RCPT_PENDING &&
			    sendmail_ci_contains(e.rcpts[i], match);
		queue_state_free(&st);
	}
	queue_env_free(&e);
	return hit;
}

/*
 * Writes an "I<id>\n" record (relayqd_wake.h) for every queued message
 * matching the -qR/-qS/-qI filter.  Returns the number of matches, or
 * -1 when the queue cannot be read.
 */
static int
sendmail_queue_select(const struct sendmail_opts *o, struct queue_spool *sp,
    int fd)
{
	struct queue_idlist l;
	size_t nbad = 0;
	int n = 0;

	if (queue_scan_dir(sp, QUEUE_DIR_QUEUE, &l, &nbad) == -1)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		char rec[QUEUE_ID_LEN + 3];

		if (!sendmail_queue_match(sp, l.ids[i], o->qrun_kind,
			o->qrun_match))
			continue;
		log_debug("-q%c%s: %s", o->qrun_kind, o->qrun_match, l.ids[i]);
		n++;
		(void)snprintf(rec, sizeof(rec), "I%s\n", l.ids[i]);
		if (write(fd, rec, strlen(rec)) == -1 && errno == EAGAIN)
			break; /* FIFO full: relayqd is busy reading it */
	}
	queue_idlist_free(&l);
	return n;
}

/*
 * -q: asks relayqd to retry everything now by writing the flush byte
 * 'F' into the wake FIFO (as "relayq flush" does); -qR/-qS/-qI select
 * the messages here, from the spool the group may read, and name each
 * in an "I<id>" record.  No reader on the FIFO means relayqd is not
 * running: a warning and EX_TEMPFAIL.
 */
static int
sendmail_queue_run(const struct sendmail_opts *o, const struct conf *conf)
{
	struct queue_spool sp;
	struct stat st;
	int fd, rc, n;

	if ((rc = sendmail_open_spool(conf,
		 o->qrun_kind != 0 ? QUEUE_SPOOL_READER : QUEUE_SPOOL_FRONTEND,
		 &sp)) != EX_OK)
		return rc;
	rc = EX_OK;
	if ((fd = openat(sp.rootfd, "wake",
		 O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENXIO)
			log_warnx("relayqd is not running on %s; the queue "
				  "will be run when it starts",
			    conf->spool_dir);
		else
			log_warn("cannot open %s/wake", conf->spool_dir);
		rc = EX_TEMPFAIL;
	} else {
		if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode) ||
		    (o->qrun_kind == 0 && write(fd, "F", 1) != 1 &&
			errno != EAGAIN)) {
			log_warnx("cannot notify relayqd through %s/wake",
			    conf->spool_dir);
			rc = EX_TEMPFAIL;
		} else if (o->qrun_kind == 0)
			log_debug("asked relayqd to run the queue");
		else if ((n = sendmail_queue_select(o, &sp, fd)) == -1) {
			log_warn("cannot read the queue in %s",
			    conf->spool_dir);
			rc = EX_IOERR;
		} else
			log_debug("asked relayqd to run %d matching "
				  "message%s",
			    n, n == 1 ? "" : "s");
		(void)close(fd);
	}
	queue_spool_close(&sp);
	return rc;
}

/* Maps -N bits to the queue's NOTIFY bits. */
static unsigned
sendmail_notify_bits(unsigned n)
{
	return ((n & SENDMAIL_DSN_NEVER) ? QUEUE_ENV_NOTIFY_NEVER : 0) |
	    ((n & SENDMAIL_DSN_SUCCESS) ? QUEUE_ENV_NOTIFY_SUCCESS : 0) |
	    ((n & SENDMAIL_DSN_FAILURE) ? QUEUE_ENV_NOTIFY_FAILURE : 0) |
	    ((n & SENDMAIL_DSN_DELAY) ? QUEUE_ENV_NOTIFY_DELAY : 0);
}

/* -bm: the normal case, queueing the message on stdin. */
static int
sendmail_deliver(const struct sendmail_opts *o, const struct conf *conf)
{
	struct sendmail_submit s;
	struct queue_spool sp;
	struct addr_list rcpts;
	struct aliases aliases;
	struct passwd *pw;
	struct rq_err err;
	struct sendmail_socket ss;
	char name[SENDMAIL_NAME_MAX], *sender = NULL, *login = NULL;
	char lname[SENDMAIL_LOGIN_MAX];
	int rc, vrc, use_socket = 0;

	addr_list_init(&rcpts);
	(void)sendmail_aliases(conf, &aliases, 0);
	errno = 0;
	pw = getpwuid(getuid());
	if ((rc = sendmail_sender(o, conf, pw, &sender)) != EX_OK)
		goto out;
	sendmail_fullname(o, pw, name, sizeof(name));
	if ((rc = sendmail_rcpts(o, conf, &rcpts)) != EX_OK)
		goto out;
	if ((long long)rcpts.n > conf->max_recipients) {
		log_warnx("too many recipients (%zu, the limit is %lld)",
		    rcpts.n, conf->max_recipients);
		rc = EX_USAGE;
		goto out;
	}
	log_debug("sender <%s>%s%s", sender, name[0] != '\0' ? ", name " : "",
	    name);
	for (size_t i = 0; i < rcpts.n; i++)
		log_debug("recipient <%s> (command line)", rcpts.v[i]);
	for (int i = 0; i < o->nignored; i++)
		log_debug("ignoring option %s", o->ignored[i]);
	if (o->body != SENDMAIL_BODY_UNSET)
		log_debug("-B is a hint only: the content decides 8BITMIME");
	if (o->dsn_notify != 0 || o->dsn_ret != NULL || o->dsn_envid != NULL)
		log_debug("DSN options (-N/-R/-V) stored; sent to the "
			  "smarthost when it offers DSN");
	if ((rc = sendmail_open_path(conf, &sp, &ss, &use_socket)) != EX_OK)
		goto out;

	memset(&s, 0, sizeof(s));
	s.sock = use_socket ? &ss : NULL;
	s.conf = conf;
	s.sender = sender;
	s.fullname = name[0] != '\0' ? name : NULL;
	s.rcpts = &rcpts;
	s.extract = o->extract;
	s.ignore_dots = o->ignore_dots;
	s.uid = (long long)getuid();
	s.infd = STDIN_FILENO;
	s.stop = &sendmail_stop;
	s.resolve = 1;
	s.aliases = &aliases;
	s.dsn_ret = o->dsn_ret;
	s.dsn_envid = o->dsn_envid;
	s.notify = sendmail_notify_bits(o->dsn_notify);
	s.received = "local";
	s.undisclosed = 1;
	if (o->sender != NULL && getuid() != 0) {
		sendmail_login(o, conf, pw, &login, lname, sizeof(lname));
		s.login_sender = login;
		s.login_name = lname;
		s.sender_via = "-f";
	}
	rc = sendmail_submit_run(&s, use_socket ? NULL : &sp, &err);
	if (s.nbad > 0)
		log_warnx("skipped %zu malformed address%s in the header (%s)",
		    s.nbad, s.nbad == 1 ? "" : "es", s.bad_errstr);
	if (rc != EX_OK) {
		log_warnx("%s", err.msg);
		if (!use_socket)
			queue_spool_close(&sp);
		goto out;
	}
	for (size_t i = 0; i < rcpts.n; i++)
		log_debug("envelope recipient <%s>", rcpts.v[i]);
	log_debug("queued as %s", s.id);
	/* The message is queued: a failed print must not fail it. */
	if (o->print_id && (printf("%s\n", s.id) < 0 || fflush(stdout) == EOF))
		log_warn("queued as %s, but cannot print the id", s.id);
	if (use_socket && o->verbose > 0 && !o->queue_only) {
		/*
		 * relayqd scheduled it at its K frame, before a -v request
		 * could come, and the verbose socket needs sendmail's group.
		 */
		log_warnx("-v: %s was queued over relayqd's submission "
			  "socket, where its delivery cannot be watched (that "
			  "needs the spool path); relayqd delivers it now: see "
			  "relayqd's log or relayq show %s",
		    s.id, s.id);
		rc = EX_UNAVAILABLE;
	} else if (use_socket)
		log_debug("relayqd took it over its socket: no poke needed");
	else if (o->queue_only)
		log_debug("queue only (-odq): not waking relayqd");
	else if (o->verbose > 0 &&
	    (vrc = sendmail_verbose_run(conf, s.id)) != -1)
		rc = vrc; /* relayqd delivered it (or said why not) */
	else {
		if (o->verbose > 0) {
			log_warnx("relayqd cannot be asked to deliver now "
				  "(not running?): %s stays queued",
			    s.id);
			rc = EX_UNAVAILABLE;
		}
		queue_spool_poke(&sp);
	}
	if (!use_socket)
		queue_spool_close(&sp);
out:
	free(sender);
	free(login);
	addr_list_free(&rcpts);
	aliases_free(&aliases);
	return rc;
}

/* -bs: SMTP on stdin/stdout (sendmail_smtp.c). */
static int
sendmail_bs(const struct sendmail_opts *o, const struct conf *conf)
{
	struct sendmail_smtp_params p;
	struct sendmail_opts lo = *o;
	struct sendmail_socket ss;
	struct queue_spool sp;
	struct aliases aliases;
	struct passwd *pw;
	char *login = NULL, *own = NULL, lname[SENDMAIL_LOGIN_MAX];
	int rc, use_socket;

	errno = 0;
	pw = getpwuid(getuid());
	/* The sender used when MAIL FROM may not choose one: -f or login. */
	if (!conf->allow_from_override && getuid() != 0)
		lo.sender = NULL;
	if ((rc = sendmail_sender(&lo, conf, pw, &login)) != EX_OK)
		return rc;
	(void)sendmail_aliases(conf, &aliases, 0);
	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.aliases = &aliases;
	p.login_sender = login;
	p.allow_from = conf->allow_from_override || getuid() == 0;
	p.queue_only = o->queue_only;
	p.uid = (long long)getuid();
	p.infd = STDIN_FILENO;
	p.outfd = STDOUT_FILENO;
	p.stop = &sendmail_stop;
	if (getuid() != 0) {
		sendmail_login(o, conf, pw, &own, lname, sizeof(lname));
		p.own_sender = own;
		p.login_name = lname;
	}
	if ((rc = sendmail_open_path(conf, &sp, &ss, &use_socket)) != EX_OK) {
		aliases_free(&aliases);
		free(login);
		free(own);
		return rc;
	}
	/* sendmail_smtp_run() opens the spool itself. */
	if (use_socket)
		p.sock = &ss;
	else
		queue_spool_close(&sp);
	rc = sendmail_smtp_run(&p);
	aliases_free(&aliases);
	free(login);
	free(own);
	return rc;
}

/* Sets up the process, parses the command line and runs the mode. */
int
main(int argc, char *argv[])
{
	struct sendmail_opts o;
	struct conf conf;
	struct rq_err err;
	const char *path;
	int rc;

	if (sendmail_fds() == -1)
		return EX_OSERR;
	(void)umask(077);
	sendmail_signals();
	log_init("relayq", LOG_TO_STDERR, 0);
	/* Out of memory and the like: nothing was queued, a retry may work. */
	log_set_fatal_status(EX_TEMPFAIL);

	if (sendmail_args_parse(&o, argc, (const char *const *)argv, &err) ==
	    -1) {
		log_warnx("%s", err.msg);
		return EX_USAGE;
	}
	log_init("relayq", LOG_TO_STDERR, o.verbose > 0);
	log_debug("mode: %s", sendmail_args_mode_name(o.mode));

	switch (o.mode) {
	case SENDMAIL_MODE_VERSION:
		printf("relayq %s\n", PACKAGE_VERSION);
		return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
	case SENDMAIL_MODE_HELP:
		sendmail_usage(stdout);
		return fflush(stdout) == EOF ? EX_IOERR : EX_OK;
	case SENDMAIL_MODE_NOOP:
		for (int i = 0; i < o.nignored; i++)
			log_debug("ignoring option %s", o.ignored[i]);
		return EX_OK;
	default:
		break;
	}

	path = conf_path(o.config, 1);
	if (strcmp(path, conf_default_path()) != 0 &&
	    sendmail_drop_group() == -1) {
		log_warn("cannot drop group privileges for %s", path);
		return EX_OSERR;
	}
	/* An error in the smarthost sections only is relayqd's: mail is
	 * still queued (issue 15), with a warning. */
	if (conf_load_flags(&conf, path, CONF_LOAD_SMARTHOST_LAX, &err) == -1) {
		log_warnx("%s", err.msg);
		return EX_CONFIG;
	}
	if (conf.smarthost_error != NULL)
		log_warnx("warning: %s; relayqd refuses this configuration "
			  "(a running relayqd keeps the one it has; one that "
			  "starts sends nothing until it is fixed), so mail is "
			  "queued; see relayq check-config",
		    conf.smarthost_error);
	log_debug("configuration %s, spool %s", path, conf.spool_dir);

	switch (o.mode) {
	case SENDMAIL_MODE_VERIFY:
		rc = sendmail_verify(&o, &conf);
		break;
	case SENDMAIL_MODE_LIST:
		rc = sendmail_list(&conf);
		break;
	case SENDMAIL_MODE_QUEUE_RUN:
		rc = sendmail_queue_run(&o, &conf);
		break;
	case SENDMAIL_MODE_ALIASES:
		rc = sendmail_newaliases(&conf);
		break;
	case SENDMAIL_MODE_SMTP:
		rc = sendmail_bs(&o, &conf);
		break;
	default:
		rc = sendmail_deliver(&o, &conf);
		break;
	}
	conf_free(&conf);
	return rc;
}
