package web

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"forum/forum"
	"forum/streams"
)

// Topic names as clients write them in /stream?topics=.
const (
	topicPosts         = "posts"
	topicComments      = "comments:"
	topicNotifications = "notifications"
	topicStats         = "stats"
)

// maxTopics bounds how many topics one connection may carry.
const maxTopics = 16

func (s *Server) registerStreamRoutes(r *mux.Router) {
	r.HandleFunc("", s.handleStream).Methods(http.MethodGet)
	r.HandleFunc("/posts", s.handleStreamTopic(topicPosts)).Methods(http.MethodGet)
	r.HandleFunc("/posts/{id}/comments", s.handleStreamComments).Methods(http.MethodGet)
	r.HandleFunc("/notifications", s.handleStreamTopic(topicNotifications)).Methods(http.MethodGet)
	r.HandleFunc("/stats", s.handleStreamTopic(topicStats)).Methods(http.MethodGet)
}

func (s *Server) handleStreamTopic(topic string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.serveTopics(w, r, []string{topic})
	}
}

func (s *Server) handleStreamComments(w http.ResponseWriter, r *http.Request) {
	s.serveTopics(w, r, []string{topicComments + mux.Vars(r)["id"]})
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, t := range strings.Split(r.URL.Query().Get("topics"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}
	s.serveTopics(w, r, names)
}

// serveTopics checks that the caller may watch the named topics and streams
// them.
func (s *Server) serveTopics(w http.ResponseWriter, r *http.Request, names []string) {
	topics, err := s.resolveTopics(r, names)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.hub.Serve(w, r, topics)
}

// resolveTopics turns the topic names a client asked for into hub topics,
// applying each topic's rules.
func (s *Server) resolveTopics(r *http.Request, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, forum.Errorf(forum.EINVALID, "Name at least one topic: posts, comments:<postId>, notifications or stats.")
	}
	if len(names) > maxTopics {
		return nil, forum.Errorf(forum.EINVALID, "At most %d topics per stream.", maxTopics)
	}
	seen := map[string]bool{}
	var topics []string
	for _, name := range names {
		t, err := s.resolveTopic(r, name)
		if err != nil {
			return nil, err
		}
		if !seen[t] {
			seen[t] = true
			topics = append(topics, t)
		}
	}
	return topics, nil
}

func (s *Server) resolveTopic(r *http.Request, name string) (string, error) {
	switch {
	case name == topicPosts:
		return streams.PostsTopic, nil
	case strings.HasPrefix(name, topicComments):
		id, err := forum.ParseID(strings.TrimPrefix(name, topicComments))
		if err != nil {
			return "", err
		}
		if _, err := s.store.Post(r.Context(), id); err != nil {
			return "", err
		}
		return streams.CommentsTopic(id), nil
	case name == topicNotifications:
		u, err := signedIn(r)
		if err != nil {
			return "", err
		}
		return streams.NotificationsTopic(u.ID), nil
	case name == topicStats:
		if _, err := admin(r); err != nil {
			return "", err
		}
		return streams.StatsTopic, nil
	}
	return "", forum.Errorf(forum.EINVALID, "Unknown topic %.40q: use posts, comments:<postId>, notifications or stats.", name)
}
