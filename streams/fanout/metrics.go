package fanout

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagBuckets spans an event delivered at once (milliseconds) to one a
// client resumed with from minutes back.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// metrics are a hub's Prometheus metrics. They belong to the hub, not to a
// global registry, so that hubs in one process do not share them. Every
// counter a stream touches per write is resolved here, once: recording is
// then a few atomic operations, without lookups or allocations.
type metrics struct {
	delivered prometheus.Counter
	lag       prometheus.Histogram
	evicted   prometheus.Counter
	resumes   prometheus.Counter
	resets    *prometheus.CounterVec
	catchUp   prometheus.Gauge
}

func newMetrics(reasons []string) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forum_events_delivered_total",
			Help: "Event frames written to clients, states and resets included; not heartbeats.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "forum_delivery_lag_seconds",
			Help:    "Time from an event (its document's createdAt, else its cluster time) until its frame was written to a client, replays included.",
			Buckets: lagBuckets,
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forum_listeners_evicted_total",
			Help: "Streams cut off because they fell behind.",
		}),
		resumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forum_resumes_total",
			Help: "Streams that resumed from the history after their last event id.",
		}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forum_resets_total",
			Help: "Reset events queued for clients, by reason.",
		}, []string{"reason"}),
		catchUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forum_streams_catching_up",
			Help: "Streams waiting for this instance to get as far as their last event id, which another instance sent.",
		}),
	}
	for _, r := range append([]string{ResetMalformed, ResetUnknown, ResetExpired}, reasons...) {
		m.reset(r, 0)
	}
	return m
}

// reset counts n resets for reason.
func (m *metrics) reset(reason string, n int) {
	m.resets.WithLabelValues(strings.ReplaceAll(reason, " ", "_")).Add(float64(n))
}

// Collectors returns the hub's metrics, to register with any registry.
func (h *Hub) Collectors() []prometheus.Collector {
	m := h.metrics
	return []prometheus.Collector{m.delivered, m.lag, m.evicted, m.resumes, m.resets, m.catchUp}
}

// written records that frames were written to a client at now: how many,
// and how late each one that carries an event was.
func (m *metrics) written(frames []*Frame, now time.Time) {
	m.delivered.Add(float64(len(frames)))
	for _, f := range frames {
		if !f.at.IsZero() {
			m.lag.Observe(max(now.Sub(f.at), 0).Seconds())
		}
	}
}
