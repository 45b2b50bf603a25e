#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""A fault-injecting SMTP server that records the raw wire, for the
hostile-smarthost and smuggling tests (standard library only).

It listens on 127.0.0.1:PORT and serves any number of sessions, one
thread each.  Every byte a client sends is appended to DIR/wire-N (N is
the session number), and every message accepted with 250 after the
final dot is stored as DIR/msg-K.raw: the DATA bytes exactly as they
came on the wire, dot-stuffed, up to and excluding the CRLF.CRLF that
ended them.  DIR/log gets one line per event.  The end of DATA is
recognised only as CRLF "." CRLF, as RFC 5321 says; a test then checks
the raw bytes for anything a lenient server might take for an end.

Faults: --fault STAGE=ACTION (repeatable), applied in the first
--fault-sessions sessions (default: all).  STAGE is one of greeting,
ehlo, mail, rcpt, data, dot (the reply to the final dot); ACTION is
    close          close the connection instead of replying
    stall          send nothing and keep reading (wait for the client)
    stopread       (data only) send 354, then stop reading for good
    sleep:S        sleep S seconds, then reply normally
    lines:N        a multi-line 250 reply of N lines ("250-x" ...)
    longline:B     one reply line of B bytes, never ended by CRLF first
    CODE text      this reply instead (e.g. "421 4.3.2 go away")
Stops on SIGTERM.
"""
import argparse
import os
import signal
import socket
import socketserver
import sys
import threading
import time


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Session(socketserver.BaseRequestHandler):
    def setup(self):
        srv = self.server
        with srv.lock:
            srv.nsessions += 1
            self.no = srv.nsessions
        self.faulty = (srv.args.fault_sessions == 0 or
                       self.no <= srv.args.fault_sessions)
        self.wire = open(os.path.join(srv.args.dir,
                                      'wire-{}'.format(self.no)), 'ab')
        self.buf = b''
        self.request.settimeout(srv.args.timeout)

    def finish(self):
        self.wire.close()
        self.log('session closed')

    def log(self, text):
        with self.server.lock:
            with open(os.path.join(self.server.args.dir, 'log'), 'a') as f:
                f.write('{} {}\n'.format(self.no, text))

    def send(self, data):
        self.request.sendall(data)

    def recv(self):
        data = self.request.recv(65536)
        if data:
            self.wire.write(data)
            self.wire.flush()
        return data

    def readline(self):
        while b'\r\n' not in self.buf:
            if len(self.buf) > 65536:
                raise ConnectionError('line too long')
            data = self.recv()
            if not data:
                raise ConnectionError('eof')
            self.buf += data
        line, _, self.buf = self.buf.partition(b'\r\n')
        return line

    def reply(self, stage, normal):
        """Sends the reply for stage; returns False to end the session."""
        action = self.server.faults.get(stage) if self.faulty else None
        if action is None:
            self.send(normal)
            return True
        self.log('fault {} {}'.format(stage, action))
        if action == 'close':
            return False
        if action == 'stall':
            while self.recv():
                pass
            return False
        if action.startswith('sleep:'):
            time.sleep(float(action[6:]))
            self.send(normal)
            return True
        if action.startswith('lines:'):
            n = int(action[6:])
            self.send(b''.join(b'250-line %d of a huge reply\r\n' % i
                               for i in range(n - 1)) + b'250 end\r\n')
            return True
        if action.startswith('longline:'):
            n = int(action[9:])
            chunk = b'x' * 65536
            self.send(b'250-')
            sent = 0
            try:
                while sent < n:
                    self.send(chunk[:min(len(chunk), n - sent)])
                    sent += min(len(chunk), n - sent)
                self.send(b'\r\n250 ok\r\n')
            except OSError:
                pass
            return True
        self.send(action.encode() + b'\r\n')
        return not action.startswith('421')

    def data(self):
        """Reads DATA up to CRLF.CRLF; returns the raw bytes or None."""
        end = b'\r\n.\r\n'
        raw = bytearray(b'\r\n' + self.buf)  # "\r\n": a first "." line
        self.buf = b''
        start = 0
        while True:
            k = raw.find(end, start)
            if k != -1:
                self.buf = bytes(raw[k + len(end):])
                return bytes(raw[2:k + 2])
            if len(raw) > 64 * 1024 * 1024:
                return None
            start = max(0, len(raw) - len(end))
            data = self.recv()
            if not data:
                return None
            raw += data

    def handle(self):
        srv = self.server
        try:
            if not self.reply('greeting', b'220 fault.test ESMTP\r\n'):
                return
            mail = False
            rcpts = 0
            while True:
                line = self.readline()
                verb = line[:4].upper()
                if verb in (b'EHLO', b'HELO'):
                    if not self.reply('ehlo', b'250-fault.test\r\n'
                                      b'250-PIPELINING\r\n250-8BITMIME\r\n'
                                      b'250 SIZE 100000000\r\n'):
                        return
                elif verb == b'MAIL':
                    mail, rcpts = True, 0
                    if not self.reply('mail', b'250 2.1.0 ok\r\n'):
                        return
                elif verb == b'RCPT':
                    action = srv.faults.get('rcpt') if self.faulty else None
                    ok = action is None or action.startswith('sleep:')
                    rcpts += ok
                    if not self.reply('rcpt', b'250 2.1.5 ok\r\n'):
                        return
                elif verb == b'DATA':
                    if not mail or rcpts == 0:
                        self.send(b'554 5.5.1 no valid recipients\r\n')
                        continue
                    action = srv.faults.get('data') if self.faulty else None
                    if action == 'stopread':
                        self.log('fault data stopread')
                        self.send(b'354 go ahead\r\n')
                        time.sleep(srv.args.timeout)
                        return
                    if not self.reply('data', b'354 go ahead\r\n'):
                        return
                    if action is not None and not action.startswith(
                            ('sleep:', 'lines:', 'longline:')):
                        continue  # DATA was refused
                    raw = self.data()
                    if raw is None:
                        self.log('data aborted')
                        return
                    with srv.lock:
                        srv.nmsgs += 1
                        k = srv.nmsgs
                    action = srv.faults.get('dot') if self.faulty else None
                    accepted = action is None or action.startswith(
                        ('sleep:', 'lines:', 'longline:'))
                    if accepted:
                        path = os.path.join(srv.args.dir,
                                            'msg-{}.raw'.format(k))
                        with open(path + '.tmp', 'wb') as f:
                            f.write(raw)
                        os.rename(path + '.tmp', path)
                    self.log('message {} {} bytes {}'.format(
                        k, len(raw), 'accepted' if accepted else 'refused'))
                    mail = False
                    if not self.reply('dot', b'250 2.0.0 queued\r\n'):
                        return
                elif verb == b'RSET':
                    mail = False
                    self.send(b'250 2.0.0 ok\r\n')
                elif verb == b'NOOP':
                    self.send(b'250 2.0.0 ok\r\n')
                elif verb == b'QUIT':
                    self.send(b'221 2.0.0 bye\r\n')
                    return
                else:
                    self.send(b'500 5.5.2 unknown command\r\n')
        except (ConnectionError, socket.timeout, OSError) as e:
            self.log('session ended: {}'.format(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--pidfile', required=True)
    ap.add_argument('--fault', action='append', default=[])
    ap.add_argument('--fault-sessions', type=int, default=0)
    ap.add_argument('--timeout', type=float, default=60)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    srv = Server(('127.0.0.1', args.port), Session)
    srv.args = args
    srv.lock = threading.Lock()
    srv.nsessions = srv.nmsgs = 0
    srv.faults = {}
    for spec in args.fault:
        stage, _, action = spec.partition('=')
        srv.faults[stage] = action
    with open(args.pidfile + '.tmp', 'w') as f:
        f.write('{}\n'.format(os.getpid()))
    os.rename(args.pidfile + '.tmp', args.pidfile)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv.serve_forever()


if __name__ == '__main__':
    main()
