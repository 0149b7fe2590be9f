package fanout

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"forum/streams/ssetest"
)

// wait bounds how long a test waits for what should happen soon.
const wait = 15 * time.Second

// serveHub serves h's topic "a" over HTTP; ended counts the streams over.
func serveHub(t *testing.T, h *Hub) (srv *httptest.Server, ended *atomic.Int64) {
	t.Helper()
	ended = new(atomic.Int64)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, Subscription{Topics: []string{"a"}, Ended: func() { ended.Add(1) }})
	}))
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		h.Wait()
	})
	return srv, ended
}

// open requests a stream resuming from id, in the background: the answer
// may wait for the hub. frames gets its frames, and is closed at its end.
func open(t *testing.T, ctx context.Context, srv *httptest.Server, id string) <-chan ssetest.Event {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Last-Event-ID", id)
	frames := make(chan ssetest.Event, 64)
	go func() {
		defer close(frames)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		r := ssetest.NewReader(resp.Body)
		for {
			e, err := r.Next()
			if err != nil {
				return
			}
			frames <- e
		}
	}()
	return frames
}

// nextData returns the next frame with data.
func nextData(t *testing.T, frames <-chan ssetest.Event) ssetest.Event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e, ok := <-frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if e.HasData {
				return e
			}
		case <-timeout:
			t.Fatal("no event in time")
		}
	}
}

// waiting reports whether a stream waits for the hub to move on.
func (h *Hub) waiting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.moved != nil
}

// registered returns how many streams are registered.
func (h *Hub) registered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func idOf(v ...uint64) string {
	vec := make([]Position, len(v))
	for i, x := range v {
		vec[i] = Position{Time: x}
	}
	return string(appendID(nil, vec))
}

func TestIDAheadOfTheHubIsHonouredOnceItCatchesUp(t *testing.T) {
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 2), Heartbeat: time.Hour, CatchUp: wait})
	srv, _ := serveHub(t, h)
	h.Publish(0, Position{Time: 1}, []string{"a"}, "e", []byte("0:1"), time.Time{})
	// Another instance has read source 0 up to 3 and source 1 up to 5.
	frames := open(t, t.Context(), srv, idOf(3, 5))
	eventually(t, "the stream to wait", h.waiting)
	h.Publish(0, Position{Time: 2}, []string{"a"}, "e", []byte("0:2"), time.Time{})
	h.Publish(0, Position{Time: 3}, []string{"a"}, "e", []byte("0:3"), time.Time{})
	h.Publish(0, Position{Time: 4}, []string{"a"}, "e", []byte("0:4"), time.Time{})
	if n := h.registered(); n != 0 {
		t.Fatal("stream registered before source 1 got to the id")
	}
	h.Publish(1, Position{Time: 5}, []string{"a"}, "e", []byte("1:5"), time.Time{})
	h.Publish(1, Position{Time: 6}, []string{"a"}, "e", []byte("1:6"), time.Time{})
	for _, want := range []string{"0:4", "1:6"} {
		if e := nextData(t, frames); e.Data != want {
			t.Fatalf("got %s %q, want %s", e.Event, e.Data, want)
		}
	}
}

func TestIDAheadOfTheHubGetsAResetIfTheHubDoesNotCatchUp(t *testing.T) {
	for _, tt := range []struct {
		name    string
		id      string
		catchUp time.Duration
	}{
		{"never caught up", idOf(3, 0), 50 * time.Millisecond},
		// A position Future calls impossible gets its reset without waiting
		// (CatchUp would outlast the test).
		{"beyond any skew", idOf(1000, 0), time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := New(slog.New(slog.DiscardHandler), Options{
				Start: make([]Position, 2), Heartbeat: time.Hour, CatchUp: tt.catchUp,
				Future: func(_ int, p Position) bool { return p.Time > 100 },
			})
			srv, _ := serveHub(t, h)
			h.Publish(0, Position{Time: 1}, []string{"a"}, "e", []byte("0:1"), time.Time{})
			frames := open(t, t.Context(), srv, tt.id)
			if e := nextData(t, frames); e.Event != "reset" || e.Data != `{"reason":"unknown id"}` {
				t.Fatalf("got %s %q, want a reset for an unknown id", e.Event, e.Data)
			}
			h.Publish(0, Position{Time: 2}, []string{"a"}, "e", []byte("0:2"), time.Time{})
			if e := nextData(t, frames); e.Data != "0:2" {
				t.Fatalf("after the reset got %q, want 0:2", e.Data)
			}
		})
	}
}

func TestClientLeavingWhileTheHubCatchesUpEndsItsStream(t *testing.T) {
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 1), Heartbeat: time.Hour, CatchUp: wait})
	srv, ended := serveHub(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	frames := open(t, ctx, srv, idOf(5))
	eventually(t, "the stream to wait", h.waiting)
	cancel()
	for range frames {
	}
	eventually(t, "the stream to end", func() bool { return ended.Load() == 1 })
	if n := h.registered(); n != 0 {
		t.Fatalf("%d streams registered after the client left while waiting", n)
	}
}

func TestListenersCountsFollowJoinsAndEveryWayOfLeaving(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 1), Listeners: func(topic string, n int) {
		mu.Lock()
		defer mu.Unlock()
		counts[topic] = n
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, Subscription{Topics: strings.Split(r.URL.Query().Get("t"), ",")})
	}))
	defer srv.Close()
	count := func(topic string) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[topic]
	}
	waitCount := func(topic string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count(topic) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d listeners, want %d", topic, count(topic), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	open := func(topics string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "?t=" + topics)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	a, b := open("x,y"), open("x")
	waitCount("x", 2)
	waitCount("y", 1)
	a.Body.Close()
	waitCount("x", 1)
	waitCount("y", 0)
	open("y")
	waitCount("y", 1)
	h.Kick()
	waitCount("x", 0)
	waitCount("y", 0)
	b.Body.Close()
	open("x")
	waitCount("x", 1)
	h.Close()
	h.Wait()
	waitCount("x", 0)
}
