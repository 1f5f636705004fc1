package crm_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
)

func TestDraftRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		fields map[string]any
		want   string
	}{
		{"lead", map[string]any{"title": "x", "value": "lots"}, "value must be a number"},
		{"lead", map[string]any{"title": "x", "stage": "won"}, `lead has no field "stage"`},
		{"note", map[string]any{"content": ""}, "content is empty"},
		{"note", map[string]any{"content": "x", "about": "cat"}, "about is person, lead, deal or owner"},
		{"planet", nil, "unknown record kind"},
		{"lead", map[string]any{"person": []any{1}}, "person must be"},
	} {
		_, err := crm.Draft(engine.Record{Kind: engine.RecordKind(tc.kind), Key: "k", Fields: tc.fields})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.kind, tc.fields, err, tc.want)
		}
	}
	r, err := crm.Draft(engine.Record{Kind: "deal", Key: "k", Fields: map[string]any{"title": "x", "value": 12.5, "currency": "eur", "expected_close": "2030-01-15T00:00:00Z"}})
	if err != nil || *r.Value != 12.5 || r.Currency != "EUR" || r.ExpectedClose != "2030-01-15" {
		t.Fatalf("draft = %+v, %v", r, err)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), `"email"`) {
		t.Fatalf("empty fields in JSON: %s", b)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		" Ana@Acme.IO ": "ana@acme.io", "mailto:bo@x.org": "bo@x.org", "Bo <bo@x.org>": "bo@x.org",
		"nope": "", "a@b": "", "@x.org": "", "a b@x.org": "",
	} {
		if got := crm.NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"+1 (415) 555-0100": "+14155550100", "0044 20 7946 0958": "+442079460958", "030 1234567": "0301234567",
		"12345": "", "call me": "", "+1234567890123456": "", "tel:+4930123456": "+4930123456",
	} {
		if got := crm.NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"ana@acme.io": "acme.io", "bo@eu.acme.co.uk": "acme.co.uk", "x@gmail.com": "", "x@yahoo.co.uk": "",
		"x@web.de": "", "x@mail.ru": "", "x@outlook.de": "", "x@proton.me": "", "x@qq.com": "", "x@163.com": "",
		"x@icloud.com": "", "x@gmx.net": "", "x@yandex.ru": "", "x@aol.com": "", "x@hotmail.fr": "", "not an email": "",
	} {
		if got := crm.OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
	if crm.OrgName("acme.co.uk") != "Acme" {
		t.Error(crm.OrgName("acme.co.uk"))
	}
}

func FuzzDraft(f *testing.F) {
	f.Add("lead", "title", "x", "value", "12.5")
	f.Add("note", "content", "", "about", "owner")
	f.Add("person", "email", "Ana@Acme.io", "phone", "+1 (415) 555-0100")
	f.Add("task", "due", "2030-01-01", "assignee", "round_robin:sales")
	f.Add("organization", "domain", "www.acme.co.uk", "name", "")
	f.Fuzz(func(t *testing.T, kind, k1, v1, k2, v2 string) {
		fields := map[string]any{k1: v1, k2: []any{v2, map[string]any{k1: v2}}, "custom": map[string]any{k2: v1}}
		r, err := crm.Draft(engine.Record{Kind: engine.RecordKind(kind), Key: "k", Fields: fields})
		if err == nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("a draft does not encode: %v", err)
			}
		}
		crm.NormalizeEmail(v1)
		crm.NormalizePhone(v2)
		crm.OrgDomain(v1)
		crm.OrgName(v2)
	})
}

func TestBackoffGrowsWithFullJitterAndLastsADay(t *testing.T) {
	o := crm.DeliveryOptions{RetryBase: 30 * time.Second, RetryCap: time.Hour}
	for n := 1; n <= 20; n++ {
		ceil := min(30*time.Second<<(n-1), time.Hour)
		for range 50 {
			d := o.Backoff(n)
			if d < 30*time.Second/4 || d > ceil {
				t.Fatalf("attempt %d waited %s, want ≤ %s", n, d, ceil)
			}
		}
	}
	// Dead-lettering happens only once MaxAge (24h) has passed since the
	// first attempt, however the waits fall: at least 24 hours of retries.
	elapsed, attempts := time.Duration(0), 0
	for elapsed < 24*time.Hour {
		attempts++
		elapsed += o.Backoff(attempts)
	}
	t.Logf("a day of retries: %d attempts", attempts)
	if attempts < 20 {
		t.Fatalf("only %d attempts in 24h", attempts)
	}
}
