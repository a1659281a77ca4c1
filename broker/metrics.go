package broker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the broker's Prometheus metrics, on the Server's own
// registry.
type metrics struct {
	logins      *prometheus.CounterVec
	tickets     *prometheus.CounterVec
	sessions    *prometheus.CounterVec
	connections prometheus.Gauge
	hashSeconds prometheus.Histogram
	relay       *prometheus.GaugeVec
	crossOrigin prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deskway_broker_logins_total",
			Help: "Sign-in attempts by result (ok, fail, rate_limited, totp_required)."}, []string{"result"}),
		tickets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deskway_broker_tickets_issued_total",
			Help: "Relay tickets signed, by role."}, []string{"role"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "deskway_broker_sessions_started_total",
			Help: "Sessions paired, by mode."}, []string{"mode"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "deskway_broker_connections",
			Help: "Host control and support wait WebSockets on this instance."}),
		hashSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "deskway_broker_password_hash_seconds",
			Help: "Time to verify a password (Argon2id), including the wait for a hashing slot.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 10)}),
		relay: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "deskway_broker_relay_healthy",
			Help: "1 when the relay answered its last health check."}, []string{"relay"}),
		crossOrigin: prometheus.NewCounter(prometheus.CounterOpts{Name: "deskway_broker_cross_origin_refused_total",
			Help: "Cross-origin requests refused by http.CrossOriginProtection."}),
	}
	hostsOnline := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "deskway_broker_hosts_online",
		Help: "Hosts online (all instances)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs, err := s.st.ListHosts(ctx, "")
		if err != nil {
			return 0
		}
		n, now := 0, time.Now()
		for i := range hs {
			if hs[i].OnlineAt(now) {
				n++
			}
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.logins, m.tickets, m.sessions, m.connections, m.hashSeconds, m.relay, m.crossOrigin, hostsOnline} {
		reg.MustRegister(c)
	}
	// The process and Go collectors may be registered already when the
	// registry is shared with other components.
	reg.Register(collectors.NewGoCollector())
	reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, st := range s.relays.status() {
		m.relayHealth(st.ID, st.Healthy)
	}
	return m
}

func (m *metrics) relayHealth(id string, healthy bool) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.relay.WithLabelValues(id).Set(v)
}
