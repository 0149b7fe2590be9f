package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"forum/forum"
	"forum/forum/web"
	"forum/streams"
	"forum/streams/streamstest"
)

// startWith starts a forum server whose hub watches db, the store's
// database or a wrapper of it, with opts.
func startWith(t *testing.T, db lungo.IDatabase, store *forum.Store, opts streams.Options) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := streams.New(log, db, store, opts)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { hub.Run(ctx) })
	srv := httptest.NewServer(web.New(log, store, hub, []byte("0123456789abcdef0123456789abcdef")))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	return srv
}

// scrape returns the server's /metrics: each series, labels included, to
// its value.
func (c *client) scrape() map[string]float64 {
	c.t.Helper()
	resp, body := c.get("/metrics")
	wantStatus(c.t, resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		c.t.Fatalf("/metrics content type %q", ct)
	}
	series := map[string]float64{}
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			c.t.Fatalf("metrics line %q: %v", line, err)
		}
		series[name] = v
	}
	return series
}

// metricIs waits until a series of /metrics has the value want.
func (c *client) metricIs(series string, want float64) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, ok := c.scrape()[series]
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s is %v (exported %v), want %v", series, got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor waits until ok holds.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsCountWhatStreamsDeliver(t *testing.T) {
	db, store := newStore(t)
	// Presence then goes out only at connect, where each stream of the
	// posts gets who is online.
	srv, _ := startServerWith(t, db, store, httptest.NewServer, slog.New(slog.DiscardHandler), streams.Options{PresenceInterval: time.Hour, OnlineInterval: time.Hour})
	alice, scraper := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	m := scraper.scrape()
	for _, series := range []string{
		`forum_streams_open{topic="posts"}`, `forum_streams_open{topic="comments"}`,
		`forum_streams_open{topic="notifications"}`, `forum_streams_open{topic="stats"}`,
		`forum_events_delivered_total`, `forum_listeners_evicted_total`, `forum_resumes_total`,
		`forum_resets_total{reason="expired_id"}`, `forum_delivery_lag_seconds_count`,
		`forum_change_streams_opened_total{collection="notifications"}`,
		`forum_canary_roundtrip_seconds`, `forum_canary_stalled`, `go_goroutines`,
	} {
		if _, ok := m[series]; !ok {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	posts := alice.stream("/stream/posts")
	scraper.metricIs(`forum_streams_open{topic="posts"}`, 1)
	alice.createPost("Hello", "b")
	e := posts.nextOf(t, "post")
	scraper.metricIs(`forum_events_delivered_total`, 2)
	scraper.metricIs(`forum_delivery_lag_seconds_count`, 1)

	alice.stream("/stream/posts", "Last-Event-ID", e.ID)
	scraper.metricIs(`forum_resumes_total`, 1)
	reset := alice.stream("/stream/posts", "Last-Event-ID", "nope")
	reset.nextOf(t, "reset")
	scraper.metricIs(`forum_resets_total{reason="malformed_id"}`, 1)
	scraper.metricIs(`forum_events_delivered_total`, 5)
	scraper.metricIs(`forum_streams_open{topic="posts"}`, 3)
}

func TestEachServerHasItsOwnMetrics(t *testing.T) {
	a, b := newServer(t), newServer(t)
	onA, onB := newClient(t, a), newClient(t, b)
	onA.register("alice")
	onA.stream("/stream/posts")
	onA.metricIs(`forum_streams_open{topic="posts"}`, 1)
	onB.metricIs(`forum_streams_open{topic="posts"}`, 0)
}

func TestReadyzFailsWhileNotificationsStreamStalls(t *testing.T) {
	db, store := newStore(t)
	sdb := &streamstest.StallDB{IDatabase: db.Database}
	srv := startWith(t, sdb, store, streams.Options{CanaryInterval: 50 * time.Millisecond})
	c := newClient(t, srv)
	ready := func() (int, string) {
		resp, body := c.get("/readyz")
		return resp.StatusCode, body
	}
	waitFor(t, "canary back", func() bool { return c.scrape()[`forum_canary_roundtrip_seconds`] > 0 })
	waitFor(t, "/readyz 200", func() bool { st, _ := ready(); return st == http.StatusOK })

	sdb.Stall()
	waitFor(t, "/readyz 503", func() bool { st, _ := ready(); return st == http.StatusServiceUnavailable })
	if _, body := ready(); !strings.Contains(body, "stalled") || !strings.Contains(body, "notifications") {
		t.Fatalf("/readyz while stalled: %s, want it to name the notifications stream", body)
	}
	c.metricIs(`forum_canary_stalled`, 1)

	sdb.Release()
	waitFor(t, "/readyz 200", func() bool { st, _ := ready(); return st == http.StatusOK })
	c.metricIs(`forum_canary_stalled`, 0)
}

func TestCanaryNeverShowsAsANotification(t *testing.T) {
	db, store := newStore(t)
	const interval = 50 * time.Millisecond
	srv := startWith(t, db.Database, store, streams.Options{CanaryInterval: interval})
	alice, bob := newClient(t, srv), newClient(t, srv)
	aliceID, err := forum.ParseID(alice.register("alice"))
	if err != nil {
		t.Fatal(err)
	}
	bob.register("bob")
	events := alice.stream("/stream/notifications")
	if e := events.nextOf(t, "unread"); e.Data != `{"count":0}` {
		t.Fatalf("unread at connect: %s", e.Data)
	}
	p := alice.createPost("Thread", "b")
	bob.createComment(p["id"].(string), "Hi")
	events.nextOf(t, "notification")
	if e := events.nextOf(t, "unread"); e.Data != `{"count":1}` {
		t.Fatalf("unread after a comment: %s", e.Data)
	}

	waitFor(t, "canary back", func() bool { return alice.scrape()[`forum_canary_roundtrip_seconds`] > 0 })
	time.Sleep(5 * interval)
	select {
	case e := <-events.events:
		if e.HasData {
			t.Fatalf("a canary reached a listener: %s %s", e.Event, e.Data)
		}
	default:
	}
	for who, want := range map[*client]int{alice: 1, bob: 0} {
		resp, body := who.get("/api/notifications")
		wantStatus(t, resp, body, http.StatusOK)
		if got := len(decodeList(t, body)); got != want || strings.Contains(body, "canary") {
			t.Fatalf("notifications: %s, want %d", body, want)
		}
	}
	if n, err := store.UnreadCount(t.Context(), aliceID); err != nil || n != 1 {
		t.Fatalf("alice's unread count %d, %v; want 1", n, err)
	}
}
