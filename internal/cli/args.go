package cli

import (
	"fmt"
	"strings"
)

// flagArg is one flag of a command line, in the order given.
type flagArg struct {
	name, val string
}

// splitArgs separates flags from positional arguments for commands whose
// flags may come before, between or after the arguments (which the flag
// package does not allow). valued names flags that take a value, as
// --name VALUE or --name=VALUE; switches names flags that take none.
// Unknown flags are reported before they can swallow the next argument.
func splitArgs(args []string, valued, switches map[string]bool) (flags []flagArg, pos []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			pos = append(pos, arg)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch {
		case switches[name]:
			if hasVal {
				return nil, nil, fmt.Errorf("flag --%s takes no value", name)
			}
		case valued[name]:
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("flag %s needs a value", arg)
				}
				i++
				val = args[i]
			}
		default:
			return nil, nil, fmt.Errorf("unknown flag %s", arg)
		}
		flags = append(flags, flagArg{name, val})
	}
	return flags, pos, nil
}
