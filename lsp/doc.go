// Package lsp is a Language Server Protocol server for playbook files,
// spoken over stdio by `playbook lsp`.
//
// It checks a playbook as it is typed (with the other playbooks of its
// folder, for includes and ids) and publishes the checker's diagnostics; a
// test file (*.test.yaml) gets the test parser's. It answers go to
// definition for card names (goto, branch, offline, retry.then, on_error,
// fallback, other), vars and included playbooks; completion of card names,
// vars, built-ins, input types and keys; and hover for built-ins, keys of
// the language, vars and cards.
//
// The protocol types and the Content-Length framing are written here: the
// server needs a dozen of the specification's types and one JSON-RPC
// loop, which is less code than adapting a general LSP library's.
package lsp
