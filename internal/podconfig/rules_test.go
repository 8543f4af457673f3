package podconfig

import (
	"testing"
)

func mustRules(t *testing.T, raw ...RawRule) []Rule {
	t.Helper()
	rules, probs := ParseRules(raw)
	if len(probs) > 0 {
		t.Fatalf("ParseRules: %v", probs)
	}
	return rules
}

func TestRulePrecedence(t *testing.T) {
	rules := func(t *testing.T) []Rule {
		return mustRules(t,
			RawRule{Where: "agent.yaml:10", Values: map[string]string{"multiline": "java", "route": "everyone"}},
			RawRule{Where: "agent.yaml:20", Namespaces: []string{"shop"}, Selector: "app=checkout,tier in (web,api)",
				Values: map[string]string{"multiline.app": "go", "multiline": "python", "parse": "json"}},
			RawRule{Where: "agent.yaml:30", Namespaces: []string{"other"}, Values: map[string]string{"multiline": "ruby"}},
			RawRule{Where: "agent.yaml:40", Selector: "app=checkout", Values: map[string]string{"parse.sidecar": "logfmt"}},
			RawRule{Where: "agent.yaml:50", Selector: "tier=web", Values: map[string]string{"multiline": "dotnet"}},
		)
	}
	tests := []struct {
		name             string
		ann              map[string]string
		container        string
		multiline, parse string
		route            string
	}{
		// Rule 20's multiline.app beats the later rule 50's multiline.
		{"a rule's scoped value beats a later rule's unscoped", nil, "app", "go", "json", "everyone"},
		{"last matching rule's unscoped value", nil, "sidecar", "dotnet", "logfmt", "everyone"},
		{"pod annotation beats rules", map[string]string{"logferry.io/multiline": "java"}, "app", "java", "json", "everyone"},
		{"scoped annotation beats unscoped", map[string]string{"logferry.io/multiline": "java", "logferry.io/multiline.app": "ruby"}, "app", "ruby", "json", "everyone"},
		{"bad annotation falls through to the rule", map[string]string{"logferry.io/multiline.app": "cobol"}, "app", "go", "json", "everyone"},
		{"none annotation turns a rule off", map[string]string{"logferry.io/parse": "none"}, "sidecar", "dotnet", "", "everyone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, _ := resolvePod(p, tt.container, rules(t)...)
			ml := "off"
			if s.Multiline != nil {
				ml = s.Multiline.Preset
			}
			if ml != tt.multiline || s.Parse != tt.parse || s.Route != tt.route {
				t.Errorf("multiline, parse, route = %q, %q, %q; want %q, %q, %q", ml, s.Parse, s.Route, tt.multiline, tt.parse, tt.route)
			}
		})
	}

	t.Run("rules that do not match", func(t *testing.T) {
		p := newPod(nil)
		p.Namespace = "billing"
		p.Labels = map[string]string{"app": "checkout", "tier": "batch"}
		s, _ := resolvePod(p, "app", rules(t)...)
		// Rules 20 and 50 do not match; rule 40 does (selector only); rule 10 matches all.
		if s.Multiline == nil || s.Multiline.Preset != "java" || s.Parse != "" {
			t.Errorf("got multiline %s, parse %q; want java from the catch-all rule, no parse", multilineString(s.Multiline), s.Parse)
		}
	})
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		name     string
		raw      []RawRule
		rules    int
		values   []map[string]string // kept values per rule
		problems []wantProblem
	}{
		{"good", []RawRule{{Where: "a:1", Namespaces: []string{"shop"}, Selector: "app=web", Values: map[string]string{"parse": "json"}}}, 1,
			[]map[string]string{{"parse": "json"}}, nil},
		{"bad selector drops the rule", []RawRule{{Where: "a:1", Selector: "app in (", Values: map[string]string{"exclude": "true"}}}, 0, nil,
			[]wantProblem{{"a:1: selector", "bad label selector"}}},
		{"bad namespace drops the rule", []RawRule{{Where: "a:1", Namespaces: []string{"Shop_1"}, Values: map[string]string{"exclude": "true"}}}, 0, nil,
			[]wantProblem{{"a:1: namespaces", "not a namespace name"}}},
		{"bad value is removed", []RawRule{{Where: "a:2", Values: map[string]string{"parse": "xml", "route": "r1"}}}, 1,
			[]map[string]string{{"route": "r1"}}, []wantProblem{{"a:2: parse", `want "json"`}}},
		{"unknown key", []RawRule{{Values: map[string]string{"mulitline": "java"}}}, 1,
			[]map[string]string{{}}, []wantProblem{{"rules[0]: mulitline", `did you mean "multiline"?`}}},
		{"prefixed key", []RawRule{{Where: "a:3", Values: map[string]string{"logferry.io/parse": "json"}}}, 1,
			[]map[string]string{{}}, []wantProblem{{"a:3: logferry.io/parse", `without the logferry.io/ prefix`}}},
		{"scoped key", []RawRule{{Where: "a:4", Values: map[string]string{"multiline.app": "java; max_lines=9"}}}, 1,
			[]map[string]string{{"multiline.app": "java; max_lines=9"}}, nil},
		{"partly bad value is kept and reported once", []RawRule{{Where: "a:5", Values: map[string]string{"files": "app:/ok.log,app:rel.log"}}}, 1,
			[]map[string]string{{"files": "app:/ok.log,app:rel.log"}}, []wantProblem{{"a:5: files", "is relative"}}},
		{"empty rule", []RawRule{{Where: "a:6"}}, 1, []map[string]string{{}}, []wantProblem{{"a:6: values", "sets nothing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, probs := ParseRules(tt.raw)
			if len(rules) != tt.rules {
				t.Fatalf("%d rules, want %d", len(rules), tt.rules)
			}
			for i, want := range tt.values {
				if len(rules[i].Values) != len(want) {
					t.Errorf("rule %d values = %v, want %v", i, rules[i].Values, want)
				}
				for k, v := range want {
					if rules[i].Values[k] != v {
						t.Errorf("rule %d values = %v, want %v", i, rules[i].Values, want)
					}
				}
			}
			checkProblems(t, probs, tt.problems, nil)
		})
	}

	t.Run("checked rules are not reported again", func(t *testing.T) {
		rules, _ := ParseRules([]RawRule{{Where: "a:5", Values: map[string]string{"files": "app:/ok.log,app:rel.log"}}})
		s, probs := resolvePod(newPod(nil), "app", rules...)
		if len(probs) != 0 || len(s.Files) != 1 {
			t.Fatalf("files %v, problems %v; want the good entry and no problem", s.Files, probs)
		}
	})
	t.Run("hand-built rules are reported", func(t *testing.T) {
		rules := []Rule{{Values: map[string]string{"parse": "xml"}}}
		_, probs := resolvePod(newPod(nil), "app", rules...)
		checkProblems(t, probs, []wantProblem{{"rules[0]: parse", `want "json"`}}, nil)
	})
}
