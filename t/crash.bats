#!/usr/bin/env bats
# Crash tests: walk the spool state table of spool(5), kill -9 at each step,
# rerun, and check that every message is delivered exactly once.

load helper
load lib/stages

setup() { make_home; }

# snapshot NAME FILE: a hard link to a spool file taken before a stage
# runs, put back afterwards (ln) to recreate "killed before this step".  A
# link, not a copy: the stages work on inodes (the body links of route's
# jobs are links to the incoming file, spool(5)).
snapshot() { mkdir -p "$BATS_TEST_TMPDIR/snap/$1"; ln "$2" "$BATS_TEST_TMPDIR/snap/$1/"; }

@test "state S0: sendmail killed while reading leaves nothing" {
  mkfifo "$BATS_TEST_TMPDIR/in"
  sendmail demo < "$BATS_TEST_TMPDIR/in" 2>/dev/null &
  pid=$!
  track_pid "$pid"
  exec 5>"$BATS_TEST_TMPDIR/in"
  printf 'Subject: x\n\npartial' >&5
  sleep 0.2
  kill -KILL "$pid"
  exec 5>&-
  wait "$pid" || true
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "state S0: a dead writer's spool/tmp file is ignored, then removed after 36 h" {
  printf 'V1\0Ihalf\0D1\0Fa@b\0Tdemo@localhost\0\0Subject: half' > "$(SPOOL)/tmp/half"
  runq
  [ "$(mailbox_count 2)" -eq 0 ]
  [ -e "$(SPOOL)/tmp/half" ]
  touch -d '-37 hours' "$(SPOOL)/tmp/half"
  runq
  [ ! -e "$(SPOOL)/tmp/half" ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "state S1 and S4: accepted and queued files wait for the next stage" {
  inject 1 demo
  [ "$(incoming_count)" -eq 1 ]          # S1: nothing else exists
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 0 ]
  id="$(ls "$(SPOOL)/incoming")"
  "$LIBEXEC/route" 2>/dev/null
  [ "$(incoming_count)" -eq 0 ]          # S4: the job record and its body link
  [ "$(job_count local)" -eq 1 ]
  [ "$(stat -c %h "$(SPOOL)/body/local-$id")" -eq 1 ]
  [ "$(ls "$(SPOOL)/trash" | wc -l)" -eq 0 ]   # the incoming name was unlinked
  [ "$(mailbox_count 2)" -eq 0 ]
  "$LIBEXEC/deliver-local" 2>/dev/null
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  [ "$(ls "$(SPOOL)/trash" | wc -l)" -eq 2 ]   # the job record and the body
}

@test "state S2: route killed after some jobs (and a partial tmp job)" {
  inject 1 demo sysop a@example.org
  id="$(ls "$(SPOOL)/incoming")"
  snapshot in "$(SPOOL)/incoming/$id"
  "$LIBEXEC/route" 2>/dev/null
  cp "$(SPOOL)/queue/remote/$id" "$BATS_TEST_TMPDIR/remote-job"
  # back to: incoming present, the local job done, the remote job
  # half-written in tmp/ and its body link not made yet
  ln "$BATS_TEST_TMPDIR/snap/in/$id" "$(SPOOL)/incoming/"
  mv "$(SPOOL)/queue/remote/$id" "$(SPOOL)/tmp/remote-$id"
  truncate -s 10 "$(SPOOL)/tmp/remote-$id"
  rm "$(SPOOL)/body/remote-$id"
  runq
  check_delivered_once 2 1 1
  check_delivered_once 1 1 1
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 0 ]
  cmp "$BATS_TEST_TMPDIR/remote-job" "$(SPOOL)/queue/remote/$id"
  [ "$(ls "$(SPOOL)/body")" = "remote-$id" ]
}

@test "state S3: route killed before retiring incoming, after deliver-local ran" {
  inject 1 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  snapshot in "$(SPOOL)/incoming/$id"
  runq
  # incoming comes back: route rewrites the jobs, deliver-local finds both
  ln "$BATS_TEST_TMPDIR/snap/in/$id" "$(SPOOL)/incoming/"
  run runq
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=already-delivered')" -eq 2 ]
  check_delivered_once 2 1 1
  check_delivered_once 1 1 1
}

@test "state S3: ... and a reader renamed the delivery with any flags before the rerun" {
  inject 1 demo
  id="$(ls "$(SPOOL)/incoming")"
  snapshot in "$(SPOOL)/incoming/$id"
  runq
  f="$(ls "$(SPOOL)/mailbox/2/new")"
  mv "$(SPOOL)/mailbox/2/new/$f" "$(SPOOL)/mailbox/2/cur/$f:2,RS"
  # the incoming file as the killed route left it: with the attempt mark
  ln "$BATS_TEST_TMPDIR/snap/in/$id" "$(SPOOL)/incoming/"
  chmod 0400 "$(SPOOL)/incoming/$id"
  run runq
  [ "$status" -eq 0 ]
  [[ "$output" == *"result=already-delivered"* ]]
  check_delivered_once 2 1 1
}

@test "state S5: deliver-local killed after writing tmp/ (before the link)" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  name="$("$LIBEXEC/deliver-local" 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  mv "$(SPOOL)/mailbox/2/new/$name" "$(SPOOL)/mailbox/2/tmp/$name"
  restore_job "$job"
  runq
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "state S6: deliver-local killed after the link (before removing tmp/ and the job)" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  name="$("$LIBEXEC/deliver-local" 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  ln "$(SPOOL)/mailbox/2/new/$name" "$(SPOOL)/mailbox/2/tmp/$name"
  restore_job "$job"
  run runq
  [[ "$output" == *"result=already-delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
}

@test "state S6: ... and the reader moved the message to cur/ before the rerun" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  name="$("$LIBEXEC/deliver-local" 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  mv "$(SPOOL)/mailbox/2/new/$name" "$(SPOOL)/mailbox/2/cur/$name:2,S"
  restore_job "$job"
  runq
  check_delivered_once 2 1 1
}

@test "state S6: ... renamed with any flags, tmp/ already gone: the attempt mark finds it" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  name="$("$LIBEXEC/deliver-local" 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  mv "$(SPOOL)/mailbox/2/new/$name" "$(SPOOL)/mailbox/2/cur/$name:2,FRS"
  restore_job "$job"
  chmod 0400 "$(SPOOL)/queue/local/$job"     # deliver-local marked it before delivering
  run runq
  [[ "$output" == *"result=already-delivered"* ]]
  check_delivered_once 2 1 1
}

@test "state S7/S8: finished files wait in trash/, runq removes them when old" {
  inject 1 demo
  runq
  # route unlinks the incoming name (its inode lives on as the job's body
  # link); deliver-local retires the job record and the last body link.
  [ "$(ls "$(SPOOL)/trash" | wc -l)" -eq 2 ]
  touch -d '-2 hours' "$(SPOOL)"/trash/*   # past the reserve's hour
  runq
  [ "$(ls "$(SPOOL)/trash" | wc -l)" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "state S6c: the body link dropped, the marked job not yet retired: finished, no second copy" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  cp "$(SPOOL)/queue/local/$job" "$BATS_TEST_TMPDIR/record"
  "$LIBEXEC/deliver-local" 2>/dev/null
  cp "$BATS_TEST_TMPDIR/record" "$(SPOOL)/queue/local/$job"
  chmod 0400 "$(SPOOL)/queue/local/$job"     # deliver-local marked it
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$job rcpt=demo@localhost channel=local result=already-delivered"* ]]
  [ "$(job_count local)" -eq 0 ]
  [ "$(bad_count)" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "a job without a body that no stage has worked on is quarantined, the others delivered" {
  inject 1 demo
  inject 2 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local" | head -1)"
  rm "$(SPOOL)/body/local-$job"
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$job event=quarantine reason=no-body"* ]]
  [ "$(ls "$(SPOOL)/bad")" = "$job" ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "state D1: a deferred copy written, the job not yet retired: delivered once, the copy finds it" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  "$LIBEXEC/deliver-local" 2>/dev/null || true
  [ "$(deferred_count local)" -eq 1 ]
  restore_job "$job"                          # killed before retiring it
  rm "$(SPOOL)/mailbox/2"
  "$LIBEXEC/deliver-local" 2>/dev/null
  check_delivered_once 2 1 1
  # the copy is marked: without its body it counts as finished
  [ "$(find "$(SPOOL)/defer" -type f -perm 0400 | wc -l)" -eq 1 ]
  run runq -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$job rcpt=demo@localhost channel=local result=already-delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(deferred_count local)" -eq 0 ]
  [ "$(bad_count)" -eq 0 ]
}

@test "state B1: a bounce job written, the job not yet retired: the rerun writes the same bounce" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  bbsmail-user set demo --flags disabled
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$job.b0-local" ]
  restore_job "$job"
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$job.b0-local" ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body")" = "bounce-$job.b0-local" ]
}

# Batches (route(8), deliver-local(8)): a stage writes the outputs of many
# inputs, makes their data durable with one syncfs(2), renames or links them
# into place, makes those entries durable with a second syncfs, and only
# then retires the inputs.
# kill_at_syncfs N STAGE: runs STAGE under strace, which kills it with
# SIGKILL on entry to its Nth syncfs (1: outputs written, not in place;
# 2: in place, entries not yet durable); fails unless it was killed.
kill_at_syncfs() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when="$1" \
    "$LIBEXEC/$2" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}

@test "state S2a: route killed at its first syncfs (jobs written in spool/tmp, not renamed in)" {
  inject_many 1 3 demo sysop
  kill_at_syncfs 1 route
  [ "$(incoming_count)" -eq 3 ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 3 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 3 ]
  runq
  [ "$(incoming_count)" -eq 0 ]
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  check_delivered_once 2 1 3
  check_delivered_once 1 1 3
}

@test "state S5b: deliver-local killed at its first syncfs (Maildir files in tmp/, not linked)" {
  inject_many 1 3 demo
  "$LIBEXEC/route" 2>/dev/null
  kill_at_syncfs 1 deliver-local
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 3 ]
  [ "$(ls "$(SPOOL)/mailbox/2/new" | wc -l)" -eq 0 ]
  [ "$(job_count local)" -eq 3 ]
  runq
  check_delivered_once 2 1 3
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "state S2b: route killed after a batch's jobs are renamed in, before the syncfs of their entries" {
  inject_many 1 3 demo sysop
  kill_at_syncfs 2 route
  # every job is written and renamed, no input is retired yet
  [ "$(incoming_count)" -eq 3 ]
  [ "$(job_count local)" -eq 3 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 3 ]
  [ "$(find "$(SPOOL)/incoming" -type f -perm 0400 | wc -l)" -eq 3 ]
  runq
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 3
  check_delivered_once 1 1 3
}

@test "state S2b: ... and a deliver-local ran on the jobs before the rerun" {
  inject_many 1 3 demo sysop
  kill_at_syncfs 2 route
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(incoming_count)" -eq 3 ]
  run runq
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=already-delivered')" -eq 6 ]
  check_delivered_once 2 1 3
  check_delivered_once 1 1 3
}

@test "state S2b: ... the body links are there too, and the rerun leaves none behind" {
  inject_many 1 3 demo sysop
  kill_at_syncfs 2 route
  [ "$(incoming_count)" -eq 3 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 3 ]
  runq
  [ "$(incoming_count)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  check_delivered_once 2 1 3
  check_delivered_once 1 1 3
}

@test "state S6b: deliver-local killed after a batch's links, before the syncfs of new/" {
  inject_many 1 3 demo
  "$LIBEXEC/route" 2>/dev/null
  kill_at_syncfs 2 deliver-local
  # all three are linked into new/, no job is retired yet, each is marked
  [ "$(ls "$(SPOOL)/mailbox/2/new" | wc -l)" -eq 3 ]
  [ "$(job_count local)" -eq 3 ]
  [ "$(find "$(SPOOL)/queue/local" -type f -perm 0400 | wc -l)" -eq 3 ]
  run runq
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=already-delivered')" -eq 3 ]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 3
}

@test "state S6b: ... and one link did not survive the crash" {
  inject_many 1 3 demo
  "$LIBEXEC/route" 2>/dev/null
  kill_at_syncfs 2 deliver-local
  # the new/ entry of one delivery lost with the unsynced directory block
  grep -l 'X-Seq: 2$' "$(SPOOL)"/mailbox/2/new/* | xargs rm --
  run runq
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=already-delivered')" -eq 2 ]
  [ "$(echo "$output" | grep -c 'result=delivered')" -eq 1 ]
  check_delivered_once 2 1 3
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

# Random kill points: each stage run gets SIGKILL after 0.5-10 ms, many times,
# while a reader moves delivered messages to cur/ now and then.
kill_loop() {
  local limit="$1" i delay stage kills=0
  for ((i = 0; i < limit; i++)); do
    if [ "$(incoming_count)" -eq 0 ] && [ "$(job_count local)" -eq 0 ]; then break; fi
    delay="0.$(printf '%04d' $((RANDOM % 100 + 5)))"
    if ((RANDOM % 2)); then stage=route; else stage=deliver-local; fi
    timeout -s KILL "$delay" "$LIBEXEC/$stage" 2>/dev/null && true
    [ $? -eq 137 ] && kills=$((kills + 1))
    if ((RANDOM % 5 == 0)); then
      for f in "$(SPOOL)"/mailbox/*/new/*; do
        [ -e "$f" ] && mv "$f" "${f%/new/*}/cur/${f##*/}:2,S"
      done
    fi
  done
  echo "$kills"
}

@test "SIGKILL at random points of route and deliver-local: 40 messages x 2 users exactly once" {
  inject_many 1 40 demo sysop
  kills="$(kill_loop 400)"
  echo "stages killed: $kills" >&3
  [ "$kills" -gt 5 ]
  runq
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 40
  check_delivered_once 1 1 40
  [ "$(bad_count)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
}

@test "SIGKILL of runq -l in the middle of a pass, then restart: exactly once" {
  set_mail_key RescanFrequency 1
  inject_many 1 60 demo
  for round in 1 2 3 4 5; do
    start_runq_loop
    sleep "0.0$((RANDOM % 9 + 1))"
    # runq and the stage it is running, by PID
    kill -KILL "$RUNQ_PID" $(cat /proc/"$RUNQ_PID"/task/*/children 2>/dev/null) 2>/dev/null || true
    wait "$RUNQ_PID" 2>/dev/null || true
  done
  # A stage forked just before the kill may still hold a claim: rerun
  # until the spool is empty (a lost message would never show up).
  for try in $(seq 1 20); do
    runq 2>/dev/null || true
    [ "$(incoming_count)" -eq 0 ] && [ "$(job_count local)" -eq 0 ] && break
    sleep 0.1
  done
  [ "$(bad_count)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  check_delivered_once 2 1 60
}
