#!/usr/bin/env bats
# bin/sendmail: options, added headers, the spool file it writes, exit codes.

load helper
load lib/stages

setup() { make_home; }

# the only incoming file
incoming_file() { find "$(SPOOL)/incoming" -type f | head -1; }
# the message part of the only incoming file
incoming_message() {
  python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d[d.index(b"\0\0")+2:])' "$(incoming_file)"
}

@test "sendmail: recipients as arguments, envelope fields, exit 0" {
  run sendmail -f tester@localhost demo '<sysop@LOCALHOST>' < /dev/null
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  run record_fields "$(incoming_file)"
  [ "${lines[0]}" = "V1" ]
  [[ "${lines[1]}" =~ ^I[0-9a-f.]+$ ]]
  [ "${lines[3]}" = "Ftester@localhost" ]
  [ "${lines[4]}" = "Plocal" ]
  [ "${lines[5]}" = "Tdemo@localhost" ]
  [ "${lines[6]}" = "Tsysop@LOCALHOST" ]
  [ "${#lines[@]}" -eq 7 ]
}

@test "sendmail: adds Received, From, Date and Message-ID when missing" {
  printf 'Subject: hi\n\nhello\n' | sendmail -f tester@localhost demo
  run incoming_message
  [[ "${lines[0]}" =~ ^Received:\ from\ local\ user\ \(uid\ [0-9]+\)\ by\ localhost\ \(bbsmail\)\ id\ [0-9a-f.]+\;\ [A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ 20[0-9]{2}\ [0-9:]{8}\ [-+][0-9]{4}$ ]]
  [ "${lines[1]}" = "Subject: hi" ]
  [ "${lines[2]}" = "From: tester@localhost" ]
  [[ "${lines[3]}" =~ ^Date:\ [A-Z][a-z]{2},\  ]]
  [[ "${lines[4]}" =~ ^Message-ID:\ \<[0-9a-f.]+@localhost\>$ ]]
  [ "${lines[5]}" = "hello" ]
  [ "${#lines[@]}" -eq 6 ]
}

@test "sendmail: keeps the sender's From, Date and Message-ID byte-exact" {
  inject 1 demo
  run incoming_message
  tail -n +2 <<<"$output" > "$BATS_TEST_TMPDIR/got"
  cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/sent/1"
}

@test "sendmail: CRLF input is stored with LF, a missing last newline is added" {
  printf 'Subject: crlf\r\n\r\nline one\r\nline two' | sendmail -f tester@localhost demo
  incoming_message | tail -n +2 > "$BATS_TEST_TMPDIR/got"
  run grep -c $'\r' "$BATS_TEST_TMPDIR/got"
  [ "$output" = "0" ]
  [ "$(tail -n 2 "$BATS_TEST_TMPDIR/got")" = $'line one\nline two' ]
  [ "$(tail -c 1 "$BATS_TEST_TMPDIR/got" | od -An -c | tr -d ' ')" = '\n' ]
}

@test "sendmail: a lone dot ends input unless -i or -oi" {
  printf 'Subject: d\n\nbefore\n.\nafter\n' | sendmail demo
  run incoming_message
  [ "${lines[-1]}" = "before" ]
  rm -f "$(SPOOL)"/incoming/*
  printf 'Subject: d\n\nbefore\n.\nafter\n' | sendmail -i demo
  run incoming_message
  [ "${lines[-2]}" = "." ]
  [ "${lines[-1]}" = "after" ]
  rm -f "$(SPOOL)"/incoming/*
  printf 'Subject: d\n\nbefore\n.\nafter\n' | sendmail -oi -oem demo
  run incoming_message
  [ "${lines[-1]}" = "after" ]
}

@test "sendmail -t: recipients from To, Cc and Bcc; Bcc removed" {
  printf 'To: "Demo, User" <demo@localhost>, (comment) sysop\nCc: friends: postmaster@localhost;\nBcc: DEMO@localhost\nSubject: t\n\nbody\n' \
    | sendmail -t -f tester@localhost
  run record_fields "$(incoming_file)"
  [ "${lines[5]}" = "Tdemo@localhost" ]
  [ "${lines[6]}" = "Tsysop@localhost" ]
  [ "${lines[7]}" = "Tpostmaster@localhost" ]
  [ "${lines[8]}" = "TDEMO@localhost" ]
  [ "${#lines[@]}" -eq 9 ]
  run incoming_message
  [ "${lines[1]}" = 'To: "Demo, User" <demo@localhost>, (comment) sysop' ]
  [ "${lines[2]}" = "Cc: friends: postmaster@localhost;" ]
  [ "${lines[3]}" = "Subject: t" ]
  run grep -ci '^bcc' <(incoming_message)
  [ "$output" = "0" ]
}

@test "sendmail -t: a folded To header; argument recipients are added" {
  printf 'To: demo@localhost,\n  sysop@localhost\nSubject: f\n\nbody\n' | sendmail -t postmaster
  run record_fields "$(incoming_file)"
  [ "${lines[-3]}" = "Tpostmaster@localhost" ]
  [ "${lines[-2]}" = "Tdemo@localhost" ]
  [ "${lines[-1]}" = "Tsysop@localhost" ]
}

@test "sendmail -F: From with the full name when the message has none" {
  printf 'Subject: f\n\nbody\n' | sendmail -F 'Joe "Q" User' -f joe@localhost demo
  run incoming_message
  [ "${lines[2]}" = 'From: "Joe \"Q\" User" <joe@localhost>' ]
  rm -f "$(SPOOL)"/incoming/*
  printf 'From: me@localhost\nSubject: f\n\nbody\n' | sendmail -F 'Joe User' demo
  run incoming_message
  [ "${lines[1]}" = "From: me@localhost" ]
  run grep -c '^From:' <(incoming_message)
  [ "$output" = "1" ]
}

@test "sendmail -f: null sender and bracketed forms" {
  printf 'Subject: n\n\nbody\n' | sendmail -f '<>' demo
  run record_fields "$(incoming_file)"
  [ "${lines[3]}" = "F" ]
  rm -f "$(SPOOL)"/incoming/*
  printf 'Subject: n\n\nbody\n' | sendmail '-f<x@localhost>' demo
  run record_fields "$(incoming_file)"
  [ "${lines[3]}" = "Fx@localhost" ]
}

@test "sendmail: body without a header block gets a separator" {
  printf 'just a body line\nsecond\n' | sendmail -f a@localhost demo
  run incoming_message
  [ "${lines[1]}" = "From: a@localhost" ]
  [ "$(incoming_message | sed -n '5p')" = "" ]
  [ "$(incoming_message | sed -n '6p')" = "just a body line" ]
}

@test "sendmail: exit 64 for usage errors, and nothing is spooled" {
  run sendmail -Z demo < /dev/null
  [ "$status" -eq 64 ]
  run sendmail < /dev/null
  [ "$status" -eq 64 ]
  [[ "$output" == *"no recipients"* ]]
  run sendmail -- -oi < /dev/null
  [ "$status" -eq 64 ]
  [[ "$output" == *"starts with '-'"* ]]
  run sendmail -bs < /dev/null
  [ "$status" -eq 64 ]
  run sendmail -f 'bad@@x' demo < /dev/null
  [ "$status" -eq 64 ]
  run sendmail -F $'a\nb' demo < /dev/null
  [ "$status" -eq 64 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "sendmail: exit 67 for a bad or unknown recipient" {
  run sendmail 'a@@b' < /dev/null
  [ "$status" -eq 67 ]
  run sendmail nosuchuser < /dev/null
  [ "$status" -eq 67 ]
  [[ "$output" == *"nosuchuser@localhost: 550"* ]]
  run sendmail $'de\rmo' < /dev/null
  [ "$status" -eq 67 ]
  run sendmail '<>' < /dev/null
  [ "$status" -eq 67 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "sendmail: exit 65 when the message is larger than MaxMsgSize" {
  set_mail_key MaxMsgSize 1K
  run sendmail demo < <(head -c 3000 /dev/zero | tr '\0' 'x')
  [ "$status" -eq 65 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "sendmail: exit 75 when the user database is unreadable, 73 when spool/drop is missing" {
  mv "$(SPOOL)/data/users.gdbm" "$BATS_TEST_TMPDIR/users.gdbm"
  run sendmail demo < /dev/null
  [ "$status" -eq 75 ]
  mv "$BATS_TEST_TMPDIR/users.gdbm" "$(SPOOL)/data/users.gdbm"
  rmdir "$(SPOOL)/drop"
  run sendmail demo < /dev/null
  [ "$status" -eq 73 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "sendmail: without spool/tmp the message waits in spool/drop (exit 0), and pickup takes it later" {
  rmdir "$(SPOOL)/tmp"
  run sendmail demo < /dev/null
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(find "$(SPOOL)/drop" -type f | wc -l)" -eq 1 ]
  mkdir -m 0700 "$(SPOOL)/tmp"
  run "$LIBEXEC/pickup"
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(find "$(SPOOL)/drop" -type f | wc -l)" -eq 0 ]
}

@test "sendmail: the log line" {
  run sendmail -f tester@localhost demo sysop < /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sendmail:\ info:\ id=[0-9a-f.]+\ event=accept\ from=\<tester@localhost\>\ rcpt=2\ size=[0-9]+\ uid=[0-9]+$ ]]
}
