#!/usr/bin/env bats
# src/lib/loginfail (the failed-login table pop3d and smtpd share), through
# its unit driver build/t/loginfail-test in a fresh home.
load helper

@test "loginfail: record, windowed count, clear, forget, ban/throttle policy, ip.can" {
  export BBSMAIL_HOME="$BATS_TEST_TMPDIR/home"
  mkdir -p "$BBSMAIL_HOME/etc" "$BBSMAIL_HOME/spool/data"
  run timeout 20 "$BBSMAIL_ROOT/build/t/loginfail-test"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -f "$BBSMAIL_HOME/spool/data/logins.gdbm" ]
}
