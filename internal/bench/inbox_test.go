package bench

import "testing"

func TestSlotsOfMyself(t *testing.T) {
	nodes := `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 10923 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
`
	if got := slotsOfMyself(nodes); got != 5462 {
		t.Fatalf("slotsOfMyself = %d, want 5462 (0-5460 and 10923; the migrating slot left out)", got)
	}
	if got := slotsOfMyself("garbage\n"); got != 0 {
		t.Fatalf("slotsOfMyself(garbage) = %d", got)
	}
	if got := escapeGlob(`pb*x?[a]\`); got != `pb\*x\?\[a\]\\` {
		t.Fatalf("escapeGlob = %q", got)
	}
}
