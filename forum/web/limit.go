package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Login attempts allowed per name and address within loginWindow.
const (
	loginAttempts = 10
	loginWindow   = 15 * time.Minute
	// maxLimiterKeys bounds the limiter's memory; past it, expired entries
	// are swept.
	maxLimiterKeys = 100000
)

// limiter counts failed attempts per key in a fixed window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	counts map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, d time.Duration) *limiter {
	return &limiter{max: max, window: d, counts: map[string]*window{}}
}

// allow reports whether key may try again now.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.counts[key]
	if !ok || time.Since(w.start) > l.window {
		return true
	}
	return w.n < l.max
}

// fail counts a failed attempt for key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.counts) >= maxLimiterKeys {
		for k, w := range l.counts {
			if now.Sub(w.start) > l.window {
				delete(l.counts, k)
			}
		}
	}
	w, ok := l.counts[key]
	if !ok || now.Sub(w.start) > l.window {
		w = &window{start: now}
		l.counts[key] = w
	}
	w.n++
}

// reset forgets key's failures.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, key)
}

// loginKey is the limiter key for a sign-in attempt: the name and the
// client's address.
func loginKey(r *http.Request, name string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return strings.ToLower(name) + "|" + host
}
