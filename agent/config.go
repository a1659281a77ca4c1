package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// The configuration directory (os.UserConfigDir()/deskway, chosen by the
// command) holds, each 0600 in a 0700 directory:
//
//	host.json        the enrolled host: broker URL, host and owner ids,
//	                 Ed25519 device key (broker login), X25519 static key
//	                 (the Noise static of every session)
//	password.record  the OPAQUE record of the host access password
//	attempts.state   the unattended attempt counter (SECURITY.md §4.2)
//	trusted.pins     viewer devices the owner trusts
//	support/         one attempt counter per support session
const (
	identityFile = "host.json"
	passwordFile = "password.record"
	attemptsFile = "attempts.state"
	trustedFile  = "trusted.pins"
	supportDir   = "support"
)

// Identity is an enrolled host. It holds private keys: keep it in a 0600
// file (SaveIdentity does) and never log it.
type Identity struct {
	Broker  string `json:"broker"`
	HostID  string `json:"host_id"`
	OwnerID string `json:"owner_id"`
	Name    string `json:"name"`
	// DeviceKey is the Ed25519 seed the broker knows the host by.
	DeviceKey []byte `json:"device_key"`
	// StaticKey is the X25519 private key viewers pin.
	StaticKey []byte `json:"static_key"`
}

// ErrNotEnrolled is returned by LoadIdentity when the host has not been
// enrolled.
var ErrNotEnrolled = errors.New("agent: this computer is not enrolled (run deskway-agent enroll)")

// maxIdentityFile bounds host.json.
const maxIdentityFile = 64 << 10

// LoadIdentity reads dir/host.json.
func LoadIdentity(dir string) (*Identity, error) {
	path := filepath.Join(dir, identityFile)
	b, err := readFileLimited(path, maxIdentityFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	id, err := parseIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", path, err)
	}
	return id, nil
}

// parseIdentity decodes and checks host.json.
func parseIdentity(b []byte) (*Identity, error) {
	if len(b) > maxIdentityFile {
		return nil, fmt.Errorf("%d bytes exceed limit %d", len(b), maxIdentityFile)
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, err
	}
	if len(id.DeviceKey) != ed25519.SeedSize || id.HostID == "" || id.Broker == "" {
		return nil, errors.New("incomplete (enroll again)")
	}
	if _, err := proto.StaticPrivateFromBytes(id.StaticKey); err != nil {
		return nil, fmt.Errorf("static key: %w", err)
	}
	return &id, nil
}

// SaveIdentity writes dir/host.json with mode 0600.
func SaveIdentity(dir string, id *Identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, identityFile), append(b, '\n'))
}

// Device returns the Ed25519 device key.
func (id *Identity) Device() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(id.DeviceKey) }

// Static returns the Noise static key.
func (id *Identity) Static() proto.StaticPrivate {
	k, _ := proto.StaticPrivateFromBytes(id.StaticKey) // checked by LoadIdentity
	return k
}

// Enroll registers this computer with the broker using a one-time
// enrollment code: it makes a device key and a static key, enrolls, and
// saves the identity in dir.
func Enroll(ctx context.Context, c *api.Client, dir, code string, info api.HostInfo) (*Identity, error) {
	if _, err := LoadIdentity(dir); err == nil {
		return nil, fmt.Errorf("agent: enroll: %s already holds an enrolled host; remove it first to enroll again", filepath.Join(dir, identityFile))
	}
	_, device, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	static, err := proto.NewStaticPrivate(nil)
	if err != nil {
		return nil, err
	}
	sb, err := static.MarshalBinary()
	if err != nil {
		return nil, err
	}
	resp, err := c.Enroll(ctx, code, device, info)
	if err != nil {
		return nil, fmt.Errorf("agent: enroll: %w", err)
	}
	id := &Identity{Broker: c.BaseURL, HostID: resp.HostID, OwnerID: resp.OwnerID, Name: info.Name, DeviceKey: device.Seed(), StaticKey: sb}
	if err := SaveIdentity(dir, id); err != nil {
		return nil, err
	}
	return id, nil
}

// SetPassword registers the host access password locally with OPAQUE
// (one Argon2id) and stores only the record: the password itself is never
// stored or sent anywhere.
func SetPassword(dir string, password []byte) error {
	id, err := LoadIdentity(dir)
	if err != nil {
		return err
	}
	rec, err := proto.RegisterHostPassword(id.HostID, id.OwnerID, password, nil)
	if err != nil {
		return fmt.Errorf("agent: set password: %w", err)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, passwordFile), b)
}

// ErrNoPassword is returned when the host access password was never set.
var ErrNoPassword = errors.New("agent: no host access password (run deskway-agent set-password)")

// LoadPassword reads the OPAQUE record.
func LoadPassword(dir string) (*proto.HostPasswordRecord, error) {
	b, err := readFileLimited(filepath.Join(dir, passwordFile), 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoPassword
	}
	if err != nil {
		return nil, err
	}
	rec, err := proto.ParseHostPasswordRecord(b)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", filepath.Join(dir, passwordFile), err)
	}
	return rec, nil
}
