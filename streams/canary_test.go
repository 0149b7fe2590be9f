package streams_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/streams"
)

// canaryGrace is how many intervals the hub gives the canary to come back.
const canaryGrace = 3

// stallDB wraps a database so that the notifications change stream can be
// made to hang without failing, as a stuck connection would.
type stallDB struct {
	lungo.IDatabase
	mu   sync.Mutex
	gate chan struct{} // while not nil, the stream waits for it to close
}

// stall makes the notifications stream hang at its next change.
func (d *stallDB) stall() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gate = make(chan struct{})
}

// release lets the notifications stream go on with what it held.
func (d *stallDB) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	close(d.gate)
	d.gate = nil
}

// hold waits while the stream is stalled.
func (d *stallDB) hold(ctx context.Context) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
}

func (d *stallDB) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	c := d.IDatabase.Collection(name, opts...)
	if name != forum.NotificationsCollection {
		return c
	}
	return &stallColl{ICollection: c, db: d}
}

type stallColl struct {
	lungo.ICollection
	db *stallDB
}

func (c *stallColl) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	cs, err := c.ICollection.Watch(ctx, pipeline, opts...)
	if err != nil {
		return nil, err
	}
	return &stallStream{IChangeStream: cs, db: c.db}, nil
}

type stallStream struct {
	lungo.IChangeStream
	db *stallDB
}

func (s *stallStream) Next(ctx context.Context) bool {
	ok := s.IChangeStream.Next(ctx)
	s.db.hold(ctx)
	return ok
}

func (s *stallStream) TryNext(ctx context.Context) bool {
	s.db.hold(ctx)
	return s.IChangeStream.TryNext(ctx)
}

// canaries returns the canary documents in the notifications collection.
func canaries(t *testing.T, db lungo.IDatabase) []bson.M {
	t.Helper()
	cur, err := db.Collection(forum.NotificationsCollection).Find(t.Context(), bson.M{"canary": true})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestCanaryComesBackUnseenAndIsRemovedAtStop(t *testing.T) {
	db, store := newDB(t)
	var logs logBuffer
	const interval = 200 * time.Millisecond
	s := startHubLogged(t, db.Database, store, streams.Options{
		History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour, CanaryInterval: interval,
	}, httptest.NewUnstartedServer(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	u := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.NotificationsTopic(u.ID)}, "", false)
	if e := c.expect(t, "unread"); e.Data != `{"count":0}` {
		t.Fatalf("unread at connect: %s", e.Data)
	}
	eventually(t, "canary back", func() bool { return scrape(t, s.hub)[`forum_canary_roundtrip_seconds`] > 0 })
	for range 3 * canaryGrace {
		if err := s.hub.Ready(); err != nil {
			t.Fatalf("with the canary coming back: %v", err)
		}
		time.Sleep(interval)
	}
	m := scrape(t, s.hub)
	if rtt := m[`forum_canary_roundtrip_seconds`]; rtt > float64(canaryGrace*interval)/float64(time.Second) {
		t.Errorf("canary round trip %vs", rtt)
	}
	if m[`forum_canary_stalled`] != 0 {
		t.Error("stalled while the canary comes back")
	}
	docs := canaries(t, db.Database)
	if len(docs) != 1 || !strings.HasPrefix(docs[0]["_id"].(string), "canary:") {
		t.Fatalf("canary documents: %v", docs)
	}

	// The listener of notifications got nothing for the canaries.
	select {
	case e := <-c.frames:
		if e.HasData {
			t.Fatalf("a canary reached a listener: %s %s", e.Event, e.Data)
		}
	default:
	}
	if n, err := store.UnreadCount(t.Context(), u.ID); err != nil || n != 0 {
		t.Fatalf("unread with canaries about: %d, %v", n, err)
	}
	if ns, err := store.Notifications(t.Context(), u.ID); err != nil || len(ns) != 0 {
		t.Fatalf("notifications with canaries about: %v, %v", ns, err)
	}

	s.stop()
	if docs := canaries(t, db.Database); len(docs) != 0 {
		t.Fatalf("canary left behind: %v", docs)
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("canaries made the hub complain:\n%s", logs.String())
	}
}

func TestStalledNotificationsStreamIsNotReady(t *testing.T) {
	db, store := newDB(t)
	sdb := &stallDB{IDatabase: db.Database}
	var logs logBuffer
	const interval = 50 * time.Millisecond
	s := startHubLogged(t, sdb, store, streams.Options{
		History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour, CanaryInterval: interval,
	}, httptest.NewUnstartedServer(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	eventually(t, "canary back", func() bool { return scrape(t, s.hub)[`forum_canary_roundtrip_seconds`] > 0 })
	eventually(t, "ready", func() bool { return s.hub.Ready() == nil })

	sdb.stall()
	eventually(t, "stall found", func() bool { return s.hub.Ready() != nil })
	if err := s.hub.Ready(); !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), "notifications") {
		t.Fatalf("Ready: %v, want it to name the stalled notifications stream", err)
	}
	if v := scrape(t, s.hub)[`forum_canary_stalled`]; v != 1 {
		t.Fatalf("forum_canary_stalled = %v while stalled", v)
	}
	time.Sleep(5 * interval)
	if n := strings.Count(logs.String(), "change stream stalled"); n != 1 {
		t.Fatalf("stall logged %d times, want once:\n%s", n, logs.String())
	}

	sdb.release()
	eventually(t, "recovered", func() bool { return s.hub.Ready() == nil })
	if v := scrape(t, s.hub)[`forum_canary_stalled`]; v != 0 {
		t.Fatalf("forum_canary_stalled = %v after recovery", v)
	}
	logs.logged(t, "change stream recovered")
}
