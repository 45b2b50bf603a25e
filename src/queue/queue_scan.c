/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Listing spool directories and the start-up clean-ups.  A directory is
 * read through a fresh descriptor opened from the spool's directory fd,
 * so no path is ever joined from a name found on disk.  Only names that
 * are valid queue ids are returned; other names are counted and left
 * for the caller (or queue_scan_quarantine_bad()).  Nothing here logs.
 */
#include "config.h"

#include "queue/queue_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xmalloc.h"

#define QUEUE_SCAN_TMP_SUFFIX ".tmp"

/* Opens directory d of the spool for reading entries. */
static DIR *
queue_scan_opendir(struct queue_spool *sp, enum queue_dir d)
{
	DIR *dp;
	int fd, saved_errno;

	if ((unsigned)d >= QUEUE_DIR_COUNT || sp->dirfd[d] == -1) {
		errno = EBADF;
		return NULL;
	}
	fd = openat(sp->dirfd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if ((dp = fdopendir(fd)) == NULL) {
		saved_errno = errno;
		(void)close(fd);
		errno = saved_errno;
	}
	return dp;
}

/* True for "<valid id>.tmp", the spool's own temporary names. */
static int
queue_scan_is_tmp_name(const char *name)
{
	char id[QUEUE_ID_LEN + 1];

	if (strlen(name) != QUEUE_ID_LEN + sizeof(QUEUE_SCAN_TMP_SUFFIX) - 1 ||
	    strcmp(name + QUEUE_ID_LEN, QUEUE_SCAN_TMP_SUFFIX) != 0)
		return 0;
	memcpy(id, name, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	return queue_id_is_valid(id);
}

/* True for "." and "..". */
static int
queue_scan_is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Orders ids as strings, which is arrival order. */
static int
queue_scan_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Reads the next entry of dp; NULL at the end or on error (errno). */
static struct dirent *
queue_scan_next(DIR *dp, int *failed)
{
	struct dirent *de;

	errno = 0;
	if ((de = readdir(dp)) == NULL && errno != 0)
		*failed = errno;
	return de;
}

/* Lists the valid ids in directory d, sorted. */
int
queue_scan_dir(struct queue_spool *sp, enum queue_dir d,
    struct queue_idlist *out, size_t *nbad)
{
	struct dirent *de;
	DIR *dp;
	size_t cap = 0, bad = 0;
	int failed = 0;

	out->ids = NULL;
	out->n = 0;
	if (nbad != NULL)
		*nbad = 0;
	if ((dp = queue_scan_opendir(sp, d)) == NULL)
		return -1;
	while ((de = queue_scan_next(dp, &failed)) != NULL) {
		const char *name = de->d_name;

		if (queue_scan_is_dot(name))
			continue;
		if (!queue_id_is_valid(name)) {
			if (!((d == QUEUE_DIR_STATE || d == QUEUE_DIR_TMP) &&
				queue_scan_is_tmp_name(name)))
				bad++;
			continue;
		}
		if (out->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			out->ids =
			    xreallocarray(out->ids, cap, sizeof(*out->ids));
		}
		memcpy(out->ids[out->n++], name, QUEUE_ID_LEN + 1);
	}
	(void)closedir(dp);
	if (failed != 0) {
		queue_idlist_free(out);
		errno = failed;
		return -1;
	}
	if (out->n > 1)
		qsort(out->ids, out->n, sizeof(*out->ids), queue_scan_cmp);
	if (nbad != NULL)
		*nbad = bad;
	return 0;
}

/* Frees a list. */
void
queue_idlist_free(struct queue_idlist *l)
{
	free(l->ids);
	l->ids = NULL;
	l->n = 0;
}

/*
 * Removes the entries of directory d last modified at or before cutoff
 * whose names match(); returns the number removed or -1.
 */
static int
queue_scan_clean(struct queue_spool *sp, enum queue_dir d, time_t cutoff,
    int (*match)(const char *))
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int n = 0, failed = 0, dfd = sp->dirfd[d];

	if ((dp = queue_scan_opendir(sp, d)) == NULL)
		return -1;
	while ((de = queue_scan_next(dp, &failed)) != NULL) {
		const char *name = de->d_name;

		if (queue_scan_is_dot(name) || !match(name))
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    S_ISDIR(st.st_mode) || st.st_mtime > cutoff)
			continue;
		if (unlinkat(dfd, name, 0) == 0) {
			if (n < INT_MAX)
				n++;
		} else if (errno != ENOENT)
			failed = errno;
	}
	(void)closedir(dp);
	if (n > 0 && queue_spool_sync_dir(sp, d) == -1)
		failed = errno;
	if (failed != 0) {
		errno = failed;
		return -1;
	}
	return n;
}

/* Removes stale files in tmp/ and stale state temporaries. */
int
queue_scan_clean_tmp(struct queue_spool *sp, long long max_age)
{
	time_t cutoff;
	int n = 0, r;

	if (max_age < 0) {
		errno = EINVAL;
		return -1;
	}
	cutoff = time(NULL) - (time_t)max_age;

	/* Lock-aware: a live writer's file is never removed, however old. */
	if (sp->dirfd[QUEUE_DIR_TMP] != -1) {
		if ((r = queue_spool_clean_tmp(sp, max_age)) == -1)
			return -1;
		n += r;
	}
	if (sp->dirfd[QUEUE_DIR_STATE] != -1) {
		if ((r = queue_scan_clean(sp, QUEUE_DIR_STATE, cutoff,
			 queue_scan_is_tmp_name)) == -1)
			return -1;
		n = n > INT_MAX - r ? INT_MAX : n + r;
	}
	return n;
}

/* Removes state files whose message is no longer in queue/. */
int
queue_scan_clean_state(struct queue_spool *sp)
{
	struct queue_idlist l;
	struct stat st;
	int n = 0, failed = 0;

	if (sp->dirfd[QUEUE_DIR_QUEUE] == -1) {
		errno = EBADF;
		return -1;
	}
	if (queue_scan_dir(sp, QUEUE_DIR_STATE, &l, NULL) == -1)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		if (fstatat(sp->dirfd[QUEUE_DIR_QUEUE], l.ids[i], &st,
			AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT)
			continue;
		if (unlinkat(sp->dirfd[QUEUE_DIR_STATE], l.ids[i], 0) == 0) {
			if (n < INT_MAX)
				n++;
		} else if (errno != ENOENT)
			failed = errno;
	}
	queue_idlist_free(&l);
	if (n > 0 && queue_spool_sync_dir(sp, QUEUE_DIR_STATE) == -1)
		failed = errno;
	if (failed != 0) {
		errno = failed;
		return -1;
	}
	return n;
}

/* Moves every entry of d whose name is not a valid id into corrupt/. */
int
queue_scan_quarantine_bad(struct queue_spool *sp, enum queue_dir d)
{
	struct dirent *de;
	DIR *dp;
	int n = 0, failed = 0;

	if (d != QUEUE_DIR_INCOMING && d != QUEUE_DIR_QUEUE) {
		errno = EINVAL;
		return -1;
	}
	if ((dp = queue_scan_opendir(sp, d)) == NULL)
		return -1;
	while ((de = queue_scan_next(dp, &failed)) != NULL) {
		const char *name = de->d_name;

		if (queue_scan_is_dot(name) || queue_id_is_valid(name))
			continue;
		if (queue_spool_quarantine(sp, d, name) == 0) {
			if (n < INT_MAX)
				n++;
		} else if (errno != ENOENT)
			failed = errno;
	}
	(void)closedir(dp);
	if (failed != 0) {
		errno = failed;
		return -1;
	}
	return n;
}

/* True for "<valid id>.state", a failed message's state in failed/. */
static int
queue_scan_is_failed_state(const char *name)
{
	char id[QUEUE_ID_LEN + 1];

	if (strlen(name) != QUEUE_ID_LEN + sizeof(".state") - 1 ||
	    strcmp(name + QUEUE_ID_LEN, ".state") != 0)
		return 0;
	memcpy(id, name, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	return queue_id_is_valid(id);
}

/* Purges failed/ entries that entered it at or before cutoff. */
int
queue_scan_purge_failed(struct queue_spool *sp, long long cutoff,
    struct queue_scan_failed *res)
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int failed = 0;

	memset(res, 0, sizeof(*res));
	if ((dp = queue_scan_opendir(sp, QUEUE_DIR_FAILED)) == NULL)
		return -1;
	while ((de = queue_scan_next(dp, &failed)) != NULL) {
		const char *name = de->d_name;
		int msg = queue_id_is_valid(name);

		if (!msg && !queue_scan_is_failed_state(name))
			continue;
		if (fstatat(sp->dirfd[QUEUE_DIR_FAILED], name, &st,
			AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				failed = errno;
			continue;
		}
		if ((long long)st.st_ctime > cutoff) {
			if (msg &&
			    (res->left == 0 ||
				(long long)st.st_ctime < res->oldest))
				res->oldest = (long long)st.st_ctime;
			res->left += (size_t)msg;
			continue;
		}
		if (unlinkat(sp->dirfd[QUEUE_DIR_FAILED], name, 0) == 0)
			res->purged += (size_t)msg;
		else if (errno != ENOENT)
			failed = errno;
	}
	(void)closedir(dp);
	if (res->purged > 0 && queue_spool_sync_dir(sp, QUEUE_DIR_FAILED) == -1)
		failed = errno;
	if (failed != 0) {
		errno = failed;
		return -1;
	}
	return 0;
}
