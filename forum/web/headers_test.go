package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// wantSecurityHeaders checks the headers every response carries, and
// Strict-Transport-Security only when hsts.
func wantSecurityHeaders(t *testing.T, resp *http.Response, hsts bool) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", resp.Request.URL.Path, csp, directive)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline script or eval", resp.Request.URL.Path, csp)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %s %q, want %q", resp.Request.URL.Path, h, got, want)
		}
	}
	if got := resp.Header.Get("Strict-Transport-Security"); (got != "") != hsts || hsts && !strings.HasPrefix(got, "max-age=") {
		t.Errorf("%s: Strict-Transport-Security %q, want it set %v", resp.Request.URL.Path, got, hsts)
	}
}

func TestEveryResponseCarriesSecurityHeaders(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/", http.StatusOK},
		{"/no/such/page", http.StatusNotFound},
		{"/posts/nothex", http.StatusBadRequest},
		{"/api/posts", http.StatusOK},
		{"/api/nothing", http.StatusNotFound},
		{"/healthz", http.StatusOK},
	} {
		resp, body := c.get(tt.path)
		wantStatus(t, resp, body, tt.status)
		wantSecurityHeaders(t, resp, false)
	}
	s := c.stream("/stream/posts")
	wantSecurityHeaders(t, s.resp, false)
}

func TestStrictTransportSecurityOnlyOverHTTPS(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted string
		hsts    bool
	}{
		{"trusted proxy says https", "127.0.0.1/32", true},
		{"untrusted peer says https", "10.0.0.0/8", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startBehind(t, tt.trusted)
			resp, body := newClient(t, srv).do(http.MethodGet, "/", "", nil, "X-Forwarded-Proto", "https")
			wantStatus(t, resp, body, http.StatusOK)
			wantSecurityHeaders(t, resp, tt.hsts)
		})
	}
}
