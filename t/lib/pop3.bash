# POP3 test helpers (pop3d tests).  Load after helper: `load lib/pop3`.
# Mailbox messages are written by hand the Maildir way (tmp/, then rename
# into new/), so these tests never depend on smtpd or deliver-local.

POP3_PY="$BBSMAIL_ROOT/t/lib/pop3.py"

# pop3_home [mail.ini lines...]: make_home with a short failed-login delay.
pop3_home() {
  make_home "LoginAttemptDelay = 50" "LoginAttemptThrottle = 10" "$@"
}

start_pop3d() {
  serve POP3_PORT "$LIBEXEC/pop3d" "$@"
  POP3_SERVER_PID="$(tail -n 1 "$BATS_TEST_TMPDIR/pids")"
}

mailbox_dir() { echo "$HOME_DIR/spool/mailbox/$1"; }

# put_message USERNUM NAME: stdin becomes new/NAME (via tmp/ and rename).
put_message() {
  local box
  box="$(mailbox_dir "$1")"
  mkdir -p "$box/tmp" "$box/new" "$box/cur"
  cat > "$box/tmp/$2"
  mv "$box/tmp/$2" "$box/new/$2"
}

# put_messages USERNUM COUNT [FIRST_SECOND]: COUNT small distinct messages,
# named <second>.M<i>P1.test so they sort in order.
put_messages() {
  local n="$2" t="${3:-1700000000}"
  python3 "$POP3_PY" fill "$(mailbox_dir "$1")" "$n" "$t"
}

# pop3_chat [PORT]: sends each stdin line as a command and prints every reply
# line (multi-line replies in full); see pop3.py.
pop3_chat() { timeout 20 python3 "$POP3_PY" chat "${1:-$POP3_PORT}"; }

pop3_log() { cat "$BATS_TEST_TMPDIR/POP3_PORT.log"; }

# pop3d_pid: the pop3d child of the tcpserver that start_pop3d ran, for
# the crash tests.
pop3d_pid() { pgrep -P "$POP3_SERVER_PID" | head -n 1; }

# expect_crlf FILE: FILE as curl shows a RETR (CRLF line ends, no stuffing).
expect_crlf() {
  python3 -c 'import sys; d=open(sys.argv[1],"rb").read().replace(b"\r\n",b"\n"); sys.stdout.buffer.write(d.replace(b"\n",b"\r\n") + (b"" if d.endswith(b"\n") else b"\r\n"))' "$1"
}

# pop3_chats PORT: pop3_chat over implicit TLS (POP3S).
pop3_chats() { timeout 20 python3 "$POP3_PY" chat "$1" --tls; }

# pop3_cert_file: one self-signed pair per test file (call in setup_file),
# made by scripts/make-cert in $BATS_FILE_TMPDIR/cert/etc/tls; pop3_cert_home
# copies it into the test's home.
pop3_cert_file() {
  "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_FILE_TMPDIR/cert" localhost >/dev/null 2>&1
}
pop3_cert_home() {
  mkdir -p "$HOME_DIR/etc/tls"
  cp "$BATS_FILE_TMPDIR/cert/etc/tls/cert.pem" "$BATS_FILE_TMPDIR/cert/etc/tls/key.pem" "$HOME_DIR/etc/tls/"
}

# start_pop3s [ARGS]: pop3d -s under tcpserver; the port is $POP3S_PORT and
# the log $BATS_TEST_TMPDIR/POP3S_PORT.log.
start_pop3s() { serve POP3S_PORT "$LIBEXEC/pop3d" -s "$@"; }

# b64 TEXT: base64 of TEXT with printf escapes (\0) honoured.
pop3_b64() { printf "$1" | base64 -w0; }
