package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/static"
	"forum/views"
)

// handleNotificationOpen marks the reader's notification read and sends
// them to what it is about, so that following a notification's link is
// reading it.
func (s *Server) handleNotificationOpen(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, r.URL.RequestURI())
		return
	}
	id, err := forum.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.error(w, r, err)
		return
	}
	n, err := s.store.ReadNotification(r.Context(), u.ID, id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	to := views.PostPageURL(n.PostID, 1)
	if !n.CommentID.IsZero() {
		if to, err = s.commentLocation(r, n.CommentID, nil); err != nil {
			s.error(w, r, err)
			return
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// handleCommentLocation sends the reader to the page of its thread that
// shows a comment, scrolled to it.
func (s *Server) handleCommentLocation(w http.ResponseWriter, r *http.Request) {
	s.redirectToComment(w, r, nil)
}

// handleCommentReply sends the reader to the comment form of the page that
// shows a comment, set to reply to it: the Reply link of a comment without
// the script.
func (s *Server) handleCommentReply(w http.ResponseWriter, r *http.Request) {
	s.redirectToComment(w, r, func(c *forum.Comment) url.Values {
		return url.Values{"replyTo": {c.ID.Hex()}}
	})
}

func (s *Server) redirectToComment(w http.ResponseWriter, r *http.Request, query func(*forum.Comment) url.Values) {
	id, err := forum.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.error(w, r, err)
		return
	}
	to, err := s.commentLocation(r, id, query)
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// commentLocation returns the address of a comment: the page of its thread
// that shows it, from its place among the comments, with its anchor; or,
// when query gives parameters, that page with them, at its comment form.
func (s *Server) commentLocation(r *http.Request, id primitive.ObjectID, query func(*forum.Comment) url.Values) (string, error) {
	c, place, err := s.store.CommentPlace(r.Context(), id)
	if err != nil {
		return "", err
	}
	page := place/forum.CommentPageSize + 1
	if query == nil {
		return views.PostPageURL(c.PostID, page) + "#comment-" + c.ID.Hex(), nil
	}
	q := query(c)
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return views.PostPageURL(c.PostID, 1) + "?" + q.Encode() + "#comment-form", nil
}

// handleFavicon answers browsers that ask for /favicon.ico before they read
// a page's icon link.
func handleFavicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, static.Path("favicon.svg"), http.StatusFound)
}

// readPage reads one page of a newest-first listing, of n items, from the
// query's cursor: ?before=ID for the page after the item ID, ?after=ID for
// the page before it, neither for the first (pg.First). older and newer read up to
// limit items from beyond an item in either direction, newest first; older
// with the nil id reads the first. A page before which fewer than n items
// are left is the first page.
func readPage[T any](q url.Values, n int, id func(T) primitive.ObjectID,
	older, newer func(limit int, from primitive.ObjectID) ([]T, error),
) ([]T, views.ListPager, error) {
	var pg views.ListPager
	before, err := optionalID(q.Get("before"))
	if err != nil {
		return nil, pg, err
	}
	after, err := optionalID(q.Get("after"))
	if err != nil {
		return nil, pg, err
	}
	if !after.IsZero() {
		items, err := newer(n+1, after)
		if err != nil {
			return nil, pg, err
		}
		if len(items) > n {
			items = items[1:]
			pg.Newer, pg.Older = id(items[0]).Hex(), id(items[len(items)-1]).Hex()
			return items, pg, nil
		}
		before = primitive.NilObjectID
	}
	items, err := older(n+1, before)
	if err != nil {
		return nil, pg, err
	}
	if len(items) > n {
		items = items[:n]
		pg.Older = id(items[len(items)-1]).Hex()
	}
	pg.First = before.IsZero()
	if !pg.First && len(items) > 0 {
		pg.Newer = id(items[0]).Hex()
	}
	return items, pg, nil
}
