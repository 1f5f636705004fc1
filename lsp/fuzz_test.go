package lsp

import (
	"io"
	"strings"
	"testing"
)

// FuzzServe feeds the server arbitrary input, framed and unframed: it must
// answer or stop with an error, never panic or hang.
func FuzzServe(f *testing.F) {
	frame := func(body string) string {
		return "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	}
	f.Add(frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	f.Add(frame(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x.yaml","version":1,"text":"playbook: x\ncards:\n  a:\n    goto: a\n"}}}`) +
		frame(`{"jsonrpc":"2.0","id":2,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///x.yaml"},"position":{"line":3,"character":10}}}`) +
		frame(`{"jsonrpc":"2.0","id":3,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///x.yaml"},"position":{"line":99,"character":-4}}}`))
	f.Add(frame(`{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":"file:///none.yaml"},"position":{"line":0,"character":0}}}`))
	f.Add("Content-Length: 3\r\n\r\n{}}")
	f.Add("garbage\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		_ = Serve(strings.NewReader(in), io.Discard, io.Discard)
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
