#!/usr/bin/env bats
# The split home (set-permissions --split): smtpd and pop3d each under a uid
# of its own (started as root by tcpserver, -u sets all the user's groups),
# the stages as the mail user; what passes between them goes through the
# queue, mailbox and receiver groups, and each is refused what it must not
# touch.  CI runs as root: the users and groups are made here (by
# set-permissions --make-users --split) and removed in teardown_file.

load helper
load lib/stages
load lib/defer

setup_file() {
  local u="bbsmt-s$$"
  echo "$u" > "$BATS_FILE_TMPDIR/user"
  groupadd "$u-drop"
  "$BBSMAIL_ROOT/scripts/set-permissions" --make-users --split -u "$u" -g "$u-drop" -h /nonexistent >/dev/null
}

teardown_file() {
  local u
  u="$(cat "$BATS_FILE_TMPDIR/user")"
  for n in "$u-smtpd" "$u-pop3" "$u"; do userdel "$n" 2>/dev/null || true; done
  for n in "$u-smtpd" "$u-pop3" "$u" "$u-queue" "$u-mbox" "$u-recv" "$u-drop"; do groupdel "$n" 2>/dev/null || true; done
}

setup() {
  U="$(cat "$BATS_FILE_TMPDIR/user")"
  HOME_ROOT="$(mktemp -d /tmp/bbsmt-split.XXXXXX)"
  chmod 0755 "$HOME_ROOT"
  BATS_TEST_TMPDIR="$HOME_ROOT" make_home
  run "$BBSMAIL_ROOT/scripts/set-permissions" --split -u "$U" -g "$U-drop" "$HOME_DIR"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "set-permissions: $HOME_DIR: split: stages $U, smtpd $U-smtpd ($U-queue), pop3d $U-pop3 ($U-mbox), both $U-recv, spool/drop $U:$U-drop 3730" ]
}

teardown() {
  kill_tracked
  rm -rf "$HOME_ROOT"
}

as() { local who="$1"; shift; setpriv --reuid "$who" --regid "$who" --init-groups "$@"; }

# start_receiver PROG USER: PROG -u USER under tcpserver (as root) on a
# free port, printed; its log in $BATS_TEST_TMPDIR/PROG.log.
start_receiver() {
  local port
  port="$(free_port)"
  tcpserver -c 10 -H -R -l localhost 127.0.0.1 "$port" "$LIBEXEC/$1" -u "$2" >/dev/null 2>>"$BATS_TEST_TMPDIR/$1.log" &
  track_pid $!
  wait_port "$port"
  echo "$port"
}
start_smtpd() { SPORT="$(start_receiver smtpd "$U-smtpd")"; }
start_pop3d() { PPORT="$(start_receiver pop3d "$U-pop3")"; }

send_one() {
  python3 - "$SPORT" "$1" <<'EOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.sendmail('tester@example.org', ['demo@localhost'], 'Subject: split\r\n\r\n%s\r\n' % sys.argv[2])
s.quit()
EOF
}

@test "set-permissions --split: groups, owners and modes" {
  [ "$(id -nG "$U-smtpd" | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$U-smtpd" "$U-queue" "$U-recv" "$U-drop" | sort | tr '\n' ' ')" ]
  [ "$(id -nG "$U-pop3" | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$U-pop3" "$U-mbox" "$U-recv" "$U-drop" | sort | tr '\n' ' ')" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool")" = "$U $U-queue 2711" ]
  for d in tmp incoming trash telegram freezer etrn; do
    [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/$d")" = "$U $U-queue 2770" ]
  done
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/mailbox")" = "$U $U-mbox 2770" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/data")" = "$U $U-recv 3770" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/data/users.gdbm")" = "$U $U-recv 640" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool/queue")" = "$U 700" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool/attempt")" = "$U 700" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc")" = "$U $U-drop 750" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/mail.ini")" = "$U $U-drop 640" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/smtpserver.conf")" = "$U $U-recv 640" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/ip.can")" = "$U $U-recv 660" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/spamblock.cfg")" = "$U $U-recv 660" ]
}

@test "set-permissions --split: refuses missing users and a receiver in the other's group" {
  run "$BBSMAIL_ROOT/scripts/set-permissions" --split -u "bbsmt-none$$" -g "$U-drop" "$HOME_DIR"
  [ "$status" -eq 100 ]
  [ "$output" = "set-permissions: fatal: no user bbsmt-none$$ (--make-users)" ]
  usermod -a -G "$U-mbox" "$U-smtpd"
  run "$BBSMAIL_ROOT/scripts/set-permissions" --split -u "$U" -g "$U-drop" "$HOME_DIR"
  gpasswd -d "$U-smtpd" "$U-mbox" >/dev/null
  [ "$status" -eq 100 ]
  [ "$output" = "set-permissions: fatal: $U-smtpd is in $U-mbox: it would reach what it must not" ]
}

@test "split: smtpd -u queues as its uid, the stages deliver as theirs, pop3d -u fetches and deletes; no mark is left" {
  start_smtpd
  run send_one "over split uids"
  [ "$status" -eq 0 ]
  f="$(find "$HOME_DIR/spool/incoming" -type f)"
  [ "$(stat -c '%U %G %a' "$f")" = "$U-smtpd $U-queue 660" ]
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(stat -c '%U %G %a' "$(mailbox_files 2)")" = "$U $U-mbox 660" ]
  [ "$(find "$HOME_DIR/spool/attempt" "$HOME_DIR/spool/incoming" "$HOME_DIR/spool/queue" -type f | wc -l)" -eq 0 ]
  start_pop3d
  run python3 "$BATS_TEST_DIRNAME/lib/pop3.py" chat "$PPORT" < <(printf 'USER demo\nPASS demo\nSTAT\nRETR 1\nDELE 1\nQUIT\n')
  [ "$status" -eq 0 ]
  [[ "${lines[3]}" == "+OK 1 "* ]]
  [ "$(printf '%s\n' "${lines[@]}" | grep -cx 'over split uids')" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 0 ]
  # smtpd cannot read the mailbox counts: MaxMsgsWaiting is skipped, said once.
  [ "$(grep -c 'event=mailbox-count-unreadable user=2: MaxMsgsWaiting not checked' "$BATS_TEST_TMPDIR/smtpd.log")" -eq 1 ]
}

@test "split: both receivers keep the one failed-login table, created group-writable" {
  start_pop3d
  run python3 "$BATS_TEST_DIRNAME/lib/pop3.py" chat "$PPORT" < <(printf 'USER demo\nPASS wrong\nQUIT\n')
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
  grep -q 'event=login-failed ip=127.0.0.1 user=demo method=user tls=0 reason=bad-credentials failures=1' "$BATS_TEST_TMPDIR/pop3d.log"
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/data/logins.gdbm")" = "$U-pop3 $U-recv 660" ]
  run as "$U-smtpd" sh -c "exec 3>>'$HOME_DIR/spool/data/logins.gdbm'"
  [ "$status" -eq 0 ]
}

@test "split: a mark in spool/attempt makes route treat smtpd's file as an interrupted attempt" {
  start_smtpd
  run send_one "marked"
  [ "$status" -eq 0 ]
  name="$(basename "$(find "$HOME_DIR/spool/incoming" -type f)")"
  as "$U" touch "$HOME_DIR/spool/attempt/$name"
  run as "$U" "$LIBEXEC/route"
  [ "$status" -eq 0 ]
  # A job written on a retry carries the mark itself (mode 0400).
  [ "$(stat -c '%a' "$(find "$HOME_DIR/spool/queue/local" -type f)")" = "400" ]
  [ ! -e "$HOME_DIR/spool/attempt/$name" ]
  run as "$U" "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

# send_seq N: messages 1..N over smtpd, each carrying "X-Seq: <i>".
send_seq() {
  python3 - "$SPORT" "$1" <<'EOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
for i in range(1, int(sys.argv[2]) + 1):
    s.sendmail('tester@example.org', ['demo@localhost'], 'X-Seq: %d\r\nSubject: seq\r\n\r\nbody %d\r\n' % (i, i))
s.quit()
EOF
}

# seq_delivered_once N: demo's mailbox holds N files, one per X-Seq.
seq_delivered_once() {
  local i
  [ "$(mailbox_count 2)" -eq "$1" ] || { echo "mailbox holds $(mailbox_count 2), not $1"; return 1; }
  for ((i = 1; i <= $1; i++)); do
    [ "$(mailbox_files 2 | xargs grep -lx "X-Seq: $i" | wc -l)" -eq 1 ] || { echo "X-Seq $i not once"; return 1; }
  done
}

# route_killed_at STRACE-ARGS...: runs route as the mail user under strace,
# which kills it with SIGKILL on entry to the syscall its arguments pick;
# fails unless it was killed.
route_killed_at() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null "$@" setpriv --reuid "$U" --regid "$U" --init-groups \
    "$LIBEXEC/route" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}

@test "split crash: route killed after its jobs are in place, before retiring: the marks hold, each message once" {
  start_smtpd
  run send_seq 3
  [ "$status" -eq 0 ]
  route_killed_at -e trace=syncfs -e inject=syncfs:signal=KILL:when=2
  [ "$(incoming_count)" -eq 3 ]
  [ "$(ls "$HOME_DIR/spool/attempt" | wc -l)" -eq 3 ]
  [ "$(find "$HOME_DIR/spool/queue/local" -type f -perm 0660 | wc -l)" -eq 3 ]
  # A deliver-local on the jobs before the rerun, and a reader flagging the
  # messages: only the mark makes the rerun look for them under any flags.
  run as "$U" "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  for f in "$HOME_DIR/spool/mailbox/2/new/"*; do
    as "$U-pop3" mv "$f" "$HOME_DIR/spool/mailbox/2/cur/$(basename "$f"):2,FS"
  done
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  run seq_delivered_once 3
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(ls "$HOME_DIR/spool/attempt" | wc -l)" -eq 0 ]
}

@test "split crash: route killed between retiring and unmarking: delivered once, the stray mark swept later" {
  start_smtpd
  run send_one "retired"
  [ "$status" -eq 0 ]
  name="$(basename "$(find "$HOME_DIR/spool/incoming" -type f)")"
  route_killed_at -e trace=unlink -P "$HOME_DIR/spool/attempt/$name" -e inject=unlink:signal=KILL:when=1
  [ "$(incoming_count)" -eq 0 ]
  [ -e "$HOME_DIR/spool/attempt/$name" ]
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  [ -e "$HOME_DIR/spool/attempt/$name" ]
  touch -d '2 days ago' "$HOME_DIR/spool/attempt/$name"
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [ ! -e "$HOME_DIR/spool/attempt/$name" ]
  [[ "$output" == *"event=mark-removed file=$name"* ]]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "split: smtpd's uid is refused the mailboxes, the queues and the user database's writes" {
  start_smtpd
  run send_one "to be read"
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$(mailbox_count 2)" -eq 1 ]
  m="$(mailbox_files 2)"
  run as "$U-smtpd" cat "$m"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" ls "$HOME_DIR/spool/mailbox"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" sh -c "echo x >> '$HOME_DIR/spool/data/users.gdbm'"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" sh -c "echo x > '$HOME_DIR/spool/data/planted' && mv -f '$HOME_DIR/spool/data/planted' '$HOME_DIR/spool/data/users.gdbm'"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" sh -c "echo x > '$HOME_DIR/spool/queue/local/planted'"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" ls "$HOME_DIR/spool/body"
  [ "$status" -ne 0 ]
  run as "$U-smtpd" sh -c "echo x > '$HOME_DIR/etc/alias.cfg'"
  [ "$status" -ne 0 ]
  as "$U-smtpd" cat "$HOME_DIR/spool/data/users.gdbm" >/dev/null
  "$BBSMAIL_ROOT/bin/bbsmail-user" list >/dev/null
  [ "$(stat -c '%s' "$HOME_DIR/spool/data/users.gdbm")" -gt 1 ]
}

@test "split: pop3d's uid is refused the spool's queues and the user database's writes" {
  start_smtpd
  run send_one "queued"
  [ "$(incoming_count)" -eq 1 ]
  f="$(find "$HOME_DIR/spool/incoming" -type f)"
  run as "$U-pop3" cat "$f"
  [ "$status" -ne 0 ]
  run as "$U-pop3" sh -c "echo x > '$HOME_DIR/spool/incoming/planted'"
  [ "$status" -ne 0 ]
  run as "$U-pop3" sh -c "echo x > '$HOME_DIR/spool/tmp/planted'"
  [ "$status" -ne 0 ]
  run as "$U-pop3" sh -c "echo x >> '$HOME_DIR/spool/data/users.gdbm'"
  [ "$status" -ne 0 ]
  run as "$U-pop3" sh -c "echo x > '$HOME_DIR/spool/trigger'"
  [ "$status" -ne 0 ]
  [ "$(find "$HOME_DIR" -name planted | wc -l)" -eq 0 ]
}

@test "smtpd and pop3d -u: refused for root, an unknown user, or a uid that is neither root nor the user" {
  for prog in smtpd pop3d; do
    run "$LIBEXEC/$prog" -u root < /dev/null
    [ "$status" -eq 111 ]
    [[ "$output" == *"-u root: refusing to run as root"* ]]
    run "$LIBEXEC/$prog" -u "bbsmt-none$$" < /dev/null
    [ "$status" -eq 111 ]
    [[ "$output" == *"-u bbsmt-none$$: no such user"* ]]
    run as "$U-pop3" "$LIBEXEC/$prog" -u "$U-smtpd" < /dev/null
    [ "$status" -eq 111 ]
    [[ "$output" == *"-u $U-smtpd: running as uid $(id -u "$U-pop3"), neither root nor $U-smtpd"* ]]
  done
}

@test "split: smtpd's uid reads the presence files and the users' #tag lists: SEND and #tags work" {
  printf 'spammed\n' > "$HOME_DIR/spool/data/user/2.smtptags"
  touch "$HOME_DIR/spool/presence/2"
  "$BBSMAIL_ROOT/scripts/set-permissions" --split -u "$U" -g "$U-drop" "$HOME_DIR" >/dev/null
  [ "$(stat -c '%G %a' "$HOME_DIR/spool/presence")" = "$U-queue 2750" ]
  [ "$(stat -c '%G %a' "$HOME_DIR/spool/data/user")" = "$U-recv 2750" ]
  start_smtpd
  run python3 - "$SPORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('client.example')
codes = [s.docmd('SEND FROM:<a@example.org>')[0], s.docmd('RCPT TO:<demo@localhost>')[0], s.docmd('DATA')[0]]
s.send(b'hello demo\r\n.\r\n')
print(*codes, s.getreply()[0])
s.rset()
print(s.docmd('MAIL FROM:<a@example.org>')[0], s.docmd('RCPT TO:<demo#news@localhost>')[0],
      s.docmd('RCPT TO:<demo#spammed@localhost>')[0])
s.quit()
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "250 250 354 250" ]
  [ "${lines[1]}" = "250 250 550" ]
  [ "$(find "$HOME_DIR/spool/telegram/2" -type f | wc -l)" -eq 1 ]
  [ "$(stat -c '%U %G %a' "$(find "$HOME_DIR/spool/telegram/2" -type f)")" = "$U-smtpd $U-queue 660" ]
}

@test "split: ETRN through runq: smtpd leaves the request in spool/etrn, runq releases the domain's deferred jobs" {
  # A deferred remote job for example.org, made as root, then given to the
  # mail user like everything else.
  inject 1 x@example.org 2>/dev/null
  "$LIBEXEC/pickup" 2>/dev/null
  job="$(ls "$HOME_DIR/spool/incoming")"
  "$LIBEXEC/route" 2>/dev/null
  defer_job remote "$job" "$(future_bucket)" 1 0
  "$BBSMAIL_ROOT/scripts/set-permissions" --split -u "$U" -g "$U-drop" "$HOME_DIR" >/dev/null
  [ "$(deferred_count remote)" -eq 1 ]
  start_smtpd
  run python3 - "$SPORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
code, text = s.ehlo('client.example')
print('ETRN' in text.decode().split('\n'), *s.docmd('ETRN example.org'))
print(*s.docmd('ETRN #nosuchqueue'))
s.quit()
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "True 250 b'2.0.0 OK, queuing for node example.org started'" ]
  [ "${lines[1]}" = "459 b'4.7.1 #nosuchqueue: node not allowed'" ]
  [ "$(find "$HOME_DIR/spool/etrn" -type f | wc -l)" -eq 1 ]
  [ "$(stat -c '%U %G %a' "$(find "$HOME_DIR/spool/etrn" -type f)")" = "$U-smtpd $U-queue 660" ]
  grep -q 'event=etrn ip=127.0.0.1 domain=example.org code=250 status=2.0.0 released=0 reason="left for runq"' "$BATS_TEST_TMPDIR/smtpd.log"
  [ "$(deferred_count remote)" -eq 1 ]
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [[ "$output" == *"runq: info: event=etrn-request file="*" node=example.org released=1"* ]]
  [ "$(find "$HOME_DIR/spool/etrn" -type f | wc -l)" -eq 0 ]
  # Back in its queue (NO_SENDMAIL keeps deliver-remote from sending it).
  [ "$(deferred_count remote)" -eq 0 ]
  [ -e "$HOME_DIR/spool/queue/remote/$job" ]
}

@test "split: a malformed ETRN request is removed and logged" {
  printf 'bad domain\n' > "$HOME_DIR/spool/etrn/x1"
  run as "$U" "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [[ "$output" == *"runq: warning: event=etrn-request file=x1 status=malformed"* ]]
  [ ! -e "$HOME_DIR/spool/etrn/x1" ]
}
