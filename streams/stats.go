package streams

import (
	"context"
	"encoding/json"
	"time"

	"forum/forum"
	"forum/streams/fanout"
)

// statsEvent is the data of a stats event.
type statsEvent struct {
	forum.Stats
	Streams map[string]int `json:"streams"`
	At      string         `json:"at"`
}

// statsLoop computes the stats once per interval while anyone watches them,
// and at once when a new viewer finds no fresh snapshot. It also trims the
// history.
func (h *Hub) statsLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.engine.Trim(now)
			if !h.engine.Listened(StatsTopic) {
				continue
			}
		case <-h.kick:
		}
		h.computeStats(ctx)
		t.Reset(h.opts.StatsInterval)
	}
}

// computeStats computes a snapshot and sends it to every viewer.
func (h *Hub) computeStats(ctx context.Context) {
	h.computed.Add(1)
	st, err := h.store.Stats(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statsDue = false
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("compute stats", "error", err)
		}
		return
	}
	now := time.Now()
	data, err := json.Marshal(statsEvent{Stats: st, Streams: h.Streams(), At: now.UTC().Format(time.RFC3339)})
	if err != nil {
		h.log.Error("encode stats", "error", err)
		return
	}
	h.stats, h.statsAt = fanout.NewState(StatsTopic, EventStats, data), now
	h.engine.Send(StatsTopic, h.stats)
}

// firstStats gives a new viewer the latest snapshot if it is fresh, or asks
// for one, which goes to every viewer.
func (h *Hub) firstStats(l *fanout.Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stats != nil && time.Since(h.statsAt) < h.opts.StatsInterval {
		l.PushFirst(h.stats)
		return
	}
	if !h.statsDue {
		h.statsDue = true
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}
