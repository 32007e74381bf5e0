#!/usr/bin/env python3
"""The tests' own QWK reader and REP writer, written from the format
description (128-byte blocks, MS-BASIC float NDX records, CONTROL.DAT).

  qwk.py read PACKET.QWK          checks the packet, prints one line per
                                  message: n|to|from|subject|conf|blocks|text
                                  (text with \\n for line ends) and
                                  "control:<line>" for CONTROL.DAT lines
  qwk.py rep OUT.REP HUBID SPEC.json
                                  writes a REP: SPEC is a list of
                                  {"conf":0,"to":..,"from":..,"subject":..,
                                   "text":.., "lines":[...] (leading lines),
                                   "blocks": n (override), "active": false}
"""
import io, json, struct, sys, zipfile


def mbf_to_float(b):
    exp = b[3]
    if exp == 0:
        return 0.0
    sign = -1 if b[2] & 0x80 else 1
    mant = ((b[2] & 0x7F) << 16) | (b[1] << 8) | b[0] | 0x800000
    return sign * mant * 2.0 ** (exp - 152)


def fail(msg):
    print("qwk.py: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    z = zipfile.ZipFile(path)
    names = sorted(z.namelist())
    for n in names:
        if '/' in n:
            fail("member with a path: " + n)
    dat = z.read('MESSAGES.DAT')
    if len(dat) % 128 or len(dat) < 128:
        fail("MESSAGES.DAT size %d" % len(dat))
    control = z.read('CONTROL.DAT').decode('cp437')
    if not control.endswith('\r\n'):
        fail("CONTROL.DAT does not end in CRLF")
    lines = control[:-2].split('\r\n')
    for l in lines:
        print("control:" + l)
    print("members:" + ",".join(names))
    offsets = []
    pos, n = 128, 0
    while pos < len(dat):
        h = dat[pos:pos + 128]
        blocks = int(h[116:122].decode().strip())
        if blocks < 1 or pos + blocks * 128 > len(dat):
            fail("block count %d at %d" % (blocks, pos))
        if h[122] != 0xE1:
            fail("active flag %#x at %d" % (h[122], pos))
        number = int(h[1:8].decode().strip())
        n += 1
        if number != n:
            fail("message number %d, expected %d" % (number, n))
        logical = struct.unpack('<H', h[125:127])[0]
        if logical != n:
            fail("logical number %d, expected %d" % (logical, n))
        date, time = h[8:16].decode(), h[16:21].decode()
        if not (date[2] == '-' and date[5] == '-' and time[2] == ':'):
            fail("date/time %r %r" % (date, time))
        conf = struct.unpack('<H', h[123:125])[0]
        body = dat[pos + 128:pos + blocks * 128].rstrip(b' \0')
        text = body.decode('cp437').replace('\xe3', '\n') if False else \
            body.replace(b'\xe3', b'\n').decode('cp437')
        f = lambda a, b: h[a:b].decode('cp437').rstrip(' ')
        print("|".join([str(n), f(21, 46), f(46, 71), f(71, 96), str(conf), str(blocks),
                        text.replace('\n', '\\n')]))
        offsets.append((conf, pos))
        pos += blocks * 128
    if int(lines[9]) != n:
        fail("CONTROL.DAT says %s messages, MESSAGES.DAT has %d" % (lines[9], n))
    checked = 0
    for conf in sorted(set([0] + [c for c, _ in offsets])):
        name = '%03d.NDX' % conf
        ndx = z.read(name)
        mine = [off for c, off in offsets if c == conf]
        if len(ndx) != 5 * len(mine):
            fail("%s has %d bytes for %d messages" % (name, len(ndx), len(mine)))
        for i, off in enumerate(mine):
            rec = mbf_to_float(ndx[5 * i:5 * i + 4])
            if rec != off // 128 + 1:
                fail("%s record %d says %r, header is at block %d" % (name, i, rec, off // 128 + 1))
            if ndx[5 * i + 4] != conf & 0xff:
                fail("%s record %d: conference byte %d" % (name, i, ndx[5 * i + 4]))
        checked += len(mine)
    print("ndx:ok %d" % checked)


def field(s, n):
    b = s.encode('cp437')[:n]
    return b + b' ' * (n - len(b))


def rep(out, hub, spec_path):
    spec = json.load(open(spec_path))
    dat = field(hub, 128)
    for m in spec:
        lines = m.get('lines', []) + m.get('text', '').split('\n')
        body = b'\xe3'.join(l.encode('cp437') for l in lines)
        nblocks = 1 + (len(body) + 127) // 128
        body += b' ' * ((nblocks - 1) * 128 - len(body))
        h = bytearray(b' ' * 128)
        h[0:1] = b'+' if m.get('private', True) else b' '
        h[1:8] = field(str(m.get('conf', 0)), 7)
        h[8:16] = m.get('date', '12-01-26').encode()
        h[16:21] = m.get('time', '14:05').encode()
        h[21:46] = field(m['to'], 25)
        h[46:71] = field(m['from'], 25)
        h[71:96] = field(m['subject'], 25)
        h[116:122] = field(str(m.get('blocks', nblocks)), 6)
        h[122] = 0xE1 if m.get('active', True) else 0xE2
        h[123:125] = struct.pack('<H', m.get('conf', 0))
        dat += bytes(h) + body
    if spec and 'truncate' in spec[-1]:
        dat = dat[:len(dat) - spec[-1]['truncate']]
    with zipfile.ZipFile(out, 'w') as z:
        z.writestr(hub + '.MSG', dat)
        for extra in (spec[0].get('extra_members', []) if spec else []):
            z.writestr(extra, b'x')


if __name__ == '__main__':
    if sys.argv[1] == 'read':
        read(sys.argv[2])
    elif sys.argv[1] == 'rep':
        rep(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fail("usage")
