#!/usr/bin/env bats
# libexec/pop3d with fetchmail: 500 messages into an mbox through an MDA,
# byte for byte; --keep keeps them, the default deletes them, and --uidl
# relies on UIDLs that stay stable across sessions.
load helper
load lib/pop3

setup() {
  pop3_home
  put_messages 2 500
  start_pop3d
  MBOX="$BATS_TEST_TMPDIR/mbox"
  : > "$MBOX"
  # The MDA appends each message as an mbox entry (fetchmail hands it over
  # with LF line ends and without the stuffing dots).
  cat > "$BATS_TEST_TMPDIR/mda" <<EOF
#!/bin/sh
{ echo "From fetchmail Thu Jan  1 00:00:00 1970"; cat; echo; } >> "$MBOX"
EOF
  chmod +x "$BATS_TEST_TMPDIR/mda"
}

# fetch OPTIONS...: one bounded fetchmail run with a private rcfile.
fetch() {
  local rc="$BATS_TEST_TMPDIR/fetchmailrc"
  cat > "$rc" <<EOF
set no syslog
set invisible
poll 127.0.0.1 with proto POP3 port $POP3_PORT auth password:
  user "demo" there with password "demo" is "$(id -un)" here
  mda "$BATS_TEST_TMPDIR/mda"
  options no rewrite sslproto ''
EOF
  chmod 600 "$rc"
  HOME="$BATS_TEST_TMPDIR" timeout 60 fetchmail -f "$rc" -N --nosyslog \
    --pidfile "$BATS_TEST_TMPDIR/fetchmail.pid" --idfile "$BATS_TEST_TMPDIR/fetchids" "$@" 2>&1
}

# The mbox fetchmail should have written for the stored files, in order.
expected_mbox() {
  python3 - "$(mailbox_dir 2)" <<'PY'
import os, sys
box = sys.argv[1]
names = []
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(box, sub)):
        names.append((int(n.split(".")[0]), n.split(":")[0], os.path.join(box, sub, n)))
out = sys.stdout.buffer
for _, _, path in sorted(names):
    out.write(b"From fetchmail Thu Jan  1 00:00:00 1970\n" + open(path, "rb").read() + b"\n")
PY
}

@test "fetchmail --keep: 500 messages byte for byte, all kept (seen, in cur/)" {
  expected_mbox > "$BATS_TEST_TMPDIR/want"
  run fetch --keep --fetchall
  [ "$status" -eq 0 ]
  cmp "$MBOX" "$BATS_TEST_TMPDIR/want"
  [ "$(grep -c '^From fetchmail' "$MBOX")" -eq 500 ]
  [ "$(grep -c '^\.dotted line$' "$MBOX")" -eq 500 ]
  [ "$(ls "$(mailbox_dir 2)/cur" | grep -c ':2,S$')" -eq 500 ]
  [ "$(mailbox_count 2)" -eq 500 ]
  # Without --keep the next run fetches them again and deletes them.
  : > "$MBOX"
  run fetch --fetchall
  [ "$status" -eq 0 ]
  cmp "$MBOX" "$BATS_TEST_TMPDIR/want"
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "fetchmail --uidl --keep fetches only new mail; --flush removes the old" {
  run fetch --keep --uidl
  [ "$status" -eq 0 ]
  [ "$(grep -c '^From fetchmail' "$MBOX")" -eq 500 ]
  printf 'From: late@example.org\nSubject: late\n\n.late\n' | put_message 2 1800000000.M1P2.test
  : > "$MBOX"
  run fetch --keep --uidl
  [ "$status" -eq 0 ]
  [ "$(grep -c '^From fetchmail' "$MBOX")" -eq 1 ]
  grep -qx 'Subject: late' "$MBOX"
  grep -qx '\.late' "$MBOX"
  [ "$(mailbox_count 2)" -eq 501 ]
  # --flush deletes the 501 already-seen messages; nothing new to fetch.
  : > "$MBOX"
  run fetch --uidl --flush
  [ "$status" -eq 1 ] || [ "$status" -eq 0 ]
  [ ! -s "$MBOX" ]
  [ "$(mailbox_count 2)" -eq 0 ]
}
