package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/drover/drover/internal/errdefs"
)

func TestParse(t *testing.T) {
	df, err := Parse("Dockerfile", []byte(`# syntax=docker/dockerfile:1
# escape=\
ARG BASE=busybox
FROM $BASE AS Build
RUN echo a \
    b
COPY --from=0 --chown=1:2 --chmod=0644 a b /dst/
RUN <<EOF
echo heredoc
EOF
FROM scratch
COPY --from=build /x /y
CMD ["true"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || len(df.MetaArgs) != 1 || df.Escape != '\\' {
		t.Fatalf("stages %d, meta args %d, escape %q", len(df.Stages), len(df.MetaArgs), df.Escape)
	}
	if df.Stages[0].Name != "build" {
		t.Errorf("stage names are lower-cased: %q", df.Stages[0].Name)
	}
	if got := df.StageIndex("build"); got != 0 {
		t.Errorf("StageIndex(build) = %d", got)
	}
	if got := df.StageIndex("1"); got != 1 {
		t.Errorf("StageIndex(1) = %d", got)
	}
	if got := df.StageIndex("nope"); got != -1 {
		t.Errorf("StageIndex(nope) = %d", got)
	}
	run := df.Stages[0].Commands[0].(*instructions.RunCommand)
	if got := strings.Join(run.CmdLine, " "); got != "echo a     b" {
		t.Errorf("continued RUN: %q", got)
	}
	if line := lineOf(df.Stages[0].Commands[1].Location()); line != 7 {
		t.Errorf("COPY is on line %d, want 7", line)
	}
	cp := df.Stages[0].Commands[1].(*instructions.CopyCommand)
	if cp.From != "0" || cp.Chown != "1:2" || cp.Chmod != "0644" || cp.DestPath != "/dst/" {
		t.Errorf("COPY flags: %+v", cp)
	}
	heredoc := df.Stages[0].Commands[2].(*instructions.RunCommand)
	if len(heredoc.Files) != 1 || heredoc.Files[0].Data != "echo heredoc\n" {
		t.Errorf("heredoc: %+v", heredoc.Files)
	}
}

func TestParseEscapeDirective(t *testing.T) {
	df, err := Parse("", []byte("# escape=`\nFROM busybox\nRUN echo a `\n  b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '`' {
		t.Fatalf("escape %q", df.Escape)
	}
	run := df.Stages[0].Commands[0].(*instructions.RunCommand)
	if got := strings.Join(run.CmdLine, " "); !strings.HasPrefix(got, "echo a") || !strings.HasSuffix(got, "b") {
		t.Fatalf("RUN with backtick continuation: %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
		want      string
	}{
		{"unknown", "FROM a\nFOO bar\n", 2, "unknown instruction FOO"},
		{"no from", "RUN true\n", 1, "FROM"},
		{"empty", "", -1, "no instructions"},
		{"comments only", "# hello\n\n", -1, "no instructions"},
		{"numeric stage", "FROM a AS 1x\n", 1, ""},
		{"duplicate stage", "FROM a AS x\nFROM b AS x\n", 2, "used twice"},
		{"bad flag", "FROM a\nCOPY --nope=1 a b\n", 2, "nope"},
		{"onbuild from", "FROM a\nONBUILD FROM b\n", 2, "ONBUILD"},
		{"healthcheck", "FROM a\nHEALTHCHECK --interval=x CMD true\n", 2, "duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%v is not ErrInvalidArgument", err)
			}
			var de *Error
			if !errors.As(err, &de) || (tc.line >= 0 && de.Line != tc.line) {
				t.Errorf("%v: line %d, want %d", err, de.Line, tc.line)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v does not say %q", err, tc.want)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	if _, err := Parse("", make([]byte, MaxDockerfileSize+1)); err == nil {
		t.Fatal("a huge Dockerfile was accepted")
	}
}

func TestExposedPorts(t *testing.T) {
	for in, want := range map[string]string{
		"80":        "80/tcp",
		"53/udp":    "53/udp",
		"8000-8002": "8000/tcp 8001/tcp 8002/tcp",
		"9/SCTP":    "9/sctp",
		"0":         "",
		"70000":     "",
		"80/icmp":   "",
		"x":         "",
		"1-2000":    "",
		"5-3":       "",
	} {
		got, err := exposedPorts(in)
		if want == "" {
			if err == nil {
				t.Errorf("%s: accepted as %v", in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
}

// FuzzParse feeds the parser hostile Dockerfiles: it must never panic, errors carry a
// location, and the lines of what it accepts are inside the file.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM a\nRUN b\n",
		"ARG X=1\nFROM $X AS y\nCOPY --from=y a b\n",
		"FROM a\nRUN <<EOF\nx\nEOF\n",
		"# escape=`\nFROM a\nRUN a `\nb\n",
		"FROM a\nHEALTHCHECK --interval=1s CMD true\nONBUILD RUN x\n",
		"FROM a\nENV A=\"b c\" D='e'\nLABEL \"k\"=\"v\"\n",
		"FROM a\nCOPY <<A <<B /d/\na\nA\nb\nB\n",
		"FROM a\nRUN --mount=type=cache,target=/x --network=none true\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Parse("Dockerfile", data)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error without a location: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, st := range df.Stages {
			if l := lineOf(st.Location); l < 0 || l > lines {
				t.Fatalf("stage on line %d of %d", l, lines)
			}
			for _, c := range st.Commands {
				if l := lineOf(c.Location()); l < 0 || l > lines {
					t.Fatalf("%s on line %d of %d", c.Name(), l, lines)
				}
			}
			_ = df.StageIndex(st.Name)
			// Word expansion (ARG and ENV values in instructions) runs on the same input.
			j := &job{df: df}
			env := newEnvMap()
			env.set("A", "1")
			for _, c := range st.Commands {
				if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
					_ = ex.Expand(func(w string) (string, error) { return j.expand(w, env) })
				}
			}
		}
	})
}
