// Command vigil is the one binary of the vigil HA manager: the director agent
// and every operator command (status, config, transfer, drain, demo, ...).
//
// Each subcommand lives in its own file and registers itself in commands with
// a one-line summary, a usage text and a run function. main only dispatches;
// it holds no business logic.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one `vigil NAME ...` subcommand.
type command struct {
	name    string
	summary string // one line, shown by `vigil --help`
	usage   string // full help, shown by `vigil NAME --help`
	hidden  bool   // internal helper (of vigil demo): not listed in --help
	// run executes the command. It returns an exitError to choose the exit
	// status, or any other error (exit status 1).
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprint(stdout, c.usage)
				return 0
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vigil: unknown command %q; run 'vigil --help' for the list\n", args[0])
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "vigil %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `vigil: a split-brain-resistant HA manager for Linux load-balancer directors.

Usage: vigil COMMAND [ARGS...]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'vigil COMMAND --help' for the options of one command.\n")
}

// newFlagSet returns a FlagSet whose -h/--help prints the command's usage to
// stdout and whose errors go to stderr with a pointer to --help.
func newFlagSet(c *command, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, c.usage)
		fmt.Fprintln(stdout, "\nOptions:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// (`vigil config check FILE --json`), and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitError{2}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
		if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
			// keep consuming positionals
			for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
				pos = append(pos, args[0])
				args = args[1:]
			}
		}
		if len(args) == 0 {
			return pos, nil
		}
	}
}
