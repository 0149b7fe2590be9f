package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"forum/forum"
	"forum/views"
)

// registerAdminRoutes adds the page where admins grant and revoke the admin
// role, and suspend and reinstate users (see users.go).
func (s *Server) registerAdminRoutes(r *mux.Router) {
	r.HandleFunc("/admin/users", s.handleAdminUsers).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/users/grant", s.handleAdminGrant).Methods(http.MethodPost)
	r.HandleFunc("/admin/users/revoke", s.handleAdminRevoke).Methods(http.MethodPost)
}

// admin returns the signed-in admin, or an unauthorized or forbidden error.
// The role is the account's as the store has it on this request, so a grant
// or revoke applies from the next request on.
func admin(r *http.Request) (*forum.User, error) {
	u, err := signedIn(r)
	if err != nil {
		return nil, err
	}
	if !u.Admin {
		return nil, forum.Errorf(forum.EFORBIDDEN, "Only admins may see this.")
	}
	return u, nil
}

// adminPage lets an admin through; anyone else is sent to sign in or shown
// the forbidden page. back is where signing in returns to.
func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, back string) bool {
	if userFrom(r) == nil {
		toLogin(w, r, back)
		return false
	}
	if _, err := admin(r); err != nil {
		s.error(w, r, err)
		return false
	}
	return true
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	if s.adminPage(w, r, r.URL.RequestURI()) {
		s.showAdminUsers(w, r, http.StatusOK, views.Form{})
	}
}

func (s *Server) showAdminUsers(w http.ResponseWriter, r *http.Request, status int, f views.Form) {
	p := s.page(r, "Users")
	admins, err := s.store.Admins(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, err := s.userList(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, status, views.AdminUsers(p, admins, list, f))
}

func (s *Server) handleAdminGrant(w http.ResponseWriter, r *http.Request) {
	s.setAdmin(w, r, true)
}

func (s *Server) handleAdminRevoke(w http.ResponseWriter, r *http.Request) {
	s.setAdmin(w, r, false)
}

// setAdmin grants or revokes the role of the user the form names, and shows
// the page again with the reason when the store refuses.
func (s *Server) setAdmin(w http.ResponseWriter, r *http.Request, grant bool) {
	if !s.adminPage(w, r, "/admin/users") {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	_, err := s.store.SetAdmin(r.Context(), r.PostFormValue("name"), grant)
	switch forum.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
	case forum.EINVALID, forum.ENOTFOUND, forum.ECONFLICT:
		s.showAdminUsers(w, r, statusOf(err), formOf(r, err, "name"))
	default:
		s.error(w, r, err)
	}
}
