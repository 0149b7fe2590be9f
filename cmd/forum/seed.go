package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

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
	var db *forum.DB
	if cfg.MongoURI != "" {
		db, err = forum.Connect(ctx, cfg.MongoURI, cfg.MongoDB)
	} else {
		db, err = forum.OpenFile(ctx, cfg.Data, cfg.History)
	}
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	store, err := forum.NewStore(ctx, db.Database, cfg.Admins)
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

	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	comments := 0
	for i := range *posts {
		author := users[r.IntN(len(users))]
		title := fmt.Sprintf(pick(openers), pick(topics))
		title = strings.ToUpper(title[:1]) + title[1:]
		var body strings.Builder
		for range 2 + r.IntN(4) {
			body.WriteString(pick(sentences) + " ")
		}
		p, err := store.CreatePost(ctx, author, title, body.String())
		if err != nil {
			return fmt.Errorf("seed post: %w", err)
		}
		for range r.IntN(4) {
			if _, err := store.CreateComment(ctx, users[r.IntN(len(users))], p.ID, pick(replies)); err != nil {
				return fmt.Errorf("seed comment: %w", err)
			}
			comments++
		}
		if (i+1)%25 == 0 || i+1 == *posts {
			fmt.Fprintf(stdout, "\rPosts: %d/%d, comments: %d", i+1, *posts, comments)
		}
	}
	fmt.Fprintf(stdout, "\nDone. Sign in as any of %s with the password %q.\n", strings.Join(seedUsers, ", "), seedPassword)
	if len(cfg.Admins) == 0 {
		fmt.Fprintln(stdout, "To see /admin/stats, run the forum with FORUM_ADMINS=alice (or -admins alice).")
	}
	return nil
}
