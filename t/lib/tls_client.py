#!/usr/bin/env python3
"""TLS test client for t/tls-lib.bats (talks to build/t/tls-selftest server).

tls_client.py PORT MODE [options]
  MODE starttls   greeting, [EHLO], STARTTLS, handshake, TLS, QUIT
  MODE implicit   handshake at once, greeting, TLS, QUIT
  MODE stall      greeting, STARTTLS, then never handshakes (server must time out)
Options: --inject (send "STARTTLS\\r\\nNOOP\\r\\n" in one packet), --cafile F
(verify chain and name), --name N (SNI/verified name, default localhost),
--version 1.1|1.2|1.3 (only that version), --ciphers LIST (TLS 1.2), --ehlo,
--bulk (6 MB down read slowly, 2000 pipelined commands up).
Prints every line received, "plain: " before TLS and "tls: " inside it, then
"close: clean" when the server sent close_notify.  Exit 0 ok, 2 on a TLS error
(printed as "error: ...")."""
import argparse
import socket
import ssl
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 on purpose

VERSIONS = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
            "1.3": ssl.TLSVersion.TLSv1_3}


def readline(sock, prefix):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("connection closed after %r" % data)
        data += chunk
    line = data.decode("ascii", "replace").rstrip("\r\n")
    print(prefix + line, flush=True)
    return line


def context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if args.cafile:
        ctx.load_verify_locations(args.cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    if args.version:
        if args.version == "1.1":
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = VERSIONS[args.version]
        ctx.maximum_version = VERSIONS[args.version]
    return ctx


def bulk(tls):
    """About 6 MB from the server read slowly, then 2000 pipelined commands at once."""
    tls.sendall(b"BIG 60000\r\n")
    f = tls.makefile("rb")
    time.sleep(0.3)  # let the server fill the socket buffer and wait on POLLOUT
    got = [f.readline() for _ in range(60001)]
    ok = all(l.startswith(b"250-%08d x" % i) and l.endswith(b"x\r\n") and len(l) == len(got[0])
             for i, l in enumerate(got[:60000]))
    print("big: %s %s" % ("ok" if ok else "BAD", got[60000].decode().strip()), flush=True)
    tls.sendall(b"".join(b"line %d\r\n" % i for i in range(2000)))
    echoed = [f.readline() for _ in range(2000)]
    ok = all(l == b"250 echo line %d\r\n" % i for i, l in enumerate(echoed))
    print("pipelined: %s %d" % ("ok" if ok else "BAD", len(echoed)), flush=True)


def inside_tls(tls, args):
    if args.bulk:
        bulk(tls)
    tls.sendall(b"TLS\r\n")
    readline(tls, "tls: ")
    tls.sendall(b"QUIT\r\n")
    readline(tls, "tls: ")
    try:
        print("close: clean" if tls.recv(100) == b"" else "close: data", flush=True)
    except ssl.SSLError as e:
        print("close: %s" % e.reason, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("mode", choices=["starttls", "implicit", "stall"])
    p.add_argument("--inject", action="store_true")
    p.add_argument("--ehlo", action="store_true")
    p.add_argument("--cafile")
    p.add_argument("--name", default="localhost")
    p.add_argument("--version", choices=sorted(VERSIONS))
    p.add_argument("--ciphers")
    p.add_argument("--bulk", action="store_true")
    args = p.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if args.bulk:  # a small window, so the server's writes really block
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", args.port))
    try:
        if args.mode == "implicit":
            tls = context(args).wrap_socket(sock, server_hostname=args.name)
            readline(tls, "tls: ")
            inside_tls(tls, args)
            return 0
        readline(sock, "plain: ")
        if args.ehlo:
            sock.sendall(b"EHLO client.example\r\n")
            while not readline(sock, "plain: ")[3:4] == " ":
                pass
        sock.sendall(b"STARTTLS\r\nNOOP\r\n" if args.inject else b"STARTTLS\r\n")
        if not readline(sock, "plain: ").startswith("220"):
            return 1
        if args.mode == "stall":
            start = time.monotonic()
            print("eof: %r" % sock.recv(100), flush=True)
            print("waited: %d" % round(time.monotonic() - start), flush=True)
            return 0
        tls = context(args).wrap_socket(sock, server_hostname=args.name)
        inside_tls(tls, args)
        return 0
    except (ssl.SSLError, ssl.CertificateError, OSError, EOFError) as e:
        print("error: %s" % e, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
