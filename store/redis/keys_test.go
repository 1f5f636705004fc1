package redis

import "testing"

// TestKeysOfAConversation: a conversation's three keys and its channel,
// made in one string, are each what its name says.
func TestKeysOfAConversation(t *testing.T) {
	for _, c := range []struct{ prefix, id string }{{"pb:", "c1"}, {"t0a1b2c3d:", "01JDQ4ZC8N8W2V3T5K7Y9A1B3C"}, {"p", ""}} {
		s := &Store{prefix: c.prefix}
		got, ch := s.keysAndChannel(c.id)
		tag := c.prefix + "{c:" + c.id + "}:"
		want := []string{tag + "s", tag + "msgs", tag + "cid"}
		if !equal(got, want) || cap(got) != 7 {
			t.Errorf("keys(%q) with prefix %q = %q (cap %d), want %q (cap 7)", c.id, c.prefix, got, cap(got), want)
		}
		if ch != s.Channel(c.id) || ch != tag+"live" {
			t.Errorf("channel of %q with prefix %q = %q, want %q", c.id, c.prefix, ch, tag+"live")
		}
	}
}
