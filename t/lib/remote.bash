# Helpers for the outbound tests (deliver-remote, deliver-bounce end to
# end).  Load after `load helper`, `load lib/stages` and `load lib/dnsmasq`
# with `load lib/remote`.
#
#   peer_start [smtp_peer.py options...]   the scripted peer (t/lib/smtp_peer.py)
#       on a free port; sets PEER_PORT and PEER_DIR (its files: commands.log,
#       msg.N, rcpt.N), PID tracked.
#   remote_home DNSMASQ-ARGS...   make_home, dnsmasq with those records, and
#       mail.ini pointing deliver-remote at it: DNSServer, OutboundPort
#       $PEER_PORT (start the peer first), short timeouts.
#   peer_messages / peer_connections   counts
#   deliver_remote [args]   libexec/deliver-remote

peer_start() {
  PEER_DIR="$BATS_TEST_TMPDIR/peer"
  mkdir -p "$PEER_DIR"
  rm -f "$PEER_DIR/port"
  python3 "$BBSMAIL_ROOT/t/lib/smtp_peer.py" --port-file "$PEER_DIR/port" --dir "$PEER_DIR" "$@" \
    >>"$PEER_DIR/peer.log" 2>&1 &
  track_pid $!
  local i
  for i in $(seq 1 200); do
    [ -s "$PEER_DIR/port" ] && break
    sleep 0.05
  done
  PEER_PORT="$(cat "$PEER_DIR/port")"
  [ -n "$PEER_PORT" ]
}

remote_home() {
  make_home
  set_options "ALLOW_POP3 | ALLOW_SYSOP_ALIASES"
  dnsmasq_start "$@"
  set_mail_key DNSServer "$DNSMASQ_SERVER"
  set_mail_key OutboundPort "${PEER_PORT:-25}"
  set_mail_key OutboundTimeout 20
  set_mail_key ConnectTimeout 5
}

# set_options "A | B": the Options line (set_mail_key's sed takes no '|').
set_options() {
  python3 - "$HOME_DIR/etc/mail.ini" "$1" <<'PY'
import re, sys
path, value = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'(?mi)^Options *=.*$', lambda m: 'Options = ' + value, text)
open(path, 'w').write(text)
PY
}

peer_messages() { find "$PEER_DIR" -name 'msg.*' | wc -l; }
peer_connections() { awk '{print $1}' "$PEER_DIR/commands.log" 2>/dev/null | sort -u | wc -l; }
deliver_remote() { "$LIBEXEC/deliver-remote" "$@"; }

# peer_text N: message N as sent, CRLF turned back into LF, its first line
# (the Received line sendmail added) taken off.
peer_text() { sed '1d' "$PEER_DIR/msg.$1" | sed 's/\r$//'; }
