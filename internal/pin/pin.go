//go:build pin

// Package pin lists the third-party packages Deskway is built on, so that
// `go mod tidy` keeps their pinned versions while the packages that use
// them are being written. It is never compiled into a binary (build tag
// "pin"). Remove an import here once real code imports that package.
package pin

import (
	_ "fyne.io/fyne/v2/app"
	_ "fyne.io/fyne/v2/canvas"
	_ "fyne.io/fyne/v2/container"
	_ "fyne.io/fyne/v2/dialog"
	_ "fyne.io/fyne/v2/driver/desktop"
	_ "fyne.io/fyne/v2/layout"
	_ "fyne.io/fyne/v2/test"
	_ "fyne.io/fyne/v2/widget"
	_ "github.com/bytemare/opaque"
	_ "github.com/chromedp/cdproto/cdp"
	_ "github.com/chromedp/chromedp"
	_ "github.com/coder/websocket"
	_ "github.com/coder/websocket/wsjson"
	_ "github.com/flynn/noise"
	_ "github.com/go-vgo/robotgo"
	_ "github.com/gtank/ristretto255"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/jezek/xgb"
	_ "github.com/jezek/xgb/damage"
	_ "github.com/jezek/xgb/shm"
	_ "github.com/jezek/xgb/xfixes"
	_ "github.com/jezek/xgb/xproto"
	_ "github.com/jezek/xgb/xtest"
	_ "github.com/kbinani/screenshot"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/pquerna/otp/totp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "golang.org/x/crypto/acme/autocert"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/blake2s"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/curve25519"
	_ "golang.org/x/crypto/hkdf"
	_ "golang.org/x/net/http/httpproxy"
	_ "golang.org/x/net/proxy"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
