package bench_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/protocol"
)

// startReference serves the reference server on rdb with prefix.
func startReference(t *testing.T, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	ref, err := bench.NewReference(rdb, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return hs.URL
}

// TestReferenceAnswersTheBench runs the bench's whole mix against the
// reference server: every reply and outcome is checked by the bench.
func TestReferenceAnswersTheBench(t *testing.T) {
	rds := redistest.New(t)
	url := startReference(t, rds.Client, rds.Prefix)
	res, err := bench.Run(context.Background(), bench.Options{URLs: []string{url}, Visitors: 3, Conversations: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d errors: %v", res.Errors, res.ErrorSamples)
	}
	want := map[string]int{bench.OutcomeHandoff: 6, bench.OutcomeLead: 6, bench.OutcomeNurture: 4, bench.OutcomeBrowsing: 4}
	for o, n := range want {
		if res.ByOutcome[o] != n {
			t.Errorf("%s: %d conversations, want %d", o, res.ByOutcome[o], n)
		}
	}
	if res.Turns != 6*12+5*4+2*4 {
		t.Errorf("%d turns, want %d", res.Turns, 6*12+5*4+2*4)
	}
}

// TestReferenceOneRoundTripPerTurn: the reference stores a turn with one
// request to Redis, the EVALSHA of the turn script, and nothing else.
func TestReferenceOneRoundTripPerTurn(t *testing.T) {
	rds := redistest.New(t)
	opt, err := redis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	counter := &tripCounter{by: map[string]int{}}
	rdb.AddHook(counter)
	url := startReference(t, rdb, rds.Prefix)
	// The first turn may load the script (EVALSHA, NOSCRIPT, EVAL).
	if res, err := bench.Run(context.Background(), bench.Options{URLs: []string{url}, Conversations: 1}); err != nil || res.Errors != 0 {
		t.Fatalf("warm-up: %v %v", err, res.ErrorSamples)
	}
	counter.reset()
	cmds := map[string]int{}
	rdb.AddHook(nameCounter(cmds))
	res, err := bench.Run(context.Background(), bench.Options{URLs: []string{url}, Conversations: 10})
	if err != nil || res.Errors != 0 {
		t.Fatalf("%v %v", err, res.ErrorSamples)
	}
	if n := counter.count(); n != res.Turns {
		t.Errorf("%d round trips for %d turns, want one a turn", n, res.Turns)
	}
	if len(cmds) != 1 || cmds["evalsha"] != res.Turns {
		t.Errorf("commands %v for %d turns, want only evalsha, one a turn", cmds, res.Turns)
	}
}

// nameCounter counts commands by name (not safe for concurrent turns: the
// test runs one visitor).
type nameCounter map[string]int

func (c nameCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c nameCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c[cmd.Name()]++
		return next(ctx, cmd)
	}
}
func (c nameCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c[cmd.Name()]++
		}
		return next(ctx, cmds)
	}
}

// The parts of a frame that differ from one run to the next: stream ids,
// times, the conversation's id and token.
var (
	streamIDRE = regexp.MustCompile(`"\d{13}-\d+"`)
	atRE       = regexp.MustCompile(`"at":"[^"]+"`)
	tokenRE    = regexp.MustCompile(`"token":"[^"]+"`)
	convRE     = regexp.MustCompile(`"conversation":"[a-z2-7]{26}"`)
)

func normalize(frame []byte) string {
	s := streamIDRE.ReplaceAllString(string(frame), `"ID"`)
	s = atRE.ReplaceAllString(s, `"at":"AT"`)
	s = tokenRE.ReplaceAllString(s, `"token":"TOKEN"`)
	return convRE.ReplaceAllString(s, `"conversation":"CONV"`)
}

// transcriptOf runs conversation n of the bench's mix on a new websocket to
// url and returns, turn by turn, the frames received up to the status that
// ends the turn, normalized.
func transcriptOf(t *testing.T, url string, n int) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := client.DialVisitor(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	sc := bench.ScriptFor(n)
	var out [][]string
	var buttons []protocol.Button
	for i, turn := range sc.Turns {
		var f protocol.Frame
		switch turn.Type {
		case "start":
			f = &protocol.Start{Playbook: "qualify", Page: "/bench", Locale: "en", Visitor: &protocol.Visitor{ID: bench.VisitorID(n)}}
		case "message":
			f = &protocol.Message{ID: "m" + strconv.Itoa(i), Text: turn.Text}
		case "button":
			value := ""
			for _, b := range buttons {
				if b.Label == turn.Label {
					value = b.Value
				}
			}
			f = &protocol.Click{ID: "m" + strconv.Itoa(i), Value: value, Label: turn.Label}
		}
		if err := ws.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
		var frames []string
		ack := ""
		for {
			r, err := ws.NextRaw(ctx)
			if err != nil {
				t.Fatalf("conversation %d turn %d: %v after %q", n, i+1, err, frames)
			}
			if _, ok := r.Frame.(*protocol.Ack); ok && ack == "" {
				// serve's own live echo may bring the entries before
				// the ack (clients take the ack by id, docs/protocol.md):
				// the ack is compared apart from their order.
				ack = normalize(r.Raw)
				continue
			}
			if _, ok := r.Frame.(*protocol.Status); ok && ack != "" {
				frames = append(frames, ack)
			}
			frames = append(frames, normalize(r.Raw))
			if e, ok := r.Frame.(*protocol.EntryFrame); ok && e.Entry.From == "bot" && len(e.Entry.Buttons) > 0 {
				buttons = e.Entry.Buttons
			}
			if _, ok := r.Frame.(*protocol.Status); ok {
				break
			}
		}
		out = append(out, frames)
	}
	return out
}

// TestReferenceFramesMatchServe: for every kind of conversation of the
// mix, the reference server sends the frames serve sends, byte for byte
// but for ids, times and tokens.
func TestReferenceFramesMatchServe(t *testing.T) {
	serveURL, rds := startServer(t, playbooks.BenchQualify)
	refURL := startReference(t, rds.Client, rds.Prefix+"ref:")
	for n := range 10 { // k = n mod 10: every kind of the mix
		want := transcriptOf(t, serveURL, n)
		got := transcriptOf(t, refURL, n)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("conversation %d (%s):\nreference: %s\nserve:     %s", n, bench.ScriptFor(n).Outcome,
				strings.Join(flat(got), "\n           "), strings.Join(flat(want), "\n           "))
		}
	}
}

func flat(turns [][]string) []string {
	var out []string
	for i, fs := range turns {
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%d %s", i+1, f))
		}
	}
	return out
}
