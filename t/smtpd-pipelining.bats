#!/usr/bin/env bats
# smtpd: PIPELINING (RFC 2920): a whole batch in one write gets every reply,
# in order, with no deadlock.
load helper
load lib/smtp

setup() { smtp_setup; }

@test "EHLO MAIL RCPT RCPT DATA in one write: five replies, then the message" {
  run chat <<'EOF2'
R 220
S EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<demo@localhost>\r\nRCPT TO:<nobody@localhost>\r\nDATA\r\n
R 250 HELP
R 250 2.1.0
R 250 2.1.5
R 550 5.1.1
R 354
S Subject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n
R 250 2.0.0 Ok: queued as
R 221
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 1 ]
  run envelope_of "$(incoming_files)"
  [[ "$output" == *"T demo@localhost"* ]]
  [[ "$output" != *"nobody"* ]]
}

@test "a whole session in one write, including the message and QUIT" {
  run chat <<'EOF2'
S EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\nSubject: all at once\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<sysop@localhost>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n
R 220
R 250 HELP
R 250 2.1.0
R 250 2.1.5
R 354
R 250 2.0.0
R 250 2.0.0 Ok
R 250 2.1.0
R 250 2.1.5
R 354
R 250 2.0.0 Ok: queued
R 221
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 2 ]
}

@test "a 2,000-command pipelined batch with big replies does not deadlock" {
  # Replies (HELP is 3 lines) outgrow the socket buffers while the client is
  # still writing: the server must keep reading and writing.
  run chat <<'EOF2'
R 220
REP 2000 HELP\r\n
N 2000
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output" | tail -3; false; }
  [ "$(grep -c '^< 214 2.0.0 End of HELP info' <<<"$output")" -eq 2000 ]
}

@test "python smtplib pipelines through send_message" {
  run timeout 20 python3 -c "
import smtplib
from email.message import EmailMessage
m = EmailMessage(); m['Subject'] = 'smtplib'; m['From'] = 'a@example.org'; m['To'] = 'demo@localhost'
m.set_content('hello\n.leading dot\n')
s = smtplib.SMTP('127.0.0.1', $SMTP_PORT)
s.ehlo('py.example')
assert s.has_extn('pipelining')
s.send_message(m)
s.quit()"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 1 ]
  message_of "$(incoming_files)" | grep -qx '.leading dot'
}
