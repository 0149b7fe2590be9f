package static

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestPathIsVersionedByContent(t *testing.T) {
	for _, name := range []string{"app.css", "app.js", "live-worker.js"} {
		if got := Path(name); !regexp.MustCompile(`^/static/` + regexp.QuoteMeta(name) + `\?v=[0-9a-f]{12}$`).MatchString(got) {
			t.Errorf("Path(%q) = %q, want /static/%s?v=<12 hex>", name, got, name)
		}
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name, method, url string
		status            int
		contentType       string
		cacheControl      string
	}{
		{"current version is cached for good", http.MethodGet, Path("app.css"), 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"script has its type", http.MethodGet, Path("app.js"), 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"stale version is revalidated", http.MethodGet, "/static/app.js?v=old", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"head works", http.MethodHead, Path("app.js"), 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"unknown file is not found", http.MethodGet, "/static/nope.js", 404, "", ""},
		{"directory is not found", http.MethodGet, "/static/", 404, "", ""},
		{"path outside the prefix is not found", http.MethodGet, "/app.js", 404, "", ""},
		{"post is not allowed", http.MethodPost, Path("app.js"), 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.url, nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cacheControl)
			}
		})
	}
}
