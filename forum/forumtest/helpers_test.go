package forumtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum/forumtest"
)

// wait bounds every wait for something that should happen.
const wait = 10 * time.Second

// maxAwait is the short max-await the tests' streams use.
const maxAwait = 200 * time.Millisecond

// newStore opens a lungo memory store and returns its plain client.
func newStore(t *testing.T, opts lungo.Options) lungo.IClient {
	t.Helper()
	opts.Store = lungo.NewMemoryStore()
	c, engine, err := lungo.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	return c
}

// newDB returns a database of the double on a fresh store.
func newDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	return forumtest.WrapClient(newStore(t, lungo.Options{})).Database("test")
}

// watch opens a change stream on c that is closed when the test ends.
func watch(t *testing.T, c interface {
	Watch(context.Context, any, ...*options.ChangeStreamOptions) (lungo.IChangeStream, error)
}, opts ...*options.ChangeStreamOptions) lungo.IChangeStream {
	t.Helper()
	opts = append([]*options.ChangeStreamOptions{options.ChangeStream().SetMaxAwaitTime(maxAwait)}, opts...)
	cs, err := c.Watch(context.Background(), mongo.Pipeline{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(context.Background()) })
	return cs
}

// event is what the tests read of a change event.
type event struct {
	ID          bson.Raw            `bson:"_id"`
	Op          string              `bson:"operationType"`
	ClusterTime primitive.Timestamp `bson:"clusterTime"`
	Key         struct {
		ID any `bson:"_id"`
	} `bson:"documentKey"`
	Raw bson.Raw `bson:"-"`
}

// next returns the next event of cs, failing the test if none comes.
func next(t *testing.T, cs lungo.IChangeStream) event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !cs.Next(ctx) {
		t.Fatalf("no event: %v", cs.Err())
	}
	var e event
	if err := cs.Decode(&e); err != nil {
		t.Fatal(err)
	}
	if err := cs.Decode(&e.Raw); err != nil {
		t.Fatal(err)
	}
	return e
}

// insert inserts docs one by one.
func insert(t *testing.T, c lungo.ICollection, docs ...any) {
	t.Helper()
	for _, d := range docs {
		if _, err := c.InsertOne(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}
