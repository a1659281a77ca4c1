package testbed_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/deskway/deskway/internal/testbed"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbed.StopPostgres()
	os.Exit(code)
}

func TestXvfb(t *testing.T) {
	d := testbed.Xvfb(t, 640, 480)
	out, err := exec.Command("xdpyinfo", "-display", d.Name).CombinedOutput()
	testbed.Need(t, "xdpyinfo", err)
	if !strings.Contains(string(out), "640x480 pixels") {
		t.Fatalf("xdpyinfo on %s does not show 640x480:\n%s", d.Name, out)
	}
}

func TestPostgres(t *testing.T) {
	dsn := testbed.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 40 + 2 = %d, %v; want 42", n, err)
	}
}

func TestChromium(t *testing.T) {
	ctx := testbed.Chromium(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,<title>deskway</title><p id=p>ok</p>")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text("#p"))
	if err != nil || got != "ok" {
		t.Fatalf("chromium text = %q, %v; want ok", got, err)
	}
}
