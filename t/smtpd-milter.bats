#!/usr/bin/env bats
# Mail filters in smtpd (PARAM milter, milter(5)): a scripted milter on
# Debian's python3-milter (libmilter underneath) listening on a unix
# socket in the test's home; each test writes what it does at which step
# and checks the exact replies, the stored message and envelope, and what
# the milter saw.
load helper
load lib/session

MILTER_SCRIPT="$BATS_TEST_DIRNAME/lib/milter_script.py"

setup() {
  make_home
}

# milter NAME JSON: starts a scripted milter on $HOME_DIR/NAME.sock; what
# it saw goes to $HOME_DIR/NAME.seen.
milter() {
  local name="$1" i
  printf '%s\n' "$2" > "$HOME_DIR/$name.json"
  rm -f "$HOME_DIR/$name.sock"
  /usr/bin/python3 "$MILTER_SCRIPT" "$HOME_DIR/$name.json" "$HOME_DIR/$name.sock" "$HOME_DIR/$name.seen" \
    2>>"$BATS_TEST_TMPDIR/$name.log" &
  track_pid $!
  for i in $(seq 1 200); do
    [ -S "$HOME_DIR/$name.sock" ] && return 0
    sleep 0.05
  done
  echo "milter $name never listened" >&2
  return 1
}

# conf LINE...: etc/smtpserver.conf
conf() { printf '%s\n' "$@" > "$HOME_DIR/etc/smtpserver.conf"; }

# seen NAME PYTHON-EXPRESSION: evaluates it on what milter NAME saw (d).
seen() {
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$HOME_DIR/$1.seen" "$2"
}

# wait_seen NAME STEP: until milter NAME has seen STEP (at most 20 s).
wait_seen() {
  local i
  for i in $(seq 1 200); do
    [ "$(seen "$1" "'$2' in d['steps']")" = True ] && return 0
    sleep 0.1
  done
  return 1
}

message() {
  printf 'From: a@far.example\nSubject: %s\n\n%s\n' "${2:-test}" "${3:-hello there}" > "$1"
}

# send [SENDER] [RCPT...]: one message to demo@localhost (or the RCPTs).
send() {
  local from="${1:-s@far.example}" r cmds=()
  shift || true
  message "$BATS_TEST_TMPDIR/m"
  [ $# -gt 0 ] || set -- demo@localhost
  for r in "$@"; do cmds+=("RCPT TO:<$r>"); done
  session 127.0.0.1 'EHLO client.example' "MAIL FROM:<$from>" "${cmds[@]}" "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

# The message part of the one spooled file: from the Received: line on.
stored() { sed -n '/^Received: /,$p' "$(spooled)"; }
smtp_log() { cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

@test "milter: a milter that continues sees every step; the message is stored as it was" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  echo "$output"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 1 ]
  wait_seen m1 close
  [ "$(seen m1 'd["steps"][-8:]')" = "['connect', 'helo', 'mail', 'rcpt', 'data', 'eoh', 'eom', 'close']" ]
  [ "$(seen m1 'd["headers"][0][0]')" = "Received" ]
  [ "$(seen m1 'd["headers"][1:]')" = "[['From', 'a@far.example'], ['Subject', 'test']]" ]
  [ "$(seen m1 'repr(d["body"])')" = "'hello there\\r\\n'" ]
  run stored
  [ "${lines[-3]}" = "Subject: test" ]
  [ "${lines[-1]}" = "hello there" ]
}
