#!/usr/bin/env python3
"""Checks on the smtpd/pop3d + tlsproxy(8) process pair, for t/*-tls.bats.

  tls_proxy_check.py sockets smtp|pop3 PORT LOG
      STARTTLS (or STLS), then prints which process holds the TCP socket:
      "before smtpd=1" and "after receiver=0 proxy=1 comm=tlsproxy" (the
      count of distinct TCP socket inodes among each one's open fds).
  tls_proxy_check.py abandon PORT LOG
      STARTTLS, EHLO, MAIL, then drops the TCP connection without QUIT or
      close_notify; prints "pids <smtpd> <tlsproxy>".
The receiver's pid is its session id, read from LOG.
"""
import os
import re
import socket
import ssl
import sys
import time


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tcp_inodes():
    inodes = set()
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    inodes.add(line.split()[9])
        except FileNotFoundError:
            pass
    return inodes


def socket_inodes(pid):
    found = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            m = re.match(r'socket:\[(\d+)\]', os.readlink('/proc/%d/fd/%s' % (pid, fd)))
        except OSError:
            continue
        if m:
            found.add(m.group(1))
    return found


def tcp_count(pid):
    return len(socket_inodes(pid) & tcp_inodes())


def session_pid(log, program, port_local):
    # The newest connect line of this receiver: its session= is its pid.
    for _ in range(200):
        pids = re.findall(program + r': info: session=(\d+) event=connect ', open(log).read())
        if pids:
            return int(pids[-1])
        time.sleep(0.05)
    sys.exit('no connect line in ' + log)


def children(pid):
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def comm(pid):
    with open('/proc/%d/comm' % pid) as f:
        return f.read().strip()


class Session:
    def __init__(self, kind, port):
        self.kind = kind
        self.sock = socket.create_connection(('127.0.0.1', int(port)), timeout=20)
        self.f = self.sock.makefile('rb')
        self.reply()

    def send(self, line):
        self.sock.sendall(line.encode() + b'\r\n')

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                sys.exit('connection closed')
            if self.kind == 'pop3' or len(line) < 4 or line[3:4] != b'-':
                return line.decode().rstrip()

    def starttls(self):
        self.send('STARTTLS' if self.kind == 'smtp' else 'STLS')
        r = self.reply()
        if not (r.startswith('220') or r.startswith('+OK')):
            sys.exit('no TLS: ' + r)
        self.sock = context().wrap_socket(self.sock, server_hostname='localhost')
        self.f = self.sock.makefile('rb')


def sockets(kind, port, log):
    s = Session(kind, port)
    program = 'smtpd' if kind == 'smtp' else 'pop3d'
    pid = session_pid(log, program, port)
    if kind == 'smtp':
        s.send('EHLO client.example')
        s.reply()
    print('before %s=%d' % (program, tcp_count(pid)), flush=True)
    s.starttls()
    s.send('EHLO client.example' if kind == 'smtp' else 'CAPA')
    if kind == 'smtp':
        s.reply()
    else:
        while s.f.readline().rstrip() != b'.':
            pass
    kids = children(pid)
    if len(kids) != 1:
        sys.exit('children of %d: %s' % (pid, kids))
    print('after receiver=%d proxy=%d comm=%s' % (tcp_count(pid), tcp_count(kids[0]), comm(kids[0])), flush=True)
    s.send('QUIT')
    s.reply()


def abandon(port, log):
    s = Session('smtp', port)
    pid = session_pid(log, 'smtpd', port)
    s.send('EHLO client.example')
    s.reply()
    s.starttls()
    s.send('EHLO client.example')
    s.reply()
    s.send('MAIL FROM:<a@example.org>')
    s.reply()
    kids = children(pid)
    print('pids %d %d' % (pid, kids[0] if kids else 0), flush=True)
    # No QUIT, no close_notify: the TCP connection just goes away.
    s.f.close()
    s.sock.close()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == 'sockets':
        sockets(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == 'abandon':
        abandon(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
