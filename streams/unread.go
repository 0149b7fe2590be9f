package streams

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/streams/fanout"
)

// unreadQueue holds the users whose unread counts changed, for the unread
// loop to count: a count is a query, and queries never run on a change
// stream's goroutine, whose getMores would wait for them.
type unreadQueue struct {
	signal chan struct{} // capacity 1: users were marked since the last take
	mu     sync.Mutex
	users  map[primitive.ObjectID]struct{}
}

func newUnreadQueue() unreadQueue {
	return unreadQueue{signal: make(chan struct{}, 1), users: map[primitive.ObjectID]struct{}{}}
}

// mark queues users; a user marked twice before the loop gets to them is
// counted once.
func (q *unreadQueue) mark(users []primitive.ObjectID) {
	q.mu.Lock()
	for _, u := range users {
		q.users[u] = struct{}{}
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take returns the marked users and forgets them.
func (q *unreadQueue) take() []primitive.ObjectID {
	q.mu.Lock()
	defer q.mu.Unlock()
	users := make([]primitive.ObjectID, 0, len(q.users))
	for u := range q.users {
		users = append(users, u)
	}
	clear(q.users)
	return users
}

// unreadLoop sends the unread count of each marked user that has
// listeners, once for all of them, until ctx is done.
func (h *Hub) unreadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.unread.signal:
		}
		for _, id := range h.unread.take() {
			topic := NotificationsTopic(id)
			if !h.engine.Listened(topic) {
				continue
			}
			if f, ok := h.unreadFrame(ctx, topic, id); ok {
				h.engine.Send(topic, f)
			}
		}
	}
}

// unreadFrame returns a user's unread count as a frame.
func (h *Hub) unreadFrame(ctx context.Context, topic string, id primitive.ObjectID) (*fanout.Frame, bool) {
	n, err := h.store.UnreadCount(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("count unread notifications", "user", id.Hex(), "error", err)
		}
		return nil, false
	}
	return fanout.NewState("unread "+topic, EventUnread, fmt.Appendf(nil, `{"count":%d}`, n)), true
}

// first queues what a new listener gets first: the unread count of each
// user whose notifications it listens to, and the stats if it watches them.
func (h *Hub) first(ctx context.Context, l *fanout.Listener) {
	for _, t := range l.Topics() {
		if t == StatsTopic {
			h.firstStats(l)
			continue
		}
		hex, ok := strings.CutPrefix(t, notificationsKind+":")
		if !ok {
			continue
		}
		id, _ := primitive.ObjectIDFromHex(hex)
		if f, ok := h.unreadFrame(ctx, t, id); ok {
			l.PushFirst(f)
		}
	}
}
