#!/usr/bin/env bats
# bin/mailq: what is queued, one tab-separated line per spool file, then
# one line per recipient (starting with a tab); -r requeues, -x deletes.

load helper
load lib/stages
load lib/defer

# Outbound delivery on (make_home turns it off): mailq says nothing of it.
setup() {
  make_home
  load lib/remote
  set_options "ALLOW_POP3 | ALLOW_SYSOP_ALIASES"
}

@test "mailq: an empty spool prints nothing; -c prints 0" {
  run mailq
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run mailq -c
  [ "$output" = "0" ]
}

@test "mailq: an incoming message: id, size, age, sender, recipients, state" {
  inject 1 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  size="$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(len(d)-d.index(b"\0\0")-2)' "$(SPOOL)/incoming/$id")"
  run mailq
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^"$id"$'\t'"$size"$'\t'[0-9]s$'\t'"<tester@localhost>"$'\t'"<demo@localhost> <sysop@localhost>"$'\t'"incoming"$ ]]
  [ "${lines[1]}" = $'\t<demo@localhost>\tincoming' ]
  [ "${lines[2]}" = $'\t<sysop@localhost>\tincoming' ]
  [ "${#lines[@]}" -eq 3 ]
}

@test "mailq: routed jobs show their channel as the state" {
  inject 1 demo a@example.org
  id="$(ls "$(SPOOL)/incoming")"
  "$LIBEXEC/route" 2>/dev/null
  run mailq
  [ "${#lines[@]}" -eq 4 ]
  [ "$(mailq | grep -v $'^\t' | cut -f1,4,5,6 | sort -t$'\t' -k4)" = "$id"$'\t<tester@localhost>\t<demo@localhost>\tlocal\n'"$id"$'\t<tester@localhost>\t<a@example.org>\tremote' ]
  run mailq -c
  [ "$output" = "2" ]
}

@test "mailq: the age column grows in minutes, hours and days" {
  printf 'V1\0Iold\0D%s\0F\0Tdemo@localhost\0\0x\n' $(( $(date +%s) - 3 * 86400 )) > "$(SPOOL)/incoming/old"
  printf 'V1\0Ihour\0D%s\0Fa@b\0Tdemo@localhost\0\0x\n' $(( $(date +%s) - 5 * 3600 )) > "$(SPOOL)/incoming/hour"
  printf 'V1\0Imin\0D%s\0Fa@b\0Tdemo@localhost\0\0x\n' $(( $(date +%s) - 300 )) > "$(SPOOL)/incoming/min"
  [ "$(mailq | grep -v $'^\t' | sort | cut -f1,3,4)" = $'hour\t5h\t<a@b>\nmin\t5m\t<a@b>\nold\t3d\t<>' ]
}

@test "mailq: a malformed file is listed as unreadable, the others still are" {
  inject 1 demo
  printf 'junk' > "$(SPOOL)/incoming/junk"
  run mailq
  [ "$status" -eq 0 ]
  # the good message and its recipient; nothing more for the bad one
  [ "${#lines[@]}" -eq 3 ]
  [[ "$(mailq | grep '^junk')" == $'junk\t?\t?\t?\t?\tincoming (unreadable: Bad message)' ]]
}

@test "mailq: usage error exits 100" {
  run mailq -x
  [ "$status" -eq 100 ]
}

# rcpt_lines: the recipient lines of the listing (the tab that starts each
# removed), sorted.
rcpt_lines() { mailq | sed -n 's/^\t//p' | sort; }

@test "mailq: each recipient's state: queued, deferred (attempts, next, last reply, MTA), bounce-pending, target" {
  # one message: demo (local, queued), a@example.org (remote, deferred),
  # sysop (deleted before routing: a bounce job)
  inject 1 demo a@example.org sysop
  id="$(ls "$(SPOOL)/incoming")"
  bbsmail-user del sysop
  "$LIBEXEC/route" 2>/dev/null
  defer_job remote "$id" 4102444800 3 $(( $(date +%s) - 600 )) 451 4.4.1 $'Connection refused\tby peer' 'mx.example.org [192.0.2.1]'
  # a user's forward address: the target is shown
  bbsmail-user set demo --forward demo@dialup.example --flags forward
  remote_job 2 demo@localhost
  run mailq
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 8 ]
  [ "$(rcpt_lines | grep -c '^<demo@localhost>'$'\t''queued$')" -eq 1 ]
  [ "$(rcpt_lines | grep -c '^<demo@localhost>'$'\t''queued target=<demo@dialup.example>$')" -eq 1 ]
  [ "$(rcpt_lines | grep '^<a@example.org>')" = '<a@example.org>'$'\t''deferred attempts=3 next="2100-01-01 00:00:00 UTC" reply="451 4.4.1 Connection refused\x09by peer" mta="mx.example.org [192.0.2.1]"' ]
  [[ "$(rcpt_lines | grep '^<sysop@localhost>')" =~ ^'<sysop@localhost>'$'\t''bounce-pending reply="550 5.1.1 '[^$'\t']+'"'$ ]]
  # every line still has at most six tab-separated columns
  [ "$(mailq | awk -F'\t' 'NF > 6' | wc -l)" -eq 0 ]
  # the first line of each file is unchanged: state column and count
  [ "$(mailq | grep -v $'^\t' | cut -f6 | sort | tr '\n' ,)" = "bounce,local,remote,remote deferred until 2100-01-01 00:00:00 UTC," ]
  [ "$(mailq -c)" = "4" ]
}

@test "mailq -r ID: that message's deferred copies go back in every channel; -r ALL the rest; trigger poked" {
  inject 1 demo a@example.org
  one="$(ls "$(SPOOL)/incoming")"
  "$LIBEXEC/route" 2>/dev/null
  bucket="$(future_bucket)"
  defer_job local "$one" "$bucket" 1 0
  defer_job remote "$one" "$bucket" 1 0
  remote_job 2 b@other.net && two="$JOB" && defer_job remote "$two" "$bucket" 1 0
  # a reader on the trigger sees the poke
  exec 8<>"$(SPOOL)/trigger"
  run mailq -r "$one"
  [ "$status" -eq 0 ]
  [ "$(queued_jobs local)" = "$one" ]
  [ "$(queued_jobs remote)" = "$one" ]
  [ "$(deferred_jobs remote)" = "$two" ]
  [[ "$output" == *"mailq: info: event=release id=$one channel=local jobs=1"* ]]
  [[ "$output" == *"mailq: info: event=release id=$one channel=remote jobs=1"* ]]
  [ "$(timeout 5 dd bs=1 count=1 <&8 2>/dev/null | wc -c)" -eq 1 ]
  run mailq -r nosuch
  [ "$status" -eq 0 ]
  [ "$output" = "mailq: info: event=release id=nosuch jobs=0" ]
  run mailq -r ALL
  [ "$status" -eq 0 ]
  [ "$(queued_jobs remote)" = "$(printf '%s\n' "$one" "$two" | sort)" ]
  [ "$(deferred_count remote)" -eq 0 ]
  exec 8<&-
}

@test "mailq -x ID: every job, deferred copy and bounce job of the message and their body links go; other messages stay" {
  inject 1 demo a@example.org sysop
  id="$(ls "$(SPOOL)/incoming")"
  bbsmail-user del sysop
  "$LIBEXEC/route" 2>/dev/null
  defer_job remote "$id" "$(future_bucket)" 1 0
  [ "$(find "$(SPOOL)/body" -name "*-$id*" | wc -l)" -eq 3 ]
  remote_job 2 b@other.net
  other="$JOB"
  links="$(stat -c %h "$(SPOOL)/body/remote-$other")"
  run mailq -x "$id"
  [ "$status" -eq 0 ]
  [ "$(find "$(SPOOL)/queue" "$(SPOOL)/defer" "$(SPOOL)/body" -name "$id*" -o -name "*-$id*" | wc -l)" -eq 0 ]
  [[ "$output" =~ "mailq: info: id=$id rcpt=demo@localhost channel=local result=deleted delay="[0-9]+ ]]
  [[ "$output" =~ "mailq: info: id=$id rcpt=a@example.org channel=remote result=deleted delay="[0-9]+ ]]
  [[ "$output" =~ "mailq: info: id=$id.b0-incoming rcpt=sysop@localhost channel=bounce result=deleted delay="[0-9]+ ]]
  [ "$(grep -c 'result=deleted' <<<"$output")" -eq 3 ]
  # the message file's last link went to the trash, like a stage's
  [ "$(find "$(SPOOL)/trash" -type f -links 1 | xargs grep -l 'X-Seq: 1$' | wc -l)" -eq 1 ]
  # the other message is untouched
  [ "$(queued_jobs remote)" = "$other" ]
  [ "$(stat -c %h "$(SPOOL)/body/remote-$other")" = "$links" ]
  [ "$(mailq -c)" = "1" ]
  run mailq -x "$id"
  [ "$status" -eq 100 ]
  [ "$output" = "mailq: error: no message $id in the spool" ]
}

@test "mailq -x: an incoming file; a bounce job alone by its name, keeping the message's other links" {
  inject 1 demo
  incoming="$(ls "$(SPOOL)/incoming")"
  run mailq -x "$incoming"
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [[ "$output" =~ ^"mailq: info: id=$incoming rcpt=demo@localhost channel=incoming result=deleted delay="[0-9]+$ ]]
  inject 2 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  bbsmail-user del sysop
  "$LIBEXEC/route" 2>/dev/null
  [ "$(stat -c %h "$(SPOOL)/body/local-$id")" -eq 2 ]
  run mailq -x "$id.b0-incoming"
  [ "$status" -eq 0 ]
  [ "$(job_count bounce)" -eq 0 ]
  [ "$(queued_jobs local)" = "$id" ]
  [ "$(stat -c %h "$(SPOOL)/body/local-$id")" -eq 1 ]
  # and the local job is still delivered
  runq 2>/dev/null
  check_delivered_once 2 2 2
}

@test "mailq -x: a file a stage holds is left: busy, try again, exit 111; a rerun finishes" {
  inject 1 demo a@example.org
  id="$(ls "$(SPOOL)/incoming")"
  "$LIBEXEC/route" 2>/dev/null
  defer_job remote "$id" "$(future_bucket)" 1 0
  # hold the local job as a stage's claim does (flock LOCK_EX)
  python3 -c 'import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$(SPOOL)/queue/local/$id" "$BATS_TEST_TMPDIR/held" &
  holder=$!
  track_pid "$holder"
  for i in $(seq 1 100); do [ -e "$BATS_TEST_TMPDIR/held" ] && break; sleep 0.05; done
  [ -e "$BATS_TEST_TMPDIR/held" ]
  run mailq -x "$id"
  [ "$status" -eq 111 ]
  [[ "$output" == *"mailq: warning: $(SPOOL)/queue/local/$id is busy (a stage is working on it), try again"* ]]
  # the held job and its body link are untouched
  [ -e "$(SPOOL)/queue/local/$id" ]
  [ -e "$(SPOOL)/body/local-$id" ]
  # what could be claimed went: the deferred remote copy and its link
  [ "$(deferred_count remote)" -eq 0 ]
  [ ! -e "$(SPOOL)/body/remote-$id" ]
  kill "$holder"
  wait "$holder" 2>/dev/null || true
  run mailq -x "$id"
  [ "$status" -eq 0 ]
  [ "$(find "$(SPOOL)/queue" "$(SPOOL)/defer" "$(SPOOL)/body" -type f | wc -l)" -eq 0 ]
}

@test "mailq -r/-x: bad usage exits 100" {
  run mailq -x ../incoming
  [ "$status" -eq 100 ]
  run mailq -r a -x b
  [ "$status" -eq 100 ]
  run mailq -c -x b
  [ "$status" -eq 100 ]
  run mailq -r
  [ "$status" -eq 100 ]
}

@test "mailq: with NO_SENDMAIL, a listing with remote jobs says that remote delivery is off" {
  set_options "ALLOW_POP3 | NO_SENDMAIL"
  inject 1 demo
  run mailq
  [[ "$output" != *"NO_SENDMAIL"* ]]
  inject 2 a@example.org
  "$LIBEXEC/route" 2>/dev/null
  run mailq
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "mailq: notice: remote delivery is off (NO_SENDMAIL in mail.ini): remote jobs wait until it is removed" ]]
  # -c prints the count alone (a local job and a remote one)
  run mailq -c
  [ "$output" = "2" ]
}
