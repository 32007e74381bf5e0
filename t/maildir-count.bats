#!/usr/bin/env bats
# The cached mailbox count (maildir(5) cache <mailbox>/bbsmail-count) that
# smtpd's MaxMsgsWaiting check reads: O(1) while only bbsmail delivers,
# right again after another program changes the mailbox.

load helper
load lib/stages

setup() { make_home; }

count() { "$BBSMAIL_ROOT/build/t/maildir-count" "$(SPOOL)/mailbox/2"; }

# getdents_calls: directory reads made by one maildir_count.
getdents_calls() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -qq -f -e trace=getdents64 -o "$BATS_TEST_TMPDIR/trace" "$BBSMAIL_ROOT/build/t/maildir-count" \
    "$(SPOOL)/mailbox/2" >/dev/null
  grep -c getdents64 "$BATS_TEST_TMPDIR/trace" || true
}

@test "maildir count: deliveries keep the cache right; reading it reads no directory" {
  inject_many 1 3 demo
  runq
  [ "$(count)" = "3" ]          # the first count reads and caches
  inject_many 4 6 demo
  runq                          # deliver-local adds 3 to the cache
  [ "$(cut -d' ' -f1,2 "$(SPOOL)/mailbox/2/bbsmail-count")" = "1 6" ]
  [ "$(getdents_calls)" -eq 0 ]
  [ "$(count)" = "6" ]
}

@test "maildir count: a reader that deletes or moves files (as mutt or Dovecot do) is seen" {
  inject_many 1 4 demo
  runq
  [ "$(count)" = "4" ]
  sleep 0.05
  f="$(ls "$(SPOOL)/mailbox/2/new" | head -1)"
  mv "$(SPOOL)/mailbox/2/new/$f" "$(SPOOL)/mailbox/2/cur/$f:2,S"
  [ "$(count)" = "4" ]
  sleep 0.05
  rm "$(SPOOL)/mailbox/2/cur/$f:2,S"
  [ "$(count)" = "3" ]
  [ "$(getdents_calls)" -eq 0 ]  # counted once, cached again
  # a delivery after the foreign change starts from the right figure
  inject 5 demo
  runq
  [ "$(count)" = "4" ]
  # (find, not ls of two directories: ls prints their paths, and the test
  # directory's random name may hold a J too)
  [ "$(find "$(SPOOL)/mailbox/2/new" "$(SPOOL)/mailbox/2/cur" -type f -name '*J*' | wc -l)" -eq 4 ]
}

@test "maildir count: a stale, garbled or missing cache is never believed" {
  inject_many 1 2 demo
  runq
  echo "1 99 1 2 3 4" > "$(SPOOL)/mailbox/2/bbsmail-count"
  [ "$(count)" = "2" ]
  printf 'garbage' > "$(SPOOL)/mailbox/2/bbsmail-count"
  [ "$(count)" = "2" ]
  rm "$(SPOOL)/mailbox/2/bbsmail-count"
  [ "$(count)" = "2" ]
  [ "$(cut -d' ' -f1,2 "$(SPOOL)/mailbox/2/bbsmail-count")" = "1 2" ]
}

@test "maildir count: smtpd's MaxMsgsWaiting uses it (452 at the limit, after a foreign delete 250)" {
  set_mail_key MaxMsgsWaiting 3
  inject_many 1 3 demo
  runq
  start_smtpd
  run swaks --server "127.0.0.1:$SMTP_PORT" --to demo@localhost --from a@example.org --quit-after RCPT
  [[ "$output" == *"<** 452 4.2.2 Mailbox full"* ]]
  sleep 0.05
  rm "$(ls -d "$(SPOOL)"/mailbox/2/new/* | head -1)"
  run swaks --server "127.0.0.1:$SMTP_PORT" --to demo@localhost --from a@example.org --quit-after RCPT
  [[ "$output" == *"<-  250 2.1.5"* ]]
}
