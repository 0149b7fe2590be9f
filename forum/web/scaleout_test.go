package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInstancesOnOneStoreShareEventsAndResumePoints runs two forum
// instances, each with its own hub and change streams, on one store: the
// store is their only link, as MongoDB is between instances in production.
func TestInstancesOnOneStoreShareEventsAndResumePoints(t *testing.T) {
	db, store := newStore(t)
	a, stopA := startServer(t, db, store)
	b, _ := startServer(t, db, store)
	alice := newClient(t, a)
	alice.register("alice")
	onB := newClient(t, b)
	aliceOnB := newClient(t, b)
	aliceOnB.http.Jar = alice.http.Jar

	watchB := onB.stream("/stream/posts")
	watchA := newClient(t, a).stream("/stream/posts")
	alice.createPost("made on A", "b")
	eb, ea := watchB.nextOf(t, "post"), watchA.nextOf(t, "post")
	// An id's posts part, the event's own, is the same on every instance;
	// the other parts say how far each instance had read the others.
	own := func(id string) string { return strings.Split(id, ".")[0] }
	if !strings.Contains(eb.Data, "made on A") || own(eb.ID) != own(ea.ID) || eb.Data != ea.Data {
		t.Fatalf("instances disagree on one change:\nA %s %s\nB %s %s", ea.ID, ea.Data, eb.ID, eb.Data)
	}

	stopA()
	retry := false
	for e := range watchA.events {
		retry = retry || e.HasRetry
	}
	if !retry {
		t.Fatal("A's stream ended without a retry hint")
	}
	aliceOnB.createPost("made while A was down", "b")
	aliceOnB.createPost("and another", "b")
	resumed := aliceOnB.stream("/stream/posts", "Last-Event-ID", ea.ID)
	for _, want := range []string{"made while A was down", "and another"} {
		if e := resumed.nextOf(t, "post"); !strings.Contains(e.Data, want) {
			t.Fatalf("resumed on B: got %s, want %q", e.Data, want)
		}
	}
	aliceOnB.createPost("live on B", "b")
	if e := resumed.nextOf(t, "post"); !strings.Contains(e.Data, "live on B") {
		t.Fatalf("then live: got %s", e.Data)
	}
	if resp, body := aliceOnB.get("/api/posts"); resp.StatusCode != http.StatusOK || len(decodeList(t, body)) != 4 {
		t.Fatalf("posts on B: %d %s", resp.StatusCode, body)
	}
}
