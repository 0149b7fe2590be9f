package streams_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forum/forum"
	"forum/forum/forumtest"
	"forum/streams"
)

// newMongoDB opens a fresh store through the MongoDB double, whatever
// FORUM_TEST_DOUBLE says: these tests are about MongoDB's behaviour.
func newMongoDB(t *testing.T) (*forum.DB, *forum.Store) {
	t.Helper()
	db, err := forum.OpenFile(t.Context(), filepath.Join(t.TempDir(), "forum.db"), testHistory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	db = forumtest.Wrap(db)
	store, err := forum.NewStore(t.Context(), db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	return db, store
}

// On MongoDB TryNext waits up to the max await time, so under steady
// writes it never returns false; the hub must still become ready, and send
// unread counts, without waiting for a quiet second.
func TestHubBecomesReadyUnderSteadyWritesOnMongoDB(t *testing.T) {
	db, store := newMongoDB(t)
	us := users(t, store, "alice", "bob")
	alice, bob := us[0], us[1]
	p := post(t, store, alice, "Busy thread")
	ctx, stop := context.WithCancel(t.Context())
	writes := make(chan struct{})
	go func() {
		defer close(writes)
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := store.CreatePost(context.Background(), bob, "Steady", "One more post"); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); <-writes }()
	opts := quiet
	opts.MaxAwait = time.Second
	s := startHub(t, db.Database, store, opts)
	c := connect(t, s, []string{streams.NotificationsTopic(alice.ID)}, "", false)
	expectUnread(t, c, 0)
	comment(t, store, bob, p, "Busy reply")
	c.expect(t, "notification")
	expectUnread(t, c, 1)
}

// The notifications of one comment are one insertMany, whose events share a
// cluster time on MongoDB 8: each must get its own id and reach its user,
// live and on resume.
func TestEventsSharingAClusterTimeEachArrive(t *testing.T) {
	db, store := newMongoDB(t)
	us := users(t, store, "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := us[0], us[1], us[2], us[3]
	p := post(t, store, alice, "Thread")
	comment(t, store, bob, p, "First")
	comment(t, store, carol, p, "Second")
	s := startHub(t, db.Database, store, quiet)
	topics := []string{streams.NotificationsTopic(alice.ID), streams.NotificationsTopic(bob.ID), streams.NotificationsTopic(carol.ID)}
	from := s.hub.LastEventID()
	live := connect(t, s, topics, from, false)

	comment(t, store, dave, p, "Third")
	ids := map[string]bool{}
	for len(ids) < 3 {
		e := live.event(t)
		if e.Event != "notification" {
			continue
		}
		if !strings.Contains(e.Data, "dave commented") || ids[e.ID] {
			t.Fatalf("notification %s with id %s (seen %v)", e.Data, e.ID, ids[e.ID])
		}
		ids[e.ID] = true
	}
	// The notifications part of each id is the event's own position: the
	// same live and resumed, and distinct for each event of the group.
	own := func(id string) string { return strings.Split(id, ".")[2] }
	parts := map[string]bool{}
	for id := range ids {
		parts[own(id)] = true
	}
	if len(parts) != 3 {
		t.Fatalf("ids %v share a notifications part", ids)
	}
	resumed := connect(t, s, topics, from, false)
	for n := 0; n < 3; {
		if e := resumed.event(t); e.Event == "notification" {
			if !parts[own(e.ID)] {
				t.Fatalf("resumed with notification %s id %s, not one of %v", e.Data, e.ID, ids)
			}
			delete(parts, own(e.ID))
			n++
		}
	}
}

// After a quiet spell MongoDB's post-batch resume token has moved on past
// the last change: a stream that breaks then must resume from that token,
// not from its last change's, which could be hours old (a long oplog scan,
// or a history-lost reset of every client), and still lose nothing.
func TestStreamResumesFromItsFreshTokenAfterAQuietSpell(t *testing.T) {
	db, store := newMongoDB(t)
	fdb := newFaultyDB(db.Database)
	opts := quiet
	opts.MaxAwait = 200 * time.Millisecond
	s := startHub(t, fdb, store, opts)
	alice := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	post(t, store, alice, "Before the quiet spell")
	c.expect(t, "post")
	last, ok := forumtest.ClusterTime(fdb.token(forum.PostsCollection))
	if !ok {
		t.Fatal("the posts stream has no resume token of the double")
	}
	eventually(t, "the posts stream's token moves on while the collection is quiet", func() bool {
		ct, ok := forumtest.ClusterTime(fdb.token(forum.PostsCollection))
		return ok && ct.T >= last.T+2
	})

	fdb.breakStream(forum.PostsCollection, errors.New("connection reset"), false)
	after := post(t, store, alice, "After the quiet spell")
	e := c.expect(t, "post")
	if got := fields(t, e)["id"]; got != after.ID.Hex() {
		t.Fatalf("after the break: got post %v, want %s", got, after.ID.Hex())
	}
	resumed, ok := forumtest.ClusterTime(fdb.resumedAfter(forum.PostsCollection))
	if !ok {
		t.Fatal("the posts stream did not resume after a token")
	}
	if resumed.T < last.T+2 {
		t.Errorf("resumed after a token of cluster time %v, the last change's (%v), not the fresh one", resumed, last)
	}
}
