#!/usr/bin/env bats
# bin/mailq: what is queued, one tab-separated line per spool file, then
# one line per recipient (starting with a tab); -r requeues, -x deletes.

load helper
load lib/stages

setup() { make_home; }

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
