#!/usr/bin/env bats
# smtpd: SMTP smuggling (disclosed December 2023).  Only CRLF.CRLF ends DATA; a bare
# LF or CR refuses the message (550 5.5.2) after the real end.  Each variant
# must give one rejection and never a second, spoofed message.
load helper
load lib/smtp

setup() { smtp_setup; }

# smuggle SEQUENCE: a message whose body holds SEQUENCE followed by a
# complete pipelined second transaction.
smuggle() {
  chat <<EOF2
$HELLO
$TO_DEMO_DATA
S Subject: first\r\n\r\nbody$1MAIL FROM:<admin@localhost>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\nSubject: spoofed\r\n\r\nevil\r\n.\r\n
R 550 5.5.2 Bare LF or bare CR
L NOOP
R 250 2.0.0
L QUIT
R 221
EOF2
}

@test 'smuggling \n.\n: one rejection, nothing spooled' {
  run smuggle '\n.\n'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
  grep -q 'event=reject cmd=DATA code=550 status=5.5.2 ip=127.0.0.1 reason=bare-newline' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test 'smuggling \r.\r: one rejection, nothing spooled' {
  run smuggle '\r.\r'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'smuggling \n.\r\n: one rejection, nothing spooled' {
  run smuggle '\n.\r\n'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'smuggling \r\n.\n: one rejection, nothing spooled' {
  run smuggle '\r\n.\n'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'smuggling \r\n.\r: one rejection, nothing spooled' {
  run smuggle '\r\n.\r'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'bare LF after a line over 998 octets still never ends DATA' {
  long=$(head -c 2000 /dev/zero | tr '\0' 'z')
  run smuggle "$long"'\n.\r\n'
  [ "$status" -eq 0 ] || { echo "$output" | cut -c1-100; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'a lone bare CR or bare LF inside a line refuses the message' {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
S a\rb\r\n.\r\n
R 550 5.5.2
$TO_DEMO_DATA
S a\nb\r\n.\r\n
R 550 5.5.2
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test 'a clean message pipelined with the next one gives exactly two' {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
S one\r\n.\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n
R 250 2.0.0
R 250 2.1.0
R 250 2.1.5
R 354
S two\r\n.\r\nQUIT\r\n
R 250 2.0.0
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 2 ]
}
