#!/usr/bin/env bats
# sub:<code>: etc/boards.cfg, the resolver's board channel through smtpd's
# RCPT, libexec/deliver-board posting into JAM bases, bin/bbsmail-board,
# and Debian's jamnntpd as the independent JAM reader and writer.
load helper

setup() {
  make_home
  export TZ=UTC
  cat > "$HOME_DIR/etc/boards.cfg" <<'CFG'
# code      post                 max   charset base                      name
dove-deb    anyone               64K   -       spool/boards/dove-deb     DOVE-Net Debates
sysops      sysop@localhost      -     -       spool/boards/sysops       Sysop Corner
members     auth                 -     -       spool/boards/members      Members Only
CFG
  printf 'cnnreport sub:dove-deb\n' > "$HOME_DIR/etc/alias.cfg"
}

# rcpt_codes PATH...: the reply line to "RCPT TO:<PATH>" for each, one a
# line, sent as they are (smtplib would rewrite "sub:x@y" as an RFC 5322
# group).  An SMTP local part with ':' is quoted: <"sub:code"@host>.
rcpt_codes() {
  python3 - "$SMTP_PORT" "$@" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
f = s.makefile('rb')
def reply():
    while True:
        line = f.readline().decode()
        if line[3:4] != '-':
            return line.rstrip('\r\n')
reply()
sender = __import__('os').environ.get('RCPT_SENDER', 'outsider@far.example')
mail_params = __import__('os').environ.get('MAIL_PARAMS', '')
for cmd in ['EHLO client.example', 'MAIL FROM:<%s>%s' % (sender, mail_params)]:
    s.sendall((cmd + '\r\n').encode()); reply()
for a in sys.argv[2:]:
    s.sendall(('RCPT TO:<%s>\r\n' % a).encode())
    print(reply())
s.sendall(b'QUIT\r\n'); reply()
PY
}

# send_to RCPT FILE: one message through smtpd; prints the DATA reply code.
send_to() {
  python3 - "$SMTP_PORT" "$1" "$2" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('client.example')
data = open(sys.argv[3], 'rb').read()
s.sendmail('rob@far.example', [sys.argv[2]], data)
print(250)
s.quit()
PY
}

@test "deliver-board: smtpd gives the resolver the session's sender: a listed address may post at RCPT" {
  start_smtpd
  RCPT_SENDER=sysop@localhost run rcpt_codes '"sub:sysops"@localhost' '"sub:members"@localhost'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "250 2.1.5 Ok" ]
  [ "${lines[1]}" = "550 5.1.1 sub:members: sub-board closed to this sender" ]
}

@test "deliver-board: RCPT to sub:<code>: open 250, unknown 550 5.1.1, closed 550 5.1.1, malformed 5xx" {
  start_smtpd
  run rcpt_codes '"sub:dove-deb"@localhost' '"sub:nosuch"@localhost' '"sub:sysops"@localhost' \
    '"sub:members"@localhost' '"sub:"@localhost' '"sub:../x"@localhost' 'cnnreport@localhost' \
    'sub:dove-deb@localhost'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "250 2.1.5 Ok" ]
  [ "${lines[1]}" = "550 5.1.1 sub:nosuch: no such sub-board" ]
  [ "${lines[2]}" = "550 5.1.1 sub:sysops: sub-board closed to this sender" ]
  [ "${lines[3]}" = "550 5.1.1 sub:members: sub-board closed to this sender" ]
  [ "${lines[4]}" = "550 5.1.3 sub:: malformed sub-board code" ]
  [ "${lines[5]}" = "550 5.1.3 sub:../x: malformed sub-board code" ]
  [ "${lines[6]}" = "250 2.1.5 Ok" ]
  # Unquoted, ':' is not allowed in an SMTP local part (RFC 5321 4.1.2).
  [ "${lines[7]}" = "501 5.1.3 malformed address" ]
}

@test "deliver-board: MAIL FROM SIZE= above a board's max-size: RCPT 552 5.3.4 for that board only" {
  start_smtpd
  # dove-deb takes at most 64K = 65536 bytes; sysops has no limit of its own.
  MAIL_PARAMS=' SIZE=65537' RCPT_SENDER=sysop@localhost run rcpt_codes '"sub:dove-deb"@localhost' \
    'cnnreport@localhost' '"sub:sysops"@localhost'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "552 5.3.4 sub:dove-deb: message too big for this sub-board" ]
  [ "${lines[1]}" = "552 5.3.4 sub:dove-deb: message too big for this sub-board" ]
  [ "${lines[2]}" = "250 2.1.5 Ok" ]
  MAIL_PARAMS=' SIZE=65536' run rcpt_codes '"sub:dove-deb"@localhost'
  [ "${lines[0]}" = "250 2.1.5 Ok" ]
}

@test "deliver-board: a bad boards.cfg line makes sub: a temporary failure, not a bounce" {
  printf 'bad/code anyone - - spool/boards/x X\n' >> "$HOME_DIR/etc/boards.cfg"
  start_smtpd
  run rcpt_codes '"sub:dove-deb"@localhost'
  [ "${lines[0]}" = "451 4.3.0 Temporary failure resolving the recipient" ]
  run bbsmail-board list
  [ "$status" -eq 111 ]
  [[ "$output" == *"boards.cfg:5: bad board code"* ]]
}

write_mime() {
  printf '%s\r\n' \
    'From: =?ISO-8859-1?Q?Rob_Sw=EFndell?= <rob@far.example>' \
    'To: cnnreport@localhost' \
    'Subject: =?UTF-8?B?V2Vla2x5?= =?UTF-8?Q?_r=C3=A9port?=' \
    'Date: Tue, 01 Dec 2026 10:20:30 +0100' \
    'Message-ID: <report.1@far.example>' \
    'MIME-Version: 1.0' \
    'Content-Type: multipart/mixed; boundary="b1"' \
    '' \
    '--b1' \
    'Content-Type: text/plain; charset=utf-8' \
    'Content-Transfer-Encoding: quoted-printable' \
    '' \
    'Caf=C3=A9 news =E2=82=AC5' \
    'second line' \
    '--b1' \
    'Content-Type: application/pdf; name="r.pdf"' \
    'Content-Transfer-Encoding: base64' \
    '' \
    'JVBERi0=' \
    '--b1--' > "$1"
}

@test "deliver-board: an aliased post is in the JAM base, read back by bbsmail-board" {
  start_smtpd
  write_mime "$BATS_TEST_TMPDIR/m1"
  run send_to cnnreport@localhost "$BATS_TEST_TMPDIR/m1"
  [ "$output" = 250 ]
  run run_stages
  [ "$status" -eq 0 ]
  [ -f "$HOME_DIR/spool/boards/dove-deb.jhr" ]
  run bbsmail-board list
  [ "${lines[0]}" = "dove-deb 1 spool/boards/dove-deb DOVE-Net Debates" ]
  [ "${lines[1]}" = "sysops 0 spool/boards/sysops Sysop Corner" ]
  # RFC 2047 words decoded, then in CP437: ï is 0x8b, é 0x82; the euro
  # sign has no place and becomes '?'.
  run bbsmail-board read dove-deb
  [ "$output" = "$(printf '1 Rob Sw\x8bndell Weekly r\x82port')" ]
  run bbsmail-board read dove-deb 1
  [ "$status" -eq 0 ]
  expected="$(printf 'Number: 1\nFrom: Rob Sw\x8bndell <rob@far.example>\nTo: All\nSubject: Weekly r\x82port\nDate: Tue, 01 Dec 2026 09:20:30\nMessage-ID: report.1@far.example\n\nCaf\x82 news ?5\nsecond line\n[attachment dropped: application/pdf; name="r.pdf" r.pdf]')"
  [ "$output" = "$expected" ]
  # The text in .jdt has CR line ends.
  run od -An -c "$HOME_DIR/spool/boards/dove-deb.jdt"
  [[ "$output" == *'l   i   n   e  \r'* ]]
  run bbsmail-board read dove-deb 2
  [ "$status" -eq 100 ]
}

# post_many N: N messages "post <i>" to dove-deb through smtpd, routed.
post_many() {
  start_smtpd
  python3 - "$SMTP_PORT" "$1" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
for i in range(1, int(sys.argv[2]) + 1):
    msg = ('From: Rob <rob@far.example>\r\nSubject: post %d\r\n'
           'Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nbody %d\r\n' % (i, i))
    s.sendmail('rob@far.example', ['cnnreport@localhost'], msg)
s.quit()
PY
  "$LIBEXEC/route"
  [ "$(ls "$HOME_DIR/spool/queue/board" | wc -l)" -eq "$1" ]
}

# check_posted_once N: subjects "post 1".."post N" each exactly once, the
# base header counting N, nothing left in the queue or quarantined.
check_posted_once() {
  run bbsmail-board read dove-deb
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | sed 's/^[0-9]* Rob //' | sort -V)" = "$(seq -f 'post %g' 1 "$1")" ]
  run bbsmail-board list
  [ "${lines[0]}" = "dove-deb $1 spool/boards/dove-deb DOVE-Net Debates" ]
  [ "$(ls "$HOME_DIR/spool/queue/board" | wc -l)" -eq 0 ]
  [ "$(ls "$HOME_DIR/spool/bad" 2>/dev/null | wc -l)" -eq 0 ]
}

# kill_at_fdatasync N: deliver-board killed on entry to its Nth
# fdatasync; per post they are 1 text, 2 header, 3 index, 4 base header.
kill_at_fdatasync() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null -e trace=fdatasync -e inject=fdatasync:signal=KILL:when="$1" \
    "$LIBEXEC/deliver-board" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}

@test "deliver-board: states J1-J4: killed after each write, the rerun posts once" {
  for n in 1 2 3 4; do
    rm -rf "$HOME_DIR/spool/boards"
    post_many 1
    kill_at_fdatasync "$n"
    run "$LIBEXEC/deliver-board"
    [ "$status" -eq 0 ]
    if [ "$n" -ge 3 ]; then
      [[ "$output" == *"result=already-posted"*"board=dove-deb number=1"* ]]
    else
      [[ "$output" == *"result=posted"*"board=dove-deb number=1"* ]]
    fi
    check_posted_once 1
    kill_tracked
  done
}

@test "deliver-board: SIGKILL at random points, 30 messages posted exactly once" {
  post_many 30
  local i kills=0 call n status
  # A batch of posts costs four fdatasyncs, the driver's fsync and a rename
  # per retired job: each run is killed on entry to a random one of them
  # (a run whose point does not come finishes the queue).
  local calls=(fdatasync fdatasync fsync rename rename)
  for ((i = 0; i < 12; i++)); do
    [ "$(ls "$HOME_DIR/spool/queue/board" | wc -l)" -eq 0 ] && break
    call="${calls[RANDOM % ${#calls[@]}]}"
    case "$call" in fdatasync) n=$((RANDOM % 4 + 1)) ;; fsync) n=1 ;; rename) n=$((RANDOM % 30 + 1)) ;; esac
    status=0
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
      timeout 20 strace -f -qq -o /dev/null -e trace="$call" -e inject="$call":signal=KILL:when="$n" \
      "$LIBEXEC/deliver-board" 2>/dev/null || status=$?
    [ "$status" -eq 137 ] && kills=$((kills + 1))
    echo "run $i: $call #$n: status $status" >&3
  done
  [ "$kills" -ge 1 ]
  run "$LIBEXEC/deliver-board"
  [ "$status" -eq 0 ]
  check_posted_once 30
}

# start_jamnntpd: Debian's jamnntpd serving dove-deb as dove.deb on a free
# loopback port ($NNTP_PORT), reading and posting allowed from 127.0.0.1.
start_jamnntpd() {
  local d="$BATS_TEST_TMPDIR/jamnntpd"
  mkdir -p "$d"
  echo "dove.deb A 1:2/3 $HOME_DIR/spool/boards/dove-deb" > "$d/groups"
  echo "127.0.0.1 A A" > "$d/allow"
  : > "$d/users"
  NNTP_PORT="$(free_port)"
  (cd "$d" && exec jamnntpd -p "$NNTP_PORT" -g groups -a allow -u users -x /etc/jamnntpd.xlat \
    -l log -noecholog -def_showto off -def_flowed off >out 2>&1) &
  track_pid $!
  wait_port "$NNTP_PORT"
}

# nntp COMMAND...: one session; a command starting with '+' has a
# multi-line answer.  Prints every reply line.
nntp() {
  python3 - "$NNTP_PORT" "$@" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
f = s.makefile('rb')
def line():
    l = f.readline()
    if not l:
        raise SystemExit('eof')
    return l.decode('latin-1').rstrip('\r\n')   # printed as UTF-8
def reply(multi):
    print(line())
    while multi:
        l = line()
        if l == '.':
            break
        print(l)
reply(False)
for c in sys.argv[2:]:
    multi = c.startswith('+')
    s.sendall((c.lstrip('+') + '\r\n').encode())
    reply(multi)
PY
}

# Debian's jamnntpd 1.3 on amd64 counts the index in 16-byte units (its
# structure with 8-byte longs), so it shows the first half of a base's
# messages: our message goes first, then a filler.
@test "deliver-board: jamnntpd serves our post with exactly our From, Subject, date and body" {
  start_smtpd
  printf '%s\r\n' 'From: "Rob Swindell" <rob@far.example>' 'Subject: Weekly report' \
    'Date: Tue, 01 Dec 2026 10:20:30 +0100' 'Message-ID: <report.1@far.example>' \
    'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: quoted-printable' '' \
    'Caf=C3=A9 news' 'second line' > "$BATS_TEST_TMPDIR/m1"
  printf 'From: x@far.example\r\nSubject: filler\r\n\r\nf\r\n' > "$BATS_TEST_TMPDIR/m2"
  # One at a time: a pass takes its directory's order.
  send_to '"sub:dove-deb"@localhost' "$BATS_TEST_TMPDIR/m1"
  run run_stages
  [ "$status" -eq 0 ]
  send_to '"sub:dove-deb"@localhost' "$BATS_TEST_TMPDIR/m2"
  run run_stages
  [ "$status" -eq 0 ]
  start_jamnntpd
  run nntp 'GROUP dove.deb' '+ARTICLE 1' QUIT
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "211 1 1 1 dove.deb Group selected" ]
  [[ "${lines[2]}" == "220 1 "* ]]
  printf '%s\n' "${lines[@]}" | grep -qx 'From: Rob Swindell <rob@far.example>'
  printf '%s\n' "${lines[@]}" | grep -qx 'Subject: Weekly report'
  printf '%s\n' "${lines[@]}" | grep -qx 'Date: Tue, 1 Dec 2026 09:20:30 +0000'
  printf '%s\n' "${lines[@]}" | grep -qx 'X-JAM-MSGID: report.1@far.example'
  # The body after the empty line: CP437 0x82 came back as é (ISO 8859-1
  # 0xe9, as jamnntpd labels it).
  printf '%s\n' "${lines[@]}" | grep -q '^Content-Type: text/plain; charset=iso-8859-1'
  body="$(printf '%s\n' "$output" | sed '1,/^$/d' | sed '$d')"
  [ "$body" = "$(printf 'Caf\xc3\xa9 news\nsecond line')" ]
}

@test "deliver-board: an article posted through jamnntpd is listed by bbsmail-board" {
  start_smtpd
  printf 'From: Rob <rob@far.example>\r\nSubject: first\r\n\r\none\r\n' > "$BATS_TEST_TMPDIR/m1"
  send_to '"sub:dove-deb"@localhost' "$BATS_TEST_TMPDIR/m1"
  run run_stages
  start_jamnntpd
  run python3 - "$NNTP_PORT" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
f = s.makefile('rb')
r = lambda: f.readline().decode().rstrip('\r\n')
print(r())
s.sendall(b'POST\r\n'); print(r())
s.sendall(b'From: Carol <carol@news.example>\r\nNewsgroups: dove.deb\r\nSubject: from nntp\r\n\r\n'
          b'posted via jamnntpd\r\n.\r\n'); print(r())
s.sendall(b'QUIT\r\n'); print(r())
PY
  [ "${lines[2]}" = "240 Article posted" ]
  run bbsmail-board read dove-deb
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '1 Rob first\n2 Carol from nntp')" ]
  run bbsmail-board read dove-deb 2
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "From: Carol <carol@news.example>" ]
  [ "${lines[3]}" = "Subject: from nntp" ]
  printf '%s\n' "$output" | grep -qx 'posted via jamnntpd'
  run bbsmail-board list
  [ "${lines[0]}" = "dove-deb 2 spool/boards/dove-deb DOVE-Net Debates" ]
  # Both index records carry the same ToCRC for "All": our CRC is the JAM
  # library's (lower-cased, no final XOR), 0xc4e78e22.
  run od -An -tx4 -w8 "$HOME_DIR/spool/boards/dove-deb.jdx"
  [ "$(printf '%s\n' "$output" | awk '{print $1}' | sort -u)" = "c4e78e22" ]
  [ "${#lines[@]}" -eq 2 ]
  # And our next post after theirs is read back too (their SubfieldLen
  # overstates the subfields; the reader stops at the next header).
  send_to '"sub:dove-deb"@localhost' "$BATS_TEST_TMPDIR/m1"
  run run_stages
  run bbsmail-board read dove-deb
  [ "$output" = "$(printf '1 Rob first\n2 Carol from nntp\n3 Rob first')" ]
}

@test "deliver-board: boards.cfg lines are checked strictly, each bad one named" {
  local base="$HOME_DIR/etc/boards.cfg.good"
  cp "$HOME_DIR/etc/boards.cfg" "$base"
  check_bad() {
    { cat "$base"; printf '%s\n' "$1"; } > "$HOME_DIR/etc/boards.cfg"
    run bbsmail-board list
    [ "$status" -eq 111 ]
    [ "$output" = "bbsmail-board: fatal: $HOME_DIR/etc/boards.cfg:5: $2" ]
  }
  check_bad 'x/y anyone - - spool/boards/x X' "bad board code (letters, digits, '-', '_', '.', at most 24)"
  check_bad '.hidden anyone - - spool/boards/x X' "bad board code (letters, digits, '-', '_', '.', at most 24)"
  check_bad "$(printf 'a%.0s' $(seq 1 25)) anyone - - spool/boards/x X" "bad board code (letters, digits, '-', '_', '.', at most 24)"
  check_bad 'ok anyone - - ../outside X' "bad base path (relative to the home, no '.' or '..' parts)"
  check_bad 'ok anyone - - /etc/passwd X' "bad base path (relative to the home, no '.' or '..' parts)"
  check_bad 'ok anyone - - spool//x X' "bad base path (relative to the home, no '.' or '..' parts)"
  check_bad 'ok nobody - - spool/boards/x X' "a poster must be anyone, local, auth or a list of addresses"
  check_bad 'ok anyone 12Q - spool/boards/x X' "bad max-size"
  check_bad 'ok anyone - CP437/x spool/boards/x X' "bad charset name"
  check_bad 'ok anyone - - spool/boards/x' "expected: code post max-size charset base name"
  check_bad 'DOVE-DEB anyone - - spool/boards/x X' "duplicate board code"
  # A code of exactly 24 is fine.
  { cat "$base"; echo "$(printf 'a%.0s' $(seq 1 24)) anyone - - spool/boards/x X"; } > "$HOME_DIR/etc/boards.cfg"
  run bbsmail-board list
  [ "$status" -eq 0 ]
  [ "${lines[3]}" = "$(printf 'a%.0s' $(seq 1 24)) 0 spool/boards/x X" ]
}

@test "deliver-board: posting rules with the envelope sender: a listed address, local users" {
  # sendmail and route give the resolver the envelope sender (smtpd does
  # not yet: boards.cfg(5) BUGS).
  echo 'locals local - - spool/boards/locals Locals' >> "$HOME_DIR/etc/boards.cfg"
  printf 'Subject: one\n\nx\n' | sendmail -f sysop@localhost '"sub:sysops"@localhost'
  printf 'Subject: two\n\nx\n' | sendmail -f demo@localhost '"sub:locals"@localhost'
  run sendmail -f someone@far.example '"sub:sysops"@localhost' <<< 'x'
  [ "$status" -eq 67 ]
  [ "$output" = 'sendmail: error: "sub:sysops"@localhost: 550 5.1.1 sub:sysops: sub-board closed to this sender' ]
  run sendmail -f nobody@localhost '"sub:locals"@localhost' <<< 'x'
  [ "$status" -eq 67 ]
  [ "$output" = 'sendmail: error: "sub:locals"@localhost: 550 5.1.1 sub:locals: sub-board closed to this sender' ]
  run run_stages
  [ "$status" -eq 0 ]
  run bbsmail-board read sysops
  [ "$output" = "1 sysop@localhost one" ]
  run bbsmail-board read locals
  [ "$output" = "1 demo@localhost two" ]
}

@test "deliver-board: waits while another writer holds the JAM lock (first byte of .jhr)" {
  post_many 1
  "$LIBEXEC/deliver-board"
  check_posted_once 1
  post_many 1
  # Another writer (here python) holds the lock; deliver-board must wait.
  python3 - "$HOME_DIR/spool/boards/dove-deb.jhr" "$BATS_TEST_TMPDIR/locked" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)
open(sys.argv[2], 'w').close()
time.sleep(2)
PY
  track_pid $!
  for i in $(seq 1 100); do [ -e "$BATS_TEST_TMPDIR/locked" ] && break; sleep 0.05; done
  [ -e "$BATS_TEST_TMPDIR/locked" ]
  "$LIBEXEC/deliver-board" 2>/dev/null &
  local pid=$!
  sleep 0.5
  # Still waiting: nothing new in the index.
  [ "$(stat -c %s "$HOME_DIR/spool/boards/dove-deb.jdx")" -eq 8 ]
  kill -0 "$pid"
  wait "$pid"
  [ "$(stat -c %s "$HOME_DIR/spool/boards/dove-deb.jdx")" -eq 16 ]
}

@test "deliver-board: multipart/alternative gives its text/plain alone, base64 decoded, later inline text kept" {
  printf '%s\n' 'From: Rob <rob@far.example>' 'Subject: alt' 'MIME-Version: 1.0' \
    'Content-Type: multipart/mixed; boundary=outer' '' 'preamble' '--outer' \
    'Content-Type: multipart/alternative; boundary="inner"' '' '--inner' \
    'Content-Type: text/plain; charset=iso-8859-1' 'Content-Transfer-Encoding: base64' '' \
    "$(printf 'Gr\xfc\xdfe\nzweite Zeile\n' | base64)" '--inner' \
    'Content-Type: text/html' '' '<p>Gr&uuml;&szlig;e</p>' '--inner--' '--outer' \
    'Content-Type: text/plain' '' '-- ' 'footer' '--outer' \
    'Content-Type: image/png' 'Content-Disposition: attachment; filename="a.png"' \
    'Content-Transfer-Encoding: base64' '' 'iVBORw0K' '--outer--' 'epilogue' \
    | sendmail -f rob@far.example '"sub:dove-deb"@localhost'
  run run_stages
  [ "$status" -eq 0 ]
  run bbsmail-board read dove-deb 1
  [ "$status" -eq 0 ]
  # CP437: ü 0x81, ß 0xe1.
  body="$(printf '%s\n' "$output" | sed '1,/^$/d')"
  [ "$body" = "$(printf 'Gr\x81\xe1e\nzweite Zeile\n-- \nfooter\n[attachment dropped: image/png a.png]')" ]
}
