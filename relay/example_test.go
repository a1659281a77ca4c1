package relay_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/relay"
)

// A standalone relay: the broker's ticket keys, an HTTP server for the
// handler, and a drain on the way out.
func ExampleNew() {
	keys, err := proto.ParseTicketKeys("k1 MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE\n")
	if err != nil {
		log.Print(err) // the key above is only an illustration
		return
	}
	s, err := relay.New(relay.Config{RelayID: "eu-1", TicketKeys: keys})
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.ListenAndServe()

	// ... on SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	hs.Shutdown(ctx)
}
