#!/usr/bin/env bats
# Regressions for the confirmed findings of the hardening review: each test
# failed against the code before its fix.  Every wait is bounded.

load helper
load lib/smtp
load lib/pop3

HARDEN_PY="$BATS_TEST_DIRNAME/lib/hardening.py"

# serve_one VAR PROGRAM: like serve, but tcpserver -c 1, so one stuck session
# is enough to keep every other client out.
serve_one() {
  local var="$1" port
  shift
  port="$(free_port)"
  tcpserver -c 1 -H -R -l localhost 127.0.0.1 "$port" "$@" 2>>"$BATS_TEST_TMPDIR/$var.log" &
  track_pid $!
  wait_port "$port"
  printf -v "$var" '%s' "$port"
}

# wait_log FILE PATTERN SECONDS: 0 once PATTERN is in FILE.
wait_log() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    grep -q -e "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1 after $3 s:" >&2
  cat "$1" >&2
  return 1
}

# ---- 1: a client that stops reading --------------------------------------

@test "finding 1: smtpd: a client that never reads its replies is dropped after MaxInactivity; the next client is greeted" {
  make_home
  set_mail_key MaxInactivity 2
  serve_one SMTP_PORT "$LIBEXEC/smtpd"
  python3 "$HARDEN_PY" stall "$SMTP_PORT" HELP 200000 120 > "$BATS_TEST_TMPDIR/stall.out" &
  track_pid $!
  wait_log "$BATS_TEST_TMPDIR/SMTP_PORT.log" 'event=close ip=127.0.0.1 messages=0 reason=write-timeout' 60
  run timeout 30 python3 "$HARDEN_PY" greet "$SMTP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "220 localhost ESMTP bbsmail" ]
}

@test "finding 1: pop3d: a client that never reads its CAPA replies is dropped after MaxInactivity; the next client is greeted" {
  pop3_home
  set_mail_key MaxInactivity 2
  serve_one POP3_PORT "$LIBEXEC/pop3d"
  python3 "$HARDEN_PY" stall "$POP3_PORT" CAPA 200000 120 > "$BATS_TEST_TMPDIR/stall.out" &
  track_pid $!
  wait_log "$BATS_TEST_TMPDIR/POP3_PORT.log" 'event=disconnect ip=127.0.0.1 reason=write-timeout' 60
  run timeout 30 python3 "$HARDEN_PY" greet "$POP3_PORT"
  [ "$status" -eq 0 ]
  [[ "$output" == "+OK bbsmail POP3 server ready <"* ]]
}
