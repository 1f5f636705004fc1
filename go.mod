module github.com/playbook-dev/playbook

go 1.26.8

require github.com/expr-lang/expr v1.17.8

require (
	go.yaml.in/yaml/v4 v4.0.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
