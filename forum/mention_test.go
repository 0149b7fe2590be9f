package forum_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

func TestMentions(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"hi @ann and @Bob_2.", []string{"ann", "Bob_2"}},
		{"@ann @ANN @Ann once", []string{"ann"}},
		{"(@ann) *@bob* **@carol**, @dave-x!", []string{"ann", "bob", "carol", "dave-x"}},
		{"`@ann` and\n\n    @bob in code\n\n```\n@carol\n```", nil},
		{"[@ann](https://x.example) https://x.example/@bob", nil},
		{"ann@example.com x@bob a/@carol @@dave", nil},
		{"@ab is too short, @ nothing", nil},
		{"@abcdefghijklmnopqrstuvwxyz0123456 is too long", nil},
		{"> quoted @ann\n- listed @bob", []string{"ann", "bob"}},
	}
	for _, tt := range tests {
		if got := forum.Mentions(tt.in); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Mentions(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEditsNotifyOnlyTheNewlyMentioned(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob, carol := mustRegister(t, s, "alice"), mustRegister(t, s, "bob"), mustRegister(t, s, "carol")
		post, err := s.CreatePost(ctx, alice, "Edits", "Hello @bob")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateComment(ctx, bob, post.ID, "first")
		if err != nil {
			t.Fatal(err)
		}
		// The post's edit mentions bob again, carol anew and alice herself;
		// the comment's, carol.
		body := "Hello @bob and @Carol, says @alice"
		if _, err := s.EditPost(ctx, alice, post.ID, forum.PostChange{Body: &body}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EditComment(ctx, bob, c.ID, "first, @carol"); err != nil {
			t.Fatal(err)
		}
		count := func(u *forum.User) []*forum.Notification {
			ns, err := s.Notifications(ctx, u.ID, forum.MaxPageSize, primitive.NilObjectID)
			if err != nil {
				t.Fatal(err)
			}
			return ns
		}
		if ns := count(bob); len(ns) != 1 {
			t.Errorf("bob, mentioned by the post and its edit: got %d notifications, want the first only", len(ns))
		}
		ns := count(carol)
		if len(ns) != 2 || ns[0].CommentID != c.ID || ns[1].CommentID != primitive.NilObjectID || ns[0].Kind != forum.NotificationMention || ns[0].Excerpt != "first, @carol" {
			t.Errorf("carol, mentioned by both edits: got %+v", ns)
		}
		if ns := count(alice); len(ns) != 1 || ns[0].Kind != forum.NotificationComment {
			t.Errorf("alice, who mentioned herself: got %+v, want bob's comment only", ns)
		}
	})
}
