#!/usr/bin/env python3
"""A broken DNS server on a loopback UDP port, for t/dns.bats.

usage: dns_bad_server.py MODE PORTFILE

Binds 127.0.0.1 on a free UDP port, writes the port to PORTFILE and answers
every query according to MODE until killed:
  garbage    a few bytes that are no DNS message
  wrongid    a well-formed NXDOMAIN reply with the id off by one
  question   a well-formed reply to another name
  truncated  our id and question, ANCOUNT 1, and the answer cut off
  badrdata   our id and question, one A record whose rdata is 3 bytes
  loop       our id and question, a CNAME of the name to itself
  servfail   our id and question, rcode SERVFAIL
  silent     nothing at all
"""
import os
import socket
import struct
import sys


def question_end(query):
    pos = 12
    while query[pos] != 0:
        pos += 1 + query[pos]
    return pos + 5


def reply(query, mode):
    qid = struct.unpack('>H', query[:2])[0]
    question = query[12:question_end(query)]
    header = lambda ident, rcode, ancount: struct.pack(
        '>HHHHHH', ident, 0x8180 | rcode, 1, ancount, 0, 0)
    if mode == 'garbage':
        return b'\x01\x02garbage'
    if mode == 'wrongid':
        return header((qid + 1) & 0xffff, 3, 0) + question
    if mode == 'question':
        return header(qid, 3, 0) + b'\x05other\x07invalid\x00' + question[-4:]
    if mode == 'truncated':
        return header(qid, 0, 1) + question + b'\xc0\x0c\x00'
    if mode == 'badrdata':
        return (header(qid, 0, 1) + question +
                b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x03\x7f\x00\x00')
    if mode == 'loop':
        return (header(qid, 0, 1) + question +
                b'\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c')
    if mode == 'servfail':
        return header(qid, 2, 0) + question
    return None


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    with open(portfile + '.tmp', 'w') as f:
        f.write('%d\n' % sock.getsockname()[1])
    os.rename(portfile + '.tmp', portfile)
    while True:
        query, peer = sock.recvfrom(65536)
        try:
            answer = reply(query, mode)
        except (IndexError, struct.error):
            continue
        if answer is not None:
            sock.sendto(answer, peer)


if __name__ == '__main__':
    main()
