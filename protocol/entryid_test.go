package protocol

import "testing"

func TestEntryIDOrder(t *testing.T) {
	ids := []string{"", "1-0", "1-1", "1-10", "2-0", "10-0"}
	for i := range ids {
		for j := range ids {
			a, b := ParseEntryID(ids[i]), ParseEntryID(ids[j])
			if got, want := a.Less(b), i < j; got != want {
				t.Errorf("%q < %q: got %v, want %v", ids[i], ids[j], got, want)
			}
		}
		if got := ParseEntryID(ids[i]).String(); got != ids[i] {
			t.Errorf("ParseEntryID(%q).String() = %q", ids[i], got)
		}
	}
	if got := ParseEntryID("junk"); got != (EntryID{}) {
		t.Errorf("a malformed id reads as %v, want the zero id", got)
	}
}
