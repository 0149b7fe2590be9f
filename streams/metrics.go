package streams

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a client is sent a reset, as it reads them in the event's data.
const (
	resetMalformed   = "malformed id"
	resetUnknown     = "unknown id"
	resetExpired     = "expired id"
	resetHistoryLost = "history lost"
)

// lagBuckets spans a change delivered at once (milliseconds) to one a
// client resumed with from minutes back.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// metrics are a hub's Prometheus metrics. They belong to the hub, not to a
// global registry, so that hubs in one process do not share them. Every
// counter a stream touches per write is resolved here, once: recording is
// then a few atomic operations, without lookups or allocations.
type metrics struct {
	streams   *prometheus.Desc
	delivered prometheus.Counter
	lag       prometheus.Histogram
	evicted   prometheus.Counter
	resumes   prometheus.Counter
	resetVec  *prometheus.CounterVec
	resets    map[string]prometheus.Counter // by reason
	openedVec *prometheus.CounterVec
	opened    map[string]prometheus.Counter // by collection
	canaryRTT prometheus.Gauge
	stalled   prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		streams: prometheus.NewDesc("forum_streams_open",
			"Open event streams by topic kind; a stream counts once in each kind it listens to.",
			[]string{"topic"}, nil),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forum_events_delivered_total",
			Help: "Event frames written to clients: posts, comments, notifications, unread counts, stats and resets; not heartbeats.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "forum_delivery_lag_seconds",
			Help:    "Time from a change (its document's createdAt, else its cluster time) until its frame was written to a client, replays included.",
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
		resetVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forum_resets_total",
			Help: "Reset events queued for clients, by reason.",
		}, []string{"reason"}),
		openedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forum_change_streams_opened_total",
			Help: "Change streams opened by collection; more than one per collection means restarts.",
		}, []string{"collection"}),
		canaryRTT: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forum_canary_roundtrip_seconds",
			Help: "Time the last canary document took from its write to the notifications change stream.",
		}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forum_canary_stalled",
			Help: "1 while the notifications change stream has not delivered the canary in time, else 0.",
		}),
		resets: map[string]prometheus.Counter{},
		opened: map[string]prometheus.Counter{},
	}
	for _, r := range []string{resetMalformed, resetUnknown, resetExpired, resetHistoryLost} {
		m.resets[r] = m.resetVec.WithLabelValues(strings.ReplaceAll(r, " ", "_"))
	}
	for _, c := range collections {
		m.opened[c] = m.openedVec.WithLabelValues(c)
	}
	return m
}

// collectors are the metrics other than the open streams, which are read
// from the hub when collected.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.delivered, m.lag, m.evicted, m.resumes, m.resetVec, m.openedVec, m.canaryRTT, m.stalled}
}

// Describe implements prometheus.Collector, so that the hub's metrics can
// be registered with any registry.
func (h *Hub) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.metrics.streams
	for _, c := range h.metrics.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (h *Hub) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range h.Streams() {
		ch <- prometheus.MustNewConstMetric(h.metrics.streams, prometheus.GaugeValue, float64(n), kind)
	}
	for _, c := range h.metrics.collectors() {
		c.Collect(ch)
	}
}

// written records that frames were written to a client at now: how many,
// and how late each one that carries a change was.
func (m *metrics) written(frames []*frame, now time.Time) {
	m.delivered.Add(float64(len(frames)))
	for _, f := range frames {
		if !f.at.IsZero() {
			m.lag.Observe(max(now.Sub(f.at), 0).Seconds())
		}
	}
}

// changeTime returns when a change happened: its document's createdAt for
// an insert, whose clock has sub-second precision, else its cluster time,
// which has whole seconds.
func changeTime(c change) time.Time {
	if c.OperationType == "insert" {
		if t, ok := c.FullDocument.Lookup("createdAt").TimeOK(); ok {
			return t
		}
	}
	return time.Unix(int64(c.ClusterTime.T), 0)
}
