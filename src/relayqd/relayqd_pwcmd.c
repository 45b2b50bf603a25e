/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * password_command from the event loop (see relayqd_pwcmd.h).  Owns its
 * runs: each has the child's pid until it is reaped, the pipe's read end
 * and its event until EOF (or until the run is given up), the time limit
 * timer, and what was read (wiped before it is freed).  It does not own
 * the waiting sessions (relayqd_conn's, resumed by the done callback) or
 * the policy that says what to run (smarthost_auth, read only when a run
 * starts).
 *
 * Invariants: at most one run is active (its done callback has not run);
 * done runs exactly once per run, from a libevent callback.  A run ends
 * when its pipe is closed and its child reaped (the command's verdict),
 * or at once when it fails to start, when it printed too much or could
 * not be read (the child is killed), or at the time limit (killed): then
 * the child is reaped later, from SIGCHLD.  A run is freed only when it
 * has ended, its pipe is closed and its child reaped; a pid is never
 * signalled after it was reaped (it may belong to another process by
 * then).  Only our own pids are waited for (waitpid(pid), never -1), so
 * relayqd_alert's children are not disturbed, nor it ours.
 */
#include "config.h"

#include "relayqd/relayqd_pwcmd.h"

#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/compat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strutil.h"
#include "common/xmalloc.h"
#include "smarthost/smarthost_auth.h"

struct relayqd_pwcmd_run {
	TAILQ_ENTRY(relayqd_pwcmd_run) entry;
	struct relayqd_pwcmd *p;     /* borrowed */
	struct smarthost_auth_run r; /* pid 0 once reaped, fd -1 once closed */
	struct event *ev_read;	     /* owned; NULL once the pipe is closed */
	struct event *ev_timer;	     /* owned: the time limit */
	int ended;		     /* done has run */
	char why[256];		     /* no verdict of its own: why */
};

TAILQ_HEAD(relayqd_pwcmd_runs, relayqd_pwcmd_run);

struct relayqd_pwcmd {
	struct event_base *base;	  /* borrowed */
	struct event *ev_chld;		  /* owned: SIGCHLD */
	relayqd_pwcmd_done_fn done;	  /* ends every run */
	void *arg;			  /* done's */
	struct relayqd_pwcmd_run *active; /* the run in flight, or NULL */
	struct relayqd_pwcmd_runs runs;	  /* all not yet freed */
};

/* Closes the pipe and drops its event. */
static void
relayqd_pwcmd_close_pipe(struct relayqd_pwcmd_run *run)
{
	if (run->ev_read != NULL)
		event_free(run->ev_read);
	run->ev_read = NULL;
	if (run->r.fd != -1)
		(void)close(run->r.fd);
	run->r.fd = -1;
}

/*
 * Kills the child and its process group; once the child was reaped, what
 * is left of its group while the pipe is still open (a process it
 * started holds it).
 */
static void
relayqd_pwcmd_kill(struct relayqd_pwcmd_run *run)
{
	if (run->r.pid != 0)
		smarthost_auth_command_kill(run->r.pid);
	else if (run->r.fd != -1)
		smarthost_auth_command_kill_group(run->r.pgid);
}

/* Kills the child and waits for it (relayqd_pwcmd_free only). */
static void
relayqd_pwcmd_kill_wait(struct relayqd_pwcmd_run *run)
{
	pid_t pid = run->r.pid;
	int st;

	if (pid == 0)
		return;
	smarthost_auth_command_kill(pid);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	run->r.pid = 0;
}

/* Reaps the child if it has exited (without waiting). */
static void
relayqd_pwcmd_reap(struct relayqd_pwcmd_run *run)
{
	pid_t r;
	int st;

	if (run->r.pid == 0)
		return;
	while ((r = waitpid(run->r.pid, &st, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == 0)
		return;
	if (r == -1) {
		/* Not ours any more (cannot happen): never signal it again. */
		(void)!rq_snprintf(run->why, sizeof(run->why),
		    "password_command %s: waitpid: %s", run->r.prog,
		    strerror(errno));
	} else
		run->r.status = st;
	run->r.pid = 0;
}

/* Wipes and frees a run that has ended, with its pipe closed and pid reaped. */
static void
relayqd_pwcmd_free_run(struct relayqd_pwcmd_run *run)
{
	TAILQ_REMOVE(&run->p->runs, run, entry);
	relayqd_pwcmd_close_pipe(run);
	if (run->ev_timer != NULL)
		event_free(run->ev_timer);
	OPENSSL_cleanse(run, sizeof(*run));
	free(run);
}

/* Runs done with the verdict. */
static void
relayqd_pwcmd_end(struct relayqd_pwcmd_run *run)
{
	struct relayqd_pwcmd *p = run->p;
	struct rq_err err;
	char *secret = NULL;
	size_t len = 0;

	run->ended = 1;
	if (p->active == run)
		p->active = NULL;
	evtimer_del(run->ev_timer);
	if (run->why[0] != '\0')
		strlcpy(err.msg, run->why, sizeof(err.msg));
	else if (smarthost_auth_command_result(&run->r, &secret, &len, &err) ==
	    0)
		log_debug("password_command %s: done", run->r.prog);
	OPENSSL_cleanse(run->r.out, sizeof(run->r.out));
	run->r.len = 0;
	p->done(p->arg, secret, secret != NULL ? NULL : err.msg);
	if (secret != NULL) {
		OPENSSL_cleanse(secret, len);
		free(secret);
	}
}

/*
 * Ends the run once there is a verdict, and frees it once nothing of it
 * is left.  run may be freed on return.
 */
static void
relayqd_pwcmd_settle(struct relayqd_pwcmd_run *run)
{
	if (!run->ended &&
	    (run->why[0] != '\0' || run->r.timed_out ||
		(run->r.fd == -1 && run->r.pid == 0)))
		relayqd_pwcmd_end(run);
	if (run->ended && run->r.fd == -1 && run->r.pid == 0)
		relayqd_pwcmd_free_run(run);
}

/* The output is read or given up: close, reap if it exited, settle. */
static void
relayqd_pwcmd_output_done(struct relayqd_pwcmd_run *run)
{
	relayqd_pwcmd_close_pipe(run);
	relayqd_pwcmd_reap(run);
	relayqd_pwcmd_settle(run);
}

/* The pipe is readable: collect output, until EOF or too much. */
static void
relayqd_pwcmd_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_pwcmd_run *run = arg;
	struct smarthost_auth_run *r = &run->r;
	ssize_t n;

	(void)what;
	n = read(fd, r->out + r->len, sizeof(r->out) - r->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		r->len += (size_t)n;
		if (r->len < sizeof(r->out))
			return;
		r->how = SMARTHOST_AUTH_PIPE_FULL;
		relayqd_pwcmd_kill(run);
	} else if (n == -1) {
		r->how = SMARTHOST_AUTH_PIPE_ERROR;
		r->read_errno = errno;
		relayqd_pwcmd_kill(run);
	} else
		r->how = SMARTHOST_AUTH_PIPE_EOF;
	relayqd_pwcmd_output_done(run);
}

/* The time limit: kill the child (reaped from SIGCHLD), end the run. */
static void
relayqd_pwcmd_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relayqd_pwcmd_run *run = arg;

	(void)fd;
	(void)what;
	if (run->why[0] == '\0') {
		run->r.timed_out = 1;
		relayqd_pwcmd_reap(run); /* its SIGCHLD may not be seen yet */
		/* Reaped, but its output is open: a child of its holds it. */
		run->r.exited = run->r.pid == 0 && run->r.fd != -1;
		relayqd_pwcmd_kill(run);
	}
	relayqd_pwcmd_output_done(run);
}

/* SIGCHLD: reap our children (only ours). */
static void
relayqd_pwcmd_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relayqd_pwcmd *p = arg;
	struct relayqd_pwcmd_run *run, *next;

	(void)sig;
	(void)what;
	for (run = TAILQ_FIRST(&p->runs); run != NULL; run = next) {
		next = TAILQ_NEXT(run, entry);
		if (run->r.pid == 0)
			continue;
		relayqd_pwcmd_reap(run);
		relayqd_pwcmd_settle(run);
	}
}

/* Creates the runner. */
struct relayqd_pwcmd *
relayqd_pwcmd_new(struct event_base *base, relayqd_pwcmd_done_fn done,
    void *arg)
{
	struct relayqd_pwcmd *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->done = done;
	p->arg = arg;
	TAILQ_INIT(&p->runs);
	if ((p->ev_chld = evsignal_new(base, SIGCHLD, relayqd_pwcmd_chld_cb,
		 p)) == NULL ||
	    event_add(p->ev_chld, NULL) == -1)
		fatalx("cannot watch SIGCHLD for password_command");
	return p;
}

/* Starts a run unless one is in flight. */
void
relayqd_pwcmd_run(struct relayqd_pwcmd *p, const struct smarthost_auth *a)
{
	struct relayqd_pwcmd_run *run;
	struct timeval tv = { 0, 0 };
	struct rq_err err;

	if (p->active != NULL)
		return;
	run = xcalloc(1, sizeof(*run));
	run->p = p;
	if ((run->ev_timer =
		    evtimer_new(p->base, relayqd_pwcmd_timer_cb, run)) == NULL)
		fatalx("evtimer_new failed");
	TAILQ_INSERT_TAIL(&p->runs, run, entry);
	p->active = run;
	if (smarthost_auth_command_start(a, &run->r, &err) == -1) {
		/* Reported from the loop, as every verdict is. */
		strlcpy(run->why, err.msg, sizeof(run->why));
	} else {
		log_debug("password_command %s: started, pid %ld, time limit "
			  "%d ms",
		    run->r.prog, (long)run->r.pid, run->r.timeout_ms);
		if (fcntl(run->r.fd, F_SETFL, O_NONBLOCK) == -1 ||
		    (run->ev_read = event_new(p->base, run->r.fd,
			 EV_READ | EV_PERSIST, relayqd_pwcmd_read_cb, run)) ==
			NULL ||
		    event_add(run->ev_read, NULL) == -1)
			fatalx("cannot watch password_command's output");
		tv.tv_sec = run->r.timeout_ms / 1000;
		tv.tv_usec = (run->r.timeout_ms % 1000) * 1000;
	}
	if (evtimer_add(run->ev_timer, &tv) == -1)
		fatalx("evtimer_add failed");
}

/* True while a run is in flight. */
int
relayqd_pwcmd_is_running(const struct relayqd_pwcmd *p)
{
	return p->active != NULL;
}

/* Kills and reaps what is left, then frees. */
void
relayqd_pwcmd_free(struct relayqd_pwcmd *p)
{
	struct relayqd_pwcmd_run *run;

	if (p == NULL)
		return;
	while ((run = TAILQ_FIRST(&p->runs)) != NULL) {
		relayqd_pwcmd_kill(run); /* its group too, pipe still open */
		relayqd_pwcmd_close_pipe(run);
		relayqd_pwcmd_kill_wait(run);
		run->ended = 1;
		relayqd_pwcmd_free_run(run);
	}
	event_free(p->ev_chld);
	free(p);
}
