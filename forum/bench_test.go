package forum_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
)

// benchWrites is how many posts or comments each measurement writes, so that
// p50 and p99 mean something even at -benchtime 1x.
const benchWrites = 200

// benchSizes are the stored posts the store benchmarks run at, each with
// three comments on average; 100,000 takes minutes and is opt-in.
func benchSizes() []int {
	if os.Getenv("FORUM_BENCH_LARGE") != "" {
		return []int{0, 10000, 100000}
	}
	return []int{0, 10000}
}

// BenchmarkStore measures writes per second and their p50 and p99 latency,
// for posts and for comments (with their notifications), on lungo's memory
// store and on the journal store, with the data already stored; and, for the
// journal store, the time to open it, the process's RSS once open and the
// sizes of its files.
func BenchmarkStore(b *testing.B) {
	for _, stored := range benchSizes() {
		b.Run(fmt.Sprintf("posts=%d", stored), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "forum.db")
			buildStore(b, path, stored)
			for _, kind := range []string{"memory", "file"} {
				b.Run("store="+kind, func(b *testing.B) {
					ctx := context.Background()
					start := time.Now()
					var db *forum.DB
					var err error
					if kind == "file" {
						db, err = forum.OpenFile(ctx, path, 15*time.Minute)
					} else {
						db, err = forum.OpenMemory(ctx, path, 15*time.Minute, forum.DefaultMaxOplog, 0)
					}
					if err != nil {
						b.Fatal(err)
					}
					opened := time.Since(start)
					defer db.Close(ctx)
					s, err := forum.NewStore(ctx, db.Database)
					if err != nil {
						b.Fatal(err)
					}
					rss := rssMB(b)
					u, err := s.Authenticate(ctx, "bench", "password123")
					if err != nil {
						b.Fatal(err)
					}
					others := []*forum.User{}
					for _, name := range []string{"bench2", "bench3"} {
						o, err := s.Authenticate(ctx, name, "password123")
						if err != nil {
							b.Fatal(err)
						}
						others = append(others, o)
					}
					posts := postIDs(b, db, 1000)
					body := strings.Repeat("A realistic post body of a few sentences. ", 8)
					b.Run("op=post", func(b *testing.B) {
						for b.Loop() {
							lat := measure(b, func(i int) error {
								_, err := s.CreatePost(ctx, u, fmt.Sprintf("Post %d", i), body)
								return err
							})
							report(b, lat, "posts/s")
						}
						if kind == "file" {
							b.ReportMetric(opened.Seconds(), "open-s")
							b.ReportMetric(rss, "rss-MB")
						}
					})
					b.Run("op=comment", func(b *testing.B) {
						if len(posts) == 0 {
							p, err := s.CreatePost(ctx, u, "A post to comment on", body)
							if err != nil {
								b.Fatal(err)
							}
							posts = append(posts, p.ID)
						}
						r := rand.New(rand.NewPCG(3, 4))
						for b.Loop() {
							lat := measure(b, func(i int) error {
								by := others[r.IntN(len(others))]
								_, err := s.CreateComment(ctx, by, posts[r.IntN(len(posts))], "A reply of a sentence or two, like most are.")
								return err
							})
							report(b, lat, "comments/s")
						}
						if kind == "file" {
							b.ReportMetric(fileMB(b, path+".journal"), "journal-MB")
							b.ReportMetric(fileMB(b, path), "snapshot-MB")
						}
					})
				})
			}
		})
	}
}

// BenchmarkOplog measures what the size of the oplog costs a write on lungo's
// memory store, which copies the oplog on every write.
func BenchmarkOplog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "forum.db")
	buildStore(b, path, 0)
	sizes := []int{1000, 2000, 10000}
	if os.Getenv("FORUM_BENCH_LARGE") != "" {
		sizes = append(sizes, 100000)
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("oplog=%d", size), func(b *testing.B) {
			ctx := context.Background()
			db, err := forum.OpenMemory(ctx, path, time.Hour, size, size)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close(ctx)
			benchInserts(b, db)
		})
	}
}

// BenchmarkCollectionGrowth measures lungo's own cost per insert as a
// collection grows: it copies the collection's document list and id index
// on every write, so an insert costs O(documents).
func BenchmarkCollectionGrowth(b *testing.B) {
	sizes := []int{0, 10000, 100000}
	if os.Getenv("FORUM_BENCH_LARGE") != "" {
		sizes = append(sizes, 400000)
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("docs=%d", size), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "forum.db")
			l, err := forum.OpenLoader(path)
			if err != nil {
				b.Fatal(err)
			}
			for i := range size {
				if err := l.Insert("things", bson.M{"_id": primitive.NewObjectID(), "n": i}); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			db, err := forum.OpenMemory(ctx, path, time.Hour, forum.DefaultMaxOplog, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close(ctx)
			benchInserts(b, db)
		})
	}
}

// buildStore writes a store at path with three users and stored posts with
// three comments each on average, each comment notifying the post's author.
func buildStore(b *testing.B, path string, stored int) {
	b.Helper()
	ctx := context.Background()
	db, err := forum.OpenFile(ctx, path, 15*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	s, err := forum.NewStore(ctx, db.Database)
	if err != nil {
		b.Fatal(err)
	}
	var users []*forum.User
	for _, name := range []string{"bench", "bench2", "bench3"} {
		u, err := s.Register(ctx, name, "password123")
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
	}
	if err := db.Close(ctx); err != nil {
		b.Fatal(err)
	}
	l, err := forum.OpenLoader(path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := rand.New(rand.NewPCG(1, 2))
	body := strings.Repeat("A realistic post body of a few sentences. ", 8)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Duration(stored) * time.Second)
	for i := range stored {
		author := users[r.IntN(len(users))]
		at = at.Add(time.Millisecond)
		p := &forum.Post{ID: primitive.NewObjectID(), Title: "Stored post " + strconv.Itoa(i), Body: body, Author: author.Name, AuthorID: author.ID, CreatedAt: at}
		var docs, notes []any
		for range r.IntN(7) {
			by := users[r.IntN(len(users))]
			c := &forum.Comment{ID: primitive.NewObjectID(), PostID: p.ID, Body: "A reply of a sentence or two, like most are.", Author: by.Name, AuthorID: by.ID, CreatedAt: at}
			docs = append(docs, c)
			if by.ID != author.ID {
				notes = append(notes, &forum.Notification{ID: primitive.NewObjectID(), UserID: author.ID, Kind: forum.NotificationComment, PostID: p.ID, CommentID: c.ID, Actor: by.Name, Message: by.Name + " commented on “" + p.Title + "”", CreatedAt: at})
			}
			p.Comments++
		}
		if err := l.Insert(forum.PostsCollection, p); err != nil {
			b.Fatal(err)
		}
		if err := l.Insert(forum.CommentsCollection, docs...); err != nil {
			b.Fatal(err)
		}
		if err := l.Insert(forum.NotificationsCollection, notes...); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// postIDs returns the ids of up to n of the newest posts.
func postIDs(b *testing.B, db *forum.DB, n int) []primitive.ObjectID {
	b.Helper()
	ctx := context.Background()
	cur, err := db.Database.Collection(forum.PostsCollection).Find(ctx, bson.M{}, options.Find().SetLimit(int64(n)).SetProjection(bson.M{"_id": 1}))
	if err != nil {
		b.Fatal(err)
	}
	var rows []struct {
		ID primitive.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		b.Fatal(err)
	}
	ids := make([]primitive.ObjectID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// measure runs write benchWrites times and returns each latency.
func measure(b *testing.B, write func(i int) error) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, benchWrites)
	for i := range lat {
		start := time.Now()
		if err := write(i); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(start)
	}
	return lat
}

// report reports the rate and the p50 and p99 latencies of lat.
func report(b *testing.B, lat []time.Duration, unit string) {
	b.Helper()
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/total.Seconds(), unit)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// rssMB returns the process's resident set after returning free memory to
// the system, which includes what earlier benchmarks left behind.
func rssMB(b *testing.B) float64 {
	b.Helper()
	debug.FreeOSMemory()
	buf, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(buf), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func fileMB(b *testing.B, path string) float64 {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}

// benchInserts reports the rate and latency of single inserts into db.
func benchInserts(b *testing.B, db *forum.DB) {
	ctx := context.Background()
	coll := db.Database.Collection("things")
	for b.Loop() {
		lat := measure(b, func(i int) error {
			_, err := coll.InsertOne(ctx, bson.M{"n": i})
			return err
		})
		report(b, lat, "writes/s")
	}
}
