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
  [ "$file" = "$arrival.J${JOB//./_}_u2.$(hostname | sed 's|/|\\057|g; s|:|\\072|g'),S=$size" ]
  [ "${#lines[@]}" -eq 2 ]
  # The new-mail notice (a telegram, NO_NOTIFY not set), then the result.
  [ "${lines[0]}" = "deliver-local: info: id=$JOB event=notice user=2 file=telegram/2/mail.$JOB" ]
  [[ "${lines[1]}" =~ ^"deliver-local: info: id=$JOB rcpt=demo@localhost channel=local result=delivered delay="[0-9]+" user=2 file=new/$file size=$size"$ ]]
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
  save_job "$JOB"
  deliver
  restore_job "$JOB"
  run deliver
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$JOB rcpt=demo@localhost channel=local result=already-delivered delay="*" user=2"* ]]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 1
}

@test "deliver-local: ... and in cur/ after a reader moved it (:2,S and other flags)" {
  routed_job 1
  save_job "$JOB"
  deliver
  f="$(ls "$(SPOOL)/mailbox/2/new")"
  mv "$(SPOOL)/mailbox/2/new/$f" "$(SPOOL)/mailbox/2/cur/$f:2,S"
  restore_job "$JOB"
  deliver
  check_delivered_once 2 1 1
  # A crash left the tmp/ name too: cur/ is scanned for any flags.
  mv "$(SPOOL)/mailbox/2/cur/$f:2,S" "$(SPOOL)/mailbox/2/cur/$f:2,FRS"
  restore_job "$JOB"
  echo partial > "$(SPOOL)/mailbox/2/tmp/$f"
  run deliver
  [[ "$output" == *"result=already-delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "deliver-local: a half-written tmp/ file of a killed run is replaced" {
  routed_job 1
  save_job "$JOB"
  name="$(deliver 2>&1 | sed -n 's/.*file=new\///; s/ size=.*//p')"
  # back to the state "killed after writing tmp/, before the link"
  rm "$(SPOOL)/mailbox/2/new/$name"
  echo partial > "$(SPOOL)/mailbox/2/tmp/$name"
  restore_job "$JOB"
  run deliver
  [[ "$output" == *"result=delivered"* ]]
  check_delivered_once 2 1 1
  [ "$(ls "$(SPOOL)/mailbox/2/tmp" | wc -l)" -eq 0 ]
}

@test "deliver-local: a disabled or deleted user: a bounce job, logged" {
  inject 1 demo
  inject 2 sysop
  "$LIBEXEC/route" 2>/dev/null
  bbsmail-user set demo --flags disabled
  bbsmail-user del sysop
  run deliver
  [ "$status" -eq 0 ]
  [ "$(bad_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(job_count bounce)" -eq 2 ]
  [ "$(echo "$output" | grep -c 'rcpt=demo@localhost channel=local result=failed .*code=550 status=5.2.1 bounce=.* reason="mailbox disabled"$')" -eq 1 ]
  [ "$(echo "$output" | grep -c 'rcpt=sysop@localhost channel=local result=failed .*code=550 status=5.1.1 bounce=.* reason="no such user (user 1 was deleted)"$')" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 0 ]
  # the bounce job: the failed recipient with its status, and a body link
  b="$(grep -la 'Tdemo@' "$(SPOOL)"/queue/bounce/*)"
  b="${b##*/}"
  [ "$(record_fields "$(SPOOL)/queue/bounce/$b" | tail -4 | tr '\n' '|')" = "u2|s5.2.1|r550|xmailbox disabled|" ]
  [ -f "$(SPOOL)/body/bounce-$b" ]
  [ "$(ls "$(SPOOL)/body" | grep -c '^local-')" -eq 0 ]
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

@test "deliver-local: a temporary failure defers the job to a next-attempt bucket and exits 111" {
  routed_job 1
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  now=$(date +%s)
  run deliver
  [ "$status" -eq 111 ]
  [[ "$output" =~ "id=$JOB rcpt=demo@localhost channel=local result=deferred delay="[0-9]+" code=451 status=4.3.0 attempts=1 next="([0-9]+)" reason=\"unable to deliver to " ]]
  next="${BASH_REMATCH[1]}"
  [ "$next" -ge $((now + 60)) ] && [ "$next" -le $((now + 62)) ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(deferred_count local)" -eq 1 ]
  # the bucket is the retry time rounded up to the minute; the body stays
  bucket="$(ls "$(SPOOL)/defer/local")"
  [ $((bucket % 60)) -eq 0 ] && [ "$bucket" -ge "$next" ] && [ "$bucket" -lt $((next + 60)) ]
  [ "$(record_fields "$(SPOOL)/defer/local/$bucket/$JOB" | grep -c '^Q1$')" -eq 1 ]
  [ -f "$(SPOOL)/body/local-$JOB" ]
  # not due yet: the next run does not touch it
  rm "$(SPOOL)/mailbox/2"
  run deliver
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(deferred_count local)" -eq 1 ]
  # runq -f makes every deferred job due now
  run runq -f
  [ "$status" -eq 0 ]
  check_delivered_once 2 1 1
  [ "$(deferred_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
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

@test "deliver-local: MaxDeliveryAttempts reached: the recipient fails (554 5.4.7) and bounces" {
  set_mail_key MaxDeliveryAttempts 2
  routed_job 1
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  run deliver
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"attempts=1"* ]]
  # runq without deliver-bounce, so the bounce job stays to be read
  mkdir "$BATS_TEST_TMPDIR/stages"
  ln -s "$LIBEXEC/route" "$LIBEXEC/deliver-local" "$BATS_TEST_TMPDIR/stages/"
  BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/stages" run runq -f
  [ "$status" -eq 0 ]
  [[ "$output" =~ "id=$JOB rcpt=demo@localhost channel=local result=failed delay="[0-9]+" code=554 status=5.4.7 bounce=$JOB.b1-local reason=\"gave up after 2 attempts: unable to deliver to " ]]
  [ "$(deferred_count local)" -eq 0 ]
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$JOB.b1-local" ]
  [ "$(record_fields "$(SPOOL)/queue/bounce/$JOB.b1-local" | grep -c '^s5.4.7$')" -eq 1 ]
  [ "$(ls "$(SPOOL)/body")" = "bounce-$JOB.b1-local" ]
}

@test "deliver-local: a job of the older format (message inside) is delivered, and deferred as a record with a body link" {
  inject 1 demo
  inject 2 demo
  "$LIBEXEC/route" 2>/dev/null
  # rebuild both jobs as an older bbsmail wrote them: record + message
  for j in $(ls "$(SPOOL)/queue/local"); do
    cat "$(SPOOL)/body/local-$j" > "$BATS_TEST_TMPDIR/body"
    python3 - "$(SPOOL)/queue/local/$j" "$BATS_TEST_TMPDIR/body" <<'PY'
import sys
job = open(sys.argv[1], 'rb').read(); body = open(sys.argv[2], 'rb').read()
open(sys.argv[1], 'wb').write(job + body[body.index(b'\0\0') + 2:])
PY
    rm "$(SPOOL)/body/local-$j"
  done
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  run deliver
  [ "$status" -eq 111 ]
  [ "$(deferred_count local)" -eq 2 ]
  [ "$(job_count local)" -eq 0 ]
  # the deferred copies are plain records; the old job files became bodies
  for f in "$(SPOOL)"/defer/local/*/*; do
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); assert d.index(b"\0\0") == len(d) - 2' "$f"
  done
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 2 ]
  rm "$(SPOOL)/mailbox/2"
  run runq -f
  [ "$status" -eq 0 ]
  check_delivered_once 2 1 2
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
}

@test "deliver-local: one job for 20 users: 20 deliveries, one deferred user deferred alone, then delivered once" {
  for i in $(seq 3 20); do bbsmail-user add "u$i" --password x >/dev/null; done
  rcpts=(demo sysop); for i in $(seq 3 20); do rcpts+=("u$i"); done
  inject 1 "${rcpts[@]}"
  "$LIBEXEC/route" 2>/dev/null
  [ "$(job_count local)" -eq 1 ]
  JOB="$(ls "$(SPOOL)/queue/local")"
  # user 7's mailbox cannot be made: only that recipient is deferred
  mkdir -p "$(SPOOL)/mailbox"
  echo "not a directory" > "$(SPOOL)/mailbox/7"
  run deliver
  [ "$status" -eq 111 ]
  [ "$(echo "$output" | grep -c 'result=delivered')" -eq 19 ]
  [ "$(echo "$output" | grep -c "id=$JOB rcpt=u7@localhost channel=local result=deferred")" -eq 1 ]
  [ "$(deferred_count local)" -eq 1 ]
  copy="$(find "$(SPOOL)/defer/local" -type f)"
  [ "$(record_fields "$copy" | grep -c '^T')" -eq 1 ]
  [ "$(record_fields "$copy" | grep '^T')" = "Tu7@localhost" ]
  for u in 1 2 $(seq 3 6) $(seq 8 20); do [ "$(mailbox_count "$u")" -eq 1 ] || { echo "user $u"; false; }; done
  rm "$(SPOOL)/mailbox/7"
  run runq -f
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 7)" -eq 1 ]
  check_delivered_once 2 1 1
  check_delivered_once 7 1 1
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  [ "$(ls "$(SPOOL)/queue/local" | wc -l)" -eq 0 ]
}

@test "deliver-local: a job for 150 users keeps at most 64 files open at once" {
  rcpts=()
  for i in $(seq 3 152); do bbsmail-user add "u$i" --password x >/dev/null; rcpts+=("u$i"); done
  inject 1 "${rcpts[@]}"
  "$LIBEXEC/route" 2>/dev/null
  # 100 descriptors: too few for one open file per recipient
  run bash -c "ulimit -n 100; exec '$LIBEXEC/deliver-local'"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=delivered')" -eq 150 ]
  for u in $(seq 3 152); do [ "$(mailbox_count "$u")" -eq 1 ] || { echo "user $u"; false; }; done
}
