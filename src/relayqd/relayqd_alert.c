/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * alert_command (see relayqd_alert.h): the incident decision, the
 * one-shot timer, and a small table of running commands reaped from the
 * event loop's SIGCHLD event.  Only pids in that table are waited for,
 * so password_command's runs (relayqd_pwcmd, which reaps its own from
 * the same signal) are never disturbed.
 */
#include "config.h"

#include "relayqd/relayqd_alert.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "relayqd/relayqd.h"
#include "relayqd/relayqd_dest.h"
#include "relayqd/relayqd_sched.h"
#include "relayqd/relayqd_stats.h"

extern char **environ;

/* Longest text summary written to the command's stdin (< PIPE_BUF). */
#define RELAYQD_ALERT_SUMMARY_MAX 1024

/* Variables relayqd sets; inherited ones of these names are dropped. */
static const char *const relayqd_alert_vars[] = { "RELAYQ_ALERT",
	"RELAYQ_QUEUE_SIZE", "RELAYQ_OLDEST_AGE", "RELAYQ_SINCE",
	"RELAYQ_SMARTHOST", "RELAYQ_SMARTHOST_NAME", "RELAYQ_SMARTHOST_UP",
	"RELAYQ_LAST_ERROR", "RELAYQ_LAST_ERROR_TIME", "RELAYQ_ALERT_AFTER",
	"RELAYQ_HOSTNAME" };
#define RELAYQD_ALERT_NVARS \
	(sizeof(relayqd_alert_vars) / sizeof(relayqd_alert_vars[0]))

struct relayqd_alert_child {
	struct relayqd_alert *a; /* borrowed */
	pid_t pid;		 /* 0: free slot */
	enum relayqd_alert_kind kind;
	struct timespec started;  /* CLOCK_MONOTONIC */
	struct event *ev_timeout; /* owned */
	int timed_out;
};

struct relayqd_alert {
	struct relayd *rd;	      /* borrowed */
	struct event *ev_timer;	      /* owned: one-shot, see relayqd_alert.h */
	struct event *ev_chld;	      /* owned: SIGCHLD */
	int open;		      /* an incident is open */
	enum relayqd_alert_kind kind; /* what opened it */
	long long opened;	      /* when */
	const char *note; /* borrowed: relayqd_alert_event()'s text, or NULL */
	/* borrowed: the smarthost an alert is about; NULL: the default */
	const struct relayqd_dest *dest;
	unsigned char *down_open; /* owned: per named smarthost (index i >= 1),
				     its smarthost-down incident is open */
	size_t ndown;		  /* entries in down_open */
	struct relayqd_alert_child kids[RELAYQD_ALERT_MAX_RUNNING];
};

/* Names a kind. */
const char *
relayqd_alert_kind_name(enum relayqd_alert_kind kind)
{
	switch (kind) {
	case RELAYQD_ALERT_QUEUE_AGE:
		return "queue-age";
	case RELAYQD_ALERT_SMARTHOST_DOWN:
		return "smarthost-down";
	case RELAYQD_ALERT_SPOOL_FULL:
		return "spool-full";
	case RELAYQD_ALERT_BOUNCE_FAILED:
		return "bounce-failed";
	case RELAYQD_ALERT_OAUTH2:
		return "oauth2-rejected";
	case RELAYQD_ALERT_NONE:
	default:
		return "none";
	}
}

/* The incident decision (pure). */
enum relayqd_alert_kind
relayqd_alert_decide(const struct relayqd_alert_input *in, int *open,
    long long *next)
{
	long long host_at =
	    in->down_since >= 0 ? in->down_since + in->after : -1;
	long long age_at = in->oldest >= 0 ? in->oldest + in->after : -1;
	enum relayqd_alert_kind k = RELAYQD_ALERT_NONE;

	*next = -1;
	if (host_at != -1 && in->now >= host_at)
		k = RELAYQD_ALERT_SMARTHOST_DOWN;
	else if (age_at != -1 && in->now >= age_at)
		k = RELAYQD_ALERT_QUEUE_AGE;
	if (k != RELAYQD_ALERT_NONE) {
		if (*open)
			return RELAYQD_ALERT_NONE; /* once per incident */
		*open = 1;
		return k;
	}
	*open = 0;
	if (host_at != -1)
		*next = host_at;
	if (age_at != -1 && (*next == -1 || age_at < *next))
		*next = age_at;
	return RELAYQD_ALERT_NONE;
}

/* Seconds since ts (CLOCK_MONOTONIC). */
static double
relayqd_alert_elapsed(const struct timespec *ts)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - ts->tv_sec) +
	    (double)(now.tv_nsec - ts->tv_nsec) / 1e9;
}

/* True when the environment entry e is one relayqd sets itself. */
static int
relayqd_alert_is_ours(const char *e)
{
	for (size_t i = 0; i < RELAYQD_ALERT_NVARS; i++) {
		size_t n = strlen(relayqd_alert_vars[i]);

		if (strncmp(e, relayqd_alert_vars[i], n) == 0 && e[n] == '=')
			return 1;
	}
	return 0;
}

static char *relayqd_alert_var(const char *fmt, ...) RQ_PRINTF(1, 2);

/* Formats one "NAME=value" variable (truncated at 1 KiB). */
static char *
relayqd_alert_var(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return xstrdup(buf);
}

/* The smarthost the alert being run is about. */
static const struct relayqd_dest *
relayqd_alert_dest(const struct relayqd_alert *a)
{
	return a->dest != NULL ? a->dest : a->rd->dests[0];
}

/*
 * The error the alert being run reports: relayqd_alert_event()'s text,
 * else why its smarthost is down, else the last error seen.
 */
static const char *
relayqd_alert_error(const struct relayqd_alert *a,
    const struct relayqd_stats_view *v)
{
	const struct relayqd_dest *d = relayqd_alert_dest(a);

	if (a->note != NULL)
		return a->note;
	if (d->down && d->error[0] != '\0')
		return d->error;
	return v->last_error != NULL ? v->last_error : "";
}

/*
 * Builds the command's environment: ours (owned strings, the first
 * RELAYQD_ALERT_NVARS entries) then the daemon's other variables
 * (borrowed).  Free with relayqd_alert_env_free().
 */
static char **
relayqd_alert_env(const struct relayqd_alert *a, enum relayqd_alert_kind k,
    const struct relayqd_stats_view *v, long long since)
{
	const struct conf *c = &a->rd->conf;
	const struct relayqd_dest *d = relayqd_alert_dest(a);
	const struct conf_smarthost *sh = &c->smarthosts[d->index];
	size_t n = 0, i = 0;
	char **env;

	while (environ != NULL && environ[n] != NULL)
		n++;
	env = xcalloc(n + RELAYQD_ALERT_NVARS + 1, sizeof(*env));
	env[i++] =
	    relayqd_alert_var("RELAYQ_ALERT=%s", relayqd_alert_kind_name(k));
	env[i++] = relayqd_alert_var("RELAYQ_QUEUE_SIZE=%zu", v->queued);
	env[i++] = relayqd_alert_var("RELAYQ_OLDEST_AGE=%lld",
	    v->oldest >= 0 && v->now > v->oldest ? v->now - v->oldest : 0);
	env[i++] = relayqd_alert_var("RELAYQ_SINCE=%lld", since);
	env[i++] =
	    relayqd_alert_var("RELAYQ_SMARTHOST=%s:%d", sh->host, sh->port);
	env[i++] = relayqd_alert_var("RELAYQ_SMARTHOST_NAME=%s", sh->name);
	env[i++] = relayqd_alert_var("RELAYQ_SMARTHOST_UP=%d", !d->down);
	env[i++] = relayqd_alert_var("RELAYQ_LAST_ERROR=%s",
	    relayqd_alert_error(a, v));
	env[i++] = relayqd_alert_var("RELAYQ_LAST_ERROR_TIME=%lld",
	    v->last_error_time);
	env[i++] = relayqd_alert_var("RELAYQ_ALERT_AFTER=%lld",
	    c->delivery_alert_after);
	env[i++] = relayqd_alert_var("RELAYQ_HOSTNAME=%s", c->hostname);
	RQ_ASSERT(i == RELAYQD_ALERT_NVARS);
	for (size_t j = 0; j < n; j++)
		if (!relayqd_alert_is_ours(environ[j]))
			env[i++] = environ[j];
	env[i] = NULL;
	return env;
}

/* Frees what relayqd_alert_env() made. */
static void
relayqd_alert_env_free(char **env)
{
	for (size_t i = 0; i < RELAYQD_ALERT_NVARS; i++)
		free(env[i]);
	free(env);
}

/* The text summary for the command's stdin. */
static void
relayqd_alert_summary(const struct relayqd_alert *a, enum relayqd_alert_kind k,
    const struct relayqd_stats_view *v, long long since, char *buf,
    size_t bufsz)
{
	const struct conf *c = &a->rd->conf;
	const struct relayqd_dest *d = relayqd_alert_dest(a);
	const char *err = relayqd_alert_error(a, v)[0] != '\0'
	    ? relayqd_alert_error(a, v)
	    : "none";
	char when[64];

	str_localtime(when, sizeof(when), since, STR_TIME_ZONE);
	if (a->note != NULL)
		(void)snprintf(buf, bufsz,
		    "relayq on %s: %s (since %s).\n%zu messages queued; the "
		    "smarthost %s is %s.\n",
		    c->hostname, a->note, when, v->queued, d->label,
		    d->down ? "down" : "up");
	else if (k == RELAYQD_ALERT_SMARTHOST_DOWN)
		(void)snprintf(buf, bufsz,
		    "relayq on %s: the smarthost %s has been failing since "
		    "%s (%llds).\n%zu messages queued, the oldest for %llds.\n"
		    "Last error: %s\n",
		    c->hostname, d->label, when, v->now - since, v->queued,
		    v->oldest >= 0 ? v->now - v->oldest : 0, err);
	else
		(void)snprintf(buf, bufsz,
		    "relayq on %s: a message has waited in the queue since %s "
		    "(%llds).\n%zu messages queued; the smarthost %s is "
		    "%s.\nLast error: %s\n",
		    c->hostname, when, v->now - since, v->queued, d->label,
		    d->down ? "down" : "up", err);
}

/* A command ran too long: kill its process group. */
static void
relayqd_alert_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_alert_child *kid = arg;

	(void)fd;
	(void)what;
	log_warnx("alert: kind=%s pid=%ld status=timeout (killed after %ds)",
	    relayqd_alert_kind_name(kid->kind), (long)kid->pid,
	    RELAYQD_ALERT_TIMEOUT);
	kid->timed_out = 1;
	(void)kill(-kid->pid, SIGKILL);
	(void)kill(kid->pid, SIGKILL);
}

/* Writes the summary into a new pipe; returns its read end, or -1. */
static int
relayqd_alert_stdin(const char *summary)
{
	size_t len = strlen(summary);
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	/* An empty pipe takes PIPE_BUF bytes at once: this never blocks. */
	if (write(pfd[1], summary, len) != (ssize_t)len) {
		(void)close(pfd[0]);
		pfd[0] = -1;
	}
	(void)close(pfd[1]);
	return pfd[0];
}

/*
 * Spawns argv with stdin from fd, the environment env, default SIGPIPE,
 * an empty signal mask, its own process group and nothing else open.
 * Returns 0 with *pid, or an errno value.
 */
static int
relayqd_alert_spawn(char **argv, char **env, int fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int rv;

	if ((rv = posix_spawn_file_actions_init(&fa)) != 0)
		return rv;
	if ((rv = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rv;
	}
	(void)sigemptyset(&none);
	(void)sigemptyset(&def);
	(void)sigaddset(&def, SIGPIPE);
	if ((rv = posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO)) ==
		0 &&
	    (rv = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rv = posix_spawnattr_setsigdefault(&at, &def)) == 0 &&
	    (rv = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rv = posix_spawnattr_setflags(&at,
		 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		     POSIX_SPAWN_SETPGROUP)) == 0) {
#if defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
		rv = posix_spawn_file_actions_addclosefrom_np(&fa,
		    STDERR_FILENO + 1);
#endif
		if (rv == 0)
			rv = posix_spawnp(pid, argv[0], &fa, &at, argv, env);
	}
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rv;
}

/* Runs alert_command for an incident of kind k that started at since. */
static void
relayqd_alert_run(struct relayqd_alert *a, enum relayqd_alert_kind k,
    const struct relayqd_stats_view *v, long long since)
{
	const char *name = relayqd_alert_kind_name(k);
	char *argv[STR_ARGV_MAX + 1], **env = NULL, *copy;
	char summary[RELAYQD_ALERT_SUMMARY_MAX], prog[256];
	struct relayqd_alert_child *kid = NULL;
	struct timeval tv = { RELAYQD_ALERT_TIMEOUT, 0 };
	int fd = -1, rv;
	pid_t pid;

	for (size_t i = 0; i < RELAYQD_ALERT_MAX_RUNNING; i++)
		if (a->kids[i].pid == 0) {
			kid = &a->kids[i];
			break;
		}
	if (kid == NULL) {
		log_warnx("alert: kind=%s status=skipped (%d alert commands "
			  "still running)",
		    name, RELAYQD_ALERT_MAX_RUNNING);
		return;
	}
	copy = xstrdup(a->rd->conf.delivery_alert_command);
	if (str_split_words(copy, argv, STR_ARGV_MAX) < 1) {
		/* conf_load() refuses this; never run an empty argv. */
		log_warnx("alert: kind=%s status=error (alert_command is "
			  "blank or too long)",
		    name);
		free(copy);
		return;
	}
	str_sanitize(prog, sizeof(prog), argv[0], strlen(argv[0]));
	relayqd_alert_summary(a, k, v, since, summary, sizeof(summary));
	if ((fd = relayqd_alert_stdin(summary)) == -1) {
		log_warn("alert: kind=%s command=%s status=error (pipe)", name,
		    prog);
		free(copy);
		return;
	}
	env = relayqd_alert_env(a, k, v, since);
	rv = relayqd_alert_spawn(argv, env, fd, &pid);
	(void)close(fd);
	relayqd_alert_env_free(env);
	free(copy);
	if (rv != 0) {
		log_warnx("alert: kind=%s command=%s status=error (%s)", name,
		    prog, strerror(rv));
		return;
	}
	log_info("alert: kind=%s command=%s pid=%ld status=started", name, prog,
	    (long)pid);
	kid->a = a;
	kid->pid = pid;
	kid->kind = k;
	kid->timed_out = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &kid->started);
	if ((kid->ev_timeout = evtimer_new(a->rd->base,
		 relayqd_alert_timeout_cb, kid)) == NULL ||
	    evtimer_add(kid->ev_timeout, &tv) == -1)
		log_warnx("alert: pid=%ld: no time limit (cannot arm a timer)",
		    (long)pid);
}

/* SIGCHLD: reaps our commands (only ours) and logs how they ended. */
static void
relayqd_alert_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relayqd_alert *a = arg;

	(void)sig;
	(void)what;
	for (size_t i = 0; i < RELAYQD_ALERT_MAX_RUNNING; i++) {
		struct relayqd_alert_child *kid = &a->kids[i];
		const char *name = relayqd_alert_kind_name(kid->kind);
		int st;
		pid_t r;

		if (kid->pid == 0)
			continue;
		while ((r = waitpid(kid->pid, &st, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (r == 0)
			continue;
		if (r == -1)
			log_warn("alert: pid=%ld status=lost (waitpid)",
			    (long)kid->pid);
		else if (WIFEXITED(st))
			log_info("alert: kind=%s pid=%ld status=exited code=%d "
				 "duration=%.2f",
			    name, (long)kid->pid, WEXITSTATUS(st),
			    relayqd_alert_elapsed(&kid->started));
		else
			log_warnx("alert: kind=%s pid=%ld status=killed "
				  "signal=%d duration=%.2f%s",
			    name, (long)kid->pid,
			    WIFSIGNALED(st) ? WTERMSIG(st) : 0,
			    relayqd_alert_elapsed(&kid->started),
			    kid->timed_out ? " (timed out)" : "");
		if (kid->ev_timeout != NULL)
			event_free(kid->ev_timeout);
		kid->ev_timeout = NULL;
		kid->pid = 0;
	}
}

/* The one-shot timer: a condition may have become true. */
static void
relayqd_alert_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_alert *a = arg;
	struct relayqd_stats_view v;

	(void)fd;
	(void)what;
	relayqd_stats_view(a->rd, &v);
	relayqd_alert_update(a, &v);
}

/* Creates the runner. */
struct relayqd_alert *
relayqd_alert_new(struct relayd *rd)
{
	struct relayqd_alert *a = xcalloc(1, sizeof(*a));

	a->rd = rd;
	if ((a->ev_timer = evtimer_new(rd->base, relayqd_alert_timer_cb, a)) ==
		NULL ||
	    (a->ev_chld = evsignal_new(rd->base, SIGCHLD, relayqd_alert_chld_cb,
		 a)) == NULL ||
	    event_add(a->ev_chld, NULL) == -1)
		fatalx("cannot set up the alert timer and SIGCHLD watch");
	return a;
}

/* Frees; running commands are left to finish on their own. */
void
relayqd_alert_free(struct relayqd_alert *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < RELAYQD_ALERT_MAX_RUNNING; i++) {
		if (a->kids[i].pid == 0)
			continue;
		log_info("alert: pid=%ld status=running at exit (not waited "
			 "for)",
		    (long)a->kids[i].pid);
		if (a->kids[i].ev_timeout != NULL)
			event_free(a->kids[i].ev_timeout);
	}
	event_free(a->ev_timer);
	event_free(a->ev_chld);
	free(a->down_open);
	free(a);
}

/*
 * The smarthost-down incidents of the named smarthosts (the default's is
 * decided with the queue age, relayqd_alert_update): one each, opened
 * after alert_after down, closed when it is up again.  Returns the
 * earliest time one would open, or -1.
 */
static long long
relayqd_alert_named(struct relayqd_alert *a, const struct relayqd_stats_view *v)
{
	struct relayd *rd = a->rd;
	struct relayqd_alert_input in;
	long long next = -1, n;
	int open;

	if (a->ndown != rd->ndests) { /* a start or a reload: new ones */
		free(a->down_open);
		a->down_open = xcalloc(rd->ndests, 1);
		a->ndown = rd->ndests;
	}
	for (size_t i = 1; i < rd->ndests; i++) {
		const struct relayqd_dest *d = rd->dests[i];

		in.now = v->now;
		in.oldest = -1;
		in.down_since = d->down ? d->down_since : -1;
		in.after = rd->conf.delivery_alert_after;
		open = a->down_open[i];
		if (relayqd_alert_decide(&in, &open, &n) ==
		    RELAYQD_ALERT_SMARTHOST_DOWN) {
			a->dest = d;
			relayqd_alert_run(a, RELAYQD_ALERT_SMARTHOST_DOWN, v,
			    in.down_since);
			a->dest = NULL;
		} else if (a->down_open[i] && !open)
			log_info("alert: kind=smarthost-down smarthost=%s "
				 "status=cleared",
			    d->label);
		a->down_open[i] = (unsigned char)open;
		if (n != -1 && (next == -1 || n < next))
			next = n;
	}
	return next;
}

/* Re-evaluates the incidents after a change or at the timer. */
void
relayqd_alert_update(struct relayqd_alert *a,
    const struct relayqd_stats_view *v)
{
	const struct conf *c;
	struct relayqd_alert_input in;
	enum relayqd_alert_kind k;
	struct timeval tv;
	long long next, named;
	long route;
	int was_open;

	if (a == NULL)
		return;
	c = &a->rd->conf;
	evtimer_del(a->ev_timer);
	if (c->delivery_alert_command[0] == '\0') {
		a->open = 0;
		return;
	}
	in.now = v->now;
	in.oldest = v->queued > 0 ? v->oldest : -1;
	in.down_since = v->host_up ? -1 : v->host_since;
	in.after = c->delivery_alert_after;
	was_open = a->open;
	k = relayqd_alert_decide(&in, &a->open, &next);
	if (was_open && !a->open)
		log_info("alert: kind=%s status=cleared duration=%llds",
		    relayqd_alert_kind_name(a->kind), v->now - a->opened);
	if (k != RELAYQD_ALERT_NONE) {
		a->kind = k;
		a->opened = v->now;
		/* Queue age: about the smarthost of the oldest message. */
		(void)relayqd_sched_oldest_route(a->rd->sched, &route);
		if (k == RELAYQD_ALERT_QUEUE_AGE && route >= 0 &&
		    (size_t)route < a->rd->ndests)
			a->dest = a->rd->dests[route];
		relayqd_alert_run(a, k, v,
		    k == RELAYQD_ALERT_SMARTHOST_DOWN ? in.down_since
						      : in.oldest);
		a->dest = NULL;
	}
	named = relayqd_alert_named(a, v);
	if (named != -1 && (next == -1 || named < next))
		next = named;
	if (next == -1)
		return;
	tv.tv_sec = (time_t)(next > v->now ? next - v->now : 0);
	tv.tv_usec = 0;
	if (evtimer_add(a->ev_timer, &tv) == -1)
		log_warnx("alert: cannot arm the alert timer");
}

/* Runs the command for an incident that relayqd saw happen. */
void
relayqd_alert_event(struct relayqd_alert *a, enum relayqd_alert_kind k,
    const char *text)
{
	struct relayqd_stats_view v;

	if (a == NULL || a->rd->conf.delivery_alert_command[0] == '\0')
		return;
	relayqd_stats_view(a->rd, &v);
	a->note = text;
	relayqd_alert_run(a, k, &v, v.now);
	a->note = NULL;
}
