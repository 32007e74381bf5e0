# Helpers for the stage tests (route, deliver-local, runq, sendmail, mailq,
# crash, end-to-end).  Load after `load helper` with `load lib/stages`.

SPOOL() { echo "$HOME_DIR/spool"; }

# inject SEQ [sendmail args...]: a message whose body and X-Seq header carry
# SEQ, with From/Date/Message-ID given so sendmail adds only Received.
# The exact text is kept in $BATS_TEST_TMPDIR/sent/SEQ for comparisons.
inject() {
  local seq="$1"
  shift
  mkdir -p "$BATS_TEST_TMPDIR/sent"
  printf 'From: tester@localhost\nTo: demo@localhost\nDate: Sun, 22 Nov 2026 00:00:00 +0000\nMessage-ID: <seq-%s@test>\nX-Seq: %s\nSubject: message %s\n\nbody of message %s\n' \
    "$seq" "$seq" "$seq" "$seq" > "$BATS_TEST_TMPDIR/sent/$seq"
  "$BBSMAIL_ROOT/bin/sendmail" -f tester@localhost "$@" < "$BATS_TEST_TMPDIR/sent/$seq"
}

# inject_many FIRST LAST [sendmail args...]: inject FIRST..LAST, quietly.
inject_many() {
  local first="$1" last="$2" i
  shift 2
  for ((i = first; i <= last; i++)); do
    inject "$i" "$@" 2>/dev/null || return 1
  done
}

# incoming_count / job_count CHANNEL / bad_count
incoming_count() { find "$(SPOOL)/incoming" -type f | wc -l; }
job_count() { find "$(SPOOL)/queue/$1" -type f | wc -l; }
bad_count() { find "$(SPOOL)/bad" -type f | wc -l; }

# record_fields FILE: the envelope record of a spool file, one field a line.
record_fields() {
  python3 - "$1" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
end = data.index(b'\0\0')
for f in data[:end + 1].split(b'\0')[:-1]:
    sys.stdout.write(f.decode('utf-8', 'replace') + '\n')
EOF
}

# check_delivered_once USERNUM FIRST LAST [SENDER]: the user's mailbox holds
# exactly one file per SEQ in FIRST..LAST, no other file, and each is
# "Return-Path: <SENDER>", one sendmail Received line, then the sent text
# byte for byte.  Prints what is wrong and fails otherwise.
check_delivered_once() {
  python3 - "$HOME_DIR/spool/mailbox/$1" "$2" "$3" "${4:-tester@localhost}" "$BATS_TEST_TMPDIR/sent" <<'EOF'
import os, re, sys
box, first, last, sender, sent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
files = []
for sub in ('new', 'cur'):
    d = os.path.join(box, sub)
    if os.path.isdir(d):
        files += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith('.')]
seen = {}
bad = []
received = re.compile(rb'^Received: from local user \(uid \d+\) by localhost \(bbsmail\) id [0-9a-f.]+; .+\n')
for path in files:
    data = open(path, 'rb').read()
    head = b'Return-Path: <' + sender.encode() + b'>\n'
    if not data.startswith(head):
        bad.append('%s: no Return-Path line' % path); continue
    rest = data[len(head):]
    m = received.match(rest)
    if not m:
        bad.append('%s: no Received line' % path); continue
    rest = rest[m.end():]
    seq = re.search(rb'^X-Seq: (\d+)$', rest, re.M)
    if not seq:
        bad.append('%s: no X-Seq' % path); continue
    n = int(seq.group(1))
    seen[n] = seen.get(n, 0) + 1
    if rest != open(os.path.join(sent, str(n)), 'rb').read():
        bad.append('%s: content differs from message %d' % (path, n))
for n in range(first, last + 1):
    if seen.get(n, 0) != 1:
        bad.append('message %d delivered %d times' % (n, seen.get(n, 0)))
extra = [n for n in seen if n < first or n > last]
if extra:
    bad.append('unexpected messages %s' % extra[:10])
if len(files) != last - first + 1:
    bad.append('%d files, expected %d' % (len(files), last - first + 1))
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

# wait_for_count USERNUM N SECONDS: polls until the mailbox holds N files.
wait_for_count() {
  local user="$1" want="$2" limit="$3" i
  for ((i = 0; i < limit * 20; i++)); do
    [ "$(mailbox_count "$user")" -ge "$want" ] && return 0
    sleep 0.05
  done
  echo "mailbox $user has $(mailbox_count "$user") files, expected $want" >&2
  return 1
}

# start_runq_loop: runq -l in the background, tracked; stderr in runq.log.
start_runq_loop() {
  "$BBSMAIL_ROOT/bin/runq" -l 2>>"$BATS_TEST_TMPDIR/runq.log" &
  RUNQ_PID=$!
  track_pid "$RUNQ_PID"
}

# job_users: the user numbers of the local jobs, sorted, space-separated.
job_users() {
  local f
  for f in "$(SPOOL)"/queue/local/*; do
    record_fields "$f" | sed -n 's/^u//p'
  done | sort -n | tr '\n' ' '
}

# save_job JOB / restore_job JOB: a local job as it is now, its record and
# its body link (spool(5)), put back later to recreate "a run died before
# it retired the job".
save_job() {
  mkdir -p "$BATS_TEST_TMPDIR/saved"
  cp "$(SPOOL)/queue/local/$1" "$BATS_TEST_TMPDIR/saved/$1"
  ln -f "$(SPOOL)/body/local-$1" "$BATS_TEST_TMPDIR/saved/$1.body"
}
restore_job() {
  cp "$BATS_TEST_TMPDIR/saved/$1" "$(SPOOL)/queue/local/$1"
  ln -f "$BATS_TEST_TMPDIR/saved/$1.body" "$(SPOOL)/body/local-$1"
}

# deferred_count CHANNEL: jobs waiting in the next-attempt buckets.
deferred_count() { find "$(SPOOL)/defer/$1" -type f 2>/dev/null | wc -l; }
