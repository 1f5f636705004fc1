// Package playtest runs the conversation tests of playbooks: the
// `*.test.yaml` files that sit beside them.
//
// [Parse] reads a test file through yaml.Node, so every problem in it is a
// [source.Diagnostic] with the file, line and column, all found in one pass.
// [Run] replays one [Test] against a compiled [engine.Program] with the same
// interpreter production uses, inside a [Sim]: a mock world with a clock that
// only moves when the script says `wait:` (timers fire in due order), agents'
// presence and opening hours taken from the test, a dry-run CRM (records are
// collected, nothing is stored) and dry-run HTTP (calls are answered from the
// test's `http:` mocks by "METHOD URL"; a call with no mock gets a transport
// error). Nothing is sent anywhere and no real time passes.
//
// Results are data: per test pass or fail with the first mismatch (what was
// expected, what happened, and where in the test file), and per playbook the
// cards the tests entered ([Coverage]). The CLI renders them.
//
// Matching rules (docs/SPEC.md, "Tests"):
//   - `bot:` lines consume the bot's messages in order; each matches the
//     first unread message that is exactly its text, or matches the regular
//     expression when written /like this/. Earlier unread messages are
//     skipped; a later bot line never goes back to them. Messages not
//     consumed before the next visitor action are skipped too.
//   - `buttons:` are the buttons of the last bot message, labels in order.
//   - `expect.created` lists exactly the kinds created, in order; the fields
//     given must match (a subset), and each goes through the CRM's dry run
//     (crm.Draft): a record the CRM would refuse fails the test. Nothing is
//     stored or sent. `expect.vars` is a subset of the vars.
//     Numbers compare by value: 3 equals 3.0.
//
// A call effect is answered as soon as it is made (the visitor action that
// follows could not be handled before it anyway), so the bot's messages
// after a call can be checked with `bot:` lines before the next visitor step.
package playtest
