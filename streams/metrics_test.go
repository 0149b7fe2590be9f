package streams_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"forum/streams"
	"forum/streams/streamstest"
)

// scrape returns the hub's metrics as a scraper reads them: each series,
// labels included, to its value.
func scrape(t *testing.T, hub *streams.Hub) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(hub)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	series := map[string]float64{}
	for line := range strings.Lines(rec.Body.String()) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[name] = v
	}
	return series
}

// metricIs waits until a series has the value want.
func metricIs(t *testing.T, hub *streams.Hub, series string, want float64) {
	t.Helper()
	var got float64
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if got, ok = scrape(t, hub)[series]; ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %v", series, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsCountDeliveriesResumesAndResets(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	m := scrape(t, s.hub)
	for _, series := range []string{
		`forum_change_streams_opened_total{collection="posts"}`,
		`forum_change_streams_opened_total{collection="comments"}`,
		`forum_change_streams_opened_total{collection="notifications"}`,
	} {
		if m[series] != 1 {
			t.Errorf("%s = %v, want 1", series, m[series])
		}
	}
	for _, series := range []string{
		`forum_streams_open{topic="posts"}`, `forum_streams_open{topic="stats"}`,
		`forum_events_delivered_total`, `forum_listeners_evicted_total`, `forum_resumes_total`,
		`forum_resets_total{reason="malformed_id"}`, `forum_resets_total{reason="history_lost"}`,
		`forum_delivery_lag_seconds_count`, `forum_canary_stalled`, `forum_canary_roundtrip_seconds`,
	} {
		if v, ok := m[series]; !ok || v != 0 {
			t.Errorf("%s = %v (exported %v), want 0", series, v, ok)
		}
	}

	u := users(t, store, "alice")[0]
	from := s.hub.LastEventID()
	live := connect(t, s, []string{streams.PostsTopic}, "", false)
	metricIs(t, s.hub, `forum_streams_open{topic="posts"}`, 1)
	post(t, store, u, "One")
	titles(t, live, 1)
	// Each stream of the posts also gets who is online when it connects.
	metricIs(t, s.hub, `forum_events_delivered_total`, 2)
	metricIs(t, s.hub, `forum_delivery_lag_seconds_count`, 1)
	if lag := scrape(t, s.hub)[`forum_delivery_lag_seconds_sum`]; lag <= 0 || lag > 5 {
		t.Errorf("delivery lag of a live post: %vs", lag)
	}

	resumed := connect(t, s, []string{streams.PostsTopic}, from, false)
	titles(t, resumed, 1)
	metricIs(t, s.hub, `forum_resumes_total`, 1)
	metricIs(t, s.hub, `forum_events_delivered_total`, 4)

	reset := connect(t, s, []string{streams.PostsTopic}, "not-an-id", false)
	reset.expect(t, "reset")
	metricIs(t, s.hub, `forum_resets_total{reason="malformed_id"}`, 1)
	metricIs(t, s.hub, `forum_events_delivered_total`, 6)
	metricIs(t, s.hub, `forum_streams_open{topic="posts"}`, 3)
	metricIs(t, s.hub, `forum_delivery_lag_seconds_count`, 2)
}

func TestEvictionIsCountedAndLogged(t *testing.T) {
	db, store := newDB(t)
	var logs streamstest.LogBuffer
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener = smallBuffers{srv.Listener}
	s := startHubLogged(t, db.Database, store, streams.Options{
		History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour,
		QueueSize: 4, WriteTimeout: time.Minute,
	}, srv, slog.New(slog.NewTextHandler(&logs, nil)))
	u := users(t, store, "alice")[0]
	stalled := dialSmall(t, srv.Listener.Addr().String())
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/events?topic=posts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(stalled); err != nil {
		t.Fatal(err)
	}
	metricIs(t, s.hub, `forum_streams_open{topic="posts"}`, 1)
	body := strings.Repeat("A long body that fills buffers. ", 400)
	// Far more than the queue and the small socket buffers hold.
	for range 100 {
		if _, err := store.CreatePost(t.Context(), u, "Post", body); err != nil {
			t.Fatal(err)
		}
	}
	// The stream's write is stuck until the client reads; then it finds
	// that it fell behind.
	resp, err := http.ReadResponse(bufio.NewReader(stalled), req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	metricIs(t, s.hub, `forum_listeners_evicted_total`, 1)
	metricIs(t, s.hub, `forum_streams_open{topic="posts"}`, 0)
	logs.Logged(t, "level=WARN", `msg="stream closed"`, "topics=posts", "reason=evicted")
}

func TestStreamsLogOpenAndCloseWithKindsOnly(t *testing.T) {
	db, store := newDB(t)
	var logs streamstest.LogBuffer
	s := startHubLogged(t, db.Database, store, quiet, httptest.NewUnstartedServer(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	u := users(t, store, "alice")[0]
	p := post(t, store, u, "Thread")
	c := connect(t, s, []string{streams.NotificationsTopic(u.ID), streams.CommentsTopic(p.ID)}, "", false)
	c.expect(t, "unread")
	logs.Logged(t, "level=INFO", `msg="stream opened"`, "topics=notifications,comments")
	c.close()
	line := logs.Logged(t, `msg="stream closed"`, "topics=notifications,comments", `reason="client gone"`, "events=2", "duration=")

	// Its first frame, the resume point, is the one event it has when the
	// hub stops: stopping before it was written would leave none.
	connect(t, s, []string{streams.PostsTopic}, "", false).next(t)
	metricIs(t, s.hub, `forum_streams_open{topic="posts"}`, 1)
	s.stop()
	logs.Logged(t, `msg="stream closed"`, "topics=posts", "reason=shutdown", "events=1")

	for _, id := range []string{u.ID.Hex(), p.ID.Hex()} {
		if strings.Contains(logs.String(), id) {
			t.Fatalf("the log names id %s:\n%s", id, logs.String())
		}
	}
	if strings.Contains(line, "error=") {
		t.Fatalf("a client that went is no error: %s", line)
	}
}
