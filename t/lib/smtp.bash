# smtpd test helpers: load after helper.bash (`load lib/smtp`).
SMTP_CHAT="$BATS_TEST_DIRNAME/lib/smtp_chat.py"

# smtp_setup [mail.ini lines...]: a fresh home and smtpd under tcpserver.
smtp_setup() {
  make_home "$@"
  start_smtpd
}

# chat: runs the script on stdin (see t/lib/smtp_chat.py) against smtpd.
chat() { timeout 60 python3 "$SMTP_CHAT" chat "$SMTP_PORT"; }

# conf_param LINE...: appends PARAM lines to smtpserver.conf.
conf_param() {
  local line
  for line in "$@"; do echo "PARAM $line" >> "$HOME_DIR/etc/smtpserver.conf"; done
}

incoming_files() { find "$HOME_DIR/spool/incoming" -type f | sort; }
incoming_count() { incoming_files | wc -l; }
tmp_count() { find "$HOME_DIR/spool/tmp" -type f | wc -l; }
envelope_of() { python3 "$SMTP_CHAT" envelope "$1"; }
message_of() { python3 "$SMTP_CHAT" message "$1"; }
smtpd_log() { cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

# The usual opening: greeting and EHLO.
HELLO=$'R 220\nL EHLO client.example\nR 250'
# The usual transaction opening, up to DATA's 354.
TO_DEMO_DATA=$'L MAIL FROM:<a@example.org>\nR 250\nL RCPT TO:<demo@localhost>\nR 250\nL DATA\nR 354'

# ---- TLS and AUTH (issue 4) ----------------------------------------------
# tls_setup_file: one self-signed pair per test file (setup_file), in
# $BATS_FILE_TMPDIR/cert/etc/tls; tls_home copies it into the test's home.
tls_setup_file() {
  "$BATS_TEST_DIRNAME/../scripts/make-cert" "$BATS_FILE_TMPDIR/cert" >/dev/null 2>&1
}
tls_home() {
  mkdir -p "$HOME_DIR/etc/tls"
  cp "$BATS_FILE_TMPDIR/cert/etc/tls/cert.pem" "$BATS_FILE_TMPDIR/cert/etc/tls/key.pem" "$HOME_DIR/etc/tls/"
}
# chats PORT: a chat script over implicit TLS (SMTPS).
chats() { timeout 60 python3 "$SMTP_CHAT" chats "$1"; }
# chat_port PORT: a plain chat script against another smtpd (e.g. -m).
chat_port() { timeout 60 python3 "$SMTP_CHAT" chat "$1"; }
# b64 TEXT: base64 of TEXT, printf escapes (\0) honoured.
b64() { printf "$1" | base64 -w0; }
# swaks_to PORT [swaks args...]: swaks against 127.0.0.1:PORT, bounded.
swaks_to() {
  local port="$1"
  shift
  timeout 30 swaks --server 127.0.0.1 --port "$port" --helo client.example --from demo@localhost \
    --timeout 10 "$@"
}
remote_jobs() { find "$HOME_DIR/spool/queue/remote" -type f 2>/dev/null | sort; }
# remote_bodies: the messages of the remote jobs (their body links, spool(5)).
remote_bodies() { find "$HOME_DIR/spool/body" -name 'remote-*' -type f 2>/dev/null | sort; }
# set_options FLAGS: replaces the Options line of mail.ini ('|' inside, so
# not through set_mail_key's sed).
set_options() { sed -i "s#^Options *=.*#Options = $1#" "$HOME_DIR/etc/mail.ini"; }

# ---- log lines -------------------------------------------------------------
SMTP_LOG="$BATS_TEST_DIRNAME/lib/smtp_log.py"
# log_count KEY LINE: how many KEY= fields LINE holds, by the quoting rule
# of smtpd(8) LOG (fails on a line that breaks the rule).
log_count() { python3 "$SMTP_LOG" count "$1" "$2"; }
# log_session LOGFILE PATTERN: the session= of the one line matching PATTERN.
log_session() {
  local line
  line="$(grep -e "$2" "$1")" || return 1
  [ "$(wc -l <<<"$line")" -eq 1 ] || return 1
  sed -n 's/^[a-z0-9-]*: [a-z]*: session=\([0-9]*\) .*/\1/p' <<<"$line"
}
