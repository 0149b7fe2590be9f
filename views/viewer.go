package views

import (
	"context"
	"net/url"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

type viewerKey struct{}

// WithViewer returns ctx carrying the user a page is rendered for, nil when
// signed out. The items that live events carry are rendered once for every
// reader, without one: their controls come hidden, and the script shows
// them to their author and to admins (see app.js).
func WithViewer(ctx context.Context, u *forum.User) context.Context {
	return context.WithValue(ctx, viewerKey{}, u)
}

func viewer(ctx context.Context) *forum.User {
	u, _ := ctx.Value(viewerKey{}).(*forum.User)
	return u
}

// mayChange reports whether the viewer may edit and delete an item by
// author: its author and admins, who may still be refused in a locked
// thread (the store decides; the page hides what it would refuse).
func mayChange(ctx context.Context, author primitive.ObjectID) bool {
	u := viewer(ctx)
	return u != nil && !u.Suspended && (u.Admin || u.ID == author)
}

func isAdmin(ctx context.Context) bool {
	u := viewer(ctx)
	return u != nil && u.Admin && !u.Suspended
}

// userURL is the address of a user's page.
func userURL(name string) string {
	return "/u/" + url.PathEscape(name)
}

// UserList is a page of the admins' list of users: those whose names begin
// with Search, or the newest; Older is the id to page on from, or "".
type UserList struct {
	Users  []*forum.User
	Search string
	Older  string
}

// editedAttr is an item's data-edited: when it was last edited, or "".
func editedAttr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return machineTime(*t)
}
