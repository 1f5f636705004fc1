package conversation

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// filled sets every field of the struct v points to (recursively, through
// pointers, slices and maps) to a non-zero value, so that a conversion
// that forgets a field shows.
func filled(t *testing.T, v any) {
	t.Helper()
	fill(reflect.ValueOf(v).Elem(), 1)
}

func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			v.SetInt(int64(time.Second))
			return
		}
		v.SetInt(int64(n + 1))
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n+i+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n+1)
		if e.Kind() == reflect.Interface {
			e.Set(reflect.ValueOf("x"))
		} else {
			fill(e, n+2)
		}
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).Add(time.Duration(n) * time.Hour)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n+i)
			}
		}
	}
}

// sameBytes checks that the service's value and its wire form encode to
// the same bytes.
func sameBytes(t *testing.T, service, wire any) {
	t.Helper()
	a, err := json.Marshal(service)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("%T encodes differently from %T:\nservice %s\nwire    %s", wire, service, a, b)
	}
}

// TestWireMatchesServiceTypes: every field of the services' entry,
// conversation, agent and record survives the conversion to the protocol's
// types, byte for byte on the wire; and a start frame's visitor reaches
// the engine whole.
func TestWireMatchesServiceTypes(t *testing.T) {
	var e store.Entry
	filled(t, &e)
	sameBytes(t, e, WireEntry(e))
	sameBytes(t, store.Entry{From: "bot", Kind: "message"}, WireEntry(store.Entry{From: "bot", Kind: "message"}))

	var c handoff.Conversation
	filled(t, &c)
	sameBytes(t, &c, WireConversation(&c))
	sameBytes(t, &handoff.Conversation{ID: "c"}, WireConversation(&handoff.Conversation{ID: "c"}))

	var a handoff.Agent
	filled(t, &a)
	sameBytes(t, &a, WireAgent(&a))

	var r crm.Record
	filled(t, &r)
	sameBytes(t, &r, WireRecord(&r))

	var v protocol.Visitor
	filled(t, &v)
	want := engine.Visitor{}
	b, _ := json.Marshal(v)
	json.Unmarshal(b, &want)
	if got := EngineVisitor(&v); !reflect.DeepEqual(got, want) {
		t.Errorf("EngineVisitor = %+v, want %+v", got, want)
	}
}
