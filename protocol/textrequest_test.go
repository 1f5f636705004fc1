package protocol

import (
	"strings"
	"testing"
)

func TestTextRequestCheck(t *testing.T) {
	for _, tt := range []struct {
		name, text, id, want, trimmed string
	}{
		{"plain", "  Hello  ", "r1", "", "Hello"},
		{"empty", "   ", "", "text must be 1 to 4000 characters", ""},
		{"longest", strings.Repeat("é", MaxText), "", "", strings.Repeat("é", MaxText)},
		{"too long", strings.Repeat("a", MaxText+1), "", "text must be 1 to 4000 characters", ""},
		{"not UTF-8", "a\xffb", "", "text must be 1 to 4000 characters", ""},
		{"long client id", "hi", strings.Repeat("x", MaxClientID+1), "client_id is at most 100 characters", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := TextRequest{Text: tt.text, ClientID: tt.id}
			err := r.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || err.Message != tt.want || err.Code != CodeInvalid):
				t.Fatalf("got %v; want invalid: %s", err, tt.want)
			case tt.want == "" && r.Text != tt.trimmed:
				t.Fatalf("text %q; want %q", r.Text, tt.trimmed)
			}
		})
	}
}
