package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"forum/forum/web"
	"forum/streams"
)

// firstFrame opens a posts stream from the forwarded address and reports
// whether it is served (its first frame is the resume point) rather than
// refused (one retry frame, then the end).
func (c *client) firstFrame(forwarded string) (s *stream, served bool) {
	c.t.Helper()
	s = c.stream("/stream/posts", "X-Forwarded-For", forwarded)
	if s.resp.StatusCode != http.StatusOK || s.resp.Header.Get("Content-Type") != "text/event-stream" {
		c.t.Fatalf("stream: status %d, content type %q", s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
	}
	select {
	case e, ok := <-s.events:
		switch {
		case !ok:
			c.t.Fatal("stream ended without a frame")
		case e.HasRetry:
			if e.Retry < 10*time.Second || e.Retry > 30*time.Second || e.HasData {
				c.t.Fatalf("refusal %+v, want a retry of 10s to 30s alone", e)
			}
			if _, more := <-s.events; more {
				c.t.Fatal("refused stream goes on after its retry")
			}
			return s, false
		case !e.HasID:
			c.t.Fatalf("first frame %+v, want the resume point", e)
		}
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10s")
	}
	return s, true
}

func TestStreamsAreBoundedPerUserAndPerAddress(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServerWith(t, db, store, httptest.NewServer, slog.New(slog.NewTextHandler(io.Discard, nil)), streams.Options{},
		web.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}), web.WithStreamLimits(2, 3))
	alice, bob, anon := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	const here, there, elsewhere = "203.0.113.1", "203.0.113.2", "203.0.113.3"

	first, _ := alice.firstFrame(here)
	for _, o := range []struct {
		name      string
		c         *client
		forwarded string
		served    bool
	}{
		{"alice's second", alice, here, true},
		{"alice's third, from another address", alice, there, false},
		{"bob's first, third from the address", bob, here, true},
		{"anonymous, fourth from the address", anon, here, false},
		{"anonymous from another address", anon, elsewhere, true},
		{"bob's second, from another address", bob, there, true},
	} {
		if _, served := o.c.firstFrame(o.forwarded); served != o.served {
			t.Fatalf("%s: served %v, want %v", o.name, served, o.served)
		}
	}

	// Alice's place frees once one of her streams is gone.
	first.resp.Body.Close()
	waitFor(t, "alice's place to free", func() bool {
		s, served := alice.firstFrame(there)
		if served {
			s.resp.Body.Close()
		}
		return served
	})
}
