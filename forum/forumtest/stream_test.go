package forumtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

func TestTryNextWaitsForMaxAwaitTime(t *testing.T) {
	t.Parallel()
	c := newDB(t).Collection("c")
	cs := watch(t, c)
	began := time.Now()
	if cs.TryNext(context.Background()) {
		t.Fatal("TryNext found an event in an empty collection")
	}
	if took := time.Since(began); took < maxAwait*3/4 {
		t.Fatalf("empty TryNext took %s, want about the max-await %s", took, maxAwait)
	}
	if err := cs.Err(); err != nil {
		t.Fatalf("Err after an empty TryNext: %v", err)
	}

	insert(t, c, bson.M{"n": 1}, bson.M{"n": 2}, bson.M{"n": 3})
	if !cs.TryNext(context.Background()) {
		t.Fatalf("TryNext after three inserts: false, %v", cs.Err())
	}
	if got := cs.RemainingBatchLength(); got != 2 {
		t.Fatalf("RemainingBatchLength after the first of three: got %d, want 2", got)
	}
	for range 2 {
		if !cs.TryNext(context.Background()) {
			t.Fatal("TryNext did not serve the rest of the batch")
		}
	}

	inserted := make(chan error, 1)
	go func() {
		_, err := c.InsertOne(context.Background(), bson.M{"n": 4})
		inserted <- err
	}()
	if e := next(t, cs); e.Op != "insert" {
		t.Fatalf("Next: got %s, want the insert", e.Op)
	}
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cs.Next(ctx) {
		t.Fatal("Next returned an event nobody wrote")
	}
	if err := cs.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after a cancelled Next: got %v, want context.Canceled", err)
	}
}
