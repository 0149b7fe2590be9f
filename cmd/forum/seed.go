package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

// seedPassword is the password of every sample user.
const seedPassword = "password123"

var (
	seedUsers = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	topics    = []string{"Go", "MongoDB", "change streams", "Server-Sent Events", "templ", "gorilla/mux", "our garden", "the weekend", "sourdough", "cycling", "chess", "rust-proofing a bike", "home networking", "keyboards", "board games"}
	openers   = []string{"What do you think about %s?", "A question about %s", "My experience with %s", "Tips for %s", "Is %s worth it?", "Getting started with %s", "Lessons learned from %s", "%s: what I wish I had known"}
	sentences = []string{
		"I have been trying this for a few weeks now and I keep coming back to it.",
		"The documentation is good, but some parts took me a while to understand.",
		"Has anyone else run into the same problem?",
		"I would love to hear how you set yours up.",
		"It works well for small projects, and better than I expected for large ones.",
		"The community here has been very helpful so far.",
		"I am not sure it is the right choice for everyone.",
		"Here is what finally worked for me.",
		"Thanks for reading, and let me know what you think!",
	}
	replies = []string{"Great point, thanks for sharing.", "I had the same experience.", "Have you tried the other approach? It worked for me.", "Interesting, I never thought of it that way.", "+1, this helped a lot.", "I disagree a little, but I see where you are coming from.", "Could you say more about how you set it up?", "Bookmarked. Thank you!"}
)

// seedBatch is how many posts seed writes at a time, with their comments and
// notifications.
const seedBatch = 1000

// seed fills the store with sample users, posts and comments.
func seed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forum seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	posts := fs.Int("posts", 300, "how many posts to create")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *posts < 0 {
		return fmt.Errorf("seed: -posts must not be negative")
	}
	cfg, err := parseConfig(fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if db != nil {
			db.Close(context.Background())
		}
	}()
	store, err := forum.NewStore(ctx, db.Database, forum.WithPasswordCost(cfg.PasswordCost))
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "Creating %d users…\n", len(seedUsers))
	var users []*forum.User
	for _, name := range seedUsers {
		u, err := store.Register(ctx, name, seedPassword)
		if forum.ErrorCode(err) == forum.ECONFLICT {
			u, err = store.Authenticate(ctx, name, seedPassword)
		}
		if err != nil {
			return fmt.Errorf("seed user %s: %w", name, err)
		}
		users = append(users, u)
	}
	// One admin, so that /admin/stats and /admin/users can be tried.
	if _, err := store.SetAdmin(ctx, seedUsers[0], true); err != nil {
		return fmt.Errorf("seed admin: %w", err)
	}
	fmt.Fprintf(stdout, "made %q an admin\n", seedUsers[0])

	// The users went through the store, for their password hashes and
	// indexes; the posts go in batches, which the embedded store takes
	// fastest through a loader on the closed store.
	var sink seedSink = mongoSink{ctx, db.Database}
	if cfg.MongoURI == "" {
		if err := db.Close(ctx); err != nil {
			return err
		}
		db = nil
		loader, err := forum.OpenLoader(cfg.Data)
		if err != nil {
			return err
		}
		defer loader.Close()
		sink = loaderSink{loader}
	}

	g := newSeedGen(users)
	bar := newProgress(stdout, *posts)
	for done := 0; done < *posts; {
		n := min(seedBatch, *posts-done)
		batch := g.batch(n)
		if err := sink.insert(forum.PostsCollection, batch.posts); err != nil {
			return fmt.Errorf("seed posts: %w", err)
		}
		if err := sink.insert(forum.CommentsCollection, batch.comments); err != nil {
			return fmt.Errorf("seed comments: %w", err)
		}
		if err := sink.insert(forum.NotificationsCollection, batch.notifications); err != nil {
			return fmt.Errorf("seed notifications: %w", err)
		}
		done += n
		bar.update(done, g.comments)
	}
	bar.finish(*posts, g.comments)
	if loader, ok := sink.(loaderSink); ok {
		fmt.Fprintln(stdout, "Writing the snapshot…")
		if err := loader.Close(); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	fmt.Fprintf(stdout, "Done. Sign in as any of %s with the password %q.\n", strings.Join(seedUsers, ", "), seedPassword)
	return nil
}

// seedSink takes batches of documents.
type seedSink interface {
	insert(coll string, docs []any) error
}

// mongoSink writes batches through the driver.
type mongoSink struct {
	ctx context.Context
	db  lungo.IDatabase
}

func (m mongoSink) insert(coll string, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	_, err := m.db.Collection(coll).InsertMany(m.ctx, docs)
	return err
}

// loaderSink writes batches into the embedded store's loader.
type loaderSink struct{ *forum.Loader }

func (l loaderSink) insert(coll string, docs []any) error { return l.Insert(coll, docs...) }

// seedGen makes sample posts with their comments and notifications, shaped
// exactly as forum.Store.CreatePost and CreateComment write them.
type seedGen struct {
	r        *rand.Rand
	users    []*forum.User
	at       time.Time
	comments int
}

type seedDocs struct {
	posts, comments, notifications []any
}

func newSeedGen(users []*forum.User) *seedGen {
	return &seedGen{r: rand.New(rand.NewPCG(1, 2)), users: users, at: time.Now().UTC().Truncate(time.Millisecond)}
}

func (g *seedGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// batch makes n posts with 0 to 6 comments each.
func (g *seedGen) batch(n int) seedDocs {
	var b seedDocs
	for range n {
		author := g.users[g.r.IntN(len(g.users))]
		title := fmt.Sprintf(g.pick(openers), g.pick(topics))
		title = strings.ToUpper(title[:1]) + title[1:]
		var body strings.Builder
		for range 2 + g.r.IntN(4) {
			body.WriteString(g.pick(sentences) + " ")
		}
		g.at = g.at.Add(time.Millisecond)
		p := &forum.Post{ID: primitive.NewObjectID(), Title: title, Body: strings.TrimSpace(body.String()), Author: author.Name, AuthorID: author.ID, CreatedAt: g.at}
		var participants []primitive.ObjectID
		for range g.r.IntN(7) {
			by := g.users[g.r.IntN(len(g.users))]
			g.at = g.at.Add(time.Millisecond)
			c := &forum.Comment{ID: primitive.NewObjectID(), PostID: p.ID, Body: g.pick(replies), Author: by.Name, AuthorID: by.ID, CreatedAt: g.at}
			b.comments = append(b.comments, c)
			b.notifications = append(b.notifications, forum.CommentNotifications(by, c, p.Title, append([]primitive.ObjectID{p.AuthorID}, participants...))...)
			if !slices.Contains(participants, by.ID) {
				participants = append(participants, by.ID)
			}
			p.Comments++
			g.comments++
		}
		p.LastActivityAt = g.at // its last comment's, or its own
		b.posts = append(b.posts, forum.PostDocument(p, participants))
	}
	return b
}

// progress shows how far seeding is: a bar redrawn in place on a terminal,
// and otherwise a line every 5% or every 5 seconds, whichever comes first.
type progress struct {
	w     io.Writer
	total int
	tty   bool
	start time.Time
	last  time.Time
	step  int // posts done at the last line
}

func newProgress(w io.Writer, total int) *progress {
	now := time.Now()
	return &progress{w: w, total: total, tty: isTerminal(w), start: now, last: now}
}

// isTerminal reports whether w is a character device, a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(posts, comments int) {
	if p.tty {
		const width = 30
		filled := width * posts / max(p.total, 1)
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% Posts: %d/%d, comments: %d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*posts/max(p.total, 1), posts, p.total, comments)
		return
	}
	if posts == p.total || posts-p.step >= max(p.total/20, 1) || time.Since(p.last) >= 5*time.Second {
		p.line(posts, comments)
	}
}

func (p *progress) line(posts, comments int) {
	fmt.Fprintf(p.w, "Posts: %d/%d, comments: %d (%s)\n", posts, p.total, comments, time.Since(p.start).Round(time.Millisecond))
	p.step, p.last = posts, time.Now()
}

// finish ends the progress display; with no posts it still says so.
func (p *progress) finish(posts, comments int) {
	switch {
	case p.tty:
		p.update(posts, comments)
		fmt.Fprintln(p.w)
	case p.step != posts || posts == 0:
		p.line(posts, comments)
	}
}
