/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * Queue ids.  An id is QUEUE_ID_LEN (20) uppercase hex digits: 9 digits
 * of seconds since the epoch, 5 of microseconds, 6 random (24 bits from
 * getrandom()).  Ids therefore sort by arrival as plain strings, carry
 * their own arrival time, and are safe as file names.  This module never
 * takes an id from input: queue_id_is_valid() is the only gate through
 * which a name found on disk may be used as an id.  Uniqueness on disk
 * is enforced by the writer with O_EXCL, not here.
 */
#include "config.h"

#include "queue/queue_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#define QUEUE_ID_SEC_DIGITS 9
#define QUEUE_ID_USEC_DIGITS 5
#define QUEUE_ID_RAND_DIGITS 6

/* Fills p with len random bytes from the kernel. */
static int
queue_id_random(unsigned char *p, size_t len)
{
#ifdef HAVE_GETRANDOM
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += (size_t)n;
		len -= (size_t)n;
	}
	return 0;
#else
	int fd, saved_errno;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved_errno = n == 0 ? EIO : errno;
			(void)close(fd);
			errno = saved_errno;
			return -1;
		}
		p += (size_t)n;
		len -= (size_t)n;
	}
	return close(fd);
#endif
}

/* Writes the low ndigits hex digits of v, uppercase, into dst. */
static void
queue_id_put_hex(char *dst, uint64_t v, int ndigits)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = ndigits - 1; i >= 0; i--) {
		dst[i] = hex[v & 0xf];
		v >>= 4;
	}
}

/* Makes a new id from the clock and 24 random bits. */
int
queue_id_new(char id[QUEUE_ID_LEN + 1])
{
	struct timespec ts;
	unsigned char r[3];
	uint64_t rnd;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	if (ts.tv_sec < 0) {
		errno = ERANGE;
		return -1;
	}
	if (queue_id_random(r, sizeof(r)) == -1)
		return -1;
	rnd = (uint64_t)r[0] << 16 | (uint64_t)r[1] << 8 | (uint64_t)r[2];
	queue_id_put_hex(id, (uint64_t)ts.tv_sec, QUEUE_ID_SEC_DIGITS);
	queue_id_put_hex(id + QUEUE_ID_SEC_DIGITS,
	    (uint64_t)(ts.tv_nsec / 1000), QUEUE_ID_USEC_DIGITS);
	queue_id_put_hex(id + QUEUE_ID_SEC_DIGITS + QUEUE_ID_USEC_DIGITS, rnd,
	    QUEUE_ID_RAND_DIGITS);
	id[QUEUE_ID_LEN] = '\0';
	return 0;
}

/* Returns the value of an uppercase hex digit, or -1. */
static int
queue_id_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when name is exactly QUEUE_ID_LEN uppercase hex digits. */
bool
queue_id_is_valid(const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (queue_id_hexval(name[i]) == -1)
			return false;
	return name[QUEUE_ID_LEN] == '\0';
}

/* Decodes the seconds field of a valid id. */
long long
queue_id_time(const char *id)
{
	long long t = 0;

	for (int i = 0; i < QUEUE_ID_SEC_DIGITS; i++) {
		int v = queue_id_hexval(id[i]);

		if (v == -1)
			return 0;
		t = t * 16 + v;
	}
	return t;
}
