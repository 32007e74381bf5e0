#!/usr/bin/env bats
# The stage driver's notices (RFC 3461/3464): which recipients get a
# failure, delay or success notice job in spool/queue/bounce/, and the last
# reply kept in deferred copies.  deliver-local is the stage under test; a
# mailbox path that is a plain file makes every delivery fail temporarily.

load helper
load lib/stages

setup() { make_home; }

# routed_job SEQ [sendmail args...]: one message for demo, routed.
routed_job() {
  local seq="$1"
  shift
  inject "$seq" "$@" demo
  "$LIBEXEC/route" 2>/dev/null
  JOB="$(ls "$(SPOOL)/queue/local")"
}

break_mailbox() {
  mkdir -p "$(SPOOL)/mailbox"
  rm -rf "$(SPOOL)/mailbox/2"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
}

deferred_copy() { find "$(SPOOL)/defer/local" -type f; }

@test "notices: a deferred copy carries the recipient's last reply" {
  routed_job 1
  break_mailbox
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 111 ]
  run record_fields "$(deferred_copy)"
  [[ "$output" == *$'\nQ1\n'* ]]
  [[ "$output" == *$'\nTdemo@localhost\n'*$'\ns4.3.0\nr451\nxunable to deliver to '* ]]
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
}

@test "notices: NOTIFY=SUCCESS gets a success notice once delivered" {
  routed_job 1 -N success
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [[ "$output" == *"result=delivered"*" success-notice=$JOB.s0-local"* ]]
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$JOB.s0-local" ]
  run record_fields "$(SPOOL)/queue/bounce/$JOB.s0-local"
  [[ "$output" == *$'\nTdemo@localhost\nnSUCCESS\n'*$'s2.0.0\nr250\nadelivered' ]]
  [ -e "$(SPOOL)/body/bounce-$JOB.s0-local" ]
}

@test "notices: without NOTIFY no success notice; NOTIFY=NEVER no bounce" {
  routed_job 1
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
  set_mail_key MaxDeliveryAttempts 1
  routed_job 2 -N never
  break_mailbox
  run "$LIBEXEC/deliver-local"
  [[ "$output" == *"result=failed"*"status=5.4.7 reason="* ]]
  [[ "$output" != *"bounce="* ]]
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
  [ "$(deferred_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
}

@test "notices: a delay notice once the copy waited DelayWarningTime, and only once" {
  set_mail_key DelayWarningTime 1S
  routed_job 1
  break_mailbox
  sleep 2
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"attempts=1 next="[0-9]*" delay-notice=$JOB.d0-local reason="* ]]
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$JOB.d0-local" ]
  run record_fields "$(SPOOL)/queue/bounce/$JOB.d0-local"
  [[ "$output" == *$'\ns4.3.0\nr451\nxunable to deliver to '*$'\nadelayed' ]]
  [[ "$(record_fields "$(deferred_copy)")" == *$'\nW1\n'* ]]
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"attempts=2"* ]]
  [[ "$output" != *"delay-notice="* ]]
  # deliver-bounce, run by runq after deliver-local, sent the one notice
  [ "$(echo "$output" | grep -c "deliver-bounce: info: id=$JOB.d0-local .*result=notified")" -eq 1 ]
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
}

@test "notices: NOTIFY without DELAY gets no delay notice" {
  set_mail_key DelayWarningTime 1S
  routed_job 1 -N failure
  break_mailbox
  sleep 2
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 111 ]
  [[ "$output" != *"delay-notice="* ]]
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
}

@test "notices: past MaxQueueLifetime a deferred recipient fails 5.4.7 with its last reply" {
  set_mail_key MaxQueueLifetime 1S
  routed_job 1
  break_mailbox
  sleep 2
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [[ "$output" == *"result=failed"*"code=554 status=5.4.7 bounce=$JOB.b0-local reason=\"expired after 0 days in the queue: unable to deliver to "* ]]
  [ "$(deferred_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$JOB.b0-local" ]
}

@test "sendmail: -N is checked (never alone, known words only)" {
  run "$BBSMAIL_ROOT/bin/sendmail" -N sometimes demo < /dev/null
  [ "$status" -eq 64 ]
  [[ "$output" == *"-N takes never, or a list of success, failure, delay"* ]]
  run "$BBSMAIL_ROOT/bin/sendmail" -N success, demo < /dev/null
  [ "$status" -eq 64 ]
}
