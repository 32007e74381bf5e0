#!/usr/bin/env bats
# libexec/pop3d failed logins: [AUTH] replies, log lines, and the
# LoginAttempt* policy kept per client IP in spool/data/logins.gdbm.
load helper
load lib/pop3

setup() {
  pop3_home "LoginAttemptDelay = 300" "LoginAttemptThrottle = 200" \
    "LoginAttemptHackThreshold = 2" "LoginAttemptTempBanThreshold = 3" \
    "LoginAttemptTempBanDuration = 60"
  printf 'Subject: hi\n\nhi\n' | put_message 2 1700000001.M1P1.test
  start_pop3d
}

# Milliseconds a command script takes.
timed_chat() {
  local start end
  start=$(date +%s%N)
  pop3_chat > "$BATS_TEST_TMPDIR/chat.out"
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

@test "a bad password or unknown user: -ERR [AUTH] after LoginAttemptDelay, logged" {
  ms="$(timed_chat <<< $'USER demo\nPASS nope\nUSER ghost\nPASS demo\nUSER demo\nPASS demo\nQUIT')"
  run cat "$BATS_TEST_TMPDIR/chat.out"
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
  [ "${lines[4]}" = "-ERR [AUTH] invalid user name or password" ]
  [ "${lines[6]}" = "+OK demo has 1 message (19 octets)" ]
  [ "$ms" -ge 600 ]
  grep -q 'pop3d: notice: session=[0-9]* event=login-failed ip=127.0.0.1 user=demo method=user tls=0 reason=bad-credentials failures=1' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login-failed ip=127.0.0.1 user=ghost method=user tls=0 reason=unknown-user failures=2' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'pop3d: warning: session=[0-9]* event=hack-attempt ip=127.0.0.1 user=ghost failures=2' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "failures survive the connection: the next one is throttled, a success clears them" {
  pop3_chat <<< $'USER demo\nPASS x\nQUIT' >/dev/null
  pop3_chat <<< $'USER demo\nPASS x\nQUIT' >/dev/null
  [ -f "$HOME_DIR/spool/data/logins.gdbm" ]
  # 2 failures x 200 ms before the greeting.
  ms="$(timed_chat <<< $'USER demo\nPASS demo\nQUIT')"
  [ "$ms" -ge 400 ]
  grep -q 'event=throttle ip=127.0.0.1 failures=2 delay_ms=400' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  # That login succeeded and forgot them: no throttle now, and two more
  # failures stay below the ban threshold.
  pop3_chat <<< $'QUIT' >/dev/null
  [ "$(grep -c 'event=throttle' "$BATS_TEST_TMPDIR/POP3_PORT.log")" -eq 1 ]
  pop3_chat <<< $'USER demo\nPASS x\nUSER demo\nPASS x\nUSER demo\nPASS demo\nQUIT' > "$BATS_TEST_TMPDIR/out"
  grep -q '^+OK demo has 1 message' "$BATS_TEST_TMPDIR/out"
}

@test "past LoginAttemptTempBanThreshold even the right password gets [LOGIN-DELAY]" {
  run pop3_chat <<< $'USER demo\nPASS a\nUSER demo\nPASS b\nUSER demo\nPASS c\nUSER demo\nPASS demo\nQUIT'
  [ "${lines[6]}" = "-ERR [AUTH] invalid user name or password" ]
  [[ "${lines[8]}" =~ ^-ERR\ \[LOGIN-DELAY\]\ too\ many\ failed\ logins\ from\ 127\.0\.0\.1,\ try\ again\ in\ (59|60)\ seconds$ ]]
  grep -q 'event=temp-ban ip=127.0.0.1 failures=3 seconds=60' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  # Across connections too, and APOP is refused the same way.
  bbsmail-user apop demo --secret s >/dev/null
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
try:
    p.apop("demo", "s")
except poplib.error_proto as e:
    print(e.args[0].decode()[:19])
PY
  [ "$output" = "-ERR [LOGIN-DELAY] " ]
  # The mailbox was never opened.
  [ ! -e "$(mailbox_dir 2)/bbsmail-pop3.lock" ]
}

@test "LoginAttemptFilterThreshold adds the address to ip.can, which refuses it" {
  set_mail_key LoginAttemptFilterThreshold 2
  set_mail_key LoginAttemptDelay 10
  pop3_chat <<< $'USER demo\nPASS a\nUSER demo\nPASS b\nQUIT' >/dev/null
  grep -qx '127.0.0.1' "$HOME_DIR/etc/ip.can"
  grep -q '^; pop3d: 2 failed logins, last as demo' "$HOME_DIR/etc/ip.can"
  run pop3_chat <<< 'QUIT'
  [ "${lines[0]}" = "-ERR [SYS/PERM] your address is blocked" ]
  [ "${lines[1]}" = "<eof>" ]
  grep -q 'event=refused ip=127.0.0.1 reason=ip.can' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "a disabled user cannot log in" {
  bbsmail-user set demo --flags disabled >/dev/null
  run pop3_chat <<< $'USER demo\nPASS demo\nQUIT'
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
  grep -q 'reason=disabled' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}
