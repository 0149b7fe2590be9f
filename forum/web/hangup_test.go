package web_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

// TestCommentsSurviveClientsHangingUp posts comments from clients that hang
// up at random moments, many at once, and checks that every comment was
// applied fully or not at all: the post's count, its participants, the
// comments and their notifications agree.
func TestCommentsSurviveClientsHangingUp(t *testing.T) {
	db, store := newStore(t)
	srv, stop := startServer(t, db, store)
	author := newClient(t, srv)
	authorID := author.register("alice")
	postID := author.createPost("Hang-ups", "Comment and run.")["id"].(string)

	const commenters, perCommenter = 4, 15
	var sent, answered atomic.Int64
	var wg sync.WaitGroup
	for i := range commenters {
		c := newClient(t, srv)
		c.register("user" + string(rune('a'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perCommenter {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(20_000))*time.Microsecond)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/posts/"+postID+"/comments", bytes.NewReader([]byte(`{"body":"hi"}`)))
				req.Header.Set("Content-Type", "application/json")
				sent.Add(1)
				if resp, err := c.http.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated {
						answered.Add(1)
					}
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	// Closing the server waits for the handlers whose clients hung up.
	stop()

	ctx := context.Background()
	id, _ := forum.ParseID(postID)
	post, err := store.Post(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	comments, err := store.Comments(ctx, id, 0, forum.MaxPageSize) // commenters × perCommenter fit one page
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests, %d answered, %d comments stored", sent.Load(), answered.Load(), len(comments))
	if post.Comments != len(comments) {
		t.Errorf("post's comment count: got %d, stored comments %d", post.Comments, len(comments))
	}
	if int64(len(comments)) < answered.Load() {
		t.Errorf("stored comments: got %d, fewer than the %d answered", len(comments), answered.Load())
	}

	var raw struct {
		Participants []primitive.ObjectID `bson:"participants"`
	}
	if err := db.Database.Collection(forum.PostsCollection).FindOne(ctx, bson.M{"_id": id}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var want []primitive.ObjectID
	for _, c := range comments {
		if !slices.Contains(want, c.AuthorID) {
			want = append(want, c.AuthorID)
		}
	}
	if !sameSet(raw.Participants, want) {
		t.Errorf("participants: got %v, want the commenters %v", raw.Participants, want)
	}

	aliceID, _ := forum.ParseID(authorID)
	ns, err := store.Notifications(ctx, aliceID, forum.MaxPageSize, primitive.NilObjectID)
	if err != nil {
		t.Fatal(err)
	}
	notified := map[primitive.ObjectID]bool{}
	for _, n := range ns {
		notified[n.CommentID] = true
	}
	if len(notified) != len(comments) {
		t.Errorf("author's notifications: got %d distinct comments, want %d", len(notified), len(comments))
	}
	for _, c := range comments {
		if !notified[c.ID] {
			t.Errorf("comment %s: stored without its notification to the author", c.ID.Hex())
		}
	}
}

func sameSet(a, b []primitive.ObjectID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
