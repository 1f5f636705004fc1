package access_test

import (
	"errors"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/access"
)

func TestVisitorFile(t *testing.T) {
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	ok := access.FileURL{Conversation: "c1", File: "f1", Expires: now.Add(time.Minute), Signed: true}
	for _, tc := range []struct {
		name string
		u    access.FileURL
		conv string
		file string
		want bool
	}{
		{"signed, in time", ok, "c1", "f1", true},
		{"unsigned", access.FileURL{Conversation: "c1", File: "f1", Expires: now.Add(time.Minute)}, "c1", "f1", false},
		{"another conversation's file", ok, "c2", "f1", false},
		{"another file", ok, "c1", "f2", false},
		{"at its expiry", access.FileURL{Conversation: "c1", File: "f1", Expires: now, Signed: true}, "c1", "f1", false},
		{"empty ids", access.FileURL{Signed: true, Expires: now.Add(time.Minute)}, "", "", false},
	} {
		err := access.VisitorFile(tc.u, tc.conv, tc.file, now)
		if (err == nil) != tc.want || err != nil && !errors.Is(err, access.ErrForbidden) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
