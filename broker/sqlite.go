package broker

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// openSQLite opens (creating if needed) the SQLite database file at path
// in WAL mode and applies the migrations. Writes go through one
// connection (SQLite has one writer anyway, and a pool of writers would
// only trade waiting for SQLITE_BUSY); reads use a small pool.
//
// Notifications stay inside this process: several broker processes on one
// SQLite file are not supported (use PostgreSQL for that).
func openSQLite(ctx context.Context, path string) (Store, error) {
	pragmas := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		pragmas.Add("_pragma", p)
	}
	pragmas.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + pragmas.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("broker: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	conn, err := w.Conn(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("broker: open sqlite %s: %w", path, err)
	}
	s := &sqlStore{w: w, dialect: dialect{name: "sqlite"}}
	err = s.migrate(ctx, conn)
	conn.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	pragmas.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("broker: open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	s.r = r
	hub := &localNotifier{subs: map[int]chan [2]string{}}
	s.notify = hub.notify
	s.listen = hub.listen
	s.close = func() error {
		r.Close()
		return w.Close()
	}
	return s, nil
}

// localNotifier delivers notifications to the listeners of this process.
// A listener that falls behind by more than its buffer misses
// notifications and gets a TopicResync instead.
type localNotifier struct {
	mu   sync.Mutex
	next int
	subs map[int]chan [2]string
}

func (n *localNotifier) notify(ctx context.Context, topic, payload string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range n.subs {
		select {
		case ch <- [2]string{topic, payload}:
		default:
			// Full: make room for a resync, which covers what was dropped.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- [2]string{TopicResync, ""}:
			default:
			}
		}
	}
	return nil
}

func (n *localNotifier) listen(ctx context.Context, fn func(topic, payload string)) error {
	ch := make(chan [2]string, 256)
	n.mu.Lock()
	id := n.next
	n.next++
	n.subs[id] = ch
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.subs, id)
		n.mu.Unlock()
	}()
	fn(TopicResync, "")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-ch:
			fn(m[0], m[1])
		}
	}
}
