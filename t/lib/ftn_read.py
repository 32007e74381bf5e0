#!/usr/bin/env python3
"""An independent reader of FidoNet packets for the tests, written from
the format descriptions (FTS-0001 type 2, FSC-0048 type 2+, FTS-4000
kludges), not from bbsmail's code.  Prints one "key=value" line per field:

  packet.<field>=...       the 58-byte header
  msg<N>.<field>=...       each packed message (N from 1)
  msg<N>.kludge=<line>     each SOH line, in order, without the SOH
  msg<N>.text=<line>       each visible text line, in order
  messages=<count>         after the terminator
  error=<what>             a malformed or truncated packet (exit 1)
"""
import struct
import sys


def u16(b, off):
    return struct.unpack_from('<H', b, off)[0]


def asciiz(b, pos, limit):
    end = b.index(b'\0', pos)
    if limit and end - pos + 1 > limit:
        raise ValueError('field longer than %d' % limit)
    return b[pos:end], end + 1


def show(key, value):
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    print('%s=%s' % (key, value))


def header(b):
    if len(b) < 58:
        raise ValueError('short header')
    if u16(b, 18) != 2:
        raise ValueError('not type 2')
    cw, cw_copy = u16(b, 44), u16(b, 40)
    plus = cw == ((cw_copy & 0xff) << 8 | cw_copy >> 8) and cw & 1
    show('packet.type', '2+' if plus else '2')
    show('packet.orig', '%d:%d/%d.%d' % (u16(b, 46) if plus else u16(b, 34), u16(b, 38) if plus and u16(b, 20) == 0xffff else u16(b, 20),
                                         u16(b, 0), u16(b, 50) if plus else 0))
    show('packet.dest', '%d:%d/%d.%d' % (u16(b, 48) if plus else u16(b, 36), u16(b, 22), u16(b, 2), u16(b, 52) if plus else 0))
    show('packet.zone_copies', '%d,%d' % (u16(b, 34), u16(b, 36)))
    show('packet.date', '%04d-%02d-%02d' % (u16(b, 4), u16(b, 6) + 1, u16(b, 8)))
    show('packet.password', b[26:34].rstrip(b'\0'))
    show('packet.capword', '%04x/%04x' % (cw, cw_copy))


def message(b, pos, n):
    if u16(b, pos) != 2:
        raise ValueError('message type %d' % u16(b, pos))
    p = 'msg%d.' % n
    show(p + 'orig', '%d/%d' % (u16(b, pos + 6), u16(b, pos + 2)))
    show(p + 'dest', '%d/%d' % (u16(b, pos + 8), u16(b, pos + 4)))
    show(p + 'attr', '%04x' % u16(b, pos + 10))
    date = b[pos + 14:pos + 34]
    show(p + 'date', date.split(b'\0')[0])
    show(p + 'date_len', len(date.split(b'\0')[0]))
    to, q = asciiz(b, pos + 34, 36)
    frm, q = asciiz(b, q, 36)
    subj, q = asciiz(b, q, 72)
    text, q = asciiz(b, q, 0)
    show(p + 'to', to)
    show(p + 'from', frm)
    show(p + 'subject', subj)
    if b'\n' in text:
        show(p + 'has_lf', 1)
    lines = text.split(b'\r')
    if lines and lines[-1] == b'':
        lines.pop()
    else:
        show(p + 'no_final_cr', 1)
    for line in lines:
        if line.startswith(b'\x01'):
            show(p + 'kludge', line[1:])
        else:
            show(p + 'text', line)
    return q


def main():
    b = open(sys.argv[1], 'rb').read()
    try:
        header(b)
        pos, n = 58, 0
        while True:
            if pos + 2 > len(b):
                raise ValueError('no terminator')
            if u16(b, pos) == 0:
                pos += 2
                break
            n += 1
            pos = message(b, pos, n)
        show('messages', n)
        if pos != len(b):
            show('trailing', len(b) - pos)
    except (ValueError, struct.error) as e:
        show('error', e)
        sys.exit(1)


main()
