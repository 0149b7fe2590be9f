// Package web serves the forum over HTTP: the server-rendered pages, the JSON
// API and the Server-Sent Events endpoints.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/static"
	"forum/views"
)

// Hub serves live event streams and collects their metrics.
type Hub interface {
	prometheus.Collector
	// Serve streams topics to the client, and calls ended once the stream
	// is over, which may be after Serve returns.
	Serve(w http.ResponseWriter, r *http.Request, topics []string, ended func())
	Ready() error
	LastEventID() string
	// Typing records that user, called name, is typing a comment on post.
	Typing(post, user primitive.ObjectID, name string)
}

// Server routes HTTP requests to the forum.
type Server struct {
	log      *slog.Logger
	store    *forum.Store
	hub      Hub
	sessions *sessions
	limiter  *limiter
	router   *mux.Router
	handler  http.Handler
	metrics  bool // serve /metrics
	proxies  proxies
	streams  *streamCounts
	timeouts timeouts
	typing   *typingSignals
}

// New returns a server over store and hub. key signs session cookies. It
// serves the hub's metrics at /metrics unless told WithoutMetrics.
func New(log *slog.Logger, store *forum.Store, hub Hub, key []byte, opts ...Option) *Server {
	s := &Server{
		log:      log,
		store:    store,
		hub:      hub,
		sessions: newSessions(key),
		limiter:  newLimiter(loginAttempts, loginWindow, maxLimiterKeys),
		router:   mux.NewRouter(),
		metrics:  true,
		streams:  newStreamCounts(),
		timeouts: defaultTimeouts,
		typing:   newTypingSignals(),
	}
	for _, o := range opts {
		o(s)
	}
	s.router.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	s.router.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)
	if s.metrics {
		s.router.Handle("/metrics", MetricsHandler(hub)).Methods(http.MethodGet, http.MethodHead)
	}
	s.router.Use(s.withUser)
	s.router.PathPrefix("/static/").Handler(static.Handler())
	api := s.router.PathPrefix("/api").Subrouter()
	// Before the API's own routes: in gorilla/mux 1.8.1 a route tried after
	// a method mismatch, whose first matcher (the /api prefix) matches,
	// clears the mismatch, and POST /api/stats would be a 404, not a 405.
	s.registerPresenceRoutes(api)
	s.registerEditAPIRoutes(api)
	s.registerUserAPIRoutes(api)
	s.registerAPIRoutes(api)
	s.registerStreamRoutes(s.router.PathPrefix("/stream").Subrouter())
	s.registerPageRoutes(s.router)
	s.registerAdminRoutes(s.router)
	s.registerEditPageRoutes(s.router)
	s.registerUserPageRoutes(s.router)
	s.router.NotFoundHandler = s.withUser(http.HandlerFunc(s.handleNotFound))
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.handleMethodNotAllowed)
	s.handler = s.withClient(withSecurityHeaders(s.logRequests(s.withDeadlines(newCrossOrigin().Handler(s.router)))))
	return s
}

// ServeHTTP implements http.Handler, refusing state-changing requests from
// other origins. Requests without Origin or Sec-Fetch-Site (API clients) pass.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// newCrossOrigin refuses state-changing requests from other origins.
func newCrossOrigin() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, errorBody{"Cross-origin requests that change state are not allowed."})
	}))
	return p
}

type ctxKey int

const userKey ctxKey = iota

// withUser puts the signed-in user, if any, in the request's context.
func (s *Server) withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := s.sessions.read(r); ok {
			u, err := s.store.SessionUser(r.Context(), token)
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), userKey, u))
			} else if forum.ErrorCode(err) != forum.EUNAUTHORIZED {
				s.error(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func userFrom(r *http.Request) *forum.User {
	u, _ := r.Context().Value(userKey).(*forum.User)
	return u
}

// statuses maps domain error codes to HTTP status codes.
var statuses = map[string]int{
	forum.EINVALID:      http.StatusBadRequest,
	forum.EUNAUTHORIZED: http.StatusUnauthorized,
	forum.EFORBIDDEN:    http.StatusForbidden,
	forum.ENOTFOUND:     http.StatusNotFound,
	forum.ECONFLICT:     http.StatusConflict,
	forum.ETOOMANY:      http.StatusTooManyRequests,
	eTooLarge:           http.StatusRequestEntityTooLarge,
	eUnsupported:        http.StatusUnsupportedMediaType,
	eMethod:             http.StatusMethodNotAllowed,
	eTimeout:            http.StatusRequestTimeout,
}

// Error codes of the web layer.
const (
	eTooLarge    = "too_large"
	eUnsupported = "unsupported_media_type"
	eMethod      = "method_not_allowed"
	eTimeout     = "request_timeout"
)

func statusOf(err error) int {
	if st, ok := statuses[forum.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error string `json:"error"`
}

// error answers a failed request: JSON for API and stream clients, a page
// for people. Internal errors are logged and shown only as a generic message.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	if isMachine(r) {
		writeJSON(w, status, errorBody{forum.ErrorMessage(err)})
		return
	}
	s.render(w, r, status, views.ErrorPage(s.page(r, http.StatusText(status)), status, forum.ErrorMessage(err)))
}

func isMachine(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || isStream(r)
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.error(w, r, forum.Errorf(forum.ENOTFOUND, "There is nothing at %s.", r.URL.Path))
}

func (s *Server) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.error(w, r, forum.Errorf(eMethod, "Method %s is not allowed on %s.", r.Method, r.URL.Path))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// render writes a page with the given status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(views.WithViewer(r.Context(), userFrom(r)), w); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("render page", "path", r.URL.Path, "err", err)
	}
}

// page returns what the layout needs for this request. Take it before
// reading what the page shows: it holds the position the page's live stream
// resumes from.
func (s *Server) page(r *http.Request, title string, topics ...string) views.Page {
	p := views.Page{Title: title, User: userFrom(r), Path: r.URL.RequestURI(), Topics: topics, Events: eventTopicsJSON, LastEventID: s.hub.LastEventID()}
	if p.User != nil {
		p.Topics = append(p.Topics, topicNotifications)
		n, err := s.store.UnreadCount(r.Context(), p.User.ID)
		if err != nil {
			s.log.Warn("count unread", "user", p.User.Name, "err", err)
		}
		p.Unread = n
	}
	return p
}
