package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the metrics of cs, of the Go runtime and of the
// process in the Prometheus text format. Each handler has a registry of its
// own rather than the global one, so that two servers in one process, as
// tests run them, do not collide.
func MetricsHandler(cs ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Option changes how New sets a server up.
type Option func(*Server)

// WithoutMetrics leaves /metrics off the server's routes, for when
// MetricsHandler is served on an address of its own, out of the public's
// reach.
func WithoutMetrics() Option {
	return func(s *Server) { s.metrics = false }
}
