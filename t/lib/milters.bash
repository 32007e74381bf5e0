# Real milters from Debian for the milter tests: opendkim, spamass-milter
# (with a spamd of its own) and rspamd.  Load after `load helper` with
# `load lib/milters`.  Nothing here is a system service: each peer runs in
# the foreground from a configuration written into the test's directory,
# listens on a unix socket there (or a free loopback port), is killed by
# PID, and never asks the system resolver or any address but 127.0.0.1.
#
#   MILTER_DIR            where the peers' files live: $BATS_TEST_TMPDIR/milters
#                         (short enough for a unix socket path)
#
#   dkim_keygen DOMAIN SELECTOR
#       a 1024-bit key made by opendkim-genkey: $MILTER_DIR/private/SELECTOR.private,
#       the TXT record's value in $MILTER_DIR/private/SELECTOR.txt, and a line
#       "SELECTOR._domainkey.DOMAIN VALUE" in opendkim's test key file
#       ($MILTER_DIR/private/testkeys), which opendkim reads instead of DNS
#   dkim_tool ARGS...     t/lib/dkim_tool.py (python3-dkim): pubkey, sign, verify
#   opendkim_start [socket=unix|inet] [domain=D selector=S] [mode=sv|v]
#       opendkim -f with $MILTER_DIR/private/opendkim.conf: signs mail From: D with
#       the key S (made with dkim_keygen first) when the client is
#       127.0.0.1 or the session authenticated ({auth_authen}), verifies
#       everything else with the test keys, writes Authentication-Results
#       with the authserv-id "mx.test".  Sets OPENDKIM_SOCKET to the
#       address in bbsmail's form (unix:/path or inet:PORT@127.0.0.1) and
#       OPENDKIM_PID; track_pid'ed.
#   spamd_start DIR       spamd on a free loopback port, local rules only (as
#       t/mailproc-spamc.bats runs it), files in DIR (readable by nobody);
#       sets SPAMD_PORT and SPAMD_PID (not track_pid'ed: call it from
#       setup_file, spamd_stop from teardown_file, it takes seconds to start)
#   spamd_stop
#   spamass_start [spamass-milter option...]
#       spamass-milter -p $MILTER_DIR/spamass.sock with those options, spamc
#       told to reach the spamd above; sets SPAMASS_SOCKET (unix:/path) and
#       SPAMASS_PID; track_pid'ed
#   rspamd_start DIR      Debian's rspamd with its stock rules from
#       /etc/rspamd, everything it writes in DIR: the rspamd_proxy worker
#       alone, in milter mode, scanning itself (self_scan), on the socket
#       DIR/run/milter.sock; the normal and controller workers off, no
#       redis; X-Spamd-Result and X-Spam-Status added to every message
#       it passes.  It runs in a private network namespace with only a loopback
#       (unshare -n, so root only): its map downloads and DNS lookups fail at
#       once and no packet can leave.  Sets RSPAMD_SOCKET (unix:/path) and
#       RSPAMD_PID; not track_pid'ed: its first start compiles its
#       regular expressions for up to a minute, so call it from setup_file
#       and rspamd_stop from teardown_file.  Returns 1 when it cannot run
#       (not root, no unshare, no rspamd): the caller skips.
#   rspamd_stop
#   milter_wait_socket PATH PID   bounded wait for a unix socket to appear
#   postfix_milters ADDRESS...    (with lib/postfix) sets smtpd_milters of
#       the private Postfix to these (bbsmail address forms are turned into
#       Postfix's) and reloads it

MILTER_DIR="$BATS_TEST_TMPDIR/milters"
MILTER_PY=/usr/bin/python3
[ -x "$MILTER_PY" ] || MILTER_PY=python3

_milter_mkdir() {
  # The keys and opendkim's configuration, readable by root alone.
  mkdir -p -m 700 "$MILTER_DIR/private" || return 1
  # Postfix's smtpd (user postfix) and spamd's children (nobody) must
  # reach the sockets and files here.
  chmod 755 "$MILTER_DIR"
  _milter_open_path "$MILTER_DIR"
}

# _milter_open_path DIR: search permission for others on DIR and every
# directory above it (nothing becomes readable).
_milter_open_path() {
  local d="$1"
  while [ "$d" != / ] && [ -n "$d" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
}

dkim_tool() { "$MILTER_PY" "$BATS_TEST_DIRNAME/lib/dkim_tool.py" "$@"; }

dkim_keygen() {
  local domain="$1" sel="$2" k
  _milter_mkdir || return 1
  k="$MILTER_DIR/private"
  opendkim-genkey -b 1024 -D "$k" -d "$domain" -s "$sel" || return 1
  dkim_tool pubkey "$k/$sel.private" > "$k/$sel.txt" || return 1
  printf '%s._domainkey.%s %s\n' "$sel" "$domain" "$(cat "$k/$sel.txt")" >> "$MILTER_DIR/private/testkeys"
}

milter_wait_socket() {
  local path="$1" pid="$2" i
  for i in $(seq 1 200); do
    [ -S "$path" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "milter (pid $pid) died before $path appeared" >&2; return 1; }
    sleep 0.05
  done
  echo "no socket $path after 10 s" >&2
  return 1
}

# ---- opendkim ------------------------------------------------------------

_opendkim_conf() {
  local mode="$1" socket="$2" domain="$3" sel="$4"
  cat <<EOF
Syslog no
Mode $mode
Socket $socket
PidFile $MILTER_DIR/opendkim.pid
UMask 000
AuthservID mx.test
Canonicalization relaxed/simple
SoftwareHeader no
InternalHosts $MILTER_DIR/private/internal-hosts
TestPublicKeys $MILTER_DIR/private/testkeys
EOF
  # opendkim refuses a key file below a directory others may write (/tmp):
  # the test's key is in a directory only root may open.
  echo "RequireSafeKeys no"
  [ -z "$domain" ] || printf 'Domain %s\nKeyFile %s\nSelector %s\n' "$domain" "$MILTER_DIR/private/$sel.private" "$sel"
}

opendkim_start() {
  local kv socket=unix mode=sv domain= sel= spec port pid
  for kv in "$@"; do
    case "$kv" in
      socket=*) socket="${kv#socket=}" ;;
      mode=*) mode="${kv#mode=}" ;;
      domain=*) domain="${kv#domain=}" ;;
      selector=*) sel="${kv#selector=}" ;;
      *) echo "opendkim_start: unknown option $kv" >&2; return 1 ;;
    esac
  done
  _milter_mkdir || return 1
  touch "$MILTER_DIR/private/testkeys"
  echo 127.0.0.1 > "$MILTER_DIR/private/internal-hosts"
  if [ "$socket" = inet ]; then
    port="$(free_port)"
    spec="inet:$port@127.0.0.1" OPENDKIM_SOCKET="inet:$port@127.0.0.1"
  else
    spec="local:$MILTER_DIR/opendkim.sock" OPENDKIM_SOCKET="unix:$MILTER_DIR/opendkim.sock"
  fi
  _opendkim_conf "$mode" "$spec" "$domain" "$sel" > "$MILTER_DIR/private/opendkim.conf"
  opendkim -f -x "$MILTER_DIR/private/opendkim.conf" >> "$MILTER_DIR/opendkim.log" 2>&1 &
  pid=$!
  track_pid "$pid"
  OPENDKIM_PID="$pid"
  if [ "$socket" = inet ]; then
    wait_port "$port" || { cat "$MILTER_DIR/opendkim.log" >&2; return 1; }
  else
    milter_wait_socket "$MILTER_DIR/opendkim.sock" "$pid" || { cat "$MILTER_DIR/opendkim.log" >&2; return 1; }
  fi
  export OPENDKIM_SOCKET OPENDKIM_PID
}

# ---- spamd and spamass-milter ----------------------------------------------

spamd_start() {
  local dir="$1" user=() i
  mkdir -p "$dir" && chmod 755 "$dir" || return 1
  _milter_open_path "$dir"   # spamd's children run as nobody
  cp /etc/spamassassin/v320.pre "$dir/"   # the Check plugin spamd needs
  printf 'dns_available no\nskip_rbl_checks 1\nuse_bayes 0\nbayes_auto_learn 0\nreport_safe 0\n' > "$dir/local.cf"
  SPAMD_PORT="$(free_port)"
  [ "$(id -u)" != 0 ] || user=(-u nobody)
  spamd --listen "127.0.0.1:$SPAMD_PORT" -L -x --siteconfigpath="$dir" -s stderr "${user[@]}" \
    > "$dir/spamd.log" 2>&1 3>&- &
  SPAMD_PID=$!
  SPAMD_DIR="$dir"
  export SPAMD_PORT SPAMD_PID SPAMD_DIR
  for i in $(seq 1 120); do
    spamc -K -d 127.0.0.1 -p "$SPAMD_PORT" > /dev/null 2>&1 && return 0
    kill -0 "$SPAMD_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "spamd never answered on $SPAMD_PORT" >&2
  cat "$dir/spamd.log" >&2
  return 1
}

spamd_stop() {
  [ -n "${SPAMD_PID:-}" ] || return 0
  kill -TERM "$SPAMD_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$SPAMD_PID" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$SPAMD_PID" 2>/dev/null || true
}

spamass_start() {
  local sock pid
  _milter_mkdir || return 1
  sock="$MILTER_DIR/spamass.sock"
  spamass-milter -p "$sock" "$@" -- -d 127.0.0.1 -p "$SPAMD_PORT" \
    >> "$MILTER_DIR/spamass.log" 2>&1 &
  pid=$!
  track_pid "$pid"
  milter_wait_socket "$sock" "$pid" || { cat "$MILTER_DIR/spamass.log" >&2; return 1; }
  chmod 666 "$sock"
  SPAMASS_SOCKET="unix:$sock" SPAMASS_PID="$pid"
  export SPAMASS_SOCKET SPAMASS_PID
}

# ---- rspamd ---------------------------------------------------------------

_rspamd_conf() {
  local dir="$1"
  mkdir -p "$dir/conf/local.d" "$dir/conf/override.d" "$dir/db" "$dir/run" "$dir/log" || return 1
  # Port 53 of the namespace's own loopback: nothing listens, a lookup fails at once.
  echo 'dns { nameserver = ["127.0.0.1:53"]; timeout = 0.2s; retransmits = 1; }' \
    > "$dir/conf/local.d/options.inc"
  echo 'enabled = false;' > "$dir/conf/override.d/worker-normal.inc"
  echo 'enabled = false;' > "$dir/conf/override.d/worker-controller.inc"
  cat > "$dir/conf/override.d/worker-proxy.inc" <<EOF
bind_socket = "$dir/run/milter.sock mode=0666";
milter = yes;
timeout = 60s;
upstream "local" { default = yes; self_scan = yes; }
EOF
  # Its verdict as headers, for every client (127.0.0.0/8 is "local" to
  # rspamd, which by default adds nothing for it).
  echo 'use = ["x-spamd-result", "x-spam-status"]; skip_local = false; skip_authenticated = false;' \
    > "$dir/conf/local.d/milter_headers.conf"
  printf 'type = "file";\nfilename = "%s/log/rspamd.log";\nlevel = "info";\n' "$dir" \
    > "$dir/conf/override.d/logging.inc"
}

rspamd_start() {
  local dir="$1" i
  [ "$(id -u)" = 0 ] && command -v rspamd > /dev/null && command -v unshare > /dev/null || return 1
  _rspamd_conf "$dir" || return 1
  _milter_open_path "$dir"
  unshare -n -- sh -c 'ip link set lo up && exec "$@"' rspamd \
    rspamd -f -i -u root -g root -c /etc/rspamd/rspamd.conf --var="LOCAL_CONFDIR=$dir/conf" \
    --var="DBDIR=$dir/db" --var="RUNDIR=$dir/run" --var="LOGDIR=$dir/log" \
    >> "$dir/log/stderr" 2>&1 &
  RSPAMD_PID=$!
  RSPAMD_SOCKET="unix:$dir/run/milter.sock"
  export RSPAMD_PID RSPAMD_SOCKET
  # The socket appears before the rules are ready: wait for the proxy's
  # "hyperscan database loaded" too, bounded (three minutes on a busy machine).
  for i in $(seq 1 1800); do
    kill -0 "$RSPAMD_PID" 2>/dev/null || break
    [ -S "$dir/run/milter.sock" ] && grep -q 'rspamd_proxy.*hyperscan database of [0-9]* regexps has been loaded' "$dir/log/rspamd.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "rspamd did not get ready" >&2
  tail -20 "$dir/log/rspamd.log" "$dir/log/stderr" >&2
  return 1
}

rspamd_stop() {
  [ -n "${RSPAMD_PID:-}" ] || return 0
  kill -TERM "$RSPAMD_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$RSPAMD_PID" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$RSPAMD_PID" 2>/dev/null || true
}

# ---- Postfix as a milter host (to check a peer without bbsmail) ----------

postfix_milters() {
  local a list=()
  for a in "$@"; do
    case "$a" in
      inet:127.0.0.1:*) list+=("inet:127.0.0.1:${a#inet:127.0.0.1:}") ;;
      inet:*@127.0.0.1) a="${a#inet:}"; list+=("inet:127.0.0.1:${a%@127.0.0.1}") ;;
      *) list+=("$a") ;;
    esac
  done
  postconf -c "$POSTFIX_DIR/etc" -e "smtpd_milters = ${list[*]}" "milter_default_action = tempfail" \
    "milter_protocol = 6" || return 1
  postfix -c "$POSTFIX_DIR/etc" reload >> "$POSTFIX_DIR/log/start" 2>&1
}
