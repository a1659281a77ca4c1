package broker

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgChannel is the LISTEN/NOTIFY channel of the broker instances.
const pgChannel = "deskway"

// pgMigrateLock is the advisory lock key that serialises the migrations
// of instances starting at once.
const pgMigrateLock = 0x6465736b776179 // "deskway"

// openPostgres connects to PostgreSQL and applies the migrations.
// Notifications go through LISTEN/NOTIFY, so every broker instance on the
// database hears them.
func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("broker: postgres dsn: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("broker: connect to postgres: %w", err)
	}
	s := &sqlStore{w: db, r: db, dialect: dialect{name: "postgres", dollar: true, forUpdate: " FOR UPDATE"}}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, pgMigrateLock); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("broker: migrate: lock: %w", err)
	}
	err = s.migrate(ctx, conn)
	conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, pgMigrateLock)
	conn.Close()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.notify = func(ctx context.Context, topic, payload string) error {
		_, err := db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, pgChannel, topic+" "+payload)
		return err
	}
	s.listen = func(ctx context.Context, fn func(topic, payload string)) error {
		return pgListen(ctx, cfg, fn, log)
	}
	s.close = db.Close
	return s, nil
}

// pgListen holds a connection that LISTENs on pgChannel until ctx ends,
// reconnecting with backoff when it breaks; each (re)connection is
// followed by a TopicResync.
func pgListen(ctx context.Context, cfg *pgx.ConnConfig, fn func(topic, payload string), log *slog.Logger) error {
	for attempt := 0; ; attempt++ {
		err := pgListenOnce(ctx, cfg, fn, func() { attempt = 0 })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("postgres listener lost, reconnecting", "err", err)
		d := min(100*time.Millisecond<<min(attempt, 8), 10*time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func pgListenOnce(ctx context.Context, cfg *pgx.ConnConfig, fn func(topic, payload string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgChannel); err != nil {
		return err
	}
	connected()
	fn(TopicResync, "")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		topic, payload, _ := strings.Cut(n.Payload, " ")
		fn(topic, payload)
	}
}

// OpenStore opens the store named by dsn: "sqlite:PATH" (or a path ending
// in .db) for SQLite, "postgres://…" or "postgresql://…" for PostgreSQL.
// It creates the schema or migrates it to this version.
func OpenStore(ctx context.Context, dsn string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn, log)
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasSuffix(dsn, ".db"):
		return openSQLite(ctx, dsn)
	}
	return nil, fmt.Errorf("broker: database %q: want sqlite:PATH or postgres://…", redactDSN(dsn))
}

// redactDSN hides a password in a DSN for messages.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.LastIndex(dsn, "@"); j > i {
			return dsn[:i+3] + "…@" + dsn[j+1:]
		}
	}
	return dsn
}

var _ = sql.ErrNoRows
