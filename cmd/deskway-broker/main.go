// Command deskway-broker runs the Deskway broker: accounts, hosts,
// pairing, relay tickets, the audit log and the web console, with an
// embedded relay so that one process is a complete small install. Its
// subcommands manage users, ticket keys and the audit log.
//
//	deskway-broker serve --listen :443 --db sqlite:deskway.db --autocert broker.example.com
//	deskway-broker user add alice --role admin --db sqlite:deskway.db
//	deskway-broker help
//
// Every flag has an environment twin, DESKWAY_ and the flag's name in
// capitals with '-' as '_' (--public-url is DESKWAY_PUBLIC_URL); a flag on
// the command line wins over the environment, which wins over the default.
// Repeatable flags take a comma-separated list from the environment.
// Secrets (the data key, the relay report token, the metrics token) come
// from files, never from flags.
//
// On SIGTERM or SIGINT the broker stops taking requests, drains the
// embedded relay (its sessions move to another relay), tells the hosts
// connected to it to reconnect (to another instance, behind a load
// balancer), and exits.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/deskway/deskway/broker"
	"github.com/deskway/deskway/internal/envflag"
	"github.com/deskway/deskway/proto/api"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, terminal: isTerminal(os.Stdin)})
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "deskway-broker:", err)
		os.Exit(1)
	}
}

// stdio is the command's standard streams; tests give their own.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	terminal bool // in is a terminal: passwords are asked for without echo
}

const usage = `deskway-broker: the Deskway broker and web console.

Commands:
  serve                      run the broker (see: deskway-broker serve --help)
  user add NAME --role R     add an account; R is admin, technician or user
  user passwd NAME           set a password
  user list                  list the accounts
  user role NAME ROLE        change a role
  user disable NAME          stop an account from signing in (user enable undoes it)
  user reset-totp NAME       remove a lost second factor
  user delete NAME           delete an account and the hosts it owns
  enroll-code OWNER          make a one-time host enrollment code
  keys list                  list the ticket signing keys
  keys rotate [--now]        add a ticket key (it signs after 15 min, or at once)
  data-key new FILE          write a new data key (PostgreSQL: one file for all instances)
  audit export               write the audit log as CSV or JSON
  version                    print the version

User commands read the password twice: from the terminal without echo, or
with --password-stdin as two lines of standard input. Every command takes
--db (DESKWAY_DB) and, where secrets are involved, --data-key-file.
`

func run(ctx context.Context, args []string, sio stdio) error {
	if len(args) == 0 {
		fmt.Fprint(sio.err, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], sio)
	case "user":
		return userCmd(ctx, args[1:], sio)
	case "enroll-code":
		return enrollCodeCmd(ctx, args[1:], sio)
	case "keys":
		return keysCmd(ctx, args[1:], sio)
	case "data-key":
		return dataKeyCmd(args[1:], sio)
	case "audit":
		return auditCmd(ctx, args[1:], sio)
	case "version", "--version", "-version":
		fmt.Fprintln(sio.out, "deskway-broker", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(sio.out, usage)
		return nil
	}
	fmt.Fprint(sio.err, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
func (l *listFlag) IsList()            {} // envflag.List: DESKWAY_RELAY holds several

// parse parses flags placed anywhere among the positional arguments
// ("user add alice --role admin"), then their environment twins.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return pos, envflag.Apply(fs, nil)
}

// common are the flags every command that opens the database has.
type common struct {
	db, dataKeyFile, logLevel, logFormat string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "sqlite:deskway.db", "Database: sqlite:PATH (one file, the default) or postgres://user@host/db (several broker instances as one service).")
	fs.StringVar(&c.dataKeyFile, "data-key-file", "", "`FILE` holding the data key that encrypts TOTP secrets and ticket signing keys in the database and peppers password hashes. Default: PATH.key beside a SQLite database, created on first use; required with PostgreSQL (make one with: deskway-broker data-key new FILE, and give every instance the same file).")
	fs.StringVar(&c.logLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	fs.StringVar(&c.logFormat, "log-format", "text", "Log format: text or json.")
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %v", c.logLevel, err)
	}
	ho := &slog.HandlerOptions{Level: l}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
}

func (c *common) open(ctx context.Context, log *slog.Logger) (broker.Store, error) {
	return broker.OpenStore(ctx, c.db, log)
}

// openStore makes the logger and opens the database; the caller closes
// the store.
func (c *common) openStore(ctx context.Context, sio stdio) (*slog.Logger, broker.Store, error) {
	log, err := c.logger(sio.err)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.open(ctx, log)
	return log, st, err
}

// postgres reports whether --db names a PostgreSQL database.
func (c *common) postgres() bool {
	return !strings.HasPrefix(c.db, "sqlite:") && !strings.HasSuffix(c.db, ".db")
}

// dataKey reads the data key, creating it beside a SQLite database on
// first use.
func (c *common) dataKey(log *slog.Logger) ([]byte, error) {
	path := c.dataKeyFile
	create := false
	if path == "" {
		if c.postgres() {
			return nil, errors.New("--data-key-file is required with PostgreSQL: every instance needs the same key (make one with `deskway-broker data-key new FILE`)")
		}
		path, create = strings.TrimPrefix(c.db, "sqlite:")+".key", true
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		if err := writeDataKey(path); err != nil {
			return nil, err
		}
		log.Warn("created a new data key; back it up with the database", "file", path)
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != broker.DataKeySize {
		return nil, fmt.Errorf("data key %s: want %d bytes in base64", path, broker.DataKeySize)
	}
	return key, nil
}

func writeDataKey(path string) error {
	key := make([]byte, broker.DataKeySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("data key: %w", err)
	}
	_, err = fmt.Fprintln(f, base64.StdEncoding.EncodeToString(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readSecretFile reads a one-line secret (a token) from a file.
func readSecretFile(flagName, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("--%s: %s is empty", flagName, path)
	}
	return s, nil
}

// cliActor names the person at the command line in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

// readPassword reads a new password twice: from the terminal without
// echo, or from two lines of standard input with --password-stdin.
func readPassword(sio stdio, fromStdin bool) (string, error) {
	var first, second string
	var err error
	switch {
	case fromStdin:
		lines := make([]string, 0, 2)
		buf := make([]byte, 0, 256)
		one := make([]byte, 1)
		for len(lines) < 2 {
			n, rerr := sio.in.Read(one)
			if n == 1 && one[0] != '\n' {
				if len(buf) > api.MaxPasswordLen {
					return "", errors.New("password too long")
				}
				buf = append(buf, one[0])
				continue
			}
			if n == 1 || (rerr == io.EOF && len(buf) > 0) {
				lines = append(lines, strings.TrimSuffix(string(buf), "\r"))
				buf = buf[:0]
				continue
			}
			if rerr != nil {
				return "", errors.New("--password-stdin: want the password on two lines of standard input")
			}
		}
		first, second = lines[0], lines[1]
	case sio.terminal:
		if first, err = promptNoEcho(sio, "New password: "); err != nil {
			return "", err
		}
		if second, err = promptNoEcho(sio, "Again: "); err != nil {
			return "", err
		}
	default:
		return "", errors.New("standard input is not a terminal: use --password-stdin and give the password twice")
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}

func userCmd(ctx context.Context, args []string, sio stdio) error {
	fs := flag.NewFlagSet("deskway-broker user", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	var c common
	c.register(fs)
	role := fs.String("role", "user", "Role of a new account: admin, technician or user.")
	stdin := fs.Bool("password-stdin", false, "Read the password from standard input, twice (two lines), instead of asking on the terminal.")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("user: want add, passwd, list, role, disable, enable, reset-totp or delete")
	}
	need := map[string]int{"add": 2, "passwd": 2, "list": 1, "role": 3, "disable": 2, "enable": 2, "reset-totp": 2, "delete": 2}
	n, ok := need[pos[0]]
	if !ok {
		return fmt.Errorf("user: unknown command %q", pos[0])
	}
	if len(pos) != n {
		return fmt.Errorf("user %s: want %d argument(s), got %q", pos[0], n-1, pos[1:])
	}
	log, st, err := c.openStore(ctx, sio)
	if err != nil {
		return err
	}
	defer st.Close()
	adm, err := broker.NewAdmin(st, cliActor(), log)
	if err != nil {
		return err
	}
	if pos[0] == "add" || pos[0] == "passwd" {
		// Pepper the password with the data key, as the server does. With
		// PostgreSQL and no --data-key-file, the first sign-in does it.
		key, err := c.dataKey(log)
		if err == nil {
			err = adm.UseDataKey(ctx, key)
		}
		if err != nil && (c.dataKeyFile != "" || !c.postgres()) {
			return err
		}
	}
	switch pos[0] {
	case "add":
		if !api.UserRole(*role).Valid() {
			return fmt.Errorf("--role %q: want admin, technician or user", *role)
		}
		pw, err := readPassword(sio, *stdin)
		if err != nil {
			return err
		}
		u, err := adm.AddUser(ctx, pos[1], api.UserRole(*role), pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "added %s (%s)\n", u.Name, u.Role)
	case "passwd":
		pw, err := readPassword(sio, *stdin)
		if err != nil {
			return err
		}
		if err := adm.SetPassword(ctx, pos[1], pw); err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "password of %s set; their sessions ended\n", pos[1])
	case "list":
		us, err := adm.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\t2FA\tSTATE\tLAST SIGN-IN\tCREATED")
		for _, u := range us {
			state, last, tfa := "active", "never", "no"
			if u.Disabled {
				state = "disabled"
			}
			if !u.LastLogin.IsZero() {
				last = u.LastLogin.Local().Format(time.DateTime)
			}
			if u.TOTPSecret != nil {
				tfa = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, tfa, state, last, u.Created.Local().Format(time.DateOnly))
		}
		return tw.Flush()
	case "role":
		r := api.UserRole(pos[2])
		if !r.Valid() {
			return fmt.Errorf("role %q: want admin, technician or user", pos[2])
		}
		return adm.SetRole(ctx, pos[1], r)
	case "disable", "enable":
		return adm.SetDisabled(ctx, pos[1], pos[0] == "disable")
	case "reset-totp":
		return adm.ResetTOTP(ctx, pos[1])
	case "delete":
		return adm.DeleteUser(ctx, pos[1])
	}
	return nil
}

func enrollCodeCmd(ctx context.Context, args []string, sio stdio) error {
	fs := flag.NewFlagSet("deskway-broker enroll-code", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	var c common
	c.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("enroll-code: want the owner's user name")
	}
	log, st, err := c.openStore(ctx, sio)
	if err != nil {
		return err
	}
	defer st.Close()
	adm, err := broker.NewAdmin(st, cliActor(), log)
	if err != nil {
		return err
	}
	code, err := adm.EnrollCode(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "%s\n", code.Code)
	fmt.Fprintf(sio.err, "valid once until %s; on the host: deskway-agent enroll --broker URL --code %s\n", code.Expires.Local().Format(time.TimeOnly), code.Code)
	return nil
}

func keysCmd(ctx context.Context, args []string, sio stdio) error {
	fs := flag.NewFlagSet("deskway-broker keys", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	var c common
	c.register(fs)
	now := fs.Bool("now", false, "With rotate: sign with the new key at once instead of after 15 minutes. Only when the embedded relay is the only relay: standalone relays would refuse tickets until they refresh their keys.")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "list" && pos[0] != "rotate") {
		return errors.New("keys: want list or rotate")
	}
	log, st, err := c.openStore(ctx, sio)
	if err != nil {
		return err
	}
	defer st.Close()
	if pos[0] == "rotate" {
		key, err := c.dataKey(log)
		if err != nil {
			return err
		}
		at := time.Now().Add(broker.KeyLead)
		if *now {
			at = time.Now()
		}
		kid, err := broker.RotateTicketKey(ctx, st, key, at)
		if err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "added ticket key %s; it signs from %s (running brokers pick it up within a minute)\n", kid, at.Local().Format(time.DateTime))
		return nil
	}
	keys, err := st.ListTicketKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tCREATED\tSIGNS FROM\tRETIRED")
	for _, k := range keys {
		retired := "-"
		if !k.Retired.IsZero() {
			retired = k.Retired.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Created.Local().Format(time.DateTime), k.Activates.Local().Format(time.DateTime), retired)
	}
	return tw.Flush()
}

func dataKeyCmd(args []string, sio stdio) error {
	if len(args) != 2 || args[0] != "new" {
		return errors.New("data-key: want new FILE")
	}
	if err := writeDataKey(args[1]); err != nil {
		return err
	}
	abs, _ := filepath.Abs(args[1])
	fmt.Fprintf(sio.out, "wrote a new data key to %s (mode 0600); give every broker instance this file with --data-key-file\n", abs)
	return nil
}

func auditCmd(ctx context.Context, args []string, sio stdio) error {
	fs := flag.NewFlagSet("deskway-broker audit", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	var c common
	c.register(fs)
	format := fs.String("format", "csv", "Output format: csv or json.")
	action := fs.String("action", "", "Only this action, or actions starting with it when it ends in '.' (e.g. user.).")
	actor := fs.String("actor", "", "Only entries of this actor.")
	since := fs.String("since", "", "Only entries at or after this time (RFC 3339 or YYYY-MM-DD).")
	until := fs.String("until", "", "Only entries before this time (RFC 3339 or YYYY-MM-DD).")
	failed := fs.Bool("failed", false, "Only failures.")
	limit := fs.Int("limit", api.MaxAuditLimit, fmt.Sprintf("At most this many entries, newest first (at most %d).", api.MaxAuditLimit))
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "export" {
		return errors.New("audit: want export")
	}
	v := map[string][]string{"action": {*action}, "actor": {*actor}, "since": {*since}, "until": {*until}, "limit": {fmt.Sprint(*limit)}}
	if *failed {
		v["failed"] = []string{"1"}
	}
	q, err := api.ParseAuditQuery(v)
	if err != nil {
		return err
	}
	_, st, err := c.openStore(ctx, sio)
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := st.QueryAudit(ctx, q)
	if err != nil {
		return err
	}
	switch *format {
	case "csv":
		return broker.WriteAuditCSV(sio.out, es)
	case "json":
		enc := json.NewEncoder(sio.out)
		enc.SetIndent("", "  ")
		if es == nil {
			es = []api.AuditEntry{}
		}
		return enc.Encode(es)
	}
	return fmt.Errorf("--format %q: want csv or json", *format)
}
