package process

import (
	"bytes"

	"github.com/logferry/logferry/internal/podconfig"
)

// The multiline presets. Each is a small state machine over the lines of one stream,
// written as byte matching rather than regular expressions: no package state, nothing
// to compile per Chain, and no allocation per line. Lines are matched without a
// trailing '\r'. "Indented" means the line starts with a space or a tab; "blank" means
// empty or only spaces and tabs.
//
// java: a line continues the group when it is indented ("\tat ...", "\t... 3 more",
// "\tSuppressed: ...", "\t\tat ..."), or starts with "at ", "Caused by:",
// "Suppressed:", or "... " followed by a digit ("... 12 more", "... 7 common frames
// omitted"); any other line, blank ones included, starts a group. So an exception
// printed by printStackTrace or a logging framework is one record from its
// "Exception in thread ..." or "java.lang.X: msg" line to its last frame. A logging
// framework's message line before an unindented exception line is a record of its own.
//
// go: panics and runtime crashes. A trace starts at a line beginning with "panic: ",
// "fatal error: ", "runtime: ", "goroutine <n> " (a goroutine header such as
// "goroutine 1 [running]:"), or "SIG<NAME>: " (SIGQUIT dumps). Inside a trace these
// continue it: blank and indented lines ("\t/src/main.go:12 +0x1d", "\tpanic: ..."
// of a re-panic), any start line above, "created by ...", "[signal ...", "runtime
// stack:", "PC=...", "exit status <n>", "...additional frames elided...",
// register dumps ("rax    0x0"), and function lines: no space before the first '(',
// ending in ')' ("main.main()", "main.(*T).m(0xc000010000, {0x4c8cc0, 0x5})",
// "panic({0x4c8cc0?, 0x39b2ec6b00c0?})"). Any other line ends the trace. A goroutine
// header right after a line that is held on its own and is not part of a trace joins
// it: net/http's "http: panic serving ...: <value>" and messages logged with
// debug.Stack() write the message, then the stack. ("panic: " and "fatal error: "
// lines always start a group: the runtime writes them, not the application.)
//
// python: tracebacks. A group starts at "Traceback (most recent call last):" or at an
// exception group's "+ Exception Group Traceback (most recent call last):" (indented or
// not). When the line just before it is held on its own and is not part of a traceback,
// the traceback joins it: that is how logging.exception writes its message followed by
// the traceback. In a traceback, blank and indented lines ("  File ...", code, "~~^~~"
// markers) continue; the first other line is the exception line ("ValueError: x") and
// continues too. After it, blank lines, "During handling of the above exception, another
// exception occurred:" and "The above exception was the direct cause of the following
// exception:" continue, and after those a new "Traceback ..." continues the chain. In an
// exception group, blank, indented and "+-..." separator lines continue. Anything else
// ends the traceback. Every line outside a traceback is held until the next line shows
// whether a traceback follows (or the timeout).
//
// ruby: a line continues the group when it is indented ("\tfrom app.rb:3:in 'm'"), or
// is a bare backtrace frame "<path>:<line>:in `<method>'" (Ruby < 3.4 quotes with `',
// 3.4 with '') as Rails and logger output print them, or, right after such
// continuation lines, is the header of the exception's cause ("app.rb:4:in `x': msg
// (KeyError)"); any other line starts a group.
//
// dotnet: a line continues the group when it is indented ("   at X.Y() in /src/a.cs:line
// 3", " ---> System.IOException: ...", "   --- End of inner exception stack trace ---",
// the message lines of Microsoft.Extensions.Logging's console format), or starts with
// "--- End of ", "---> " or "File name: '"; any other line starts a group.

// presetClassifier returns the classifier of a preset, or nil for an unknown name.
func presetClassifier(name string) classifier {
	switch name {
	case podconfig.PresetJava:
		return javaClass
	case podconfig.PresetGo:
		return goClass
	case podconfig.PresetPython:
		return pythonClass
	case podconfig.PresetRuby:
		return rubyClass
	case podconfig.PresetDotnet:
		return dotnetClass
	}
	return nil
}

func indented(l []byte) bool { return len(l) > 0 && (l[0] == ' ' || l[0] == '\t') }

func blank(l []byte) bool { return len(bytes.Trim(l, " \t")) == 0 }

func hasPrefix(l []byte, p string) bool {
	return len(l) >= len(p) && string(l[:len(p)]) == p
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits returns the number of leading ASCII digits of l.
func digits(l []byte) int {
	n := 0
	for n < len(l) && isDigit(l[n]) {
		n++
	}
	return n
}

func javaClass(_ *group, l []byte) (class, uint8) {
	if indented(l) || hasPrefix(l, "at ") || hasPrefix(l, "Caused by:") || hasPrefix(l, "Suppressed:") ||
		(hasPrefix(l, "... ") && len(l) > 4 && isDigit(l[4])) {
		return clsCont, 0
	}
	return clsStart, 0
}

// Go preset states.
const (
	goOut uint8 = iota
	goIn
)

func goClass(g *group, l []byte) (class, uint8) {
	if g.state == goIn && goContinues(l) {
		return clsCont, goIn
	}
	if goStarts(l) {
		if hasPrefix(l, "goroutine ") && g.open && g.lines == 1 && g.state == goOut {
			return clsCont, goIn // a message, then the stack it logged
		}
		return clsStart, goIn
	}
	return clsStart, goOut
}

// goStarts reports whether l begins a Go trace.
func goStarts(l []byte) bool {
	switch {
	case hasPrefix(l, "panic: "), hasPrefix(l, "fatal error: "), hasPrefix(l, "runtime: "):
		return true
	case hasPrefix(l, "goroutine "):
		return digits(l[len("goroutine "):]) > 0
	case hasPrefix(l, "SIG"):
		i := 3
		for i < len(l) && l[i] >= 'A' && l[i] <= 'Z' {
			i++
		}
		return i > 3 && hasPrefix(l[i:], ": ")
	}
	return false
}

// goContinues reports whether l continues a Go trace.
func goContinues(l []byte) bool {
	switch {
	case len(l) == 0, blank(l), indented(l), goStarts(l),
		hasPrefix(l, "created by "), hasPrefix(l, "[signal "), hasPrefix(l, "runtime stack:"),
		hasPrefix(l, "PC="), hasPrefix(l, "...additional frames elided..."):
		return true
	case hasPrefix(l, "exit status "):
		return digits(l[len("exit status "):]) == len(l)-len("exit status ")
	}
	return goFuncLine(l) || goRegister(l)
}

// goFuncLine reports whether l looks like a traceback's function line: something
// without spaces, then '(' ... ending in ')'.
func goFuncLine(l []byte) bool {
	i := bytes.IndexByte(l, '(')
	return i > 0 && l[len(l)-1] == ')' && !bytes.ContainsAny(l[:i], " \t")
}

// goRegister reports whether l is a register dump line: 2 to 6 lower-case letters or
// digits, spaces, then a hex number ("rip    0x46ef61", "r10    0x0").
func goRegister(l []byte) bool {
	i := 0
	for i < len(l) && (l[i] >= 'a' && l[i] <= 'z' || isDigit(l[i])) {
		i++
	}
	if i < 2 || i > 6 {
		return false
	}
	j := i
	for j < len(l) && l[j] == ' ' {
		j++
	}
	if j == i || !hasPrefix(l[j:], "0x") || j+2 == len(l) {
		return false
	}
	for _, c := range l[j+2:] {
		if !(isDigit(c) || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Python preset states.
const (
	pyOut       uint8 = iota
	pyTrace           // in the frames of a traceback
	pyException       // after the exception line
	pyChained         // after a "During handling..." / "The above exception..." line
	pyGroup           // in an exception group traceback
)

func pythonClass(g *group, l []byte) (class, uint8) {
	switch g.state {
	case pyTrace:
		switch {
		case pyTraceback(l), pyGroupTraceback(l):
			// a new traceback: below
		case blank(l), indented(l):
			return clsCont, pyTrace
		default:
			return clsCont, pyException // the exception line
		}
	case pyException:
		switch {
		case pyGroupTraceback(l):
			// a new (exception group) traceback: below
		case blank(l), indented(l):
			return clsCont, pyException
		case pyChainLine(l):
			return clsCont, pyChained
		}
	case pyChained:
		switch {
		case blank(l):
			return clsCont, pyChained
		case pyTraceback(l):
			return clsCont, pyTrace
		case pyGroupTraceback(l):
			return clsCont, pyGroup
		}
	case pyGroup:
		if blank(l) || indented(l) || hasPrefix(l, "+-") {
			return clsCont, pyGroup
		}
	}
	state := pyOut
	switch {
	case pyTraceback(l):
		state = pyTrace
	case pyGroupTraceback(l):
		state = pyGroup
	default:
		return clsStart, pyOut
	}
	if g.open && g.lines == 1 && g.state == pyOut {
		return clsCont, state // logging.exception: the message, then the traceback
	}
	return clsStart, state
}

func pyTraceback(l []byte) bool {
	return string(bytes.TrimRight(l, " \t")) == "Traceback (most recent call last):"
}

func pyGroupTraceback(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return hasPrefix(t, "+ Exception Group Traceback (most recent call last):")
}

func pyChainLine(l []byte) bool {
	s := string(bytes.TrimRight(l, " \t"))
	return s == "During handling of the above exception, another exception occurred:" ||
		s == "The above exception was the direct cause of the following exception:"
}

// Ruby preset states.
const (
	rbOut   uint8 = iota
	rbTrace       // after a backtrace line
)

func rubyClass(g *group, l []byte) (class, uint8) {
	switch {
	case indented(l):
		return clsCont, rbTrace
	case rubyFrame(l, true):
		return clsCont, rbTrace
	case g.state == rbTrace && rubyFrame(l, false):
		return clsCont, rbTrace // the cause's header line
	}
	return clsStart, rbOut
}

// rubyFrame reports whether l starts with "<path>:<line>:in " and a quote (` or ');
// with whole, the line must be just that frame: a method name closed by ' at the end.
func rubyFrame(l []byte, whole bool) bool {
	i := bytes.Index(l, []byte(":in "))
	if i <= 0 {
		return false
	}
	loc := l[:i]
	c := bytes.LastIndexByte(loc, ':')
	if c <= 0 || c == len(loc)-1 || digits(loc[c+1:]) != len(loc)-c-1 || bytes.ContainsAny(loc, " \t") {
		return false
	}
	rest := l[i+len(":in "):]
	if len(rest) < 2 || (rest[0] != '`' && rest[0] != '\'') {
		return false
	}
	if !whole {
		return true
	}
	name := rest[1 : len(rest)-1]
	return rest[len(rest)-1] == '\'' && !bytes.ContainsAny(name, "`'")
}

func dotnetClass(_ *group, l []byte) (class, uint8) {
	if indented(l) || hasPrefix(l, "--- End of ") || hasPrefix(l, "---> ") || hasPrefix(l, "File name: '") {
		return clsCont, 0
	}
	return clsStart, 0
}
