#!/usr/bin/env bats
# libexec/pickup: every file of spool/drop/ is checked (type, links, owner,
# size, a strict record) before it becomes spool/incoming/<id>; the
# submitter is the file's owner; a kill at each step loses and duplicates
# nothing; sendmail run by a drop-group member or setgid works end to end.
# CI runs as root: the test users and group are made here and removed in
# teardown_file.

load helper
load lib/stages

setup_file() {
  local tag="$$"
  echo "bbsmt-pkg-$tag bbsmt-pku-$tag bbsmt-pkm-$tag" > "$BATS_FILE_TMPDIR/names"
  groupadd "bbsmt-pkg-$tag"
  useradd -M -N -g nogroup -s /usr/sbin/nologin "bbsmt-pku-$tag"           # outside the drop group
  useradd -M -N -g nogroup -G "bbsmt-pkg-$tag" -s /usr/sbin/nologin "bbsmt-pkm-$tag"   # a member
}

teardown_file() {
  local group user member
  read -r group user member < "$BATS_FILE_TMPDIR/names"
  userdel "$user" 2>/dev/null || true
  userdel "$member" 2>/dev/null || true
  groupdel "$group" 2>/dev/null || true
}

setup() {
  read -r DROP_GROUP PLAIN_USER MEMBER < "$BATS_FILE_TMPDIR/names"
  # A home every test user can reach (the Bats temp dirs are private).
  HOME_ROOT="$(mktemp -d /tmp/bbsmt-pickup.XXXXXX)"
  chmod 0755 "$HOME_ROOT"
  BATS_TEST_TMPDIR="$HOME_ROOT" make_home
  chmod 0755 "$HOME_DIR" "$HOME_DIR/etc" "$HOME_DIR/spool"
  chmod 0644 "$HOME_DIR/etc/mail.ini" "$HOME_DIR/etc/smtpserver.conf"
  DROP="$HOME_DIR/spool/drop"
  # The mail user owns spool/drop/; here that is not the test (root), so
  # sendmail leaves its file for pickup instead of taking it itself.
  chown nobody:"$DROP_GROUP" "$DROP"
  chmod 3730 "$DROP"
}

teardown() {
  kill_tracked
  rm -rf "$HOME_ROOT"
}

drop_count() { find "$DROP" -mindepth 1 | wc -l; }
bad_count() { find "$HOME_DIR/spool/drop-bad" -mindepth 1 | wc -l; }
incoming_file() { find "$(SPOOL)/incoming" -type f | head -1; }

# plant NAME FIELD...: a complete drop file written by hand (fields are
# tag+value, the message follows the end mark).
plant() {
  local name="$1"
  shift
  python3 - "$DROP/$name" "$@" <<'EOF'
import os, sys
path, fields = sys.argv[1], sys.argv[2:]
data = b"".join(f.encode() + b"\0" for f in fields) + b"\0" + b"Subject: planted\n\nbody\n"
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o200)
os.write(fd, data)
os.fchmod(fd, 0o704)
os.close(fd)
EOF
}

# run_pickup: pickup once, its log in $output.
run_pickup() { run "$LIBEXEC/pickup"; }

@test "pickup: a planted file claiming an authenticated user and a client address is refused, nothing spooled" {
  plant claim Vdrop1 Udemo A192.0.2.1 Tdemo@localhost
  plant copy V1 I123 D1 Ftester@localhost A192.0.2.1 Uasmtp PESMTPSA Tdemo@localhost
  run_pickup
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(drop_count)" -eq 0 ]
  [ "$(bad_count)" -eq 2 ]
  [[ "$output" == *"pickup: warning: event=refuse drop=claim uid=0 reason=\"unknown field\" moved=drop-bad/"* ]]
  [[ "$output" == *"pickup: warning: event=refuse drop=copy uid=0 reason=\"not a drop file (no Vdrop1)\" moved=drop-bad/"* ]]
  [ "$(grep -c 'event=refuse' <<<"$output")" -eq 2 ]
}

@test "pickup: the incoming envelope has protocol local and no client, HELO or auth fields" {
  plant ok Vdrop1 Ftester@localhost Tdemo@localhost
  run_pickup
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  run record_fields "$(incoming_file)"
  [ "${lines[0]}" = "V1" ]
  [ "${lines[3]}" = "Ftester@localhost" ]
  [ "${lines[4]}" = "Plocal" ]
  [ "${lines[5]}" = "Tdemo@localhost" ]
  [ "${#lines[@]}" -eq 6 ]
}

@test "pickup: the submitter is the file's owner, whatever the file says" {
  plant owned Vdrop1 Tdemo@localhost
  chown nobody "$DROP/owned"
  run_pickup
  [ "$status" -eq 0 ]
  uid="$(id -u nobody)"
  [[ "$output" =~ ^pickup:\ info:\ id=[0-9a-f.]+\ event=accept\ drop=owned\ uid=$uid\ user=nobody\ from=\<nobody@localhost\>\ rcpt=1\ size=[0-9]+$ ]]
  run record_fields "$(incoming_file)"
  [ "${lines[3]}" = "Fnobody@localhost" ]
  msg="$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.write(d[d.index(b"\0\0")+2:].decode())' "$(incoming_file)")"
  [[ "$(head -n 1 <<<"$msg")" =~ ^Received:\ from\ local\ user\ \(uid\ $uid\)\ by\ localhost\  ]]
  [ "$(sed -n 3p <<<"$msg")" = "From: nobody@localhost" ]
}

@test "pickup: symlinks, hard links, FIFOs, directories, garbage and oversized files are refused with a log line" {
  echo secret > "$HOME_ROOT/target"
  ln -s "$HOME_ROOT/target" "$DROP/symlink"
  plant linked Vdrop1 Tdemo@localhost
  ln "$DROP/linked" "$HOME_ROOT/second-name"
  mkfifo "$DROP/fifo"
  mkdir "$DROP/dir"
  head -c 200 /dev/urandom > "$DROP/garbage"; chmod 0704 "$DROP/garbage"
  printf 'Vdrop1\0Tdemo@localhost\0\0no newline at the end' > "$DROP/unterminated"; chmod 0704 "$DROP/unterminated"
  printf 'Vdrop1\0Tdemo@localhost\0Tdemo@localhost\0Rfull\0\0' > "$DROP/badret"; chmod 0704 "$DROP/badret"
  printf 'Vdrop1\0T<demo@localhost> NOTIFY=NEVER\0\0' > "$DROP/badrcpt"; chmod 0704 "$DROP/badrcpt"
  set_mail_key MaxMsgSize 1K
  { printf 'Vdrop1\0Tdemo@localhost\0\0'; head -c 2000 /dev/zero | tr '\0' 'x'; echo; } > "$DROP/big"; chmod 0704 "$DROP/big"
  run_pickup
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(cat "$HOME_ROOT/target")" = "secret" ]
  [ "$(drop_count)" -eq 0 ]
  [ "$(bad_count)" -eq 9 ]
  for pair in symlink:'"not a regular file"' linked:'"hard link"' fifo:'"not a regular file"' dir:'"not a regular file"' \
              garbage:'"not a drop file (no Vdrop1)"' unterminated:'"message without LF line ends"' \
              badret:'"field after the recipients"' badrcpt:'"bad recipient"' big:'"larger than MaxMsgSize"'; do
    grep -qF "event=refuse drop=${pair%%:*} uid=0 reason=${pair#*:} moved=drop-bad/" <<<"$output"
  done
  [ "$(grep -c 'event=refuse' <<<"$output")" -eq 9 ]
}

@test "pickup: a file without its complete mark is left alone while young and removed when old" {
  printf 'Vdrop1\0Tdemo@localhost\0\0' > "$DROP/young"; chmod 0200 "$DROP/young"
  printf 'Vdrop1\0Tdemo@localhost\0\0' > "$DROP/old"; chmod 0200 "$DROP/old"
  touch -d '2 hours ago' "$DROP/old"
  run_pickup
  [ "$status" -eq 0 ]
  [ "$output" = "pickup: warning: event=remove-incomplete drop=old uid=0" ]
  [ "$(incoming_count)" -eq 0 ]
  [ -f "$DROP/young" ]
  [ "$(drop_count)" -eq 1 ]
}

# kill_pickup SYSCALL N: pickup killed at its Nth SYSCALL, then run again.
kill_pickup() {
  printf 'Subject: crash\n\nkill test\n' | sendmail demo
  [ "$(drop_count)" -eq 1 ]
  run timeout 20 strace -f -qq -o /dev/null -e trace="$1" -e inject="$1":signal=KILL:when="$2" "$LIBEXEC/pickup"
  [ "$status" -ne 0 ]
  run_pickup
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(drop_count)" -eq 0 ]
  [ "$(find "$(SPOOL)/tmp" -name 'pickup.*' | wc -l)" -eq 0 ]
  [ "$(tail -n 1 "$(incoming_file)")" = "kill test" ]
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "pickup crash: killed at the copy's fsync" { kill_pickup fsync 1; }
@test "pickup crash: killed at the drop file's unlink" { kill_pickup unlink 1; }
@test "pickup crash: killed at spool/drop's fsync" { kill_pickup fsync 2; }
@test "pickup crash: killed at the rename into incoming" { kill_pickup rename 1; }
@test "pickup crash: killed at spool/incoming's fsync" { kill_pickup fsync 3; }

@test "sendmail crash: killed before its file is complete: nothing is spooled, exit not 0, the file stays until old" {
  run timeout 20 strace -f -qq -o /dev/null -e trace=fchmod -e inject=fchmod:signal=KILL:when=1 \
    sendmail demo < /dev/null
  [ "$status" -ne 0 ]
  run_pickup
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(drop_count)" -eq 1 ]
}

@test "sendmail by a member of the drop group: the file is theirs, unreadable to other members, and picked up under their name" {
  uid="$(id -u "$MEMBER")"
  run setpriv --reuid "$MEMBER" --regid nogroup --init-groups "$BBSMAIL_ROOT/bin/sendmail" demo <<<"Subject: member"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sendmail:\ info:\ event=drop\ name=[0-9a-f.]+\ rcpt=1\ uid=$uid$ ]]
  f="$(find "$DROP" -type f)"
  [ "$(stat -c '%U %G %a' "$f")" = "$MEMBER $DROP_GROUP 704" ]
  # Another member can create files but can neither list nor read this one.
  run setpriv --reuid "$PLAIN_USER" --regid nogroup --groups "$DROP_GROUP" ls "$DROP"
  [ "$status" -ne 0 ]
  run setpriv --reuid "$PLAIN_USER" --regid nogroup --groups "$DROP_GROUP" cat "$f"
  [ "$status" -ne 0 ]
  run_pickup
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=accept drop=${f##*/} uid=$uid user=$MEMBER from=<$MEMBER@localhost> rcpt=1 "* ]]
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "sendmail setgid to the drop group, run by a plain user: end to end into the Maildir; without setgid it cannot" {
  uid="$(id -u "$PLAIN_USER")"
  mkdir -m 0755 "$HOME_ROOT/sbin"
  cp "$BBSMAIL_ROOT/bin/sendmail" "$HOME_ROOT/sbin/sendmail"
  run setpriv --reuid "$PLAIN_USER" --regid nogroup --clear-groups "$HOME_ROOT/sbin/sendmail" demo <<<"Subject: plain"
  [ "$status" -eq 73 ]
  [ "$(drop_count)" -eq 0 ]
  chgrp "$DROP_GROUP" "$HOME_ROOT/sbin/sendmail"
  chmod 2755 "$HOME_ROOT/sbin/sendmail"
  printf 'Subject: setgid\n\nfrom a plain user\n' > "$HOME_ROOT/msg"
  # LeakSanitizer cannot run in a set-id process: a SANITIZE=1 build is run
  # with the drop group as a supplementary group instead of setgid.
  groups=(--clear-groups)
  ! grep -q __asan_init "$HOME_ROOT/sbin/sendmail" || { groups=(--groups "$DROP_GROUP"); chmod g-s "$HOME_ROOT/sbin/sendmail"; }
  run setpriv --reuid "$PLAIN_USER" --regid nogroup "${groups[@]}" "$HOME_ROOT/sbin/sendmail" demo < "$HOME_ROOT/msg"
  [ "$status" -eq 0 ]
  [ "$(stat -c '%U' "$(find "$DROP" -type f)")" = "$PLAIN_USER" ]
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
  f="$(mailbox_files 2)"
  grep -q "^Received: from local user (uid $uid) by localhost (bbsmail)" "$f"
  grep -qx "From: $PLAIN_USER@localhost" "$f"
  [ "$(tail -n 1 "$f")" = "from a plain user" ]
}
