/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The relayq authors */
/*
 * relayqd's submission socket ([relayq] submit_socket): sendmail without
 * the setgid bit hands the envelope and the message over it, and relayqd
 * queues them (queue/) for the submitter, whom it knows by
 * SO_PEERCRED.  Protocol: doc/submit-protocol.md, queue/queue_submit.h.
 */
#ifndef RELAYQ_RELAYQD_RELAYQD_SUBMIT_H
#define RELAYQ_RELAYQD_RELAYQD_SUBMIT_H

struct relayd;
struct relayqd_submit;

#define RELAYQD_SUBMIT_MAX 64	  /* connections read at once */
#define RELAYQD_SUBMIT_PER_UID 16 /* of which one uid may hold */
/*
 * Accepted connections waiting for one of those slots, unread: at most
 * this many, and fewer when RLIMIT_NOFILE leaves less than this over
 * RELAYQD_SUBMIT_FDS_KEPT; one uid may hold all but an eighth of them.
 */
#define RELAYQD_SUBMIT_WAIT_MAX 256
#define RELAYQD_SUBMIT_FDS_KEPT 512 /* descriptors left for everything else */
/*
 * When every slot is taken and a uid holding fewer than another waits, a
 * slow connection of that other uid is dropped ("busy:") to make room: one
 * read for at least RELAYQD_SUBMIT_SLOW_GRACE seconds that has sent less
 * than RELAYQD_SUBMIT_MIN_RATE bytes a second on average and has nothing
 * unread in its socket.  sendmail has the whole message before it
 * connects, so only a client that trickles its bytes on purpose is slow.
 */
#define RELAYQD_SUBMIT_SLOW_GRACE 5
#define RELAYQD_SUBMIT_MIN_RATE (16 * 1024)
/*
 * The priorities of relayqd's event base (event_base_priority_init right
 * after event_base_new): every event has the middle one but those of the
 * submission socket, which have the lowest, so that deliveries go first.
 */
#define RELAYQD_SUBMIT_NPRIO 3

/*
 * Returns the listening socket systemd passed (LISTEN_PID is us,
 * LISTEN_FDS >= 1, fd 3 a listening unix stream socket) and unsets the
 * LISTEN_* variables, or -1.  Call before daemon(), which changes the pid.
 */
int relayqd_submit_inherited(void);
/*
 * Starts listening: on fd (from relayqd_submit_inherited) when it is not
 * -1, else on rd->conf.submit_socket (mode 0666), replacing a stale
 * socket but never one another process listens on; starts the commit
 * thread.  Returns NULL (logged) when there is no socket.
 */
struct relayqd_submit *relayqd_submit_new(struct relayd *rd, int fd);
/*
 * After a reload (SIGHUP): when rd->conf.submit_socket names another
 * path, listens there and closes the old socket (removing its path),
 * keeping the old one, logged, when the new path cannot be used.  A
 * socket from systemd stays; a line says that submit_socket is not used.
 */
void relayqd_submit_reload(struct relayqd_submit *s);
/*
 * Stops accepting, lets the commit thread finish what it holds and
 * answers those clients, closes every other connection (their
 * temporary files removed) and the socket; NULL is a no-op.
 */
void relayqd_submit_free(struct relayqd_submit *s);

#endif
