package fanout

import (
	"log/slog"
	"testing"
	"time"
)

// An event published on two topics reaches a listener of both once, with
// one id, live and on resume, and a listener of either one.
func TestEventOnTwoTopicsReachesEachListenerOnce(t *testing.T) {
	t.Parallel()
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 1)})
	from := h.LastEventID()
	both := newListener([]string{"posts", "comments:1"}, nil, 16, 1)
	second := newListener([]string{"comments:1"}, nil, 16, 1)
	other := newListener([]string{"comments:2"}, nil, 16, 1)
	for _, l := range []*Listener{both, second, other} {
		h.register(l, "", false)
	}
	h.Publish(0, Position{Time: 1}, []string{"posts", "comments:1"}, "post-updated", []byte(`{}`), time.Time{})
	for name, c := range map[string]struct {
		l    *Listener
		want int
	}{"both": {both, 1}, "second": {second, 1}, "other": {other, 0}} {
		if q, _ := c.l.take(nil); len(q) != c.want {
			t.Errorf("listener of %s got %d frames, want %d", name, len(q), c.want)
		}
	}

	resumed := newListener([]string{"comments:1", "posts"}, nil, 16, 1)
	h.register(resumed, from, true)
	if q, _ := resumed.take(nil); len(q) != 1 {
		t.Errorf("resumed listener of both got %d frames, want 1", len(q))
	}
}
