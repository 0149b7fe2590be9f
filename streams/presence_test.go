package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/streams"
	"forum/streams/ssetest"
)

// brisk are options under which presence moves fast, for tests that wait
// for it.
var brisk = streams.Options{
	History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour,
	PresenceInterval: 100 * time.Millisecond, OnlineInterval: 200 * time.Millisecond,
	PresenceExpiry: 3 * time.Second, TypingTimeout: time.Minute,
}

// presenceEvent is the data of a presence event.
type presenceEvent struct {
	PostID   string   `json:"postId"`
	Viewers  int      `json:"viewers"`
	Replying []string `json:"replying"`
}

// onlineEvent is the data of an online event.
type onlineEvent struct {
	Users  int `json:"users"`
	Guests int `json:"guests"`
}

// connectAs opens a stream of topics as the signed-in user, or as a guest
// if user is zero.
func connectAs(t *testing.T, s *server, user primitive.ObjectID, topics ...string) *client {
	t.Helper()
	q := url.Values{"topic": topics}
	if !user.IsZero() {
		q.Set("user", user.Hex())
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/events?"+q.Encode(), nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return follow(t, resp, cancel)
}

// state waits for a state event of c called name whose data, decoded into
// v, satisfies ok, and fails if one carries an id.
func state[T any](t *testing.T, c *client, name, what string, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(wait)
	var last T
	for {
		select {
		case e, open := <-c.states:
			if !open {
				t.Fatalf("stream ended waiting for %s: %v", what, c.err)
			}
			if e.HasID {
				t.Fatalf("%s event with id %q: presence is state, not history", e.Event, e.ID)
			}
			if e.Event != name {
				continue
			}
			last = decodeState[T](t, e)
			if ok(last) {
				return last
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s; last %+v", what, last)
		}
	}
}

func decodeState[T any](t *testing.T, e ssetest.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(e.Data), &v); err != nil {
		t.Fatalf("%s data %q: %v", e.Event, e.Data, err)
	}
	return v
}

// reading waits until c is told that viewers read p and replying reply.
func reading(t *testing.T, c *client, p *forum.Post, viewers int, replying ...string) {
	t.Helper()
	want := presenceEvent{PostID: p.ID.Hex(), Viewers: viewers, Replying: append([]string{}, replying...)}
	state(t, c, streams.EventPresence, "presence "+strings.Join(replying, ","), func(got presenceEvent) bool {
		return got.PostID == want.PostID && got.Viewers == want.Viewers && slices.Equal(got.Replying, want.Replying)
	})
}

// readingAndOnline waits until the last presence of p that c got says
// viewers and replying and the last online event says online: they come in
// either order, and waiting for one with state would pass over the other.
func readingAndOnline(t *testing.T, c *client, p *forum.Post, viewers int, replying []string, online onlineEvent) {
	t.Helper()
	want := presenceEvent{PostID: p.ID.Hex(), Viewers: viewers, Replying: append([]string{}, replying...)}
	timeout := time.After(wait)
	var pres presenceEvent
	var on onlineEvent
	for {
		select {
		case e, open := <-c.states:
			if !open {
				t.Fatalf("stream ended waiting for presence %+v and online %+v: %v", want, online, c.err)
			}
			switch e.Event {
			case streams.EventPresence:
				if got := decodeState[presenceEvent](t, e); got.PostID == want.PostID {
					pres = got
				}
			case streams.EventOnline:
				on = decodeState[onlineEvent](t, e)
			}
			if pres.Viewers == want.Viewers && slices.Equal(pres.Replying, want.Replying) && pres.PostID == want.PostID && on == online {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for presence %+v and online %+v; last %+v and %+v", want, online, pres, on)
		}
	}
}

func TestPresenceCountsReadersAndReplyingAcrossInstances(t *testing.T) {
	t.Parallel()
	db, store := newDB(t)
	a := startHub(t, db.Database, store, brisk)
	b := startHub(t, db.Database, store, brisk)
	us := users(t, store, "ann", "ben")
	ann, ben := us[0], us[1]
	p := post(t, store, ann, "Thread")
	topic := streams.CommentsTopic(p.ID)

	onA := connectAs(t, a, ann.ID, topic)
	reading(t, onA, p, 1)
	onB := connectAs(t, b, primitive.NilObjectID, topic)
	reading(t, onB, p, 2)
	reading(t, onA, p, 2)

	a.hub.Typing(p.ID, ann.ID, ann.Name)
	reading(t, onB, p, 2, "ann")
	b.hub.Typing(p.ID, ben.ID, ben.Name)
	a.hub.Typing(p.ID, ann.ID, ann.Name) // still typing: she keeps her place
	reading(t, onA, p, 2, "ann", "ben")
	reading(t, onB, p, 2, "ann", "ben")

	// Her comment, as the comments change stream shows it, ends her reply
	// on both instances long before the typing timeout.
	comment(t, store, ann, p, "Done")
	reading(t, onA, p, 2, "ben")
	reading(t, onB, p, 2, "ben")

	onB.close()
	reading(t, onA, p, 1, "ben")
}

func TestReplyingEndsAfterTheTypingTimeout(t *testing.T) {
	t.Parallel()
	db, store := newDB(t)
	opts := brisk
	opts.TypingTimeout = time.Second
	a := startHub(t, db.Database, store, opts)
	b := startHub(t, db.Database, store, opts)
	ann := users(t, store, "ann")[0]
	p := post(t, store, ann, "Thread")
	onB := connectAs(t, b, primitive.NilObjectID, streams.CommentsTopic(p.ID))
	reading(t, onB, p, 1)

	started := time.Now()
	a.hub.Typing(p.ID, ann.ID, ann.Name)
	reading(t, onB, p, 1, "ann")
	reading(t, onB, p, 1)
	if d := time.Since(started); d < opts.TypingTimeout {
		t.Fatalf("ann stopped replying %v after her signal, before the timeout of %v", d, opts.TypingTimeout)
	}
}

func TestOnlineCountsDistinctUsersAndGuestsAcrossInstances(t *testing.T) {
	t.Parallel()
	db, store := newDB(t)
	a := startHub(t, db.Database, store, brisk)
	b := startHub(t, db.Database, store, brisk)
	ann := users(t, store, "ann")[0]
	p := post(t, store, ann, "Thread")

	onA := connectAs(t, a, ann.ID, streams.PostsTopic)
	state(t, onA, streams.EventOnline, "ann online", func(o onlineEvent) bool { return o == onlineEvent{Users: 1} })
	// Ann in a second tab on the other instance is still one user.
	connectAs(t, b, ann.ID, streams.CommentsTopic(p.ID))
	guest := connectAs(t, b, primitive.NilObjectID, streams.PostsTopic)
	want := onlineEvent{Users: 1, Guests: 1}
	state(t, guest, streams.EventOnline, "ann and a guest", func(o onlineEvent) bool { return o == want })
	state(t, onA, streams.EventOnline, "ann and a guest", func(o onlineEvent) bool { return o == want })

	guest.close()
	state(t, onA, streams.EventOnline, "the guest gone", func(o onlineEvent) bool { return o == onlineEvent{Users: 1} })
}

func TestStoppedInstancesPresenceIsGone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// cut makes the instance unable to write before it stops, so that
		// it cannot withdraw its entries: they must expire.
		cut bool
	}{
		{"stopped cleanly", false},
		{"cut off, then stopped", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, store := newDB(t)
			opts := brisk
			opts.PresenceExpiry = 2 * time.Second
			a := startHub(t, db.Database, store, opts)
			cdb := newCountingDB(db.Database)
			b := startHub(t, cdb, store, opts)
			us := users(t, store, "ann", "ben")
			p := post(t, store, us[0], "Thread")
			topic := streams.CommentsTopic(p.ID)

			onA := connectAs(t, a, us[0].ID, topic, streams.PostsTopic)
			connectAs(t, b, us[1].ID, topic)
			connectAs(t, b, primitive.NilObjectID, streams.PostsTopic)
			b.hub.Typing(p.ID, us[1].ID, us[1].Name)
			readingAndOnline(t, onA, p, 2, []string{"ben"}, onlineEvent{Users: 2, Guests: 1})

			if tt.cut {
				cdb.cut.Store(true)
			}
			b.stop()
			readingAndOnline(t, onA, p, 1, nil, onlineEvent{Users: 1})
		})
	}
}

func TestPresenceHasNoIDAndAResumingClientGetsItAtOnce(t *testing.T) {
	t.Parallel()
	db, store := newDB(t)
	s := startHub(t, db.Database, store, brisk)
	ann := users(t, store, "ann")[0]
	p := post(t, store, ann, "Thread")
	topic := streams.CommentsTopic(p.ID)

	first := connectAs(t, s, primitive.NilObjectID, topic)
	reading(t, first, p, 1)
	s.hub.Typing(p.ID, ann.ID, ann.Name)
	reading(t, first, p, 1, "ann")
	comment(t, store, ann, p, "Hello")
	e := first.expectPast(t, streams.EventComment)
	reading(t, first, p, 1)

	// Resuming after the comment, a client gets no presence of the past,
	// only the present one, itself counted.
	again := connect(t, s, []string{topic}, e.ID, false)
	got := state(t, again, streams.EventPresence, "current presence", func(presenceEvent) bool { return true })
	if got.Viewers != 2 || len(got.Replying) != 0 {
		t.Fatalf("resumed with presence %+v, want 2 reading and nobody replying", got)
	}
}

func TestPresenceWritesDependOnThreadsNotViewers(t *testing.T) {
	t.Parallel()
	db, store := newDB(t)
	cdb := newCountingDB(db.Database)
	opts := quiet
	opts.PresenceInterval = 500 * time.Millisecond
	s := startHub(t, cdb, store, opts)
	ann := users(t, store, "ann")[0]
	const threads, perThread = 2, 15
	var topics []string
	for range threads {
		topics = append(topics, streams.CommentsTopic(post(t, store, ann, "Thread").ID))
	}
	began := time.Now()
	var clients []*client
	for range perThread {
		for _, topic := range topics {
			clients = append(clients, connectAs(t, s, primitive.NilObjectID, topic))
		}
	}
	// Each thread's entry is written once its readers are counted...
	eventually(t, "every thread's entry written", func() bool { return cdb.threadWrites.Load() >= threads })
	for _, c := range clients {
		c.close()
	}
	// ...and deleted by the last write once they have all gone.
	eventually(t, "every thread's entry deleted", func() bool { return cdb.deletes.Load() == threads })
	elapsed := time.Since(began)
	intervals := int64(elapsed/opts.PresenceInterval) + 2
	if w := cdb.threadWrites.Load(); w > threads*intervals || w >= 2*threads*perThread {
		t.Fatalf("%d thread writes for %d joins and leaves on %d threads in %v: want at most %d, one per thread per interval",
			w, 2*threads*perThread, threads, elapsed, threads*intervals)
	}
}

// countingDB counts the writes of presence entries and can cut the
// presence collection off from writes.
type countingDB struct {
	lungo.IDatabase
	threadWrites atomic.Int64 // thread entries written or deleted
	deletes      atomic.Int64 // thread entries deleted
	cut          atomic.Bool  // writes of presence fail
}

func newCountingDB(db lungo.IDatabase) *countingDB {
	return &countingDB{IDatabase: db}
}

func (d *countingDB) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	c := d.IDatabase.Collection(name, opts...)
	if name != forum.PresenceCollection {
		return c
	}
	return &countingColl{ICollection: c, db: d}
}

type countingColl struct {
	lungo.ICollection
	db *countingDB
}

var errCut = errors.New("cut off")

func (c *countingColl) BulkWrite(ctx context.Context, models []mongo.WriteModel, opts ...*options.BulkWriteOptions) (*mongo.BulkWriteResult, error) {
	if c.db.cut.Load() {
		return nil, errCut
	}
	for _, m := range models {
		switch m := m.(type) {
		case *mongo.ReplaceOneModel:
			if isThreadEntry(m.Filter) {
				c.db.threadWrites.Add(1)
			}
		case *mongo.DeleteOneModel:
			c.db.threadWrites.Add(1)
			c.db.deletes.Add(1)
		}
	}
	return c.ICollection.BulkWrite(ctx, models, opts...)
}

func (c *countingColl) DeleteMany(ctx context.Context, filter any, opts ...*options.DeleteOptions) (*mongo.DeleteResult, error) {
	if c.db.cut.Load() {
		return nil, errCut
	}
	return c.ICollection.DeleteMany(ctx, filter, opts...)
}

// isThreadEntry reports whether a filter by _id picks a thread's entry
// rather than an instance's summary.
func isThreadEntry(filter any) bool {
	for _, e := range filter.(bson.D) {
		if id, ok := e.Value.(string); ok && e.Key == "_id" {
			return strings.Contains(id, "/")
		}
	}
	return false
}
