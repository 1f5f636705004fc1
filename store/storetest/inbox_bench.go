package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// BenchInboxCycle measures one chat's inbox life on an engine: start,
// handoff to a team's queue, take, a message, resolve (5 inbox steps) per
// iteration, from parallel goroutines.
func BenchInboxCycle(b *testing.B, e store.InboxEngine) {
	ctx := context.Background()
	s := handoff.NewStore(e, handoff.Options{PasswordCost: bcrypt.MinCost})
	sam, err := s.AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Password: "correct horse"})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	next := func() string { return fmt.Sprint("bench-", n.Add(1)) }
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := next()
			if _, err := s.Start(ctx, handoff.Conversation{ID: id, Playbook: "p", Visitor: handoff.Visitor{ID: "v-" + id}}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.HandOff(ctx, id, handoff.Handoff{Team: "sales", Card: "sales"}); err != nil {
				b.Fatal(err)
			}
			c, _, err := s.Assign(ctx, id, sam, true)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Touch(ctx, c, handoff.Last{From: "visitor", Text: "hi"}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.Resolve(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}
