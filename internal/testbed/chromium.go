package testbed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath returns the Chromium binary: $DESKWAY_CHROMIUM, or the first
// of chromium, chromium-browser, google-chrome on the PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("DESKWAY_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium)")
}

// ChromiumFlags are the flags Deskway runs headless Chromium with: no
// sandbox (tests run as root), no GPU, and none of the background traffic
// that a closed network answers with errors.
func ChromiumFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
}

// Chromium starts a headless Chromium with a fresh profile and returns a
// chromedp context for one tab. The browser is closed when the test ends.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	path, err := ChromiumPath()
	Need(t, "Chromium", err)
	opts := append(ChromiumFlags(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		Need(t, "Chromium", err)
	}
	return ctx
}
