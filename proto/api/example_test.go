package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/deskway/deskway/proto/api"
)

// An agent enrolls with a code made in the console, then keeps its
// control connection up and takes session offers.
func ExampleClient_RunControl() {
	ctx := context.Background()
	c := &api.Client{BaseURL: "https://broker.example.com"}
	_, key, _ := ed25519.GenerateKey(rand.Reader) // kept in the agent's config, mode 0600
	info := api.HostInfo{Name: "office-pc", OS: "linux/amd64", Version: "1.0"}
	enrolled, err := c.Enroll(ctx, "ABCD-EFGH-JKLM-NPQR", key, info)
	if err != nil {
		log.Fatal(err)
	}
	err = c.RunControl(ctx, api.ControlConfig{
		HostID: enrolled.HostID,
		Key:    key,
		Info:   info,
		OnOffer: func(p *api.Pairing) {
			// Dial p.Tickets (proto/ws.Dial) and run the host's end of
			// the secure channel for p.SessionID with p.Owner as the
			// OPAQUE client identity.
			fmt.Println("session", p.SessionID, "from", p.Viewer)
		},
	})
	log.Fatal(err) // api.ErrHostRejected: deleted on the broker, enroll again
}

// A viewer signs in and connects to one of its hosts.
func ExampleClient_Connect() {
	ctx := context.Background()
	c := &api.Client{BaseURL: "https://broker.example.com"}
	resp, err := c.Login(ctx, api.LoginRequest{Name: "alice", Password: "…", TOTP: "123456"})
	if err != nil {
		log.Fatal(err)
	}
	c.Token = resp.Token
	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts) == 0 {
		log.Fatal(err)
	}
	p, err := c.Connect(ctx, hosts[0].ID)
	if api.IsCode(err, api.CodeHostOffline) {
		log.Fatalf("%s is offline", hosts[0].Name)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.SessionID, len(p.Tickets))
}
