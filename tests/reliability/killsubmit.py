#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""R2 harness: runs N sendmail submissions and SIGKILLs each one at a
random moment (a timer here, microsecond resolution).

usage: killsubmit.py SENDMAIL RCPT PREFIX N OUTFILE

Message K (1..N) carries "X-Seq: PREFIX-K" and a body of 1-200 KiB
that repeats the tag, so a truncated or mixed-up message is caught at
the sink.  The kill delay is uniform over [0, 1.3 x the median run time
of the last 10 unkilled runs], so kills land everywhere from exec to
exit, and some submissions finish first.  The run time follows the
machine's load as it changes: 10 calibration runs come first (tagged
PREFIXcal-1..10), and every 10th submission is not killed and updates
the median.  OUTFILE gets one line "K RC" per
submission (RC 0: exited 0; -9: killed; other: exit status).  Prints a
summary line.
"""
import collections
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def message(prefix, k, rnd):
    tag = '{}-{}'.format(prefix, k)
    size = rnd.randint(1024, 200 * 1024)
    line = 'body {} {}\n'.format(tag, 'x' * 60)
    body = line * (size // len(line) + 1)
    return ('X-Seq: {}\nSubject: r2 {}\n\n{}'.format(tag, tag, body)
            ).encode()


def run(sendmail, rcpt, data, delay):
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        t0 = time.monotonic()
        p = subprocess.Popen([sendmail, '-i', rcpt], stdin=f,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if delay is not None:
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.kill()
        rc = p.wait(timeout=60)
        return rc, time.monotonic() - t0


def main():
    sendmail, rcpt, prefix, n, out = sys.argv[1], sys.argv[2], \
        sys.argv[3], int(sys.argv[4]), sys.argv[5]
    rnd = random.Random(os.urandom(8))
    times = collections.deque(maxlen=10)
    for k in range(1, 11):
        rc, dt = run(sendmail, rcpt, message(prefix + 'cal', k, rnd), None)
        if rc != 0:
            print('calibration submission failed: exit {}'.format(rc))
            return 1
        times.append(dt)
    killed = 0
    with open(out, 'w') as f:
        for k in range(1, n + 1):
            if k % 10 == 0:
                rc, dt = run(sendmail, rcpt, message(prefix, k, rnd), None)
                if rc == 0:
                    times.append(dt)
            else:
                span = statistics.median(times) * 1.3
                rc, _ = run(sendmail, rcpt, message(prefix, k, rnd),
                            rnd.uniform(0, span))
            killed += rc == -9
            f.write('{} {}\n'.format(k, rc))
    print('submissions={} killed={} median_runtime_ms={:.1f}'.format(
        n, killed, statistics.median(times) * 1000))
    return 0


if __name__ == '__main__':
    sys.exit(main())
