// Package bench is the load driver behind `playbook bench`: simulated
// visitors that talk to real `playbook serve` processes over websockets,
// through the reference conversation of BENCH.md (playbooks/bench), and the
// measurements around them.
//
//   - [Run] drives N visitors, each running one conversation after another
//     on a new websocket, and checks every reply and every outcome; a
//     difference is an error, never ignored. A turn's latency is from
//     sending the visitor's frame to receiving the bot's last message of the
//     turn.
//   - [Ceiling] runs only the store's atomic session read-modify-write
//     (redisstore.Store.Turn) with the same number of workers: what the
//     end-to-end numbers are compared with.
//   - [Idle] opens many widgets that start a conversation and then stay
//     idle, to measure the server's memory per connection.
//   - [Probe] samples server CPU and memory from /proc, and Redis's INFO.
//   - [SimulatedPresence] is the world of agents the bench assumes: agents
//     online for even conversation numbers (`serve --simulate-presence
//     bench`).
//
// The driver only talks to loopback addresses, and every run is bounded by
// a duration or a number of conversations.
package bench
