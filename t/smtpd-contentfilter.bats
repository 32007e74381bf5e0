#!/usr/bin/env bats
# ZMailer's content filter in smtpd (PARAM contentfilter): a python3 filter
# written by the test answers by the message's Subject: refuse, accept,
# freeze, or misbehave (crash, hang, garbage); bin/bbsmail-freezer lists,
# releases and deletes frozen messages.
load helper
load lib/session

setup() {
  make_home
  FILTER="$BATS_TEST_TMPDIR/filter dir/filter"   # a space: execve, never a shell
  mkdir -p "${FILTER%/*}"
  cat > "$FILTER" <<'PY'
#!/usr/bin/python3
import os, sys, time
log = open(os.path.join(os.path.dirname(sys.argv[0]), "seen"), "a")
answers = {"reject": "-1 550 5.7.1 Not wanted\x07 here", "tempfail": "-1 451 4.7.0 Later",
           "accept": "0", "accepttext": "0 250 2.0.0 fine", "freeze": "1"}
while True:
    sys.stdout.write("#hungry\n"); sys.stdout.flush()
    path = sys.stdin.readline()
    if not path:
        sys.exit(0)
    path = path.rstrip("\n")
    data = open(path).read()
    subject = [l[9:] for l in data.split("\n") if l.startswith("Subject: ")][0]
    log.write("%d %s %s %s\n" % (os.getpid(), subject, os.path.basename(path),
                                  oct(os.stat(path).st_mode & 0o777))); log.flush()
    if subject == "crash":
        os._exit(3)
    if subject == "hang":
        time.sleep(300)
    if subject == "garbage":
        sys.stdout.write("hello there\n"); sys.stdout.flush(); continue
    if subject == "wrongclass":
        sys.stdout.write("-1 250 2.0.0 ok\n"); sys.stdout.flush(); continue
    sys.stdout.write("# thinking\n" + answers[subject] + "\n"); sys.stdout.flush()
PY
  chmod 755 "$FILTER"
  printf 'PARAM contentfilter %s\nPARAM contentfilter-maxpar 1\nPARAM contentfilter-timeout 3\n' "$FILTER" \
    > "$HOME_DIR/etc/smtpserver.conf"
}

# send SUBJECT...: one session, one message per subject.
send() {
  local cmds=('EHLO client.example') i=0 subject
  for subject in "$@"; do
    i=$((i + 1))
    printf 'From: a@far.example\nSubject: %s\n\nbody %s\n' "$subject" "$i" > "$BATS_TEST_TMPDIR/m$i"
    cmds+=('MAIL FROM:<a@far.example>' 'RCPT TO:<demo@localhost>' "DATA:$BATS_TEST_TMPDIR/m$i")
  done
  session 127.0.0.1 "${cmds[@]}" QUIT
}

seen() { cat "${FILTER%/*}/seen"; }
frozen() { find "$HOME_DIR/spool/freezer" -type f 2>/dev/null; }

@test "contentfilter: refuse with the filter's reply, accept, one filter for the session" {
  start_smtpd
  run send reject tempfail accept accepttext
  [ "${lines[5]}" = "550 5.7.1 Not wanted? here" ]
  [ "${lines[9]}" = "451 4.7.0 Later" ]
  [[ "${lines[13]}" == "250 2.0.0 Ok: queued as "* ]]
  [[ "${lines[17]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 2 ]
  run seen
  [ "${#lines[@]}" -eq 4 ]
  # one process saw all four, each copy mode 0600, named <id>.filter
  [ "$(cut -d' ' -f1 <<< "$output" | sort -u | wc -l)" -eq 1 ]
  [[ "${lines[0]}" == *" reject "*".filter 0o600" ]]
  [ "$(grep -c 'event=contentfilter-start' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 1 ]
  grep -q 'event=reject cmd=DATA code=550 status=5.7.1 .*reason=contentfilter' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
}

@test "contentfilter: freeze: 250, the file in spool/freezer; bbsmail-freezer lists, releases, deletes" {
  start_smtpd
  run send freeze freeze
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  id1="${lines[5]##* }"
  id2="${lines[9]##* }"
  [ -z "$(spooled)" ]
  [ "$(frozen | wc -l)" -eq 2 ]
  grep -q "id=$id1 event=frozen ip=127.0.0.1" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run bbsmail-freezer -l
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  grep -q "^$id1 [0-9]* <a@far.example> 1\$" <<< "$output"
  run bbsmail-freezer -R "$id1"
  [ "$status" -eq 0 ]
  [ "$(spooled)" = "$HOME_DIR/spool/incoming/$id1" ]
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -q '^Subject: freeze$' "$(mailbox_files 2)"
  run bbsmail-freezer -D "$id2"
  [ "$status" -eq 0 ]
  [ -z "$(frozen)" ]
  run bbsmail-freezer -D "$id2"
  [ "$status" -ne 0 ]
  run bbsmail-freezer -R ../incoming/x
  [ "$status" -eq 100 ]
  run bbsmail-freezer
  [ "$status" -eq 100 ]
}

@test "contentfilter: a crash tempfails 451 4.7.1; the next message gets a new filter" {
  start_smtpd
  run send crash accept
  [ "${lines[5]}" = "451 4.7.1 Content filter unavailable, try again later" ]
  [[ "${lines[9]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'event=contentfilter-fail reason=eof: filter stopped' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ "$(grep -c 'event=contentfilter-start' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 2 ]
  run seen
  [ "$(cut -d' ' -f1 <<< "$output" | sort -u | wc -l)" -eq 2 ]
  [ "$(spooled | wc -l)" -eq 1 ]
}

@test "contentfilter: garbage and a wrong-class code tempfail and restart the filter" {
  start_smtpd
  run send garbage wrongclass accept
  [ "${lines[5]}" = "451 4.7.1 Content filter unavailable, try again later" ]
  [ "${lines[9]}" = "451 4.7.1 Content filter unavailable, try again later" ]
  [[ "${lines[13]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(grep -c 'event=contentfilter-fail reason=bad-reply' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 2 ]
  [ "$(grep -c 'event=contentfilter-start' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 3 ]
}

@test "contentfilter: a hanging filter is killed at contentfilter-timeout; the session goes on" {
  start_smtpd
  start=$(date +%s)
  run send hang accept
  [ "${lines[5]}" = "451 4.7.1 Content filter unavailable, try again later" ]
  [[ "${lines[9]}" == "250 2.0.0 Ok: queued as "* ]]
  [ $(( $(date +%s) - start )) -lt 60 ]
  grep -q 'event=contentfilter-fail reason=timeout: filter stopped' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run seen
  hung="${lines[0]%% *}"
  ! kill -0 "$hung" 2>/dev/null
}

@test "contentfilter: contentfilter-maxpar 0 turns it off; a missing program tempfails" {
  echo 'PARAM contentfilter-maxpar 0' >> "$HOME_DIR/etc/smtpserver.conf"
  start_smtpd
  run send reject
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  printf 'PARAM contentfilter %s\n' "$BATS_TEST_TMPDIR/none" > "$HOME_DIR/etc/smtpserver.conf"
  run send accept
  [ "${lines[5]}" = "451 4.7.1 Content filter unavailable, try again later" ]
}
