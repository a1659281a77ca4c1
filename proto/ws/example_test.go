package ws_test

import (
	"context"
	"log"
	"time"

	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

// A viewer reaches its host through the relays its tickets list.
func ExampleDial() {
	var pairing api.Pairing // from the broker: Connect, Join or Tickets
	relays := make([]ws.Relay, len(pairing.Tickets))
	for i, t := range pairing.Tickets {
		relays[i] = ws.Relay(t)
	}
	if len(relays) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := ws.Dial(ctx, relays, &ws.Options{
		OnNotice: func(relayID string, n ws.Notice) { log.Printf("relay %s: %s", relayID, n.Type) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	// conn is a proto.MsgConn: run the secure channel over it.
}
