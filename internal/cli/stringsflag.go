package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// stringsFlag is a repeatable string flag (pflag's stringArray: each use adds one value,
// commas included). pflag's own renders the default of every such flag through a CSV
// writer with a 4 KB buffer when the flag is defined; run and create have twenty each, and
// every start of the CLI defines them all.
type stringsFlag struct {
	p   *[]string
	set bool
}

func (s *stringsFlag) Set(v string) error {
	if !s.set {
		*s.p, s.set = nil, true
	}
	*s.p = append(*s.p, v)
	return nil
}

func (s *stringsFlag) Type() string { return "stringArray" }

// String is empty without values, so that help shows no "(default [])".
func (s *stringsFlag) String() string {
	if len(*s.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*s.p, ",") + "]"
}

// stringsVar defines a repeatable string flag (short may be "").
func stringsVar(fs *pflag.FlagSet, p *[]string, name, short, usage string) {
	fs.VarP(&stringsFlag{p: p}, name, short, usage)
}
