package embedded_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestBackends runs the sessions and timers suites on every backend this
// build has (bbolt; with -tags embeddedbench also Pebble and SQLite).
func TestBackends(t *testing.T) {
	for _, b := range embedded.Backends() {
		t.Run(b, func(t *testing.T) {
			openDB := func(t *testing.T) (*embedded.DB, *clock) {
				c := &clock{t: time.Now()}
				db, err := embedded.Open(t.TempDir(), embedded.Options{Backend: b, Now: c.Now, SweepEvery: -1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db, c
			}
			storetest.Sessions(t, func(t *testing.T) storetest.SessionsEnv {
				db, c := openDB(t)
				return storetest.SessionsEnv{
					Open: func(o store.SessionOptions) storetest.SessionStore { return embedded.NewSessions(db, o) },
					Bus:  func() store.Bus { return db.Bus() },
					Advance: func(d time.Duration) {
						c.Add(d)
						if _, err := db.Sweep(t.Context()); err != nil {
							t.Fatal(err)
						}
					},
				}
			})
			storetest.Timers(t, func(t *testing.T) func() store.Timers {
				db, _ := openDB(t)
				return func() store.Timers { return embedded.NewTimers(db) }
			})
		})
	}
}

// benchSession is the reference conversation's session at the size
// question (playbooks/bench/qualify.yaml), as store/redis's benchmark.
func benchSession(id string) *engine.Session {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	return &engine.Session{
		ID: id, Playbook: "qualify", Version: "c11ec78da57f2b1e8e6b3f0c3c1f8a4ed2b6b0b39c7d5a1e4f2a6c9d8e7b1a30",
		Status: engine.StatusWaiting, Card: 4, Locale: "en", Turn: 4,
		Vars:      map[string]any{"email": "visitor1@acme1.com", "score": 0},
		Visitor:   engine.Visitor{ID: "bench-1", Page: "/bench", Language: "en"},
		StartedAt: now, UpdatedAt: now,
	}
}

func benchEntries(clientID string) []store.Entry {
	now := time.Date(2026, 11, 22, 8, 0, 1, 0, time.UTC)
	return []store.Entry{
		{From: "visitor", Kind: "message", Text: "visitor1@acme1.com", ClientID: clientID, At: now},
		{From: "bot", Kind: "message", Text: "How many employees?", Author: "Ava", Card: "size", Input: "choice", At: now,
			Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}, {Label: "11-50", Value: "11-50"}, {Label: "51-200", Value: "51-200"}, {Label: "201+", Value: "201+"}}},
	}
}

// BenchmarkTurn measures one turn (load, step, commit with a client id and
// two transcript entries, publication) on every backend, with and without
// fsync, on its own conversation or (parallel) GOMAXPROCS at once. A new
// conversation every 100 turns, as store/redis's BenchmarkTurn.
func BenchmarkTurn(b *testing.B) {
	ctx := context.Background()
	for _, backend := range embedded.Backends() {
		for _, sync := range []bool{false, true} {
			for _, parallel := range []bool{false, true} {
				name := backend
				if sync {
					name += "/fsync"
				} else {
					name += "/nofsync"
				}
				if parallel {
					name += "-parallel"
				}
				b.Run(name, func(b *testing.B) {
					db, err := embedded.Open(b.TempDir(), embedded.Options{Backend: backend, Sync: sync})
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					st := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour})
					var mu chan int = make(chan int, 1)
					mu <- 0
					worker := func(next func() bool) {
						w := <-mu
						mu <- w + 1
						conv, turns, n := "", 0, 0
						for next() {
							if conv == "" || turns == 100 {
								n++
								conv = strconv.Itoa(w) + "-" + strconv.Itoa(n)
								if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
									b.Error(err)
									return
								}
								turns = 0
							}
							turns++
							id := "m" + strconv.Itoa(turns)
							if _, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
								sess.Turn++
								return sess, benchEntries(id), nil
							}); err != nil {
								b.Error(err)
								return
							}
						}
					}
					b.ReportAllocs()
					if parallel {
						b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
						return
					}
					worker(b.Loop)
				})
			}
		}
	}
}

// BenchmarkTurnConcurrent is BenchmarkTurn at the bench's shape: 50
// goroutines at once (playbook bench's 50 visitors), each conversation
// created and then answered 5 times (the reference conversation's 6
// turns), on bbolt without fsync, so group commits hold many turns as in
// serve. Besides wall time per turn it reports the process's CPU per turn
// (user+sys), steadier than wall time on a shared machine.
func BenchmarkTurnConcurrent(b *testing.B) {
	ctx := context.Background()
	db, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour})
	var ids atomic.Int64
	b.SetParallelism((50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conv, turns := "", 0
		for pb.Next() {
			if conv == "" || turns == 5 {
				conv = "conv-" + strconv.FormatInt(ids.Add(1), 10)
				if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
					b.Error(err)
					return
				}
				turns = 0
				continue
			}
			turns++
			id := "m" + strconv.Itoa(turns)
			if _, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
				sess.Turn++
				return sess, benchEntries(id), nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/turn")
}

// cpuTime is the process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTurnFoldConcurrent is BenchmarkTurnConcurrent with serve's
// funnel fold (two facts a turn, one with a time): "after", as before
// issue 13, each turn marked pending in its commit, then folded (the
// mark cleared) in a transaction of its own; "in-turn", TurnFolded, the
// fold in the turn's own commit and no mark.
func BenchmarkTurnFoldConcurrent(b *testing.B) {
	for _, mode := range []string{"after", "in-turn"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db, err := embedded.Open(b.TempDir(), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			st := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour,
				Pending:       func(e []store.Entry) bool { return len(e) > 0 },
				PendingFolded: func([]store.Entry) bool { return false }})
			f := embedded.NewFunnels(db)
			key := store.FunnelKey{Day: "2026-11-22", Playbook: "qualify", Version: "v1"}
			at := time.Date(2026, 11, 22, 8, 0, 1, 0, time.UTC)
			facts := func(turn int) []store.FunnelFact {
				card := strconv.Itoa(turn)
				return []store.FunnelFact{
					{Name: "answered|" + card, Counter: "answered|" + card, At: at, Since: "asked|" + card, Timing: "time|" + card},
					{Name: "asked|" + strconv.Itoa(turn+1), Counter: "asked|" + strconv.Itoa(turn+1), At: at},
				}
			}
			var ids atomic.Int64
			b.SetParallelism((50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				conv, turns := "", 0
				for pb.Next() {
					if conv == "" || turns == 5 {
						conv = "conv-" + strconv.FormatInt(ids.Add(1), 10)
						r, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:])
						if err == nil {
							err = st.Done(ctx, r.Pending)
						}
						if err != nil {
							b.Error(err)
							return
						}
						turns = 0
						continue
					}
					turns++
					id := "m" + strconv.Itoa(turns)
					fs := facts(turns)
					if mode == "in-turn" {
						_, err = st.TurnFolded(ctx, conv, id, time.Hour, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
							sess.Turn++
							return sess, benchEntries(id), &store.FunnelFold{Key: key, Facts: fs}, nil
						})
					} else {
						var r store.Result
						r, err = st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
							sess.Turn++
							return sess, benchEntries(id), nil
						})
						if err == nil {
							err = f.Fold(ctx, conv, key, fs, time.Hour, r.Pending)
						}
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/turn")
			if n, err := st.PendingCount(ctx); err != nil || n != 0 {
				b.Errorf("%d pending marks left (%v)", n, err)
			}
		})
	}
}
