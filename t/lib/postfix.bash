# Peers for the SMTP client tests: a PRIVATE Postfix instance and Postfix's
# smtp-sink.  Load after helper.bash (`load lib/postfix`).  Nothing here
# touches the system's Postfix: the instance has its own config_directory,
# queue_directory and data_directory under $BATS_TEST_TMPDIR/postfix,
# listens on 127.0.0.1:<free port> only, never uses DNS
# (smtp_dns_support_level = disabled, smtpd_peername_lookup = no) and
# delivers mail for the domain $POSTFIX_DOMAIN through a pipe(8) service
# that stores each recipient's copy byte for byte (no Return-Path,
# Delivered-To or From_ line; smtpd's own Received header is dropped by a
# header_checks rule and no header is added or rewritten), so a test can
# compare the stored file with what it sent.  bench/lib/postfix-peer.sh
# runs its instance the same way (Maildir delivery there).
#
#   postfix_start [key=value...]   start it; sets POSTFIX_PORT, POSTFIX_DIR
#       users="a b"      the valid recipients a@$POSTFIX_DOMAIN ... (default "alice bob")
#       tls=1            offer STARTTLS (smtpd_tls_security_level = may,
#                        a certificate from scripts/make-cert)
#       sasl="PLAIN ..." require AUTH (Cyrus SASL, sasldb, this mech_list);
#                        postfix_sasl_user adds the accounts
#       size=N           message_size_limit
#       discard=a,b      smtpd_discard_ehlo_keywords (pipelining, chunking, ...)
#   postfix_sasl_user USER PASSWORD   an account in the private sasldb
#   postfix_stored RCPT   the stored copies for RCPT (full address), sorted
#   postfix_wait_stored RCPT N   waits (bounded) until RCPT has N copies
#   postfix_log           the instance's maillog
#   postfix_stop          `postfix stop`, then the master and its children by
#                         PID (call it from teardown, before kill_tracked)
#
#   smtp_sink_start [smtp-sink options...]   smtp-sink on a free port with -d
#       dumping into $SINK_DIR (a new one each time); sets SINK_PORT; its
#       PID is tracked
#   sink_files            the dump files, oldest first
#   sink_message FILE     the message part of a dump file (smtp-sink's own
#                         X-* and Received lines and its final empty line off)

POSTFIX_DOMAIN=postfix.test
POSTFIX_DIR=
POSTFIX_PORT=
POSTFIX_MAIL_UID="$(id -u nobody 2>/dev/null || echo 65534)"

# The daemons run as postfix or nobody: they need to pass through the
# test's private directories (search permission only, nothing readable).
_postfix_open_path() {
  local d="$1"
  while [ "$d" != / ] && [ "$d" != /tmp ] && [ -n "$d" ]; do
    chmod o+x "$d" 2>/dev/null || true
    d="$(dirname "$d")"
  done
}

_postfix_main_cf() {
  local d="$1" port="$2"
  cat <<EOF
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
command_directory = $(postconf -dh command_directory)
daemon_directory = $(postconf -dh daemon_directory)
meta_directory = $(postconf -dh meta_directory)
shlib_directory = $(postconf -dh shlib_directory)
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.$POSTFIX_DOMAIN
mydomain = $POSTFIX_DOMAIN
myorigin = \$myhostname
mydestination = $POSTFIX_DOMAIN
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
default_transport = error:no outbound mail from the test peer
relay_transport = error:no outbound mail from the test peer
local_transport = store
store_destination_recipient_limit = 1
local_recipient_maps = texthash:$d/etc/recipients
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtputf8_enable = yes
local_header_rewrite_clients =
always_add_missing_headers = no
header_checks = regexp:$d/etc/header_checks
maillog_file_prefixes = $d
maillog_file = $d/log/maillog
EOF
}

_postfix_master_cf() {
  local d="$1" port="$2"
  cat <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
store     unix  - n n -     - pipe user=nobody argv=$d/bin/store $d/mail \${queue_id} \${recipient}
EOF
}

# The pipe command: one file per recipient copy, exactly the bytes pipe(8)
# hands over.
_postfix_store_script() {
  cat <<'EOF'
#!/bin/sh
umask 022
exec cat > "$1/$3.$2"
EOF
}

_postfix_tls_cf() {
  local d="$1"
  "$BBSMAIL_ROOT/scripts/make-cert" "$d/cert" >/dev/null 2>&1 || return 1
  chmod 644 "$d/cert/etc/tls/key.pem"
  cat <<EOF
smtpd_tls_security_level = may
smtpd_tls_cert_file = $d/cert/etc/tls/cert.pem
smtpd_tls_key_file = $d/cert/etc/tls/key.pem
smtpd_tls_loglevel = 1
EOF
}

_postfix_sasl_cf() {
  local d="$1" mechs="$2"
  # Debian's Postfix reads $config_directory/sasl/smtpd.conf whatever
  # cyrus_sasl_config_path says; upstream's reads the latter: both agree.
  mkdir -p "$d/etc/sasl" || return 1
  cat > "$d/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $d/sasldb2
mech_list: $mechs
EOF
  cat <<EOF
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $d/etc/sasl
smtpd_sasl_local_domain = $POSTFIX_DOMAIN
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject
EOF
}

postfix_start() {
  local d="$BATS_TEST_TMPDIR/postfix" port users="alice bob" tls= sasl= size= discard= kv u
  for kv in "$@"; do
    case "$kv" in
      users=*) users="${kv#users=}" ;;
      tls=*) tls="${kv#tls=}" ;;
      sasl=*) sasl="${kv#sasl=}" ;;
      size=*) size="${kv#size=}" ;;
      discard=*) discard="${kv#discard=}" ;;
      *) echo "postfix_start: unknown option $kv" >&2; return 1 ;;
    esac
  done
  port="$(free_port)"
  POSTFIX_DIR="$d"
  mkdir -p "$d/etc" "$d/queue" "$d/data" "$d/log" "$d/mail" "$d/bin" || return 1
  _postfix_open_path "$d"
  chmod 755 "$d"
  chown postfix:postfix "$d/data" && chown "$POSTFIX_MAIL_UID" "$d/mail" || return 1
  _postfix_store_script > "$d/bin/store" && chmod 755 "$d/bin/store"
  for u in $users; do echo "$u@$POSTFIX_DOMAIN ok"; done > "$d/etc/recipients"
  echo '/^Received: / IGNORE' > "$d/etc/header_checks"
  {
    _postfix_main_cf "$d" "$port"
    [ -z "$tls" ] || _postfix_tls_cf "$d" || return 1
    [ -z "$sasl" ] || _postfix_sasl_cf "$d" "$sasl" || return 1
    [ -z "$size" ] || echo "message_size_limit = $size"
    [ -z "$discard" ] || echo "smtpd_discard_ehlo_keywords = $discard"
  } > "$d/etc/main.cf"
  _postfix_master_cf "$d" "$port" > "$d/etc/master.cf"
  # `postfix check` creates the queue subdirectories with their owners.
  if ! { postfix -c "$d/etc" check && postfix -c "$d/etc" start; } >> "$d/log/start" 2>&1; then
    echo "postfix did not start:" >&2
    cat "$d/log/start" "$d/log/maillog" >&2 2>/dev/null
    return 1
  fi
  POSTFIX_PORT="$port"
  # Bounded, but generous: the master starts its daemons on a busy machine.
  local i
  for i in $(seq 1 200); do
    nc -z 127.0.0.1 "$port" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "postfix never listened on $port" >&2
  return 1
}

postfix_sasl_user() {
  local d="$POSTFIX_DIR"
  printf '%s' "$2" | saslpasswd2 -p -c -f "$d/sasldb2" -u "$POSTFIX_DOMAIN" "$1" || return 1
  chown postfix "$d/sasldb2" && chmod 600 "$d/sasldb2"
}

postfix_stored() {
  find "$POSTFIX_DIR/mail" -type f -name "$1.*" 2>/dev/null | sort
}

postfix_wait_stored() {
  local i
  for i in $(seq 1 300); do
    [ "$(postfix_stored "$1" | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "postfix stored $(postfix_stored "$1" | wc -l) copies for $1, not $2" >&2
  return 1
}

postfix_log() { cat "$POSTFIX_DIR/log/maillog" 2>/dev/null; }

# The master's PID from its pid file; every Postfix daemon is its child.
_postfix_master_pid() {
  local f="$POSTFIX_DIR/queue/pid/master.pid"
  [ -r "$f" ] && tr -d ' \n' < "$f"
}

postfix_stop() {
  local d="$POSTFIX_DIR" master pid i
  [ -n "$d" ] && [ -d "$d/etc" ] || return 0
  master="$(_postfix_master_pid)"
  postfix -c "$d/etc" stop >> "$d/log/start" 2>&1 || true
  if [ -n "$master" ]; then
    for i in $(seq 1 100); do
      kill -0 "$master" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$master" 2>/dev/null; then
      for pid in $(pgrep -P "$master" 2>/dev/null) "$master"; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
  fi
  POSTFIX_DIR=
}

# ---- smtp-sink ----------------------------------------------------------

smtp_sink_start() {
  SINK_PORT="$(free_port)"
  SINK_DIR="$BATS_TEST_TMPDIR/sink.$SINK_PORT"   # one per instance
  mkdir -p "$SINK_DIR"
  _postfix_open_path "$SINK_DIR"
  chown nobody "$SINK_DIR"
  smtp-sink -u nobody -4 -d "$SINK_DIR/m." "$@" "127.0.0.1:$SINK_PORT" 10 \
    >> "$BATS_TEST_TMPDIR/sink.log" 2>&1 &
  track_pid $!
  wait_port "$SINK_PORT"
}

sink_files() { ls -tr "$SINK_DIR"/m.* 2>/dev/null; }

# smtp-sink writes its X-* lines, a three-line Received header, the
# message, then one empty line.
sink_message() {
  awk 'done { if (have) print prev; prev = $0; have = 1; next }
       /^Received: / { skip = 2; next }
       skip > 0 { skip--; if (skip == 0) done = 1; next }' "$1"
}
