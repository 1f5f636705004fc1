package conversation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// firstAnswerLost loses the first fold that answers a question (its
// pending mark stays for the sweep), as a process that died between that
// turn and its fold would.
type firstAnswerLost struct {
	store.Funnels
	mu   sync.Mutex
	lost bool
}

func (f *firstAnswerLost) FoldMany(ctx context.Context, folds []store.FunnelFold, keep time.Duration) []error {
	errs := make([]error, len(folds))
	var kept []store.FunnelFold
	var at []int
	f.mu.Lock()
	for i, x := range folds {
		if !f.lost && answers(x.Facts) {
			f.lost = true
			errs[i] = errLost
			continue
		}
		kept = append(kept, x)
		at = append(at, i)
	}
	f.mu.Unlock()
	for j, err := range f.Funnels.FoldMany(ctx, kept, keep) {
		errs[at[j]] = err
	}
	return errs
}

func (f *firstAnswerLost) Fold(ctx context.Context, conv string, key store.FunnelKey, facts []store.FunnelFact, keep time.Duration, done string) error {
	if errs := f.FoldMany(ctx, []store.FunnelFold{{Conv: conv, Key: key, Facts: facts, Done: done}}, keep); errs[0] != nil {
		return errs[0]
	}
	return nil
}

var errLost = errors.New("the fold was lost")

func answers(facts []store.FunnelFact) bool {
	for _, f := range facts {
		if strings.HasPrefix(f.Name, "answered|") {
			return true
		}
	}
	return false
}

// TestAnswerTimeIsTheFirstAnswersWhenItsFoldIsLost: the visitor answers
// the email question wrongly after 300 ms and rightly after 700 ms; the
// first answer's fold is lost and the second's lands before the sweep
// folds the transcript again. The funnel's answer time is still the first
// answer's (bucket 500), as a count of the transcript says: before, the
// retried question's answer was counted as the first (bucket 1000), which
// made internal/bench's TestFunnelEqualsACountOfTheTranscripts fail now
// and then under load (a lost fold and a slow answer near 500 ms).
func TestAnswerTimeIsTheFirstAnswersWhenItsFoldIsLost(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	var mu sync.Mutex
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	st := redisstore.New(rdb, redisstore.Options{Prefix: "t:", Pending: conversation.TurnLeavesWork, Now: clock})
	inbox := handoff.NewStore(redisstore.NewInbox(rdb, "t:"), handoff.Options{Prefix: "t:", Alive: st.Alive, PasswordCost: bcrypt.MinCost})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "signup.yaml"), []byte(signup), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := conversation.NewRegistry(dir, st.Programs(), quiet(), clock)
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbook: %v %v", diags, err)
	}
	funnels := &firstAnswerLost{Funnels: redisstore.NewFunnels(rdb, "t:")}
	svc, err := conversation.New(conversation.Config{
		Store: st, Timers: st.Timers(), Inbox: inbox, CRM: crm.New(redisstore.NewCRM(rdb, "t:"), redisstore.NewCRM(rdb, "t:"), crm.Options{}), Registry: reg,
		Publisher: &fakePublisher{}, Records: &fakeRecords{}, Funnels: funnels, RecoverAfter: time.Minute, IdleTTL: time.Hour,
		Logger: quiet(), Now: clock, Presence: salesOnline{},
	})
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := reg.Current("signup")
	sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: prog, Locale: "en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	say := func(id, text string) {
		t.Helper()
		msg := redisstore.Entry{From: "visitor", Kind: "message", Text: text, ClientID: id, At: clock()}
		if _, _, err := svc.Turn(ctx, sess.ID, id, engine.Event{Kind: engine.EventText, Text: text}, &msg); err != nil {
			t.Fatal(err)
		}
		if err := svc.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	advance(300 * time.Millisecond)
	say("m1", "nope")
	funnels.mu.Lock()
	lost := funnels.lost
	funnels.mu.Unlock()
	if !lost {
		t.Fatal("the first answer's fold was not lost: the test tests nothing")
	}
	advance(400 * time.Millisecond)
	say("m2", "ada@example.com")
	advance(2 * time.Minute)
	svc.RecoverPending(ctx)
	if err := svc.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d turns still pending (%v)", n, err)
	}
	stats, err := svc.Funnel(ctx, conversation.StatsQuery{Playbook: "signup"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Versions) != 1 {
		t.Fatalf("%d versions, want 1", len(stats.Versions))
	}
	for _, c := range stats.Versions[0].Cards {
		if c.Card != "ask" {
			continue
		}
		if c.Answered != 1 || c.AnswerTimes["500"] != 1 || len(c.AnswerTimes) != 1 {
			t.Fatalf("card ask: %d answered, answer times %v; want 1 answered in 300 ms (bucket 500)", c.Answered, c.AnswerTimes)
		}
		return
	}
	t.Fatalf("no card ask in the funnel: %+v", stats.Versions[0].Cards)
}
