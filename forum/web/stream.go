package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

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

// eventTopics says which of a client's topics each event is sent on, for
// the browser's live worker, which routes the events of one connection to
// the tabs that show their topics. A "{field}" in a topic stands for that
// field of the event's data.
var eventTopics = map[string][]string{
	streams.EventPost:           {topicPosts},
	streams.EventPostUpdated:    {topicPosts, topicComments + "{id}"},
	streams.EventPostDeleted:    {topicPosts, topicComments + "{id}"},
	streams.EventComment:        {topicComments + "{postId}"},
	streams.EventCommentUpdated: {topicComments + "{postId}"},
	streams.EventCommentDeleted: {topicComments + "{postId}"},
	streams.EventNotification:   {topicNotifications},
	streams.EventUnread:         {topicNotifications},
	streams.EventStats:          {topicStats},
	streams.EventPresence:       {topicComments + "{postId}"},
	streams.EventOnline:         {topicPosts},
}

// eventTopicsJSON is eventTopics as pages hand it to the browser.
var eventTopicsJSON = func() string {
	b, _ := json.Marshal(eventTopics) // a map of strings always encodes
	return string(b)
}()

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
	var user string
	if u := userFrom(r); u != nil {
		user = u.ID.Hex()
		r = r.WithContext(streams.AsUser(r.Context(), u.ID))
	}
	release, ok := s.streams.take(user, clientHost(r))
	if !ok {
		s.log.Warn("stream refused: client at its limit of open streams", "client", clientHost(r), "signed_in", user != "")
		streams.RefuseBusy(w)
		return
	}
	s.hub.Serve(w, r, topics, release)
}

// Default bounds on the streams one client may hold open.
const (
	defaultUserStreams    = 8
	defaultAddressStreams = 64
)

// WithStreamLimits bounds how many streams one signed-in user, and one
// client address, may hold open at once; a stream over either is refused
// as one over the hub's own limit is. A bound of zero or less, like no
// option, takes its default: 8 per user, 64 per address.
func WithStreamLimits(perUser, perAddress int) Option {
	return func(s *Server) {
		if perUser > 0 {
			s.streams.maxUser = perUser
		}
		if perAddress > 0 {
			s.streams.maxAddress = perAddress
		}
	}
}

// streamCounts counts the open streams of each signed-in user and each
// client address, so that one client cannot take every place the hub has.
type streamCounts struct {
	maxUser, maxAddress int

	mu   sync.Mutex
	open map[string]int // by "user <id>" and "address <address>"
}

func newStreamCounts() *streamCounts {
	return &streamCounts{maxUser: defaultUserStreams, maxAddress: defaultAddressStreams, open: map[string]int{}}
}

// take counts a stream of user (empty when signed out) from address, and
// returns the function that uncounts it, or false if either is at its
// bound.
func (c *streamCounts) take(user, address string) (release func(), ok bool) {
	keys := []string{"address " + address}
	limits := []int{c.maxAddress}
	if user != "" {
		keys = append(keys, "user "+user)
		limits = append(limits, c.maxUser)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if c.open[k] >= limits[i] {
			return nil, false
		}
	}
	for _, k := range keys {
		c.open[k]++
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, k := range keys {
			if c.open[k]--; c.open[k] <= 0 {
				delete(c.open, k)
			}
		}
	}, true
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
