# A real DNS server for the tests: dnsmasq on a free loopback port, answering
# only from the records a test gives it (no upstream, no /etc/hosts, every
# other name NXDOMAIN).  Load after `load helper` with `load lib/dnsmasq`.
#
#   dnsmasq_start [FILE | --OPTION=VALUE]...
#
# Each argument is a dnsmasq option (passed as it is) or a file of option
# lines without the leading "--" (read with --conf-file).  The usual ones:
#   --mx-host=DOMAIN,HOST,PREFERENCE    an MX record (repeat for more)
#   --mx-host=DOMAIN,.,0                a null MX (RFC 7505)
#   --host-record=NAME,IPV4[,IPV6]      A/AAAA records, and their PTRs
#   --cname=ALIAS,TARGET                TARGET must be a name dnsmasq knows
#   --txt-record=NAME,STRING[,STRING]  (quotes only in a file: on the
#                                       command line they would be data)
#   --ptr-record=REVERSE-NAME,NAME      a PTR without the A record
#   --dns-rr=NAME,TYPE,HEX              any record, rdata in hex
#   --listen-address=::1                listen on ::1 too (same port)
# It picks a free port (UDP and TCP: dnsmasq serves both), waits until the
# server answers a query, track_pid's it (teardown kills it) and exports
#   DNSMASQ_PORT     the port
#   DNSMASQ_SERVER   127.0.0.1:PORT, as mail.ini's DNSServer takes it
# dnsmasq's log (one line per query) is $BATS_TEST_TMPDIR/dnsmasq.log.
# Returns 1, with the log on stderr, when no server could be started.

dnsmasq_start() {
  local args=() arg port pid try
  for arg in "$@"; do
    case "$arg" in
      --*) args+=("$arg") ;;
      *)
        [ -f "$arg" ] || { echo "dnsmasq_start: no such file: $arg" >&2; return 1; }
        args+=("--conf-file=$arg")
        ;;
    esac
  done
  for try in 1 2 3 4 5; do
    port="$(free_port)"
    # --conf-file=/dev/null first: never the system's /etc/dnsmasq.conf.
    dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
      --listen-address=127.0.0.1 --bind-interfaces --port="$port" \
      --local=/#/ --log-queries --log-facility=- "${args[@]}" \
      >>"$BATS_TEST_TMPDIR/dnsmasq.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    if _dnsmasq_wait "$port" "$pid"; then
      export DNSMASQ_PORT="$port" DNSMASQ_SERVER="127.0.0.1:$port"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
  done
  echo "dnsmasq_start: no dnsmasq answered" >&2
  cat "$BATS_TEST_TMPDIR/dnsmasq.log" >&2
  return 1
}

# _dnsmasq_wait PORT PID: 0 once a query on PORT gets a reply (about 10 s at
# most), 1 if the process died (the port was taken) or never answered.
_dnsmasq_wait() {
  local port="$1" pid="$2" i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    python3 - "$port" <<'EOF' && return 0
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.1)
query = struct.pack('>HHHHHH', 0x5151, 0x0100, 1, 0, 0, 0) + b'\x05ready\x07invalid\x00\x00\x01\x00\x01'
try:
    s.sendto(query, ('127.0.0.1', int(sys.argv[1])))
    sys.exit(0 if s.recv(512)[:2] == b'\x51\x51' else 1)
except OSError:
    sys.exit(1)
EOF
    sleep 0.1
  done
  return 1
}
