#!/usr/bin/env bats
# smtpd: ESMTP parameters of MAIL and RCPT: DSN (RFC 3461),
# BODY, SMTPUTF8, AUTH=, and what ends up in the envelope.
load helper
load lib/smtp

setup() { smtp_setup; }

@test "RET, ENVID, NOTIFY, ORCPT are decoded into the envelope tags R E n o" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B314+3D SIZE=100 AUTH=<>
R 250 2.1.0
L RCPT TO:<demo@localhost> NOTIFY=success,Delay ORCPT=rfc822;Demo+40example.org
R 250 2.1.5
L RCPT TO:<sysop@localhost> NOTIFY=NEVER
R 250 2.1.5
L RCPT TO:<postmaster@localhost>
R 250 2.1.5
L DATA
R 354
L x
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run envelope_of "$(incoming_files)"
  [[ "$output" == *$'R HDRS\nE QQ+314=\nT demo@localhost\nn SUCCESS,DELAY\no rfc822;Demo@example.org\nT sysop@localhost\nn NEVER\nT postmaster@localhost' ]] || { echo "$output"; false; }
}

@test "DSN syntax errors are 501 5.5.4; unknown parameters 555 5.5.4" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org> RET=ALL
R 501 5.5.4
L MAIL FROM:<a@example.org> RET=FULL RET=HDRS
R 501 5.5.4 Duplicate
L MAIL FROM:<a@example.org> ENVID=a+2b
R 501 5.5.4
L MAIL FROM:<a@example.org> ENVID=a+0D+0Ab
R 501 5.5.4
L MAIL FROM:<a@example.org> ENVID=a+4
R 501 5.5.4
L MAIL FROM:<a@example.org> FOO=BAR
R 555 5.5.4
L MAIL FROM:<a@example.org> BODY=BINARYMIME
R 501 5.5.4
L MAIL FROM:<a@example.org> SMTPUTF8=yes
R 501 5.5.4
L MAIL FROM:<a@example.org> RET=
R 501 5.5.4
L MAIL FROM:<a@example.org> RET=FULL
R 250 2.1.0
L RCPT TO:<demo@localhost> NOTIFY=NEVER,SUCCESS
R 501 5.5.4
L RCPT TO:<demo@localhost> NOTIFY=SUCCESS,SUCCESS
R 501 5.5.4
L RCPT TO:<demo@localhost> NOTIFY=SOMETIMES
R 501 5.5.4
L RCPT TO:<demo@localhost> ORCPT=demo@localhost
R 501 5.5.4
L RCPT TO:<demo@localhost> ORCPT=rfc822;a ORCPT=rfc822;b
R 501 5.5.4 Duplicate
L RCPT TO:<demo@localhost> SIZE=10
R 555 5.5.4
L RCPT TO:<demo@localhost> NOTIFY=FAILURE
R 250 2.1.5
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "PARAM NoDSN: DSN not advertised and its parameters are 555" {
  conf_param NoDSN
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org> RET=FULL
R 555 5.5.4
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost> NOTIFY=NEVER
R 555 5.5.4
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" != *"250-DSN"* ]]
}

@test "BODY=7BIT and 8BITMIME go into the B tag" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org> BODY=7bit
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run envelope_of "$(incoming_files)"
  [[ "$output" == *"B 7BIT"* ]]
}

@test "python smtplib with DSN options" {
  run timeout 20 python3 -c "
import smtplib
s = smtplib.SMTP('127.0.0.1', $SMTP_PORT)
s.ehlo('py')
assert s.has_extn('dsn')
s.sendmail('a@example.org', ['demo@localhost'], 'Subject: dsn\r\n\r\nx\r\n',
           mail_options=['RET=HDRS', 'ENVID=py-id'], rcpt_options=['NOTIFY=SUCCESS,FAILURE'])
s.quit()"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run envelope_of "$(incoming_files)"
  [[ "$output" == *"R HDRS"* ]]
  [[ "$output" == *"E py-id"* ]]
  [[ "$output" == *"n SUCCESS,FAILURE"* ]]
}
