package conversation

import (
	"context"
	"errors"
	"path"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
)

// The admin API's playbook upload: what a playbook file may be called,
// how it is checked against the folder, and when it goes live.

// ErrPlaybookInvalid: the playbook does not compile; its diagnostics say
// why.
var ErrPlaybookInvalid = errors.New("the playbook has errors")

// PlaybookUpload answers POST /api/playbooks. Its fields are in the order
// the API always wrote them.
type PlaybookUpload struct {
	// Activated is set when activation was asked for: whether the
	// playbook went live.
	Activated *bool `json:"activated,omitempty"`
	// Diagnostics are the file's (and, on a conflict, the folder's);
	// never null on the wire.
	Diagnostics source.Diagnostics `json:"diagnostics"`
	// Error says why the folder refused it (ErrPlaybookConflict).
	Error string `json:"error,omitempty"`
	// ID and Version are the compiled playbook's, when it compiled.
	ID string `json:"id,omitempty"`
	// OK: no errors, in the file or the folder it would join.
	OK      bool   `json:"ok"`
	Version string `json:"version,omitempty"`
}

// PlaybookFile is the file an upload names (a header, "" for none) is
// written to: its base name, "playbook.yaml" when it names none; a .yaml
// or .yml file that is not a test (.test.yaml), else ErrInvalid.
func PlaybookFile(name string) (string, error) {
	name = path.Base(name)
	if name == "." || name == "/" || name == "" {
		name = "playbook.yaml"
	}
	if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".test.yaml") {
		return "", refuse(ErrInvalid, "X-Playbook-File must name a .yaml file")
	}
	return name, nil
}

// Upload validates a playbook as file name (PlaybookFile) and, with
// activate and no errors, writes it into the folder so it goes live. The
// file must compile on its own (else ErrPlaybookInvalid) and fit the
// folder as it would be after the write: ids unique, includes resolve
// (else ErrPlaybookConflict, and nothing is written). The answer comes
// with every error but a failed write.
func (r *Registry) Upload(ctx context.Context, name string, src []byte, activate bool) (*PlaybookUpload, error) {
	name, err := PlaybookFile(name)
	if err != nil {
		return nil, err
	}
	prog, diags := dsl.Load(name, src, dsl.WithResolver(r.Resolver()))
	out := &PlaybookUpload{OK: !diags.HasErrors(), Diagnostics: diags}
	if out.Diagnostics == nil {
		out.Diagnostics = source.Diagnostics{}
	}
	if prog == nil {
		return out, ErrPlaybookInvalid
	}
	out.ID, out.Version = prog.ID, prog.Hash
	conflict := func(folder source.Diagnostics) (*PlaybookUpload, error) {
		no := false
		out.OK, out.Activated = false, &no
		out.Diagnostics = append(diags, folder...)
		out.Error = ErrPlaybookConflict.Error()
		return out, ErrPlaybookConflict
	}
	if !activate {
		if folder := r.CheckInstall(name, src); len(folder) > 0 {
			return conflict(folder)
		}
		return out, nil
	}
	folder, err := r.Install(ctx, name, src)
	if errors.Is(err, ErrPlaybookConflict) {
		return conflict(folder)
	}
	if err != nil {
		return nil, err
	}
	yes := true
	out.Activated = &yes
	return out, nil
}
