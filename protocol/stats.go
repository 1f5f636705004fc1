package protocol

// Stats answers GET /api/stats: the funnel of each playbook version (and
// A/B variant) over the conversations that started on the days asked for
// (docs/funnels.md).
type Stats struct {
	Since    string         `json:"since,omitempty"` // YYYY-MM-DD, UTC; "" for every day kept
	Playbook string         `json:"playbook,omitempty"`
	Versions []StatsVersion `json:"versions"`
	// Experiments compare the variants of each A/B experiment.
	Experiments []StatsExperiment `json:"experiments"`
}

// StatsVersion is the funnel of one playbook version.
type StatsVersion struct {
	Playbook string `json:"playbook"`
	Title    string `json:"title,omitempty"`
	Version  string `json:"version"` // the version's hash
	Short    string `json:"short"`   // its first 8 characters
	Variant  string `json:"variant,omitempty"`
	Current  bool   `json:"current"` // the version new conversations start on
	First    string `json:"first"`   // the first and last day with conversations
	Last     string `json:"last"`
	Started  int64  `json:"started"` // conversations
	Handoffs int64  `json:"handoffs"`
	Missed   int64  `json:"missed"`
	// Outcomes counts conversations per outcome of their end card;
	// Records the records they made, per kind (lead, deal, ...).
	Outcomes map[string]int64 `json:"outcomes"`
	Records  map[string]int64 `json:"records"`
	// Cards are the version's cards in the playbook's order (those no
	// longer known when the version's source has expired: by reach).
	Cards []StatsCard `json:"cards"`
	// Days are the conversations started per day.
	Days []StatsDay `json:"days"`
}

// StatsCard is one card's part of the funnel.
type StatsCard struct {
	Card string `json:"card"`
	// Kind is what the card does: ask, choices, say, handoff, end, or
	// logic (it shows nothing); "" when the version is no longer known.
	Kind     string `json:"kind,omitempty"`
	Reached  int64  `json:"reached"`  // conversations that were shown the card
	Asked    int64  `json:"asked"`    // ...asked its question
	Answered int64  `json:"answered"` // ...answered it
	Dropped  int64  `json:"dropped"`  // asked and not answered (gone, or still waiting)
	Handoffs int64  `json:"handoffs"`
	Ended    int64  `json:"ended"` // conversations whose bot part ended here
	Errors   int64  `json:"errors"`
	// MedianAnswerMS is the median time to the first answer, as the
	// upper bound of its bucket in milliseconds (0: no answer timed; -1:
	// over an hour).
	MedianAnswerMS int64 `json:"median_answer_ms"`
	// AnswerTimes counts the timed answers per bucket (upper bound in
	// milliseconds, or "inf").
	AnswerTimes map[string]int64 `json:"answer_times,omitempty"`
}

// StatsDay is one day of a version.
type StatsDay struct {
	Day      string           `json:"day"`
	Started  int64            `json:"started"`
	Outcomes map[string]int64 `json:"outcomes,omitempty"`
}

// StatsExperiment compares the variants of one A/B experiment of a
// playbook, over every version and day asked for (docs/language.md, A/B
// experiments).
type StatsExperiment struct {
	Playbook   string         `json:"playbook"`
	Experiment string         `json:"experiment"`
	Variants   []StatsVariant `json:"variants"` // sorted by name
	// Goals are the outcomes ("qualified") and records made
	// ("record:lead") any variant reached, sorted.
	Goals []StatsGoal `json:"goals"`
}

// StatsVariant is how many conversations went into a variant.
type StatsVariant struct {
	Variant       string `json:"variant"`
	Conversations int64  `json:"conversations"`
}

// StatsGoal is the variants' conversion to one goal.
type StatsGoal struct {
	Goal     string      `json:"goal"`
	Variants []StatsRate `json:"variants"`
}

// StatsRate is one variant's conversion: Reached of Conversations, the
// Rate (0 to 1) and its 95 % Wilson score interval Low to High. Best is
// set on the one variant whose interval lies above every other's, if any.
type StatsRate struct {
	Variant       string  `json:"variant"`
	Conversations int64   `json:"conversations"`
	Reached       int64   `json:"reached"`
	Rate          float64 `json:"rate"`
	Low           float64 `json:"low"`
	High          float64 `json:"high"`
	Best          bool    `json:"best,omitempty"`
}
