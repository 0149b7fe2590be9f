package forumtest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum/forumtest"
)

func TestResumeTokensAreOpaqueAndPortable(t *testing.T) {
	t.Parallel()
	raw := newStore(t, lungo.Options{})
	a := forumtest.WrapClient(raw).Database("test").Collection("c")
	b := forumtest.WrapClient(raw).Database("test").Collection("c")
	cs := watch(t, a)
	insert(t, a, bson.M{"n": 1}, bson.M{"n": 2})
	e := next(t, cs)
	elems, err := e.ID.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "_data" || elems[0].Value().Type != bson.TypeString {
		t.Fatalf("resume token %s: want {_data: <string>}", e.ID)
	}
	for _, o := range []*options.ChangeStreamOptions{
		options.ChangeStream().SetResumeAfter(e.ID),
		options.ChangeStream().SetStartAfter(e.ID),
	} {
		resumed := watch(t, b, o)
		var doc struct {
			Full struct {
				N int `bson:"n"`
			} `bson:"fullDocument"`
		}
		if err := bson.Unmarshal(next(t, resumed).Raw, &doc); err != nil || doc.Full.N != 2 {
			t.Fatalf("resumed on another double: got n=%d (%v), want 2", doc.Full.N, err)
		}
	}
}

func TestPostBatchResumeTokenAdvancesWhileIdle(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c, other := db.Collection("c"), db.Collection("other")
	cs := watch(t, c)
	before := cs.ResumeToken()
	if before == nil {
		t.Fatal("no resume token right after Watch")
	}
	insert(t, other, bson.M{"n": 1})
	if cs.TryNext(context.Background()) {
		t.Fatal("event of another collection")
	}
	idle := cs.ResumeToken()
	if bytes.Equal(idle, before) {
		t.Fatalf("resume token stayed %s over another collection's write", idle)
	}
	insert(t, c, bson.M{"n": 2})
	insert(t, other, bson.M{"n": 3})
	insert(t, c, bson.M{"n": 4})
	resumed := watch(t, c, options.ChangeStream().SetResumeAfter(idle))
	for _, want := range []int{2, 4} {
		var doc struct {
			Full struct {
				N int `bson:"n"`
			} `bson:"fullDocument"`
		}
		if err := bson.Unmarshal(next(t, resumed).Raw, &doc); err != nil || doc.Full.N != want {
			t.Fatalf("resumed after the idle token: got n=%d (%v), want %d", doc.Full.N, err, want)
		}
	}
	if resumed.TryNext(context.Background()) {
		t.Fatal("resumed stream has more than the events after the token")
	}
}

func TestDropInvalidatesStream(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	c := db.Collection("c")
	onColl, onDB := watch(t, c), watch(t, db)
	insert(t, c, bson.M{"n": 1})
	if err := db.Drop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cs   lungo.IChangeStream
		want []string
	}{
		"collection": {onColl, []string{"insert", "drop", "invalidate"}},
		"database":   {onDB, []string{"insert", "drop", "dropDatabase", "invalidate"}},
	} {
		for _, want := range tc.want {
			if e := next(t, tc.cs); e.Op != want {
				t.Fatalf("%s stream: got %s, want %s", name, e.Op, want)
			}
		}
		if tc.cs.TryNext(context.Background()) || tc.cs.Next(context.Background()) || tc.cs.Err() != nil {
			t.Fatalf("%s stream went on after its invalidate (Err %v)", name, tc.cs.Err())
		}
	}
}

func TestResumeAfterInvalidateFails260(t *testing.T) {
	t.Parallel()
	c := newDB(t).Collection("c")
	cs := watch(t, c)
	insert(t, c, bson.M{"n": 1})
	if err := c.Drop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var inv event
	for inv.Op != "invalidate" {
		inv = next(t, cs)
	}
	_, err := c.Watch(context.Background(), mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(inv.ID))
	var ce mongo.CommandError
	if !errors.As(err, &ce) || ce.Code != 260 {
		t.Fatalf("resumeAfter an invalidate: got %v, want CommandError 260", err)
	}
	insert(t, c, bson.M{"n": 2})
	after := watch(t, c, options.ChangeStream().SetStartAfter(inv.ID))
	var doc struct {
		Full struct {
			N int `bson:"n"`
		} `bson:"fullDocument"`
	}
	if err := bson.Unmarshal(next(t, after).Raw, &doc); err != nil || doc.Full.N != 2 {
		t.Fatalf("startAfter the invalidate: got n=%d (%v), want 2", doc.Full.N, err)
	}
}

func TestLostHistoryFails286(t *testing.T) {
	t.Parallel()
	db := forumtest.WrapClient(newStore(t, lungo.Options{
		MinOplogSize: 1, MaxOplogSize: 2, MinOplogAge: time.Nanosecond, MaxOplogAge: time.Nanosecond,
	})).Database("test")
	c := db.Collection("c")
	cs := watch(t, c)
	insert(t, c, bson.M{"n": 0})
	old := next(t, cs)
	// lungo trims whole seconds only: write until the oldest event is gone.
	deadline := time.Now().Add(wait)
	for {
		insert(t, c, bson.M{"n": 1})
		_, err := c.Watch(context.Background(), mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(old.ID))
		var se mongo.ServerError
		if errors.As(err, &se) && se.HasErrorCode(286) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("resume after a trimmed event: got %v, want code 286", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cs.Next(context.Background()) {
		t.Fatal("stream whose position was trimmed went on")
	}
	var se mongo.ServerError
	if err := cs.Err(); !errors.As(err, &se) || !se.HasErrorCode(286) {
		t.Fatalf("iterating past trimmed history: got %v, want code 286", err)
	}
}
