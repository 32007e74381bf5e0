#!/usr/bin/env python3
"""Messages for the disk-full tests, sent over SMTP and checked in Maildirs.

  diskfull.py send PORT FIRST LAST KIB   one SMTP session, one message per
                                         SEQ; prints "SEQ CODE" per message
                                         (CODE: the final reply, or "eof")
  diskfull.py check MAILDIR FIRST LAST KIB [SEQ...]
                                         the Maildir holds each listed SEQ
                                         (all of FIRST..LAST when none is
                                         listed) exactly once, byte for byte
                                         after smtpd's headers, and no other
                                         message; prints what is wrong
"""
import os
import re
import smtplib
import sys


def body(seq, kib):
    lines = ['From: tester@example.org', 'To: demo@localhost', 'Subject: message %d' % seq,
             'Message-ID: <disk-%d@test>' % seq, 'X-Seq: %d' % seq, '']
    line = 'message %d filler line ' % seq
    line += 'x' * (63 - len(line))
    lines += [line] * (kib * 1024 // 64)
    return '\r\n'.join(lines) + '\r\n'


def send(port, first, last, kib):
    s = smtplib.SMTP('127.0.0.1', int(port), timeout=30)
    s.ehlo('client.example')
    for seq in range(first, last + 1):
        try:
            code, _ = s.mail('tester@example.org')
            if code == 250:
                code, _ = s.rcpt('demo@localhost')
            if code == 250:
                code, _ = s.data(body(seq, kib).encode())
            else:
                s.rset()
        except smtplib.SMTPDataError as e:
            code = e.smtp_code
            s.rset()
        except (smtplib.SMTPServerDisconnected, ConnectionError, OSError):
            print('%d eof' % seq, flush=True)
            return
        print('%d %d' % (seq, code), flush=True)
    try:
        s.quit()
    except (smtplib.SMTPServerDisconnected, ConnectionError, OSError):
        pass


def check(box, first, last, kib, want):
    want = want or list(range(first, last + 1))
    seen, bad, files = {}, [], []
    for sub in ('new', 'cur'):
        d = os.path.join(box, sub)
        if os.path.isdir(d):
            files += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith('.')]
    for path in files:
        data = open(path, 'rb').read()
        m = re.search(rb'^X-Seq: (\d+)$', data, re.M)
        if not m:
            bad.append('%s: no X-Seq' % path)
            continue
        n = int(m.group(1))
        seen[n] = seen.get(n, 0) + 1
        # smtpd adds Return-Path and Received above the client's text;
        # the Maildir holds it with LF line ends
        sent = body(n, kib).replace('\r\n', '\n').encode()
        if not data.endswith(sent):
            bad.append('%s: content differs from message %d' % (path, n))
    for n in want:
        if seen.get(n, 0) != 1:
            bad.append('message %d delivered %d times' % (n, seen.get(n, 0)))
    for n in seen:
        if n not in want:
            bad.append('unexpected message %d' % n)
    for b in bad[:20]:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    a = sys.argv
    if a[1] == 'send':
        send(a[2], int(a[3]), int(a[4]), int(a[5]))
    elif a[1] == 'check':
        sys.exit(check(a[2], int(a[3]), int(a[4]), int(a[5]), [int(x) for x in a[6:]]))
    else:
        sys.exit('usage: diskfull.py send|check ...')
