package zones

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// yamlLines renders what ParseYAML returned: one line per RR (or ALIAS
// target), so tests compare master-file text.
func yamlLines(t *testing.T, recs []*Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		if r.Type == "ALIAS" {
			out = append(out, fmt.Sprintf("%q ALIAS %s %d", r.Name, r.Alias, r.TTL))
			continue
		}
		for _, rr := range r.RRs {
			// Every RR must survive the wire, not just print.
			buf := make([]byte, dns.MaxMsgSize)
			if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
				t.Errorf("pack %s: %v", rr, err)
			}
			out = append(out, rr.String())
		}
	}
	return out
}

func TestParseYAMLRecords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"A", "www:\n  type: A\n  values: [192.0.2.1, 192.0.2.2]\n",
			[]string{"www.example.com.\t300\tIN\tA\t192.0.2.1", "www.example.com.\t300\tIN\tA\t192.0.2.2"}},
		{"A single value", "www: {type: A, value: 192.0.2.1, ttl: 60}\n",
			[]string{"www.example.com.\t60\tIN\tA\t192.0.2.1"}},
		{"AAAA", "v6:\n  type: AAAA\n  value: 2001:db8:0:0::1\n",
			[]string{"v6.example.com.\t300\tIN\tAAAA\t2001:db8::1"}},
		{"CNAME", "blog:\n  type: CNAME\n  value: www.example.com.\n",
			[]string{"blog.example.com.\t300\tIN\tCNAME\twww.example.com."}},
		{"CNAME target lower-cased", "blog:\n  type: CNAME\n  value: WWW.Example.COM.\n",
			[]string{"blog.example.com.\t300\tIN\tCNAME\twww.example.com."}},
		{"DNAME", "old:\n  type: DNAME\n  value: example.net.\n",
			[]string{"old.example.com.\t300\tIN\tDNAME\texample.net."}},
		{"ALIAS", "'':\n  type: ALIAS\n  value: lb.example.net.\n",
			[]string{`"" ALIAS lb.example.net. 300`}},
		{"NS", "sub:\n  type: NS\n  values:\n    - ns1.example.net.\n    - ns2.example.net.\n",
			[]string{"sub.example.com.\t300\tIN\tNS\tns1.example.net.", "sub.example.com.\t300\tIN\tNS\tns2.example.net."}},
		{"NS at apex", "'':\n  type: NS\n  value: ns1.example.net.\n",
			[]string{"example.com.\t300\tIN\tNS\tns1.example.net."}},
		{"PTR value", "'1':\n  type: PTR\n  value: host.example.com.\n",
			[]string{"1.example.com.\t300\tIN\tPTR\thost.example.com."}},
		{"PTR values", "'1':\n  type: PTR\n  values: [a.example.com., b.example.com.]\n",
			[]string{"1.example.com.\t300\tIN\tPTR\ta.example.com.", "1.example.com.\t300\tIN\tPTR\tb.example.com."}},
		{"TXT", "txt:\n  type: TXT\n  value: hello world\n",
			[]string{"txt.example.com.\t300\tIN\tTXT\t\"hello world\""}},
		{"TXT escaped semicolon", "'':\n  type: TXT\n  value: v=DKIM1\\; k=rsa\\; p=abc\n",
			[]string{"example.com.\t300\tIN\tTXT\t\"v=DKIM1; k=rsa; p=abc\""}},
		{"TXT quotes and backslash", "txt:\n  type: TXT\n  value: 'say \"hi\" \\\\ bye'\n",
			[]string{"txt.example.com.\t300\tIN\tTXT\t\"say \\\"hi\\\" \\\\ bye\""}},
		{"TXT pre-chunked", "txt:\n  type: TXT\n  value: '\"abc\" \"def\"'\n",
			[]string{"txt.example.com.\t300\tIN\tTXT\t\"abcdef\""}},
		{"TXT longer than 255 bytes", "txt:\n  type: TXT\n  value: " + strings.Repeat("a", 300) + "\n",
			[]string{"txt.example.com.\t300\tIN\tTXT\t\"" + strings.Repeat("a", 255) + "\" \"" + strings.Repeat("a", 45) + "\""}},
		{"SPF", "'':\n  type: SPF\n  value: v=spf1 -all\n",
			[]string{"example.com.\t300\tIN\tSPF\t\"v=spf1 -all\""}},
		{"MX", "mx:\n  type: MX\n  values:\n    - preference: 10\n      exchange: mail.example.com.\n    - priority: 20\n      value: mail2.example.com.\n",
			[]string{"mx.example.com.\t300\tIN\tMX\t10 mail.example.com.", "mx.example.com.\t300\tIN\tMX\t20 mail2.example.com."}},
		{"MX null", "'':\n  type: MX\n  value: {preference: 0, exchange: .}\n",
			[]string{"example.com.\t300\tIN\tMX\t0 ."}},
		{"SRV", "_sip._tcp:\n  type: SRV\n  value: {priority: 10, weight: 20, port: 5060, target: sip.example.com.}\n",
			[]string{"_sip._tcp.example.com.\t300\tIN\tSRV\t10 20 5060 sip.example.com."}},
		{"CAA", "'':\n  type: CAA\n  values:\n    - {tag: issue, value: letsencrypt.org}\n    - {flags: 128, tag: iodef, value: 'mailto:sec@example.com'}\n",
			[]string{"example.com.\t300\tIN\tCAA\t0 issue \"letsencrypt.org\"", "example.com.\t300\tIN\tCAA\t128 iodef \"mailto:sec@example.com\""}},
		{"SSHFP", "host:\n  type: SSHFP\n  value: {algorithm: 1, fingerprint_type: 1, fingerprint: 0123456789abcdef0123456789abcdef01234567}\n",
			[]string{"host.example.com.\t300\tIN\tSSHFP\t1 1 0123456789ABCDEF0123456789ABCDEF01234567"}},
		{"TLSA", "_443._tcp:\n  type: TLSA\n  value: {certificate_usage: 3, selector: 1, matching_type: 1, certificate_association_data: ABCDEF01}\n",
			[]string{"_443._tcp.example.com.\t300\tIN\tTLSA\t3 1 1 abcdef01"}},
		{"DS", "sub:\n  type: DS\n  value: {key_tag: 60485, algorithm: 5, digest_type: 1, digest: 2bb183af5f22588179a53b0a98631fad1a292118}\n",
			[]string{"sub.example.com.\t300\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"}},
		{"DS legacy keys", "sub:\n  type: DS\n  value: {flags: 60485, protocol: 5, algorithm: 1, public_key: 2bb183af5f22588179a53b0a98631fad1a292118}\n",
			[]string{"sub.example.com.\t300\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"}},
		{"NAPTR", "sip:\n  type: NAPTR\n  value:\n    order: 100\n    preference: 10\n    flags: s\n    service: SIP+D2U\n    regexp: ''\n    replacement: _sip._udp.example.com.\n",
			[]string{"sip.example.com.\t300\tIN\tNAPTR\t100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."}},
		{"LOC", "'':\n  type: LOC\n  value:\n    lat_degrees: 52\n    lat_minutes: 22\n    lat_seconds: 23.0\n    lat_direction: N\n    long_degrees: 4\n    long_minutes: 53\n    long_seconds: 32.5\n    long_direction: E\n    altitude: -2\n    size: 1\n    precision_horz: 10000\n    precision_vert: 10\n",
			[]string{"example.com.\t300\tIN\tLOC\t52 22 23.000 N 04 53 32.500 E -2m 1m 10000m 10m"}},
		{"SVCB alias mode", "_svc:\n  type: SVCB\n  value: {svcpriority: 0, targetname: svc.example.net.}\n",
			[]string{"_svc.example.com.\t300\tIN\tSVCB\t0 svc.example.net."}},
		{"HTTPS svcparams", "'':\n  type: HTTPS\n  value:\n    svcpriority: 1\n    targetname: .\n    svcparams:\n      port: 8443\n      alpn: [h3, h2]\n      ipv6hint: ['2001:db8::1']\n      ipv4hint: [192.0.2.1, 192.0.2.2]\n      no-default-alpn:\n      mandatory: [alpn, port]\n      ech: AQID\n      key65000: hi\n",
			[]string{`example.com.	300	IN	HTTPS	1 . mandatory="alpn,port" alpn="h3,h2" no-default-alpn="" port="8443" ipv4hint="192.0.2.1,192.0.2.2" ech="AQID" ipv6hint="2001:db8::1" key65000="hi"`}},
		{"URI", "_http._tcp:\n  type: URI\n  value: {priority: 10, weight: 1, target: 'https://www.example.com/'}\n",
			[]string{"_http._tcp.example.com.\t300\tIN\tURI\t10 1 \"https://www.example.com/\""}},
		{"several types at one name", "Host:\n  - type: A\n    value: 192.0.2.1\n  - type: AAAA\n    value: '2001:db8::1'\n  - type: TXT\n    value: hi\n",
			[]string{"host.example.com.\t300\tIN\tA\t192.0.2.1", "host.example.com.\t300\tIN\tAAAA\t2001:db8::1", "host.example.com.\t300\tIN\tTXT\t\"hi\""}},
		{"mixed-case name and keys in any order", "WwW.Sub:\n  value: 192.0.2.1\n  ttl: 42\n  type: A\n",
			[]string{"www.sub.example.com.\t42\tIN\tA\t192.0.2.1"}},
		{"wildcards", "'*':\n  type: A\n  value: 192.0.2.1\n'*.foo':\n  type: A\n  value: 192.0.2.2\n",
			[]string{"*.example.com.\t300\tIN\tA\t192.0.2.1", "*.foo.example.com.\t300\tIN\tA\t192.0.2.2"}},
		{"unknown record keys are ignored, as octoDNS does", "www:\n  type: A\n  value: 192.0.2.1\n  comment: hello\n  geo: {EU: [192.0.2.9]}\n",
			[]string{"www.example.com.\t300\tIN\tA\t192.0.2.1"}},
		{"ttl as a string, as Python's int() allows", "www:\n  type: A\n  ttl: '120'\n  value: 192.0.2.1\n",
			[]string{"www.example.com.\t120\tIN\tA\t192.0.2.1"}},
		{"IDNA name", "bücher:\n  type: A\n  value: 192.0.2.1\n",
			[]string{"xn--bcher-kva.example.com.\t300\tIN\tA\t192.0.2.1"}},
		{"merge key", "base: &b {type: A, ttl: 60, value: 192.0.2.1}\nother:\n  <<: *b\n  value: 192.0.2.2\n",
			[]string{"base.example.com.\t60\tIN\tA\t192.0.2.1", "other.example.com.\t60\tIN\tA\t192.0.2.2"}},
		{"repeated values collapse", "www:\n  type: A\n  values: [192.0.2.1, 192.0.2.1]\n",
			[]string{"www.example.com.\t300\tIN\tA\t192.0.2.1"}},
		{"empty file", "", nil},
		{"only a document marker", "---\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, probs := ParseYAML("z.yaml", "example.com.", []byte(tc.in), 300)
			if len(probs) > 0 {
				t.Fatalf("problems:\n%v", probs)
			}
			if got := yamlLines(t, recs); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseYAMLRecordFields(t *testing.T) {
	in := `---
www:
  type: A
  values: [192.0.2.1]
  octodns:
    meridian: {answers: 2}
  dynamic:
    pools:
      eu: {values: [{value: 192.0.2.2}]}
    rules:
      - pool: eu
'':
  - type: ALIAS
    value: www.example.com.
  - type: MX
    dynamic: {ignored: true}
    value: {preference: 1, exchange: mx.example.com.}
`
	recs, probs := ParseYAML("z.yaml", "Example.COM", []byte(in), 3600)
	if len(probs) > 0 {
		t.Fatalf("problems:\n%v", probs)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records; want 3", len(recs))
	}
	www, alias, mx := recs[0], recs[1], recs[2]
	if www.Name != "www" || www.Type != "A" || www.TTL != 3600 || www.Line != 3 {
		t.Errorf("got %q %s ttl %d line %d; want \"www\" A ttl 3600 line 3", www.Name, www.Type, www.TTL, www.Line)
	}
	if www.Dynamic == nil || www.Octodns == nil {
		t.Errorf("got Dynamic %v, Octodns %v; want both kept", www.Dynamic, www.Octodns)
	}
	if got := www.RRs[0].Header().Name; got != "www.example.com." {
		t.Errorf("got owner %q; want www.example.com.", got)
	}
	if alias.Alias != "www.example.com." || len(alias.RRs) != 0 || alias.Line != 13 {
		t.Errorf("got alias %q, %d RRs, line %d; want www.example.com., 0 RRs, line 13", alias.Alias, len(alias.RRs), alias.Line)
	}
	// octoDNS ignores `dynamic:` on types without dynamic support.
	if mx.Dynamic != nil {
		t.Errorf("got MX Dynamic %v; want nil", mx.Dynamic)
	}
}

func TestParseYAMLProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"yaml syntax", "www:\n  type: A\n   value: 1\n",
			[]string{"z.yaml:3: mapping values are not allowed in this context"}},
		{"not a mapping", "- a\n- b\n",
			[]string{"z.yaml:1: invalid zone file, expected a mapping of record names"}},
		{"record not a mapping", "www: 192.0.2.1\n",
			[]string{`z.yaml:1: invalid record "www", expected a mapping`}},
		{"duplicate name key", "www:\n  type: A\n  value: 192.0.2.1\nwww:\n  type: AAAA\n  value: '::1'\n",
			[]string{`z.yaml:4: found duplicate key "www"`}},
		{"duplicate record key", "www:\n  type: A\n  type: AAAA\n  value: 192.0.2.1\n",
			[]string{`z.yaml:3: found duplicate key "type"`}},
		{"duplicate name and type", "www:\n  - type: A\n    value: 192.0.2.1\n  - type: A\n    value: 192.0.2.2\n",
			[]string{"z.yaml:4: Duplicate record www.example.com., type A"}},
		{"duplicate after lower-casing", "www:\n  type: A\n  value: 192.0.2.1\nWWW:\n  type: A\n  value: 192.0.2.2\n",
			[]string{"z.yaml:5: Duplicate record www.example.com., type A"}},
		{"missing type", "www:\n  value: 192.0.2.1\n",
			[]string{"z.yaml:2: Invalid record www.example.com., missing type"}},
		{"unknown type", "www:\n  type: X\n  value: 1\n",
			[]string{`z.yaml:2: Unknown record type: "X"`}},
		{"type is case-sensitive", "www:\n  type: a\n  value: 192.0.2.1\n",
			[]string{`z.yaml:2: Unknown record type: "a"`}},
		{"at sign", "'@':\n  type: A\n  value: 192.0.2.1\n",
			[]string{`z.yaml:2: invalid name "@", use "" instead`}},
		{"whitespace in name", "'a b':\n  type: A\n  value: 192.0.2.1\n",
			[]string{"z.yaml:2: invalid record, whitespace is not allowed"}},
		{"label too long", strings.Repeat("a", 64) + ":\n  type: A\n  value: 192.0.2.1\n",
			[]string{`z.yaml:2: invalid label, "` + strings.Repeat("a", 64) + `" is too long at 64 chars, max is 63`}},
		{"name too long", strings.Repeat("a.", 121) + "b:\n  type: A\n  value: 192.0.2.1\n",
			[]string{`z.yaml:2: invalid fqdn, "` + strings.Repeat("a.", 121) + `b.example.com." is too long at 256 chars, max is 253`}},
		{"double dot", "a..b:\n  type: A\n  value: 192.0.2.1\n",
			[]string{"z.yaml:2: invalid name, double `.` in \"a..b.example.com.\""}},
		{"trailing dot", "a.:\n  type: A\n  value: 192.0.2.1\n",
			[]string{"z.yaml:2: invalid name, double `.` in \"a..example.com.\""}},
		{"negative ttl", "www:\n  type: A\n  ttl: -1\n  value: 192.0.2.1\n",
			[]string{"z.yaml:3: invalid ttl"}},
		{"ttl not a number", "www:\n  type: A\n  ttl: 1h\n  value: 192.0.2.1\n",
			[]string{"z.yaml:3: invalid ttl"}},
		{"missing values", "www:\n  type: A\n",
			[]string{"z.yaml:2: missing value(s)"}},
		{"null value in list", "www:\n  type: A\n  values:\n    - 192.0.2.1\n    - ~\n",
			[]string{"z.yaml:5: missing value(s)"}},
		{"empty address", "www:\n  type: A\n  value: ''\n",
			[]string{"z.yaml:3: empty value"}},
		{"bad IPv4", "www:\n  type: A\n  values:\n    - 192.0.2.1\n    - 192.0.2.256\n",
			[]string{`z.yaml:5: invalid IPv4 address "192.0.2.256"`}},
		{"IPv6 in A", "www:\n  type: A\n  value: '2001:db8::1'\n",
			[]string{`z.yaml:3: invalid IPv4 address "2001:db8::1"`}},
		{"bad IPv6", "www:\n  type: AAAA\n  value: 192.0.2.1\n",
			[]string{`z.yaml:3: invalid IPv6 address "192.0.2.1"`}},
		{"root CNAME", "'':\n  type: CNAME\n  value: www.example.com.\n",
			[]string{"z.yaml:2: root CNAME not allowed"}},
		{"relative CNAME", "blog:\n  type: CNAME\n  value: www\n",
			[]string{`z.yaml:3: CNAME value "www" is not a valid FQDN`, `z.yaml:3: CNAME value "www" missing trailing .`}},
		{"CNAME missing trailing dot", "blog:\n  type: CNAME\n  value: www.example.com\n",
			[]string{`z.yaml:3: CNAME value "www.example.com" missing trailing .`}},
		{"CNAME missing value", "blog:\n  type: CNAME\n  values: [www.example.com.]\n",
			[]string{"z.yaml:2: missing value"}},
		{"DNAME missing trailing dot", "old:\n  type: DNAME\n  value: example.net\n",
			[]string{`z.yaml:3: DNAME value "example.net" missing trailing .`}},
		{"non-root ALIAS", "www:\n  type: ALIAS\n  value: lb.example.net.\n",
			[]string{"z.yaml:2: non-root ALIAS not allowed"}},
		{"ALIAS to the root", "'':\n  type: ALIAS\n  value: .\n",
			[]string{`z.yaml:3: ALIAS value "." is not a valid FQDN`}},
		{"CNAME coexisting", "www:\n  - type: A\n    value: 192.0.2.1\n  - type: CNAME\n    value: x.example.com.\n",
			[]string{"z.yaml:4: Invalid state, CNAME at www.example.com. cannot coexist with other records"}},
		{"ALIAS coexisting with A", "'':\n  - type: ALIAS\n    value: x.example.com.\n  - type: A\n    value: 192.0.2.1\n",
			[]string{"z.yaml:2: Invalid state, ALIAS at example.com. cannot coexist with A or AAAA records"}},
		{"NS missing trailing dot", "sub:\n  type: NS\n  values: [ns1.example.net]\n",
			[]string{`z.yaml:3: NS value "ns1.example.net" missing trailing .`}},
		{"PTR missing values", "'1':\n  type: PTR\n",
			[]string{"z.yaml:2: missing value(s)"}},
		{"TXT unescaped semicolon", "txt:\n  type: TXT\n  value: v=DKIM1; k=rsa\n",
			[]string{`z.yaml:3: unescaped ; in "v=DKIM1; k=rsa"`}},
		{"TXT double escaped semicolon", "txt:\n  type: TXT\n  value: 'a\\\\; b'\n",
			[]string{`z.yaml:3: double escaped ; in "a\\; b"`}},
		{"TXT non-ASCII", "txt:\n  type: TXT\n  value: café\n",
			[]string{`z.yaml:3: non ASCII character in "café"`}},
		{"TXT missing values", "txt:\n  type: TXT\n",
			[]string{"z.yaml:2: missing value(s)"}},
		{"MX missing preference", "mx:\n  type: MX\n  value: {exchange: mx.example.com.}\n",
			[]string{"z.yaml:3: missing preference"}},
		{"MX invalid preference", "mx:\n  type: MX\n  value: {preference: nope, exchange: mx.example.com.}\n",
			[]string{`z.yaml:3: invalid preference "nope"`}},
		{"MX preference out of range", "mx:\n  type: MX\n  value: {preference: 65536, exchange: mx.example.com.}\n",
			[]string{`z.yaml:3: preference "65536" out of range 0-65535`}},
		{"MX missing exchange", "mx:\n  type: MX\n  value: {preference: 10}\n",
			[]string{"z.yaml:3: missing exchange"}},
		{"MX exchange not FQDN", "mx:\n  type: MX\n  value: {preference: 10, exchange: 100 foo.bar.com.}\n",
			[]string{`z.yaml:3: MX exchange "100 foo.bar.com." is not a valid FQDN`}},
		{"MX value not a mapping", "mx:\n  type: MX\n  value: 10 mx.example.com.\n",
			[]string{`z.yaml:3: invalid MX value "10 mx.example.com.", expected a mapping`}},
		{"SRV invalid name", "sip:\n  type: SRV\n  value: {priority: 1, weight: 1, port: 1, target: sip.example.com.}\n",
			[]string{"z.yaml:2: invalid name for SRV record"}},
		{"SRV missing and invalid fields", "_sip._tcp:\n  type: SRV\n  value: {priority: x, target: sip.example.com}\n",
			[]string{`z.yaml:3: invalid priority "x"`, "z.yaml:3: missing weight", "z.yaml:3: missing port", `z.yaml:3: SRV target "sip.example.com" missing trailing .`}},
		{"SRV missing target", "_sip._tcp:\n  type: SRV\n  value: {priority: 1, weight: 1, port: 1}\n",
			[]string{"z.yaml:3: missing target"}},
		{"URI invalid name", "web:\n  type: URI\n  value: {priority: 1, weight: 1, target: 'https://x/'}\n",
			[]string{"z.yaml:2: invalid name for URI record"}},
		{"URI missing target", "_http._tcp:\n  type: URI\n  value: {priority: 1, weight: 1, target: ''}\n",
			[]string{"z.yaml:3: missing target"}},
		{"CAA flags out of range", "'':\n  type: CAA\n  value: {flags: 256, tag: issue, value: ca.example}\n",
			[]string{`z.yaml:3: invalid flags "256"`}},
		{"CAA missing tag and value", "'':\n  type: CAA\n  value: {flags: x}\n",
			[]string{`z.yaml:3: invalid flags "x"`, "z.yaml:3: missing tag", "z.yaml:3: missing value"}},
		{"SSHFP unrecognized", "h:\n  type: SSHFP\n  value: {algorithm: 9, fingerprint_type: 7, fingerprint: ab}\n",
			[]string{`z.yaml:3: unrecognized algorithm "9"`, `z.yaml:3: unrecognized fingerprint_type "7"`}},
		{"SSHFP fingerprint length", "h:\n  type: SSHFP\n  value: {algorithm: 1, fingerprint_type: 1, fingerprint: abcd}\n",
			[]string{"z.yaml:3: fingerprint length 4 does not match fingerprint_type 1 (expected 40)"}},
		{"SSHFP missing", "h:\n  type: SSHFP\n  value: {algorithm: x}\n",
			[]string{`z.yaml:3: invalid algorithm "x"`, "z.yaml:3: missing fingerprint_type", "z.yaml:3: missing fingerprint"}},
		{"TLSA ranges", "_443._tcp:\n  type: TLSA\n  value: {certificate_usage: 4, selector: 2, matching_type: 3, certificate_association_data: ab}\n",
			[]string{`z.yaml:3: invalid certificate_usage "4"`, `z.yaml:3: invalid selector "2"`, `z.yaml:3: invalid matching_type "3"`}},
		{"TLSA missing", "_443._tcp:\n  type: TLSA\n  value: {selector: 1}\n",
			[]string{"z.yaml:3: missing certificate_usage", "z.yaml:3: missing matching_type", "z.yaml:3: missing certificate_association_data"}},
		{"DS missing", "sub:\n  type: DS\n  value: {key_tag: x, digest: ab}\n",
			[]string{`z.yaml:3: invalid key_tag "x"`, "z.yaml:3: missing algorithm", "z.yaml:3: missing digest_type"}},
		{"DS legacy missing", "sub:\n  type: DS\n  value: {flags: 1, algorithm: 1}\n",
			[]string{"z.yaml:3: missing protocol", "z.yaml:3: missing public_key"}},
		{"NAPTR flags", "n:\n  type: NAPTR\n  value: {order: 1, preference: 1, flags: X, service: s, regexp: r, replacement: .}\n",
			[]string{`z.yaml:3: unrecognized flags "X"`}},
		{"NAPTR missing", "n:\n  type: NAPTR\n  value: {order: x}\n",
			[]string{`z.yaml:3: invalid order "x"`, "z.yaml:3: missing preference", "z.yaml:3: missing flags", "z.yaml:3: missing service", "z.yaml:3: missing regexp", "z.yaml:3: missing replacement"}},
		{"LOC", "'':\n  type: LOC\n  value:\n    lat_degrees: 91\n    lat_minutes: x\n    lat_direction: n\n    long_degrees: 0\n    long_minutes: 0\n    long_seconds: 60\n    long_direction: E\n    altitude: 0\n    size: 0\n    precision_horz: 0\n    precision_vert: 0\n",
			[]string{`z.yaml:4: invalid value for lat_degrees "91"`, "z.yaml:4: missing lat_seconds", `z.yaml:5: invalid lat_minutes "x"`, `z.yaml:6: invalid direction for lat_direction "n"`, `z.yaml:9: invalid value for long_seconds "60"`}},
		{"SVCB missing", "_s:\n  type: SVCB\n  value: {}\n",
			[]string{"z.yaml:3: missing svcpriority", "z.yaml:3: missing targetname"}},
		{"SVCB priority and target", "_s:\n  type: SVCB\n  value: {svcpriority: 70000, targetname: x}\n",
			[]string{`z.yaml:3: invalid priority "70000"`, `z.yaml:3: SVCB targetname "x" is not a valid FQDN`, `z.yaml:3: SVCB targetname "x" missing trailing .`}},
		{"SVCB params in alias mode", "_s:\n  type: SVCB\n  value:\n    svcpriority: 0\n    targetname: .\n    svcparams: {port: 1}\n",
			[]string{"z.yaml:6: svcparams set on AliasMode SVCB record"}},
		{"HTTPS svcparams", "'':\n  type: HTTPS\n  value:\n    svcpriority: 1\n    targetname: .\n    svcparams:\n      bogus: 1\n      key70000: x\n      keyx: y\n      port: 70000\n      no-default-alpn: yes\n      alpn: h2\n      ipv4hint: ['::1']\n      ipv6hint: [192.0.2.1]\n      mandatory: [foo]\n      ech: '!!'\n",
			[]string{
				"z.yaml:7: Unknown SvcParam bogus",
				`z.yaml:8: SvcParam key "key70000" has wrong key number`,
				`z.yaml:9: SvcParam key "keyx" has wrong format`,
				"z.yaml:10: port 70000 is not a valid number",
				"z.yaml:11: SvcParam no-default-alpn has value when it should not",
				"z.yaml:12: alpn is not a list",
				`z.yaml:13: ipv4hint "::1" is not a valid IPv4 address`,
				`z.yaml:14: ipv6hint "192.0.2.1" is not a valid IPv6 address`,
				`z.yaml:15: unsupported SvcParam "foo" in mandatory`,
				"z.yaml:16: ech SvcParam is invalid Base64",
			}},
		{"HTTPS port not a number", "'':\n  type: HTTPS\n  value: {svcpriority: 1, targetname: ., svcparams: {port: x}}\n",
			[]string{"z.yaml:3: port is not a number"}},
		{"healthcheck protocol", "www:\n  type: A\n  value: 192.0.2.1\n  octodns:\n    healthcheck: {protocol: FTP}\n",
			[]string{"z.yaml:5: invalid healthcheck protocol"}},
		{"every problem, in file order", "a:\n  type: A\n  value: x\n'@':\n  type: A\n  value: 192.0.2.1\nb:\n  type: AAAA\n  value: y\n",
			[]string{`z.yaml:3: invalid IPv4 address "x"`, `z.yaml:5: invalid name "@", use "" instead`, `z.yaml:9: invalid IPv6 address "y"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := ParseYAML("z.yaml", "example.com.", []byte(tc.in), 300)
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseYAMLKeepsGoodRecords(t *testing.T) {
	in := "a:\n  type: A\n  value: 192.0.2.1\nb:\n  type: A\n  value: nope\nc:\n  type: TXT\n  value: ok\n"
	recs, probs := ParseYAML("z.yaml", "example.com.", []byte(in), 300)
	if len(probs) != 1 {
		t.Fatalf("got %d problems; want 1:\n%v", len(probs), probs)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if want := []string{"a", "c"}; !slices.Equal(names, want) {
		t.Errorf("got records %q; want %q", names, want)
	}
	p := probs[0]
	if p.Record != "b" || p.Key != "A" || p.Line != 6 {
		t.Errorf("got problem %+v; want record b, key A, line 6", p)
	}
}

// TestParseYAMLGolden runs every file in testdata/yaml and compares the
// records and problems with the .golden file next to it. The zone is the
// file name without ".yaml". Regenerate with -update.
var update = flag.Bool("update", false, "rewrite golden files")

func TestParseYAMLGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/yaml/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			origin := strings.TrimSuffix(filepath.Base(path), "yaml")
			recs, probs := ParseYAML(filepath.Base(path), origin, data, 300)
			var b strings.Builder
			for _, line := range yamlLines(t, recs) {
				b.WriteString(line + "\n")
			}
			for _, p := range probs {
				b.WriteString("problem: " + p.String() + "\n")
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// FuzzParseYAML checks that no input panics and that every record ParseYAML
// accepts packs onto the wire.
func FuzzParseYAML(f *testing.F) {
	files, _ := filepath.Glob("testdata/yaml/*.yaml")
	for _, path := range files {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("www: {type: TXT, value: 'a\\\\;b'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := ParseYAML("f.yaml", "example.com.", data, 300)
		buf := make([]byte, dns.MaxMsgSize)
		for _, r := range recs {
			for _, rr := range r.RRs {
				if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
					t.Errorf("pack %s: %v", rr, err)
				}
			}
		}
	})
}
