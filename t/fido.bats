#!/usr/bin/env bats
# FidoNet netmail: etc/fidonet.cfg, the resolver's .fidonet addresses,
# libexec/deliver-fido writing packets into the BSO outbound (read back by
# t/lib/ftn_read.py, an independent reader, and by crashmail), bin/fido-toss
# importing packets written by crashwrite, and two binkd on loopback ports
# carrying the outbound from one system to the other.
load helper
load lib/smtp
load lib/stages

setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY | NO_SENDMAIL"
  export TZ=UTC
  cat > "$HOME_DIR/etc/fidonet.cfg" <<'CFG'
# our addresses: the first is the primary
address 2:250/1
address 2:250/1.7
uplink 2:250/0 SeCrEt normal
uplink 3:633/10 - crash
CFG
  OUT="$HOME_DIR/spool/fido/outbound"
}

resolve() { "$BBSMAIL_ROOT/build/t/resolve-test" "$@"; }
pkt() { python3 "$BBSMAIL_ROOT/t/lib/ftn_read.py" "$1"; }
# subjects FILE: the sorted subjects of a packet's messages.
subjects() { pkt "$1" | sed -n 's/^msg[0-9]*\.subject=//p' | sort -V; }
# netmail SEQ RCPT [sendmail args]: one message from demo through sendmail.
netmail() {
  printf 'From: Demo User <demo@localhost>\nTo: %s\nDate: Tue, 01 Dec 2026 12:00:00 +0000\nMessage-ID: <seq-%s@localhost>\nSubject: netmail %s\n\nbody of netmail %s\nsecond line\n' \
    "$2" "$1" "$1" "$1" | "$BBSMAIL_ROOT/bin/sendmail" -f demo@localhost "$2" 2>/dev/null
}

@test "fido resolver: without fidonet.cfg every .fidonet address is 550 5.1.2, malformed ones 553 5.1.3" {
  rm "$HOME_DIR/etc/fidonet.cfg"
  run resolve joe@f5.n250.z2.fidonet a@f1.n2.z99999.fidonet
  [ "${lines[0]}" = "joe@f5.n250.z2.fidonet -> reject 550 5.1.2 relay=0 joe@f5.n250.z2.fidonet: FidoNet netmail is not configured here" ]
  [ "${lines[1]}" = "a@f1.n2.z99999.fidonet -> reject 553 5.1.3 relay=0 a@f1.n2.z99999.fidonet: FidoNet zone out of range (1-32767)" ]
  # A fidonet.cfg without an address of ours is the same as none.
  printf 'route direct\n' > "$HOME_DIR/etc/fidonet.cfg"
  run resolve joe@f5.n250.z2.fidonet
  [ "${lines[0]}" = "joe@f5.n250.z2.fidonet -> reject 550 5.1.2 relay=0 joe@f5.n250.z2.fidonet: FidoNet netmail is not configured here" ]
}

@test "fido resolver: configured: netmail targets, our own address is local, bad numbers and names 553 5.1.3" {
  local long36 long35
  long36="$(printf 'x%.0s' {1..36})"
  long35="$(printf 'y%.0s' {1..35})"
  run resolve Joe.Bloggs@f5.n250.z2.fidonet '"Joe Bloggs"@p3.f5.n250.z2.fidonet' a@f1.n2.z99999.fidonet \
    a@f1.n2.z0.fidonet a@p70000.f1.n2.z2.fidonet a@p-1.f1.n2.z2.fidonet a@f1.n65536.z2.fidonet \
    "$long36@f1.n2.z2.fidonet" "$long35@f1.n2.z2.fidonet" demo@f1.n250.z2.fidonet demo@p7.f1.n250.z2.fidonet \
    nosuch@f1.n250.z2.fidonet a@x.fidonet "$(printf 'a\tb')@f1.n2.z2.fidonet"
  [ "${lines[0]}" = "Joe.Bloggs@f5.n250.z2.fidonet -> fido user=0 target=Joe Bloggs@2:250/5 relay=1" ]
  [ "${lines[1]}" = '"Joe Bloggs"@p3.f5.n250.z2.fidonet -> fido user=0 target=Joe Bloggs@2:250/5.3 relay=1' ]
  [ "${lines[2]}" = "a@f1.n2.z99999.fidonet -> reject 553 5.1.3 relay=0 a@f1.n2.z99999.fidonet: FidoNet zone out of range (1-32767)" ]
  [ "${lines[3]}" = "a@f1.n2.z0.fidonet -> reject 553 5.1.3 relay=0 a@f1.n2.z0.fidonet: FidoNet zone out of range (1-32767)" ]
  [ "${lines[4]}" = "a@p70000.f1.n2.z2.fidonet -> reject 553 5.1.3 relay=0 a@p70000.f1.n2.z2.fidonet: FidoNet point, node or net out of range (0-65535)" ]
  [ "${lines[5]}" = "a@p-1.f1.n2.z2.fidonet -> reject 553 5.1.3 relay=0 a@p-1.f1.n2.z2.fidonet: malformed FidoNet address" ]
  [ "${lines[6]}" = "a@f1.n65536.z2.fidonet -> reject 553 5.1.3 relay=0 a@f1.n65536.z2.fidonet: FidoNet point, node or net out of range (0-65535)" ]
  [ "${lines[7]}" = "$long36@f1.n2.z2.fidonet -> reject 553 5.1.3 relay=0 $long36@f1.n2.z2.fidonet: FidoNet user name longer than 35 characters" ]
  [ "${lines[8]}" = "$long35@f1.n2.z2.fidonet -> fido user=0 target=$long35@2:2/1 relay=1" ]
  [ "${lines[9]}" = "demo@f1.n250.z2.fidonet -> local user=2 target=- relay=0" ]
  [ "${lines[10]}" = "demo@p7.f1.n250.z2.fidonet -> local user=2 target=- relay=0" ]
  [ "${lines[11]}" = "nosuch@f1.n250.z2.fidonet -> reject 550 5.1.1 relay=0 nosuch: no such user here" ]
  [ "${lines[12]}" = "a@x.fidonet -> reject 553 5.1.3 relay=0 a@x.fidonet: malformed FidoNet address" ]
  [ "${lines[13]}" = "$(printf 'a\tb')@f1.n2.z2.fidonet -> reject 553 5.1.3 relay=0 $(printf 'a\tb')@f1.n2.z2.fidonet: control character in the FidoNet user name" ]
}

@test "fido resolver: a bad fidonet.cfg line is logged with file:line and makes .fidonet a temporary failure" {
  printf 'address 2:250/1\nuplink 2:250/0 waytoolongpassword\n' > "$HOME_DIR/etc/fidonet.cfg"
  run resolve joe@f5.n250.z2.fidonet demo@localhost
  [ "${lines[0]}" = "resolve-test: warning: $HOME_DIR/etc/fidonet.cfg:2: packet password longer than 8 characters" ]
  [ "${lines[1]}" = "joe@f5.n250.z2.fidonet -> tempfail" ]
  [ "${lines[2]}" = "demo@localhost -> local user=2 target=- relay=0" ]
  local bad
  for bad in 'address 2:250' 'address 0:1/1' 'outbound ../x' 'route sideways' 'uplink 2:1/1 - fast' 'charset C\x01' 'frobnicate 1'; do
    printf "address 2:250/1\n$bad\n" > "$HOME_DIR/etc/fidonet.cfg"
    run resolve joe@f5.n250.z2.fidonet
    [[ "${lines[0]}" == "resolve-test: warning: $HOME_DIR/etc/fidonet.cfg:2: "* ]] || { echo "$bad: $output"; false; }
    [ "${lines[1]}" = "joe@f5.n250.z2.fidonet -> tempfail" ]
  done
}

@test "fido smtpd: RCPT to netmail needs relay rights; with them 250, bad addresses 553/550" {
  start_smtpd
  run swaks_to "$SMTP_PORT" --to joe@f5.n250.z2.fidonet
  [[ "$output" == *"<** 550 5.7.1 "* ]]
  run swaks_to "$SMTP_PORT" --auth CRAM-MD5 --auth-user demo --auth-password demo --to a@f1.n2.z99999.fidonet
  [[ "$output" == *"<** 553 5.1.3 a@f1.n2.z99999.fidonet: FidoNet zone out of range (1-32767)"* ]]
  run swaks_to "$SMTP_PORT" --auth CRAM-MD5 --auth-user demo --auth-password demo --to joe@f5.n250.z2.fidonet
  [[ "$output" == *"<-  250 2.1.5 Ok"* ]]
  [[ "$output" == *"<-  250 2.0.0 Ok: queued as "* ]]
}

@test "deliver-fido: swaks -> smtpd -> route -> deliver-fido: the packet's header, message, kludges and text" {
  start_smtpd
  printf 'From: "Demo User" <demo@localhost>\r\nTo: joe@f5.n250.z2.fidonet\r\nDate: Tue, 01 Dec 2026 12:34:56 +0000\r\nMessage-ID: <m1@localhost>\r\nIn-Reply-To: <2=3A250=2F5=2012345678@msgid.fidonet>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from the Internet, a subject much longer than seventy-two characters\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nH\xc3\xa9llo Joe,\r\n\x01FAKE: kludge\r\nline three\r\n' > "$BATS_TEST_TMPDIR/m"
  run swaks_to "$SMTP_PORT" --auth CRAM-MD5 --auth-user demo --auth-password demo --to Joe.Bloggs@f5.n250.z2.fidonet \
    --data "@$BATS_TEST_TMPDIR/m"
  [ "$status" -eq 0 ]
  "$LIBEXEC/route"
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=Joe.Bloggs@f5.n250.z2.fidonet channel=fido result=written delay="*" node=2:250/0 file=00fa0000.out"* ]]
  [ "$(ls "$OUT")" = "00fa0000.out" ]
  run pkt "$OUT/00fa0000.out"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" | sed -e 's/^\(msg1.kludge=MSGID: 2:250\/1\) [0-9a-f]\{8\}$/\1 SERIAL/' \
    -e 's/^\(msg1.kludge=Via 2:250\/1 @\)[0-9]\{8\}\.[0-9]\{6\}\(\.UTC bbsmail\)$/\1WHEN\2/' \
    -e 's/^packet.date=.*/packet.date=DATE/' > "$BATS_TEST_TMPDIR/got"
  # The subject is cut at 71 bytes (72 with its NUL); é and ü are CP437 0x82, 0x81, ß is 0xE1;
  # the last empty line is the one swaks adds before its dot.
  cat > "$BATS_TEST_TMPDIR/want" <<EOF
packet.type=2+
packet.orig=2:250/1.0
packet.dest=2:250/0.0
packet.zone_copies=2,2
packet.date=DATE
packet.password=SeCrEt
packet.capword=0001/0100
msg1.orig=250/1
msg1.dest=250/5
msg1.attr=0001
msg1.date=01 Dec 26  12:34:56
msg1.date_len=19
msg1.to=Joe Bloggs
msg1.from=Demo User
msg1.subject=$(printf 'Gr\x81\xe1e from the Internet, a subject much longer than seventy-two charact')
msg1.kludge=INTL 2:250/5 2:250/1
msg1.kludge=MSGID: 2:250/1 SERIAL
msg1.kludge=REPLY: 2:250/5 12345678
msg1.kludge=PID: bbsmail
msg1.kludge=TZUTC: 0000
msg1.kludge=CHRS: CP437 2
msg1.text=$(printf 'H\x82llo Joe,')
msg1.text=@FAKE: kludge
msg1.text=line three
msg1.text=
msg1.kludge=Via 2:250/1 @WHEN.UTC bbsmail
messages=1
EOF
  diff <(iconv -f latin1 -t utf-8 "$BATS_TEST_TMPDIR/want") <(cat "$BATS_TEST_TMPDIR/got")
}

@test "deliver-fido: a second netmail to the node is appended in place of the terminator; zones, points, flavours" {
  netmail 1 joe@f5.n250.z2.fidonet
  netmail 2 ann@f9.n250.z2.fidonet
  netmail 3 bob@p4.f0.n250.z2.fidonet
  netmail 4 kim@f12.n633.z3.fidonet
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 0 ]
  [ "$(ls "$OUT")" = "00fa0000.out" ]
  # Zone 3 is outbound.003; its uplink says crash: .cut.
  [ "$(ls "$OUT.003")" = "0279000a.cut" ]
  run pkt "$OUT/00fa0000.out"
  [ "$status" -eq 0 ]
  [[ "$output" == *"messages=3"* ]]
  [ "$(printf '%s\n' "$output" | grep -c '^msg[0-9].kludge=INTL ')" -eq 3 ]
  local bob
  bob="$(printf '%s\n' "$output" | sed -n 's/^\(msg[0-9]\)\.to=bob$/\1/p')"
  [ -n "$bob" ]
  [[ "$output" == *"$bob.to=bob"*"$bob.kludge=TOPT 4"* ]]
  [ "$(subjects "$OUT/00fa0000.out")" = "$(printf 'netmail 1\nnetmail 2\nnetmail 3')" ]
  run pkt "$OUT.003/0279000a.cut"
  [[ "$output" == *"packet.orig=2:250/1.0"*"packet.dest=3:633/10.0"*"packet.password="$'\n'* ]]
  [[ "$output" == *"msg1.kludge=INTL 3:633/12 2:250/1"* ]]
  # Nothing is left behind: no lock, no packet in spool/tmp, no job.
  [ "$(find "$HOME_DIR/spool" -name '*.bsy' -o -path "$HOME_DIR/spool/tmp/*" | wc -l)" -eq 0 ]
  [ "$(job_count fido)" -eq 0 ]
}

@test "deliver-fido: another program's .bsy defers the netmail (451); a stale one (dead PID) is broken" {
  netmail 1 joe@f5.n250.z2.fidonet
  "$LIBEXEC/route" 2>/dev/null
  mkdir -p "$OUT"
  sleep 600 &
  track_pid $!
  echo "$! binkd" > "$OUT/00fa0000.bsy"
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"FidoNet node 2:250/0 is busy"* ]]
  [ ! -e "$OUT/00fa0000.out" ]
  [ "$(cat "$OUT/00fa0000.bsy")" = "$! binkd" ]
  # A PID that runs no more: the lock is stale at once.
  bash -c 'exit 0' & local dead=$!
  wait "$dead" || true
  echo "$dead" > "$OUT/00fa0000.bsy"
  # Released from its deferral by hand (the backoff is minutes).
  [ "$(find "$HOME_DIR/spool/defer/fido" -type f | wc -l)" -eq 1 ]
  mv "$HOME_DIR"/spool/defer/fido/*/* "$HOME_DIR/spool/queue/fido/"
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=stale-bsy path=$OUT/00fa0000.bsy"* ]]
  [ -e "$OUT/00fa0000.out" ] || { ls -R "$HOME_DIR/spool"; false; }
  [ ! -e "$OUT/00fa0000.bsy" ]
  run pkt "$OUT/00fa0000.out"
  [[ "$output" == *"messages=1"* ]]
}

# kill_at_fsync N: deliver-fido killed on entry to its Nth fsync.  For one
# netmail: 1 the serial file, 2 the packet in spool/tmp (F1), 3 the
# intent's side file, 4 its directory after the rename (F3), 5 the outbound
# directory after the rename or the .out after the append (F4); "done"
# (F5) is not fsynced.  From 4 on the rerun finds the intent.
kill_at_fsync() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=KILL:when="$1" \
    "$LIBEXEC/deliver-fido" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}


@test "deliver-fido: states F1-F5, new .out and append: killed at each fsync, the rerun writes the netmail once" {
  local n
  for n in 1 2 3 4 5; do
    rm -rf "$OUT" "$HOME_DIR/spool/data/fido"
    netmail "new$n" joe@f5.n250.z2.fidonet
    "$LIBEXEC/route" 2>/dev/null
    kill_at_fsync "$n"
    run "$LIBEXEC/deliver-fido"
    [ "$status" -eq 0 ] || { echo "new $n: $output"; false; }
    [ "$(subjects "$OUT/00fa0000.out")" = "netmail new$n" ] || { echo "new $n"; pkt "$OUT/00fa0000.out"; false; }
    # Now an existing .out: the second netmail is appended.
    netmail "app$n" ann@f9.n250.z2.fidonet
    "$LIBEXEC/route" 2>/dev/null
    kill_at_fsync "$n"
    # Another job for the node before the rerun: whichever goes first
    # finishes the killed one's intent before it appends.
    netmail "other$n" kim@f12.n250.z2.fidonet
    "$LIBEXEC/route" 2>/dev/null
    run "$LIBEXEC/deliver-fido"
    [ "$status" -eq 0 ] || { echo "append $n: $output"; false; }
    [ "$(subjects "$OUT/00fa0000.out")" = "$(printf 'netmail app%s\nnetmail new%s\nnetmail other%s' "$n" "$n" "$n")" ] || { echo "append $n"; pkt "$OUT/00fa0000.out"; false; }
    if [ "$n" -ge 4 ]; then [[ "$output" == *"result=already-written"* ]]; fi
    pkt "$OUT/00fa0000.out" > /dev/null
    [ "$(job_count fido)" -eq 0 ]
    [ "$(find "$HOME_DIR/spool/tmp" -name 'fido-*' | wc -l)" -eq 0 ]
  done
}

@test "deliver-fido: SIGKILL at random points, 30 netmails to 3 nodes, each written exactly once" {
  local i kills=0 delay
  for ((i = 1; i <= 30; i++)); do
    netmail "$i" "u$i@f$((i % 3 + 2)).n250.z2.fidonet"
  done
  # route direct: each node gets its own packet.
  printf 'address 2:250/1\nuplink 2:250/0 SeCrEt\nroute direct\n' > "$HOME_DIR/etc/fidonet.cfg"
  "$LIBEXEC/route" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    [ "$(job_count fido)" -eq 0 ] && break
    delay="$(printf '0.%03d' $((RANDOM % 30 + 1)))"
    timeout -s KILL "$delay" "$LIBEXEC/deliver-fido" 2>/dev/null && true
    [ $? -eq 137 ] && kills=$((kills + 1))
  done
  echo "deliver-fido killed: $kills" >&3
  [ "$kills" -ge 1 ]
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 0 ]
  local got
  got="$(for f in "$OUT"/*.out; do subjects "$f"; done | sort -V)"
  [ "$got" = "$(seq -f 'netmail %g' 1 30)" ] || { echo "$got" | tr '\n' ' '; ls -l "$OUT"; find "$HOME_DIR/spool" -type f | grep -v -e trash -e /data/fido/; false; }
  # (a .bsy of the last killed run may be left: it is stale, its PID is gone)
  [ "$(cd "$OUT" && ls *.?ut | sort | tr '\n' ' ')" = "00fa0002.out 00fa0003.out 00fa0004.out " ]
  [ "$(job_count fido)" -eq 0 ]
  [ "$(bad_count)" -eq 0 ]
  # Nothing was deferred or bounced on the way.
  [ "$(find "$HOME_DIR/spool/defer" "$HOME_DIR/spool/queue/bounce" -type f 2>/dev/null | wc -l)" -eq 0 ]
}

# cw_packet NAME TONAME SUBJECT [crashwrite args...]: a netmail packet made
# by crashwrite (from Joe Bloggs at 2:250/5, through our uplink 2:250/0
# with its password) as $BATS_TEST_TMPDIR/NAME.
cw_packet() {
  local name="$1" to="$2" subject="$3" dir="$BATS_TEST_TMPDIR/cw-$1"
  shift 3
  mkdir -p "$dir"
  printf 'Hello %s,\nthis came by FidoNet: %s\n' "$to" "$subject" > "$dir/text"
  timeout 20 crashwrite DIR "$dir" FROMNAME "Joe Bloggs" FROMADDR 2:250/5 TONAME "$to" TOADDR 2:250/1 \
    SUBJECT "$subject" TEXT "$dir/text" PKTFROMADDR 2:250/0 PASSWORD SeCrEt "$@" > /dev/null
  # crashwrite's MSGID serial counts seconds: two packets made within one
  # would share it, so each gets a serial of its own (same length).
  python3 - "$dir"/*.pkt "$BATS_TEST_TMPDIR/$name" <<'PY'
import os, re, sys
d = open(sys.argv[1], 'rb').read()
d = re.sub(rb'(\x01MSGID: [^ \r]+ )[0-9a-f]{8}', lambda m: m.group(1) + os.urandom(4).hex().encode(), d)
open(sys.argv[2], 'wb').write(d)
PY
  rm -rf "$dir"
}
# join_packets OUT IN...: one packet with the messages of all (the first's header).
join_packets() {
  python3 - "$@" <<'PY'
import sys
out, ins = sys.argv[1], sys.argv[2:]
data = [open(p, 'rb').read() for p in ins]
assert all(d[-2:] == b'\0\0' for d in data)
open(out, 'wb').write(data[0][:58] + b''.join(d[58:-2] for d in data) + b'\0\0')
PY
}
INBOUND() { echo "$HOME_DIR/spool/fido/inbound"; }
toss() { "$BBSMAIL_ROOT/bin/fido-toss" "$@"; }

@test "fido-toss: a crashwrite netmail reaches the user's Maildir with gateway From/To, Subject, Message-ID, text" {
  cw_packet a.pkt demo "hi from fido"
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/a.pkt" "$(INBOUND)/0000abcd.pkt"
  run toss
  [ "$status" -eq 0 ]
  [[ "$output" == *"fido-toss: info: id="*" event=import packet=0000abcd.pkt from=<Joe.Bloggs@f5.n250.z2.fidonet> rcpt=<demo@f1.n250.z2.fidonet> size="* ]]
  [[ "$output" == *"fido-toss: info: event=tossed packet=0000abcd.pkt messages=1"* ]]
  [ ! -e "$(INBOUND)/0000abcd.pkt" ]
  [ "$(ls "$HOME_DIR/spool/data/fido/toss" | wc -l)" -eq 0 ]
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  local f msgid
  f="$(mailbox_files 2)"
  msgid="$(pkt "$BATS_TEST_TMPDIR/a.pkt" | sed -n 's/^msg1.kludge=MSGID: //p')"
  grep -qx 'From: "Joe Bloggs" <Joe.Bloggs@f5.n250.z2.fidonet>' "$f"
  grep -qx 'To: "demo" <demo@f1.n250.z2.fidonet>' "$f"
  grep -qx 'Subject: hi from fido' "$f"
  grep -qx "X-FTN-MSGID: $msgid" "$f"
  grep -qx "Message-ID: <$(printf '%s' "$msgid" | python3 -c 'import sys,re; print(re.sub(r"[^A-Za-z0-9-]", lambda m: "=%02X" % ord(m.group()), sys.stdin.read()))')@msgid.fidonet>" "$f"
  grep -qx 'Content-Type: text/plain; charset=UTF-8' "$f"
  [ "$(sed '1,/^$/d' "$f")" = "$(printf 'Hello demo,\nthis came by FidoNet: hi from fido')" ]
}

@test "fido-toss: CP437 text and subject become UTF-8; a reply from the user goes back as netmail with REPLY" {
  cw_packet a.pkt demo "$(printf 'gr\x81\xe1e')"
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/a.pkt" "$(INBOUND)/0000abcd.pkt"
  toss 2>/dev/null
  run_stages 2>/dev/null
  local f id msgid
  f="$(mailbox_files 2)"
  grep -qx "Subject: =?UTF-8?B?$(printf 'grüße' | base64)?=" "$f"
  [ "$(sed '1,/^$/d' "$f" | tail -n 1)" = "this came by FidoNet: grüße" ]
  # The user answers from a mail client: to the From address, In-Reply-To the Message-ID.
  id="$(sed -n 's/^Message-ID: //p' "$f")"
  msgid="$(pkt "$BATS_TEST_TMPDIR/a.pkt" | sed -n 's/^msg1.kludge=MSGID: //p')"
  printf 'From: demo <demo@localhost>\nTo: "Joe Bloggs" <Joe.Bloggs@f5.n250.z2.fidonet>\nSubject: Re: greetings\nIn-Reply-To: %s\n\nThanks Joe!\n' "$id" \
    | "$BBSMAIL_ROOT/bin/sendmail" -f demo@localhost -t 2>/dev/null
  run_stages 2>/dev/null
  run pkt "$OUT/00fa0000.out"
  [ "$status" -eq 0 ]
  [[ "$output" == *"msg1.dest=250/5"*"msg1.to=Joe Bloggs"*"msg1.from=demo"*"msg1.subject=Re: greetings"* ]]
  [[ "$output" == *"msg1.kludge=REPLY: $msgid"$'\n'* ]]
  [[ "$output" == *"msg1.text=Thanks Joe!"* ]]
}

@test "fido-toss: bad packets (password, not for us, bad header, truncated) go to bad/ with a log line; the good one is imported" {
  cw_packet good.pkt demo "good one"
  cw_packet pw.pkt demo "wrong password" PASSWORD WRONG
  cw_packet other.pkt demo "not for us" PKTTOADDR 2:250/99
  cw_packet trunc.pkt demo "truncated"
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/good.pkt" "$(INBOUND)/00000005.pkt"
  cp "$BATS_TEST_TMPDIR/pw.pkt" "$(INBOUND)/00000001.pkt"
  cp "$BATS_TEST_TMPDIR/other.pkt" "$(INBOUND)/00000002.pkt"
  head -c 57 "$BATS_TEST_TMPDIR/good.pkt" > "$(INBOUND)/00000003.pkt"
  head -c -3 "$BATS_TEST_TMPDIR/trunc.pkt" > "$(INBOUND)/00000004.pkt"
  printf 'not a packet at all, but long enough to have a header of fifty-eight bytes' > "$(INBOUND)/00000006.PKT"
  run toss
  [ "$status" -eq 0 ]
  [[ "$output" == *"fido-toss: warning: event=bad-packet packet=00000001.pkt reason=\"wrong packet password\" moved=$(INBOUND)/bad/00000001.pkt"* ]]
  [[ "$output" == *"fido-toss: warning: event=bad-packet packet=00000002.pkt reason=\"packet not addressed to us\" moved="* ]]
  [[ "$output" == *"fido-toss: warning: event=bad-packet packet=00000003.pkt reason=\"bad packet header\" moved="* ]]
  [[ "$output" == *"fido-toss: warning: event=bad-packet packet=00000004.pkt reason=\"truncated or malformed message\" moved="* ]]
  [[ "$output" == *"fido-toss: warning: event=bad-packet packet=00000006.PKT reason=\"bad packet header\" moved="* ]]
  [[ "$output" == *"event=tossed packet=00000005.pkt messages=1"* ]]
  [ "$(ls "$(INBOUND)/bad" | tr '\n' ' ')" = "00000001.pkt 00000002.pkt 00000003.pkt 00000004.pkt 00000006.PKT " ]
  [ "$(ls "$(INBOUND)" | tr '\n' ' ')" = "bad " ]
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -qx 'Subject: good one' "$(mailbox_files 2)"
}

@test "fido-toss: the same netmail twice (a packet sent again) is imported once; unknown users are skipped and logged" {
  cw_packet a.pkt demo "only once"
  cw_packet b.pkt nobody "to nobody"
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/a.pkt" "$(INBOUND)/00000001.pkt"
  cp "$BATS_TEST_TMPDIR/b.pkt" "$(INBOUND)/00000002.pkt"
  toss 2>/dev/null
  cp "$BATS_TEST_TMPDIR/a.pkt" "$(INBOUND)/00000003.pkt"
  run toss
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=skip packet=00000003.pkt message=1 reason=duplicate msgid=\"2:250/5.0 "* ]]
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(ls "$(INBOUND)")" = "" ]
}

# toss_kill_at_fsync N: fido-toss killed on entry to its Nth fsync.  Per
# message: 1 the mail in spool/tmp (T1), 2-3 the progress naming it (T2),
# 4 the MSGID in dupes, 5 spool/incoming after the rename (T3), 6-7 the
# progress counting it (T4); after the last, the inbound directory.
toss_kill_at_fsync() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=KILL:when="$1" \
    "$BBSMAIL_ROOT/bin/fido-toss" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}
# incoming_subjects: the Subject of every mail in spool/incoming, sorted.
incoming_subjects() { cat "$HOME_DIR"/spool/incoming/* 2>/dev/null | tr -d '\0' | sed -n 's/^Subject: //p' | sort; }

@test "fido-toss: states T1-T4: killed at each fsync of a 2-message packet, the rerun imports each once" {
  cw_packet a.pkt demo "first"
  cw_packet b.pkt demo "second"
  join_packets "$BATS_TEST_TMPDIR/ab.pkt" "$BATS_TEST_TMPDIR/a.pkt" "$BATS_TEST_TMPDIR/b.pkt"
  local n
  for n in $(seq 1 15); do
    rm -rf "$HOME_DIR/spool/data/fido" "$(INBOUND)"
    find "$HOME_DIR/spool/incoming" -type f -delete
    mkdir -p "$(INBOUND)"
    cp "$BATS_TEST_TMPDIR/ab.pkt" "$(INBOUND)/00000001.pkt"
    toss_kill_at_fsync "$n"
    run toss
    [ "$status" -eq 0 ] || { echo "$n: $output"; false; }
    [ "$(incoming_subjects | tr '\n' ' ')" = "first second " ] || { echo "$n: $(incoming_subjects)"; false; }
    [ ! -e "$(INBOUND)/00000001.pkt" ]
  done
}

@test "fido-toss: SIGKILL at random points over 20 packets: each netmail imported exactly once" {
  local i kills=0 delay
  mkdir -p "$(INBOUND)"
  for ((i = 1; i <= 20; i++)); do
    cw_packet "p$i.pkt" demo "netmail $i"
    cp "$BATS_TEST_TMPDIR/p$i.pkt" "$(INBOUND)/$(printf '%08x' "$i").pkt"
  done
  for ((i = 0; i < 100; i++)); do
    [ -z "$(ls "$(INBOUND)" | grep pkt)" ] && break
    delay="$(printf '0.%03d' $((RANDOM % 30 + 1)))"
    timeout -s KILL "$delay" "$BBSMAIL_ROOT/bin/fido-toss" 2>/dev/null && true
    [ $? -eq 137 ] && kills=$((kills + 1))
  done
  echo "fido-toss killed: $kills" >&3
  [ "$kills" -ge 1 ]
  run toss
  [ "$status" -eq 0 ]
  [ "$(incoming_subjects)" = "$(seq -f 'netmail %g' 1 20 | sort)" ]
  [ ! -e "$(INBOUND)/bad" ]
}

# crashmail_prefs DIR: a crashmail configuration for the uplink 2:250/0
# under DIR: our node 2:250/1 with the packet password, netmail into a
# *.MSG area (its JAM writer is not trusted here), bad mail into another.
crashmail_prefs() {
  local d="$1"
  mkdir -p "$d/inb" "$d/outb" "$d/tmp" "$d/netmail" "$d/bad"
  cat > "$d/crashmail.prefs" <<PREFS
SYSOP "Uplink Sysop"
LOGFILE "$d/crashmail.log"
LOGLEVEL 6
DUPEFILE "$d/dupes" 200
DUPEMODE BAD
DEFAULTZONE 2
INBOUND "$d/inb"
OUTBOUND "$d/outb"
TEMPDIR "$d/tmp"
CREATEPKTDIR "$d/tmp"
PACKETDIR "$d/outb"
STATSFILE "$d/stats"
AKA 2:250/0
DOMAIN "FidoNet"
NODE 2:250/1 "" "SeCrEt"
NETMAIL "NETMAIL" 2:250/0 MSG "$d/netmail"
AREA "BAD" 2:250/0 MSG "$d/bad"
PREFS
}
# read_msg FILE: From, To, Subject, the date and the text lines of an
# FTS-0001 stored message (190-byte header, then the NUL-terminated text).
read_msg() {
  python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
z = lambda s: s.split(b'\0')[0].decode('latin-1')
print('from=' + z(b[0:36])); print('to=' + z(b[36:72])); print('subject=' + z(b[72:144]))
print('date=' + z(b[144:164]))
for line in z(b[190:]).split('\r'):
    if line:
        print(('kludge=' + line[1:]) if line.startswith('\x01') else ('text=' + line))
PY
}

@test "crashmail: tosses our packet (password checked) into its *.MSG netmail area: From, To, Subject, text" {
  local cm="$BATS_TEST_TMPDIR/crashmail"
  crashmail_prefs "$cm"
  netmail 1 Uplink.Sysop@f0.n250.z2.fidonet
  run_stages 2>/dev/null
  cp "$OUT/00fa0000.out" "$cm/inb/0badcafe.pkt"
  run timeout 30 crashmail SETTINGS "$cm/crashmail.prefs" TOSS
  [ "$status" -eq 0 ]
  [ "$(ls "$cm/bad")" = "" ]
  [ "$(ls "$cm/netmail" | wc -l)" -eq 1 ]
  run read_msg "$cm/netmail/$(ls "$cm/netmail")"
  [ "${lines[0]}" = "from=Demo User" ]
  [ "${lines[1]}" = "to=Uplink Sysop" ]
  [ "${lines[2]}" = "subject=netmail 1" ]
  [ "${lines[3]}" = "date=01 Dec 26  12:00:00" ]
  [[ "$output" == *"kludge=INTL 2:250/0 2:250/1"*"kludge=MSGID: 2:250/1 "* ]]
  [[ "$output" == *$'\ntext=body of netmail 1\ntext=second line\n'* ]]
  # A wrong password: crashmail refuses the packet.
  sed -i 's/"SeCrEt"/"OTHER"/' "$cm/crashmail.prefs"
  netmail 2 Uplink.Sysop@f0.n250.z2.fidonet
  rm "$OUT/00fa0000.out"
  run_stages 2>/dev/null
  cp "$OUT/00fa0000.out" "$cm/inb/0badcaff.pkt"
  timeout 30 crashmail SETTINGS "$cm/crashmail.prefs" TOSS >/dev/null || true
  [ "$(ls "$cm/netmail" | wc -l)" -eq 1 ]
  grep -qi 'password' "$cm/crashmail.log"
}

# binkd_cfg FILE ADDRESS OUTBOUND INBOUND PORT PEER PEERPORT: a binkd
# configuration without a nodelist: the peer is an explicit node line with
# its loopback address and port (no DNS: addresses are literals and
# backresolv is off), the session password SeCrEt.
binkd_cfg() {
  local f="$1" address="$2" out="$3" in="$4" port="$5" peer="$6" peer_port="$7" d
  d="$(dirname "$f")/$(basename "$f" .cfg)"
  mkdir -p "$d/tmp" "$in"
  cat > "$f" <<CFG
log $d/binkd.log
loglevel 4
conlog 0
domain fidonet $out 2
address $address@fidonet
sysname "bbsmail test $address"
sysop "Test Sysop"
location "loopback"
nodeinfo 115200,TCP,BINKP
iport $port
bindaddr 127.0.0.1
inbound $in
inbound-nonsecure $in
temp-inbound $d/tmp
pid-file $d/binkd.pid
node $peer@fidonet 127.0.0.1:$peer_port SeCrEt
CFG
}

@test "binkd: two binkd on loopback carry our outbound to the uplink's inbound, and its netmail to ours for fido-toss" {
  local up="$BATS_TEST_TMPDIR/uplink" pa pb i
  pa="$(free_port)"
  pb="$(free_port)"
  mkdir -p "$up/out" "$up/in"
  binkd_cfg "$BATS_TEST_TMPDIR/ours.cfg" 2:250/1 "$OUT" "$(INBOUND)" "$pa" 2:250/0 "$pb"
  binkd_cfg "$BATS_TEST_TMPDIR/up.cfg" 2:250/0 "$up/out" "$up/in" "$pb" 2:250/1 "$pa"
  timeout 120 binkd -s "$BATS_TEST_TMPDIR/up.cfg" > /dev/null 2>&1 &
  track_pid $!
  wait_port "$pb"
  # Ours -> uplink: a netmail written by deliver-fido.
  netmail 1 Uplink.Sysop@f0.n250.z2.fidonet
  run_stages 2>/dev/null
  [ -e "$OUT/00fa0000.out" ]
  # Uplink -> ours: a crashwrite netmail waiting in the uplink's outbound for 2:250/1.
  cw_packet back.pkt demo "over binkp"
  cp "$BATS_TEST_TMPDIR/back.pkt" "$up/out/00fa0001.out"
  run timeout 60 binkd -p -P 2:250/0 "$BATS_TEST_TMPDIR/ours.cfg"
  [ "$status" -eq 0 ]
  # Sent and gone from both outbounds.
  [ ! -e "$OUT/00fa0000.out" ]
  [ ! -e "$up/out/00fa0001.out" ]
  [ "$(ls "$up/in"/*.pkt | wc -l)" -eq 1 ]
  run pkt "$(ls "$up/in"/*.pkt)"
  [ "$status" -eq 0 ]
  [[ "$output" == *"packet.orig=2:250/1.0"*"packet.dest=2:250/0.0"*"packet.password=SeCrEt"* ]]
  [[ "$output" == *"msg1.to=Uplink Sysop"*"msg1.subject=netmail 1"*"msg1.text=body of netmail 1"*"messages=1"* ]]
  # fido-toss takes what binkd received.
  [ "$(ls "$(INBOUND)"/*.pkt | wc -l)" -eq 1 ]
  run toss
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=import packet="*" from=<Joe.Bloggs@f5.n250.z2.fidonet> rcpt=<demo@f1.n250.z2.fidonet>"* ]]
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -qx 'Subject: over binkp' "$(mailbox_files 2)"
}

@test "fido threading: a netmail answering ours gets In-Reply-To our Message-ID; a mail answering ours gets REPLY our MSGID" {
  netmail 1 Joe.Bloggs@f5.n250.z2.fidonet
  run_stages 2>/dev/null
  local ours
  ours="$(pkt "$OUT/00fa0000.out" | sed -n 's/^msg1.kludge=MSGID: //p')"
  [ -n "$ours" ]
  printf '%s\t<seq-1@localhost>\n' "$ours" | cmp - "$HOME_DIR/spool/data/fido/msgids"
  # Joe answers: a crashwrite netmail with REPLY added after its MSGID.
  cw_packet r.pkt demo "Re: netmail 1"
  python3 - "$BATS_TEST_TMPDIR/r.pkt" "$ours" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
d = re.sub(rb'(\x01MSGID: [^\r]*\r)', lambda m: m.group(1) + b'\x01REPLY: ' + sys.argv[2].encode() + b'\r', d, count=1)
open(sys.argv[1], 'wb').write(d)
PY
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/r.pkt" "$(INBOUND)/00000001.pkt"
  toss 2>/dev/null
  run_stages 2>/dev/null
  grep -qx 'In-Reply-To: <seq-1@localhost>' "$(mailbox_files 2)"
  grep -qx "X-FTN-REPLY: $ours" "$(mailbox_files 2)"
  # Someone here follows up on the first mail: the netmail carries REPLY.
  rm "$OUT/00fa0000.out"
  printf 'From: demo <demo@localhost>\nSubject: follow-up\nIn-Reply-To: <seq-1@localhost>\n\nmore\n' \
    | "$BBSMAIL_ROOT/bin/sendmail" -f demo@localhost Joe.Bloggs@f5.n250.z2.fidonet 2>/dev/null
  run_stages 2>/dev/null
  run pkt "$OUT/00fa0000.out"
  [[ "$output" == *"msg1.kludge=REPLY: $ours"$'\n'* ]]
}

@test "fido-toss: plain type 2 and type 2.2 packet headers are read as well as 2+" {
  cw_packet a.pkt demo "type two"
  cw_packet b.pkt demo "type two point two"
  python3 - "$BATS_TEST_TMPDIR/a.pkt" "$BATS_TEST_TMPDIR/b.pkt" <<'PY'
import struct, sys
a = bytearray(open(sys.argv[1], 'rb').read())
a[38:58] = bytes(20)                      # FTS-0001: no 2+ fields
open(sys.argv[1], 'wb').write(bytes(a))
b = bytearray(open(sys.argv[2], 'rb').read())
b[4:16] = bytes(12)                       # FSC-0045: points 0, reserved
b[16:18] = struct.pack('<H', 2)           # sub-version 2
b[38:58] = b'fidonet\0fidonet\0' + bytes(4)
open(sys.argv[2], 'wb').write(bytes(b))
PY
  [[ "$(pkt "$BATS_TEST_TMPDIR/a.pkt")" == *"packet.type=2"$'\n'* ]]
  mkdir -p "$(INBOUND)"
  cp "$BATS_TEST_TMPDIR/a.pkt" "$(INBOUND)/00000001.pkt"
  cp "$BATS_TEST_TMPDIR/b.pkt" "$(INBOUND)/00000002.pkt"
  run toss
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=tossed packet=00000001.pkt messages=1"*"event=tossed packet=00000002.pkt messages=1"* ]]
  [ "$(incoming_subjects | tr '\n' ' ')" = "type two type two point two " ]
}

@test "deliver-fido, fido-toss: a bad or unreadable fidonet.cfg stops them with 111 and leaves the work" {
  netmail 1 joe@f5.n250.z2.fidonet
  "$LIBEXEC/route" 2>/dev/null
  printf 'address 2:250/1\naddress 2:250/1\n' > "$HOME_DIR/etc/fidonet.cfg"
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 111 ]
  [ "$output" = "deliver-fido: fatal: $HOME_DIR/etc/fidonet.cfg:2: duplicate address" ]
  run toss
  [ "$status" -eq 111 ]
  [ "$output" = "fido-toss: fatal: $HOME_DIR/etc/fidonet.cfg:2: duplicate address" ]
  [ "$(job_count fido)" -eq 1 ]
  # A directory where the file should be (root reads any file, so no chmod).
  rm "$HOME_DIR/etc/fidonet.cfg"
  mkdir "$HOME_DIR/etc/fidonet.cfg"
  run "$LIBEXEC/deliver-fido"
  [ "$status" -eq 111 ]
  [[ "$output" == "deliver-fido: fatal: unable to read $HOME_DIR/etc/fidonet.cfg: "* ]]
  run resolve joe@f5.n250.z2.fidonet
  [ "${lines[1]}" = "joe@f5.n250.z2.fidonet -> tempfail" ]
  [ "$(job_count fido)" -eq 1 ]
}
