#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""The "Done when" measurement of issue #4, run by hand (not by make check).

The smarthost is down (nothing listens on its port) for --down seconds
while --count messages are submitted with sendmail, each carrying a
unique X-Seq header.  Then a real SMTP server starts on that port
(Postfix's smtp-sink with -d, or aiosmtpd when smtp-sink is missing) and
the script waits until the spool is empty.  It reports:

  * every connection attempt relayqd made while the smarthost was down,
    with the time since the outage began and the spacing between them
    (relayqd's log, time-stamped as it is read);
  * when the first message got through after the server came back, and
    how long the whole queue took to drain from then;
  * how many messages arrived, how many X-Seq values are missing and how
    many arrived more than once.

usage (from a build directory):
  python3 $SRC/bench/retry-down.py [--count 1000] [--down 60]
      [--retry-min 2s] [--retry-max 16s] [--max-connections 4] [--keep]
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def queue_count(spool):
    n = 0
    for d in ('incoming', 'queue'):
        try:
            n += len(os.listdir(os.path.join(spool, d)))
        except FileNotFoundError:
            pass
    return n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--builddir', default=os.getcwd())
    ap.add_argument('--srcdir', default=os.path.dirname(here))
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--down', type=float, default=60)
    ap.add_argument('--retry-min', default='2s')
    ap.add_argument('--retry-max', default='16s')
    ap.add_argument('--max-connections', type=int, default=4)
    ap.add_argument('--timeout', type=float, default=600,
                    help='give up on the drain after this many seconds')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()

    b = args.builddir
    sendmail = os.path.join(b, 'sendmail')
    relayqd = os.path.join(b, 'relayqd')
    for p in (sendmail, relayqd):
        if not os.access(p, os.X_OK):
            sys.exit('no %s: run from a build directory or give '
                     '--builddir' % p)
    tmp = tempfile.mkdtemp(prefix='relayq-bench-')
    os.chmod(tmp, 0o711)
    spool = os.path.join(tmp, 'spool')
    dump = os.path.join(tmp, 'dump')
    os.mkdir(dump)
    os.chmod(dump, 0o777)
    port = free_port()
    conf = os.path.join(tmp, 'relayq.conf')
    with open(conf, 'w') as f:
        f.write('[relayq]\nspool_dir = %s\nhostname = bench.test\n'
                'default_domain = example.org\n'
                '[smarthost]\nhost = 127.0.0.1\nport = %d\ntls = none\n'
                '[delivery]\nretry_min = %s\nretry_max = %s\n'
                'max_connections = %d\nmessages_per_connection = 100\n'
                'idle_timeout = 2s\nconnect_timeout = 5s\n'
                'scan_interval = 30s\n'
                % (spool, port, args.retry_min, args.retry_max,
                   args.max_connections))
    env = dict(os.environ, RELAYQ_CONFIG=conf)

    lines = []  # (time, line)
    logf = open(os.path.join(tmp, 'relayqd.log'), 'w')
    t0 = time.time()
    daemon = subprocess.Popen([relayqd, '-f', '-c', conf], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)

    def reader():
        for line in daemon.stderr:
            t = time.time()
            lines.append((t, line.rstrip('\n')))
            logf.write('%.3f %s' % (t - t0, line))
            logf.flush()
    th = threading.Thread(target=reader, daemon=True)
    th.start()

    print('smarthost 127.0.0.1:%d down; submitting %d messages ...'
          % (port, args.count), flush=True)
    for i in range(args.count):
        msg = ('Subject: bench %d\nX-Seq: %06d\n\nmessage %d\n'
               % (i, i, i)).encode()
        r = subprocess.run([sendmail, '-i', '-f', 'bench@example.org',
                            'rcpt%d@example.net' % (i % 10)],
                           input=msg, env=env)
        if r.returncode != 0:
            sys.exit('sendmail exited %d' % r.returncode)
    t_sub = time.time()
    print('submitted in %.1f s; smarthost stays down until t=%.0f s'
          % (t_sub - t0, args.down), flush=True)
    time.sleep(max(0, t0 + args.down - time.time()))

    sink_dir = subprocess.run(
        ['sh', os.path.join(args.srcdir, 'contrib/postfix-tools.sh'),
         os.path.join(b, 'postfix-tools')],
        capture_output=True, text=True)
    if sink_dir.returncode == 0:
        cmd = [os.path.join(sink_dir.stdout.strip(), 'smtp-sink')]
        if os.geteuid() == 0:
            cmd += ['-u', 'nobody']
        cmd += ['-d', dump + '/%M.', '127.0.0.1:%d' % port, '100']
        server_name = 'smtp-sink'
    else:
        cmd = [sys.executable,
               os.path.join(args.srcdir, 'tests/integration/smtpserver.py'),
               '--port', str(port), '--maildir', dump]
        server_name = 'aiosmtpd'
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    t_up = time.time()
    print('%s started at t=%.1f s; waiting for the drain ...'
          % (server_name, t_up - t0), flush=True)
    while queue_count(spool) > 0 and time.time() - t_up < args.timeout:
        time.sleep(0.1)
    t_end = time.time()
    drained = queue_count(spool) == 0
    time.sleep(1)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(30)
    server.terminate()
    server.wait(30)
    th.join(5)

    # Connection attempts: each failed session logs one line.
    att = [t for t, l in lines
           if ' unavailable (' in l or 'already backing off' in l]
    down_att = [t for t in att if t < t_up]
    sent = [t for t, l in lines if 'status=sent' in l]
    probe_ok = [t for t, l in lines if 'is back after' in l]
    print()
    print('connection attempts while down: %d (for %d messages)'
          % (len(down_att), args.count))
    print('  at t = ' + ', '.join('%.1f' % (t - t0) for t in down_att))
    gaps = [b2 - a for a, b2 in zip(down_att, down_att[1:])]
    print('  spacing (s) = ' + ', '.join('%.1f' % g for g in gaps))
    waits = [int(m.group(1)) for _, l in lines
             for m in [re.search(r'next probe in (\d+)s', l)] if m]
    print('  logged probe waits (s) = ' + ', '.join(map(str, waits)))
    wakes = sum(1 for _, l in lines if 'woken up' in l)
    print('  probes started early by new mail: %d' % wakes)
    print('attempts after the server came back, before it answered: %d'
          % len([t for t in att if t >= t_up]))
    if probe_ok:
        print('first probe that succeeded: t=%.1f s (%.1f s after the '
              'server started)' % (probe_ok[0] - t0, probe_ok[0] - t_up))
    if sent:
        print('drain: first delivery t=%.1f s, last t=%.1f s: %d messages '
              'in %.1f s (%.0f msg/s)'
              % (sent[0] - t0, sent[-1] - t0, len(sent),
                 sent[-1] - sent[0],
                 len(sent) / max(sent[-1] - sent[0], 0.001)))
    seqs = {}
    for name in os.listdir(dump):
        path = os.path.join(dump, name)
        if not os.path.isfile(path) or not name.endswith(('.', '.eml')) and \
                server_name == 'aiosmtpd':
            continue
        with open(path, 'rb') as f:
            for m in re.finditer(rb'^X-Seq: (\d+)', f.read(), re.M):
                seqs[int(m.group(1))] = seqs.get(int(m.group(1)), 0) + 1
    missing = [i for i in range(args.count) if i not in seqs]
    dups = sum(n - 1 for n in seqs.values() if n > 1)
    print('delivered: %d distinct of %d, %d missing, %d duplicates; '
          'spool %s' % (len(seqs), args.count, len(missing), dups,
                        'empty' if drained else 'NOT empty'))
    print('log: %s' % os.path.join(tmp, 'relayqd.log'))
    ok = drained and not missing and dups == 0
    if not args.keep and ok:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
