/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Unit tests for queue_spool, queue_scan and queue_list on a spool in a
 * fresh mkdtemp() directory: creation and modes, the writer's commit
 * protocol, accept and quarantine (garbage, symlink, hard link, id
 * mismatch), the per-message lock, state files, removal, scans with bad
 * names, clean-ups (tmp/ files locked by a live writer are kept), the
 * daemon lock, abort, the wake FIFO and the mailq listing.  Everything runs as the one user running the tests.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "queue/queue_env.h"
#include "queue/queue_list.h"
#include "queue/queue_scan.h"
#include "queue/queue_spool.h"
#include "queue/queue_state.h"
#include "tap.h"

/* ok() whose condition is evaluated before the message arguments. */
#define okv(cond, ...)                     \
	do {                               \
		int okv_pass = !!(cond);   \
		ok(okv_pass, __VA_ARGS__); \
	} while (0)

static char topdir[64];
static char spooldir[128];

static const char body1[] = "Subject: test\r\n\r\nhello\r\n..dot\r\n";

/* Returns "<spool>/<sub>" in a static buffer. */
static const char *
sp_path(const char *sub)
{
	static char buf[4][512];
	static int n;
	char *p = buf[n++ % 4];

	if (snprintf(p, sizeof(buf[0]), "%s/%s", spooldir, sub) >=
	    (int)sizeof(buf[0]))
		abort();
	return p;
}

/* Counts the entries of a directory, "." and ".." excepted. */
static int
count_dir(const char *sub)
{
	DIR *d = opendir(sp_path(sub));
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Removes every entry of <spool>/<sub> (files and symlinks only). */
static void
empty_dir(const char *sub)
{
	DIR *d = opendir(sp_path(sub));
	struct dirent *de;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) == -1)
			(void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	closedir(d);
}

/* Removes a directory tree that holds no symlinks to directories. */
static void
rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[1024];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (unlink(sub) == -1)
				rm_rf(sub);
		}
		closedir(d);
	}
	(void)rmdir(path);
}

/* True when <spool>/<sub> exists (without following symlinks). */
static int
exists(const char *sub)
{
	struct stat st;

	return lstat(sp_path(sub), &st) == 0;
}

/* Returns the permission bits of <spool>/<sub>, or -1. */
static int
mode_of(const char *sub)
{
	struct stat st;

	if (lstat(sp_path(sub), &st) == -1)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* Writes a file with the given content. */
static void
put_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len || close(fd) == -1)
		abort();
}

/* Fills e with an envelope of two recipients. */
static void
make_env(struct queue_env *e, const char *sender)
{
	queue_env_init(e);
	e->arrival = (long long)time(NULL);
	e->uid = (long long)getuid();
	e->sender = xstrdup(sender);
	if (queue_env_add_rcpt(e, "bob@example.net") == -1 ||
	    queue_env_add_rcpt(e, "carol@example.com") == -1)
		abort();
}

/* Writes and commits a message; returns 0 or -1 and sets id. */
static int
submit(struct queue_spool *sp, const char *sender, const char *body,
    enum queue_dir dest, char id[QUEUE_ID_LEN + 1])
{
	struct queue_writer *w = xmalloc(sizeof(*w));
	struct queue_env e;
	struct rq_err err;
	int r = -1;

	make_env(&e, sender);
	if (queue_writer_begin(w, sp, &e, &err) == 0) {
		memcpy(id, e.id, QUEUE_ID_LEN + 1);
		if (queue_writer_body(w, body, strlen(body)) == 0 &&
		    queue_writer_commit(w, dest, &err) == 0)
			r = 0;
		else
			queue_writer_abort(w);
	}
	queue_env_free(&e);
	free(w);
	return r;
}

static void
test_create(struct queue_spool *sp)
{
	struct rq_err err;
	struct stat st;

	okv(queue_spool_open(sp, spooldir,
		QUEUE_SPOOL_DAEMON | QUEUE_SPOOL_CREATE, &err) == 0,
	    "create spool (%s)", err.msg);
	is_int(mode_of("."), 0755, "spool root 0755");
	is_int(mode_of("tmp"), 01730, "tmp/ 1730");
	is_int(mode_of("incoming"), 01770, "incoming/ 1770");
	is_int(mode_of("queue"), 0750, "queue/ 0750");
	is_int(mode_of("state"), 0750, "state/ 0750");
	is_int(mode_of("corrupt"), 0700, "corrupt/ 0700");
	is_int(mode_of("failed"), 0750, "failed/ 0750");
	ok(lstat(sp_path("wake"), &st) == 0 && S_ISFIFO(st.st_mode),
	    "wake FIFO exists");
	is_int(mode_of("wake"), 0620, "wake FIFO 0620");
	is_str(queue_spool_dirname(QUEUE_DIR_INCOMING), "incoming", "dirname");
}

static void
test_open_modes(void)
{
	struct queue_spool fe, rd;
	struct rq_err err;

	okv(queue_spool_open(&fe, spooldir, QUEUE_SPOOL_FRONTEND, &err) == 0,
	    "front end open");
	ok(fe.dirfd[QUEUE_DIR_TMP] != -1 &&
		fe.dirfd[QUEUE_DIR_INCOMING] != -1 &&
		fe.dirfd[QUEUE_DIR_QUEUE] == -1 &&
		fe.dirfd[QUEUE_DIR_CORRUPT] == -1,
	    "front end has tmp/ and incoming/ only");
	queue_spool_close(&fe);
	queue_spool_close(&fe);
	ok(fe.rootfd == -1 && fe.path == NULL, "close is idempotent");
	okv(queue_spool_open(&rd, spooldir, QUEUE_SPOOL_READER, &err) == 0,
	    "reader open");
	ok(rd.dirfd[QUEUE_DIR_QUEUE] != -1 && rd.dirfd[QUEUE_DIR_TMP] == -1,
	    "reader has queue/ but not tmp/");
	queue_spool_close(&rd);
	okv(queue_spool_open(&rd, "/nonexistent/relayq", QUEUE_SPOOL_READER,
		&err) == -1 &&
		errno == ENOENT,
	    "missing spool: %s", err.msg);
	okv(queue_spool_open(&rd, spooldir, 0, &err) == -1 && errno == EINVAL,
	    "no flags refused");
}

static void
test_commit_accept(struct queue_spool *sp)
{
	char id[QUEUE_ID_LEN + 1], sub[64];
	struct queue_env e;
	struct rq_err err;
	int fd, fd2;

	okv(submit(sp, "alice@example.org", body1, QUEUE_DIR_INCOMING, id) == 0,
	    "submit");
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	ok(exists(sub), "committed file in incoming/");
	is_int(mode_of(sub), 0640, "message file 0640 despite umask 077");
	is_int(count_dir("tmp"), 0, "nothing left in tmp/");

	okv(queue_spool_accept(sp, id, &err) == 0, "accept (%s)", err.msg);
	snprintf(sub, sizeof(sub), "queue/%s", id);
	ok(exists(sub), "accepted file in queue/");
	is_int(count_dir("incoming"), 0, "incoming/ empty");

	fd = queue_spool_open_msg(sp, id, &e, &err);
	ok(fd >= 0, "open_msg");
	is_str(e.id, id, "open_msg id");
	is_int(e.nrcpt, 2, "open_msg recipients");
	is_int(e.body_len, strlen(body1), "open_msg body length");
	is_int(lseek(fd, 0, SEEK_CUR), 0, "file offset left at 0");
	queue_env_free(&e);
	fd2 = queue_spool_open_msg(sp, id, &e, &err);
	okv(fd2 == -1 && errno == EWOULDBLOCK, "second open_msg locked: %s",
	    err.msg);
	ok(exists(sub), "locked message left in place");
	close(fd);
	fd2 = queue_spool_open_msg(sp, id, &e, &err);
	ok(fd2 >= 0, "open_msg after the lock is gone");
	queue_env_free(&e);
	close(fd2);

	okv(queue_spool_accept(sp, id, &err) == -1 && errno == ENOENT,
	    "accept of a vanished id: ENOENT, nothing moved");
	is_int(count_dir("corrupt"), 0, "corrupt/ still empty");
	okv(queue_spool_remove(sp, id) == 0, "remove");
	is_int(count_dir("queue"), 0, "queue/ empty");
}

static void
test_state(struct queue_spool *sp)
{
	char id[QUEUE_ID_LEN + 1], sub[64];
	struct queue_state s;
	struct rq_err err;

	if (submit(sp, "", body1, QUEUE_DIR_QUEUE, id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "queue/%s", id);
	ok(exists(sub), "bounce committed straight to queue/");

	okv(queue_spool_load_state(sp, id, 2, &s, &err) == 0, "fresh state");
	is_int(queue_state_pending(&s), 2, "fresh state: all pending");
	s.tries = 1;
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_DONE, "250 ok");
	queue_state_set_error(&s, "451 later");
	okv(queue_spool_save_state(sp, &s) == 0, "save state");
	queue_state_free(&s);
	snprintf(sub, sizeof(sub), "state/%s", id);
	ok(exists(sub), "state file exists");
	is_int(mode_of(sub), 0640, "state file 0640");
	is_int(count_dir("state"), 1, "no temporary left in state/");
	okv(queue_spool_load_state(sp, id, 2, &s, &err) == 0, "load state");
	is_int(s.rcpt_st[0], QUEUE_RCPT_DONE, "saved status");
	is_int(s.tries, 1, "saved tries");
	is_str(s.last_error, "451 later", "saved error");
	queue_state_set_rcpt(&s, 1, QUEUE_RCPT_DONE, "250 ok");
	okv(queue_spool_save_state(sp, &s) == 0, "replace state");
	queue_state_free(&s);
	okv(queue_spool_load_state(sp, id, 3, &s, &err) == -1 &&
		errno == EBADMSG,
	    "wrong count: %s", err.msg);
	ok(!exists(sub), "corrupt state moved away");
	okv(queue_spool_load_state(sp, id, 2, &s, &err) == 0,
	    "after quarantine: fresh state");
	is_int(queue_state_pending(&s), 2, "fresh again");
	okv(queue_spool_save_state(sp, &s) == 0, "save again");
	queue_state_free(&s);

	okv(queue_spool_remove(sp, id) == 0, "remove");
	snprintf(sub, sizeof(sub), "queue/%s", id);
	ok(!exists(sub), "queue file gone");
	snprintf(sub, sizeof(sub), "state/%s", id);
	ok(!exists(sub), "state file gone");
	okv(queue_spool_remove(sp, id) == 0, "remove twice is harmless");
	empty_dir("corrupt");
}

/* Loads id's state (expecting a file or not) and removes it as done. */
static void
remove_done_as_found(struct queue_spool *sp, const char *id, int want)
{
	struct queue_state s;
	struct rq_err err;
	char sub[64];
	int found = -1;

	okv(queue_spool_load_state_found(sp, id, 2, &s, &found, &err) == 0 &&
		found == want,
	    "load_state_found: found %d", want);
	queue_state_free(&s);
	okv(queue_spool_remove_done(sp, id, found) == 0, "remove_done(%d)",
	    want);
	snprintf(sub, sizeof(sub), "queue/%s", id);
	ok(!exists(sub), "queue file gone");
	snprintf(sub, sizeof(sub), "state/%s", id);
	ok(!exists(sub), "no state file left");
}

/* Batched accept, load_state_found and remove_done (relayqd, issue 8). */
static void
test_batch_remove_done(struct queue_spool *sp)
{
	char id1[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1];
	struct queue_state s;
	struct rq_err err;

	if (submit(sp, "a@example.org", body1, QUEUE_DIR_INCOMING, id1) == -1 ||
	    submit(sp, "b@example.org", body1, QUEUE_DIR_INCOMING, id2) == -1)
		abort();
	ok(queue_spool_accept_move(sp, id1, &err) == 0 &&
		queue_spool_accept_move(sp, id2, &err) == 0,
	    "accept_move of two files");
	is_int(count_dir("queue"), 2, "both moved to queue/");
	is_int(count_dir("incoming"), 0, "incoming/ empty");
	ok(queue_spool_accept_sync(sp, &err) == 0, "one accept_sync");
	okv(queue_spool_accept_move(sp, id1, &err) == -1 && errno == ENOENT,
	    "accept_move of a moved id: ENOENT");

	remove_done_as_found(sp, id1, 0);
	queue_state_init(&s, id2, 2);
	okv(queue_spool_save_state(sp, &s) == 0, "save a state");
	queue_state_free(&s);
	remove_done_as_found(sp, id2, 1);
	okv(queue_spool_remove_done(sp, id2, 0) == 0,
	    "remove_done twice is harmless");
	okv(queue_spool_remove_done(sp, "../x", 0) == -1 && errno == EINVAL,
	    "remove_done of a bad id: EINVAL");
}

static void
test_quarantine(struct queue_spool *sp)
{
	char id[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1], sub[64], sub2[64];
	char target[256], link2[256], buf[32];
	struct queue_env e;
	struct rq_err err;
	struct stat st;
	int fd;

	/* Garbage with a valid name. */
	if (queue_id_new(id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	put_file(sp_path(sub), "garbage\n", 8);
	okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
	    "garbage rejected: %s", err.msg);
	snprintf(sub2, sizeof(sub2), "corrupt/%s", id);
	ok(!exists(sub) && exists(sub2), "garbage moved to corrupt/");

	/* A symlink to a file outside the spool. */
	snprintf(target, sizeof(target), "%s/target", topdir);
	put_file(target, "secret", 6);
	if (queue_id_new(id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	if (symlink(target, sp_path(sub)) == -1)
		abort();
	okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
	    "symlink rejected: %s", err.msg);
	snprintf(sub2, sizeof(sub2), "corrupt/%s", id);
	ok(lstat(sp_path(sub2), &st) == 0 && S_ISLNK(st.st_mode),
	    "symlink itself quarantined");
	fd = open(target, O_RDONLY);
	ok(fd != -1 && read(fd, buf, sizeof(buf)) == 6 &&
		memcmp(buf, "secret", 6) == 0,
	    "symlink target untouched");
	if (fd != -1)
		close(fd);
	ok(stat(target, &st) == 0 && st.st_nlink == 1, "target not linked");

	/* A hard-linked message. */
	if (submit(sp, "alice@example.org", body1, QUEUE_DIR_INCOMING, id) ==
	    -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	snprintf(link2, sizeof(link2), "%s/hardlink", topdir);
	if (link(sp_path(sub), link2) == -1)
		abort();
	okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
	    "hard link (nlink 2) refused: %s", err.msg);
	snprintf(sub2, sizeof(sub2), "queue/%s", id);
	ok(!exists(sub) && !exists(sub2), "not accepted into queue/");
	unlink(link2);

	/* A valid file under another valid id. */
	if (submit(sp, "alice@example.org", body1, QUEUE_DIR_INCOMING, id) ==
		-1 ||
	    queue_id_new(id2) == -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	snprintf(sub2, sizeof(sub2), "incoming/%s", id2);
	if (rename(sp_path(sub), sp_path(sub2)) == -1)
		abort();
	okv(queue_spool_accept(sp, id2, &err) == -1 && errno == EBADMSG,
	    "id mismatch refused: %s", err.msg);

	/* A directory and a FIFO named like ids. */
	if (queue_id_new(id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	if (mkdir(sp_path(sub), 0700) == -1)
		abort();
	okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
	    "directory refused: %s", err.msg);
	if (queue_id_new(id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	if (mkfifo(sp_path(sub), 0600) == -1)
		abort();
	okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
	    "FIFO refused without blocking: %s", err.msg);
	is_int(count_dir("incoming"), 0, "incoming/ empty after rejects");

	/* Bad names never reach a path. */
	okv(queue_spool_accept(sp, "../x", &err) == -1 && errno == EINVAL,
	    "accept ../x refused");
	okv(queue_spool_open_msg(sp, "../x", &e, &err) == -1 && errno == EINVAL,
	    "open_msg ../x refused");
	okv(queue_spool_remove(sp, "../x") == -1 && errno == EINVAL,
	    "remove ../x refused");
	okv(queue_spool_quarantine(sp, QUEUE_DIR_INCOMING, "../x") == -1 &&
		errno == EINVAL,
	    "quarantine ../x refused");
	okv(queue_spool_quarantine(sp, QUEUE_DIR_INCOMING, "..") == -1 &&
		errno == EINVAL,
	    "quarantine .. refused");

	/* A corrupt file in queue/ is quarantined by open_msg. */
	if (queue_id_new(id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "queue/%s", id);
	put_file(sp_path(sub), "RELAYQ 1\nI20:", 13);
	okv(queue_spool_open_msg(sp, id, &e, &err) == -1 && errno == EBADMSG,
	    "corrupt queue file: %s", err.msg);
	ok(!exists(sub), "corrupt queue file moved away");
	empty_dir("corrupt");
}

static void
test_writer_failures(struct queue_spool *sp)
{
	struct queue_writer *w = xmalloc(sizeof(*w));
	struct queue_env e;
	struct rq_err err;

	/* Invalid envelope: nothing is created. */
	make_env(&e, "alice@example.org");
	free(e.rcpts[1]);
	e.rcpts[1] = xstrdup("x@y\r\nRCPT TO:<z@w>");
	okv(queue_writer_begin(w, sp, &e, &err) == -1 && errno == EINVAL,
	    "begin refuses CR/LF: %s", err.msg);
	is_int(count_dir("tmp"), 0, "nothing in tmp/");
	queue_writer_abort(w);
	queue_env_free(&e);

	/* Abort after some body. */
	make_env(&e, "alice@example.org");
	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin");
	is_int(count_dir("tmp"), 1, "one file in tmp/ while writing");
	okv(queue_writer_body(w, body1, strlen(body1)) == 0, "body");
	queue_writer_abort(w);
	is_int(count_dir("tmp"), 0, "abort leaves nothing in tmp/");
	is_int(count_dir("incoming"), 0, "abort leaves nothing in incoming/");
	queue_writer_abort(w);
	ok(1, "abort twice is harmless");

	/* A body that is not in wire form. */
	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin");
	okv(queue_writer_body(w, "bare LF\n", 8) == -1 && errno == EINVAL,
	    "bare LF refused by the writer");
	okv(queue_writer_body(w, "x\r\n", 3) == -1, "writer failure is sticky");
	okv(queue_writer_commit(w, QUEUE_DIR_INCOMING, &err) == -1 &&
		errno == EINVAL,
	    "commit fails: %s", err.msg);
	is_int(count_dir("tmp"), 0, "failed commit leaves nothing in tmp/");
	is_int(count_dir("incoming"), 0, "and nothing in incoming/");

	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin");
	okv(queue_writer_body(w, "no final CRLF", 13) == 0, "partial line");
	okv(queue_writer_commit(w, QUEUE_DIR_INCOMING, &err) == -1 &&
		errno == EINVAL,
	    "commit without final CRLF fails: %s", err.msg);
	is_int(count_dir("tmp"), 0, "nothing in tmp/");

	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin");
	okv(queue_writer_commit(w, QUEUE_DIR_CORRUPT, &err) == -1 &&
		errno == EINVAL,
	    "commit into corrupt/ refused");
	is_int(count_dir("tmp"), 0, "nothing in tmp/");
	okv(queue_writer_commit(w, QUEUE_DIR_INCOMING, &err) == -1,
	    "commit after abort refused");
	queue_env_free(&e);
	free(w);
}

static void
test_big_body(struct queue_spool *sp)
{
	struct queue_writer *w = xmalloc(sizeof(*w));
	struct queue_env e, p;
	struct rq_err err;
	char line[100], id[QUEUE_ID_LEN + 1];
	size_t total = 0;
	int r = 0, fd;

	memset(line, 'y', sizeof(line));
	line[0] = '.';
	line[1] = '.';
	line[98] = '\r';
	line[99] = '\n';
	make_env(&e, "alice@example.org");
	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin big");
	memcpy(id, e.id, sizeof(id));
	for (size_t i = 0; i < 3000 && r == 0; i++) {
		size_t k = i % 101;

		/* Split each line at a different point, even inside CRLF. */
		r = queue_writer_body(w, line, k);
		if (r == 0)
			r = queue_writer_body(w, line + k, sizeof(line) - k);
		total += sizeof(line);
	}
	okv(r == 0, "300 kB body in odd chunks");
	okv(queue_writer_commit(w, QUEUE_DIR_INCOMING, &err) == 0,
	    "commit big (%s)", err.msg);
	okv(queue_spool_accept(sp, id, &err) == 0, "accept big (CRC checked)");
	fd = queue_spool_open_msg(sp, id, &p, &err);
	is_int(p.body_len, total, "big body length");
	queue_env_free(&p);
	if (fd != -1)
		close(fd);
	okv(queue_spool_remove(sp, id) == 0, "remove big");
	queue_env_free(&e);
	free(w);
}

static void
test_scan(struct queue_spool *sp)
{
	static const char *ids[] = { "0000000030000000000C",
		"0000000010000000000A", "0000000020000000000B" };
	struct queue_idlist l;
	size_t nbad = 99;
	char sub[64];
	int n;

	for (size_t i = 0; i < RQ_NELEM(ids); i++) {
		snprintf(sub, sizeof(sub), "queue/%s", ids[i]);
		put_file(sp_path(sub), "x", 1);
	}
	put_file(sp_path("queue/a b"), "x", 1);
	put_file(sp_path("queue/..x"), "x", 1);
	put_file(sp_path("queue/0000000010000000000a"), "x", 1);
	put_file(sp_path("state/0000000010000000000A.tmp"), "x", 1);
	okv(queue_scan_dir(sp, QUEUE_DIR_QUEUE, &l, &nbad) == 0, "scan queue/");
	is_int(l.n, 3, "three ids");
	ok(l.n == 3 && strcmp(l.ids[0], ids[1]) == 0 &&
		strcmp(l.ids[1], ids[2]) == 0 && strcmp(l.ids[2], ids[0]) == 0,
	    "sorted by id");
	is_int(nbad, 3, "bad names counted");
	queue_idlist_free(&l);
	okv(queue_scan_dir(sp, QUEUE_DIR_STATE, &l, &nbad) == 0, "scan state/");
	is_int(l.n, 0, "no state files");
	is_int(nbad, 0, "state temporaries skipped silently");
	queue_idlist_free(&l);

	n = queue_scan_quarantine_bad(sp, QUEUE_DIR_QUEUE);
	is_int(n, 3, "bad names quarantined");
	ok(!exists("queue/a b") && !exists("queue/..x"), "bad names moved");
	is_int(count_dir("corrupt"), 3, "three entries in corrupt/");
	is_int(count_dir("queue"), 3, "ids left in queue/");
	empty_dir("corrupt");

	/* Orphan state: state/<id> without queue/<id>. */
	put_file(sp_path("state/0000000040000000000D"), "x", 1);
	put_file(sp_path("state/0000000010000000000A"), "x", 1);
	is_int(queue_scan_clean_state(sp), 1, "one orphan state removed");
	ok(!exists("state/0000000040000000000D") &&
		exists("state/0000000010000000000A"),
	    "state of a queued message kept");
	unlink(sp_path("state/0000000010000000000A"));
	empty_dir("queue");
}

static void
test_clean_tmp(struct queue_spool *sp)
{
	struct timespec old[2];

	old[0].tv_sec = old[1].tv_sec = time(NULL) - 7200;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	put_file(sp_path("tmp/0000000010000000000A"), "x", 1);
	put_file(sp_path("tmp/0000000020000000000B"), "x", 1);
	if (utimensat(AT_FDCWD, sp_path("tmp/0000000010000000000A"), old, 0) ==
		-1 ||
	    utimensat(AT_FDCWD, sp_path("state/0000000010000000000A.tmp"), old,
		0) == -1)
		abort();
	is_int(queue_scan_clean_tmp(sp, 3600), 2, "two stale files removed");
	ok(!exists("tmp/0000000010000000000A"), "old tmp file gone");
	ok(exists("tmp/0000000020000000000B"), "fresh tmp file kept");
	ok(!exists("state/0000000010000000000A.tmp"), "old state temp gone");
	is_int(queue_scan_clean_tmp(sp, 0), 1, "max_age 0 removes the rest");
	okv(queue_scan_clean_tmp(sp, -1) == -1 && errno == EINVAL,
	    "negative age refused");
}

/* The lock-aware clean-up of tmp/ (relayqd's pick-up). */
static void
test_clean_tmp_locked(struct queue_spool *sp)
{
	struct queue_writer *w = xmalloc(sizeof(*w));
	struct timespec old[2];
	struct queue_env e;
	struct rq_err err;
	char live[64];

	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	make_env(&e, "alice@example.org");
	okv(queue_writer_begin(w, sp, &e, &err) == 0, "begin");
	okv(queue_writer_body(w, body1, strlen(body1)) == 0, "body");
	if (snprintf(live, sizeof(live), "tmp/%s", w->id) < 0)
		abort();
	put_file(sp_path("tmp/0000000010000000000A"), "x", 1);
	put_file(sp_path("tmp/0000000020000000000B"), "x", 1);
	if (symlink("/etc/passwd", sp_path("tmp/0000000030000000000C")) == -1 ||
	    mkdir(sp_path("tmp/0000000040000000000D"), 0700) == -1 ||
	    utimensat(AT_FDCWD, sp_path(live), old, 0) == -1 ||
	    utimensat(AT_FDCWD, sp_path("tmp/0000000010000000000A"), old, 0) ==
		-1 ||
	    utimensat(AT_FDCWD, sp_path("tmp/0000000030000000000C"), old,
		AT_SYMLINK_NOFOLLOW) == -1 ||
	    utimensat(AT_FDCWD, sp_path("tmp/0000000040000000000D"), old, 0) ==
		-1)
		abort();
	is_int(queue_spool_clean_tmp(sp, 300), 2,
	    "old unlocked file and old symlink removed");
	ok(exists(live), "an old file a live writer holds locked is kept");
	ok(!exists("tmp/0000000010000000000A"), "old unlocked file gone");
	ok(!exists("tmp/0000000030000000000C"), "old symlink gone");
	ok(exists("tmp/0000000020000000000B"), "young unlocked file kept");
	ok(exists("tmp/0000000040000000000D"), "directory kept");
	okv(queue_writer_commit(w, QUEUE_DIR_INCOMING, &err) == 0,
	    "the writer still commits: %s", err.msg);
	is_int(count_dir("incoming"), 1, "its message is in incoming/");
	okv(queue_spool_clean_tmp(sp, -1) == -1 && errno == EINVAL,
	    "negative age refused");
	is_int(queue_spool_clean_tmp(sp, 0), 1, "age 0: the young file too");
	ok(exists("tmp/0000000040000000000D"), "directory still kept");
	(void)rmdir(sp_path("tmp/0000000040000000000D"));
	empty_dir("incoming");
	queue_env_free(&e);
	free(w);
}

static void
test_lock(struct queue_spool *sp)
{
	struct queue_spool sp2;
	struct rq_err err;

	okv(queue_spool_open(&sp2, spooldir, QUEUE_SPOOL_DAEMON, &err) == 0,
	    "second handle");
	okv(queue_spool_lock(sp) == 0, "lock");
	okv(queue_spool_lock(sp) == 0, "lock again on the same handle");
	is_int(mode_of("lock"), 0600, "lock file 0600");
	okv(queue_spool_lock(&sp2) == -1 && errno == EWOULDBLOCK,
	    "second daemon refused");
	queue_spool_close(sp);
	okv(queue_spool_lock(&sp2) == 0, "lock free after close");
	queue_spool_close(&sp2);
	if (queue_spool_open(sp, spooldir, QUEUE_SPOOL_DAEMON, &err) == -1)
		abort();
}

static void
test_wake(struct queue_spool *sp)
{
	char c;
	int fd;

	queue_spool_poke(sp);
	ok(1, "poke without a reader returns at once");
	fd = queue_spool_wake_fd(sp);
	ok(fd >= 0, "wake fd");
	queue_spool_poke(sp);
	ok(fd >= 0 && read(fd, &c, 1) == 1, "poke wakes the reader");
	ok(fd >= 0 && read(fd, &c, 1) == -1 && errno == EAGAIN,
	    "one byte per poke, non-blocking");
	for (int i = 0; i < 70000; i++)
		queue_spool_poke(sp);
	ok(1, "poking a full FIFO never blocks");
	if (fd >= 0)
		close(fd);
}

/* Runs queue_list_print into a string. */
static char *
listing(struct queue_spool *sp, int flags, int *rv)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort();
	*rv = queue_list_print(sp, f, flags);
	fclose(f);
	return text;
}

static void
test_list(struct queue_spool *sp)
{
	char id1[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1],
	    bad[QUEUE_ID_LEN + 1];
	char sub[64], want[128];
	struct queue_state s;
	struct rq_err err;
	char *out;
	int rv;

	out = listing(sp, 0, &rv);
	is_int(rv, 0, "list empty spool");
	is_str(out, "Mail queue is empty\n", "empty listing");
	free(out);

	if (submit(sp, "", body1, QUEUE_DIR_INCOMING, id1) == -1 ||
	    queue_spool_accept(sp, id1, &err) == -1 ||
	    submit(sp, "alice@example.org", body1, QUEUE_DIR_INCOMING, id2) ==
		-1 ||
	    queue_spool_load_state(sp, id1, 2, &s, &err) == -1)
		abort();
	s.held = 1;
	queue_state_set_error(&s, "451 4.7.1 try again later");
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_DONE, "250 ok");
	if (queue_spool_save_state(sp, &s) == -1)
		abort();
	queue_state_free(&s);
	if (queue_id_new(bad) == -1)
		abort();
	snprintf(sub, sizeof(sub), "queue/%s", bad);
	put_file(sp_path(sub), "not a message", 13);

	out = listing(sp, 0, &rv);
	is_int(rv, 0, "list non-empty spool");
	printf("# listing:\n");
	for (char *p = out, *nl; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		printf("# %.*s\n", (int)(nl - p), p);
	}
	snprintf(want, sizeof(want), "%s! %8zu ", id1, strlen(body1));
	ok(strstr(out, want) != NULL, "held message marked with '!'");
	ok(strstr(out, "MAILER-DAEMON") != NULL, "null sender shown");
	ok(strstr(out, "(451 4.7.1 try again later)") != NULL,
	    "last error shown");
	ok(strstr(out, "bob@example.net") == NULL ||
		strstr(out, "bob@example.net") > strstr(out, id2),
	    "delivered recipient of the first message not shown");
	snprintf(want, sizeof(want), "%s  %8zu ", id2, strlen(body1));
	ok(strstr(out, want) != NULL, "message still in incoming/ listed");
	ok(strstr(out, "alice@example.org") != NULL, "sender shown");
	snprintf(want, sizeof(want), "%s (unreadable: ", bad);
	ok(strstr(out, want) != NULL, "unreadable file shown");
	ok(strstr(out, "-- 1 Kbytes in 3 Requests.\n") != NULL, "totals line");
	ok(strstr(out, id1) < strstr(out, id2), "sorted by id");
	free(out);

	out = listing(sp, QUEUE_LIST_ALL_RCPTS, &rv);
	ok(strstr(out, "bob@example.net  (delivered)") != NULL,
	    "all-recipients mode shows delivered ones");
	free(out);

	unlink(sp_path(sub));
	if (queue_spool_remove(sp, id1) == -1 ||
	    queue_spool_accept(sp, id2, &err) == -1)
		abort();
	out = listing(sp, 0, &rv);
	ok(strstr(out, "-- 1 Kbytes in 1 Request.\n") != NULL,
	    "singular request");
	free(out);
	if (queue_spool_remove(sp, id2) == -1)
		abort();
}

/*
 * As root: plays the setgid front end (another uid, the spool's group,
 * no supplementary groups) and checks that submission and listing work
 * with the production modes, where tmp/ is -wx and incoming/ rwx for
 * the group.  The child reports through its exit status.
 */
static void
test_setgid_frontend(struct queue_spool *sp)
{
	static const char *dirs[] = { ".", "tmp", "incoming", "queue", "state",
		"wake" };
	const gid_t grp = 65534;
	const uid_t user = 54321;
	char id[QUEUE_ID_LEN + 1], sub[64];
	struct queue_spool fe;
	struct rq_err err;
	struct stat st;
	int pfd[2], status, rv;
	FILE *devnull;
	pid_t pid;

	for (size_t i = 0; i < RQ_NELEM(dirs); i++)
		if (chown(sp_path(dirs[i]), 0, grp) == -1)
			abort();
	if (chmod(topdir, 0711) == -1 || pipe(pfd) == -1 ||
	    (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		rv = 0;
		close(pfd[0]);
		if (setgroups(0, NULL) == -1 ||
		    setresgid(grp, grp, grp) == -1 ||
		    setresuid(user, user, user) == -1)
			_exit(100);
		if (queue_spool_open(&fe, spooldir, QUEUE_SPOOL_FRONTEND,
			&err) == -1)
			_exit(101);
		if (fe.pathonly != 1u << QUEUE_DIR_TMP)
			rv |= 1;
		if (submit(&fe, "alice@example.org", body1, QUEUE_DIR_INCOMING,
			id) == -1)
			rv |= 2;
		queue_spool_poke(&fe);
		queue_spool_close(&fe);
		if (queue_spool_open(&fe, spooldir, QUEUE_SPOOL_READER, &err) ==
			-1 ||
		    (devnull = fopen("/dev/null", "w")) == NULL ||
		    queue_list_print(&fe, devnull, 0) == -1)
			rv |= 4;
		if (write(pfd[1], id, QUEUE_ID_LEN) != QUEUE_ID_LEN)
			rv |= 8;
		_exit(rv);
	}
	close(pfd[1]);
	memset(id, 0, sizeof(id));
	rv = (int)read(pfd[0], id, QUEUE_ID_LEN);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) == -1)
		abort();
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	    "setgid front end: open O_PATH, submit, list (bits)");
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	ok(rv == QUEUE_ID_LEN && stat(sp_path(sub), &st) == 0 &&
		st.st_uid == user && st.st_gid == grp &&
		(st.st_mode & 07777) == 0640,
	    "drop owned by the user, group of the spool, 0640");
	okv(queue_spool_accept(sp, id, &err) == 0, "daemon accepts it (%s)",
	    err.msg);
	okv(queue_spool_remove(sp, id) == 0, "removed");
	for (size_t i = 0; i < RQ_NELEM(dirs); i++)
		if (chown(sp_path(dirs[i]), 0, 0) == -1)
			abort();
}

/*
 * As root: a file owned by someone other than its U record is refused.
 * As another user: tmp/ and incoming/ without read permission (as the
 * setgid front end sees them) still work, through O_PATH and syncfs().
 */
static void
test_privilege(struct queue_spool *sp)
{
	char id[QUEUE_ID_LEN + 1], sub[64];
	struct queue_spool fe;
	struct rq_err err;

	if (submit(sp, "alice@example.org", body1, QUEUE_DIR_INCOMING, id) ==
	    -1)
		abort();
	snprintf(sub, sizeof(sub), "incoming/%s", id);
	if (geteuid() == 0) {
		if (chown(sp_path(sub), 12345, (gid_t)-1) == -1)
			abort();
		okv(queue_spool_accept(sp, id, &err) == -1 && errno == EBADMSG,
		    "owner differs from the uid record: %s", err.msg);
		empty_dir("corrupt");
		test_setgid_frontend(sp);
		return;
	}
	okv(queue_spool_accept(sp, id, &err) == 0, "own file accepted");
	okv(queue_spool_remove(sp, id) == 0, "removed");
	ok(1, "# SKIP owner test needs root");
	if (chmod(sp_path("tmp"), 01330) == -1 ||
	    chmod(sp_path("incoming"), 01330) == -1)
		abort();
	okv(queue_spool_open(&fe, spooldir, QUEUE_SPOOL_FRONTEND, &err) == 0,
	    "front end opens unreadable drop dirs");
	ok(fe.pathonly == (1u << QUEUE_DIR_TMP | 1u << QUEUE_DIR_INCOMING),
	    "opened O_PATH");
	okv(submit(&fe, "alice@example.org", body1, QUEUE_DIR_INCOMING, id) ==
		0,
	    "submit through O_PATH directories (syncfs)");
	queue_spool_close(&fe);
	if (chmod(sp_path("tmp"), 01730) == -1 ||
	    chmod(sp_path("incoming"), 01730) == -1)
		abort();
	okv(queue_spool_accept(sp, id, &err) == 0, "and accepted (%s)",
	    err.msg);
	okv(queue_spool_remove(sp, id) == 0, "removed");
}

/* queue_spool_fail: a message and its state go to failed/. */
static void
test_fail(struct queue_spool *sp)
{
	char id[QUEUE_ID_LEN + 1], sub[64], sub2[64];
	struct queue_state s;
	struct rq_err err;

	if (submit(sp, "", body1, QUEUE_DIR_QUEUE, id) == -1 ||
	    queue_spool_load_state(sp, id, 2, &s, &err) == -1)
		abort();
	queue_state_set_rcpt(&s, 0, QUEUE_RCPT_FAILED, "550 5.1.1 no");
	queue_state_set_rcpt(&s, 1, QUEUE_RCPT_DONE, "250 ok");
	if (queue_spool_save_state(sp, &s) == -1)
		abort();
	queue_state_free(&s);
	ok(queue_spool_fail(sp, id) == 0, "fail: moved");
	snprintf(sub, sizeof(sub), "failed/%s", id);
	snprintf(sub2, sizeof(sub2), "failed/%s.state", id);
	ok(exists(sub) && exists(sub2), "fail: message and state in failed/");
	snprintf(sub, sizeof(sub), "queue/%s", id);
	snprintf(sub2, sizeof(sub2), "state/%s", id);
	ok(!exists(sub) && !exists(sub2), "fail: gone from queue/ and state/");
	ok(queue_spool_fail(sp, id) == -1 && errno == ENOENT,
	    "fail: a second time finds nothing");
	/* Without a state file, and with a name already taken. */
	if (submit(sp, "", body1, QUEUE_DIR_QUEUE, id) == -1)
		abort();
	ok(queue_spool_fail(sp, id) == 0, "fail: without a state file");
	if (submit(sp, "", body1, QUEUE_DIR_QUEUE, id) == -1)
		abort();
	snprintf(sub, sizeof(sub), "failed/%s", id);
	put_file(sp_path(sub), "x", 1);
	ok(queue_spool_fail(sp, id) == -1 && errno == EEXIST,
	    "fail: never replaces a file in failed/");
	snprintf(sub, sizeof(sub), "queue/%s", id);
	ok(exists(sub), "fail: the message stays queued then");
	ok(queue_spool_fail(sp, "../x") == -1 && errno == EINVAL,
	    "fail: invalid id refused");
	if (queue_spool_remove(sp, id) == -1)
		abort();
	empty_dir("failed");
}

int
main(void)
{
	struct queue_spool sp;

	umask(077);
	if (snprintf(topdir, sizeof(topdir), "/tmp/test_queue_spool.XXXXXX") <
		0 ||
	    mkdtemp(topdir) == NULL)
		abort();
	if (snprintf(spooldir, sizeof(spooldir), "%s/spool", topdir) < 0)
		abort();

	test_create(&sp);
	test_open_modes();
	test_commit_accept(&sp);
	test_state(&sp);
	test_batch_remove_done(&sp);
	test_quarantine(&sp);
	test_writer_failures(&sp);
	test_big_body(&sp);
	test_scan(&sp);
	test_clean_tmp(&sp);
	test_clean_tmp_locked(&sp);
	test_lock(&sp);
	test_wake(&sp);
	test_list(&sp);
	test_fail(&sp);
	test_privilege(&sp);
	queue_spool_close(&sp);
	rm_rf(topdir);
	return done_testing();
}
