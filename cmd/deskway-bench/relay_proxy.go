package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A reference proxy (nginx) measured on the same machine, the same load
// and in the same run as the relay. nginx cannot pair two clients, so it
// sits in front of the bench's echo server: a message on the direct path
// then goes generator → nginx → echo server → nginx → generator, and
// nginx forwards it twice, each time with the work the relay does for a
// message (one read, one write). Its CPU per forwarded message is
// (CPU of the master and its workers) / (2 × messages echoed).
//
//	stream: nginx's TCP stream proxy (ngx_stream_module), as the issue's
//	        11–13 µs reference;
//	http:   nginx's WebSocket proxy (HTTP/1.1 Upgrade), as its 26 µs
//	        round-trip reference.

type proxyProc struct {
	cmd  *exec.Cmd
	dir  string
	addr string
}

// startNginx runs bin in the foreground with a configuration of its own in
// a temporary directory, proxying to upstream, with workers processes.
func startNginx(bin, kind, upstream string, workers int) (*proxyProc, error) {
	dir, err := os.MkdirTemp("", "deskway-bench-nginx-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
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
	default:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("proxy kind %q: want stream or http", kind)
	}
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &proxyProc{cmd: cmd, dir: dir, addr: addr}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			p.stop()
			return nil, fmt.Errorf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, nil
}

// cpu is the CPU time of the master and its workers.
func (p *proxyProc) cpu() time.Duration {
	return procTreeCPU(p.cmd.Process.Pid)
}

func (p *proxyProc) stop() {
	p.cmd.Process.Signal(os.Interrupt) // nginx: SIGINT is a fast shutdown
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
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
