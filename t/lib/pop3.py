#!/usr/bin/env python3
"""POP3 test helper for the pop3d Bats tests.

  pop3.py chat PORT [--tls]    stdin: one command per line; prints the replies
                               (--tls: implicit TLS, POP3S)
  pop3.py fill MAILBOX N T0    writes N messages into MAILBOX/new
  pop3.py expect-wire FILE     prints FILE as POP3 sends it (CRLF, stuffed)

chat knows which commands answer with a multi-line reply, and reads until
the final "." after a +OK to them.  Reply lines are printed without CRLF; a
line "<sleep 0.5>" in the script pauses instead of sending.  A line
"<raw TEXT>" sends TEXT with \\r and \\n turned into CR and LF and no CRLF
added, then reads one reply line (the injection test sends "STLS\\r\\nCAPA\\r\\n"
in one packet this way).  After STLS (plain or raw) answered +OK the chat
does the TLS handshake and prints "<tls VERSION>"; inside TLS every reply
line is printed with "tls: " in front.  Certificates are not verified.
"""
import os
import socket
import ssl
import sys
import time

MULTI = {"CAPA", "RETR", "TOP"}


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def multiline(cmd):
    words = cmd.split()
    if not words:
        return False
    verb = words[0].upper()
    if verb in MULTI:
        return True
    return verb in ("LIST", "UIDL", "AUTH") and len(words) == 1


class Chat:
    def __init__(self, port, implicit):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.prefix = ""
        if implicit:
            self.starttls()
        self.f = self.sock.makefile("rb")

    def starttls(self):
        self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.prefix = "tls: "
        print("<tls %s>" % self.sock.version())

    def line(self):
        try:
            raw = self.f.readline()
        except (ConnectionError, ssl.SSLError):
            raw = b""
        if not raw:
            print("<eof>")
            sys.stdout.flush()
            sys.exit(0)
        text = raw.decode("latin-1")
        print(self.prefix + (text[:-2] if text.endswith("\r\n") else text.rstrip("\n") + "<no-crlf>"))
        return text

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (ConnectionError, ssl.SSLError):
            pass  # the server closed: the next read prints <eof>

    def command(self, cmd):
        if cmd.startswith("<raw "):
            data = cmd[5:-1].replace("\\r", "\r").replace("\\n", "\n").encode("latin-1")
            cmd = data.split(b"\r\n")[0].decode("latin-1")
        else:
            data = cmd.encode("latin-1").replace(b"\\0", b"\0") + b"\r\n"
        self.send(data)
        first = self.line()
        if first.startswith("+OK") and multiline(cmd):
            while self.line() != ".\r\n":
                pass
        if first.startswith("+OK") and cmd.upper() == "STLS":
            self.starttls()


def chat(port, implicit):
    c = Chat(port, implicit)
    c.line()  # greeting
    for cmd in sys.stdin.read().split("\n"):
        if cmd.startswith("<sleep "):
            time.sleep(float(cmd[7:-1]))
        elif cmd != "":
            c.command(cmd)
    # Whatever the server still says (an autologout) up to its close.
    while True:
        c.line()


def fill(box, n, t0):
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(box, d), exist_ok=True)
    for i in range(1, n + 1):
        name = "%d.M%dP1.test" % (t0 + i, i)
        body = "From: sender%d@example.org\nSubject: message %d\n\nline one of %d\n.dotted line\n\nend\n" % (i, i, i)
        tmp = os.path.join(box, "tmp", name)
        with open(tmp, "w") as fh:
            fh.write(body)
        os.rename(tmp, os.path.join(box, "new", name))


def wire(data):
    out = bytearray()
    lines = data.split(b"\n")
    last = lines.pop()
    for l in lines:
        if l.endswith(b"\r"):
            l = l[:-1]
        if l.startswith(b"."):
            out += b"."
        out += l + b"\r\n"
    if last:
        if last.startswith(b"."):
            out += b"."
        out += last + b"\r\n"
    return bytes(out)


def main():
    cmd = sys.argv[1]
    if cmd == "chat":
        chat(int(sys.argv[2]), "--tls" in sys.argv[3:])
    elif cmd == "fill":
        fill(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "expect-wire":
        with open(sys.argv[2], "rb") as fh:
            sys.stdout.buffer.write(wire(fh.read()))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
