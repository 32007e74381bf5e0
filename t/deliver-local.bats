#!/usr/bin/env bats
# libexec/deliver-local: local jobs -> Maildir, exactly once.

load helper
load lib/stages

setup() { make_home; }

deliver() { "$LIBEXEC/deliver-local" "$@"; }

# one message for demo, routed: the job is in queue/local
routed_job() {
  inject "${1:-1}" demo
  "$LIBEXEC/route" 2>/dev/null
  JOB="$(ls "$(SPOOL)/queue/local")"
}

@test "deliver-local: Return-Path, Received, then the message byte for byte" {
  routed_job 1
  run deliver
  [ "$status" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "deliver-local: the Maildir name and the log line" {
  routed_job 1
  arrival="$(record_fields "$(SPOOL)/queue/local/$JOB" | sed -n 's/^D//p')"
  run deliver
  file="$(ls "$(SPOOL)/mailbox/2/new")"
  size="$(stat -c %s "$(SPOOL)/mailbox/2/new/$file")"
  [ "$file" = "$arrival.J${JOB//./_}.$(hostname | sed 's|/|\\057|g; s|:|\\072|g'),S=$size" ]
  [ "$output" = "deliver-local: info: id=$JOB event=delivered user=2 file=new/$file size=$size" ]
}

@test "deliver-local: the mailbox is created on first delivery, mode 0700" {
  [ ! -e "$(SPOOL)/mailbox/2" ]
  routed_job 1
  deliver
  [ "$(stat -c %a "$(SPOOL)/mailbox/2")" = "700" ]
  [ -d "$(SPOOL)/mailbox/2/tmp" ]
  [ -d "$(SPOOL)/mailbox/2/cur" ]
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "deliver-local: the finished job goes to spool/trash, not unlinked" {
  routed_job 1
  deliver
  [ "$(ls "$(SPOOL)/trash" | grep -c "^$JOB-")" -eq 1 ]
}

@test "deliver-local: a rerun with the job back finds the earlier delivery in new/" {
  routed_job 1
  cp "$(SPOOL)/queue/local/$JOB" "$BATS_TEST_TMPDIR/job"
  deliver
  cp "$BATS_TEST_TMPDIR/job" "$(SPOOL)/queue/local/$JOB"
  run deliver
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$JOB event=already-delivered user=2"* ]]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "deliver-local: ... and in cur/ after a reader moved it (:2,S and other flags)" {
  routed_job 1
  cp "$(SPOOL)/queue/local/$JOB" "$BATS_TEST_TMPDIR/job"
  deliver
  f="$(ls "$(SPOOL)/mailbox/2/new")"
  mv "$(SPOOL)/mailbox/2/new/$f" "$(SPOOL)/mailbox/2/cur/$f:2,S"
  cp "$BATS_TEST_TMPDIR/job" "$(SPOOL)/queue/local/$JOB"
  deliver
  check_delivered_once 2 1 1
  # A crash left the tmp/ name too: cur/ is scanned for any flags.
  mv "$(SPOOL)/mailbox/2/cur/$f:2,S" "$(SPOOL)/mailbox/2/cur/$f:2,FRS"
  cp "$BATS_TEST_TMPDIR/job" "$(SPOOL)/queue/local/$JOB"
  echo partial > "$(SPOOL)/mailbox/2/tmp/$f"
  run deliver
  [[ "$output" == *"event=already-delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "deliver-local: a half-written tmp/ file of a killed run is replaced" {
  routed_job 1
  cp "$(SPOOL)/queue/local/$JOB" "$BATS_TEST_TMPDIR/job"
  name="$(deliver 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  # back to the state "killed after writing tmp/, before the link"
  rm "$(SPOOL)/mailbox/2/new/$name"
  echo partial > "$(SPOOL)/mailbox/2/tmp/$name"
  cp "$BATS_TEST_TMPDIR/job" "$(SPOOL)/queue/local/$JOB"
  run deliver
  [[ "$output" == *"event=delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "deliver-local: a disabled or deleted user: job to spool/bad, logged" {
  inject 1 demo
  inject 2 sysop
  "$LIBEXEC/route" 2>/dev/null
  bbsmail-user set demo --flags disabled
  bbsmail-user del sysop
  run deliver
  [ "$status" -eq 0 ]
  [ "$(bad_count)" -eq 2 ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(echo "$output" | grep -c 'event=undeliverable reason=user disabled')" -eq 1 ]
  [ "$(echo "$output" | grep -c 'event=undeliverable reason=no such user')" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "deliver-local: a malformed job is quarantined, the others delivered" {
  routed_job 1
  printf 'V1\0Ix\0D1\0Fa@b\0' > "$(SPOOL)/queue/local/broken"
  printf 'V1\0Ix\0D1\0Fa@b\0Tdemo@localhost\0\0body\n' > "$(SPOOL)/queue/local/nochannel"
  run deliver
  [ "$status" -eq 0 ]
  [ "$(ls "$(SPOOL)/bad" | sort | tr '\n' ' ')" = "broken nochannel " ]
  check_delivered_once 2 1 1
}

@test "deliver-local: a temporary failure leaves the job and exits 111" {
  routed_job 1
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  run deliver
  [ "$status" -eq 111 ]
  [[ "$output" == *"id=$JOB event=defer user=2"* ]]
  [ "$(job_count local)" -eq 1 ]
  [ "$(stat -c %a "$(SPOOL)/queue/local/$JOB")" = "400" ]   # the attempt mark
  rm "$(SPOOL)/mailbox/2"
  run deliver
  [ "$status" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "deliver-local: a job locked by another deliver-local is skipped" {
  routed_job 1
  flock -x "$(SPOOL)/queue/local/$JOB" sleep 1 &
  track_pid $!
  sleep 0.2
  run deliver
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 0 ]
  wait
  deliver
  check_delivered_once 2 1 1
}

@test "deliver-local: two at once deliver 100 jobs exactly once" {
  inject_many 1 100 demo
  "$LIBEXEC/route" 2>/dev/null
  "$LIBEXEC/deliver-local" 2>/dev/null &
  p1=$!
  "$LIBEXEC/deliver-local" 2>/dev/null &
  p2=$!
  wait $p1
  wait $p2
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 100
}

@test "deliver-local: maildir_count sees new/ and cur/, not tmp/ or dotfiles" {
  routed_job 1
  deliver
  touch "$(SPOOL)/mailbox/2/cur/1.2.host:2,S" "$(SPOOL)/mailbox/2/new/.hidden" "$(SPOOL)/mailbox/2/tmp/x"
  run "$BBSMAIL_ROOT/build/t/maildir-count" "$(SPOOL)/mailbox/2"
  [ "$output" = "2" ]
  run "$BBSMAIL_ROOT/build/t/maildir-count" "$(SPOOL)/mailbox/99"
  [ "$output" = "0" ]
}
