#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""A fake OAuth2 provider for relayq's tests (issue 14), standard library
only: http.server over TLS (--cert/--key, from a test CA the test makes
with openssl), on 127.0.0.1.  No real provider can be reached from a test,
so this is the one scripted part; relayq's own code is never mocked.

POST /token (application/x-www-form-urlencoded, client_secret_post):
  grant_type=refresh_token   rotating refresh tokens: each use issues a
      new one and invalidates every token older than the one used (so a
      client killed before it stored the new token can still use the old
      one; one that never stores it is caught by a test comparing its
      file to "current", the newest issued);
  grant_type=client_credentials   checks --client-secret;
  grant_type=urn:ietf:params:oauth:grant-type:device_code   RFC 8628,
      answered authorization_pending until --device-polls polls, then a
      token pair (POST /device starts it, interval --device-interval).
      The control word decides instead when it is one of: approve (a
      token pair now), deny (access_denied), expire (expired_token),
      slow_down (slow_down to the first poll, the interval then 5 s
      longer, then a token pair), short (POST /device says expires_in 2
      and the code stays pending).  A poll sooner than the interval
      after the previous one is logged "too_fast" and answered
      slow_down;
  grant_type=authorization_code   RFC 6749 4.1 with PKCE (RFC 7636):
      the code must come from GET /authorize with the same redirect_uri,
      and the code_verifier must hash (S256) to its code_challenge, else
      invalid_grant (logged "pkce_mismatch" or "bad_code").
GET /authorize?client_id&redirect_uri&response_type=code&scope&state&
  code_challenge&code_challenge_method=S256   plays the user who signs
  in: a 302 to redirect_uri (http://127.0.0.1:PORT/ only) with code and
  state, or error=access_denied when the control word is deny; a test
  acts as the browser by fetching the URL and following the redirect.
Access tokens live --lifetime seconds (expires_in).

The state (the valid refresh tokens with their numbers, the unexpired access tokens
with their expiry, counters) is kept in --state as JSON, rewritten
atomically after each request, so smtpserver.py --oauth2-state accepts
exactly the tokens issued here and a test can read the counters.  It is
loaded again at start, so the fake can be stopped ("endpoint down") and
restarted.  --initial-refresh sets the first refresh token when there is
no state yet.

Misbehaviour on demand: the first word of --control (re-read at every
request; absent or empty: normal) is one of
  invalid_grant  500  slow  notjson  array  noaccess  badtype  badexpires
  badtoken  dupkey  oversize  hold  rotbadtype  rotbadexpires  rotnoaccess
"slow" sleeps --slow seconds before answering normally.  "hold" logs
"result=held" and then holds the request until the control word is no
longer "hold" (at most --slow seconds), and goes on with the new word.
The rot* words rotate the refresh token as usual and send it, in a reply
that is otherwise malformed (token_type MAC, expires_in -5, no
access_token).  --strict: a refresh token works once (real providers
that rotate), instead of until a newer one is used.  Every request is
logged to --log as one line "grant=G result=R" (never a token).  Each
TLS handshake's SNI name (or "-" for none) is appended to --sni-log.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()


def token(prefix):
    return prefix + secrets.token_urlsafe(24)


class State:
    def __init__(self, path, initial, strict=False):
        self.path = path
        self.strict = strict
        self.d = {'current': initial, 'refresh': {initial: 0},
                  'next_seq': 1, 'last_used': 0, 'access': {}, 'grants': 0,
                  'refreshes': 0, 'rejected': 0, 'device': {}, 'spent': []}
        try:
            with open(path) as f:
                self.d.update(json.load(f))
        except (OSError, ValueError):
            pass

    def save(self):
        now = time.time()
        d = self.d
        d['access'] = {k: v for k, v in d['access'].items() if v > now}
        d['refresh'] = {k: v for k, v in d['refresh'].items()
                        if v >= d['last_used']}
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(d, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)

    def issue(self, lifetime):
        t = token('at-')
        self.d['access'][t] = time.time() + lifetime
        self.d['grants'] += 1
        return t

    def new_refresh(self):
        d = self.d
        d['current'] = token('rt-')
        d['refresh'][d['current']] = d['next_seq']
        d['next_seq'] += 1
        return d['current']

    def use_refresh(self, rt):
        """Rotation: every refresh token is numbered as issued, and the
        use of one invalidates all older ones; a newer one stays valid
        until something newer still is used.  So a client that was
        killed before it stored the new token can use the old one again,
        and one answer lost in transit (a timeout) costs nothing.
        Returns the new refresh token, or None for invalid_grant."""
        d = self.d
        seq = d['refresh'].get(rt)
        if seq is None or seq < d['last_used']:
            return None
        if self.strict:
            if rt in d['spent']:
                return None
            d['spent'].append(rt)
        d['last_used'] = seq
        return self.new_refresh()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def log(self, grant, result):
        with open(self.server.args.log, 'a') as f:
            f.write('grant={} result={}\n'.format(grant, result))

    def control(self):
        try:
            with open(self.server.args.control) as f:
                words = f.read().split()
            return words[0] if words else ''
        except OSError:
            return ''

    def reply(self, code, body, ctype='application/json'):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_POST(self):
        args = self.server.args
        n = int(self.headers.get('Content-Length') or 0)
        form = urllib.parse.parse_qs(self.rfile.read(min(n, 65536)).decode(),
                                     keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        grant = f.get('grant_type', '?')
        mode = self.control()
        if mode == 'slow':
            time.sleep(args.slow)
            mode = ''
        if mode == 'hold':
            self.log(grant, 'held')
            end = time.time() + args.slow
            while self.control() == 'hold' and time.time() < end:
                time.sleep(0.05)
            mode = self.control()
        if self.path == '/device':
            return self.device(f)
        if self.path != '/token':
            self.log(grant, 'not-found')
            return self.reply(404, {'error': 'not_found'})
        if mode in BROKEN:
            self.log(grant, mode)
            code, body = BROKEN[mode]
            return self.reply(code, body() if callable(body) else body)
        with LOCK:
            return self.token(f, grant, mode)

    def device(self, f):
        st = self.server.state
        with LOCK:
            dc = token('dc-')
            st.d['device'][dc] = 0
            st.save()
        self.log('device', 'started')
        return self.reply(200, {
            'device_code': dc, 'user_code': 'WDJB-MJHT',
            'verification_uri': 'https://127.0.0.1/device',
            'verification_uri_complete':
                'https://127.0.0.1/device?code=WDJB-MJHT',
            'expires_in': 2 if self.control() == 'short' else 600,
            'interval': self.server.args.device_interval})

    def do_GET(self):
        args, st = self.server.args, self.server.state
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in
             urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        if u.path != '/authorize':
            return self.reply(404, {'error': 'not_found'})
        ru = q.get('redirect_uri', '')
        if (q.get('client_id') != args.client_id
                or q.get('response_type') != 'code'
                or q.get('code_challenge_method') != 'S256'
                or not q.get('code_challenge') or not q.get('state')
                or not ru.startswith('http://127.0.0.1:')):
            self.log('authorize', 'invalid_request')
            return self.reply(400, {'error': 'invalid_request'})
        if self.control() == 'deny':
            back = {'error': 'access_denied', 'state': q['state']}
            self.log('authorize', 'access_denied')
        else:
            code = token('ac-')
            with LOCK:
                st.d.setdefault('codes', {})[code] = {
                    'challenge': q['code_challenge'], 'redirect_uri': ru}
                st.save()
            back = {'code': code, 'state': q['state']}
            self.log('authorize', 'ok')
        self.send_response(302)
        self.send_header('Location', ru + '?' + urllib.parse.urlencode(back))
        self.send_header('Content-Length', '0')
        self.send_header('Connection', 'close')
        self.end_headers()
        self.close_connection = True

    def device_poll(self, dc, mode):
        """The error for this poll of device code dc, or None to grant."""
        args, st = self.server.args, self.server.state
        now = time.time()
        last, interval = self.server.polls.get(dc, (0, args.device_interval))
        n = st.d['device'][dc] = st.d['device'][dc] + 1
        if now - last < interval - 0.1:
            self.server.polls[dc] = (now, interval + 5)
            return 'too_fast'
        if mode == 'slow_down' and n == 1:
            self.server.polls[dc] = (now, interval + 5)
            return 'slow_down'
        self.server.polls[dc] = (now, interval)
        if mode in ('approve', 'slow_down'):
            return None
        if mode == 'deny':
            return 'access_denied'
        if mode == 'expire':
            return 'expired_token'
        if mode == 'short' or n <= args.device_polls:
            return 'authorization_pending'
        return None

    def token(self, f, grant, mode):
        args, st = self.server.args, self.server.state
        if f.get('client_id') != args.client_id:
            self.log(grant, 'invalid_client')
            return self.reply(401, {'error': 'invalid_client'})
        if args.client_secret and f.get('client_secret') != args.client_secret:
            self.log(grant, 'invalid_client')
            return self.reply(401, {'error': 'invalid_client'})
        out = {'token_type': 'Bearer', 'expires_in': args.lifetime}
        if mode == 'invalid_grant':
            rt = None
        elif grant == 'refresh_token':
            st.d['refreshes'] += 1
            rt = st.use_refresh(f.get('refresh_token'))
        elif grant == 'client_credentials':
            rt = ''
        elif grant == 'urn:ietf:params:oauth:grant-type:device_code':
            dc = f.get('device_code')
            if dc not in st.d['device']:
                rt = None
            else:
                err = self.device_poll(dc, mode)
                if err:
                    st.save()
                    self.log(grant, err)
                    if err == 'too_fast':
                        err = 'slow_down'
                    return self.reply(400, {'error': err})
                del st.d['device'][dc]
                rt = st.new_refresh()
        elif grant == 'authorization_code':
            c = st.d.setdefault('codes', {}).pop(f.get('code'), None)
            v = f.get('code_verifier', '')
            want = base64.urlsafe_b64encode(
                hashlib.sha256(v.encode()).digest()).decode().rstrip('=')
            if c is None or c['redirect_uri'] != f.get('redirect_uri'):
                self.log(grant, 'bad_code')
                rt = None
            elif not 43 <= len(v) <= 128 or want != c['challenge']:
                self.log(grant, 'pkce_mismatch')
                rt = None
            else:
                rt = st.new_refresh()
        else:
            self.log(grant, 'unsupported_grant_type')
            return self.reply(400, {'error': 'unsupported_grant_type'})
        if rt is None:
            st.d['rejected'] += 1
            st.save()
            self.log(grant, 'invalid_grant')
            return self.reply(400, {
                'error': 'invalid_grant',
                'error_description': 'AADSTS70000: token revoked'})
        out['access_token'] = st.issue(args.lifetime)
        if rt:
            out['refresh_token'] = rt
        # The new refresh token counts as used once the client presents
        # it; until then the old one stays valid (see use_refresh).
        st.save()
        if mode in ROTATED_BROKEN:
            ROTATED_BROKEN[mode](out)
            self.log(grant, mode)
            return self.reply(200, out)
        self.log(grant, 'ok')
        return self.reply(200, out)


# A rotation that happened, in a reply refused for another reason.
ROTATED_BROKEN = {
    'rotbadtype': lambda o: o.update(token_type='MAC'),
    'rotbadexpires': lambda o: o.update(expires_in=-5),
    'rotnoaccess': lambda o: o.pop('access_token'),
}


def oversize():
    return '{"access_token":"' + 'A' * 100000 + '","token_type":"Bearer"}'


BROKEN = {
    '500': (500, {'error': 'server_error'}),
    'notjson': (200, '<html>Service temporarily unavailable</html>'),
    'array': (200, [{'access_token': 'x'}]),
    'noaccess': (200, {'token_type': 'Bearer', 'expires_in': 60}),
    'badtype': (200, {'access_token': 'abc', 'token_type': 'MAC',
                      'expires_in': 60}),
    'badexpires': (200, {'access_token': 'abc', 'token_type': 'Bearer',
                         'expires_in': -5}),
    'badtoken': (200, {'access_token': 'a\r\nb c', 'token_type': 'Bearer',
                       'expires_in': 60}),
    'dupkey': (200, '{"access_token":"a","access_token":"b",'
                    '"token_type":"Bearer"}'),
    'oversize': (200, oversize),
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--cert', required=True)
    ap.add_argument('--key', required=True)
    ap.add_argument('--state', required=True)
    ap.add_argument('--control', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--client-id', default='relayq-test')
    ap.add_argument('--client-secret', default='')
    ap.add_argument('--initial-refresh', default='rt-initial')
    ap.add_argument('--lifetime', type=int, default=3600)
    ap.add_argument('--slow', type=float, default=30)
    ap.add_argument('--strict', action='store_true')
    ap.add_argument('--device-polls', type=int, default=2)
    ap.add_argument('--device-interval', type=int, default=1)
    ap.add_argument('--pidfile')
    ap.add_argument('--sni-log')
    args = ap.parse_args()
    # The first refresh token counts as used: it was "issued" by login.
    srv = Server(('127.0.0.1', args.port), Handler)
    srv.args = args
    srv.polls = {}
    srv.state = State(args.state, args.initial_refresh, args.strict)
    srv.state.save()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.sni_log:
        def sni(sock, name, c):
            with open(args.sni_log, 'a') as f:
                f.write('{}\n'.format(name or '-'))
        ctx.sni_callback = sni
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.pidfile:
        with open(args.pidfile + '.tmp', 'w') as f:
            f.write('{}\n'.format(os.getpid()))
        os.rename(args.pidfile + '.tmp', args.pidfile)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == '__main__':
    main()
