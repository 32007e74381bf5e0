#!/usr/bin/env python3
"""Splits one receiver log line into its key=value fields, by the rule of
smtpd(8) LOG: a value is bare (printable ASCII, no space, '"', '\\' or '=')
or double-quoted with \\" \\\\ and \\xHH escapes.

  smtp_log.py fields LINE    prints "key<TAB>value" per field, values
                             unescaped (bytes shown as \\xHH); exits 1 on a
                             field that breaks the rule
  smtp_log.py count KEY LINE prints how many fields are named KEY
"""
import re
import sys

BARE = re.compile(r'[!#-<>-\[\]-~]+')   # 0x21-0x7e without '"', '=' and '\'
KEY = re.compile(r'[a-z][a-z0-9_-]*')


def quoted(text, i):
    """The quoted value starting at text[i] == '"': (value, next index)."""
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return ''.join(out), i + 1
        if c == '\\':
            n = text[i + 1:i + 2]
            if n in ('"', '\\'):
                out.append(n)
                i += 2
                continue
            if n == 'x' and re.fullmatch(r'[0-9a-f]{2}', text[i + 2:i + 4]):
                out.append('\\x' + text[i + 2:i + 4])
                i += 4
                continue
            raise ValueError('bad escape at %d' % i)
        if not ' ' <= c <= '~':
            raise ValueError('raw byte in quotes at %d' % i)
        out.append(c)
        i += 1
    raise ValueError('unterminated quote')


def fields(line):
    """The fields after "prog: level: "."""
    m = re.match(r'[a-z0-9-]+: [a-z]+: ', line)
    if not m:
        raise ValueError('no prefix')
    text, i, result = line[m.end():], 0, []
    while i < len(text):
        k = KEY.match(text, i)
        if not k or text[k.end():k.end() + 1] != '=':
            raise ValueError('not a key=value field at %d: %r' % (i, text[i:]))
        i = k.end() + 1
        if text[i:i + 1] == '"':
            value, i = quoted(text, i)
        else:
            v = BARE.match(text, i)
            if not v:
                raise ValueError('empty bare value at %d' % i)
            value, i = v.group(0), v.end()
        result.append((k.group(0), value))
        if i < len(text):
            if text[i] != ' ':
                raise ValueError('no space after a value at %d' % i)
            i += 1
    return result


def main():
    try:
        if sys.argv[1] == 'fields':
            for k, v in fields(sys.argv[2]):
                print('%s\t%s' % (k, v))
        elif sys.argv[1] == 'count':
            print(sum(1 for k, _ in fields(sys.argv[3]) if k == sys.argv[2]))
        else:
            sys.exit('usage: smtp_log.py fields LINE | count KEY LINE')
    except ValueError as e:
        print('FAIL %s' % e)
        sys.exit(1)


main()
