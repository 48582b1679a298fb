package remediation

import (
	"fmt"
	"strings"

	"github.com/kith-dev/kith/internal/policy"
)

// CheckPolicies returns a warning for each data-plane rung of f (step_up,
// restrict, rate_limit) that no policy of docs enforces: the ladder only
// records that a caller reached such a rung, and relies on a rule with
// that action whose condition reads trust (such as trust.level ==
// "low"). The server logs them when it loads the ladders or a policy set;
// they are not errors, since policies may arrive later.
func CheckPolicies(f *File, docs []policy.Document) []string {
	enforced := map[string]bool{}
	for _, d := range docs {
		if d.Mode == policy.ModeDryRun {
			continue
		}
		for _, r := range d.Rules {
			if strings.Contains(r.When, "trust.") {
				enforced[r.Action.String()] = true
			}
		}
	}
	var out []string
	for _, l := range f.Ladders {
		for i, s := range l.Steps {
			switch s.Action {
			case ActionStepUp, ActionRestrict, ActionRateLimit:
				if !enforced[string(s.Action)] {
					out = append(out, fmt.Sprintf("ladder %q step %d (%s at %s): no policy has a %s rule whose when reads trust; "+
						"the rung will be recorded but not enforced", l.Name, i, s.Action, s.Level, s.Action))
				}
			}
		}
	}
	return out
}
