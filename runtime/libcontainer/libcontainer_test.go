package libcontainer

import (
	"testing"

	"github.com/drover/drover/runtime/runtimetest"
)

// The test binary is re-executed as "init" for each container it creates.
func init() { Init() }

func TestSuite(t *testing.T) {
	runtimetest.Suite(t, New(t.TempDir()))
}
