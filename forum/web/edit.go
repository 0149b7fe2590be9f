package web

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/views"
)

// registerEditAPIRoutes adds the API's edits, deletions and locks of posts
// and comments.
func (s *Server) registerEditAPIRoutes(r *mux.Router) {
	r.HandleFunc("/posts/{id}", s.handleAPIEditPost).Methods(http.MethodPatch)
	r.HandleFunc("/posts/{id}", s.handleAPIDeletePost).Methods(http.MethodDelete)
	r.HandleFunc("/posts/{id}/lock", s.handleAPILockPost).Methods(http.MethodPost)
	r.HandleFunc("/comments/{id}", s.handleAPIEditComment).Methods(http.MethodPatch)
	r.HandleFunc("/comments/{id}", s.handleAPIDeleteComment).Methods(http.MethodDelete)
}

// registerEditPageRoutes adds the forms that do the same without
// JavaScript.
func (s *Server) registerEditPageRoutes(r *mux.Router) {
	r.HandleFunc("/posts/{id}/edit", s.handleEditPostPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/posts/{id}/edit", s.handleEditPost).Methods(http.MethodPost)
	r.HandleFunc("/posts/{id}/delete", s.handleDeletePost).Methods(http.MethodPost)
	r.HandleFunc("/posts/{id}/lock", s.handleLockPost).Methods(http.MethodPost)
	r.HandleFunc("/comments/{id}/edit", s.handleEditCommentPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/comments/{id}/edit", s.handleEditComment).Methods(http.MethodPost)
	r.HandleFunc("/comments/{id}/delete", s.handleDeleteComment).Methods(http.MethodPost)
}

// routeID returns the route's id.
func routeID(r *http.Request) (primitive.ObjectID, error) {
	return forum.ParseID(mux.Vars(r)["id"])
}

func (s *Server) handleAPIEditPost(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	p, err := s.store.EditPost(r.Context(), u, id, forum.PostChange{Title: in.Title, Body: in.Body})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPIDeletePost(w http.ResponseWriter, r *http.Request) {
	s.apiDelete(w, r, s.store.DeletePost)
}

func (s *Server) handleAPIDeleteComment(w http.ResponseWriter, r *http.Request) {
	s.apiDelete(w, r, s.store.DeleteComment)
}

// apiDelete answers a deletion by del of the route's item.
func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, del func(context.Context, *forum.User, primitive.ObjectID) error) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := del(r.Context(), u, id); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAPILockPost(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Locked *bool `json:"locked"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	if in.Locked == nil {
		s.error(w, r, forum.Errorf(forum.EINVALID, `Send {"locked": true} or {"locked": false}.`))
		return
	}
	p, err := s.store.LockPost(r.Context(), u, id, *in.Locked)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPIEditComment(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	c, err := s.store.EditComment(r.Context(), u, id, in.Body)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// pageActor returns the signed-in user of a form's request, or sends a
// signed-out visitor to sign in and back to next.
func pageActor(w http.ResponseWriter, r *http.Request, next string) *forum.User {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, next)
	}
	return u
}

func (s *Server) handleEditPostPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if pageActor(w, r, r.URL.RequestURI()) == nil {
		return
	}
	f := views.Form{Values: map[string]string{"title": p.Title, "body": p.Body}}
	s.render(w, r, http.StatusOK, views.EditPost(s.page(r, "Edit post"), p, f))
}

func (s *Server) handleEditPost(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := pageActor(w, r, views.PostPageURL(p.ID, 1)+"/edit")
	if u == nil {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	title, body := formText(r, "title"), formText(r, "body")
	if _, err := s.store.EditPost(r.Context(), u, p.ID, forum.PostChange{Title: &title, Body: &body}); err != nil {
		s.formError(w, r, err, views.EditPost(s.page(r, "Edit post"), p, formOf(r, err, "title", "body")))
		return
	}
	http.Redirect(w, r, views.PostPageURL(p.ID, 1), http.StatusSeeOther)
}

func (s *Server) handleDeletePost(w http.ResponseWriter, r *http.Request) {
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := pageActor(w, r, views.PostPageURL(id, 1))
	if u == nil {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.DeletePost(r.Context(), u, id); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLockPost(w http.ResponseWriter, r *http.Request) {
	id, err := routeID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := pageActor(w, r, views.PostPageURL(id, 1))
	if u == nil {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	if _, err := s.store.LockPost(r.Context(), u, id, r.PostFormValue("locked") == "true"); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, views.PostPageURL(id, 1), http.StatusSeeOther)
}

// commentFrom returns the comment named by the route's id.
func (s *Server) commentFrom(r *http.Request) (*forum.Comment, error) {
	id, err := routeID(r)
	if err != nil {
		return nil, err
	}
	return s.store.Comment(r.Context(), id)
}

func (s *Server) handleEditCommentPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.commentFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if pageActor(w, r, r.URL.RequestURI()) == nil {
		return
	}
	f := views.Form{Values: map[string]string{"body": c.Body}}
	s.render(w, r, http.StatusOK, views.EditComment(s.page(r, "Edit comment"), c, f))
}

func (s *Server) handleEditComment(w http.ResponseWriter, r *http.Request) {
	c, err := s.commentFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := pageActor(w, r, "/comments/"+c.ID.Hex()+"/edit")
	if u == nil {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	if _, err := s.store.EditComment(r.Context(), u, c.ID, formText(r, "body")); err != nil {
		s.formError(w, r, err, views.EditComment(s.page(r, "Edit comment"), c, formOf(r, err, "body")))
		return
	}
	// The comment's own address finds the page of the thread that shows it.
	http.Redirect(w, r, "/comments/"+c.ID.Hex(), http.StatusSeeOther)
}

func (s *Server) handleDeleteComment(w http.ResponseWriter, r *http.Request) {
	c, err := s.commentFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := pageActor(w, r, views.PostPageURL(c.PostID, 1))
	if u == nil {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.DeleteComment(r.Context(), u, c.ID); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, views.PostPageURL(c.PostID, 1), http.StatusSeeOther)
}
