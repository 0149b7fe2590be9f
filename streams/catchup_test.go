package streams_test

import (
	"net/http"
	"testing"
	"time"

	"forum/forum"
	"forum/streams"
	"forum/streams/ssetest"
	"forum/streams/streamstest"
)

// notification returns the next notification event, skipping unread counts.
func notification(t *testing.T, c *client) ssetest.Event {
	t.Helper()
	for {
		e := c.event(t)
		switch e.Event {
		case "notification":
			return e
		case "unread":
		default:
			t.Fatalf("got %q (%s), want a notification", e.Event, e.Data)
		}
	}
}

// stalled is two hubs on one store, the second of which, b, reads the
// notifications collection through stall, and a listener of alice's
// notifications on the first.
type stalled struct {
	b      *server
	stall  *streamstest.StallDB
	store  *forum.Store
	onA    *client
	topics []string
	post   *forum.Post // alice's
	bob    *forum.User
}

func startStalled(t *testing.T, opts streams.Options) *stalled {
	t.Helper()
	db, store := newDB(t)
	a := startHub(t, db.Database, store, quiet)
	s := &stalled{stall: &streamstest.StallDB{IDatabase: db.Database}, store: store}
	s.b = startHub(t, s.stall, store, opts)
	us := users(t, store, "alice", "bob")
	s.bob = us[1]
	s.topics = []string{streams.NotificationsTopic(us[0].ID)}
	s.onA = connect(t, a, s.topics, "", false)
	expectUnread(t, s.onA, 0)
	s.post = post(t, store, us[0], "Thread")
	return s
}

// reply has bob comment on alice's post, and returns the notification A
// sends alice.
func (s *stalled) reply(t *testing.T, body string) ssetest.Event {
	t.Helper()
	comment(t, s.store, s.bob, s.post, body)
	return notification(t, s.onA)
}

// A client resumes on B with an id from A, which has read a notification B
// has not: B waits until it has, then sends exactly what came after.
func TestIDFromAnInstanceAheadIsHonouredOnceThisOneCatchesUp(t *testing.T) {
	opts := quiet
	opts.CatchUp = wait
	s := startStalled(t, opts)
	s.stall.Stall()
	seen := s.reply(t, "Seen on A")

	// B has not read that notification yet: the stream waits for it.
	req, cancel := streamRequest(t, s.b, s.topics, seen.ID, false)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := s.b.srv.Client().Do(req)
		if err != nil {
			resp = nil
		}
		answered <- resp
	}()
	metricIs(t, s.b.hub, "forum_streams_catching_up", 1)
	after := s.reply(t, "After the id")
	s.stall.Release()
	var resp *http.Response
	select {
	case resp = <-answered:
	case <-time.After(wait):
		t.Fatal("stream not answered once B caught up")
	}
	if resp == nil {
		t.Fatal("stream request failed")
	}
	c := follow(t, resp, cancel)
	later := s.reply(t, "Later")
	for _, want := range []ssetest.Event{after, later} {
		if got := notification(t, c); fields(t, want)["id"] == nil || fields(t, got)["id"] != fields(t, want)["id"] {
			t.Fatalf("resumed on B with %s, want %s", got.Data, want.Data)
		}
	}
	metricIs(t, s.b.hub, "forum_streams_catching_up", 0)
}

// The same with B stuck, and the id in the lastEventId query parameter, as
// a page's first stream sends it: a reset once CatchUp is up.
func TestIDFromAnInstanceAheadGetsAResetIfThisOneDoesNotCatchUp(t *testing.T) {
	opts := quiet
	opts.CatchUp = 100 * time.Millisecond
	s := startStalled(t, opts)
	s.stall.Stall()
	defer s.stall.Release()
	seen := s.reply(t, "Seen on A only")
	c := connect(t, s.b, s.topics, seen.ID, true)
	if e := c.expect(t, "reset"); fields(t, e)["reason"] != "unknown id" {
		t.Fatalf("reset %s, want reason unknown id", e.Data)
	}
}
