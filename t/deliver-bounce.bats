#!/usr/bin/env bats
# libexec/deliver-bounce: notice jobs of spool/queue/bounce/ become RFC 3464
# delivery status notifications from <>, which route and deliver-local take
# to the sender's Maildir.  The senders here are local users (sysop is user
# 1, and postmaster resolves to sysop too), so the notices can be read.

load helper
load lib/stages
load lib/notices

setup() { make_home; }

bounce() { "$LIBEXEC/deliver-bounce" "$@"; }

# message_of_spool FILE: the message after a spool file's record.
message_of_spool() {
  python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(d[d.index(b"\0\0") + 2:])' "$1"
}

# failed_to_demo SEQ [sendmail args...]: a message from sysop to demo that
# route fails (demo deleted after acceptance): a b0 notice job.
failed_to_demo() {
  local seq="$1"
  shift
  inject "$seq" -f sysop@localhost "$@" demo
  bbsmail-user del demo
  "$LIBEXEC/route" 2>/dev/null
}

# notices USERNUM: the user's mailbox files.
notices() { mailbox_files "$1"; }

spool_empty() {
  local left
  left="$(find "$(SPOOL)/incoming" "$(SPOOL)/queue" "$(SPOOL)/body" "$(SPOOL)/defer" "$(SPOOL)/tmp" -type f)"
  [ -z "$left" ] || { echo "left in the spool: $left"; false; }
}

@test "deliver-bounce: a failure notice from <> goes into spool/incoming with K=dsn for the sender" {
  failed_to_demo 1
  job="$(ls "$(SPOOL)/queue/bounce")"
  [[ "$job" == *.b0-incoming ]]
  run bounce
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" =~ ^"deliver-bounce: info: id=$job rcpt=demo@localhost channel=bounce result=notified delay="[0-9]+" notice="([0-9a-f.]+)" to=sysop@localhost"$ ]]
  id="${BASH_REMATCH[1]}"
  [ "$(ls "$(SPOOL)/incoming")" = "$id" ]
  [ "$(job_count bounce)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  run record_fields "$(SPOOL)/incoming/$id"
  [ "${lines[1]}" = "I$id" ]
  [ "${lines[3]}" = "F" ]
  [ "${lines[4]}" = "Plocal" ]
  [ "${lines[5]}" = "Kdsn" ]
  [ "${lines[6]}" = "Tsysop@localhost" ]
  [ "${#lines[@]}" -eq 7 ]
  [ "$(stat -c %a "$(SPOOL)/incoming/$id")" = 600 ]
}

@test "deliver-bounce: the failure notice reaches the sender's Maildir as an RFC 3464 report" {
  failed_to_demo 1
  orig="$(record_fields "$(SPOOL)/queue/bounce/"* | sed -n 's/^I//p')"
  runq 2>/dev/null
  runq 2>/dev/null
  [ "$(mailbox_count 1)" -eq 1 ]
  spool_empty
  run notice_facts "$(notices 1)"
  echo "$output"
  [[ "$output" == "Return-Path=<>"$'\n'"From=Mail Delivery System <MAILER-DAEMON@localhost>"$'\n'"To=sysop@localhost"$'\n'"Subject=Undelivered Mail Returned to Sender"$'\n'"Auto-Submitted=auto-replied"$'\n'"MIME-Version=1.0"$'\n'"Message-ID=<"*"@localhost>"$'\n'* ]]
  [[ "$output" == *$'\ntype=multipart/report report-type=delivery-status\nparts=text/plain,message/delivery-status,text/rfc822-headers\n'* ]]
  [[ "$output" == *$'\nmsg.Reporting-MTA=dns; localhost\nmsg.Arrival-Date='[A-Z][a-z][a-z]", "[0-9][0-9]" "*" +0000"$'\n'* ]]
  [[ "$output" == *$'\nrcpt1.Final-Recipient=rfc822; demo@localhost\nrcpt1.Action=failed\nrcpt1.Status=5.1.1\nrcpt1.Diagnostic-Code=smtp; 550 5.1.1 demo: no such user here\nrcpt1.Last-Attempt-Date='*$'\nrcpt1.Final-Log-ID='"$orig" ]]
  # no ENVID, no client: neither field; no ORCPT: no Original-Recipient
  [[ "$output" != *"Original-"* ]]
  [[ "$output" != *"Received-From-MTA"* ]]
  run notice_part "$(notices 1)" 0
  [[ "$output" == *$'\n<demo@localhost>: 550 5.1.1 demo: no such user here' ]]
  [[ "$output" == *"its header is attached"* ]]
  # without RET, the header only: exactly the original's header block
  run notice_part "$(notices 1)" 2
  [[ "$output" == "Received: from local user"*$'\nFrom: tester@localhost\nTo: demo@localhost\nDate: Sun, 22 Nov 2026 00:00:00 +0000\nMessage-ID: <seq-1@test>\nX-Seq: 1\nSubject: message 1' ]]
}

# smtp_message: sysop sends to demo through smtpd with the DSN parameters;
# the message's exact text in $BATS_TEST_TMPDIR/original.
smtp_message() {
  start_smtpd
  timeout 30 python3 - "$SMTP_PORT" "$@" <<'EOF'
import smtplib, sys
port, mail_options, rcpt_options = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split()
s = smtplib.SMTP('127.0.0.1', port)
s.ehlo('client.example')
s.sendmail('sysop@localhost', ['demo@localhost'],
           'From: sysop@localhost\r\nSubject: dsn test\r\nMessage-ID: <t1@test>\r\n\r\nline one\r\nline two\r\n',
           mail_options=mail_options, rcpt_options=rcpt_options)
s.quit()
EOF
  message_of_spool "$(find "$(SPOOL)/incoming" -type f)" > "$BATS_TEST_TMPDIR/original"
}

@test "deliver-bounce: ENVID, ORCPT and the client over SMTP; RET=FULL returns the whole message" {
  smtp_message "RET=FULL ENVID=abc+2Bdef" "NOTIFY=FAILURE ORCPT=rfc822;orig@example.org"
  bbsmail-user del demo
  runq 2>/dev/null
  runq 2>/dev/null
  [ "$(mailbox_count 1)" -eq 1 ]
  run notice_facts "$(notices 1)"
  echo "$output"
  [[ "$output" == *$'\nparts=text/plain,message/delivery-status,message/rfc822\n'* ]]
  [[ "$output" == *$'\nmsg.Original-Envelope-Id=abc+def\nmsg.Reporting-MTA=dns; localhost\nmsg.Received-From-MTA=dns; client.example\nmsg.Arrival-Date='* ]]
  [[ "$output" == *$'\nrcpt1.Original-Recipient=rfc822; orig@example.org\nrcpt1.Final-Recipient=rfc822; demo@localhost\nrcpt1.Action=failed\nrcpt1.Status=5.1.1\n'* ]]
  run notice_part "$(notices 1)" 0
  [[ "$output" == *"the message is attached"* ]]
  # the whole original, byte for byte, then the closing delimiter
  python3 - "$(notices 1)" "$BATS_TEST_TMPDIR/original" <<'EOF'
import re, sys
notice, original = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
b = re.search(rb'boundary="([^"]+)"', notice).group(1)
part = notice.split(b'--' + b + b'\n')[3]
head, content = part.split(b'\n\n', 1)
assert head == b'Content-Type: message/rfc822\nContent-Description: Undelivered Message', head
assert content == original + b'\n--' + b + b'--\n', (content, original)
assert b'line two' in original
EOF
}

@test "deliver-bounce: RET=HDRS returns the header; NOTIFY=NEVER gets no notice at all" {
  smtp_message "RET=HDRS" "NOTIFY=FAILURE"
  bbsmail-user del demo
  runq 2>/dev/null
  runq 2>/dev/null
  run notice_facts "$(notices 1)"
  [[ "$output" == *$'\nparts=text/plain,message/delivery-status,text/rfc822-headers\n'* ]]
  run notice_part "$(notices 1)" 2
  [[ "$output" == "Received: from client.example"*$'\nFrom: sysop@localhost\nSubject: dsn test\nMessage-ID: <t1@test>' ]]
  rm -f "$(notices 1)"
  bbsmail-user add demo --password demo >/dev/null
  inject 2 -f sysop@localhost -N never demo
  bbsmail-user del demo
  runq 2>/dev/null
  runq 2>/dev/null
  [ "$(mailbox_count 1)" -eq 0 ]
  spool_empty
}

@test "deliver-bounce: SMTPUTF8 gives message/global-delivery-status and global headers" {
  smtp_message "SMTPUTF8" ""
  bbsmail-user del demo
  runq 2>/dev/null
  runq 2>/dev/null
  run notice_facts "$(notices 1)"
  [[ "$output" == *$'\nparts=text/plain,message/global-delivery-status,message/global-headers\n'* ]]
}

@test "deliver-bounce: a delay notice says delayed, until when, and the reason" {
  set_mail_key DelayWarningTime 1S
  inject 1 -f sysop@localhost demo
  "$LIBEXEC/route" 2>/dev/null
  rm -rf "$(SPOOL)/mailbox/2"
  echo "not a directory" > "$(SPOOL)/mailbox/2"
  sleep 2
  runq 2>/dev/null || true
  runq 2>/dev/null || true
  [ "$(mailbox_count 1)" -eq 1 ]
  [ "$(deferred_count local)" -eq 1 ]
  run notice_facts "$(notices 1)"
  echo "$output"
  [[ "$output" == *$'\nSubject=Delayed Mail (still being retried)\n'* ]]
  [[ "$output" == *$'\nrcpt1.Final-Recipient=rfc822; demo@localhost\nrcpt1.Action=delayed\nrcpt1.Status=4.3.0\nrcpt1.Diagnostic-Code=smtp; 451 4.3.0 unable to deliver to '*$'\nrcpt1.Will-Retry-Until='* ]]
  # Will-Retry-Until is the arrival plus MaxQueueLifetime (5 days)
  python3 - "$output" <<'EOF'
import sys
from email.utils import parsedate_to_datetime as d
f = dict(l.split('=', 1) for l in sys.argv[1].split('\n') if '=' in l and l.startswith(('msg.', 'rcpt1.')))
assert (d(f['rcpt1.Will-Retry-Until']) - d(f['msg.Arrival-Date'])).total_seconds() == 5 * 86400, f
EOF
  run notice_part "$(notices 1)" 0
  [[ "$output" == *"The mail system will keep trying until "*" +0000;"* ]]
  # a delay notice never returns the whole message
  [[ "$(notice_facts "$(notices 1)")" == *"parts=text/plain,message/delivery-status,text/rfc822-headers"* ]]
}

@test "deliver-bounce: a success notice for NOTIFY=SUCCESS says delivered" {
  inject 1 -f sysop@localhost -N success demo
  runq 2>/dev/null
  runq 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(mailbox_count 1)" -eq 1 ]
  spool_empty
  run notice_facts "$(notices 1)"
  echo "$output"
  [[ "$output" == *$'\nSubject=Successful Mail Delivery Report\n'* ]]
  [[ "$output" == *$'\nparts=text/plain,message/delivery-status,text/rfc822-headers\n'* ]]
  [[ "$output" == *$'\nrcpt1.Final-Recipient=rfc822; demo@localhost\nrcpt1.Action=delivered\nrcpt1.Status=2.0.0\nrcpt1.Last-Attempt-Date='* ]]
  [[ "$output" != *"Diagnostic-Code"* ]]
}

@test "deliver-bounce: a remote reply is quoted with its host, and a long one is folded" {
  failed_to_demo 1
  job="$(ls "$(SPOOL)/queue/bounce")"
  # the notice job as deliver-remote would write it: the peer's exact reply
  python3 - "$(SPOOL)/queue/bounce/$job" <<'EOF'
import sys
p = sys.argv[1]
d = open(p, 'rb').read()
fields = d[:d.index(b'\0\0') + 1].split(b'\0')[:-1]
text = b'5.7.1 <demo@localhost>: Recipient address rejected: ' + b'this policy text is long ' * 12 + b'end'
out = []
for f in fields:
    if f[:1] == b'x':
        f = b'x' + text
    out.append(f)
    if f[:1] == b'x':
        out.append(b'mmx.example.org [192.0.2.1]')
open(p, 'wb').write(b'\0'.join(out) + b'\0\0')
EOF
  bounce 2>/dev/null
  id="$(ls "$(SPOOL)/incoming")"
  message_of_spool "$(SPOOL)/incoming/$id" > "$BATS_TEST_TMPDIR/notice"
  # every line of the notice's report stays within 78 columns here
  run awk 'length > 78 && !/^Received: /' "$BATS_TEST_TMPDIR/notice"
  [ "$output" = "" ]
  run notice_facts "$BATS_TEST_TMPDIR/notice"
  long="$(printf 'this policy text is long %.0s' $(seq 12))end"
  [[ "$output" == *$'\nrcpt1.Remote-MTA=dns; mx.example.org\nrcpt1.Diagnostic-Code=smtp; 550 5.7.1 <demo@localhost>: Recipient address rejected: '"$long"$'\n'* ]]
  grep -q '^Diagnostic-Code: smtp; 550 5.7.1 <demo@localhost>: Recipient address rejected:$' "$BATS_TEST_TMPDIR/notice"
  run notice_part "$BATS_TEST_TMPDIR/notice" 0
  echo "$output"
  [[ "$output" == *$'\n<demo@localhost>: host mx.example.org [192.0.2.1] said: 550 5.7.1\n    <demo@localhost>: Recipient address rejected: this policy text is\n    long this policy'* ]]
}

@test "deliver-bounce: a notice to a sender that does not exist goes to the postmaster once" {
  failed_to_demo 1 -f nosuch@localhost
  for i in 1 2 3 4 5; do runq 2>>"$BATS_TEST_TMPDIR/log" || true; done
  [ "$(mailbox_count 1)" -eq 1 ]
  spool_empty
  run notice_facts "$(notices 1)"
  echo "$output"
  [[ "$output" == *$'\nTo=postmaster@localhost\nSubject=Undelivered Mail Returned to Sender\n'* ]]
  [[ "$output" == *$'\nrcpt1.Final-Recipient=rfc822; nosuch@localhost\nrcpt1.Action=failed\nrcpt1.Status=5.1.1\n'* ]]
  run notice_part "$(notices 1)" 0
  [[ "$output" == *"A delivery status notification that this mail system wrote could not be"* ]]
  # the third part is the header of the failed notice
  run notice_part "$(notices 1)" 2
  [[ "$output" == *$'\nTo: nosuch@localhost\nSubject: Undelivered Mail Returned to Sender\n'* ]]
  # the postmaster's copy is K=dsn2 with NOTIFY=NEVER
  grep -q 'deliver-bounce: info: .* result=notified .* to=postmaster@localhost$' "$BATS_TEST_TMPDIR/log"
  [ "$(grep -c 'result=notified' "$BATS_TEST_TMPDIR/log")" -eq 2 ]
}

@test "deliver-bounce: a failing notice to the postmaster is dropped with a log line, no loop" {
  failed_to_demo 1 -f nosuch@localhost
  bbsmail-user set sysop --flags disabled
  for i in 1 2 3 4 5 6; do runq 2>>"$BATS_TEST_TMPDIR/log" || true; done
  spool_empty
  [ "$(find "$(SPOOL)/mailbox" -type f -path '*/new/*' | wc -l)" -eq 0 ]
  [ "$(grep -c 'result=notified' "$BATS_TEST_TMPDIR/log")" -eq 2 ]
  [ "$(grep -c 'rcpt=postmaster@localhost channel=- result=failed .* bounce=none' "$BATS_TEST_TMPDIR/log")" -eq 1 ]
}

@test "deliver-bounce: a message from <> that fails gets no notice" {
  failed_to_demo 1 -f '<>'
  [ "$(job_count bounce)" -eq 0 ]
  runq 2>/dev/null
  runq 2>/dev/null
  spool_empty
  [ "$(mailbox_count 1)" -eq 0 ]
}

@test "deliver-bounce: a hand-made job from <> without K=dsn is dropped" {
  failed_to_demo 1
  job="$(ls "$(SPOOL)/queue/bounce")"
  python3 - "$(SPOOL)/queue/bounce/$job" <<'EOF'
import sys
p = sys.argv[1]
d = open(p, 'rb').read()
fields = [b'F' if f[:1] == b'F' else f for f in d[:d.index(b'\0\0') + 1].split(b'\0')[:-1]]
open(p, 'wb').write(b'\0'.join(fields) + b'\0\0')
EOF
  run bounce
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$job rcpt=demo@localhost channel=bounce result=dropped delay="*" reason=null-sender" ]]
  spool_empty
}

@test "dsn: the boundary avoids the returned text, fields fold and unfold back, control bytes stay in their line" {
  run "$BBSMAIL_ROOT/build/t/dsn-test"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "deliver-bounce: an empty queue exits 0; usage errors exit 100" {
  run bounce
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run bounce -x
  [ "$status" -eq 100 ]
  [[ "$output" == *"usage: deliver-bounce [-d DIR]"* ]]
}

# ---- crashes (spool(5), states B2 to B4) ----

# kill_at_syncfs N: deliver-bounce under strace, killed with SIGKILL on
# entry to its Nth syncfs (1: notices written in spool/tmp; 2: renamed over
# the jobs' body links; 3: renamed into spool/incoming).
kill_at_syncfs() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 20 strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:signal=KILL:when="$1" \
    "$LIBEXEC/deliver-bounce" 2>/dev/null || status=$?
  [ "$status" -eq 137 ]
}

# three failed messages, the notices' jobs in spool/queue/bounce
three_jobs() {
  inject_many 1 3 -f sysop@localhost demo
  bbsmail-user del demo
  "$LIBEXEC/route" 2>/dev/null
  [ "$(job_count bounce)" -eq 3 ]
}

# one_notice_each FIRST LAST: sysop's mailbox holds exactly one notice per
# message FIRST..LAST (the X-Seq of the returned header), nothing else.
one_notice_each() {
  python3 - "$HOME_DIR/spool/mailbox/1" "$1" "$2" <<'EOF'
import os, re, sys
box, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = {}
for sub in ('new', 'cur'):
    d = os.path.join(box, sub)
    for n in os.listdir(d) if os.path.isdir(d) else []:
        data = open(os.path.join(d, n), 'rb').read()
        m = re.search(rb'^X-Seq: (\d+)$', data, re.M)
        assert data.startswith(b'Return-Path: <>\n') and m, n
        seen[int(m.group(1))] = seen.get(int(m.group(1)), 0) + 1
want = {i: 1 for i in range(first, last + 1)}
if seen != want:
    print('notices per message:', seen)
    sys.exit(1)
EOF
}

@test "state B2: killed with the notices written in spool/tmp: the rerun writes them anew, once" {
  three_jobs
  kill_at_syncfs 1
  [ "$(ls "$(SPOOL)/tmp" | wc -l)" -eq 3 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count bounce)" -eq 3 ]
  runq 2>/dev/null
  runq 2>/dev/null
  one_notice_each 1 3
  spool_empty
}

@test "state B3: killed with the notices over the body links: the rerun moves the same notices on" {
  three_jobs
  kill_at_syncfs 2
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count bounce)" -eq 3 ]
  # each job's body is now its notice: a record with another id
  for job in $(ls "$(SPOOL)/queue/bounce"); do
    body_id="$(record_fields "$(SPOOL)/body/bounce-$job" | sed -n 's/^I//p')"
    [ "$body_id" != "$(record_fields "$(SPOOL)/queue/bounce/$job" | sed -n 's/^I//p')" ]
    echo "$body_id" >> "$BATS_TEST_TMPDIR/ids"
  done
  run bounce
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=notified')" -eq 3 ]
  [ "$(ls "$(SPOOL)/incoming" | sort)" = "$(sort "$BATS_TEST_TMPDIR/ids")" ]
  runq 2>/dev/null
  one_notice_each 1 3
  spool_empty
}

@test "state B4: killed with the notices in spool/incoming, jobs not retired: no second notice" {
  three_jobs
  kill_at_syncfs 3
  [ "$(incoming_count)" -eq 3 ]
  [ "$(job_count bounce)" -eq 3 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  # route may take the notices first
  "$LIBEXEC/route" 2>/dev/null
  run bounce
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=already-delivered')" -eq 3 ]
  runq 2>/dev/null
  one_notice_each 1 3
  spool_empty
}

@test "a rerun of route that finds its notice already sent removes what a killed attempt left in spool/tmp" {
  inject 1 -f sysop@localhost demo
  bbsmail-user del demo
  id="$(ls "$(SPOOL)/incoming")"
  mkdir -p "$BATS_TEST_TMPDIR/snap"
  ln "$(SPOOL)/incoming/$id" "$BATS_TEST_TMPDIR/snap/"
  "$LIBEXEC/route" 2>/dev/null
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$id.b0-incoming" ]
  "$LIBEXEC/deliver-bounce" 2>/dev/null      # the notice is handed on and recorded
  # S3 again (route killed before the incoming name went), and a later
  # attempt killed after writing the job anew (S2a): its tmp file
  ln "$BATS_TEST_TMPDIR/snap/$id" "$(SPOOL)/incoming/"
  echo leftover > "$(SPOOL)/tmp/bounce-$id.b0-incoming"
  run "$LIBEXEC/route"
  [ "$status" -eq 0 ]
  [[ "$output" == *"bounce=$id.b0-incoming(sent-before)"* ]] || { echo "$output"; false; }
  [ ! -e "$(SPOOL)/tmp/bounce-$id.b0-incoming" ]
  [ -z "$(ls "$(SPOOL)/queue/bounce")" ]
  runq 2>/dev/null
  one_notice_each 1 1
  spool_empty
}

@test "SIGKILL at random points of deliver-bounce and route: exactly one notice per job" {
  inject_many 1 30 -f sysop@localhost demo
  bbsmail-user del demo
  kills=0
  for ((i = 0; i < 300; i++)); do
    if [ "$(incoming_count)" -eq 0 ] && [ "$(job_count bounce)" -eq 0 ]; then break; fi
    delay="0.$(printf '%04d' $((RANDOM % 100 + 5)))"
    if ((RANDOM % 3)); then stage=deliver-bounce; else stage=route; fi
    timeout -s KILL "$delay" "$LIBEXEC/$stage" 2>/dev/null && true
    [ $? -eq 137 ] && kills=$((kills + 1))
  done
  echo "stages killed: $kills" >&3
  [ "$kills" -gt 5 ]
  for try in 1 2 3; do runq 2>/dev/null || true; done
  [ "$(bad_count)" -eq 0 ]
  spool_empty
  one_notice_each 1 30
}
