#!/usr/bin/env bats
# Outbound delivery end to end: bin/sendmail -> route -> deliver-remote ->
# (a 5xx, an expired lifetime, a delay) -> deliver-bounce -> route ->
# deliver-local: the sender's notice, read with python's email package.

load helper
load lib/stages
load lib/dnsmasq
load lib/remote
load lib/notices

MX=(--mx-host=example.test,mx1.example.test,10 --host-record=mx1.example.test,127.0.0.1)

# The sender is demo (user 2), so its notices land in mailbox 2.
send_from_demo() {
  local seq="$1"
  shift
  inject "$seq" -f demo@localhost "$@"
}

@test "outbound: a 5xx bounces to the sender as an RFC 3464 report quoting the peer" {
  peer_start --rcpt bad@example.test=550
  remote_home "${MX[@]}"
  send_from_demo 1 bad@example.test
  run "$BBSMAIL_ROOT/bin/runq"
  # The notice went into spool/incoming in this pass; the next takes it home.
  "$BBSMAIL_ROOT/bin/runq" 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  run notice_facts "$(mailbox_files 2)"
  [[ "$output" == *$'\nTo=demo@localhost\n'* ]]
  [[ "$output" == *$'\ntype=multipart/report report-type=delivery-status\n'* ]]
  [[ "$output" == *$'\nparts=text/plain,message/delivery-status,text/rfc822-headers\n'* ]]
  [[ "$output" == *$'\nmsg.Reporting-MTA=dns; localhost\n'* ]]
  [[ "$output" == *$'\nrcpt1.Final-Recipient=rfc822; bad@example.test\n'* ]]
  [[ "$output" == *$'\nrcpt1.Action=failed\nrcpt1.Status=5.1.1\n'* ]]
  [[ "$output" == *$'\nrcpt1.Remote-MTA=dns; mx1.example.test'* ]]
  [[ "$output" == *$'\nrcpt1.Diagnostic-Code=smtp; 550 5.1.1 <bad@example.test>: Recipient address rejected: scripted\n'* ]]
  run notice_part "$(mailbox_files 2)" 0
  [[ "$output" == *"<bad@example.test>: Recipient address rejected: scripted"* ]]
  [ "$(peer_messages)" -eq 0 ]
}

@test "outbound: past MaxQueueLifetime the bounce carries the last reply" {
  peer_start --rcpt slow@example.test=451
  remote_home "${MX[@]}"
  set_mail_key MaxQueueLifetime 2S
  send_from_demo 1 slow@example.test
  "$BBSMAIL_ROOT/bin/runq" 2>/dev/null || true
  [ "$(deferred_count remote)" -eq 1 ]
  sleep 3
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"rcpt=slow@example.test channel=remote result=failed"*"status=5.4.7"*"expired after 0 days in the queue: <slow@example.test>: try again later, scripted"* ]]
  "$BBSMAIL_ROOT/bin/runq" 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  run notice_facts "$(mailbox_files 2)"
  [[ "$output" == *$'\nrcpt1.Action=failed\nrcpt1.Status=5.4.7\n'* ]]
  [[ "$output" == *"try again later, scripted"* ]]
  [ "$(deferred_count remote)" -eq 0 ]
}

@test "outbound: a delay notice after DelayWarningTime, then the message is delivered" {
  peer_start --rcpt slow@example.test=451,451,250
  remote_home "${MX[@]}"
  set_mail_key DelayWarningTime 1S
  send_from_demo 1 slow@example.test
  "$LIBEXEC/route" 2>/dev/null
  sleep 2
  run "$BBSMAIL_ROOT/bin/runq"
  [[ "$output" == *"rcpt=slow@example.test channel=remote result=deferred"*" delay-notice="* ]]
  "$BBSMAIL_ROOT/bin/runq" 2>/dev/null || true
  [ "$(mailbox_count 2)" -eq 1 ]
  run notice_facts "$(mailbox_files 2)"
  [[ "$output" == *$'\nrcpt1.Action=delayed\n'* ]]
  [[ "$output" == *"rcpt1.Will-Retry-Until="* ]]
  "$BBSMAIL_ROOT/bin/runq" -f 2>/dev/null || true
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"rcpt=slow@example.test channel=remote result=sent"* ]]
  [ "$(peer_messages)" -eq 1 ]
  # one notice only: the delay notice
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "outbound: bin/sendmail from a script to an outside address, delivered with runq -l running" {
  peer_start
  remote_home "${MX[@]}"
  start_runq_loop
  printf 'Subject: cron\n\nnightly report\n' | "$BBSMAIL_ROOT/bin/sendmail" ops@example.test
  for i in $(seq 1 100); do [ "$(peer_messages)" -ge 1 ] && break; sleep 0.1; done
  [ "$(peer_messages)" -eq 1 ]
  [ "$(cat "$PEER_DIR/rcpt.1")" = "ops@example.test" ]
  grep -q "nightly report" "$PEER_DIR/msg.1"
}
