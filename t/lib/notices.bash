# Readers of delivery status notifications (RFC 3464) for the tests of
# deliver-bounce and of outbound delivery.  Load with `load lib/notices`.

# notice_facts FILE: the notice's header and the fields of its
# delivery-status part, one "name=value" a line (read with python's email
# package; folded fields unfolded).
notice_facts() {
  python3 - "$1" <<'EOF'
import email, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.compat32)
unfold = lambda v: v.replace('\r', '').replace('\n', '')
for h in ('Return-Path', 'From', 'To', 'Subject', 'Auto-Submitted', 'MIME-Version', 'Message-ID'):
    print('%s=%s' % (h, unfold(m[h] or '')))
print('type=%s report-type=%s' % (m.get_content_type(), m.get_param('report-type')))
parts = m.get_payload()
print('parts=' + ','.join(p.get_content_type() for p in parts))
status = parts[1].get_payload()
for k, v in status[0].items():
    print('msg.%s=%s' % (k, unfold(v)))
for n, block in enumerate(status[1:], 1):
    for k, v in block.items():
        print('rcpt%d.%s=%s' % (n, k, unfold(v)))
EOF
}

# notice_part FILE N: the raw content of part N (0: the text).
notice_part() {
  python3 - "$1" "$2" <<'EOF'
import email, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.compat32)
p = m.get_payload()[int(sys.argv[2])]
payload = p.get_payload()
sys.stdout.write(payload if isinstance(payload, str) else ''.join(x.as_string() for x in payload))
EOF
}

