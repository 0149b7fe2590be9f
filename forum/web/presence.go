package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// typingWindow is how often, at most, one user's typing signals are acted
// on. The page sends one at most every 3 s; the hub keeps a typer for 8 s
// after their last, so a signal within a second of the one before adds
// nothing and is dropped.
const typingWindow = time.Second

func (s *Server) registerPresenceRoutes(r *mux.Router) {
	r.HandleFunc("/posts/{id}/typing", s.handleAPITyping).Methods(http.MethodPost)
}

// handleAPITyping says that the signed-in user is typing a comment on the
// post: 204, or 401 signed out, 404 for an unknown post. A signal within
// typingWindow of the user's last acted-on one is answered 204 at once,
// without looking the post up: spamming costs a map lookup per request.
func (s *Server) handleAPITyping(w http.ResponseWriter, r *http.Request) {
	u, err := signedIn(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if s.typing.coalesced(u.ID, time.Now()) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.hub.Typing(p.ID, u.ID, u.Name)
	w.WriteHeader(http.StatusNoContent)
}

// typingSignals remembers when each user's last typing signal was acted on.
type typingSignals struct {
	mu    sync.Mutex
	last  map[primitive.ObjectID]time.Time
	swept time.Time
}

func newTypingSignals() *typingSignals {
	return &typingSignals{last: map[primitive.ObjectID]time.Time{}}
}

// coalesced reports whether a signal of user at now comes within the
// window of their last acted-on one; if not, now becomes their last. Users
// whose last is older than the window are forgotten once per window, so
// the table holds only those who typed in the last two.
func (t *typingSignals) coalesced(user primitive.ObjectID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[user]; ok && now.Sub(last) < typingWindow {
		return true
	}
	if now.Sub(t.swept) >= typingWindow {
		t.swept = now
		for u, last := range t.last {
			if now.Sub(last) >= typingWindow {
				delete(t.last, u)
			}
		}
	}
	t.last[user] = now
	return false
}
