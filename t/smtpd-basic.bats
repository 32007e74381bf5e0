#!/usr/bin/env bats
# smtpd: greeting, verbs, sequence errors, malformed command lines.
load helper
load lib/smtp

setup() { smtp_setup; }

@test "greeting names HostName; QUIT says 221" {
  run chat <<'EOF2'
R 220 localhost ESMTP bbsmail
L QUIT
R 221 2.0.0 localhost
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "< 220 localhost ESMTP bbsmail" ]
}

@test "hdr220 metatags %H %i %% are expanded" {
  conf_param 'hdr220 "%H mail at %i, 100%% %Q"'
  run chat <<'EOF2'
R 220
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "< 220 localhost mail at 127.0.0.1, 100% %Q" ]
}

@test "EHLO advertises exactly the extensions" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "< 250-localhost Hello client.example [127.0.0.1]" ]
  [ "${lines[2]}" = "< 250-PIPELINING" ]
  [ "${lines[3]}" = "< 250-SIZE 20971520" ]
  [ "${lines[4]}" = "< 250-8BITMIME" ]
  [ "${lines[5]}" = "< 250-ENHANCEDSTATUSCODES" ]
  [ "${lines[6]}" = "< 250-CHUNKING" ]
  [ "${lines[7]}" = "< 250-SMTPUTF8" ]
  [ "${lines[8]}" = "< 250-DSN" ]
  [ "${lines[9]}" = "< 250-ETRN" ]
  # No certificate in this home: no STARTTLS; CRAM-MD5 alone without TLS.
  [ "${lines[10]}" = "< 250-AUTH CRAM-MD5" ]
  [ "${lines[11]}" = "< 250 HELP" ]
  [ "${#lines[@]}" -eq 13 ]
}

@test "PARAM disablers remove extensions; NoEHLO makes EHLO unknown" {
  conf_param NoPIPELINING No8BITMIME NoCHUNKING NoDSN NoSMTPUTF8 NoETRN
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L MAIL FROM:<a@example.org> BODY=8BITMIME
R 555 5.5.4
L BDAT 0 LAST
R 500 5.5.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[2]}" = "< 250-SIZE 20971520" ]
  [ "${lines[3]}" = "< 250-ENHANCEDSTATUSCODES" ]
  [ "${lines[4]}" = "< 250-AUTH CRAM-MD5" ]
  [ "${lines[5]}" = "< 250 HELP" ]
  : > "$HOME_DIR/etc/smtpserver.conf"
  conf_param NoEHLO NoENHANCEDSTATUSCODES
  run chat <<'EOF2'
R 220
L EHLO client.example
R 500 Command unrecognized
L HELO client.example
R 250 localhost Hello client.example [127.0.0.1]
L MAIL FROM:<a@example.org>
R 250 Ok
L QUIT
R 221 localhost
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "HELO, NOOP, RSET, HELP with PARAM help lines" {
  conf_param 'help "Mail problems: ask the sysop"'
  run chat <<'EOF2'
R 220
L HELO client.example
R 250 localhost Hello client.example [127.0.0.1]
L NOOP
R 250 2.0.0 Ok
L RSET
R 250 2.0.0 Ok
L HELP
R 214 2.0.0 End of HELP info
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 214-2.0.0 Commands: HELO EHLO AUTH MAIL RCPT DATA BDAT SEND SOML SAML RSET NOOP QUIT HELP VRFY ETRN"$'\n'* ]]
  [[ "$output" == *"< 214-2.0.0 Mail problems: ask the sysop"* ]]
}

@test "HELP names only what the session offers: STARTTLS with a certificate, EXPN with EXPNcmd, no ETRN or BDAT when disabled" {
  tls_setup_file
  tls_home
  conf_param EXPNcmd NoETRN NoCHUNKING
  run chat <<'EOF2'
R 220
L HELP
R 214 2.0.0 End of HELP info
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 214-2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA SEND SOML SAML RSET NOOP QUIT HELP VRFY EXPN"$'\n'* ]]
}

@test "HELO without a name is 501 5.5.4; a HELO pattern with !text refuses" {
  echo 'bad.example * !Go away' >> "$HOME_DIR/etc/smtpserver.conf"
  run chat <<'EOF2'
R 220
L HELO
R 501 5.5.4
L EHLO bad.example
R 550 5.7.1 Go away
L MAIL FROM:<a@example.org>
R 503 5.5.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "VRFY 252 and EXPN 502 by default" {
  run chat <<'EOF2'
R 220
L VRFY demo
R 252 2.5.2
L EXPN demo
R 502 5.5.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "VRFYcmd and EXPNcmd answer through the resolver" {
  conf_param VRFYcmd EXPNcmd
  run chat <<'EOF2'
R 220
L VRFY demo
R 250 2.1.5 <demo@localhost>
L VRFY <nobody@localhost>
R 550 5.1.1
L EXPN postmaster
R 250 2.1.5
L VRFY someone@example.org
R 252 2.5.2
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "sequence errors: MAIL before HELO, RCPT before MAIL, MAIL twice, DATA without RCPT" {
  run chat <<'EOF2'
R 220
L MAIL FROM:<a@example.org>
R 503 5.5.1 Send HELO/EHLO first
L EHLO client.example
R 250
L RCPT TO:<demo@localhost>
R 503 5.5.1 Need MAIL
L DATA
R 503 5.5.1 Need MAIL
L MAIL FROM:<a@example.org>
R 250 2.1.0
L MAIL FROM:<a@example.org>
R 503 5.5.1 Nested MAIL
L DATA
R 503 5.5.1 Need RCPT
L RCPT TO:<nobody@localhost>
R 550 5.1.1
L DATA
R 554 5.5.1 No valid recipients
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "unknown command is 500 5.5.1; the 11th error closes with 421 4.7.0" {
  run chat <<'EOF2'
R 220
REP 10 FOO{i}\r\n
N 10
L BAR
R 421 4.7.0 localhost
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '< 500 5.5.1 Command unrecognized' <<<"$output")" -eq 10 ]
  grep -q 'event=close ip=127.0.0.1 messages=0 reason=too-many-errors' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "PARAM max-unknown-commands 2" {
  conf_param 'max-unknown-commands 2'
  run chat <<'EOF2'
R 220
L X1
R 500
L X2
R 500
L X3
R 421 4.7.0
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "bare LF, bare CR and NUL in a command are 500 5.5.2; the session goes on" {
  run chat <<'EOF2'
R 220
S NOOP\n
R 500 5.5.2 Bare LF
S NO\rOP\r\n
R 500 5.5.2 Bare CR
S NO\0OP\r\n
R 500 5.5.2 NUL
S HELO a\0b\r\n
R 500 5.5.2 NUL
L NOOP
R 250 2.0.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "a 100 KB command line is 500 5.5.2 and the session goes on" {
  long=$(head -c 102400 /dev/zero | tr '\0' 'A')
  run chat <<EOF2
R 220
L EHLO $long
R 500 5.5.2 Line too long
L NOOP
R 250 2.0.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output" | cut -c1-200; false; }
}

@test "a command of exactly 1000 octets with CRLF is taken, 1001 is too long" {
  ok=$(head -c 993 /dev/zero | tr '\0' 'a')    # "NOOP " + 993 + CRLF = 1000
  run chat <<EOF2
R 220
L NOOP $ok
R 250 2.0.0
L NOOP a$ok
R 500 5.5.2 Line too long
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output" | cut -c1-200; false; }
}

@test "MaxInactivity: idle client gets 421 4.4.2 Timeout" {
  set_mail_key MaxInactivity 1
  start=$(date +%s)
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
R 421 4.4.2 localhost Timeout
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ $(( $(date +%s) - start )) -le 4 ]
}

@test "a bad mail.ini value: 421 4.3.0 before anything else" {
  set_mail_key MaxRecipients lots
  run chat <<'EOF2'
R 421 4.3.0 localhost
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'smtpd: fatal' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "connect and close are logged, one line each" {
  run chat <<'EOF2'
R 220
L QUIT
R 221
EOF2
  sleep 0.2
  log="$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # wait_port's probe is a connection too: every connect has its close.
  connects=$(grep -c "smtpd: info: session=[0-9]* event=connect ip=127.0.0.1 host=unknown local=127.0.0.1:$SMTP_PORT mode=smtp\$" "$log")
  [ "$connects" -ge 1 ]
  [ "$(grep -c 'smtpd: info: session=[0-9]* event=close ' "$log")" -eq "$connects" ]
  [ "$(grep -c 'smtpd: info: session=[0-9]* event=close ip=127.0.0.1 messages=0 reason=quit' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 1 ]
}

@test "inetd/systemd style: no TCP* variables, the peer comes from getpeername" {
  run timeout 20 python3 - "$LIBEXEC/smtpd" <<'EOF2'
import socket, subprocess, sys, os
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname())
a, _ = ls.accept()
env = {k: v for k, v in os.environ.items() if not k.startswith("TCP")}
p = subprocess.Popen([sys.argv[1]], stdin=a.fileno(), stdout=a.fileno(), stderr=subprocess.PIPE, env=env)
a.close()
c.sendall(b"EHLO me\r\nQUIT\r\n")
data = b""
while True:
    d = c.recv(4096)
    if not d: break
    data += d
p.wait()
sys.stdout.write(data.decode())
sys.stdout.write(p.stderr.read().decode())
EOF2
  [ "$status" -eq 0 ]
  [[ "$output" == *"250-localhost Hello me [127.0.0.1]"* ]]
  [[ "$output" == *"event=connect ip=127.0.0.1 host=unknown local=127.0.0.1:"* ]]
}

@test "-d DIR names the home; a bad option is a usage error (100)" {
  run "$LIBEXEC/smtpd" -x </dev/null
  [ "$status" -eq 100 ]
  [[ "$output" == *"usage: smtpd [-d home]"* ]]
  run env -u BBSMAIL_HOME "$LIBEXEC/smtpd" -d "$HOME_DIR" <<<$'QUIT\r'
  [ "$status" -eq 0 ]
  [[ "$output" == *"220 localhost ESMTP bbsmail"* ]]
}

@test "swaks and python smtplib deliver into spool/incoming" {
  run timeout 20 swaks --server 127.0.0.1:$SMTP_PORT --to demo@localhost --from a@example.org --body hello
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run timeout 20 python3 -c "
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', $SMTP_PORT)
s.sendmail('b@example.org', ['demo@localhost', 'sysop@localhost'], 'Subject: t\r\n\r\nhi\r\n')
s.quit()"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 2 ]
}

@test "LogLevel = Warning: no info or notice lines" {
  set_mail_key LogLevel Warning
  : > "$BATS_TEST_TMPDIR/SMTP_PORT.log"   # wait_port's probe was logged at Info
  run chat <<'EOF2'
R 220
L FOO
R 500
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ]
  sleep 0.2
  ! grep -q 'smtpd: info\|smtpd: notice' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}
