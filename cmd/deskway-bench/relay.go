package main

import (
	"bufio"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deskway/deskway/proto"
)

func init() {
	commands["relay"] = command{
		summary: "drive a deskway-relay process with N sessions and report latency, CPU and memory",
		run:     runRelay,
	}
}

const benchRelayID = "bench"

type relayFlags struct {
	json                    bool
	runs, sessions          int
	rate, size              int
	duration, warmup        time.Duration
	procs                   int
	relayBin                string
	direct                  bool
	mode                    string
	loops                   int
	relayArgs               string
	worker, echoServer      bool
	viewerEcho              string
	wp                      workerParams
	echoListen, relayListen string
	proxy                   string
	endpoints               string
	proxyWorkers            int
	forward                 string
}

func parseRelayFlags(args []string) (*relayFlags, error) {
	f := &relayFlags{}
	fs := flag.NewFlagSet("deskway-bench relay", flag.ContinueOnError)
	fs.BoolVar(&f.json, "json", false, "Print one JSON object (relayMedians over the runs) instead of a table.")
	fs.IntVar(&f.runs, "runs", 3, "Runs; each starts a fresh relay; the figures reported are the relayMedians.")
	fs.IntVar(&f.sessions, "sessions", 100, "Sessions (a host and a viewer each) through the relay, and as many pairs of direct echo connections.")
	fs.IntVar(&f.rate, "rate", 4096, "Bytes per second each way per session (load mode).")
	fs.IntVar(&f.size, "size", 400, "Message size in bytes (at least 20: timestamp, sequence, flow).")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "Measured time of each run, after -warmup.")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "Load before the measurement starts.")
	fs.DurationVar(&f.wp.Phase, "phase", time.Second, "Relay and direct alternate in phases this long (relay, direct, relay, …; same connections and pacing); 0 drives both at once.")
	fs.IntVar(&f.procs, "procs", 0, "Load-generator processes (0: 2, or one per 4 000 sessions; a process may open at most 20 000 files here).")
	fs.StringVar(&f.relayBin, "relay", "", "deskway-relay binary (default: next to this binary, then bin/, then $PATH).")
	fs.BoolVar(&f.direct, "direct", true, "Also drive the direct WebSocket echo path with the same load, in phases alternating with the relay's (-phase), for the added latency.")
	fs.StringVar(&f.mode, "mode", "load", "load: N paced sessions; throughput: one session as fast as it goes, relay vs direct; rtt: one session, 1 message in flight, round trips relay vs direct.")
	fs.IntVar(&f.loops, "loops", 0, "Relay event loops (-loops of deskway-relay; 0: its default).")
	fs.StringVar(&f.proxy, "proxy", "", "A reference proxy to measure on the same load, in front of the echo server: the path of an nginx or haproxy binary, or go (a plain Go TCP forwarder). Load mode: a TCP proxy, its CPU per forwarded message; throughput and rtt: a WebSocket proxy, a third path.")
	fs.StringVar(&f.forward, "forward", "", "internal: run the plain Go TCP forwarder to this address, listening on -echo-listen")
	fs.StringVar(&f.endpoints, "endpoints", "raw", "Throughput mode: raw (the bench's minimal framing, all-zero mask key: the least an endpoint costs), ws (the agent's and viewers' proto/ws over coder/websocket, random mask keys, whole messages, a message's writes gathered into one) or ws-unbatched (the same with coder/websocket's own writes: 4 KiB each) on both paths.")
	fs.IntVar(&f.proxyWorkers, "proxy-workers", 2, "nginx worker processes or haproxy threads with -proxy.")
	fs.StringVar(&f.relayArgs, "relay-args", "", "More flags for deskway-relay, space-separated (e.g. \"-pprof-addr 127.0.0.1:6060\").")
	// Internal: the worker and echo-server processes the coordinator starts.
	fs.BoolVar(&f.worker, "worker", false, "internal: run as a load-generator worker")
	fs.BoolVar(&f.echoServer, "echo-server", false, "internal: run the direct echo server")
	fs.StringVar(&f.viewerEcho, "viewer-echo", "", "internal: join this session (hex id) as the viewer and echo every message")
	fs.StringVar(&f.echoListen, "echo-listen", "127.0.0.1:0", "internal: echo server address")
	fs.StringVar(&f.wp.RelayAddr, "relay-addr", "", "internal: relay host:port")
	fs.StringVar(&f.wp.EchoAddr, "echo-addr", "", "internal: echo host:port")
	fs.StringVar(&f.wp.KeyFile, "key-file", "", "internal: ticket signing key seed")
	fs.IntVar(&f.wp.First, "first", 0, "internal: first session number")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.size < 20 {
		return nil, fmt.Errorf("-size %d: at least 20", f.size)
	}
	if f.endpoints != "raw" && f.endpoints != "ws" && f.endpoints != "ws-unbatched" {
		return nil, fmt.Errorf("-endpoints %q: want raw, ws or ws-unbatched", f.endpoints)
	}
	if f.endpoints != "raw" && f.proxy != "" {
		return nil, errors.New("-proxy measures with the raw endpoints only; leave out -endpoints")
	}
	if f.wp.Phase < 0 {
		return nil, errors.New("-phase must not be negative")
	}
	if f.rate <= 0 || f.sessions <= 0 || f.runs <= 0 {
		return nil, errors.New("-rate, -sessions and -runs must be positive")
	}
	f.wp.RelayID, f.wp.Rate, f.wp.Size = benchRelayID, f.rate, f.size
	f.wp.Warmup, f.wp.Duration, f.wp.Direct = f.warmup, f.duration, f.direct
	f.wp.Count = f.sessions
	return f, nil
}

func runRelay(args []string) error {
	f, err := parseRelayFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	raiseNoFile()
	switch {
	case f.worker:
		return runWorker(f.wp)
	case f.echoServer:
		return serveEcho(f.echoListen)
	case f.forward != "":
		return serveForward(f.echoListen, f.forward)
	case f.viewerEcho != "":
		return viewerEcho(f)
	}
	bin, err := findRelayBin(f.relayBin)
	if err != nil {
		return err
	}
	switch f.mode {
	case "load":
		return runLoad(f, bin)
	case "throughput", "rtt":
		return runSingle(f, bin)
	}
	return fmt.Errorf("-mode %q: want load, throughput or rtt", f.mode)
}

func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr().String())
	var h http.Handler = http.HandlerFunc(echoHandler)
	if os.Getenv("DESKWAY_BENCH_NOLOOP") == "" {
		if lh, err := echoLoops(); err == nil {
			h = lh
		}
	}
	return (&http.Server{Handler: h}).Serve(ln)
}

func findRelayBin(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "deskway-relay")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("bin/deskway-relay"); err == nil {
		return filepath.Abs("bin/deskway-relay")
	}
	if p, err := exec.LookPath("deskway-relay"); err == nil {
		return p, nil
	}
	return "", errors.New("no deskway-relay binary: build it (make build) or pass -relay")
}

// child is a child process of the bench.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func (p *child) stop(sig os.Signal) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	stopCmd(p.cmd, sig, 10*time.Second)
}

// stopCmd sends sig to cmd's process and waits for it to exit, killing it
// after grace.
func stopCmd(cmd *exec.Cmd, sig os.Signal, grace time.Duration) {
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

func startProc(name string, args ...string) (*child, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return &child{cmd: cmd, stdin: in, out: sc}, nil
}

// line reads the next line of p's stdout.
func (p *child) line() (string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%s exited", filepath.Base(p.cmd.Path))
	}
	return p.out.Text(), nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// relayEnv is a prepared bench environment: the ticket key and files.
type relayEnv struct {
	dir      string
	keyFile  string
	keysFile string
}

func newRelayEnv() (*relayEnv, error) {
	dir, err := os.MkdirTemp("", "deskway-bench-relay-")
	if err != nil {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	key := ed25519.NewKeyFromSeed(seed)
	e := &relayEnv{dir: dir, keyFile: filepath.Join(dir, "key"), keysFile: filepath.Join(dir, "ticket-keys")}
	if err := os.WriteFile(e.keyFile, seed, 0o600); err != nil {
		return nil, err
	}
	keys := proto.FormatTicketKeys(proto.TicketKeys{"bench": key.Public().(ed25519.PublicKey)})
	if err := os.WriteFile(e.keysFile, []byte(keys), 0o600); err != nil {
		return nil, err
	}
	return e, nil
}

// startRelay starts the relay binary and waits for /healthz.
func startRelay(bin string, e *relayEnv, f *relayFlags) (*child, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	args := []string{"-listen", addr, "-relay-id", benchRelayID, "-ticket-keys", e.keysFile, "-log-level", "warn",
		"-max-sessions", strconv.Itoa(f.sessions + 100)}
	if f.loops > 0 {
		args = append(args, "-loops", strconv.Itoa(f.loops))
	}
	args = append(args, strings.Fields(f.relayArgs)...)
	p, err := startProc(bin, args...)
	if err != nil {
		return nil, "", err
	}
	for range 100 {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, addr, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop(os.Kill)
	return nil, "", errors.New("relay did not become healthy")
}

func startEcho() (*child, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc(exe, "relay", "-echo-server")
	if err != nil {
		return nil, "", err
	}
	l, err := p.line()
	if err != nil {
		return nil, "", err
	}
	addr, ok := strings.CutPrefix(l, "listening ")
	if !ok {
		p.stop(os.Kill)
		return nil, "", fmt.Errorf("echo server said %q", l)
	}
	return p, addr, nil
}

// procStat returns a process's CPU time (user+system) and RSS.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state): utime is field 14, stime 15, rss 24.
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	pages, _ := strconv.ParseInt(fields[21], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, pages * int64(os.Getpagesize()), nil
}

// scrapeMetrics returns the sum of the samples of the named metrics.
func scrapeMetrics(addr string, names ...string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(line, "} ")
		}
		if !slices.Contains(names, name) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			out[name] += v
		}
	}
	return out, nil
}

func relayLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// loadResult is one run's (or the relayMedians') figures.
type loadResult struct {
	Sessions     int     `json:"sessions"`
	MsgsPerS     float64 `json:"msgs_per_s"`
	Lost         int64   `json:"lost"`
	P50          float64 `json:"p50_us"`
	P99          float64 `json:"p99_us"`
	P999         float64 `json:"p999_us"`
	DirectP50    float64 `json:"direct_p50_us"`
	DirectP99    float64 `json:"direct_p99_us"`
	DirectP999   float64 `json:"direct_p999_us"`
	AddedP50     float64 `json:"added_p50_us"`
	AddedP99     float64 `json:"added_p99_us"`
	CPUPerMsg    float64 `json:"cpu_us_per_msg"`
	RelayCPU     float64 `json:"relay_cpu_cores"`
	RSSPerConn   float64 `json:"rss_bytes_per_conn"`
	RSSIdle      int64   `json:"rss_idle_bytes"`
	RSSLoad      int64   `json:"rss_load_bytes"`
	Goroutines   float64 `json:"goroutines"`
	GenMsgsPerS  float64 `json:"generator_msgs_per_s"`
	GenCPU       float64 `json:"generator_cpu_cores"`
	GenCPUPerMsg float64 `json:"generator_cpu_us_per_msg"`
	EchoCPU      float64 `json:"echo_cpu_cores"`
	// With -proxy: a reference proxy in front of the echo server on the direct path.
	Proxy           string  `json:"proxy,omitempty"`
	ProxyCPUPerMsg  float64 `json:"proxy_cpu_us_per_msg,omitempty"`
	ProxyCPU        float64 `json:"proxy_cpu_cores,omitempty"`
	DirectLost      int64   `json:"direct_lost"`
	Load            string  `json:"load_avg"`
	Runs            int     `json:"runs"`
	Size            int     `json:"size"`
	Rate            int     `json:"rate"`
	DurationSeconds float64 `json:"duration_s"`
	PhaseSeconds    float64 `json:"phase_s"`
	// Over the phases of a run, robust to one phase that another process
	// disturbed: the median of the phases' p99s, and of relay p99 minus
	// the next direct phase's p99.
	PhaseP99       float64       `json:"relay_phase_p99_median_us,omitempty"`
	DirectPhaseP99 float64       `json:"direct_phase_p99_median_us,omitempty"`
	AddedP99Paired float64       `json:"added_p99_paired_us,omitempty"`
	Phases         []phaseResult `json:"phases,omitempty"`
	PerRun         []loadResult  `json:"per_run,omitempty"`
}

// phaseResult is one phase of one run: the path it drove and its figures
// (messages sent in the measured window).
type phaseResult struct {
	Phase int     `json:"phase"`
	Path  string  `json:"path"`
	Sent  uint64  `json:"sent"`
	Lost  int64   `json:"lost"`
	P50   float64 `json:"p50_us"`
	P99   float64 `json:"p99_us"`
}

func runLoad(f *relayFlags, bin string) error {
	e, err := newRelayEnv()
	if err != nil {
		return err
	}
	defer os.RemoveAll(e.dir)
	var results []loadResult
	for run := range f.runs {
		r, err := loadRun(f, bin, e)
		if err != nil {
			return fmt.Errorf("run %d: %w", run+1, err)
		}
		if !f.json {
			fmt.Fprintf(os.Stderr, "run %d: %s\n", run+1, r.summary())
		}
		results = append(results, r)
	}
	m := relayMedians(results)
	if len(results) > 1 {
		m.PerRun, m.Phases = results, nil
	}
	if f.json {
		b, _ := json.Marshal(m)
		fmt.Println(string(b))
		return nil
	}
	m.table(os.Stdout)
	return nil
}

func (r *loadResult) summary() string {
	return fmt.Sprintf("%d sessions, %.0f msg/s, lost %d, p50/p99/p999 %.0f/%.0f/%.0f µs (direct %.0f/%.0f/%.0f), added p99 %.0f µs, relay %.2f µs/msg, %.0f B/conn idle, load %s",
		r.Sessions, r.MsgsPerS, r.Lost, r.P50, r.P99, r.P999, r.DirectP50, r.DirectP99, r.DirectP999, r.AddedP99, r.CPUPerMsg, r.RSSPerConn, r.Load)
}

func (r *loadResult) table(w io.Writer) {
	fmt.Fprintf(w, "relay bench: %d sessions, %d B messages at %d B/s each way, %v measured, median of %d runs (load avg %s)\n",
		r.Sessions, r.Size, r.Rate, time.Duration(r.DurationSeconds*float64(time.Second)), r.Runs, r.Load)
	row := func(k, v string) { fmt.Fprintf(w, "  %-34s %s\n", k, v) }
	row("messages/s through the relay", fmt.Sprintf("%.0f", r.MsgsPerS))
	row("lost messages", fmt.Sprintf("%d (direct %d)", r.Lost, r.DirectLost))
	row("one-way latency relay p50/p99/p999", fmt.Sprintf("%.0f / %.0f / %.0f µs", r.P50, r.P99, r.P999))
	row("one-way latency direct p50/p99/p999", fmt.Sprintf("%.0f / %.0f / %.0f µs", r.DirectP50, r.DirectP99, r.DirectP999))
	row("added by the relay p50/p99", fmt.Sprintf("%.0f / %.0f µs", r.AddedP50, r.AddedP99))
	if r.PhaseP99 != 0 {
		row("median phase p99 relay/direct/added", fmt.Sprintf("%.0f / %.0f / %.0f µs (added: relay phase minus the next direct phase)", r.PhaseP99, r.DirectPhaseP99, r.AddedP99Paired))
	}
	row("relay CPU per forwarded message", fmt.Sprintf("%.2f µs (%.2f cores)", r.CPUPerMsg, r.RelayCPU))
	if r.Proxy != "" {
		row("reference: "+r.Proxy+" CPU per forward", fmt.Sprintf("%.2f µs (%.2f cores; the direct path goes through it, so direct latencies include it)", r.ProxyCPUPerMsg, r.ProxyCPU))
	}
	row("relay RSS per idle connection", fmt.Sprintf("%.0f B (%.1f MiB idle, %.1f MiB under load)", r.RSSPerConn, float64(r.RSSIdle)/(1<<20), float64(r.RSSLoad)/(1<<20)))
	row("relay goroutines", fmt.Sprintf("%.0f", r.Goroutines))
	row("load generator / echo server CPU", fmt.Sprintf("%.2f cores, %.1f µs per message sent and received / %.2f cores", r.GenCPU, r.GenCPUPerMsg, r.EchoCPU))
	runs := r.PerRun
	if runs == nil {
		runs = []loadResult{*r}
	}
	if r.PhaseSeconds > 0 && len(runs[0].Phases) > 1 {
		fmt.Fprintf(w, "  phases of %v, p99 in µs (relay, direct alternating; p50 in brackets):\n", time.Duration(r.PhaseSeconds*float64(time.Second)))
		for i, rr := range runs {
			fmt.Fprintf(w, "    run %d:", i+1)
			for _, ph := range rr.Phases {
				fmt.Fprintf(w, " %s %.0f (%.0f)", ph.Path[:1], ph.P99, ph.P50)
			}
			fmt.Fprintln(w)
		}
	}
}

func relayMedians(rs []loadResult) loadResult {
	med := func(get func(*loadResult) float64) float64 {
		v := make([]float64, len(rs))
		for i := range rs {
			v[i] = get(&rs[i])
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := rs[0]
	m.Runs = len(rs)
	m.MsgsPerS = med(func(r *loadResult) float64 { return r.MsgsPerS })
	m.Lost = int64(med(func(r *loadResult) float64 { return float64(r.Lost) }))
	m.DirectLost = int64(med(func(r *loadResult) float64 { return float64(r.DirectLost) }))
	m.P50 = med(func(r *loadResult) float64 { return r.P50 })
	m.P99 = med(func(r *loadResult) float64 { return r.P99 })
	m.P999 = med(func(r *loadResult) float64 { return r.P999 })
	m.DirectP50 = med(func(r *loadResult) float64 { return r.DirectP50 })
	m.DirectP99 = med(func(r *loadResult) float64 { return r.DirectP99 })
	m.DirectP999 = med(func(r *loadResult) float64 { return r.DirectP999 })
	m.AddedP50 = med(func(r *loadResult) float64 { return r.AddedP50 })
	m.AddedP99 = med(func(r *loadResult) float64 { return r.AddedP99 })
	m.CPUPerMsg = med(func(r *loadResult) float64 { return r.CPUPerMsg })
	m.PhaseP99 = med(func(r *loadResult) float64 { return r.PhaseP99 })
	m.DirectPhaseP99 = med(func(r *loadResult) float64 { return r.DirectPhaseP99 })
	m.AddedP99Paired = med(func(r *loadResult) float64 { return r.AddedP99Paired })
	m.RelayCPU = med(func(r *loadResult) float64 { return r.RelayCPU })
	m.RSSPerConn = med(func(r *loadResult) float64 { return r.RSSPerConn })
	m.RSSIdle = int64(med(func(r *loadResult) float64 { return float64(r.RSSIdle) }))
	m.RSSLoad = int64(med(func(r *loadResult) float64 { return float64(r.RSSLoad) }))
	m.Goroutines = med(func(r *loadResult) float64 { return r.Goroutines })
	m.GenMsgsPerS = med(func(r *loadResult) float64 { return r.GenMsgsPerS })
	m.GenCPU = med(func(r *loadResult) float64 { return r.GenCPU })
	m.GenCPUPerMsg = med(func(r *loadResult) float64 { return r.GenCPUPerMsg })
	m.EchoCPU = med(func(r *loadResult) float64 { return r.EchoCPU })
	m.ProxyCPUPerMsg = med(func(r *loadResult) float64 { return r.ProxyCPUPerMsg })
	m.ProxyCPU = med(func(r *loadResult) float64 { return r.ProxyCPU })
	m.Load = relayLoadAvg()
	return m
}

func loadRun(f *relayFlags, bin string, e *relayEnv) (loadResult, error) {
	res := loadResult{Sessions: f.sessions, Size: f.size, Rate: f.rate, DurationSeconds: f.duration.Seconds()}
	// The share of the time each path is driven.
	share := 1.0
	if f.direct && f.wp.Phase > 0 {
		share = 0.5
		res.PhaseSeconds = f.wp.Phase.Seconds()
	}
	relay, raddr, err := startRelay(bin, e, f)
	if err != nil {
		return res, err
	}
	defer relay.stop(syscall.SIGTERM)
	var echo *child
	var eaddr string
	if f.direct {
		if echo, eaddr, err = startEcho(); err != nil {
			return res, err
		}
		defer echo.stop(os.Kill)
	}
	var proxy *proxyProc
	if f.proxy != "" {
		if !f.direct {
			return res, errors.New("-proxy needs the direct path (-direct)")
		}
		if proxy, err = startProxy(f.proxy, "stream", eaddr, f.proxyWorkers); err != nil {
			return res, err
		}
		defer proxy.stop()
		eaddr = proxy.addr // the direct flows go through the proxy
		res.Proxy = proxy.label("stream")
	}
	pid := relay.cmd.Process.Pid
	time.Sleep(300 * time.Millisecond)
	_, rss0, err := procStat(pid)
	if err != nil {
		return res, err
	}

	procs := f.procs
	if procs <= 0 {
		procs = max(2, (f.sessions+3999)/4000)
	}
	procs = min(procs, f.sessions)
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	var workers []*child
	defer func() {
		for _, w := range workers {
			w.stop(os.Kill)
		}
	}()
	first := 0
	for i := range procs {
		n := f.sessions / procs
		if i < f.sessions%procs {
			n++
		}
		args := []string{"relay", "-worker", "-relay-addr", raddr, "-echo-addr", eaddr, "-key-file", e.keyFile,
			"-first", strconv.Itoa(first), "-sessions", strconv.Itoa(n), "-rate", strconv.Itoa(f.rate),
			"-size", strconv.Itoa(f.size), "-warmup", f.warmup.String(), "-duration", f.duration.String(),
			"-phase", f.wp.Phase.String(), "-direct=" + strconv.FormatBool(f.direct)}
		w, err := startProc(exe, args...)
		if err != nil {
			return res, err
		}
		workers = append(workers, w)
		first += n
	}
	for _, w := range workers {
		l, err := w.line()
		if err != nil {
			return res, fmt.Errorf("worker: %w", err)
		}
		if l != "ready" {
			return res, fmt.Errorf("worker said %q", l)
		}
	}
	// Idle: every connection open, nothing sent yet.
	time.Sleep(2 * time.Second)
	_, rssIdle, _ := procStat(pid)
	conns := 2 * f.sessions
	res.RSSIdle = rssIdle
	res.RSSPerConn = float64(rssIdle-rss0) / float64(conns)
	if m, err := scrapeMetrics(raddr, "go_goroutines"); err == nil {
		res.Goroutines = m["go_goroutines"]
	}

	// Every worker starts at the same moment, so that their phases agree.
	start := time.Now().Add(100 * time.Millisecond)
	for _, w := range workers {
		fmt.Fprintf(w.stdin, "go %d\n", start.UnixNano())
	}
	time.Sleep(time.Until(start.Add(f.warmup)))
	cpu0, _, _ := procStat(pid)
	others := func() (gen, echoCPU time.Duration) {
		for _, w := range workers {
			c, _, _ := procStat(w.cmd.Process.Pid)
			gen += c
		}
		if echo != nil {
			echoCPU, _, _ = procStat(echo.cmd.Process.Pid)
		}
		return gen, echoCPU
	}
	var proxy0 time.Duration
	if proxy != nil {
		proxy0 = proxy.cpu()
	}
	gen0, echo0 := others()
	m0, _ := scrapeMetrics(raddr, "deskway_relay_messages_total")
	t0 := time.Now()
	time.Sleep(time.Until(start.Add(f.warmup + f.duration)))
	cpu1, rssLoad, _ := procStat(pid)
	gen1, echo1 := others()
	var proxy1 time.Duration
	if proxy != nil {
		proxy1 = proxy.cpu()
	}
	m1, _ := scrapeMetrics(raddr, "deskway_relay_messages_total")
	el := time.Since(t0)
	res.GenCPU = (gen1 - gen0).Seconds() / el.Seconds()
	// Relay and echo figures are per second of their own phases: the
	// relay idles in the direct phases, the echo server in the relay's.
	res.EchoCPU = (echo1 - echo0).Seconds() / el.Seconds() / share
	msgs := m1["deskway_relay_messages_total"] - m0["deskway_relay_messages_total"]
	res.RSSLoad = rssLoad
	res.MsgsPerS = msgs / el.Seconds() / share
	if msgs > 0 {
		res.CPUPerMsg = float64((cpu1 - cpu0).Microseconds()) / msgs
	}
	res.RelayCPU = (cpu1 - cpu0).Seconds() / el.Seconds() / share
	res.Load = relayLoadAvg()

	var rh, dh latCounts
	var rsent, rrecv, rgaps, dsent, drecv uint64
	type phaseKey struct{ phase, path int }
	phases := map[phaseKey]*struct {
		h          latCounts
		sent, recv uint64
	}{}
	for _, w := range workers {
		l, err := w.line()
		if err != nil {
			return res, fmt.Errorf("worker result: %w", err)
		}
		var wr workerResult
		if err := json.Unmarshal([]byte(l), &wr); err != nil {
			return res, fmt.Errorf("worker result %q: %v", l, err)
		}
		rh.merge(wr.Relay.Hist)
		dh.merge(wr.Direct.Hist)
		rsent += wr.Relay.Sent
		rrecv += wr.Relay.Recv
		rgaps += wr.Relay.Gaps
		dsent += wr.Direct.Sent
		drecv += wr.Direct.Recv
		for _, ph := range wr.Phases {
			if want := f.wp.phasePath(ph.Phase); want >= 0 && want != ph.Path {
				continue // the few sent just as the phase turned
			}
			k := phaseKey{ph.Phase, ph.Path}
			if phases[k] == nil {
				phases[k] = &struct {
					h          latCounts
					sent, recv uint64
				}{}
			}
			phases[k].h.merge(ph.Hist)
			phases[k].sent += ph.Sent
			phases[k].recv += ph.Recv
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(phases), func(a, b phaseKey) int {
		return cmp.Or(cmp.Compare(a.phase, b.phase), cmp.Compare(a.path, b.path))
	}) {
		ph := phases[k]
		if ph.sent == 0 {
			continue
		}
		res.Phases = append(res.Phases, phaseResult{Phase: k.phase, Path: []string{"relay", "direct"}[k.path], Sent: ph.sent,
			Lost: int64(ph.sent) - int64(ph.recv), P50: ph.h.quantile(0.50), P99: ph.h.quantile(0.99)})
	}
	res.Lost = int64(rsent) - int64(rrecv)
	if int64(rgaps) > res.Lost {
		res.Lost = int64(rgaps)
	}
	res.DirectLost = int64(dsent) - int64(drecv)
	var rp, dp, added []float64
	for i, ph := range res.Phases {
		if ph.Path == "relay" {
			rp = append(rp, ph.P99)
			if i+1 < len(res.Phases) && res.Phases[i+1].Path == "direct" && res.Phases[i+1].Phase == ph.Phase+1 {
				added = append(added, ph.P99-res.Phases[i+1].P99)
			}
		} else {
			dp = append(dp, ph.P99)
		}
	}
	if len(rp) > 1 && len(dp) > 0 {
		res.PhaseP99, res.DirectPhaseP99, res.AddedP99Paired = median(rp), median(dp), median(added)
	}
	res.GenMsgsPerS = float64(rrecv) / f.duration.Seconds() / share
	if n := rsent + dsent; n > 0 {
		res.GenCPUPerMsg = (gen1 - gen0).Seconds() * 1e6 / float64(n) * f.duration.Seconds() / el.Seconds()
	}
	if proxy != nil && drecv > 0 {
		// Each echoed message crossed the proxy twice.
		res.ProxyCPUPerMsg = float64((proxy1 - proxy0).Microseconds()) / (2 * float64(drecv))
		res.ProxyCPU = (proxy1 - proxy0).Seconds() / el.Seconds() / share
	}
	res.P50, res.P99, res.P999 = rh.quantile(0.50), rh.quantile(0.99), rh.quantile(0.999)
	if f.direct {
		res.DirectP50, res.DirectP99, res.DirectP999 = dh.quantile(0.50), dh.quantile(0.99), dh.quantile(0.999)
		res.AddedP50, res.AddedP99 = res.P50-res.DirectP50, res.P99-res.DirectP99
	}
	return res, nil
}
