package platform

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/jezek/xgb"
)

func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0) // "no .Xauthority" chatter
	os.Exit(m.Run())
}
