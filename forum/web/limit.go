package web

import (
	"container/list"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"forum/forum"
)

// Sign-in attempts allowed per name and address within loginWindow.
const (
	loginAttempts = 10
	loginWindow   = 15 * time.Minute
	// maxLimiterKeys bounds the limiter's memory. Keys are at most a valid
	// name and an address, so the table stays within a few tens of MB;
	// past the bound the least recently used key is forgotten.
	maxLimiterKeys = 100000
)

// limiter counts attempts per key in a fixed window. An attempt takes its
// slot before it is checked, so attempts sent at once are limited as those
// sent one after another are.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	keys   int
	counts map[string]*list.Element
	// lru orders the windows by last use, most recent first.
	lru *list.List
}

type window struct {
	key   string
	start time.Time
	n     int
}

func newLimiter(max int, d time.Duration, keys int) *limiter {
	return &limiter{max: max, window: d, keys: keys, counts: map[string]*list.Element{}, lru: list.New()}
}

// reserve takes one of key's attempts. When none is left it returns false and
// how long until the window ends.
func (l *limiter) reserve(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	e, ok := l.counts[key]
	if !ok {
		if l.lru.Len() >= l.keys {
			oldest := l.lru.Back()
			delete(l.counts, oldest.Value.(*window).key)
			l.lru.Remove(oldest)
		}
		e = l.lru.PushFront(&window{key: key, start: now})
		l.counts[key] = e
	}
	l.lru.MoveToFront(e)
	w := e.Value.(*window)
	if now.Sub(w.start) > l.window {
		w.start, w.n = now, 0
	}
	if w.n >= l.max {
		return false, w.start.Add(l.window).Sub(now)
	}
	w.n++
	return true, 0
}

// reset forgets key's attempts.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.counts[key]; ok {
		delete(l.counts, key)
		l.lru.Remove(e)
	}
}

// len returns how many keys the limiter holds.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}

// loginKey is the limiter key for a sign-in attempt: the name and the
// client's address. A name that could not be registered cannot sign in, so
// all of an address's such names share one key: they cost the limiter no more
// memory, however many or long they are.
func loginKey(r *http.Request, name string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if forum.ValidateName(name) != nil {
		name = "\x00invalid"
	}
	return strings.ToLower(name) + "|" + host
}
