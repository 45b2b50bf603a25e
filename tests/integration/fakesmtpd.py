#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""A scripted SMTP peer for protocol edge cases no real server produces on
demand (STYLE.md section 11).  Standard library only.

It plays a transcript file to the first client on 127.0.0.1:PORT:
    S: text     a line the server sends; consecutive S: lines go out in
                one write (so a reply and injected data share a segment)
    C: prefix   wait for a client line starting with prefix (case-blind)
    U: line     read client lines until one is exactly line (for example
                the "." that ends a message's data)
    W: path     wait (at most --timeout seconds) until the file path
                exists, so a test can act between two steps
    # ...       a comment
The script is UTF-8; a byte that is not (0xff, say) is sent as it is,
so a case can play a server's raw bytes.  After the script it records
whatever else the client sends until it closes.  Every client line received is appended to --log.  It never
stands in for a real server in an end-to-end test.
"""
import argparse
import os
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--script', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--pidfile', required=True)
    ap.add_argument('--timeout', type=float, default=120)
    args = ap.parse_args()
    steps = []
    with open(args.script, encoding='utf-8', errors='surrogateescape') as f:
        for raw in f:
            line = raw.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            kind, _, text = line.partition(': ')
            steps.append((kind, text))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    with open(args.pidfile + '.tmp', 'w') as f:
        f.write('{}\n'.format(os.getpid()))
    os.rename(args.pidfile + '.tmp', args.pidfile)
    log = open(args.log, 'a')
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        return 1
    conn.settimeout(args.timeout)
    rfile = conn.makefile('rb')
    out = []

    def flush():
        if out:
            conn.sendall(''.join(l + '\r\n' for l in out).encode(
                'utf-8', errors='surrogateescape'))
            out.clear()

    def readline():
        data = rfile.readline(4096)
        if data:
            log.write(data.decode(errors='replace').rstrip('\r\n') + '\n')
            log.flush()
        return data

    try:
        for kind, text in steps:
            if kind == 'S':
                out.append(text)
                continue
            flush()
            if kind == 'W':
                deadline = time.monotonic() + args.timeout
                while (not os.path.exists(text) and
                       time.monotonic() < deadline):
                    time.sleep(0.05)
                continue
            if kind == 'U':
                while True:
                    line = readline()
                    if not line:
                        return 0
                    if line.decode(errors='replace').rstrip('\r\n') == text:
                        break
                continue
            if kind == 'C':
                line = readline()
                if not line:
                    return 0
                if not line.decode(errors='replace').upper().startswith(
                        text.upper()):
                    log.write('# expected {!r}\n'.format(text))
                    return 1
        flush()
        while readline():
            pass
    except (socket.timeout, ConnectionError):
        pass
    finally:
        conn.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
