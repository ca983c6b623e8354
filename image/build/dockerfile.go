// Package build builds images from a Dockerfile onto the image store: it parses the
// Dockerfile with BuildKit's parser, runs each stage's instructions (RUN through a Runner
// the caller supplies, COPY and ADD straight into a container layer), turns each step's
// changes into a layer, and reuses the layers of earlier builds from a persistent cache.
package build

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/drover/drover/internal/errdefs"
)

// MaxDockerfileSize bounds the Dockerfile read (BuildKit's own limit is similar).
const MaxDockerfileSize = 4 << 20

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	// Escape is the escape character (the escape directive; '\\' by default).
	Escape rune
	// Warnings are the parser's warnings (empty continuation lines and the like).
	Warnings []string
}

// Error is a Dockerfile error at a line.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// lineOf is the first line of a parser location (0 when unknown).
func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// Parse parses a Dockerfile. Errors name the line, and are errdefs.ErrInvalidArgument.
func Parse(name string, data []byte) (*Dockerfile, error) {
	if name == "" {
		name = "Dockerfile"
	}
	fail := func(line int, err error) (*Dockerfile, error) {
		return nil, &Error{File: name, Line: line, Err: fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)}
	}
	if len(data) > MaxDockerfileSize {
		return fail(0, fmt.Errorf("larger than %d bytes", MaxDockerfileSize))
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return fail(errLine(err), cleanErr(err))
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return fail(errLine(err), cleanErr(err))
	}
	if len(stages) == 0 {
		return fail(0, errors.New("no FROM instruction: a Dockerfile starts with FROM (after ARGs and parser directives)"))
	}
	df := &Dockerfile{Stages: stages, MetaArgs: metaArgs, Escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.Warnings = append(df.Warnings, w.Short)
	}
	seen := map[string]int{}
	for i, st := range stages {
		if st.Name == "" {
			continue
		}
		if _, err := strconv.Atoi(st.Name); err == nil {
			return fail(lineOf(st.Location), fmt.Errorf("stage name %q cannot be a number: numbers name stages by index", st.Name))
		}
		if j, dup := seen[st.Name]; dup {
			return fail(lineOf(st.Location), fmt.Errorf("stage name %q is used twice (also stage %d)", st.Name, j))
		}
		seen[st.Name] = i
	}
	return df, nil
}

// errLine digs the line number out of a parser error.
func errLine(err error) int {
	var ui *instructions.UnknownInstructionError
	if errors.As(err, &ui) {
		return ui.Line
	}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 {
		return lineOf(le.Locations[0])
	}
	return 0
}

// cleanErr drops BuildKit's wrapping that repeats the location.
func cleanErr(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) {
		err = le.Unwrap()
	}
	var ui *instructions.UnknownInstructionError
	if errors.As(err, &ui) {
		return fmt.Errorf("unknown instruction %s", strings.ToUpper(ui.Instruction))
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "no build stage in current context"):
		return errors.New("instruction before the first FROM: a Dockerfile starts with FROM (only ARG may come before it)")
	case strings.Contains(msg, "file with no instructions"):
		return errors.New("the Dockerfile has no instructions: it needs at least a FROM")
	}
	return err
}

// StageIndex finds a stage by name (case-insensitive) or index; -1 when none.
func (df *Dockerfile) StageIndex(ref string) int {
	if i, ok := instructions.HasStage(df.Stages, ref); ok {
		return i
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < len(df.Stages) {
		return n
	}
	return -1
}
