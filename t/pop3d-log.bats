#!/usr/bin/env bats
# pop3d's log: session=<pid> on every line of a session, and the names and
# command lines a client sent quoted so they cannot forge a field
# (pop3d(8) LOG; the rule is smtpd's, parsed by t/lib/smtp_log.py).
load helper
load lib/pop3
load lib/smtp

setup() {
  pop3_home
  printf 'Subject: hi\n\nhi\n' | put_message 2 1700000001.M1P1.test
}

@test "USER with a forged ip= field: one quoted user= value, one ip= field" {
  start_pop3d
  run pop3_chat <<< $'USER z ip=6.6.6.6 event=login\nPASS x\nQUIT'
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  sid="$(log_session "$log" 'event=login-failed')"
  [ -n "$sid" ]
  line="$(grep 'event=login-failed' "$log")"
  [ "$line" = "pop3d: notice: session=$sid event=login-failed ip=127.0.0.1 user=\"z ip=6.6.6.6 event=login\" method=user tls=0 reason=unknown-user failures=1" ]
  [ "$(log_count ip "$line")" -eq 1 ]
  [ "$(log_count event "$line")" -eq 1 ]
}

@test "AUTH PLAIN with a forged name: the authcid is one quoted user= value" {
  start_pop3d
  run pop3_chat <<< "AUTH PLAIN $(printf '\0x ip=6.6.6.6\0pw' | base64 -w0)"$'\nQUIT'
  [ "${lines[1]}" = "-ERR [AUTH] Authentication failed" ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  sid="$(log_session "$log" 'event=login-failed')"
  [ "$(grep 'event=login-failed' "$log")" = "pop3d: notice: session=$sid event=login-failed ip=127.0.0.1 user=\"x ip=6.6.6.6\" method=auth-plain tls=0 reason=unknown-user failures=1" ]
}

@test "connect, login and quit of one session carry the same session=" {
  start_pop3d
  run pop3_chat <<< $'USER demo\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 1 message (19 octets)" ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  sid="$(log_session "$log" 'event=login ')"
  [ -n "$sid" ]
  run grep "^pop3d: [a-z]*: session=$sid " "$log"
  [ "${#lines[@]}" -eq 3 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "pop3d: info: session=$sid event=connect ip=127.0.0.1 mode=pop3" ]
  [ "${lines[1]}" = "pop3d: info: session=$sid event=login ip=127.0.0.1 user=demo number=2 method=user tls=0 nospam=0 messages=1 octets=19" ]
  [ "${lines[2]}" = "pop3d: info: session=$sid event=quit ip=127.0.0.1 user=demo retrieved=0 deleted=0 failed=0 left=1" ]
  [ "$(grep -vc '^pop3d: [a-z]*: session=[0-9][0-9]* ' "$log")" -eq 0 ]
}

@test "DEBUG_POP3: command and reply lines are one quoted value; the password masked" {
  set_options "ALLOW_POP3 | DEBUG_POP3"
  set_mail_key LogLevel Debug
  start_pop3d
  run pop3_chat <<< $'USER a"b\nPASS secret\nQUIT'
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  sid="$(log_session "$log" 'command="USER')"
  [ -n "$sid" ]
  grep -qxF "pop3d: debug: session=$sid command=\"USER a\\\"b\"" "$log"
  grep -qxF "pop3d: debug: session=$sid command=\"PASS ********\"" "$log"
  grep -qxF "pop3d: debug: session=$sid reply=\"-ERR [AUTH] invalid user name or password\"" "$log"
  grep -qxF "pop3d: notice: session=$sid event=login-failed ip=127.0.0.1 user=\"a\\\"b\" method=user tls=0 reason=unknown-user failures=1" "$log"
  ! grep -q secret "$log" || false
}
