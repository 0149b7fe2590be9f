package streams

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/views"
)

// BenchmarkPostEvent builds a post's event data once, as every change is:
// its JSON and its templ HTML.
func BenchmarkPostEvent(b *testing.B) {
	p := &forum.Post{ID: primitive.NewObjectID(), Title: "A title", Body: strings.Repeat("words and more words ", 50), Author: "alice", CreatedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventData(context.Background(), p, views.PostCard(p)); err != nil {
			b.Fatal(err)
		}
	}
}
