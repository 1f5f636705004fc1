package conversation

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// TestRedactPII: a logged runtime error loses the values of personal-data
// vars and the visitor's name and email, and keeps everything else.
// (Since bad text no longer stops the bot, no runtime error quotes a
// value, so server's TestPIIStaysOutOfTheLog cannot show this end to
// end.)
func TestRedactPII(t *testing.T) {
	src := "playbook: pii\nvars:\n  phone: {type: phone, pii: true}\n  plan: string\ncards:\n  a:\n    say: hi\n    end: done\n"
	p, diags := dsl.Load("pii.yaml", []byte(src))
	if p == nil {
		t.Fatal(diags)
	}
	sess := engine.NewSession(p, "s", time.Now())
	sess.Vars["phone"], sess.Vars["plan"] = "+44 20 7946 0018", "gold"
	sess.Visitor.Name, sess.Visitor.Email = "Ana Secret", "ana.secret@acme.io"
	got := redactPII(p, sess, `f("+44 20 7946 0018", "ana.secret@acme.io", "Ana Secret", "gold", "Al")`)
	if want := `f("[redacted]", "[redacted]", "[redacted]", "gold", "Al")`; got != want {
		t.Fatalf("redactPII = %s\nwant        %s", got, want)
	}
}
