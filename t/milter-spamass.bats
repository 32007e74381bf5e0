#!/usr/bin/env bats
# Debian's spamass-milter as a milter of smtpd (PARAM milter), asking a
# spamd of its own on a loopback port (local rules only, as in
# t/mailproc-spamc.bats).  With -r it refuses GTUBE; without it, it tags:
# its X-Spam-Flag: YES is smtpd's spam tag, which #nospam in pop3d hides.
load helper
load lib/session
load lib/pop3
load lib/milters

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

setup_file() { spamd_start "$BATS_FILE_TMPDIR/spamd"; }
teardown_file() { spamd_stop; }

setup() {
  make_home
}

# milter_on [spamass-milter option...]
milter_on() {
  spamass_start "$@"
  echo "PARAM milter $SPAMASS_SOCKET name=spamass default=tempfail content-timeout=60s" > "$HOME_DIR/etc/smtpserver.conf"
}

send_body() {
  printf 'From: a@far.example\nTo: demo@localhost\nSubject: note\nX-Spam-Flag: NO\n\n%s\n' "$1" > "$BATS_TEST_TMPDIR/m"
  session 127.0.0.3 'EHLO client.example' 'MAIL FROM:<a@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

# The header of the one spooled message, one line a field (unfolded).
stored_header() {
  "$MILTER_PY" -c 'import sys, re
m = open(sys.argv[1], "rb").read().rsplit(b"\0", 1)[1].decode()
print(re.sub(r"\n[ \t]+", " ", m.split("\n\n", 1)[0]))' "$(spooled)"
}

@test "spamass-milter -r 15: GTUBE is refused with 550 5.7.1 Blocked by SpamAssassin; nothing spooled" {
  milter_on -r 15
  start_smtpd
  run send_body "$GTUBE"
  [ "${lines[5]}" = "550 5.7.1 Blocked by SpamAssassin" ] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log" "$MILTER_DIR/spamass.log"; false; }
  [ "${lines[6]}" = "221 2.0.0 localhost closing connection" ]
  [ -z "$(spooled)" ]
  grep -q 'event=reject cmd=DATA code=550 ' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "spamass-milter -r 15: a clean note is stored with X-Spam-Status: No and no X-Spam-Flag" {
  milter_on -r 15
  start_smtpd
  run send_body "hi friend, lunch on friday?"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; false; }
  run stored_header
  [ "$(printf '%s\n' "$output" | grep -c '^X-Spam-Status: No, score=')" -eq 1 ]
  printf '%s\n' "$output" | grep -q '^X-Spam-Checker-Version: SpamAssassin '
  ! printf '%s\n' "$output" | grep -q '^X-Spam-Flag'
}

@test "spamass-milter tagging: GTUBE stored with one X-Spam-Flag: YES; demo#nospam does not see it, demo does" {
  milter_on -m
  start_smtpd
  run send_body "$GTUBE"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; false; }
  run stored_header
  [ "$(printf '%s\n' "$output" | grep -c '^X-Spam-Flag: ')" -eq 1 ]
  printf '%s\n' "$output" | grep -qx 'X-Spam-Flag: YES'
  printf '%s\n' "$output" | grep -q '^X-Spam-Status: Yes, score=.* tests=.*GTUBE'
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
  start_pop3d
  run timeout 30 "$MILTER_PY" - "$POP3_PORT" <<'PY'
import poplib, sys
for user in ('demo#nospam', 'demo'):
    p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=10)
    p.user(user); p.pass_('demo')
    print(user, p.stat()[0])
    p.quit()
PY
  [ "${lines[0]}" = "demo#nospam 0" ]
  [ "${lines[1]}" = "demo 1" ]
}
