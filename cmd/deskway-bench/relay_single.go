package main

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deskway/deskway/proto"
)

// One session, measured against a direct WebSocket between the same two
// kinds of endpoints in this process:
//
//	throughput: a sender streams SIZE-byte messages as fast as it can,
//	  through the relay to the viewer, or straight to a sink server here;
//	  the figure is bytes per second received.
//	rtt: one SIZE-byte message in flight, echoed by the viewer through
//	  the relay, or by an echo server here; the figure is the round trip.
//
// Relay and direct alternate in slices of -duration/-runs so that both see
// the same moments of a noisy machine.

type singleResult struct {
	Mode        string  `json:"mode"`
	Endpoints   string  `json:"endpoints"`
	Seconds     float64 `json:"duration_s"`
	Size        int     `json:"size"`
	RelayMBps   float64 `json:"relay_mb_per_s,omitempty"`
	DirectMBps  float64 `json:"direct_mb_per_s,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	RelayP50    float64 `json:"relay_rtt_p50_us,omitempty"`
	RelayP99    float64 `json:"relay_rtt_p99_us,omitempty"`
	DirectP50   float64 `json:"direct_rtt_p50_us,omitempty"`
	DirectP99   float64 `json:"direct_rtt_p99_us,omitempty"`
	AddedP50    float64 `json:"added_rtt_p50_us,omitempty"`
	AddedP99    float64 `json:"added_rtt_p99_us,omitempty"`
	RelayCPUPer float64 `json:"relay_cpu_us_per_msg,omitempty"`
	// With -proxy: a WebSocket proxy (Proxy names it) in front of the same sink or
	// echo server, a third path in the same slices.
	Proxy       string  `json:"proxy,omitempty"`
	ProxyMBps   float64 `json:"proxy_mb_per_s,omitempty"`
	ProxyRatio  float64 `json:"proxy_ratio,omitempty"`
	ProxyP50    float64 `json:"proxy_rtt_p50_us,omitempty"`
	ProxyP99    float64 `json:"proxy_rtt_p99_us,omitempty"`
	ProxyAdded  float64 `json:"proxy_added_rtt_p50_us,omitempty"`
	ProxyAdd99  float64 `json:"proxy_added_rtt_p99_us,omitempty"`
	ProxyCPUPer float64 `json:"proxy_cpu_us_per_msg,omitempty"`
	Load        string  `json:"load_avg"`
	Runs        int     `json:"runs"`
}

func runSingle(f *relayFlags, bin string) error {
	e, err := newRelayEnv()
	if err != nil {
		return err
	}
	defer os.RemoveAll(e.dir)
	relay, raddr, err := startRelay(bin, e, f)
	if err != nil {
		return err
	}
	defer relay.stop(syscall.SIGTERM)

	// The direct side: a sink and an echo server in this process.
	var sunk atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/sink", func(w http.ResponseWriter, r *http.Request) {
		wsServe(w, r, func(_ *wsConn, _ byte, p []byte) error { sunk.Add(int64(len(p))); return nil })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()
	daddr := ln.Addr().String()

	seed, err := os.ReadFile(e.keyFile)
	if err != nil {
		return err
	}
	key := ed25519.NewKeyFromSeed(seed)
	wp := workerParams{RelayAddr: raddr, RelayID: benchRelayID}
	slice := f.duration / time.Duration(f.runs)
	res := singleResult{Mode: f.mode, Endpoints: f.endpoints, Size: f.size, Runs: f.runs, Seconds: f.duration.Seconds()}
	pid := relay.cmd.Process.Pid
	relayCPU := func() time.Duration { c, _, _ := procStat(pid); return c }
	if f.mode == "throughput" && f.endpoints != "raw" {
		// The product's endpoints make their own session.
		t, err := newWSThroughput(wp, key, f.endpoints == "ws")
		if err != nil {
			return err
		}
		defer t.stop()
		ctx := context.Background()
		r := measureThroughput(f.size, slice, f.runs,
			tpPath{func(p []byte) error { return t.host.WriteMsg(ctx, p) }, &t.got, relayCPU},
			tpPath{func(p []byte) error { return t.direct.WriteMsg(ctx, p) }, &t.sunk, nil})
		res.setThroughput(r)
		return res.print(f.json)
	}
	sess := proto.NewSessionID()
	host, err := connectRelay(wp, key, sess, proto.RoleHost)
	if err != nil {
		return err
	}
	defer host.close()
	var viewer *wsConn
	if f.mode == "throughput" {
		if viewer, err = connectRelay(wp, key, sess, proto.RoleViewer); err != nil {
			return err
		}
		defer viewer.close()
		if err := waitPairedRaw(viewer); err != nil {
			return err
		}
	} else {
		// The echoing viewer is a process of its own, as a proxied
		// server would be.
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		ve, err := startProc(exe, "relay", "-viewer-echo", sess.String(), "-relay-addr", raddr, "-key-file", e.keyFile)
		if err != nil {
			return err
		}
		defer ve.stop(os.Kill)
		if l, err := ve.line(); err != nil || l != "ready" {
			return fmt.Errorf("echoing viewer: %q, %v", l, err)
		}
	}
	if err := waitPairedRaw(host); err != nil {
		return err
	}
	if f.mode == "throughput" {
		direct, err := wsDial(daddr, "/sink")
		if err != nil {
			return err
		}
		defer direct.close()
		var got atomic.Int64
		go func() {
			for {
				_, p, err := viewer.read()
				if err != nil {
					return
				}
				got.Add(int64(len(p)))
			}
		}()
		var viaProxy *wsConn
		var proxy *proxyProc
		if f.proxy != "" {
			if proxy, err = startProxy(f.proxy, "http", daddr, f.proxyWorkers); err != nil {
				return err
			}
			defer proxy.stop()
			res.Proxy = proxy.name
			if viaProxy, err = wsDial(proxy.addr, "/sink"); err != nil {
				return err
			}
			defer viaProxy.close()
		}
		paths := []tpPath{
			{func(p []byte) error { return host.write(wsBinary, p) }, &got, relayCPU},
			{func(p []byte) error { return direct.write(wsBinary, p) }, &sunk, nil},
		}
		if proxy != nil {
			paths = append(paths, tpPath{func(p []byte) error { return viaProxy.write(wsBinary, p) }, &sunk, proxy.cpu})
		}
		res.setThroughput(measureThroughput(f.size, slice, f.runs, paths...))
	} else {
		echo, eaddr, err := startEcho()
		if err != nil {
			return err
		}
		defer echo.stop(os.Kill)
		direct, err := wsDial(eaddr, "/echo")
		if err != nil {
			return err
		}
		defer direct.close()
		var viaProxy *wsConn
		if f.proxy != "" {
			proxy, err := startProxy(f.proxy, "http", eaddr, f.proxyWorkers)
			if err != nil {
				return err
			}
			defer proxy.stop()
			res.Proxy = proxy.name
			if viaProxy, err = wsDial(proxy.addr, "/echo"); err != nil {
				return err
			}
			defer viaProxy.close()
		}
		var rh, dh, ph latCounts
		for range f.runs {
			rh.merge(pingPong(host, f.size, slice/2).sparse())
			dh.merge(pingPong(direct, f.size, slice/2).sparse())
			if viaProxy != nil {
				ph.merge(pingPong(viaProxy, f.size, slice/2).sparse())
			}
		}
		res.RelayP50, res.RelayP99 = rh.quantile(0.5), rh.quantile(0.99)
		res.DirectP50, res.DirectP99 = dh.quantile(0.5), dh.quantile(0.99)
		res.AddedP50, res.AddedP99 = res.RelayP50-res.DirectP50, res.RelayP99-res.DirectP99
		if viaProxy != nil {
			res.ProxyP50, res.ProxyP99 = ph.quantile(0.5), ph.quantile(0.99)
			res.ProxyAdded, res.ProxyAdd99 = res.ProxyP50-res.DirectP50, res.ProxyP99-res.DirectP99
		}
	}
	return res.print(f.json)
}

// print writes res as JSON or as text.
func (res *singleResult) print(asJSON bool) error {
	res.Load = relayLoadAvg()
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return nil
	}
	if res.Mode == "throughput" {
		fmt.Printf("relay throughput, one session, %d B messages, %s endpoints, %v in %d slices each (load avg %s)\n", res.Size, res.Endpoints, time.Duration(res.Seconds*float64(time.Second)), res.Runs, res.Load)
		fmt.Printf("  through the relay   %8.1f MB/s   (relay %.2f µs CPU per message)\n", res.RelayMBps, res.RelayCPUPer)
		fmt.Printf("  direct WebSocket    %8.1f MB/s\n", res.DirectMBps)
		fmt.Printf("  relay / direct      %8.1f %%\n", 100*res.Ratio)
		if res.ProxyMBps > 0 {
			fmt.Printf("  through %-11s %8.1f MB/s   (%s %.2f µs CPU per message), %s / direct %.1f %%\n", res.Proxy, res.ProxyMBps, res.Proxy, res.ProxyCPUPer, res.Proxy, 100*res.ProxyRatio)
		}
		return nil
	}
	fmt.Printf("relay round trip, one session, %d B messages, %v in %d slices each (load avg %s)\n", res.Size, time.Duration(res.Seconds*float64(time.Second)), res.Runs, res.Load)
	fmt.Printf("  through the relay   p50 %6.0f µs   p99 %6.0f µs\n", res.RelayP50, res.RelayP99)
	fmt.Printf("  direct echo         p50 %6.0f µs   p99 %6.0f µs\n", res.DirectP50, res.DirectP99)
	fmt.Printf("  added by the relay  p50 %6.0f µs   p99 %6.0f µs\n", res.AddedP50, res.AddedP99)
	if res.ProxyP50 > 0 {
		fmt.Printf("  through %-11s p50 %6.0f µs   p99 %6.0f µs\n", res.Proxy, res.ProxyP50, res.ProxyP99)
		fmt.Printf("  added by %-10s p50 %6.0f µs   p99 %6.0f µs\n", res.Proxy, res.ProxyAdded, res.ProxyAdd99)
	}
	return nil
}

// tpPath is one path of the throughput mode: how to send a message, the
// counter its receiver advances, and the CPU time of the process in the
// middle (nil: none).
type tpPath struct {
	write   func([]byte) error
	counter *atomic.Int64
	cpu     func() time.Duration
}

// tpResult is a path's median MB/s and CPU µs per message of its middle.
type tpResult struct{ mbps, cpuPerMsg float64 }

// measureThroughput streams on each path in turn for slice, runs times,
// so that all paths see the same moments of a noisy machine.
func measureThroughput(size int, slice time.Duration, runs int, paths ...tpPath) []tpResult {
	mbps := make([][]float64, len(paths))
	cpu := make([]time.Duration, len(paths))
	msgs := make([]int64, len(paths))
	for range runs {
		for i, p := range paths {
			var c0 time.Duration
			if p.cpu != nil {
				c0 = p.cpu()
			}
			n := streamTo(p.write, size, slice, p.counter)
			if p.cpu != nil {
				cpu[i] += p.cpu() - c0
			}
			msgs[i] += n / int64(size)
			mbps[i] = append(mbps[i], float64(n)/slice.Seconds()/1e6)
		}
	}
	out := make([]tpResult, len(paths))
	for i := range paths {
		out[i].mbps = median(mbps[i])
		if msgs[i] > 0 {
			out[i].cpuPerMsg = float64(cpu[i].Microseconds()) / float64(msgs[i])
		}
	}
	return out
}

// setThroughput fills res from measureThroughput's relay, direct and
// optional proxy results.
func (res *singleResult) setThroughput(r []tpResult) {
	res.RelayMBps, res.DirectMBps, res.RelayCPUPer = r[0].mbps, r[1].mbps, r[0].cpuPerMsg
	res.Ratio = res.RelayMBps / res.DirectMBps
	if len(r) > 2 {
		res.ProxyMBps, res.ProxyCPUPer = r[2].mbps, r[2].cpuPerMsg
		res.ProxyRatio = res.ProxyMBps / res.DirectMBps
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// stream writes size-byte messages on c for d and returns how many bytes
// the counter advanced by in that time, then waits for the tail to land.
// streamTo writes size-byte messages with write for d and returns how
// many bytes the counter advanced by in that time, then waits for the
// tail to land.
func streamTo(write func([]byte) error, size int, d time.Duration, counter *atomic.Int64) int64 {
	msg := make([]byte, size)
	sent := counter.Load()
	start := sent
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for range 16 {
			if write(msg) != nil {
				return 0
			}
			sent += int64(size)
		}
	}
	n := counter.Load() - start
	for i := 0; counter.Load() < sent && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// pingPong sends one message at a time on c and waits for it to come back,
// for d, and returns the round trips.
func pingPong(c *wsConn, size int, d time.Duration) *latHist {
	h := &latHist{}
	msg := make([]byte, size)
	end := time.Now().Add(d)
	for seq := uint64(0); time.Now().Before(end); seq++ {
		t0 := time.Now()
		binary.LittleEndian.PutUint64(msg, seq)
		if c.write(wsBinary, msg) != nil {
			break
		}
		for {
			op, p, err := c.read()
			if err != nil {
				return h
			}
			if op == wsBinary && len(p) >= 8 && binary.LittleEndian.Uint64(p) == seq {
				break
			}
		}
		h.add(time.Since(t0))
	}
	return h
}

// viewerEcho joins a session as its viewer and sends every message back.
func viewerEcho(f *relayFlags) error {
	sess, err := proto.ParseSessionID(f.viewerEcho)
	if err != nil {
		return err
	}
	seed, err := os.ReadFile(f.wp.KeyFile)
	if err != nil {
		return err
	}
	c, err := connectRelay(workerParams{RelayAddr: f.wp.RelayAddr, RelayID: benchRelayID}, ed25519.NewKeyFromSeed(seed), sess, proto.RoleViewer)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if err := waitPairedRaw(c); err != nil {
		return err
	}
	// On an event loop woken by each arrival, as the echo server of the
	// direct path is, so that both echoes cost the same.
	if os.Getenv("DESKWAY_BENCH_NOLOOP") == "" {
		if l, err := newEvLoop(time.Second, true); err == nil {
			if err := l.add(c, false, func(c *wsConn, op byte, p []byte) { c.write(op, p) }); err == nil {
				select {} // until the coordinator kills the process
			}
		}
	}
	for {
		op, p, err := c.read()
		if err != nil {
			return nil
		}
		if err := c.write(op, p); err != nil {
			return nil
		}
	}
}
