#!/usr/bin/env bats
# libexec/mailproc-spamc end to end: smtpd runs it from etc/mailproc.cfg,
# it asks a real spamd (Debian's) on a loopback port through spamc.  spamd
# uses local rules only (-L, dns_available no, no Bayes, no user config),
# so GTUBE (its test string) is spam and a short friendly note is not.
load helper
load lib/session

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

setup_file() {
  command -v spamd > /dev/null && command -v spamc > /dev/null || skip "spamd/spamc not installed"
  # Readable by the unprivileged user spamd's children run as.
  SA_DIR="$(mktemp -d /tmp/bbsmail-spamd.XXXXXX)"
  chmod 755 "$SA_DIR"
  cp /etc/spamassassin/v320.pre "$SA_DIR/"   # the Check plugin spamd needs
  printf 'dns_available no\nskip_rbl_checks 1\nuse_bayes 0\nbayes_auto_learn 0\nreport_safe 0\n' > "$SA_DIR/local.cf"
  SPAMD_PORT="$(free_port)"
  local user=()
  [ "$(id -u)" != 0 ] || user=(-u nobody)
  spamd --listen "127.0.0.1:$SPAMD_PORT" -L -x --siteconfigpath="$SA_DIR" -s stderr "${user[@]}" \
    > "$SA_DIR/spamd.log" 2>&1 3>&- &
  echo $! > "$SA_DIR/pid"
  local i
  for i in $(seq 1 120); do
    spamc -K -d 127.0.0.1 -p "$SPAMD_PORT" > /dev/null 2>&1 && break
    sleep 0.5
  done
  spamc -K -d 127.0.0.1 -p "$SPAMD_PORT" > /dev/null
  export SA_DIR SPAMD_PORT
}

teardown_file() {
  [ -n "${SA_DIR:-}" ] || return 0
  kill -TERM "$(cat "$SA_DIR/pid")" 2>/dev/null || true
  sleep 0.5
  kill -KILL "$(cat "$SA_DIR/pid")" 2>/dev/null || true
  rm -rf "$SA_DIR"
}

setup() {
  make_home
  printf 'timeout=60 "%s" -d 127.0.0.1 -p %s\n' "$LIBEXEC/mailproc-spamc" "$SPAMD_PORT" > "$HOME_DIR/etc/mailproc.cfg"
}

send_body() {
  printf 'From: a@far.example\nTo: demo@localhost\nSubject: note\nX-Spam-Flag: NO\n\n%s\n' "$1" > "$BATS_TEST_TMPDIR/m"
  session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<a@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

# The header of the one spooled message (the envelope ends in a NUL).
stored_header() {
  python3 -c 'import sys; print(open(sys.argv[1], "rb").read().rsplit(b"\0", 1)[1].split(b"\n\n", 1)[0].decode())' "$(spooled)"
}

@test "mailproc-spamc: GTUBE is spam: spamd's headers stored, one X-Spam-Flag: YES" {
  start_smtpd
  run send_body "$GTUBE"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; cat "$SA_DIR/spamd.log"; false; }
  run stored_header
  [ "$(printf '%s\n' "$output" | grep -c '^X-Spam-Flag: ')" -eq 1 ]
  printf '%s\n' "$output" | grep -qx 'X-Spam-Flag: YES'
  printf '%s\n' "$output" | grep -q '^X-Spam-Status: Yes, score='
  printf '%s\n' "$output" | grep -q '[=,	]GTUBE\([, ]\|$\)'
  printf '%s\n' "$output" | grep -q '^X-Spam-Checker-Version: SpamAssassin '
  tail -n 1 "$(spooled)" | grep -qxF "$GTUBE"
  grep -q 'event=mailproc-spam line=1 program=.*/libexec/mailproc-spamc' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  ! grep -q $'\r' "$(spooled)"
}

@test "mailproc-spamc: a clean note gets X-Spam-Status: No and no X-Spam-Flag" {
  start_smtpd
  run send_body "hi friend, lunch on friday?"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run stored_header
  printf '%s\n' "$output" | grep -q '^X-Spam-Status: No, score='
  ! printf '%s\n' "$output" | grep -q '^X-Spam-Flag'
  ! grep -q 'event=mailproc-spam' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "mailproc-spamc: spamd down: exit 2, the file unchanged; smtpd tempfails (or passes with onerror=pass)" {
  port="$(free_port)"
  printf 'From: a@b\n\nhello\n' > "$BATS_TEST_TMPDIR/f"
  run "$LIBEXEC/mailproc-spamc" -d 127.0.0.1 -p "$port" "$BATS_TEST_TMPDIR/f"
  [ "$status" -eq 2 ]
  [ "$(cat "$BATS_TEST_TMPDIR/f")" = "$(printf 'From: a@b\n\nhello')" ]
  [ ! -e "$BATS_TEST_TMPDIR/f.spamc" ]
  printf '"%s" -d 127.0.0.1 -p %s\n' "$LIBEXEC/mailproc-spamc" "$port" > "$HOME_DIR/etc/mailproc.cfg"
  start_smtpd
  run send_body "hello"
  [ "${lines[5]}" = "451 4.3.0 Temporary local problem, try again later" ]
  grep -q "event=mailproc-fail line=1 program=.* reason=exit-2 onerror=tempfail" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  printf 'onerror=pass "%s" -d 127.0.0.1 -p %s\n' "$LIBEXEC/mailproc-spamc" "$port" > "$HOME_DIR/etc/mailproc.cfg"
  run send_body "hello"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
}

@test "mailproc-spamc: bad usage and a missing file exit 2 (a failure to smtpd, not a refusal)" {
  run "$LIBEXEC/mailproc-spamc"
  [ "$status" -eq 2 ]
  [[ "$output" == *"usage: mailproc-spamc [--spamc=PATH] [spamc-option ...] FILE"* ]]
  run "$LIBEXEC/mailproc-spamc" -d 127.0.0.1 "$BATS_TEST_TMPDIR/none"
  [ "$status" -eq 2 ]
  [[ "$output" == *"unable to open $BATS_TEST_TMPDIR/none: No such file or directory"* ]]
}
