package protocol

import "encoding/json"

// RecordDetails answers GET /api/people/{id} (also organizations, leads,
// deals, tasks): the record and the records it links to that the agent
// may see (nil: none). For a person, Leads, Deals and Tasks are set; for
// an organization, People, Leads and Deals: lists that are never nil then,
// and on the wire even when empty. Other kinds leave every list nil, and
// off the wire.
type RecordDetails struct {
	Record       *Record   `json:"record"`
	Person       *Record   `json:"person,omitempty"`
	Organization *Record   `json:"organization,omitempty"`
	Lead         *Record   `json:"lead,omitempty"`
	Deal         *Record   `json:"deal,omitempty"`
	People       []*Record `json:"people,omitempty"`
	Leads        []*Record `json:"leads,omitempty"`
	Deals        []*Record `json:"deals,omitempty"`
	Tasks        []*Record `json:"tasks,omitempty"`
}

// MarshalJSON writes the lists that are not nil, empty ones as [].
func (d RecordDetails) MarshalJSON() ([]byte, error) {
	m := map[string]any{"record": d.Record}
	for key, r := range map[string]*Record{"person": d.Person, "organization": d.Organization, "lead": d.Lead, "deal": d.Deal} {
		if r != nil {
			m[key] = r
		}
	}
	for key, l := range map[string][]*Record{"people": d.People, "leads": d.Leads, "deals": d.Deals, "tasks": d.Tasks} {
		if l != nil {
			m[key] = l
		}
	}
	return json.Marshal(m)
}
