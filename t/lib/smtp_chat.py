#!/usr/bin/env python3
"""Raw-socket SMTP scripts for the smtpd tests, and spool-file readers.

  smtp_chat.py chat PORT      runs the script on stdin against 127.0.0.1:PORT
  smtp_chat.py chats PORT     the same over implicit TLS (SMTPS)
  smtp_chat.py envelope FILE  prints a spool file's envelope, one "T value" a line
  smtp_chat.py message FILE   prints the message part, Received header removed

Script lines (escapes \\r \\n \\t \\0 \\\\ \\xHH in S/REP/RAW text):
  S text          send text as it is (add \\r\\n yourself)
  L text          send text + CRLF
  REP n text      send text n times; {i} becomes the 1-based index
  R code [words]  read one reply; its last line must start with code, and
                  contain words if given
  N n             read n replies and print them (no check)
  E               expect the server to close the connection
  W seconds       sleep
  TLS             TLS handshake now (after a 220 to STARTTLS); prints
                  "tls: <version> <cipher>"; bytes the server sent before
                  are thrown away, as a client must (RFC 3207 §4.2)
  # ...           comment
Every reply line read is printed as "< line"; a failed check prints
"FAIL ..." and exits 1.
"""
import re
import socket
import ssl
import sys
import time


def client_context():
    # Self-signed test certificate: no verification (like swaks' default).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == '\\' and i + 1 < len(text):
            n = text[i + 1]
            if n == 'x':
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0', '\\': b'\\'}.get(n, n.encode())
            i += 2
            continue
        out += c.encode('utf-8')
        i += 1
    return bytes(out)


class Chat:
    def __init__(self, port, timeout, implicit=False):
        self.sock = socket.create_connection(('127.0.0.1', int(port)), timeout=timeout)
        self.buf = b''
        if implicit:
            self.starttls()

    def starttls(self):
        self.buf = b''
        self.sock = client_context().wrap_socket(self.sock, server_hostname='localhost')
        print('tls: %s %s' % (self.sock.version(), self.sock.cipher()[0]), flush=True)

    def line(self):
        while b'\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return line.rstrip(b'\r').decode('utf-8', 'replace')

    def reply(self):
        lines = []
        while True:
            line = self.line()
            if line is None:
                break
            print('< ' + line, flush=True)
            lines.append(line)
            if len(line) < 4 or line[3] != '-':
                break
        return lines

    def closed(self):
        try:
            while True:
                line = self.line()
                if line is None:
                    return True
                print('< ' + line, flush=True)
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True


def fail(msg):
    print('FAIL ' + msg, flush=True)
    sys.exit(1)


def run(port, script, timeout, implicit=False):
    chat = Chat(port, timeout, implicit)
    for raw in script.splitlines():
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        op, _, arg = raw.partition(' ')
        if op == 'S':
            chat.sock.sendall(unescape(arg))
        elif op == 'L':
            chat.sock.sendall(unescape(arg) + b'\r\n')
        elif op == 'REP':
            n, _, text = arg.partition(' ')
            chat.sock.sendall(b''.join(unescape(text.replace('{i}', str(i + 1))) for i in range(int(n))))
        elif op == 'R':
            code, _, words = arg.partition(' ')
            lines = chat.reply()
            if not lines:
                fail('expected %s, got end of connection' % arg)
            if not lines[-1].startswith(code) or (words and words not in lines[-1]):
                fail('expected %s, got %s' % (arg, lines[-1]))
        elif op == 'N':
            for _ in range(int(arg)):
                chat.reply()
        elif op == 'E':
            if not chat.closed():
                fail('connection still open')
        elif op == 'W':
            time.sleep(float(arg))
        elif op == 'TLS':
            chat.starttls()
        else:
            fail('bad script line: ' + raw)


def spool_split(path):
    data = open(path, 'rb').read()
    end = data.index(b'\0\0') + 2
    return data[:end], data[end:]


def envelope(path):
    head, _ = spool_split(path)
    for field in head[:-2].split(b'\0'):
        print(field[:1].decode() + ' ' + field[1:].decode('utf-8', 'replace'))


def message(path):
    _, msg = spool_split(path)
    m = re.match(rb'Received: [^\n]*\n(?:[ \t][^\n]*\n)*', msg)
    if not m:
        fail('no Received header first')
    sys.stdout.buffer.write(msg[m.end():])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'chat':
        run(sys.argv[2], sys.stdin.read(), 10)
    elif len(sys.argv) == 3 and sys.argv[1] == 'chats':
        run(sys.argv[2], sys.stdin.read(), 10, True)
    elif len(sys.argv) == 3 and sys.argv[1] == 'envelope':
        envelope(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == 'message':
        message(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(100)


if __name__ == '__main__':
    main()
