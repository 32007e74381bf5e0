#!/usr/bin/python3
# DKIM signatures for the milter tests, with python3-dkim (Debian's
# python3-dkim is installed for /usr/bin/python3) and no DNS at all: the
# public key comes from a file, never from a TXT lookup.
#
#   dkim_tool.py pubkey PRIVATE-KEY-PEM
#       prints the TXT record's value for the key: v=DKIM1; k=rsa; p=...
#   dkim_tool.py sign PRIVATE-KEY-PEM DOMAIN SELECTOR < MESSAGE > SIGNED
#       the message with a DKIM-Signature header prepended (relaxed/simple,
#       From, To, Subject, Date, Message-ID signed); line ends stay LF
#   dkim_tool.py verify TXT-VALUE-FILE < MESSAGE
#       exit 0 if the message's first DKIM-Signature verifies with that key
#       (whatever d= and s= say), 1 if not, and prints "pass" or "fail"
import base64
import subprocess
import sys

import dkim


def pubkey(pem_path):
    der = subprocess.run(['openssl', 'rsa', '-in', pem_path, '-pubout', '-outform', 'DER'],
                         check=True, capture_output=True).stdout
    return 'v=DKIM1; k=rsa; p=' + base64.b64encode(der).decode()


def crlf(data):
    return data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def sign(pem_path, domain, selector):
    msg = crlf(sys.stdin.buffer.read())
    key = open(pem_path, 'rb').read()
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=(b'relaxed', b'simple'),
                    include_headers=[b'From', b'To', b'Subject', b'Date', b'Message-ID'])
    sys.stdout.buffer.write((sig + msg).replace(b'\r\n', b'\n'))


def verify(txt_path):
    txt = open(txt_path, 'rb').read().strip()
    msg = crlf(sys.stdin.buffer.read())
    ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: txt)
    print('pass' if ok else 'fail')
    return 0 if ok else 1


def main(argv):
    if len(argv) == 3 and argv[1] == 'pubkey':
        print(pubkey(argv[2]))
        return 0
    if len(argv) == 5 and argv[1] == 'sign':
        sign(argv[2], argv[3], argv[4])
        return 0
    if len(argv) == 3 and argv[1] == 'verify':
        return verify(argv[2])
    sys.stderr.write('usage: dkim_tool.py pubkey KEY | sign KEY DOMAIN SELECTOR | verify TXTFILE\n')
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
