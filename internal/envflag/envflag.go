// Package envflag gives every command-line flag of Deskway's commands an
// environment twin: flag --max-fps is also DESKWAY_MAX_FPS. The order is
// flag > environment > default, and it is the same in every command.
package envflag

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Prefix starts every environment twin's name.
const Prefix = "DESKWAY_"

// Name returns the environment twin of the flag called flagName:
// "max-fps" → "DESKWAY_MAX_FPS".
func Name(flagName string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// A List is a repeatable flag. Its environment twin holds several values
// separated by commas or white space, and each is Set in turn.
type List interface {
	flag.Value
	IsList()
}

// Apply sets each flag of fs that was not given on the command line from
// its environment twin, read with lookup (os.LookupEnv when nil). An empty
// variable counts as unset, so that an env file may list every variable.
// The flag "version" has no twin. Call Apply after fs.Parse.
func Apply(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil || f.Name == "version" {
			return
		}
		env := Name(f.Name)
		v, ok := lookup(env)
		if !ok || v == "" {
			return
		}
		vals := []string{v}
		if _, list := f.Value.(List); list {
			vals = strings.FieldsFunc(v, func(r rune) bool {
				return r == ',' || r == ' ' || r == '\n' || r == '\t'
			})
		}
		for _, v := range vals {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
				return
			}
		}
	})
	return err
}
