package streams

import (
	"github.com/prometheus/client_golang/prometheus"
)

// resetHistoryLost is the reason of the reset sent to the listeners of a
// collection whose change stream lost its history or was invalidated.
const resetHistoryLost = "history lost"

// metrics are the hub's own Prometheus metrics, beside the engine's. They
// belong to the hub, not to a global registry, so that hubs in one process
// do not share them.
type metrics struct {
	streams   *prometheus.Desc
	history   *prometheus.Desc
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
		history: prometheus.NewDesc("forum_history",
			"Events kept for clients that resume, and what they cost in memory in bytes, about.",
			[]string{"measure"}, nil),
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
		opened: map[string]prometheus.Counter{},
	}
	for _, f := range feeds {
		m.opened[f.coll] = m.openedVec.WithLabelValues(f.coll)
	}
	return m
}

// collectors are the metrics other than those read from the hub when
// collected.
func (h *Hub) collectors() []prometheus.Collector {
	return append(h.engine.Collectors(), h.metrics.openedVec, h.metrics.canaryRTT, h.metrics.stalled)
}

// Describe implements prometheus.Collector, so that the hub's metrics can
// be registered with any registry.
func (h *Hub) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.metrics.streams
	ch <- h.metrics.history
	for _, c := range h.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (h *Hub) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range h.Streams() {
		ch <- prometheus.MustNewConstMetric(h.metrics.streams, prometheus.GaugeValue, float64(n), kind)
	}
	events, bytes := h.engine.Kept()
	ch <- prometheus.MustNewConstMetric(h.metrics.history, prometheus.GaugeValue, float64(events), "events")
	ch <- prometheus.MustNewConstMetric(h.metrics.history, prometheus.GaugeValue, float64(bytes), "bytes")
	for _, c := range h.collectors() {
		c.Collect(ch)
	}
}
