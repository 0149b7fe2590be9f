package streams_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/streams"
	"forum/streams/streamstest"
)

// A collection whose change stream lags must not let a resume point pass
// its events: the client resumes from an id sent while the notifications
// stream was stalled, and gets the notification it never saw.
func TestLaggingCollectionNeverLetsAResumePointPassItsEvents(t *testing.T) {
	db, store := newDB(t)
	sdb := &streamstest.StallDB{IDatabase: db.Database}
	s := startHub(t, sdb, store, quiet)
	us := users(t, store, "alice", "bob")
	alice, bob := us[0], us[1]
	topics := []string{streams.PostsTopic, streams.NotificationsTopic(alice.ID)}
	c := connect(t, s, topics, "", false)
	c.expect(t, "unread")
	p := post(t, store, alice, "Thread")
	titles(t, c, 1)

	sdb.Stall()
	comment(t, store, bob, p, "A reply alice has not seen")
	post(t, store, bob, "After")
	_, id := titles(t, c, 1)
	c.close()
	sdb.Release()

	resumed := connect(t, s, topics, id, false)
	for {
		e := resumed.event(t)
		if e.Event == "notification" {
			if !strings.Contains(e.Data, "bob commented") {
				t.Fatalf("notification %s, want bob's comment", e.Data)
			}
			return
		}
		if e.Event != "unread" {
			t.Fatalf("resumed with %q (%s) before the notification", e.Event, e.Data)
		}
	}
}

func TestHistoryBoundedByCountResetsOlderIDs(t *testing.T) {
	db, store := newDB(t)
	opts := quiet
	opts.HistoryEvents = 2
	s := startHub(t, db.Database, store, opts)
	u := users(t, store, "alice")[0]
	observer := connect(t, s, []string{streams.PostsTopic}, "", false)
	from := s.hub.LastEventID()
	post(t, store, u, "A")
	_, afterA := titles(t, observer, 1)
	post(t, store, u, "B")
	post(t, store, u, "C")
	titles(t, observer, 2)

	old := connect(t, s, []string{streams.PostsTopic}, from, false)
	if e := old.expect(t, "reset"); fields(t, e)["reason"] != "expired id" {
		t.Fatalf("resuming from before the kept events: %s", e.Data)
	}
	kept := connect(t, s, []string{streams.PostsTopic}, afterA, false)
	if got, _ := titles(t, kept, 2); strings.Join(got, ",") != "B,C" {
		t.Fatalf("resumed within the kept events with %v, want B, C", got)
	}
}

// An instance whose change stream stalls sends its streams away with a
// jittered retry and refuses new ones, so that clients go to a healthy
// instance, and takes them again once it recovers.
func TestUnhealthyInstanceSendsItsStreamsAway(t *testing.T) {
	db, store := newDB(t)
	sdb := &streamstest.StallDB{IDatabase: db.Database}
	opts := quiet
	opts.CanaryInterval = 50 * time.Millisecond
	s := startHubOn(t, sdb, store, opts, httptest.NewUnstartedServer(nil))
	eventually(t, "ready", func() bool { return s.hub.Ready() == nil })
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	c.next(t)

	sdb.Stall()
	if frames := c.ended(t); len(frames) == 0 || !frames[len(frames)-1].HasRetry {
		t.Fatalf("stalled instance ended a stream with %+v, want a retry", frames)
	}
	refused := connect(t, s, []string{streams.PostsTopic}, "", false)
	if frames := refused.ended(t); len(frames) != 1 || !frames[0].HasRetry || frames[0].Retry < 2*time.Second {
		t.Fatalf("stalled instance answered a new stream with %+v, want only a retry of 2 s or more", frames)
	}

	sdb.Release()
	eventually(t, "ready again", func() bool { return s.hub.Ready() == nil })
	u := users(t, store, "alice")[0]
	back := connect(t, s, []string{streams.PostsTopic}, "", false)
	post(t, store, u, "Back")
	if got, _ := titles(t, back, 1); got[0] != "Back" {
		t.Fatalf("after recovery got %v", got)
	}
}

// Dropping a watched collection invalidates its change stream on MongoDB:
// its listeners are told to reload, and its events go on after it.
func TestDroppedCollectionResetsItsListenersAndGoesOn(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	post(t, store, u, "Before")
	titles(t, c, 1)

	if err := db.Database.Collection("posts").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e := c.expect(t, "reset"); fields(t, e)["reason"] != "history lost" {
		t.Fatalf("after the drop: %s", e.Data)
	}
	eventually(t, "ready", func() bool { return s.hub.Ready() == nil })
	post(t, store, u, "After")
	if got, _ := titles(t, c, 1); got[0] != "After" {
		t.Fatalf("after the drop got %v, want After", got)
	}
}

// The embedded store keeps a bounded oplog and starts a change stream at
// its oldest change when asked for an earlier one: the history then starts
// there, and an id from before it gets a reset instead of a silent gap.
func TestHistoryStartsNoEarlierThanTheOplog(t *testing.T) {
	db, store := newDB(t)
	opts := quiet
	opts.OplogStart = primitive.Timestamp{T: uint32(time.Now().Unix())}
	s := startHub(t, db.Database, store, opts)
	c := connect(t, s, []string{streams.PostsTopic}, idAt(time.Now().Add(-10*time.Second)), false)
	if e := c.expect(t, "reset"); fields(t, e)["reason"] != "expired id" {
		t.Fatalf("resuming from before the oplog: %s", e.Data)
	}
}
