#!/usr/bin/env bats
# Synchronet's block lists in smtpd: ip.can, host.can, spamblock.cfg with
# spamblock_exempt.cfg, email.can, subject.can and spambait.cfg, with
# clients connecting from 127.0.0.2 and 127.0.0.3.
load helper
load lib/session

setup() {
  make_home
}

mail_to() {
  local ip="$1" rcpt="$2" file="$3"
  session "$ip" 'EHLO client.example' 'MAIL FROM:<s@far.example>' "RCPT TO:<$rcpt>" "DATA:$file" QUIT
}

@test "lists: ip.can (exact and prefix) refuses the client before the greeting; others are greeted" {
  printf '; banned\n127.0.0.2\n' > "$HOME_DIR/etc/ip.can"
  start_smtpd
  run session 127.0.0.2 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (ip.can)" ]
  [ "${lines[1]}" = "EOF" ]
  grep -q 'event=refused ip=127.0.0.2 host=unknown reason=ip.can' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run session 127.0.0.3 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
  printf '127.0.0.*\n' > "$HOME_DIR/etc/ip.can"
  run session 127.0.0.3 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (ip.can)" ]
}

@test "lists: host.can refuses a client by its host name (wildcards)" {
  printf '*.spammy.example\n' > "$HOME_DIR/etc/host.can"
  printf 'QUIT\r\n' > "$BATS_TEST_TMPDIR/in"
  TCPREMOTEIP=127.0.0.5 TCPREMOTEHOST=mx1.SPAMMY.example TCPLOCALIP=127.0.0.1 TCPLOCALPORT=25 \
    "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2>/dev/null
  [ "$(head -n 1 "$BATS_TEST_TMPDIR/out")" = $'554 5.7.1 Access denied (host.can)\r' ]
  TCPREMOTEIP=127.0.0.5 TCPREMOTEHOST=mx1.friendly.example TCPLOCALIP=127.0.0.1 TCPLOCALPORT=25 \
    "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2>/dev/null
  head -c 4 "$BATS_TEST_TMPDIR/out" | grep -qx '220 '
}

@test "lists: spamblock.cfg (a network) refuses, spamblock_exempt.cfg lets one address through" {
  printf '127.0.0.0/29 a spam network\n' > "$HOME_DIR/etc/spamblock.cfg"
  start_smtpd
  run session 127.0.0.2 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
  printf '127.0.0.2\n' > "$HOME_DIR/etc/spamblock_exempt.cfg"
  run session 127.0.0.2 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
  run session 127.0.0.3 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
  # outside 127.0.0.0/29
  run session 127.0.0.9 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
}

@test "lists: email.can refuses a sender (553 5.7.1) and a recipient (550 5.7.1) by wildcard" {
  printf '*@spammer.example\nvictim@localhost\n' > "$HOME_DIR/etc/email.can"
  start_smtpd
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<bob@Spammer.example>' 'MAIL FROM:<bob@far.example>' \
    'RCPT TO:<victim@localhost>' 'RCPT TO:<demo@localhost>' QUIT
  [ "${lines[2]}" = "553 5.7.1 Sender address blocked" ]
  [ "${lines[3]}" = "250 2.1.0 Ok" ]
  [ "${lines[4]}" = "550 5.7.1 Recipient address blocked" ]
  [ "${lines[5]}" = "250 2.1.5 Ok" ]
}

@test "lists: subject.can refuses a matching subject (folded, any case) at the end of DATA" {
  printf '*cheap pills*\n' > "$HOME_DIR/etc/subject.can"
  start_smtpd
  printf 'From: a@far.example\nSubject: Get CHEAP\n pills now\n\nbody\n' > "$BATS_TEST_TMPDIR/m"
  run mail_to 127.0.0.2 demo@localhost "$BATS_TEST_TMPDIR/m"
  [ "${lines[5]}" = "554 5.7.1 Message refused: subject blocked" ]
  printf 'From: a@far.example\nSubject: lunch?\n\nbody\n' > "$BATS_TEST_TMPDIR/m2"
  run mail_to 127.0.0.2 demo@localhost "$BATS_TEST_TMPDIR/m2"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 1 ]
}

@test "lists: spambait.cfg: the message is accepted and dropped, the client spamblocked once, then refused" {
  printf 'bait@localhost\n' > "$HOME_DIR/etc/spambait.cfg"
  start_smtpd
  printf 'From: a@far.example\nSubject: offer\n\nbody\n' > "$BATS_TEST_TMPDIR/m"
  # Two sessions at once take the bait: one line in spamblock.cfg.
  mail_to 127.0.0.2 bait@localhost "$BATS_TEST_TMPDIR/m" > "$BATS_TEST_TMPDIR/a" &
  local pid=$!
  mail_to 127.0.0.2 bait@localhost "$BATS_TEST_TMPDIR/m" > "$BATS_TEST_TMPDIR/b"
  wait "$pid"
  for f in a b; do
    run cat "$BATS_TEST_TMPDIR/$f"
    if [ "${lines[0]:0:4}" = "220 " ]; then
      [ "${lines[3]}" = "250 2.1.5 Ok" ]
      [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
    else
      # the other session came after the first one's RCPT: refused
      [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
    fi
  done
  [ -z "$(spooled)" ]
  [ "$(grep -c '^127\.0\.0\.2$' "$HOME_DIR/etc/spamblock.cfg")" -eq 1 ]
  grep -q '^; mail to a spam bait address' "$HOME_DIR/etc/spamblock.cfg"
  run session 127.0.0.2 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
  run session 127.0.0.3 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
}
