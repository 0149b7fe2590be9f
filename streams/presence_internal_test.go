package streams

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPresenceWriteCostAtScale drives one instance's presence with 10,000
// readers over 100 threads, of whom 100 a second join or leave, over a
// minute of simulated time, and counts what it writes: it depends on the
// threads that change, at most one entry write per thread per interval,
// and not on the readers.
func TestPresenceWriteCostAtScale(t *testing.T) {
	t.Parallel()
	const (
		threads  = 100
		viewers  = 10000
		churn    = 100 // joins and leaves a second
		duration = time.Minute
	)
	opts := Options{}.withDefaults()
	p := newPresence(slog.New(slog.DiscardHandler), nil, opts, func() {})
	topics := make([]string, threads)
	counts := make([]int, threads)
	for i := range topics {
		topics[i] = fmt.Sprintf("comments:%024x", i)
		counts[i] = viewers / threads
		p.listeners(topics[i], counts[i])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1_000_000, 0)
	tick := opts.PresenceInterval / 4
	p.due(start) // the first summary and entries

	var requests, entries, summaries int
	for now := start.Add(tick); now.Sub(start) <= duration; now = now.Add(tick) {
		for range int(churn * tick / time.Second) {
			i := rng.IntN(threads)
			counts[i] += []int{-1, 1}[rng.IntN(2)]
			p.listeners(topics[i], counts[i])
		}
		models, written, summary := p.due(now)
		if len(models) > 0 {
			requests++
		}
		entries += len(written)
		if summary {
			summaries++
		}
	}
	secs := duration.Seconds()
	t.Logf("per second: %.1f requests, %.1f thread entries, %.2f summaries (viewers %d, threads %d, churn %d/s)",
		float64(requests)/secs, float64(entries)/secs, float64(summaries)/secs, viewers, threads, churn)
	if perSec := float64(entries) / secs; perSec > threads/opts.PresenceInterval.Seconds() {
		t.Errorf("%.1f entry writes a second, more than one per thread per interval", perSec)
	}
	if perSec := float64(requests) / secs; perSec > float64(time.Second/tick) {
		t.Errorf("%.1f write requests a second, more than one per tick", perSec)
	}
	if max := secs/opts.OnlineInterval.Seconds() + 1; float64(summaries) > max {
		t.Errorf("%d summaries in %v, want at most %.0f", summaries, duration, max)
	}
}
