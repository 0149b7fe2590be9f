package streams

import (
	"context"
	"encoding/json"
	"time"

	"forum/forum"
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
			h.trim(now)
			if !h.listened(StatsTopic) {
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
	data, err := json.Marshal(statsEvent{Stats: st, Streams: h.streams(), At: now.UTC().Format(time.RFC3339)})
	if err != nil {
		h.log.Error("encode stats", "error", err)
		return
	}
	h.stats, h.statsAt = newPlainFrame("stats", data), now
	for l := range h.topics[StatsTopic] {
		l.push(h.stats)
	}
}
