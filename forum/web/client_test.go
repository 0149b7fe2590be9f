package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"forum/forum/web"
	"forum/streams"
	"forum/streams/streamstest"
)

// startBehind starts a server that trusts the given proxies, logging to the
// returned buffer. The tests' requests all come from 127.0.0.1.
func startBehind(t *testing.T, trusted ...string) (*httptest.Server, *streamstest.LogBuffer) {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	logs := &streamstest.LogBuffer{}
	db, store := newStore(t)
	srv, _ := startServerWith(t, db, store, httptest.NewServer, slog.New(slog.NewTextHandler(logs, nil)), streams.Options{}, web.WithTrustedProxies(prefixes))
	return srv, logs
}

func TestForwardedClientIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		name      string
		trusted   []string
		forwarded string
		client    string
	}{
		{"no proxy trusted", nil, "203.0.113.9", "127.0.0.1"},
		{"spoofed from an untrusted peer", []string{"10.0.0.0/8"}, "203.0.113.9", "127.0.0.1"},
		{"from a trusted peer", []string{"127.0.0.1/32"}, "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"through several trusted hops", []string{"127.0.0.0/8", "10.0.0.0/8"}, "198.51.100.1, 203.0.113.9, 10.0.0.5, 10.0.0.6", "203.0.113.9"},
		{"malformed from a trusted peer", []string{"127.0.0.1/32"}, "203.0.113.9, bogus", "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, logs := startBehind(t, tt.trusted...)
			resp, body := newClient(t, srv).do(http.MethodGet, "/api/posts", "", nil, "X-Forwarded-For", tt.forwarded)
			wantStatus(t, resp, body, http.StatusOK)
			if line := logs.Logged(t, "msg=request", "path=/api/posts "); !strings.Contains(line, "client="+tt.client+" ") {
				t.Fatalf("log line %q, want client=%s", line, tt.client)
			}
		})
	}
}

// signInUntilLimited fails to sign in as name from forwarded until the
// limiter answers 429.
func signInUntilLimited(t *testing.T, srv *httptest.Server, name, forwarded string) {
	t.Helper()
	c := newClient(t, srv)
	for range 1000 {
		resp, body := c.do(http.MethodPost, "/login", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"name": {name}, "password": {"wrong-password"}}.Encode()), "X-Forwarded-For", forwarded)
		if resp.StatusCode == http.StatusTooManyRequests {
			return
		}
		wantStatus(t, resp, body, http.StatusUnauthorized)
	}
	t.Fatal("sign-in never limited")
}

func TestSignInLimitKeysOnTheClientBehindTrustedProxiesOnly(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		want    int // sign-in from another forwarded address once one is limited
	}{
		{"trusted proxy", "127.0.0.1/32", http.StatusSeeOther},
		{"untrusted peer", "10.0.0.0/8", http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startBehind(t, tt.trusted)
			newClient(t, srv).register("alice")
			signInUntilLimited(t, srv, "alice", "203.0.113.9")
			resp, body := newClient(t, srv).do(http.MethodPost, "/login", "application/x-www-form-urlencoded",
				strings.NewReader(url.Values{"name": {"alice"}, "password": {"password123"}}.Encode()), "X-Forwarded-For", "198.51.100.1")
			wantStatus(t, resp, body, tt.want)
		})
	}
}

func TestCookieIsSecureWhenATrustedProxySaysHTTPS(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		proto   string
		secure  bool
	}{
		{"trusted proxy says https", "127.0.0.1/32", "https", true},
		{"trusted proxy says http", "127.0.0.1/32", "http", false},
		{"untrusted peer says https", "10.0.0.0/8", "https", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startBehind(t, tt.trusted)
			resp, body := newClient(t, srv).do(http.MethodPost, "/api/register", "application/json",
				strings.NewReader(`{"name":"alice","password":"password123"}`), "X-Forwarded-Proto", tt.proto)
			wantStatus(t, resp, body, http.StatusCreated)
			cookie := resp.Header.Get("Set-Cookie")
			if got := strings.Contains(cookie, "; Secure"); got != tt.secure {
				t.Fatalf("cookie %q: Secure %v, want %v", cookie, got, tt.secure)
			}
		})
	}
}
