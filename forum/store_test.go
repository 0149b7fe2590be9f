package forum_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"

	"forum/forum"
	"forum/forum/forumtest"
)

// eachBackend runs fn against a fresh store on the embedded database, and on
// the MongoDB deployment named by MONGODB_URI when it is set.
func eachBackend(t *testing.T, fn func(t *testing.T, s *forum.Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) {
		fn(t, newStore(t, openFile(t, filepath.Join(t.TempDir(), "forum.db"))))
	})
	t.Run("mongodb", func(t *testing.T) {
		uri := os.Getenv("MONGODB_URI")
		if uri == "" {
			t.Skip("MONGODB_URI is not set: skipping the MongoDB back end (see README)")
		}
		ctx := context.Background()
		db, err := forum.Connect(ctx, uri, fmt.Sprintf("forum_test_%d", time.Now().UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			db.Database.Drop(ctx)
			db.Close(ctx)
		})
		fn(t, newStore(t, db))
	})
}

func openFile(t *testing.T, path string) *forum.DB {
	t.Helper()
	db, err := forum.OpenFile(context.Background(), path, 15*time.Minute)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db
}

func newStore(t *testing.T, db *forum.DB) *forum.Store {
	t.Helper()
	s, err := forum.NewStore(context.Background(), db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRegister(t *testing.T, s *forum.Store, name string) *forum.User {
	t.Helper()
	u, err := s.Register(context.Background(), name, "password123")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return u
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := forum.ErrorCode(err); got != code {
		t.Fatalf("error code: got %q (%v), want %q", got, err, code)
	}
}

func TestRegisterValidatesNameAndPassword(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		cases := []struct {
			name, user, password, code string
		}{
			{"short name", "ab", "password123", forum.EINVALID},
			{"long name", strings.Repeat("a", 33), "password123", forum.EINVALID},
			{"name with space", "al ice", "password123", forum.EINVALID},
			{"name with markup", "<b>x</b>", "password123", forum.EINVALID},
			{"non-ASCII letter", "jürgen", "password123", forum.EINVALID},
			{"short password", "alice", "1234567", forum.EINVALID},
			{"invalid UTF-8 password", "alice", "pass\xffword123", forum.EINVALID},
			{"password over 1 KiB", "alice", strings.Repeat("p", 1025), forum.EINVALID},
			{"password past bcrypt's 72 bytes", "bob-long", strings.Repeat("p", 100), ""},
			{"longest name", strings.Repeat("a", 32), "password123", ""},
			{"shortest name with _ and -", "a_-", "password123", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u, err := s.Register(ctx, c.user, c.password)
				wantCode(t, err, c.code)
				if err == nil && (u.Name != c.user || u.ID.IsZero() || u.Admin) {
					t.Fatalf("got user %+v", u)
				}
			})
		}
	})
}

func TestNamesAreUniqueIgnoringCase(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		mustRegister(t, s, "Alice")
		_, err := s.Register(context.Background(), "aLICE", "password123")
		wantCode(t, err, forum.ECONFLICT)
	})
}

func TestAuthenticate(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "Alice")
		u, err := s.Authenticate(ctx, "alice", "password123")
		if err != nil || u.ID != alice.ID {
			t.Fatalf("authenticate: got %+v, %v", u, err)
		}
		_, err = s.Authenticate(ctx, "alice", "wrong-password")
		wantCode(t, err, forum.EUNAUTHORIZED)
		long := strings.Repeat("x", 80)
		if _, err := s.Register(ctx, "longpass", long+"1"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Authenticate(ctx, "longpass", long+"2")
		wantCode(t, err, forum.EUNAUTHORIZED)
		if _, err := s.Authenticate(ctx, "longpass", long+"1"); err != nil {
			t.Fatalf("long password: %v", err)
		}
		_, err = s.Authenticate(ctx, "nobody", "password123")
		wantCode(t, err, forum.EUNAUTHORIZED)
	})
}

func TestCreatePostValidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		cases := []struct {
			name, title, body, code string
		}{
			{"empty title", "", "body", forum.EINVALID},
			{"blank title", "  \t ", "body", forum.EINVALID},
			{"long title", strings.Repeat("é", 201), "body", forum.EINVALID},
			{"empty body", "title", "", forum.EINVALID},
			{"long body", "title", strings.Repeat("x", 20001), forum.EINVALID},
			{"invalid UTF-8", "ti\xfftle", "body", forum.EINVALID},
			{"longest title and body", strings.Repeat("é", 200), strings.Repeat("x", 20000), ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.CreatePost(ctx, alice, c.title, c.body)
				wantCode(t, err, c.code)
			})
		}
		posts, err := s.Posts(ctx, forum.SortNew, 100, primitive.NilObjectID)
		if err != nil || len(posts) != 1 {
			t.Fatalf("only the valid post is stored: got %d posts, %v", len(posts), err)
		}
	})
}

func TestPostsArePagedNewestFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		var ids []primitive.ObjectID
		for i := range 5 {
			p, err := s.CreatePost(ctx, alice, fmt.Sprintf("post %d", i), "body")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		page1, err := s.Posts(ctx, forum.SortNew, 2, primitive.NilObjectID)
		if err != nil {
			t.Fatal(err)
		}
		page2, err := s.Posts(ctx, forum.SortNew, 2, page1[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		page3, err := s.Posts(ctx, forum.SortNew, 2, page2[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []primitive.ObjectID
		for _, p := range append(append(page1, page2...), page3...) {
			got = append(got, p.ID)
		}
		want := []primitive.ObjectID{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("pages: got %v, want %v", got, want)
		}
		_, err = s.Posts(ctx, forum.SortNew, 2, primitive.NewObjectID())
		wantCode(t, err, forum.ENOTFOUND)
		_, err = s.Posts(ctx, forum.SortNew, 0, primitive.NilObjectID)
		wantCode(t, err, forum.EINVALID)
	})
}

// The API pages a thread by the last comment it has (CommentsAfter), the
// thread page by number (Comments); both walk the comments oldest first,
// each exactly once, and only those of the post.
func TestCommentsArePagedOldestFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		post, _ := s.CreatePost(ctx, alice, "paged", "b")
		other, _ := s.CreatePost(ctx, alice, "other", "b")
		var want []primitive.ObjectID
		for i := range 7 {
			c, err := s.CreateComment(ctx, alice, post.ID, fmt.Sprintf("comment %d", i))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, c.ID)
			if _, err := s.CreateComment(ctx, alice, other.ID, "elsewhere"); err != nil {
				t.Fatal(err)
			}
		}
		var byKey, byNumber []primitive.ObjectID
		after := primitive.NilObjectID
		for range 4 {
			page, err := s.CommentsAfter(ctx, post.ID, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				byKey = append(byKey, c.ID)
				after = c.ID
			}
		}
		for skip := 0; skip < 9; skip += 3 {
			page, err := s.Comments(ctx, post.ID, skip, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				byNumber = append(byNumber, c.ID)
			}
		}
		if fmt.Sprint(byKey) != fmt.Sprint(want) {
			t.Errorf("pages after an id: got %v, want %v", byKey, want)
		}
		if fmt.Sprint(byNumber) != fmt.Sprint(want) {
			t.Errorf("numbered pages: got %v, want %v", byNumber, want)
		}
		elsewhere, _ := s.CommentsAfter(ctx, other.ID, primitive.NilObjectID, 1)
		_, err := s.CommentsAfter(ctx, post.ID, elsewhere[0].ID, 3)
		wantCode(t, err, forum.ENOTFOUND)
		_, err = s.CommentsAfter(ctx, post.ID, primitive.NilObjectID, forum.MaxPageSize+1)
		wantCode(t, err, forum.EINVALID)
		_, err = s.Comments(ctx, post.ID, 0, 0)
		wantCode(t, err, forum.EINVALID)
	})
}

func TestCommentsNotifyAuthorAndEarlierCommentersButNeverTheActor(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob, carol := mustRegister(t, s, "alice"), mustRegister(t, s, "bob"), mustRegister(t, s, "carol")
		post, err := s.CreatePost(ctx, alice, "Hello", "World")
		if err != nil {
			t.Fatal(err)
		}
		comment := func(u *forum.User, body string) *forum.Comment {
			t.Helper()
			c, err := s.CreateComment(ctx, u, post.ID, body)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		comment(alice, "my own thread")
		c1 := comment(bob, "first")
		comment(carol, "second")
		comment(bob, "third")

		count := func(u *forum.User) int {
			t.Helper()
			ns, err := s.Notifications(ctx, u.ID, forum.MaxPageSize, primitive.NilObjectID)
			if err != nil {
				t.Fatal(err)
			}
			return len(ns)
		}
		// alice: bob, carol, bob. bob: carol. carol: bob.
		for _, c := range []struct {
			user *forum.User
			want int
		}{{alice, 3}, {bob, 1}, {carol, 1}} {
			if got := count(c.user); got != c.want {
				t.Errorf("%s: got %d notifications, want %d", c.user.Name, got, c.want)
			}
		}
		ns, _ := s.Notifications(ctx, alice.ID, forum.MaxPageSize, primitive.NilObjectID)
		last := ns[len(ns)-1]
		if last.Kind != forum.NotificationComment || last.Actor != "bob" || last.PostID != post.ID || last.CommentID != c1.ID || last.Read || last.Message == "" {
			t.Fatalf("oldest notification of alice: got %+v", last)
		}
		p, _ := s.Post(ctx, post.ID)
		if p.Comments != 4 {
			t.Fatalf("comment count: got %d, want 4", p.Comments)
		}
		cs, _ := s.Comments(ctx, post.ID, 0, forum.CommentPageSize)
		if len(cs) != 4 || cs[0].Body != "my own thread" || cs[3].Body != "third" {
			t.Fatalf("comments oldest first: got %d, first %q", len(cs), cs[0].Body)
		}
	})
}

func TestCommentRejectsBadInputAndUnknownPost(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		post, _ := s.CreatePost(ctx, alice, "t", "b")
		_, err := s.CreateComment(ctx, alice, primitive.NewObjectID(), "hi")
		wantCode(t, err, forum.ENOTFOUND)
		_, err = s.CreateComment(ctx, alice, post.ID, strings.Repeat("x", 10001))
		wantCode(t, err, forum.EINVALID)
		_, err = s.CreateComment(ctx, alice, post.ID, " ")
		wantCode(t, err, forum.EINVALID)
		p, _ := s.Post(ctx, post.ID)
		if p.Comments != 0 {
			t.Fatalf("rejected comments counted: %d", p.Comments)
		}
	})
}

func TestMarkRead(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob := mustRegister(t, s, "alice"), mustRegister(t, s, "bob")
		post, _ := s.CreatePost(ctx, alice, "t", "b")
		for range 3 {
			if _, err := s.CreateComment(ctx, bob, post.ID, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		unread := func() int64 {
			n, err := s.UnreadCount(ctx, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if got := unread(); got != 3 {
			t.Fatalf("unread: got %d, want 3", got)
		}
		ns, _ := s.Notifications(ctx, alice.ID, forum.MaxPageSize, primitive.NilObjectID)
		if n, err := s.MarkRead(ctx, bob.ID, []primitive.ObjectID{ns[0].ID}); err != nil || n != 0 {
			t.Fatalf("bob marking alice's notification: got %d, %v", n, err)
		}
		if n, _ := s.MarkRead(ctx, alice.ID, []primitive.ObjectID{ns[0].ID}); n != 1 || unread() != 2 {
			t.Fatalf("marking one: changed %d, unread %d", n, unread())
		}
		if n, _ := s.MarkRead(ctx, alice.ID, nil); n != 2 || unread() != 0 {
			t.Fatalf("marking all: changed %d, unread %d", n, unread())
		}
	})
}

func TestStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		mustRegister(t, s, "bob")
		p, _ := s.CreatePost(ctx, alice, "t", "b")
		s.CreateComment(ctx, alice, p.ID, "c")
		st, err := s.Stats(ctx)
		if err != nil || st != (forum.Stats{Users: 2, Posts: 1, Comments: 1}) {
			t.Fatalf("stats: got %+v, %v", st, err)
		}
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "forum.db")
	db, err := forum.OpenFile(ctx, path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db)
	alice := mustRegister(t, s, "alice")
	post, _ := s.CreatePost(ctx, alice, "kept", "across restarts")
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s = newStore(t, openFile(t, path))
	got, err := s.Post(ctx, post.ID)
	if err != nil || got.Title != "kept" || !got.CreatedAt.Equal(post.CreatedAt) {
		t.Fatalf("post after reopen: got %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, "alice", "password123"); err != nil {
		t.Fatalf("sign in after reopen: %v", err)
	}
}

func TestLockFileRefusesSecondOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "forum.db")
	openFile(t, path)
	_, err := forum.OpenFile(context.Background(), path, time.Minute)
	if !errors.Is(err, forum.ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
}

func TestParseID(t *testing.T) {
	for _, c := range []struct{ in, code string }{
		{"0123456789abcdef01234567", ""},
		{"0123456789abcdef0123456", forum.EINVALID},
		{"zz23456789abcdef01234567", forum.EINVALID},
		{"", forum.EINVALID},
	} {
		_, err := forum.ParseID(c.in)
		wantCode(t, err, c.code)
	}
}

func TestConcurrentCommentersNotifyEachOther(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice := mustRegister(t, s, "alice")
		post, err := s.CreatePost(ctx, alice, "Busy", "thread")
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		users := make([]*forum.User, n)
		for i := range users {
			users[i] = mustRegister(t, s, fmt.Sprintf("user%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreateComment(ctx, u, post.ID, "hi from "+u.Name)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Whatever order the comments commit in, the k-th notifies the k-1
		// before it, so the commenters get 0+1+...+n-1 notifications.
		total := 0
		for _, u := range users {
			ns, err := s.Notifications(ctx, u.ID, forum.MaxPageSize, primitive.NilObjectID)
			if err != nil {
				t.Fatal(err)
			}
			total += len(ns)
		}
		if want := n * (n - 1) / 2; total != want {
			t.Errorf("commenters' notifications: got %d, want %d", total, want)
		}
		if ns, _ := s.Notifications(ctx, alice.ID, forum.MaxPageSize, primitive.NilObjectID); len(ns) != n {
			t.Errorf("author's notifications: got %d, want %d", len(ns), n)
		}
	})
}

func TestConcurrentRegistrationsOfOneNameMakeOneUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		const n = 6
		codes := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Register(context.Background(), []string{"Dave", "dave", "DAVE"}[i%3], "password123")
				codes <- forum.ErrorCode(err)
			}()
		}
		wg.Wait()
		close(codes)
		got := map[string]int{}
		for c := range codes {
			got[c]++
		}
		if got[""] != 1 || got[forum.ECONFLICT] != n-1 {
			t.Fatalf("outcomes by error code: got %v, want 1 success and %d conflicts", got, n-1)
		}
	})
}

func TestNewStoreBackfillsParticipantsOfOldPosts(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob, carol := mustRegister(t, s, "alice"), mustRegister(t, s, "bob"), mustRegister(t, s, "carol")
		db := s.Database()
		// A post and a comment as an earlier version stored them: without
		// participants, and without the marker of the backfill.
		old := &forum.Post{ID: primitive.NewObjectID(), Title: "Old", Body: "post", Author: alice.Name, AuthorID: alice.ID, CreatedAt: time.Now().UTC(), Comments: 1}
		if _, err := db.Collection(forum.PostsCollection).InsertOne(ctx, old); err != nil {
			t.Fatal(err)
		}
		c := &forum.Comment{ID: primitive.NewObjectID(), PostID: old.ID, Body: "old comment", Author: bob.Name, AuthorID: bob.ID, CreatedAt: time.Now().UTC()}
		if _, err := db.Collection(forum.CommentsCollection).InsertOne(ctx, c); err != nil {
			t.Fatal(err)
		}
		fresh, err := s.CreatePost(ctx, alice, "New", "post")
		if err != nil {
			t.Fatal(err)
		}
		var stored bson.M
		if err := db.Collection(forum.PostsCollection).FindOne(ctx, bson.M{"_id": fresh.ID}).Decode(&stored); err != nil {
			t.Fatal(err)
		}
		if ps, ok := stored["participants"].(bson.A); !ok || len(ps) != 0 || stored["title"] != "New" {
			t.Fatalf("a new post is stored with an empty participants list beside its fields: got %v", stored)
		}
		if _, err := db.Collection("meta").DeleteMany(ctx, bson.M{}); err != nil {
			t.Fatal(err)
		}
		s, err = forum.NewStore(ctx, db, forumtest.FastPasswords())
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := db.Collection(forum.PostsCollection).CountDocuments(ctx, bson.M{"participants": bson.M{"$exists": false}}); n != 0 {
			t.Fatalf("posts without participants after the backfill: got %d, want 0", n)
		}
		if _, err := s.CreateComment(ctx, carol, old.ID, "new comment"); err != nil {
			t.Fatal(err)
		}
		if ns, _ := s.Notifications(ctx, bob.ID, forum.MaxPageSize, primitive.NilObjectID); len(ns) != 1 {
			t.Fatalf("bob, who commented before the backfill: got %d notifications, want 1", len(ns))
		}
	})
}

func TestNewStoreReplacesOldIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		db := s.Database()
		comments, notifications := db.Collection(forum.CommentsCollection), db.Collection(forum.NotificationsCollection)
		for _, c := range []struct {
			coll lungo.ICollection
			keys bson.D
		}{
			{comments, bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}}},
			{notifications, bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}}},
		} {
			if _, err := c.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: c.keys}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := forum.NewStore(ctx, db, forumtest.FastPasswords()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			coll lungo.ICollection
			want string
		}{
			{comments, "_id_,authorId_1_createdAt_-1__id_-1,deletedAt_1,postId_1_createdAt_1__id_1"},
			{notifications, "_id_,userId_1_createdAt_-1__id_-1,userId_1_read_1"},
		} {
			if got := indexNames(t, c.coll); got != c.want {
				t.Errorf("indexes of %s: got %s, want %s", c.coll.Name(), got, c.want)
			}
		}
	})
}

func indexNames(t *testing.T, coll lungo.ICollection) string {
	t.Helper()
	cur, err := coll.Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ixs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(context.Background(), &ixs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ix := range ixs {
		names = append(names, ix.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func TestPostJSONKeepsItsFields(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob := mustRegister(t, s, "alice"), mustRegister(t, s, "bob")
		created, _ := s.CreatePost(ctx, alice, "t", "b")
		if _, err := s.CreateComment(ctx, bob, created.ID, "c"); err != nil {
			t.Fatal(err)
		}
		read, err := s.Post(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := s.Posts(ctx, forum.SortNew, 1, primitive.NilObjectID)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range map[string]*forum.Post{"created": created, "read": read, "listed": listed[0]} {
			b, _ := json.Marshal(p)
			var m map[string]any
			json.Unmarshal(b, &m)
			if got, want := strings.Join(slices.Sorted(maps.Keys(m)), ","), "author,body,comments,createdAt,id,lastActivityAt,locked,title"; got != want {
				t.Errorf("%s post's JSON keys: got %s, want %s", name, got, want)
			}
		}
	})
}
