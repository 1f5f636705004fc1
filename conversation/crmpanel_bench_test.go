package conversation_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
)

// BenchmarkPanel opens the details panel of a chat whose person has a
// lead, on the embedded engine.
func BenchmarkPanel(b *testing.B) {
	ctx := context.Background()
	f := newCRMFixture(b, nil)
	conv := f.chat(b, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Panel(ctx, f.sam, conv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeadFromChat makes a lead from a new chat (started outside the
// timer) with a visitor who is known, answered with the refreshed panel,
// on the embedded engine.
func BenchmarkLeadFromChat(b *testing.B) {
	ctx := context.Background()
	f := newCRMFixture(b, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		conv := f.chat(b, engine.Visitor{Name: "Ana", Email: "ana" + strconv.Itoa(i%50) + "@acme.io"})
		b.StartTimer()
		if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}
