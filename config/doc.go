// Package config reads keepalived.conf files and vigil's cluster extension
// into a typed model that every other vigil package consumes.
//
// The reader follows keepalived's syntax (lib/parser.c): statements are
// lines of whitespace-separated words; '{' and '}' open and close blocks
// and are tokens of their own even when glued to a word, and a block's
// '{' may stand on the next line; '#' and '!' outside quotes begin a comment
// (even in the middle of a word, as in keepalived); double quotes make one word of a string with blanks; a
// backslash at the end of a line continues it; `include PATTERN...` splices
// in files, a relative pattern resolving against the directory of the
// including file, glob patterns matching nothing being no error.
package config
