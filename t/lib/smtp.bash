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
