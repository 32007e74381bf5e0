#!/usr/bin/env bats
# QWKnet: etc/qwknet.cfg and the resolver's "<route>!<user>" branch,
# libexec/deliver-qwk, bin/qwk-pack and bin/qwk-unpack, checked with the
# tests' own packet reader (t/lib/qwk.py, written from the format
# description) and Debian's multimail (mm) driven through tmux.
load helper
load lib/stages

QWKPY() { python3 "$BBSMAIL_ROOT/t/lib/qwk.py" "$@"; }

setup() {
  make_home
  export TZ=UTC
  "$BBSMAIL_ROOT/bin/bbsmail-user" add "John Doe" --password demo >/dev/null
  cat > "$HOME_DIR/etc/qwknet.cfg" <<'CFG'
hub   MYBBS
node  vert  s3cret
node  far   -       VERT
conf  7     dove-deb vert
CFG
  cat > "$HOME_DIR/etc/boards.cfg" <<'CFG'
dove-deb anyone - - spool/boards/dove-deb DOVE-Net Debates
CFG
}

# rcpt_codes ADDRESS...: the reply to RCPT TO:<ADDRESS> for each.
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
for cmd in ['EHLO client.example', 'MAIL FROM:<rob@far.example>']:
    s.sendall((cmd + '\r\n').encode()); reply()
for a in sys.argv[2:]:
    s.sendall(('RCPT TO:<%s>\r\n' % a).encode())
    print(reply())
s.sendall(b'QUIT\r\n'); reply()
PY
}

# queue_netmail N RCPT: N messages from rob@far.example through sendmail.
queue_netmail() {
  local i
  for ((i = 1; i <= $1; i++)); do
    printf 'From: Rob <rob@far.example>\nSubject: netmail %s\nMessage-ID: <n%s@far.example>\n\nbody %s\n' \
      "$i" "$i" "$i" | "$BBSMAIL_ROOT/bin/sendmail" -f rob@far.example "$2" 2>/dev/null || return 1
  done
}

PACKET() { echo "$HOME_DIR/spool/qwk/VERT/out/MYBBS.QWK"; }

@test "qwk: RCPT to <route>!<user>: configured node 250, unknown 550 5.1.2, malformed 553 5.1.3" {
  start_smtpd
  run rcpt_codes 'vert!bob@localhost' 'VERT/FAR!carol@localhost' 'far!dave@localhost' 'nosuch!bob@localhost' \
    '!bob@localhost' 'toolongqwkid!u@localhost' 'VE-RT!u@localhost' 'VERT!@localhost' 'VERT//FAR!x@localhost'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "250 2.1.5 Ok" ]
  [ "${lines[1]}" = "250 2.1.5 Ok" ]
  [ "${lines[2]}" = "250 2.1.5 Ok" ]
  [ "${lines[3]}" = "550 5.1.2 nosuch!bob: unknown QWK network node" ]
  [ "${lines[4]}" = "553 5.1.3 !bob: malformed QWK address: empty node id" ]
  [ "${lines[5]}" = "553 5.1.3 toolongqwkid!u: malformed QWK address: node id longer than 8 characters" ]
  [ "${lines[6]}" = "553 5.1.3 VE-RT!u: malformed QWK address: node id not made of letters and digits" ]
  [ "${lines[7]}" = "553 5.1.3 VERT!: malformed QWK address: empty user name" ]
  [ "${lines[8]}" = "553 5.1.3 VERT//FAR!x: malformed QWK address: empty node id" ]
}

@test "qwk: a bad qwknet.cfg line makes QWK recipients 451 and names file:line; others still work" {
  printf 'hub MYBBS\nnode vert s3cret\nnode b@d x\n' > "$HOME_DIR/etc/qwknet.cfg"
  start_smtpd
  run rcpt_codes 'vert!bob@localhost' 'demo@localhost'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "451 4.3.0 Temporary failure resolving the recipient" ] || {
    echo "${lines[0]}"; false; }
  [ "${lines[1]}" = "250 2.1.5 Ok" ]
  grep -q "etc/qwknet.cfg:3: bad QWK id (1-8 letters and digits)" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "qwk: swaks -> smtpd -> route -> deliver-qwk -> qwk-pack: the packet read back field by field" {
  start_smtpd
  printf 'From: Rob Smith <rob@far.example>\nSubject: a subject that is longer than twenty-five\nMessage-ID: <m1@far.example>\n\nfirst line\nsecond line' \
    > "$BATS_TEST_TMPDIR/msg"
  run timeout 30 swaks --server "127.0.0.1:$SMTP_PORT" --from rob@far.example --to 'vert!John_Doe@localhost' \
    --data "@$BATS_TEST_TMPDIR/msg" --helo client.example
  [ "$status" -eq 0 ]
  run timeout 30 swaks --server "127.0.0.1:$SMTP_PORT" --from rob@far.example --to 'far!carol@localhost' \
    --header 'Subject: short' --body 'to far' --helo client.example
  [ "$status" -eq 0 ]
  runq 2>/dev/null
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/new" | wc -l)" -eq 2 ]
  run qwk-pack VERT
  [ "$status" -eq 0 ]
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/new" | wc -l)" -eq 0 ]
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/packed" | wc -l)" -eq 2 ]
  run QWKPY read "$(PACKET)"
  [ "$status" -eq 0 ]
  echo "$output"
  [ "${lines[4]}" = "control:0000,MYBBS" ]
  [ "${lines[6]}" = "control:VERT" ]
  [ "${lines[8]}" = "control:0" ]
  [ "${lines[9]}" = "control:2" ]
  # conferences minus one: E-mail and dove-deb (7)
  [ "${lines[10]}" = "control:1" ]
  [ "${lines[11]}" = "control:0" ]
  [ "${lines[12]}" = "control:E-mail" ]
  [ "${lines[13]}" = "control:7" ]
  [ "${lines[14]}" = "control:dove-deb" ]
  [ "${lines[18]}" = "members:000.NDX,007.NDX,CONTROL.DAT,DOOR.ID,MESSAGES.DAT,PERSONAL.NDX" ]
  # the long Subject goes in a QWKE line, the field is cut at 25
  [ "${lines[19]}" = '1|John Doe|rob@far.example|a subject that is longer|0|2|Subject: a subject that is longer than twenty-five\n@MSGID: m1@far.example\nfirst line\nsecond line\n' ]
  [[ "${lines[20]}" == '2|NETMAIL|rob@far.example|short|0|2|carol@FAR\n'* ]]
  [ "${lines[21]}" = "ndx:ok 2" ]
}

@test "qwk: multimail (mm) opens our packet, shows each message, and writes a REP that qwk-unpack imports" {
  command -v mm >/dev/null && command -v tmux >/dev/null || skip "multimail or tmux not installed"
  queue_netmail 2 'vert!John_Doe@localhost'
  runq 2>/dev/null
  qwk-pack VERT 2>/dev/null
  mmhome="$BATS_TEST_TMPDIR/mm"
  mkdir -p "$mmhome/down" "$mmhome/up"
  cp "$(PACKET)" "$mmhome/down/"
  sock="qwk-$$-$BATS_TEST_NUMBER"
  tm() { tmux -L "$sock" "$@"; }
  screen_has() {   # screen_has TEXT: waits up to 20 s for TEXT on the screen
    local i
    for i in $(seq 1 100); do
      tm capture-pane -p 2>/dev/null | grep -qF -- "$1" && return 0
      sleep 0.2
    done
    tm capture-pane -p >&2; return 1
  }
  # The first start writes a default .mmailrc and asks whether to edit it.
  tm new-session -d -x 100 -y 30 "HOME='$mmhome' mm"
  track_pid "$(tm display -p '#{pid}')"   # the tmux server, killed by PID in teardown too
  track_pid "$(tm display -p '#{pane_pid}')"
  screen_has "Edit .mmailrc now?"
  tm send-keys n Enter
  screen_has "Packet"
  tm kill-server
  # mm keeps a letter only when the file's mtime moved: the sleep makes sure.
  printf '#!/bin/sh\nsleep 1.1\necho "A reply written in multimail." > "$1"\n' > "$mmhome/editor"
  chmod +x "$mmhome/editor"
  sed -i "s|^UserName:.*|UserName: John Doe|; s|^UseColors:.*|UseColors: No|; s|^PacketDir:.*|PacketDir: $mmhome/down|; s|^ReplyDir:.*|ReplyDir: $mmhome/up|; s|^editor:.*|editor: $mmhome/editor|" \
    "$mmhome/.mmailrc"
  tm new-session -d -x 100 -y 30 "HOME='$mmhome' EDITOR='$mmhome/editor' mm '$mmhome/down/MYBBS.QWK'"
  track_pid "$(tm display -p '#{pid}')"   # the tmux server, killed by PID in teardown too
  track_pid "$(tm display -p '#{pane_pid}')"
  screen_has "Active Areas"
  screen_has "E-mail"
  tm send-keys Down Down Enter
  screen_has "netmail 1"
  screen_has "netmail 2"
  tm send-keys Enter
  screen_has "From: rob@far.example"
  screen_has "Subj: netmail 1"
  screen_has "body 1"
  tm send-keys +
  screen_has "Subj: netmail 2"
  screen_has "body 2"
  # A reply, written by mm's editor (a script), into mm's REP packet.
  tm send-keys R
  screen_has "Reply goes to area:"
  tm send-keys Enter
  screen_has "Subj: netmail 2"
  tm send-keys Enter
  screen_has "Make letter private?"
  tm send-keys Enter
  screen_has "Q: don't apply tagline"
  tm send-keys q
  screen_has "Subj: netmail 2"
  tm send-keys q
  screen_has "Enter: read letter"
  tm send-keys q
  screen_has "Make reply packet"
  tm send-keys '!'
  for i in $(seq 1 100); do [ -s "$mmhome/up/mybbs.rep" ] && break; sleep 0.2; done
  tm kill-server
  [ -s "$mmhome/up/mybbs.rep" ]
  run qwk-unpack VERT "$mmhome/up/mybbs.rep"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=queued from=<VERT!VERT@localhost> rcpt=<rob@far.example>"* ]]
  [[ "$output" == *"event=imported"*"messages=1"* ]]
  f="$(find "$(SPOOL)/incoming" -type f)"
  grep -qx 'Subject: Re: netmail 2' "$f"
  grep -qx 'To: <rob@far.example>' "$f"
  grep -qx 'A reply written in multimail.' "$f"
}

# spec FILE JSON: a REP description for qwk.py rep.
spec() { printf '%s\n' "$2" > "$BATS_TEST_TMPDIR/$1"; }

@test "qwk: qwk-unpack imports a REP: a local user, the Internet, a further QWK hop, a sub-board" {
  spec rep.json '[
   {"to":"John Doe","from":"Alice Node","subject":"Re: hello","text":"hi john\nsecond line"},
   {"to":"rob@far.example","from":"Alice Node","subject":"to the internet","text":"out we go"},
   {"to":"NETMAIL","from":"Alice","subject":"further","lines":["carol@FAR"],"text":"via vert"},
   {"to":"All","from":"Alice","subject":"a post","conf":7,"private":false,"text":"for the board"},
   {"to":"demo","from":"Alice","subject":"deleted","active":false,"text":"gone"}]'
  QWKPY rep "$BATS_TEST_TMPDIR/MYBBS.REP" MYBBS "$BATS_TEST_TMPDIR/rep.json"
  run qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP"
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=imported rep="*" messages=4"* ]]
  [ "$(incoming_count)" -eq 4 ]
  # the same REP again imports nothing
  run qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP"
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=already-imported"* ]]
  [ "$(incoming_count)" -eq 4 ]
  runq 2>/dev/null
  [ "$(mailbox_count 3)" -eq 1 ]
  f="$(mailbox_files 3)"
  grep -qx 'From: Alice Node <VERT!Alice_Node@localhost>' "$f"
  grep -qx 'Subject: Re: hello' "$f"
  [ "$(tail -2 "$f")" = "$(printf 'hi john\nsecond line')" ]
  [ "$(job_count remote)" -eq 1 ]
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/new" | wc -l)" -eq 1 ]
  run bbsmail-board read dove-deb
  echo "$output"
  [[ "$output" == *"a post"* ]]
}

@test "qwk: a reply to imported netmail goes back to the node by QWKnet" {
  spec rep.json '[{"to":"John Doe","from":"Alice Node","subject":"ping","text":"ping"}]'
  QWKPY rep "$BATS_TEST_TMPDIR/MYBBS.REP" MYBBS "$BATS_TEST_TMPDIR/rep.json"
  qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP" 2>/dev/null
  runq 2>/dev/null
  printf 'From: john@localhost\nSubject: pong\n\npong\n' | sendmail -f john@localhost 'VERT!Alice_Node@localhost' 2>/dev/null
  runq 2>/dev/null
  qwk-pack VERT 2>/dev/null
  run QWKPY read "$(PACKET)"
  [ "$status" -eq 0 ]
  [[ "${lines[19]}" == '1|Alice Node|john@localhost|pong|0|2|@MSGID: '*'@localhost\npong\n' ]]
}

@test "qwk: pack -> unpack round trip: every packed message comes back" {
  queue_netmail 12 'vert!John_Doe@localhost'
  runq 2>/dev/null
  qwk-pack VERT 2>/dev/null
  # The node answers each message: the packet's MESSAGES.DAT as a REP
  # (banner = our id, number field = conference, To = the sender).
  python3 - "$(PACKET)" "$BATS_TEST_TMPDIR/MYBBS.REP" <<'PY'
import sys, zipfile
dat = zipfile.ZipFile(sys.argv[1]).read('MESSAGES.DAT')
out = bytearray(b'MYBBS'.ljust(128))
pos = 128
while pos < len(dat):
    h = bytearray(dat[pos:pos + 128]); n = int(h[116:122])
    h[1:8] = b'0'.ljust(7)
    h[21:46] = b'John Doe'.ljust(25)
    out += h + dat[pos + 128:pos + n * 128]; pos += n * 128
with zipfile.ZipFile(sys.argv[2], 'w') as z: z.writestr('MYBBS.MSG', bytes(out))
PY
  run qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP"
  [ "$status" -eq 0 ]
  runq 2>/dev/null
  [ "$(mailbox_count 3)" -eq 12 ]
  for i in $(seq 1 12); do
    [ "$(grep -lx "Subject: netmail $i" $(mailbox_files 3) | wc -l)" -eq 1 ]
    [ "$(grep -lx "body $i" $(mailbox_files 3) | wc -l)" -eq 1 ]
  done
}

# refused NAME: qwk-unpack exits 100 with the text, nothing imported.
refused() {
  run qwk-unpack VERT "$BATS_TEST_TMPDIR/$1"
  echo "$output"
  [ "$status" -eq 100 ]
  [[ "$output" == *"$2"* ]]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(find "$HOME_DIR/spool/qwk/VERT/import" -type f | wc -l)" -eq 0 ]
}

@test "qwk: malformed REPs are refused whole, with a clear error, nothing imported" {
  good='{"to":"John Doe","from":"A","subject":"s","text":"ok"}'
  spec trunc.json "[$good, {\"to\":\"John Doe\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"x\",\"blocks\":5}]"
  QWKPY rep "$BATS_TEST_TMPDIR/trunc.rep" MYBBS "$BATS_TEST_TMPDIR/trunc.json"
  refused trunc.rep "block count runs past the end of the file (truncated packet?)"
  spec cut.json "[$good, {\"to\":\"John Doe\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"x\",\"truncate\":10}]"
  QWKPY rep "$BATS_TEST_TMPDIR/cut.rep" MYBBS "$BATS_TEST_TMPDIR/cut.json"
  refused cut.rep "is not a whole number of 128-byte blocks"
  spec zero.json "[$good, {\"to\":\"John Doe\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"x\",\"blocks\":0}]"
  QWKPY rep "$BATS_TEST_TMPDIR/zero.rep" MYBBS "$BATS_TEST_TMPDIR/zero.json"
  refused zero.rep "message at offset 384: bad block count"
  spec date.json "[$good, {\"to\":\"John Doe\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"x\",\"date\":\"13-45-26\"}]"
  QWKPY rep "$BATS_TEST_TMPDIR/date.rep" MYBBS "$BATS_TEST_TMPDIR/date.json"
  refused date.rep "message at offset 384: bad date or time"
  spec conf.json "[$good, {\"to\":\"All\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"x\",\"conf\":9}]"
  QWKPY rep "$BATS_TEST_TMPDIR/conf.rep" MYBBS "$BATS_TEST_TMPDIR/conf.json"
  refused conf.rep "message 2 (offset 384): conference not carried by this node"
  spec id.json "[$good]"
  QWKPY rep "$BATS_TEST_TMPDIR/other.rep" OTHER "$BATS_TEST_TMPDIR/id.json"
  refused other.rep "no MYBBS.MSG in the archive"
  python3 - "$BATS_TEST_TMPDIR/wrongid.rep" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('MYBBS.MSG', b'OTHER'.ljust(128))
PY
  refused wrongid.rep 'the packet is for "OTHER", we are MYBBS'
  spec path.json "[{\"to\":\"John Doe\",\"from\":\"A\",\"subject\":\"s\",\"text\":\"ok\",\"extra_members\":[\"../evil\"]}]"
  QWKPY rep "$BATS_TEST_TMPDIR/path.rep" MYBBS "$BATS_TEST_TMPDIR/path.json"
  refused path.rep "member name with a path or control bytes refused"
  printf 'not a zip' > "$BATS_TEST_TMPDIR/junk.rep"
  refused junk.rep "not a readable zip archive"
}

# kill_walk SYSCALL CMD...: runs CMD under strace, killed (SIGKILL) on its
# k-th SYSCALL for k = 1, 2, ... until a run gets through; each run starts
# from what the one before left.  Prints the number of kills.
kill_walk() {
  local sc="$1" k=1 rc
  shift
  while [ "$k" -le 200 ]; do
    rc=0
    timeout 60 strace -qq -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when="$k" "$@" 2>/dev/null || rc=$?
    [ "$rc" -eq 137 ] || break
    k=$((k + 1))
  done
  echo "$((k - 1))"
}

@test "qwk: deliver-qwk killed at every rename/fsync/write and rerun queues each message once" {
  command -v strace >/dev/null || skip "strace not installed"
  for sc in rename syncfs write; do
    rm -rf "$HOME_DIR/spool/qwk"
    queue_netmail 3 'vert!John_Doe@localhost'
    "$LIBEXEC/route" 2>/dev/null
    kills="$(kill_walk "$sc" "$LIBEXEC/deliver-qwk")"
    echo "$sc: $kills kills"
    [ "$kills" -ge 1 ]
    "$LIBEXEC/deliver-qwk" 2>/dev/null || true
    [ "$(job_count qwk)" -eq 0 ]
    [ "$(ls "$HOME_DIR/spool/qwk/VERT/new" | wc -l)" -eq 3 ]
  done
}

@test "qwk: deliver-qwk rerun after its output was packed does not queue it again" {
  queue_netmail 1 'vert!John_Doe@localhost'
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/qwk" | head -1)"
  snapshot_dir="$BATS_TEST_TMPDIR/snap"
  mkdir -p "$snapshot_dir"
  ln "$(SPOOL)/queue/qwk/$job" "$snapshot_dir/job"
  ln "$(SPOOL)/body/qwk-$job" "$snapshot_dir/body"
  "$LIBEXEC/deliver-qwk" 2>/dev/null
  qwk-pack VERT 2>/dev/null
  qwk-pack -c VERT 2>/dev/null
  [ ! -e "$(PACKET)" ]
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/packed" | wc -l)" -eq 0 ]
  # killed before retiring the job: the job is back, marked attempted
  ln "$snapshot_dir/job" "$(SPOOL)/queue/qwk/$job"
  ln "$snapshot_dir/body" "$(SPOOL)/body/qwk-$job"
  chmod 0400 "$(SPOOL)/queue/qwk/$job"
  run "$LIBEXEC/deliver-qwk"
  echo "$output"
  [[ "$output" == *"result=already-queued"* ]]
  [ "$(ls "$HOME_DIR/spool/qwk/VERT/new" | wc -l)" -eq 0 ]
  [ "$(job_count qwk)" -eq 0 ]
}

@test "qwk: qwk-pack killed at every step and rerun: each message in the fetched packets once" {
  command -v strace >/dev/null || skip "strace not installed"
  for sc in rename fsync unlink write; do
    rm -rf "$HOME_DIR/spool/qwk" "$BATS_TEST_TMPDIR/got"
    mkdir -p "$BATS_TEST_TMPDIR/got"
    queue_netmail 4 'vert!John_Doe@localhost'
    runq 2>/dev/null
    kills="$(kill_walk "$sc" "$BBSMAIL_ROOT/bin/qwk-pack" VERT)"
    echo "$sc: $kills kills"
    [ "$kills" -ge 1 ]
    # the node fetches, more mail comes, a second packet, fetched too
    cp "$(PACKET)" "$BATS_TEST_TMPDIR/got/1.QWK"
    rm "$(PACKET)"
    queue_netmail 2 'vert!Jane_Roe@localhost'
    runq 2>/dev/null
    kill_walk "$sc" "$BBSMAIL_ROOT/bin/qwk-pack" VERT >/dev/null
    cp "$(PACKET)" "$BATS_TEST_TMPDIR/got/2.QWK"
    qwk-pack -c VERT 2>/dev/null
    [ "$(QWKPY read "$BATS_TEST_TMPDIR/got/1.QWK" | grep -c '^[0-9]*|John Doe|')" -eq 4 ]
    [ "$(QWKPY read "$BATS_TEST_TMPDIR/got/2.QWK" | grep -c '^[0-9]*|John Doe|')" -eq 0 ]
    [ "$(QWKPY read "$BATS_TEST_TMPDIR/got/2.QWK" | grep -c '^[0-9]*|Jane Roe|')" -eq 2 ]
    [ "$(ls "$HOME_DIR/spool/qwk/VERT/packed" | wc -l)" -eq 0 ]
    run qwk-pack VERT
    [[ "$output" == *"event=empty"* ]]
  done
}

@test "qwk: qwk-pack puts a carried sub-board's new posts in the packet, once fetched, never the node's own" {
  run qwk-pack VERT
  [[ "$output" == *"event=empty"* ]]
  [ "$(cat "$HOME_DIR/spool/qwk/VERT/conf-7.next")" = 0 ]
  for i in 1 2; do
    printf 'From: Rob <rob@far.example>\nSubject: post %s\n\nboard text %s\n' "$i" "$i" |
      sendmail -f rob@far.example '"sub:dove-deb"@localhost' 2>/dev/null
  done
  spec rep.json '[{"to":"All","from":"Alice","subject":"from vert","conf":7,"private":false,"text":"echo?"}]'
  QWKPY rep "$BATS_TEST_TMPDIR/MYBBS.REP" MYBBS "$BATS_TEST_TMPDIR/rep.json"
  qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP" 2>/dev/null
  runq 2>/dev/null
  run qwk-pack VERT
  [[ "$output" == *"event=packed messages=2 netmail=0 "* ]]
  run QWKPY read "$(PACKET)"
  [ "$status" -eq 0 ]
  echo "$output"
  # deliver-board posted them in the order runq took them
  [ "$(printf '%s\n' "${lines[19]}" "${lines[20]}" | grep -c '^[12]|All|Rob|post [12]|7|2|@MSGID: [^\]*\\nboard text [12]\\n$')" -eq 2 ]
  [[ "$output" == *"|post 1|"* && "$output" == *"|post 2|"* ]]
  [ "${lines[21]}" = "ndx:ok 2" ]
  # not fetched: the next packet has them again
  run qwk-pack VERT
  [[ "$output" == *"event=packed messages=2 netmail=0 "* ]]
  qwk-pack -c VERT 2>/dev/null
  [ "$(cat "$HOME_DIR/spool/qwk/VERT/conf-7.next")" = 3 ]
  run qwk-pack VERT
  [[ "$output" == *"event=empty"* ]]
  printf 'From: Rob <rob@far.example>\nSubject: post 3\n\nboard text 3\n' |
    sendmail -f rob@far.example '"sub:dove-deb"@localhost' 2>/dev/null
  runq 2>/dev/null
  run qwk-pack VERT
  [[ "$output" == *"event=packed messages=1 netmail=0 "* ]]
  run QWKPY read "$(PACKET)"
  [[ "${lines[19]}" == '1|All|Rob|post 3|7|2|'*'board text 3\n' ]]
}

@test "qwk: qwk-pack leaves an unfetched packet's messages in the next packet" {
  queue_netmail 2 'vert!John_Doe@localhost'
  runq 2>/dev/null
  qwk-pack VERT 2>/dev/null
  queue_netmail 1 'vert!Jane_Roe@localhost'
  runq 2>/dev/null
  qwk-pack VERT 2>/dev/null
  [ "$(QWKPY read "$(PACKET)" | grep -c '^[0-9]*|')" -eq 3 ]
}

@test "qwk: qwk-unpack killed at every step and rerun imports each message once" {
  command -v strace >/dev/null || skip "strace not installed"
  spec rep.json '[{"to":"John Doe","from":"A","subject":"one","text":"1"},
    {"to":"John Doe","from":"A","subject":"two","text":"2"},
    {"to":"John Doe","from":"A","subject":"three","text":"3"}]'
  QWKPY rep "$BATS_TEST_TMPDIR/MYBBS.REP" MYBBS "$BATS_TEST_TMPDIR/rep.json"
  for sc in rename fsync write unlink; do
    rm -rf "$HOME_DIR/spool/qwk" "$HOME_DIR/spool/mailbox/3"
    kills="$(kill_walk "$sc" "$BBSMAIL_ROOT/bin/qwk-unpack" VERT "$BATS_TEST_TMPDIR/MYBBS.REP")"
    echo "$sc: $kills kills"
    [ "$sc" = unlink ] || [ "$kills" -ge 1 ]
    qwk-unpack VERT "$BATS_TEST_TMPDIR/MYBBS.REP" 2>/dev/null
    runq 2>/dev/null
    [ "$(mailbox_count 3)" -eq 3 ]
    for s in one two three; do
      [ "$(grep -lx "Subject: $s" $(mailbox_files 3) | wc -l)" -eq 1 ]
    done
  done
}
