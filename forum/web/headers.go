package web

import "net/http"

// contentSecurityPolicy lets pages run only the site's own script files
// (no inline script, no eval), load only its own styles and images, talk
// and run workers only to and from the site, and be framed by no one. The
// views and static files keep to it: no inline script or style, no on*
// handlers.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// hstsMaxAge is how long browsers are told to come back over HTTPS only: a
// year. Subdomains are left out: the forum does not know what else runs
// under its domain.
const hstsMaxAge = "max-age=31536000"

// withSecurityHeaders sets the headers that keep every response, pages,
// errors, API and streams alike, from being framed, sniffed as another type
// or leaking its URL to other sites, and that hold pages to the content
// policy. Strict-Transport-Security goes only with HTTPS, as browsers
// ignore it over plain HTTP and a plain-HTTP deployment must not be told to
// switch.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		if isHTTPS(r) {
			h.Set("Strict-Transport-Security", hstsMaxAge)
		}
		next.ServeHTTP(w, r)
	})
}
