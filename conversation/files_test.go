package conversation_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
)

func TestSafeFileName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\ana\Desktop\cv.pdf`, "cv.pdf"},
		{"a\r\nX-Injected: 1.txt", "aX-Injected: 1.txt"},
		{`say "hi".txt`, "say hi.txt"},
		{"\u202etxt.exe", "txt.exe"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{"..", "file"},
		{"", "file"},
		{strings.Repeat("é", 300) + ".pdf", strings.Repeat("é", 116) + ".pdf"},
	} {
		if got := conversation.SafeFileName(tc.in); got != tc.want {
			t.Errorf("SafeFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{812: "812 bytes", 4300: "4.2 KB", 10 << 20: "10 MB", 1536 << 10: "1.5 MB"} {
		if got := conversation.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
