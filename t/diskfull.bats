#!/usr/bin/env bats
# Disk full and write faults: the spool on a small tmpfs that fills up
# during each step, and strace failing one write, fsync or rename at a time.
# The rules: a client gets 250 only for a message on disk, a stage that
# cannot write defers (the input stays), and once space returns every
# accepted message is delivered exactly once.

load helper
load lib/stages
load lib/diskfull

setup() { small_home; }
teardown() { kill_tracked; unmount_home; }

@test "smtpd: disk full during DATA: 451, nothing left behind; space back: 250 and delivered once" {
  start_smtpd
  fill_disk 64
  run smtp_send 1 2 200
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "1 451" ]
  [ "${lines[1]}" = "2 451" ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  grep -q 'event=reject.*write-failed\|unable to' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  free_disk
  run smtp_send 3 3 200
  [ "$output" = "3 250" ]
  settle
  check_smtp_delivered 2 3 3 200
}
