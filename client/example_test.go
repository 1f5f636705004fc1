package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/protocol"
)

// A visitor starts a conversation, answers the bot's first question with
// a button, and later resumes from the last entry it has.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialVisitor(ctx, "http://127.0.0.1:8080", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx, protocol.Start{Playbook: "website-sales", Locale: "en"}); err != nil {
		log.Fatal(err)
	}
	// Read until the bot's first message with buttons, then click the first.
	f, err := c.Until(ctx, func(f protocol.Frame) bool {
		e, ok := f.(*protocol.EntryFrame)
		return ok && e.Entry.From == "bot" && len(e.Entry.Buttons) > 0
	})
	if err != nil {
		log.Fatal(err)
	}
	b := f.(*protocol.EntryFrame).Entry.Buttons[0]
	// The client message id makes a resend safe: it runs once.
	if err := c.Click(ctx, "m1", b.Value, b.Label); err != nil {
		log.Fatal(err)
	}
	ack, err := c.Until(ctx, func(f protocol.Frame) bool { _, ok := f.(*protocol.Ack); return ok })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored as entry", ack.(*protocol.Ack).Entry)

	// After a network break: a new connection that resumes after the last
	// entry received (c.Token() and c.LastEntry() can be kept anywhere).
	c2, err := c.Reconnect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer c2.Close()
}

// An agent signs in, goes online, and takes the first chat waiting in the
// Unassigned folder.
func ExampleSignIn() {
	ctx := context.Background()
	sam, err := client.SignIn(ctx, "http://127.0.0.1:8080", "sam@example.com", "correct horse", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	feed, err := sam.Feed(ctx) // the live feed: notify, conversation, entry frames
	if err != nil {
		log.Fatal(err)
	}
	defer feed.Close()
	if err := sam.SetPresence(ctx, protocol.Online); err != nil {
		log.Fatal(err)
	}
	waiting, err := sam.Conversations(ctx, protocol.FolderUnassigned)
	if err != nil || len(waiting) == 0 {
		log.Fatal("nothing waiting", err)
	}
	conv := waiting[0].ID
	if _, err := sam.Assign(ctx, conv, ""); client.StatusOf(err) == 409 {
		log.Fatal("someone else took it first")
	}
	if _, err := sam.Reply(ctx, conv, "Hi, Sam here. How can I help?", "r1"); err != nil {
		log.Fatal(err)
	}
}
