#!/usr/bin/env bats
# spool_file_create recycles finished files from spool/trash instead of
# creating new ones (creation after deletions is slow on this disk): the
# recycled file must end up holding exactly the new content, mode 0600.
load helper

setup() { make_home; }

incoming_file() { find "$HOME_DIR/spool/incoming" -type f | head -1; }

@test "a longer trash file is recycled and cut to the new message exactly" {
  head -c 200000 /dev/zero | tr '\0' X > "$HOME_DIR/spool/trash/old-big"
  chmod 0400 "$HOME_DIR/spool/trash/old-big"
  inode=$(stat -c %i "$HOME_DIR/spool/trash/old-big")
  printf 'Subject: small\n\nhello\n' | sendmail demo@localhost
  f="$(incoming_file)"
  [ "$(stat -c %i "$f")" = "$inode" ]
  [ "$(stat -c %a "$f")" = "600" ]
  [ "$(ls "$HOME_DIR/spool/trash" | wc -l)" -eq 0 ]
  run grep -c X "$f"
  [ "$output" = "0" ]
  [ "$(tail -c 6 "$f")" = "hello" ]
  [ "$(stat -c %s "$f")" -lt 2000 ]
}

@test "the message is byte-exact through recycled files end to end" {
  for i in 1 2 3; do head -c 50000 /dev/urandom > "$HOME_DIR/spool/trash/junk$i"; done
  printf 'Subject: one\n\nfirst body\n' | sendmail demo@localhost
  run_stages
  run_stages
  f="$(mailbox_files 2)"
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -qx 'Subject: one' "$f"
  [ "$(tail -n 2 "$f")" = $'\nfirst body' ]
  run grep -c -a . "$f"
  [ "$(stat -c %s "$f")" -lt 1000 ]
}

@test "a hard-linked file in the trash is never written through" {
  echo precious > "$BATS_TEST_TMPDIR/precious"
  ln "$BATS_TEST_TMPDIR/precious" "$HOME_DIR/spool/trash/linked"
  printf 'Subject: x\n\nbody\n' | sendmail demo@localhost
  [ "$(cat "$BATS_TEST_TMPDIR/precious")" = "precious" ]
  [ ! -e "$HOME_DIR/spool/trash/linked" ]
  [ "$(tail -c 5 "$(incoming_file)")" = "body" ]
}
