#!/usr/bin/env bats
# DNS blacklists in smtpd: etc/dns_blacklist.cfg looked up through a real
# dnsmasq on loopback, clients connecting from 127.0.0.2 (RFC 5782's test
# entry, listed) and 127.0.0.3 (clean), each DNSBL_* action, the tags,
# etc/dnsbl_exempt.cfg, the time budget, spam.hash and Received: checks.
load helper
load lib/dnsmasq
load lib/remote
load lib/session

setup() {
  make_home
  dnsmasq_start --host-record=2.0.0.127.bl.test,127.0.0.2 \
    --host-record=2.0.0.127.second.test,127.0.0.10 \
    --host-record=2.0.0.127.err.test,127.255.255.254 \
    --host-record=2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test,127.0.0.2
  set_mail_key DNSServer "$DNSMASQ_SERVER"
  printf 'bl.test\nsecond.test\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  echo 'PARAM dnsbl-timeout 3' > "$HOME_DIR/etc/smtpserver.conf"
}

# message FILE SUBJECT [BODY] [EXTRA-HEADER]: a small message in FILE.
message() {
  {
    [ -z "${4:-}" ] || printf '%s\n' "$4"
    printf 'From: Spammer <s@far.example>\nSubject: %s\nX-Spam-Flag: NO\n  continued\n\n%s\n' "$2" "${3:-buy now}"
  } > "$1"
}

send_from() {
  local ip="$1" file="$2"
  session "$ip" 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' "DATA:$file" QUIT
}

@test "dnsbl: a listed client is logged, in spam.log, and its mail tagged (X-DNSBL, X-Spam-Flag, Subject)" {
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello"
  run send_from 127.0.0.2 "$BATS_TEST_TMPDIR/m"
  [ "$status" -eq 0 ]
  [ "${lines[0]:0:4}" = "220 " ]
  [ "${lines[4]:0:4}" = "354 " ]
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'event=dnsbl ip=127.0.0.2 listed=127.0.0.2 zone=bl.test answer=127.0.0.2 in=client: SMTP BLACKLISTED SERVER on bl.test: 127.0.0.2' \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ "$(wc -l < "$HOME_DIR/spool/data/spam.log")" -eq 1 ]
  grep -q ' SMTP BLACKLISTED SERVER on bl.test: 127.0.0.2 \[unknown\] answer=127.0.0.2$' "$HOME_DIR/spool/data/spam.log"
  f="$(spooled)"
  # The header as stored: the client's X-Spam-Flag (and its continuation)
  # gone, the Subject tagged in place, the tags at the header's end.
  run sed -n '/^From: Spammer/,/^$/p' "$f"
  [ "${lines[0]}" = "From: Spammer <s@far.example>" ]
  [ "${lines[1]}" = "Subject: SPAM: hello" ]
  [ "${lines[2]}" = "X-DNSBL: bl.test" ]
  [ "${lines[3]}" = "X-Spam-Flag: YES" ]
  [ "${#lines[@]}" -eq 4 ]
  tail -n 1 "$f" | grep -qx 'buy now'
}

@test "dnsbl: a clean client's mail is untagged, and its own X-Spam-Flag removed" {
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run sed -n '/^From: Spammer/,/^$/p' "$(spooled)"
  [ "${lines[0]}" = "From: Spammer <s@far.example>" ]
  [ "${lines[1]}" = "Subject: hello" ]
  [ "${#lines[@]}" -eq 2 ]
  [ ! -e "$HOME_DIR/spool/data/spam.log" ]
  ! grep -q 'BLACKLISTED' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "dnsbl: 127.0.0.1 is not looked up; the rest of 127.0.0.0/8 is" {
  start_smtpd
  run session 127.0.0.1 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
  ! grep -q '1.0.0.127.bl.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  run session 127.0.0.3 QUIT
  grep -q 'query\[A\] 3.0.0.127.bl.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  grep -q 'query\[A\] 3.0.0.127.second.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
}

@test "dnsbl: DNSBL_REFUSE: 554 5.7.1 instead of the greeting, then the connection closes" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_REFUSE"
  start_smtpd
  run session 127.0.0.2 'EHLO client.example'
  [ "${lines[0]}" = "554 5.7.1 Your server 127.0.0.2 is listed by bl.test: no mail accepted" ]
  [ "${lines[1]}" = "EOF" ]
  run session 127.0.0.3 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
}

@test "dnsbl: DNSBL_BADUSER: every RCPT 550 5.7.1, then DATA 554 no valid recipients" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_BADUSER"
  start_smtpd
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' DATA QUIT
  [ "${lines[2]}" = "250 2.1.0 Ok" ]
  [ "${lines[3]}" = "550 5.7.1 Invalid mailbox: your server 127.0.0.2 is listed by bl.test" ]
  [ "${lines[4]}" = "554 5.5.1 No valid recipients" ]
}

@test "dnsbl: DNSBL_IGNORE: 250 and dropped (nothing spooled), logged" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_IGNORE"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello"
  run send_from 127.0.0.2 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ -z "$(spooled)" ]
  grep -q 'event=dnsbl-ignore ip=127.0.0.2 zone=bl.test rcpt=1: message dropped' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m"
  [ "$(spooled | wc -l)" -eq 1 ]
}

@test "dnsbl: DNSBL_THROTTLE: a listed client waits a second a command, a clean one does not" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_THROTTLE"
  start_smtpd
  local t0 t1
  t0=$(date +%s%N)
  run session 127.0.0.2 NOOP NOOP QUIT
  t1=$(date +%s%N)
  [ "${lines[3]:0:4}" = "221 " ]
  [ $(( (t1 - t0) / 1000000 )) -ge 2900 ]
  # The clean client's three commands: no second each (a lower bound on
  # the listed one above, an upper bound far above any scheduling delay).
  t0=$(date +%s%N)
  run session 127.0.0.3 NOOP NOOP QUIT
  t1=$(date +%s%N)
  [ "${lines[3]:0:4}" = "221 " ]
  [ $(( (t1 - t0) / 1000000 )) -lt 2900 ]
}

@test "dnsbl: the first zone in the file that lists the client wins; answer lists and error codes" {
  printf 'second.test\nbl.test\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  start_smtpd
  run session 127.0.0.2 QUIT
  grep -q 'listed=127.0.0.2 zone=second.test answer=127.0.0.10' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # second.test counts only 127.0.0.4 now: its 127.0.0.10 is no listing.
  : > "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  printf 'err.test\nsecond.test 127.0.0.4\nbl.test\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  run session 127.0.0.2 QUIT
  grep -q 'listed=127.0.0.2 zone=bl.test answer=127.0.0.2' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # err.test's 127.255.255.254 is an error code, never a listing.
  printf 'err.test\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  : > "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run session 127.0.0.2 QUIT
  grep -q 'query\[A\] 2.0.0.127.err.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  ! grep -q 'BLACKLISTED' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "dnsbl: a malformed dns_blacklist.cfg line is logged with file and line and skipped" {
  printf 'bad_zone!\nbl.test 127.0.0.2,notanip\nbl.test 127.0.0.2\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  start_smtpd
  run session 127.0.0.2 QUIT
  grep -q 'etc/dns_blacklist.cfg:1: not a DNS zone: bad_zone! (skipped)' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'etc/dns_blacklist.cfg:2: bad answer list' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'listed=127.0.0.2 zone=bl.test answer=127.0.0.2' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "dnsbl: dnsbl_exempt.cfg: an exempt network is not looked up; an exempt sender's mail is untagged" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_BADUSER"
  printf '; exemptions\n127.0.0.0/30\n' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  start_smtpd
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' QUIT
  [ "${lines[3]}" = "250 2.1.5 Ok" ]
  ! grep -q '2.0.0.127.bl.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  # A sender address (as deliver-remote writes them) exempts that sender.
  printf 'friend@far.example\n' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<friend@far.example>' 'RCPT TO:<demo@localhost>' \
    'MAIL FROM:<s@far.example>' QUIT
  [ "${lines[3]}" = "250 2.1.5 Ok" ]
  grep -q 'zone=bl.test' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  set_options "ALLOW_POP3 | NO_SENDMAIL"
  printf '*@far.example\n' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  message "$BATS_TEST_TMPDIR/m" "hello"
  run send_from 127.0.0.2 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run sed -n '/^From: Spammer/,/^$/p' "$(spooled)"
  [ "${lines[1]}" = "Subject: hello" ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "dnsbl: a DNS server that never answers costs the time budget, then the greeting" {
  # A UDP socket that reads nothing: every query is lost.
  local port
  port="$(free_port)"
  python3 -c 'import socket,time,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1]))); time.sleep(120)' "$port" &
  track_pid $!
  set_mail_key DNSServer "127.0.0.1:$port"
  echo 'PARAM dnsbl-timeout 1' > "$HOME_DIR/etc/smtpserver.conf"
  start_smtpd
  local t0 t1
  t0=$(date +%s%N)
  run session 127.0.0.2 QUIT
  t1=$(date +%s%N)
  [ "${lines[0]:0:4}" = "220 " ]
  [ "${lines[1]:0:4}" = "221 " ]
  [ $(( (t1 - t0) / 1000000 )) -ge 900 ]
  grep -q 'event=dnsbl-incomplete ip=127.0.0.2 lookups=2 failed=2' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "dnsbl: DNSBL_SPAMHASH: a listed client's body is remembered; the same body from a clean client is refused" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_SPAMHASH"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello" "cheap pills, today only"
  run send_from 127.0.0.2 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  message "$BATS_TEST_TMPDIR/m2" "other subject" "cheap pills, today only"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m2"
  [ "${lines[5]}" = "554 5.7.1 Message refused: its body matches known spam" ]
  message "$BATS_TEST_TMPDIR/m3" "other subject" "a different body"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m3"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 2 ]
}

@test "dnsbl: DNSBL_CHKRECVHDRS: a listed address in a Received: field tags the mail (Subject held until the header ends)" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_CHKRECVHDRS"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello" "buy now" \
    "$(printf 'Subject: first\nReceived: from relay (relay [10.1.2.3])\n\tby x; Tue, 1 Dec 2026 10:00:00 +0000\nReceived: from spam (spam [127.0.0.2])')"
  sed -i '0,/^Subject: first$/{/^Subject: first$/d}' "$BATS_TEST_TMPDIR/m"
  # Subject after the Received fields in this one; the tag still applies.
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'listed=127.0.0.2 zone=bl.test answer=127.0.0.2 in=received' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'query\[A\] 3.2.1.10.bl.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  run sed -n '/^From: Spammer/,/^$/p' "$(spooled)"
  [ "${lines[0]}" = "From: Spammer <s@far.example>" ]
  [ "${lines[1]}" = "X-DNSBL: bl.test" ]
  [ "${lines[2]}" = "X-Spam-Flag: YES" ]
  [ "${lines[3]}" = "Subject: SPAM: hello" ]
  [ "${#lines[@]}" -eq 4 ]
  grep -q 'in=Received$' "$HOME_DIR/spool/data/spam.log"
}

@test "dnsbl: DNSBL_CHKRECVHDRS with DNSBL_REFUSE: the message is refused at the end of DATA" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_CHKRECVHDRS | DNSBL_REFUSE"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "hello" "buy now" "Received: from spam (spam [127.0.0.2]) by x; Tue, 1 Dec 2026 10:00:00 +0000"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m"
  [ "${lines[5]}" = "554 5.7.1 Message refused: it passed through 127.0.0.2, listed by bl.test" ]
  [ -z "$(spooled)" ]
}

@test "dnsbl: an IPv6 client is looked up by its 32 nibbles; a host name in dnsbl_exempt.cfg exempts" {
  # smtpd on fd 0/1 with the environment tcpserver would give an IPv6
  # client (loopback has no other IPv6 address to connect from).
  printf 'EHLO client.example\r\nQUIT\r\n' > "$BATS_TEST_TMPDIR/in"
  TCPREMOTEIP=2001:db8::2 TCPLOCALIP=::1 TCPLOCALPORT=25 \
    "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
  grep -q 'listed=2001:db8::2 zone=bl.test answer=127.0.0.2' "$BATS_TEST_TMPDIR/err"
  printf '*.friendly.example\n' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  : > "$BATS_TEST_TMPDIR/dnsmasq.log"
  TCPREMOTEIP=2001:db8::2 TCPREMOTEHOST=mx.friendly.example TCPLOCALIP=::1 TCPLOCALPORT=25 \
    "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
  ! grep -q 'BLACKLISTED' "$BATS_TEST_TMPDIR/err"
  ! grep -q 'bl.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  head -c 4 "$BATS_TEST_TMPDIR/out" | grep -qx '220 '
}

@test "dnsbl: #nospam hides the DNSBL-tagged message from POP3; a plain login sees both" {
  start_smtpd
  serve POP3_PORT "$LIBEXEC/pop3d"
  message "$BATS_TEST_TMPDIR/m" "spam"
  send_from 127.0.0.2 "$BATS_TEST_TMPDIR/m" > /dev/null
  message "$BATS_TEST_TMPDIR/m2" "ham" "hello friend"
  send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m2" > /dev/null
  run_stages
  [ "$(mailbox_count 2)" -eq 2 ]
  run python3 - "$POP3_PORT" <<'PY'
import poplib, sys
for user in ('demo#nospam', 'demo'):
    p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
    p.user(user); p.pass_('demo')
    print(user, p.stat()[0])
    p.quit()
PY
  [ "${lines[0]}" = "demo#nospam 1" ]
  [ "${lines[1]}" = "demo 2" ]
}

@test "dnsbl: DNSBL_CHKRECVHDRS: no Received field leaves the mail alone; an exempt sender's Received fields are not acted on" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | DNSBL_CHKRECVHDRS | DNSBL_REFUSE"
  printf 'friend@far.example\n' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m" "plain"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  message "$BATS_TEST_TMPDIR/m2" "hello" "buy now" "Received: from spam (spam [127.0.0.2]) by x; Tue, 1 Dec 2026 10:00:00 +0000"
  run session 127.0.0.3 'EHLO client.example' 'MAIL FROM:<friend@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m2" QUIT
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  ! grep -q 'BLACKLISTED' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ "$(spooled | wc -l)" -eq 2 ]
}
