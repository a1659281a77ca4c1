package relay

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// delayBuckets are the upper bounds of the forwarding-delay histogram:
// the time from the relay learning that a message arrived to the moment
// its last byte was handed to the peer's socket.
var delayBuckets = []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}

// loopStats are one event loop's counters. Only the loop writes them
// (uncontended atomics); the collector reads them.
type loopStats struct {
	conns         atomic.Int64
	bytesFromHost atomic.Int64
	bytesToHost   atomic.Int64
	msgsFromHost  atomic.Int64
	msgsToHost    atomic.Int64
	drops         atomic.Int64
	delayCount    atomic.Uint64
	delaySum      atomic.Int64 // nanoseconds
	delay         [16]atomic.Uint64
}

func (s *loopStats) observe(d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(delayBuckets) && sec > delayBuckets[i] {
		i++
	}
	s.delay[i].Add(1)
	s.delayCount.Add(1)
	s.delaySum.Add(int64(d))
}

func (s *loopStats) addTo(st *statsSnapshot) {
	st.conns += s.conns.Load()
	st.bytesFromHost += s.bytesFromHost.Load()
	st.bytesToHost += s.bytesToHost.Load()
	st.msgsFromHost += s.msgsFromHost.Load()
	st.msgsToHost += s.msgsToHost.Load()
	st.drops += s.drops.Load()
	st.delayCount += s.delayCount.Load()
	st.delaySum += time.Duration(s.delaySum.Load())
	for i := range s.delay {
		st.delay[i] += s.delay[i].Load()
	}
}

// serverStats are the counters kept outside the loops.
type serverStats struct {
	failures        [numFailures]atomic.Int64
	sessionsStarted atomic.Int64
	reportsDropped  atomic.Int64
}

type statsSnapshot struct {
	conns, bytesFromHost, bytesToHost, msgsFromHost, msgsToHost, drops int64
	delayCount                                                         uint64
	delaySum                                                           time.Duration
	delay                                                              [16]uint64
}

// Stats is a snapshot of a Server's counters (the figures /metrics
// serves).
type Stats struct {
	Sessions, Connections            int64
	SessionsStarted                  int64
	BytesFromHost, BytesToHost       int64
	MessagesFromHost, MessagesToHost int64
	Dropped                          int64
	PairingFailures                  map[string]int64
	ForwardDelayCount                uint64
	ForwardDelaySum                  time.Duration
}

// Stats returns the Server's counters.
func (s *Server) Stats() Stats {
	var st statsSnapshot
	s.eng.collect(&st)
	out := Stats{
		Sessions:          int64(s.sessionCount()),
		Connections:       s.eng.conns(),
		SessionsStarted:   s.stats.sessionsStarted.Load(),
		BytesFromHost:     st.bytesFromHost,
		BytesToHost:       st.bytesToHost,
		MessagesFromHost:  st.msgsFromHost,
		MessagesToHost:    st.msgsToHost,
		Dropped:           st.drops,
		PairingFailures:   make(map[string]int64),
		ForwardDelayCount: st.delayCount,
		ForwardDelaySum:   st.delaySum,
	}
	for i := range numFailures {
		out.PairingFailures[failureNames[i]] = s.stats.failures[i].Load()
	}
	return out
}

var (
	descSessions      = prometheus.NewDesc("deskway_relay_sessions", "Sessions open on this relay.", nil, nil)
	descSessionsTotal = prometheus.NewDesc("deskway_relay_sessions_started_total", "Sessions started on this relay.", nil, nil)
	descConns         = prometheus.NewDesc("deskway_relay_connections", "WebSocket connections open.", nil, nil)
	descBytes         = prometheus.NewDesc("deskway_relay_bytes_total", "Payload bytes forwarded, by direction.", []string{"direction"}, nil)
	descMsgs          = prometheus.NewDesc("deskway_relay_messages_total", "Messages forwarded, by direction.", []string{"direction"}, nil)
	descDrops         = prometheus.NewDesc("deskway_relay_dropped_messages_total", "Messages dropped for presentation viewers that fell behind.", nil, nil)
	descFails         = prometheus.NewDesc("deskway_relay_pairing_failures_total", "Connections refused or ended before or while pairing, by reason.", []string{"reason"}, nil)
	descDelay         = prometheus.NewDesc("deskway_relay_forward_delay_seconds", "Time from a message's arrival to its hand-off to the peer's socket.", nil, nil)
	descReports       = prometheus.NewDesc("deskway_relay_reports_dropped_total", "Session reports dropped because the report queue was full.", nil, nil)
)

// collector exports a Server's counters to Prometheus.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descSessionsTotal, descConns, descBytes, descMsgs, descDrops, descFails, descDelay, descReports} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descSessions, st.Sessions)
	counter(descSessionsTotal, st.SessionsStarted)
	gauge(descConns, st.Connections)
	counter(descBytes, st.BytesFromHost, "from_host")
	counter(descBytes, st.BytesToHost, "to_host")
	counter(descMsgs, st.MessagesFromHost, "from_host")
	counter(descMsgs, st.MessagesToHost, "to_host")
	counter(descDrops, st.Dropped)
	for _, name := range failureNames {
		counter(descFails, st.PairingFailures[name], name)
	}
	counter(descReports, c.s.stats.reportsDropped.Load())
	var snap statsSnapshot
	c.s.eng.collect(&snap)
	buckets := make(map[float64]uint64, len(delayBuckets))
	var cum uint64
	for i, ub := range delayBuckets {
		cum += snap.delay[i]
		buckets[ub] = cum
	}
	ch <- prometheus.MustNewConstHistogram(descDelay, snap.delayCount, snap.delaySum.Seconds(), buckets)
}
