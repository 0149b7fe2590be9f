package web

import (
	"net/netip"
	"testing"
)

func TestClientIsTheFirstUntrustedHopFromTheRight(t *testing.T) {
	ps := proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.7/32")}
	proxy := netip.MustParseAddr("10.0.0.2")
	for _, tt := range []struct {
		name      string
		forwarded []string
		want      string
	}{
		{"no header", nil, "10.0.0.2"},
		{"one hop", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left of the real client", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"several trusted hops", []string{"203.0.113.9, 192.0.2.7, 10.1.2.3"}, "203.0.113.9"},
		{"hops in several header lines", []string{"198.51.100.1, 203.0.113.9", "192.0.2.7", "10.1.2.3"}, "203.0.113.9"},
		{"every hop trusted", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"hop with port", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"ipv6 hop", []string{"2001:db8::1, fd00::1"}, "2001:db8::1"},
		{"ipv6 hop with port", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"ipv4-mapped hop", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"malformed right-most hop", []string{"203.0.113.9, not-an-address"}, "10.0.0.2"},
		{"malformed behind a trusted hop", []string{"junk, 10.1.2.3"}, "10.1.2.3"},
		{"malformed left of the client", []string{"junk, 203.0.113.9"}, "203.0.113.9"},
		{"empty", []string{""}, "10.0.0.2"},
		{"zone", []string{"fe80::1%eth0"}, "10.0.0.2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ps.client(proxy, tt.forwarded); got.String() != tt.want {
				t.Fatalf("client behind %s with %q: got %s, want %s", proxy, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestForwardedProtoSaysHTTPSOnlyWhenItDoes(t *testing.T) {
	for proto, want := range map[string]bool{"https": true, "HTTPS": true, " https , http": true, "http": false, "": false, "http, https": false, "httpsx": false} {
		if got := forwardedHTTPS(proto); got != want {
			t.Errorf("forwardedHTTPS(%q) = %v, want %v", proto, got, want)
		}
	}
}
