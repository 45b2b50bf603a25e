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
 *  5. sender and argv recipients are parsed and validated (64);
 *  6. the spool is opened (73/75), the process chdirs into it, the
 *     message is queued, and relayqd is poked unless -odq/-odd.
 *
 * The front end never talks to the network or to relayqd (the poke is
 * a non-blocking FIFO write), never opens credentials, never opens the
 * -X file, and logs only to stderr, prefixed "relayq:".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "queue/queue_list.h"
#include "queue/queue_spool.h"
#include "sendmail/sendmail_args.h"
#include "sendmail/sendmail_submit.h"

/* Longest full name used for From:, in bytes. */
#define SENDMAIL_NAME_MAX 256

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
	    "                [-odq] [-B 7BIT|8BITMIME] [--] [recipient ...]\n"
	    "       sendmail -bp | mailq\n"
	    "       sendmail -q\n"
	    "       sendmail -bv recipient ...\n");
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

	if (o->sender != NULL) {
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
	if (str_has_ctl(src, strlen(src)) ||
	    addr_parse_sender(src, conf->default_domain, sender, &errstr) ==
		-1) {
		log_warnx("invalid sender address \"%s\": %s", src,
		    errstr != NULL ? errstr : "control character in address");
		return o->sender != NULL ? EX_USAGE : EX_OSERR;
	}
	if (o->sender == NULL && (*sender)[0] == '\0') {
		free(*sender);
		*sender = NULL;
		log_warnx("cannot make a sender address from the login name");
		return EX_OSERR;
	}
	return EX_OK;
}

/* Parses every recipient argument into l; returns EX_OK or EX_USAGE. */
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
				return EX_USAGE;
			}
		}
		if (addr_parse_list(arg, strlen(arg), conf->default_domain,
			&one, &errstr) == -1) {
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

/* -bv: checks each recipient's syntax and says where it would go. */
static int
sendmail_verify(const struct sendmail_opts *o, const struct conf *conf)
{
	int rc = EX_OK;

	for (int i = 0; i < o->nrcpts; i++) {
		const char *errstr = "control character in address";
		char shown[512];
		struct addr_list l;
		int n = -1;

		addr_list_init(&l);
		str_sanitize(shown, sizeof(shown), o->rcpts[i],
		    strlen(o->rcpts[i]));
		if (!str_has_ctl(o->rcpts[i], strlen(o->rcpts[i])))
			n = addr_parse_list(o->rcpts[i], strlen(o->rcpts[i]),
			    conf->default_domain, &l, &errstr);
		if (n == -1 || l.n == 0) {
			printf("%s... invalid address: %s\n", shown,
			    n == -1 ? errstr : "no address");
			rc = EX_NOUSER;
		}
		for (size_t k = 0; k < l.n; k++) {
			str_sanitize(shown, sizeof(shown), l.v[k],
			    strlen(l.v[k]));
			printf("%s... deliverable: relayed via %s\n", shown,
			    conf->smarthost_host[0] != '\0'
				? conf->smarthost_host
				: "(no smarthost configured)");
		}
		addr_list_free(&l);
	}
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

/* -bp / mailq: lists the spool on stdout. */
static int
sendmail_list(const struct conf *conf)
{
	struct queue_spool sp;
	int rc = EX_OK;

	if ((rc = sendmail_open_spool(conf, QUEUE_SPOOL_READER, &sp)) != EX_OK)
		return rc;
	if (queue_list_print(&sp, stdout, 0) == -1) {
		log_warn("cannot list the queue in %s", conf->spool_dir);
		rc = EX_IOERR;
	}
	if (fflush(stdout) == EOF)
		rc = EX_IOERR;
	queue_spool_close(&sp);
	return rc;
}

/*
 * -q: asks relayqd to retry everything now by writing the flush byte
 * 'F' into the wake FIFO (as "relayq flush" does).  No reader on the
 * FIFO means relayqd is not running: a warning and EX_TEMPFAIL.  The
 * -qR/-qS/-qI filters are not implemented yet: the whole queue is
 * flushed, which only changes when mail is tried.
 */
static int
sendmail_queue_run(const struct sendmail_opts *o, const struct conf *conf)
{
	struct queue_spool sp;
	struct stat st;
	int fd, rc;

	if ((rc = sendmail_open_spool(conf, QUEUE_SPOOL_FRONTEND, &sp)) !=
	    EX_OK)
		return rc;
	if (o->qrun_kind != 0)
		log_debug("-q%c filter not implemented yet: flushing the "
			  "whole queue",
		    o->qrun_kind);
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
		    (write(fd, "F", 1) != 1 && errno != EAGAIN)) {
			log_warnx("cannot notify relayqd through %s/wake",
			    conf->spool_dir);
			rc = EX_TEMPFAIL;
		} else
			log_debug("asked relayqd to run the queue");
		(void)close(fd);
	}
	queue_spool_close(&sp);
	return rc;
}

/* -bm: the normal case, queueing the message on stdin. */
static int
sendmail_deliver(const struct sendmail_opts *o, const struct conf *conf)
{
	struct sendmail_submit s;
	struct queue_spool sp;
	struct addr_list rcpts;
	struct passwd *pw;
	struct rq_err err;
	char name[SENDMAIL_NAME_MAX], *sender = NULL;
	size_t nargv;
	int rc;

	addr_list_init(&rcpts);
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
	nargv = rcpts.n;
	log_debug("sender <%s>%s%s", sender, name[0] != '\0' ? ", name " : "",
	    name);
	for (size_t i = 0; i < rcpts.n; i++)
		log_debug("recipient <%s> (command line)", rcpts.v[i]);
	for (int i = 0; i < o->nignored; i++)
		log_debug("ignoring option %s", o->ignored[i]);
	if (o->body != SENDMAIL_BODY_UNSET)
		log_debug("-B is a hint only: the content decides 8BITMIME");
	if (o->dsn_notify != 0 || o->dsn_ret != NULL || o->dsn_envid != NULL)
		log_debug("DSN options (-N/-R/-V) accepted but not yet passed "
			  "to the smarthost");
	if ((rc = sendmail_open_spool(conf,
		 QUEUE_SPOOL_FRONTEND | QUEUE_SPOOL_CREATE, &sp)) != EX_OK)
		goto out;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.sender = sender;
	s.fullname = name[0] != '\0' ? name : NULL;
	s.rcpts = &rcpts;
	s.extract = o->extract;
	s.ignore_dots = o->ignore_dots;
	s.uid = (long long)getuid();
	s.infd = STDIN_FILENO;
	s.stop = &sendmail_stop;
	rc = sendmail_submit_run(&s, &sp, &err);
	if (s.nbad > 0)
		log_warnx("skipped %zu malformed address%s in the header (%s)",
		    s.nbad, s.nbad == 1 ? "" : "es", s.bad_errstr);
	if (rc != EX_OK) {
		log_warnx("%s", err.msg);
		queue_spool_close(&sp);
		goto out;
	}
	for (size_t i = nargv; i < rcpts.n; i++)
		log_debug("recipient <%s> (header, -t)", rcpts.v[i]);
	log_debug("queued as %s", s.id);
	if (o->queue_only)
		log_debug("queue only (-odq): not waking relayqd");
	else
		queue_spool_poke(&sp);
	queue_spool_close(&sp);
out:
	free(sender);
	addr_list_free(&rcpts);
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
	case SENDMAIL_MODE_SMTP:
		log_warnx("-bs is not supported yet");
		return EX_USAGE;
	case SENDMAIL_MODE_NOOP:
		for (int i = 0; i < o.nignored; i++)
			log_debug("ignoring option %s", o.ignored[i]);
		return EX_OK;
	case SENDMAIL_MODE_ALIASES:
		log_debug("no local alias database");
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
	if (conf_load(&conf, path, &err) == -1) {
		log_warnx("%s", err.msg);
		return EX_CONFIG;
	}
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
	default:
		rc = sendmail_deliver(&o, &conf);
		break;
	}
	conf_free(&conf);
	return rc;
}
