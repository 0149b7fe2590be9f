package streams

import (
	"context"
	"net/http"
	"time"

	"forum/streams/fanout"
)

// readyWait is how long a new stream waits for the hub to catch up before
// it is sent away to retry.
const readyWait = 10 * time.Second

// Serve streams the events of topics to the client until it goes, falls
// behind, or the hub stops or turns unhealthy. The caller has checked that
// the client may listen to them. A client that sends Last-Event-ID, or the
// lastEventId query parameter, first gets every event of its topics after
// that id; if the hub cannot tell what came after it, the client gets a
// reset event. While the hub is not ready, clients are sent away with a
// jittered retry delay, to come back here or go to a healthy instance.
// A stream of a context from AsUser counts as its user online, any other
// as a guest.
// ended, if not nil, is called once when the stream is over, served or
// refused; Serve may return before.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, topics []string, ended func()) {
	if ended == nil {
		ended = func() {}
	}
	topics, kinds, err := parseTopics(topics)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		ended()
		return
	}
	if !h.await(r.Context()) {
		fanout.Refuse(w, time.Second, 3*time.Second)
		ended()
		return
	}
	if err := h.Ready(); err != nil {
		fanout.Refuse(w, 2*time.Second, 10*time.Second)
		ended()
		return
	}
	// Every stream also listens to its online topic, whose listeners are
	// who is online (see presence.go).
	topics = append(topics, onlineTopic(viewer(r.Context())))
	first := func(ctx context.Context, l *fanout.Listener) {
		h.first(ctx, l)
		h.presence.first(l)
	}
	h.engine.Serve(w, r, fanout.Subscription{Topics: topics, Kinds: kinds, First: first, Ended: ended})
}

// RefuseBusy answers a stream request the way a full hub does, with a long
// jittered retry delay, for callers that keep limits of their own.
func RefuseBusy(w http.ResponseWriter) {
	fanout.RefuseBusy(w)
}

// await waits until the hub has caught up with its history.
func (h *Hub) await(ctx context.Context) bool {
	t := time.NewTimer(readyWait)
	defer t.Stop()
	select {
	case <-h.ready:
		return true
	case <-ctx.Done():
	case <-h.done:
	case <-t.C:
	}
	return false
}
