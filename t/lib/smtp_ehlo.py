#!/usr/bin/env python3
"""smtp_ehlo.py NAME: checks the EHLO replies in a smtp_chat.py transcript
on stdin.

Every EHLO reply (from its "250-<domain> Hello ..." line to its "250 " line)
is split into its extension lines; each must be an RFC 5321 §4.1.1.1
ehlo-line: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), then
optional ehlo-params, each 1*(%d33-126), one space before each.
Prints "NAME/<reply number> <line>" per extension line, and then
"BAD NAME/<reply number> <line>" (exit 1) if the line breaks the grammar.
"""
import re
import sys

EHLO_LINE = re.compile(r'[A-Za-z0-9][A-Za-z0-9-]*( [\x21-\x7e]+)*')
START = re.compile(r'< 250[- ]\S+ Hello ')

name = sys.argv[1] if len(sys.argv) > 1 else 'ehlo'
bad, reply, inside = 0, 0, False
for raw in sys.stdin:
    line = raw.rstrip('\n')
    if START.match(line):
        reply += 1
        inside = line.startswith('< 250-')
        continue
    if not inside:
        continue
    if not line.startswith(('< 250-', '< 250 ')):
        print('BAD %s/%d reply line inside EHLO: %s' % (name, reply, line))
        bad = 1
        inside = False
        continue
    text = line[6:]
    print('%s/%d %s' % (name, reply, text))
    if not EHLO_LINE.fullmatch(text):
        print('BAD %s/%d %s' % (name, reply, text))
        bad = 1
    inside = line.startswith('< 250-')
sys.exit(bad)
