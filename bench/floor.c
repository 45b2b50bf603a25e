/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * The benchmark's timer and floor (bench/run builds it with cc; it is not
 * part of relayq).  Three modes, each bounded by its count:
 *
 *	floor spawn N WARMUP INPUT CMD [ARG...]
 *		runs CMD WARMUP + N times, one after the other, with stdin
 *		from INPUT (reopened each time) and stdout on /dev/null, by
 *		fork + execv (no shell); prints one line per counted run:
 *		"wall_us cpu_us exit_status".  Wall is CLOCK_MONOTONIC from
 *		before fork() to after wait4(); CPU is the child's user+sys
 *		from wait4() (it includes the children it waited for).
 *
 *	floor durable N WARMUP INPUT DIR
 *		the durable write of a spool: WARMUP + N times open
 *		DIR/tmp/<i> O_CREAT|O_EXCL, write INPUT's bytes, fsync,
 *		close, rename to DIR/new/<i>, fsync DIR/new; prints
 *		"wall_us cpu_us 0" per counted write (CPU from getrusage).
 *
 *	floor fill N JOBS INPUT CMD [ARG...]
 *		runs CMD N times with at most JOBS at once, stdin from INPUT,
 *		stdout and stderr on /dev/null; prints "ok=K failed=F" and
 *		exits 1 if any run failed.  Used to fill a queue quickly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_COUNT 10000000L
#define FLOOR_MAX_JOBS 1000

/* Prints a message with strerror and exits 2. */
static void
floor_die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Microseconds of CLOCK_MONOTONIC. */
static long long
floor_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* User + system time of a rusage, in microseconds. */
static long long
floor_ru_us(const struct rusage *ru)
{
	return (long long)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) *
	    1000000 +
	    ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
}

/* Parses a count in [lo, FLOOR_MAX_COUNT]. */
static long
floor_count(const char *s, long lo)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > FLOOR_MAX_COUNT) {
		fprintf(stderr, "floor: bad count %s\n", s);
		exit(2);
	}
	return v;
}

/* Starts cmd with stdin from input; output to /dev/null (stderr kept). */
static pid_t
floor_start(const char *input, char **cmd, int quiet)
{
	pid_t pid;
	int in, null;

	if ((in = open(input, O_RDONLY | O_CLOEXEC)) == -1)
		floor_die(input);
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		floor_die("/dev/null");
	if ((pid = fork()) == -1)
		floor_die("fork");
	if (pid == 0) {
		if (dup2(in, 0) == -1 || dup2(null, 1) == -1 ||
		    (quiet && dup2(null, 2) == -1))
			_exit(126);
		execv(cmd[0], cmd);
		_exit(127);
	}
	(void)close(in);
	(void)close(null);
	return pid;
}

/* Mode spawn: sequential timed runs. */
static int
floor_spawn(long n, long warm, const char *input, char **cmd)
{
	for (long i = 0; i < warm + n; i++) {
		struct rusage ru;
		long long t0 = floor_now_us(), t1;
		int status;
		pid_t pid = floor_start(input, cmd, 0);

		while (wait4(pid, &status, 0, &ru) == -1)
			if (errno != EINTR)
				floor_die("wait4");
		t1 = floor_now_us();
		if (i >= warm)
			printf("%lld %lld %d\n", t1 - t0, floor_ru_us(&ru),
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	}
	return fflush(stdout) == EOF ? 2 : 0;
}

/* Reads all of path into memory. */
static char *
floor_slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		floor_die(path);
	*len = (size_t)st.st_size;
	if ((p = malloc(*len + 1)) == NULL)
		floor_die("malloc");
	while (got < *len) {
		ssize_t r = read(fd, p + got, *len - got);

		if (r <= 0)
			floor_die(path);
		got += (size_t)r;
	}
	(void)close(fd);
	return p;
}

/* Mode durable: tmp file, write, fsync, rename, fsync of the directory. */
static int
floor_durable(long n, long warm, const char *input, const char *dir)
{
	char path[4096];
	size_t len;
	char *data = floor_slurp(input, &len);
	int tmpfd, newfd;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		floor_die(dir);
	(void)snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		floor_die(path);
	if ((tmpfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		floor_die(path);
	(void)snprintf(path, sizeof(path), "%s/new", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		floor_die(path);
	if ((newfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		floor_die(path);
	for (long i = 0; i < warm + n; i++) {
		struct rusage r0, r1;
		char name[32];
		long long t0, t1;
		size_t off = 0;
		int fd;

		(void)snprintf(name, sizeof(name), "m%ld", i);
		getrusage(RUSAGE_SELF, &r0);
		t0 = floor_now_us();
		fd = openat(tmpfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd == -1)
			floor_die("openat");
		while (off < len) {
			ssize_t w = write(fd, data + off, len - off);

			if (w <= 0)
				floor_die("write");
			off += (size_t)w;
		}
		if (fsync(fd) == -1 || close(fd) == -1)
			floor_die("fsync/close");
		if (renameat(tmpfd, name, newfd, name) == -1)
			floor_die("renameat");
		if (fsync(newfd) == -1)
			floor_die("fsync dir");
		t1 = floor_now_us();
		getrusage(RUSAGE_SELF, &r1);
		if (i >= warm)
			printf("%lld %lld 0\n", t1 - t0,
			    floor_ru_us(&r1) - floor_ru_us(&r0));
	}
	free(data);
	return fflush(stdout) == EOF ? 2 : 0;
}

/* Mode fill: N runs, at most jobs at once. */
static int
floor_fill(long n, long jobs, const char *input, char **cmd)
{
	long started = 0, running = 0, ok = 0, failed = 0;

	while (started < n || running > 0) {
		int status;
		pid_t pid;

		if (started < n && running < jobs) {
			floor_start(input, cmd, 1);
			started++;
			running++;
			continue;
		}
		if ((pid = wait(&status)) == -1) {
			if (errno == EINTR)
				continue;
			floor_die("wait");
		}
		running--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else
			failed++;
	}
	printf("ok=%ld failed=%ld\n", ok, failed);
	return failed > 0 || fflush(stdout) == EOF;
}

int
main(int argc, char *argv[])
{
	if (argc >= 6 && strcmp(argv[1], "spawn") == 0)
		return floor_spawn(floor_count(argv[2], 1),
		    floor_count(argv[3], 0), argv[4], argv + 5);
	if (argc == 6 && strcmp(argv[1], "durable") == 0)
		return floor_durable(floor_count(argv[2], 1),
		    floor_count(argv[3], 0), argv[4], argv[5]);
	if (argc >= 6 && strcmp(argv[1], "fill") == 0) {
		long jobs = floor_count(argv[3], 1);

		if (jobs > FLOOR_MAX_JOBS)
			jobs = FLOOR_MAX_JOBS;
		return floor_fill(floor_count(argv[2], 0), jobs, argv[4],
		    argv + 5);
	}
	fprintf(stderr,
	    "usage: floor spawn N WARMUP INPUT CMD [ARG...]\n"
	    "       floor durable N WARMUP INPUT DIR\n"
	    "       floor fill N JOBS INPUT CMD [ARG...]\n");
	return 2;
}
