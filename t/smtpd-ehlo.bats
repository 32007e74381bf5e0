#!/usr/bin/env bats
# smtpd: every EHLO line of every service is an RFC 5321 ehlo-keyword with
# its parameters; the pre-RFC "AUTH=" line comes only with
# PARAM auth-legacy-ehlo (smtpserver.conf(5)).
load helper
load lib/smtp

EHLO_CHECK="$BATS_TEST_DIRNAME/lib/smtp_ehlo.py"

setup_file() { tls_setup_file; }
setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY"
  tls_home
}

# The services: port 25 (plain, then again after STARTTLS), submission (-m,
# plain and after STARTTLS) and SMTPS (-s).
start_services() {
  start_smtpd
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  serve SMTPS_PORT "$LIBEXEC/smtpd" -s
}

STARTTLS_SCRIPT=$'R 220\nL EHLO client.example\nR 250 HELP\nL STARTTLS\nR 220\nTLS\nL EHLO client.example\nR 250 HELP\nL QUIT\nR 221'
SMTPS_SCRIPT=$'R 220\nL EHLO client.example\nR 250 HELP\nL QUIT\nR 221'

# ehlo_lines: every EHLO extension line of the three services, each as
# "<service>/<reply> <line>", followed by "BAD ..." when it breaks the
# grammar; exit 1 if any did, 2 if a chat itself failed.
ehlo_lines() {
  local smtp submission smtps bad=0
  smtp="$(chat_port "$SMTP_PORT" <<<"$STARTTLS_SCRIPT")" || { echo "$smtp"; return 2; }
  submission="$(chat_port "$SUBMIT_PORT" <<<"$STARTTLS_SCRIPT")" || { echo "$submission"; return 2; }
  smtps="$(chats "$SMTPS_PORT" <<<"$SMTPS_SCRIPT")" || { echo "$smtps"; return 2; }
  python3 "$EHLO_CHECK" smtp <<<"$smtp" || bad=1
  python3 "$EHLO_CHECK" submission <<<"$submission" || bad=1
  python3 "$EHLO_CHECK" smtps <<<"$smtps" || bad=1
  return "$bad"
}

@test "the checker refuses AUTH=, a keyword starting with '-', a control byte" {
  run python3 "$EHLO_CHECK" <<<$'< 250-localhost Hello x [127.0.0.1]\n< 250-SIZE 100\n< 250-AUTH=PLAIN LOGIN\n< 250--X\n< 250-8BIT\tMIME\n< 250 HELP'
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "ehlo/1 SIZE 100" ]
  [ "${lines[2]}" = "BAD ehlo/1 AUTH=PLAIN LOGIN" ]
  [ "${lines[4]}" = "BAD ehlo/1 -X" ]
  [ "${lines[6]}" = "BAD ehlo/1 8BIT"$'\t'"MIME" ]
  [ "${lines[7]}" = "ehlo/1 HELP" ]
  [ "${#lines[@]}" -eq 8 ]
}

@test "every EHLO line of every service is an ehlo-keyword; no AUTH= by default" {
  start_services
  run ehlo_lines
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Five EHLO replies: smtp and submission before and after STARTTLS, smtps.
  for r in smtp/1 smtp/2 submission/1 submission/2 smtps/1; do
    [ "$(grep -c "^$r " <<<"$output")" -ge 8 ] || { echo "$output"; false; }
    [ "$(grep -c "^$r AUTH " <<<"$output")" -eq 1 ]
  done
  [ "$(grep -c '^smtp/1 STARTTLS$' <<<"$output")" -eq 1 ]
  [ "$(grep -c '^submission/1 STARTTLS$' <<<"$output")" -eq 1 ]
  [ "$(grep -c 'STARTTLS' <<<"$output")" -eq 2 ]
  [ "$(grep -c 'AUTH=' <<<"$output")" -eq 0 ]
  # Inside TLS all three mechanisms, in plain text CRAM-MD5 alone.
  grep -qx 'smtp/1 AUTH CRAM-MD5' <<<"$output"
  grep -qx 'smtp/2 AUTH PLAIN LOGIN CRAM-MD5' <<<"$output"
  grep -qx 'smtps/1 AUTH PLAIN LOGIN CRAM-MD5' <<<"$output"
}

@test "PARAM auth-legacy-ehlo adds AUTH= right after AUTH, with the same mechanisms, and nothing else changes" {
  start_services
  run ehlo_lines
  [ "$status" -eq 0 ]
  plain="$output"
  # smtpserver.conf is read by each session: the same servers now add it.
  conf_param auth-legacy-ehlo
  run ehlo_lines
  # Only the AUTH= lines break the grammar now.
  [ "$status" -eq 1 ]
  [ "$(grep -c '^BAD ' <<<"$output")" -eq 5 ] || { echo "$output"; false; }
  [ "$(grep '^BAD ' <<<"$output" | grep -vc '^BAD [a-z]*/[12] AUTH=')" -eq 0 ]
  for r in smtp/1 smtp/2 submission/1 submission/2 smtps/1; do
    [ "$(grep -c "^$r AUTH=" <<<"$output")" -eq 1 ]
    mechs="$(sed -n "s#^$r AUTH \\(.*\\)#\\1#p" <<<"$output")"
    grep -A2 "^$r AUTH " <<<"$output" | sed -n 2,3p > "$BATS_TEST_TMPDIR/next"
    [ "$(sed -n 1p "$BATS_TEST_TMPDIR/next")" = "$r AUTH=$mechs" ]
    [ "$(sed -n 2p "$BATS_TEST_TMPDIR/next")" = "BAD $r AUTH=$mechs" ]
  done
  [ "$(grep -v -e '^BAD ' -e '^[a-z]*/[12] AUTH=' <<<"$output")" = "$plain" ]
}
