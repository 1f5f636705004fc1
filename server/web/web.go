// Package web holds the files the server serves to browsers: the visitor
// widget (static/widget.js, one file with its CSS, no build step) and the
// demo page (static/demo/index.html) with its images.
//
// The server maps GET /widget.js to static/widget.js, GET / to
// static/demo/index.html and GET /static/* to static/*.
package web

import "embed"

// Static is the static directory: widget.js, demo/ and the images the
// example playbooks use (/static/ava.png, /static/sam.png, /static/plans.png).
//
//go:embed static
var Static embed.FS
