package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A reference proxy measured on the same machine, the same load and in
// the same run as the relay: nginx, haproxy, or a plain Go TCP forwarder
// (a goroutine per direction copying with io.Copy, which splices on
// Linux). A proxy cannot pair two clients, so it sits in front of the
// bench's echo server: a message on the direct path then goes generator →
// proxy → echo server → proxy → generator, and the proxy forwards it
// twice, each time with the work the relay does for a message (one read,
// one write). Its CPU per forwarded message is (CPU of the proxy's
// processes) / (2 × messages echoed).
//
//	stream: a TCP proxy (nginx's ngx_stream_module, haproxy's mode tcp),
//	        as the 11–13 µs (nginx) and 11–14 µs (haproxy)
//	        references;
//	http:   a WebSocket proxy (HTTP/1.1 Upgrade; the Go forwarder passes
//	        the bytes as they are), as nginx's 26 µs round-trip reference.

type proxyProc struct {
	name    string // "nginx", "haproxy" or "go"
	cmd     *exec.Cmd
	dir     string
	addr    string
	stopSig os.Signal
}

// startProxy runs the proxy spec names ("go" for the Go forwarder, else
// the path of an nginx or haproxy binary) in front of upstream, with
// workers processes or threads.
func startProxy(spec, kind, upstream string, workers int) (*proxyProc, error) {
	if kind != "stream" && kind != "http" {
		return nil, fmt.Errorf("proxy kind %q: want stream or http", kind)
	}
	switch {
	case spec == "go":
		return startGoForwarder(upstream)
	case strings.Contains(filepath.Base(spec), "haproxy"):
		return startHAProxy(spec, kind, upstream, workers)
	case strings.Contains(filepath.Base(spec), "nginx"):
		return startNginx(spec, kind, upstream, workers)
	}
	return nil, fmt.Errorf("-proxy %q: want the path of nginx or haproxy, or go", spec)
}

// label names the proxy and the kind of proxying in reports.
func (p *proxyProc) label(kind string) string { return p.name + " " + kind }

// proxyWorkspace makes a temporary directory for a proxy's files and
// picks the address it will listen on.
func proxyWorkspace(name string) (dir, addr string, err error) {
	if dir, err = os.MkdirTemp("", "deskway-bench-"+name+"-"); err != nil {
		return "", "", err
	}
	if addr, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, addr, nil
}

// startNginx runs bin in the foreground with a configuration of its own in
// a temporary directory, proxying to upstream, with workers processes.
func startNginx(bin, kind, upstream string, workers int) (*proxyProc, error) {
	dir, addr, err := proxyWorkspace("nginx")
	if err != nil {
		return nil, err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "daemon off;\nmaster_process on;\nuser root;\nworker_processes %d;\nworker_rlimit_nofile 65536;\n", workers)
	fmt.Fprintf(&conf, "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n", dir, dir)
	switch kind {
	case "stream":
		// Debian builds the stream module as a dynamic module.
		for _, m := range []string{"/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so"} {
			if _, err := os.Stat(m); err == nil {
				fmt.Fprintf(&conf, "load_module %s;\n", m)
				break
			}
		}
		conf.WriteString("events { worker_connections 60000; use epoll; multi_accept on; }\n")
		fmt.Fprintf(&conf, "stream {\n  server {\n    listen %s;\n    proxy_pass %s;\n    tcp_nodelay on;\n    proxy_timeout 1h;\n  }\n}\n", addr, upstream)
	case "http":
		conf.WriteString("events { worker_connections 60000; use epoll; multi_accept on; }\n")
		conf.WriteString("http {\n  access_log off;\n")
		for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			fmt.Fprintf(&conf, "  %s_temp_path %s/%s;\n", t, dir, t)
		}
		fmt.Fprintf(&conf, "  server {\n    listen %s;\n    location / {\n      proxy_pass http://%s;\n"+
			"      proxy_http_version 1.1;\n      proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection \"upgrade\";\n"+
			"      proxy_read_timeout 1h;\n      proxy_send_timeout 1h;\n      proxy_buffering off;\n      tcp_nodelay on;\n    }\n  }\n}\n", addr, upstream)
	}
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// SIGINT is nginx's fast shutdown.
	return runProxy(&proxyProc{name: "nginx", dir: dir, addr: addr, stopSig: os.Interrupt},
		exec.Command(bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log")))
}

// startHAProxy runs haproxy in the foreground (-db) with a configuration
// of its own, proxying to upstream with workers threads.
func startHAProxy(bin, kind, upstream string, workers int) (*proxyProc, error) {
	dir, addr, err := proxyWorkspace("haproxy")
	if err != nil {
		return nil, err
	}
	mode := "tcp"
	if kind == "http" {
		mode = "http" // WebSocket upgrades become tunnels (timeout tunnel)
	}
	conf := fmt.Sprintf("global\n  maxconn 9000\n  nbthread %d\n  pidfile %s/haproxy.pid\n"+
		"defaults\n  mode %s\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n  timeout tunnel 1h\n"+
		"frontend in\n  bind %s\n  default_backend out\n"+
		"backend out\n  server echo %s\n", workers, dir, mode, addr, upstream)
	cf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// SIGTERM is haproxy's immediate stop.
	return runProxy(&proxyProc{name: "haproxy", dir: dir, addr: addr, stopSig: syscall.SIGTERM},
		exec.Command(bin, "-db", "-f", cf))
}

// startGoForwarder runs this binary as a plain Go TCP forwarder
// (-forward) in front of upstream.
func startGoForwarder(upstream string) (*proxyProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	return runProxy(&proxyProc{name: "go", addr: addr, stopSig: os.Kill},
		exec.Command(os.Args[0], "relay", "-forward", upstream, "-echo-listen", addr))
}

// runProxy starts cmd for p and waits until p listens.
func runProxy(p *proxyProc, cmd *exec.Cmd) (*proxyProc, error) {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		if p.dir != "" {
			os.RemoveAll(p.dir)
		}
		return nil, err
	}
	p.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			var log []byte
			if p.dir != "" {
				log, _ = os.ReadFile(filepath.Join(p.dir, "error.log"))
			}
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s: %v\n%s", p.name, p.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveForward is the plain Go TCP forwarder: for each connection on
// listen, a connection to upstream and a goroutine copying each way.
func serveForward(listen, upstream string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(u, c)
				u.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(c, u)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

// cpu is the CPU time of the master and its workers.
func (p *proxyProc) cpu() time.Duration {
	return procTreeCPU(p.cmd.Process.Pid)
}

func (p *proxyProc) stop() {
	stopCmd(p.cmd, p.stopSig, 5*time.Second)
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// procTreeCPU sums the CPU time of pid and its children (one level, which
// is what an nginx master has).
func procTreeCPU(pid int) time.Duration {
	total, _, _ := procStat(pid)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return total
	}
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			if t, _, err := procStat(c); err == nil {
				total += t
			}
		}
	}
	return total
}
