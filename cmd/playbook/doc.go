// Command playbook checks, tests, draws and runs chatbot playbooks.
//
//	playbook validate [--json] FILE|DIR...
//	playbook test [-run REGEX] [-v] [DIR|FILE...]
//	playbook chat [options] FILE
//	playbook graph [--direction TD|LR] FILE
//	playbook serve [--config FILE] [options]
//	playbook doctor [--config FILE] [options]
//	playbook help [COMMAND]
//
// main only calls [run], which parses the command line and returns the exit
// code: 0 success, 1 a problem was found (a playbook error, a failing test),
// 2 the command line was wrong. Commands return errors; an error carries its
// exit code through the small exitCoder interface, found with errors.As.
// Each command has its own flag.FlagSet; a new command is one more entry in
// the commands table. A command with a configSpec (serve, doctor, the admin
// commands) also takes its flags from PLAYBOOK_* variables and a YAML file
// (config.go).
package main
