/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for relayqd_pwcmd (password_command from the event loop):
 * the output's first line reaches done; the loop runs while the command
 * does; one run at a time, shared by every caller that asks meanwhile,
 * and a new run for the next one (nothing cached); done may start the
 * next run; a non-zero exit, no output, a missing or non-executable
 * program, too much output (killed at once) and the time limit (killed,
 * reaped, also when a grandchild keeps the pipe open, and said so when
 * the command itself had exited) each end with the reason; freeing
 * kills and reaps a running command without calling done.  "Reaped" is
 * checked with kill(pid, 0) (a zombie still answers it, and only this
 * process may reap its children) or by counting this process's children
 * in /proc.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/compat.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/status.h"
#include "common/xmalloc.h"
#include "relayqd/relayqd_pwcmd.h"
#include "smarthost/smarthost_auth.h"
#include "tap.h"

/* Seconds any one wait in this test may take before it fails. */
#define T_WAIT 60

static char tdir[64];
static struct event_base *base;

/* What the done callback saw. */
struct res {
	int calls;
	char secret[256];	     /* the last secret, or "" */
	char why[256];		     /* the last reason, or "" */
	struct relayqd_pwcmd *again; /* run this once more from done */
	const struct smarthost_auth *again_a;
};

/* The done callback: records the verdict. */
static void
done_cb(void *arg, const char *secret, const char *why)
{
	struct res *r = arg;

	r->calls++;
	(void)strlcpy(r->secret, secret != NULL ? secret : "",
	    sizeof(r->secret));
	(void)strlcpy(r->why, why != NULL ? why : "", sizeof(r->why));
	if (r->again != NULL) {
		relayqd_pwcmd_run(r->again, r->again_a);
		r->again = NULL;
	}
}

/* Keeps EVLOOP_ONCE from blocking for ever. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Monotonic seconds. */
static long long
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Runs the loop until done was called n times; returns 0, or -1. */
static int
loop_until_calls(struct res *r, int n)
{
	long long end = now_s() + T_WAIT;

	while (r->calls < n && now_s() < end)
		(void)event_base_loop(base, EVLOOP_ONCE);
	return r->calls >= n ? 0 : -1;
}

/* Writes a script dir/name whose body follows "#!/bin/sh"; returns its path. */
static const char *
script(const char *name, const char *body)
{
	static char path[128];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/%s", tdir, name);
	if ((fp = fopen(path, "w")) == NULL ||
	    fprintf(fp, "#!/bin/sh\n%s\n", body) < 0 || fclose(fp) != 0 ||
	    chmod(path, 0700) == -1)
		printf("# cannot write %s: %s\n", path, strerror(errno));
	return path;
}

/* Returns tdir/name (static). */
static const char *
tpath(const char *name)
{
	static char path[128];

	(void)snprintf(path, sizeof(path), "%s/%s", tdir, name);
	return path;
}

/*
 * Reads the pid in tdir/name; with wait, runs the loop until it is there
 * (T_WAIT at most).  Returns 0 when there is none.
 */
static pid_t
read_pid(const char *name, int wait)
{
	long long end = now_s() + T_WAIT;
	long v = 0;
	FILE *fp;

	for (;;) {
		if ((fp = fopen(tpath(name), "r")) != NULL) {
			if (fscanf(fp, "%ld", &v) != 1)
				v = 0;
			fclose(fp);
			if (v > 0)
				return (pid_t)v;
		}
		if (!wait || now_s() >= end)
			return 0;
		(void)event_base_loop(base, EVLOOP_ONCE);
	}
}

/* Returns the number of lines in tdir/name. */
static int
count_lines(const char *name)
{
	FILE *fp = fopen(tpath(name), "r");
	int c, n = 0;

	if (fp == NULL)
		return 0;
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

/* A policy running cmd (AUTH PLAIN), with time limit ms (0: default). */
static struct smarthost_auth *
policy(const char *cmd, int ms)
{
	struct smarthost_auth *a;
	struct rq_err err;
	struct conf c;

	conf_defaults(&c);
	free(c.smarthosts[0].username);
	c.smarthosts[0].username = xstrdup("user");
	free(c.smarthosts[0].password_command);
	c.smarthosts[0].password_command = xstrdup(cmd);
	free(c.smarthosts[0].auth);
	c.smarthosts[0].auth = xstrdup("plain");
	if ((a = smarthost_auth_new(&c, &err)) == NULL)
		printf("# smarthost_auth_new(%s): %s\n", cmd, err.msg);
	else if (ms > 0)
		smarthost_auth_set_command_timeout(a, ms);
	conf_free(&c);
	return a;
}

/*
 * Runs cmd (time limit ms) with a runner of its own until its verdict is
 * in r; returns the runner (the caller frees it).
 */
static struct relayqd_pwcmd *
run_verdict(const char *cmd, int ms, struct res *r)
{
	struct smarthost_auth *a = policy(cmd, ms);
	struct relayqd_pwcmd *p = relayqd_pwcmd_new(base, done_cb, r);

	memset(r, 0, sizeof(*r));
	relayqd_pwcmd_run(p, a);
	smarthost_auth_free(a); /* a reload may free it: the run goes on */
	if (loop_until_calls(r, 1) == -1)
		printf("# %s: no verdict within %d s\n", cmd, T_WAIT);
	return p;
}

/* Runs cmd once (time limit ms) and returns its verdict in r. */
static void
run_once(const char *cmd, int ms, struct res *r)
{
	relayqd_pwcmd_free(run_verdict(cmd, ms, r));
}

/* True when pid is gone: it exited and was reaped. */
static int
gone(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == -1 && errno == ESRCH;
}

/* Counts this process's children, zombies included (from /proc). */
static int
children(void)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	int n = 0, fd;
	ssize_t len;
	long ppid;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 &&
		    ppid == (long)getpid())
			n++;
	}
	(void)closedir(d);
	return n;
}

/* Runs the loop until pid is gone (T_WAIT at most). */
static int
loop_until_gone(pid_t pid)
{
	long long end = now_s() + T_WAIT;

	while (!gone(pid) && now_s() < end)
		(void)event_base_loop(base, EVLOOP_ONCE);
	return gone(pid);
}

/* Runs the loop until this process has no child (T_WAIT at most). */
static int
loop_until_childless(void)
{
	long long end = now_s() + T_WAIT;

	while (children() != 0 && now_s() < end)
		(void)event_base_loop(base, EVLOOP_ONCE);
	return children() == 0;
}

/* The first line of the output is the secret. */
static void
test_output(void)
{
	struct res r;

	run_once("/usr/bin/printf tok-123\\nsecond\\n", 0, &r);
	is_int(r.calls, 1, "done called once");
	is_str(r.secret, "tok-123", "the secret is the first line");
	is_str(r.why, "", "no reason given with a secret");
}

/* Creates tdir/go: the waiting command may go on. */
static void
go_cb(evutil_socket_t fd, short what, void *arg)
{
	int *fired = arg, gfd;

	(void)fd;
	(void)what;
	*fired = 1;
	if ((gfd = open(tpath("go"), O_WRONLY | O_CREAT, 0600)) != -1)
		(void)close(gfd);
}

/*
 * The loop runs while the command does: a timer creates the file the
 * command waits for, so the command can only end once the loop ran.
 */
static void
test_not_blocking(void)
{
	struct timeval tv = { 0, 100000 };
	struct smarthost_auth *a;
	struct relayqd_pwcmd *p;
	struct event *ev;
	struct res r;
	char cmd[256];
	int fired = 0;

	(void)unlink(tpath("go"));
	(void)snprintf(cmd, sizeof(cmd), "%s",
	    script("wait.sh",
		"i=0; while [ ! -e \"$(dirname \"$0\")/go\" ] && "
		"[ $i -lt 3000 ]; do sleep 0.05; i=$((i + 1)); done\n"
		"echo waited"));
	a = policy(cmd, 0);
	memset(&r, 0, sizeof(r));
	p = relayqd_pwcmd_new(base, done_cb, &r);
	ev = evtimer_new(base, go_cb, &fired);
	relayqd_pwcmd_run(p, a);
	ok(relayqd_pwcmd_is_running(p), "a run is in flight");
	(void)evtimer_add(ev, &tv);
	(void)loop_until_calls(&r, 1);
	ok(fired, "a timer fired while the command ran");
	is_str(r.secret, "waited", "then the command printed its secret");
	ok(!relayqd_pwcmd_is_running(p), "no run in flight after done");
	event_free(ev);
	relayqd_pwcmd_free(p);
	smarthost_auth_free(a);
}

/* One run for every caller meanwhile; a new one afterwards. */
static void
test_one_run(void)
{
	struct smarthost_auth *a;
	struct relayqd_pwcmd *p;
	struct res r;
	char body[256];

	(void)unlink(tpath("runs"));
	(void)snprintf(body, sizeof(body), "echo run >> %s\necho shared",
	    tpath("runs"));
	a = policy(script("count.sh", body), 0);
	memset(&r, 0, sizeof(r));
	p = relayqd_pwcmd_new(base, done_cb, &r);
	relayqd_pwcmd_run(p, a);
	relayqd_pwcmd_run(p, a);
	relayqd_pwcmd_run(p, a);
	is_int(r.calls, 0, "done never runs inside relayqd_pwcmd_run()");
	(void)loop_until_calls(&r, 1);
	is_int(count_lines("runs"), 1, "three callers meanwhile: one run");
	is_str(r.secret, "shared", "its output for them");
	relayqd_pwcmd_run(p, a);
	(void)loop_until_calls(&r, 2);
	is_int(count_lines("runs"), 2, "the next caller: a new run (no cache)");

	/* done may start the next run (a session resumes, another asks) */
	r.again = p;
	r.again_a = a;
	relayqd_pwcmd_run(p, a);
	(void)loop_until_calls(&r, 4);
	is_int(r.calls, 4, "a run started from done ends too");
	is_int(count_lines("runs"), 4, "each was a run of its own");
	relayqd_pwcmd_free(p);
	smarthost_auth_free(a);
}

/* Failures end with the reason. */
static void
test_failures(void)
{
	struct res r;

	run_once("/bin/false", 0, &r);
	ok(r.calls == 1 && strcmp(r.secret, "") == 0 &&
		strstr(r.why,
		    "password_command /bin/false exited with "
		    "status 1") != NULL,
	    "non-zero exit: %s", r.why);
	run_once("/bin/true", 0, &r);
	ok(strstr(r.why, "/bin/true: the first line of its output is empty") !=
		NULL,
	    "no output, in plain words: %s", r.why);
	run_once("/nonexistent/helper --flag", 0, &r);
	ok(strstr(r.why, "exited with status 127 (command not found)") != NULL,
	    "missing program: %s", r.why);
	(void)script("noexec.sh", "echo x");
	(void)chmod(tpath("noexec.sh"), 0600);
	run_once(tpath("noexec.sh"), 0, &r);
	ok(strstr(r.why, "exited with status 126 (not executable)") != NULL,
	    "a program that is not executable: %s", r.why);
	run_once(script("fail.sh", "echo the-secret; exit 3"), 0, &r);
	ok(strstr(r.why, "exited with status 3") != NULL &&
		strstr(r.why, "the-secret") == NULL,
	    "output then exit 3: refused, and the reason never holds the "
	    "output: %s",
	    r.why);
}

/* Too much output: killed at once (it would print for ever). */
static void
test_flood(void)
{
	struct relayqd_pwcmd *p;
	struct res r;
	pid_t pid;

	(void)unlink(tpath("flood.pid"));
	p = run_verdict(script("flood.sh",
			    "echo $$ > \"$(dirname \"$0\")/flood.pid\"; "
			    "exec yes"),
	    T_WAIT * 1000, &r);
	ok(strstr(r.why, "printed more than 8192 bytes") != NULL,
	    "more than 8 KiB: %s", r.why);
	pid = read_pid("flood.pid", 0);
	ok(gone(pid) && children() == 0,
	    "it was killed and reaped before the verdict");
	relayqd_pwcmd_free(p);
}

/* The time limit: killed by its pid and reaped. */
static void
test_timeout(void)
{
	struct relayqd_pwcmd *p;
	struct res r;
	pid_t gpid;

	p = run_verdict("/bin/sleep 30", 300, &r);
	ok(strstr(r.why, "timed out after 300 ms") != NULL, "time limit: %s",
	    r.why);
	ok(loop_until_childless(),
	    "the command was killed, and reaped from the loop (SIGCHLD)");
	relayqd_pwcmd_free(p);

	/* a grandchild keeps stdout open: the run ends at the limit anyway */
	(void)unlink(tpath("gchild.pid"));
	run_once(script("gchild.sh",
		     "sleep 30 & echo $! > \"$(dirname \"$0\")/gchild.pid\"\n"
		     "exec sleep 30"),
	    300, &r);
	ok(strstr(r.why, "timed out after 300 ms") != NULL,
	    "a grandchild holding the pipe: ends at the limit: %s", r.why);
	if ((gpid = read_pid("gchild.pid", 0)) > 0)
		(void)kill(gpid, SIGKILL); /* not ours: init reaps it */

	/*
	 * It exits at once, but a process it started holds stdout open:
	 * the reason says so, and that process is killed at the limit
	 * (the generous limit only has to outlast the script's two words).
	 */
	(void)unlink(tpath("left.pid"));
	run_once(script("left.sh",
		     "sleep 300 & echo $! > \"$(dirname \"$0\")/left.pid\"\n"
		     "exit 4"),
	    5000, &r);
	ok(strstr(r.why,
	       "left.sh exited with status 4, but its output stayed open: a "
	       "process it started still holds it (killed after 5000 ms)") !=
		NULL,
	    "exited, a child holding its output: %s", r.why);
	gpid = read_pid("left.pid", 0);
	ok(gpid > 0 && loop_until_gone(gpid),
	    "that child was killed at the limit (its process group)");
	if (gpid > 0 && !gone(gpid))
		(void)kill(gpid, SIGKILL);
}

/* Freeing with a command running: killed and reaped, no done call. */
static void
test_free_running(void)
{
	struct smarthost_auth *a;
	struct relayqd_pwcmd *p;
	struct res r;
	pid_t pid;

	(void)unlink(tpath("free.pid"));
	a = policy(script("free.sh",
		       "echo $$ > \"$(dirname \"$0\")/free.pid\"; exec sleep "
		       "30"),
	    0);
	memset(&r, 0, sizeof(r));
	p = relayqd_pwcmd_new(base, done_cb, &r);
	relayqd_pwcmd_run(p, a);
	pid = read_pid("free.pid", 1);
	ok(pid > 0 && kill(pid, 0) == 0, "the command runs");
	relayqd_pwcmd_free(p);
	ok(gone(pid), "freed: it was killed and reaped at once");
	is_int(r.calls, 0, "freed: done was not called");
	smarthost_auth_free(a);

	/* after a timeout, before SIGCHLD was seen: free reaps it too */
	memset(&r, 0, sizeof(r));
	(void)unlink(tpath("free.pid"));
	a = policy(tpath("free.sh"), 1);
	p = relayqd_pwcmd_new(base, done_cb, &r);
	relayqd_pwcmd_run(p, a);
	(void)loop_until_calls(&r, 1);
	relayqd_pwcmd_free(p);
	pid = read_pid("free.pid", 0); /* it may have been killed before */
	ok(strstr(r.why, "timed out") != NULL && (pid == 0 || gone(pid)) &&
		children() == 0,
	    "timed out, then freed at once: nothing left (%s)", r.why);
	smarthost_auth_free(a);
}

int
main(void)
{
	static const char *const files[] = { "go", "runs", "wait.sh",
		"count.sh", "fail.sh", "flood.sh", "flood.pid", "gchild.sh",
		"gchild.pid", "free.sh", "free.pid", "noexec.sh", "left.sh",
		"left.pid" };
	struct timeval tv = { 0, 100000 };
	struct event *tick;

	log_init("test_relayqd_pwcmd", LOG_TO_STDERR, 0);
	(void)strlcpy(tdir, "/tmp/test_relayqd_pwcmd.XXXXXX", sizeof(tdir));
	if (mkdtemp(tdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if ((base = event_base_new()) == NULL ||
	    (tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL)) == NULL ||
	    event_add(tick, &tv) == -1) {
		printf("Bail out! libevent\n");
		return 1;
	}
	test_output();
	test_not_blocking();
	test_one_run();
	test_failures();
	test_flood();
	test_timeout();
	test_free_running();
	event_free(tick);
	event_base_free(base);
	for (size_t i = 0; i < RQ_NELEM(files); i++)
		(void)unlink(tpath(files[i]));
	(void)rmdir(tdir);
	return done_testing();
}
