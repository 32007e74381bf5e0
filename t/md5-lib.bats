#!/usr/bin/env bats
# src/lib/md5.c (MD5, HMAC-MD5) and sha256.c through build/t/md5-test: the
# RFC 1321, RFC 2104/2202 and FIPS 180-2 vectors, then OpenSSL as a second
# opinion on every length up to 300 bytes.

load helper
bats_require_minimum_version 1.5.0

@test "md5, hmac_md5, sha256: published vectors and OpenSSL agree" {
  run --separate-stderr timeout 60 "$BBSMAIL_ROOT/build/t/md5-test"
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a wrong digest is caught: the driver fails on a corrupted vector" {
  # The driver's check must be able to fail: build a variant with one
  # vector changed and expect exactly one failed check.
  sed 's/900150983cd24fb0d6963f7d28e17f72/900150983cd24fb0d6963f7d28e17f73/' \
    "$BBSMAIL_ROOT/t/drivers/md5-test.c" > "$BATS_TEST_TMPDIR/bad.c"
  cc -std=c99 -D_GNU_SOURCE -I"$BBSMAIL_ROOT/src/lib" -I"$BBSMAIL_ROOT/t/drivers" \
    -o "$BATS_TEST_TMPDIR/bad" "$BATS_TEST_TMPDIR/bad.c" "$BBSMAIL_ROOT/build/libbbsmail.a" -lcrypto
  run timeout 60 "$BATS_TEST_TMPDIR/bad"
  [ "$status" -eq 1 ]
  [ "$(grep -c 'failed:' <<< "$output")" -eq 1 ]
}
