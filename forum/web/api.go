package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

func (s *Server) registerAPIRoutes(r *mux.Router) {
	r.HandleFunc("/register", s.handleAPIRegister).Methods(http.MethodPost)
	r.HandleFunc("/login", s.handleAPILogin).Methods(http.MethodPost)
	r.HandleFunc("/logout", s.handleAPILogout).Methods(http.MethodPost)
	r.HandleFunc("/logout/everywhere", s.handleAPILogoutEverywhere).Methods(http.MethodPost)
	r.HandleFunc("/posts", s.handleAPIPosts).Methods(http.MethodGet)
	r.HandleFunc("/posts", s.handleAPICreatePost).Methods(http.MethodPost)
	r.HandleFunc("/posts/{id}", s.handleAPIPost).Methods(http.MethodGet)
	r.HandleFunc("/posts/{id}/comments", s.handleAPIComments).Methods(http.MethodGet)
	r.HandleFunc("/posts/{id}/comments", s.handleAPICreateComment).Methods(http.MethodPost)
	r.HandleFunc("/notifications", s.handleAPINotifications).Methods(http.MethodGet)
	r.HandleFunc("/notifications/read", s.handleAPIMarkRead).Methods(http.MethodPost)
	r.HandleFunc("/stats", s.handleAPIStats).Methods(http.MethodGet)
}

// decode reads a JSON request body of at most MaxBodyBytes into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return forum.Errorf(eUnsupported, "Send the request body as JSON with Content-Type: application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return bodyError(err)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return forum.Errorf(forum.EINVALID, "The request body must be valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return forum.Errorf(forum.EINVALID, "The request body must hold a single JSON object.")
	}
	return nil
}

func bodyError(err error) error {
	if bErr := boundError(err, "The request body"); bErr != nil {
		return bErr
	}
	switch {
	case errors.Is(err, io.EOF):
		return forum.Errorf(forum.EINVALID, "The request body is empty; send a JSON object.")
	default:
		return forum.Errorf(forum.EINVALID, "The request body is not valid JSON for this request: %s.", jsonProblem(err))
	}
}

func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return "field " + strconv.Quote(typeErr.Field) + " has the wrong type"
	}
	return "malformed JSON"
}

// signedIn returns the signed-in user or an unauthorized error.
func signedIn(r *http.Request) (*forum.User, error) {
	if u := userFrom(r); u != nil {
		return u, nil
	}
	return nil, forum.Errorf(forum.EUNAUTHORIZED, "Sign in first.")
}

type credentials struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (s *Server) handleAPIRegister(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decode(w, r, &c); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.store.Register(r.Context(), c.Name, c.Password)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) handleAPILogin(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decode(w, r, &c); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.login(r, c.Name, c.Password)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleAPILogout(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAPILogoutEverywhere(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.endSessions(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// limitParam returns the query's limit, or def when it has none.
func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > forum.MaxPageSize {
		return 0, forum.Errorf(forum.EINVALID, "limit must be a whole number from 1 to %d.", forum.MaxPageSize)
	}
	return n, nil
}

// pageParams returns the limit and the before cursor of a newest-first
// listing's query.
func pageParams(r *http.Request) (int, primitive.ObjectID, error) {
	limit, err := limitParam(r, forum.DefaultPageSize)
	if err != nil {
		return 0, primitive.NilObjectID, err
	}
	before, err := optionalID(r.URL.Query().Get("before"))
	return limit, before, err
}

func (s *Server) handleAPIPosts(w http.ResponseWriter, r *http.Request) {
	limit, before, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	posts, err := s.store.Posts(r.Context(), cmp.Or(r.URL.Query().Get("sort"), forum.SortNew), limit, before)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, posts)
}

func optionalID(v string) (primitive.ObjectID, error) {
	if v == "" {
		return primitive.NilObjectID, nil
	}
	return forum.ParseID(v)
}

func (s *Server) handleAPICreatePost(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	p, err := s.store.CreatePost(r.Context(), u, in.Title, in.Body)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

// postFrom returns the post named by the route's id.
func (s *Server) postFrom(r *http.Request) (*forum.Post, error) {
	id, err := forum.ParseID(mux.Vars(r)["id"])
	if err != nil {
		return nil, err
	}
	return s.store.Post(r.Context(), id)
}

func (s *Server) handleAPIPost(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPIComments(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	limit, err := limitParam(r, forum.CommentPageSize)
	if err != nil {
		s.error(w, r, err)
		return
	}
	after, err := optionalID(r.URL.Query().Get("after"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	cs, err := s.store.CommentsAfter(r.Context(), p.ID, after, limit)
	if err != nil {
		s.error(w, r, err)
		return
	}
	// A full page may have more after it; the client follows the link
	// rather than build the query itself.
	if len(cs) == limit {
		next := url.URL{Path: r.URL.Path, RawQuery: url.Values{"limit": {strconv.Itoa(limit)}, "after": {cs[len(cs)-1].ID.Hex()}}.Encode()}
		w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) handleAPICreateComment(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := forum.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Body    string `json:"body"`
		ReplyTo string `json:"replyTo"`
	}
	if err := decode(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	replyTo, err := optionalID(in.ReplyTo)
	if err != nil {
		s.error(w, r, err)
		return
	}
	c, err := s.store.CreateComment(r.Context(), u, id, in.Body, forum.ReplyTo(replyTo))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) handleAPINotifications(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	limit, before, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	ns, err := s.store.Notifications(r.Context(), u.ID, limit, before)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ns)
}

func (s *Server) handleAPIMarkRead(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		IDs []string `json:"ids"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			s.error(w, r, err)
			return
		}
	}
	ids := make([]primitive.ObjectID, 0, len(in.IDs))
	for _, v := range in.IDs {
		id, err := forum.ParseID(v)
		if err != nil {
			s.error(w, r, err)
			return
		}
		ids = append(ids, id)
	}
	if in.IDs != nil && len(ids) == 0 {
		writeJSON(w, http.StatusOK, map[string]int64{"marked": 0})
		return
	}
	n, err := s.store.MarkRead(r.Context(), u.ID, ids)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"marked": n})
}

func (s *Server) handleAPIStats(w http.ResponseWriter, r *http.Request) {
	if _, err := admin(r); err != nil {
		s.error(w, r, err)
		return
	}
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
