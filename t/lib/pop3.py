#!/usr/bin/env python3
"""POP3 test helper for the pop3d Bats tests.

  pop3.py chat PORT            stdin: one command per line; prints the replies
  pop3.py fill MAILBOX N T0    writes N messages into MAILBOX/new
  pop3.py expect-wire FILE     prints FILE as POP3 sends it (CRLF, stuffed)

chat knows which commands answer with a multi-line reply, and reads until
the final "." after a +OK to them.  Reply lines are printed without CRLF; a
line "<sleep 0.5>" in the script pauses instead of sending.
"""
import os
import socket
import sys
import time

MULTI = {"CAPA", "RETR", "TOP"}


def multiline(cmd):
    words = cmd.split()
    if not words:
        return False
    verb = words[0].upper()
    if verb in MULTI:
        return True
    return verb in ("LIST", "UIDL") and len(words) == 1


def chat(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    f = s.makefile("rb")

    def line():
        try:
            raw = f.readline()
        except ConnectionError:
            raw = b""
        if not raw:
            print("<eof>")
            sys.stdout.flush()
            sys.exit(0)
        text = raw.decode("latin-1")
        print(text[:-2] if text.endswith("\r\n") else text.rstrip("\n") + "<no-crlf>")
        return text

    line()  # greeting
    for cmd in sys.stdin.read().split("\n"):
        if cmd.startswith("<sleep "):
            time.sleep(float(cmd[7:-1]))
            continue
        if cmd == "":
            continue
        try:
            s.sendall(cmd.encode("latin-1").replace(b"\\0", b"\0") + b"\r\n")
        except ConnectionError:
            pass  # the server closed: the next read prints <eof>
        first = line()
        if first.startswith("+OK") and multiline(cmd):
            while line() != ".\r\n":
                pass
    # Whatever the server still says (an autologout) up to its close.
    while True:
        line()


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
        chat(int(sys.argv[2]))
    elif cmd == "fill":
        fill(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "expect-wire":
        with open(sys.argv[2], "rb") as fh:
            sys.stdout.buffer.write(wire(fh.read()))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
