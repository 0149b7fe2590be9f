package streams_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/streams"
	"forum/streams/streamstest"
)

// canaryGrace is how many intervals the hub gives the canary to come back.
const canaryGrace = 3

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
	var logs streamstest.LogBuffer
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
	if ns, err := store.Notifications(t.Context(), u.ID, forum.MaxPageSize, primitive.NilObjectID); err != nil || len(ns) != 0 {
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
	sdb := &streamstest.StallDB{IDatabase: db.Database}
	var logs streamstest.LogBuffer
	const interval = 50 * time.Millisecond
	s := startHubLogged(t, sdb, store, streams.Options{
		History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour, CanaryInterval: interval,
	}, httptest.NewUnstartedServer(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	eventually(t, "canary back", func() bool { return scrape(t, s.hub)[`forum_canary_roundtrip_seconds`] > 0 })
	eventually(t, "ready", func() bool { return s.hub.Ready() == nil })

	sdb.Stall()
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

	sdb.Release()
	eventually(t, "recovered", func() bool { return s.hub.Ready() == nil })
	if v := scrape(t, s.hub)[`forum_canary_stalled`]; v != 0 {
		t.Fatalf("forum_canary_stalled = %v after recovery", v)
	}
	logs.Logged(t, "change stream recovered")
}
