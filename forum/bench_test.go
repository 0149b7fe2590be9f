package forum_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

// BenchmarkCreatePost measures the embedded store's write rate with 0, 1,000
// and 10,000 posts already stored: lungo's file store rewrites its whole file
// on every commit, so the rate falls as the data grows.
func BenchmarkCreatePost(b *testing.B) {
	for _, stored := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			ctx := context.Background()
			db, err := forum.OpenFile(ctx, filepath.Join(b.TempDir(), "forum.db"), 15*time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close(ctx)
			s, err := forum.NewStore(ctx, db.Database, nil)
			if err != nil {
				b.Fatal(err)
			}
			u, err := s.Register(ctx, "bench", "password123")
			if err != nil {
				b.Fatal(err)
			}
			body := strings.Repeat("A realistic post body of a few sentences. ", 8)
			docs := make([]any, stored)
			for i := range docs {
				docs[i] = &forum.Post{ID: primitive.NewObjectID(), Title: fmt.Sprintf("Stored %d", i), Body: body, Author: u.Name, AuthorID: u.ID, CreatedAt: time.Now().UTC()}
			}
			if stored > 0 {
				if _, err := db.Database.Collection(forum.PostsCollection).InsertMany(ctx, docs); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				if _, err := s.CreatePost(ctx, u, fmt.Sprintf("Post %d", i), body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		})
	}
}
