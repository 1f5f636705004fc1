package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppend: any string is appended as json.Marshal writes it.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `"\<>&`, "\x00\b\f\n\r\t\x1f\x7f", "é 日本 😀", "\u2028\u2029", "\xff\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("Append(%q) = %s, want x%s", s, got, want)
		}
	})
}
