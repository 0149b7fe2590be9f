package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"forum/forum"
	"forum/views"
)

func (s *Server) registerUserAPIRoutes(r *mux.Router) {
	r.HandleFunc("/users/{name}", s.handleAPIUser).Methods(http.MethodGet)
	r.HandleFunc("/users/{name}/suspend", s.handleAPISuspend).Methods(http.MethodPost)
}

func (s *Server) registerUserPageRoutes(r *mux.Router) {
	r.HandleFunc("/u/{name}", s.handleUserPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/users/suspend", s.handleAdminSuspend).Methods(http.MethodPost)
}

func (s *Server) handleAPIUser(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.Profile(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPISuspend(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Suspended *bool `json:"suspended"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	if in.Suspended == nil {
		s.error(w, r, forum.Errorf(forum.EINVALID, `Send {"suspended": true} or {"suspended": false}.`))
		return
	}
	target, err := s.store.SuspendUser(r.Context(), u, mux.Vars(r)["name"], *in.Suspended)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, target)
}

func (s *Server) handleUserPage(w http.ResponseWriter, r *http.Request) {
	prof, err := s.store.Profile(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		s.error(w, r, err)
		return
	}
	page := s.page(r, prof.Name)
	posts, err := s.store.UserPosts(r.Context(), prof.ID, forum.UserPageSize)
	if err != nil {
		s.error(w, r, err)
		return
	}
	comments, err := s.store.UserComments(r.Context(), prof.ID, forum.UserPageSize)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.UserPage(page, prof, posts, comments))
}

// userList reads the page of users the admins' list shows: those whose
// names begin with the query's q, or the newest, before the query's before.
func (s *Server) userList(r *http.Request) (views.UserList, error) {
	q := r.URL.Query()
	list := views.UserList{Search: q.Get("q")}
	before, err := optionalID(q.Get("before"))
	if err != nil {
		return list, err
	}
	users, err := s.store.Users(r.Context(), list.Search, forum.UserPageSize+1, before)
	if err != nil {
		return list, err
	}
	if len(users) > forum.UserPageSize {
		users = users[:forum.UserPageSize]
		if list.Search == "" {
			list.Older = users[len(users)-1].ID.Hex()
		}
	}
	list.Users = users
	return list, nil
}

// handleAdminSuspend suspends or reinstates the user the form names, and
// shows the list again with the reason when the store refuses.
func (s *Server) handleAdminSuspend(w http.ResponseWriter, r *http.Request) {
	if !s.adminPage(w, r, "/admin/users") {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	_, err := s.store.SuspendUser(r.Context(), userFrom(r), r.PostFormValue("name"), r.PostFormValue("suspended") == "true")
	switch forum.ErrorCode(err) {
	case "":
		http.Redirect(w, r, safeNext(r.PostFormValue("back")), http.StatusSeeOther)
	case forum.EINVALID, forum.ENOTFOUND, forum.ECONFLICT, forum.EFORBIDDEN:
		s.showAdminUsers(w, r, statusOf(err), views.Form{Error: forum.ErrorMessage(err)})
	default:
		s.error(w, r, err)
	}
}
