package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"vigil/config"
	"vigil/health"
	"vigil/lvs"
	"vigil/lvs/datapath"
)

// Check finds what a valid configuration asks of a director that the
// director cannot do, before any agent runs it: a checker that cannot be
// built (a bad regex, an unreadable CA file, a missing or unsafe script),
// a service the datapath cannot express (a scheduler nftables has no
// equivalent for, TUN on nftables), a node whose setup fails. Each error
// names the file, line and keyword. A configuration without a cluster
// block only gets its checkers checked (its datapath is not known yet; with
// datapath auto, the datapath this machine's kernel would get is assumed).
func Check(c *config.Config) []*config.Error {
	var errs []*config.Error
	vss, err := VirtualServers(c)
	if err != nil {
		return []*config.Error{{Keyword: "virtual_server", Msg: err.Error()}}
	}
	for _, v := range c.VirtualServers {
		for _, r := range v.RealServers {
			for _, ch := range r.Checkers {
				cs, err := checkSpec(c, ch, r.AddrPort())
				if err == nil {
					_, err = health.New(cs)
				}
				if err != nil {
					errs = append(errs, checkerError(ch, err))
				}
			}
		}
	}
	want, _, err := lvs.Desired(vss, lvs.Health{}, nil)
	if err != nil {
		return append(errs, &config.Error{Keyword: "virtual_server", Msg: err.Error()})
	}
	if c.Cluster == nil {
		// A plain keepalived.conf says nothing of the datapath: its services
		// are checked once it has a cluster block.
		return errs
	}
	s := &Setup{Datapath: c.Cluster.Datapath, Seed: ClusterSeed(c.Cluster.Name)}
	if err := datapath.Validate(DatapathConfig(s, slog.New(slog.DiscardHandler)), want); err != nil {
		errs = append(errs, serviceErrors(c, err)...)
	}
	for _, n := range c.Cluster.Nodes {
		if _, err := FromConfig(c, n.Name); err != nil {
			errs = append(errs, &config.Error{Pos: n.Pos, Keyword: "node", Msg: err.Error()})
		}
	}
	return errs
}

func checkerError(ch *config.Checker, err error) *config.Error {
	e := &config.Error{Keyword: ch.Type, Msg: err.Error()}
	if ch.Node != nil {
		e.Pos = ch.Node.Pos
	}
	var se *health.SpecError
	if errors.As(err, &se) && se.Field != "" {
		e.Keyword = se.Field
		e.Pos = keywordPos(ch.Node, se.Field, e.Pos)
	}
	return e
}

// keywordPos finds the statement keyword inside block n (depth first), or
// returns def.
func keywordPos(n *config.Node, keyword string, def config.Pos) config.Pos {
	if n == nil {
		return def
	}
	for _, ch := range n.Children {
		if ch.Keyword == keyword {
			return ch.Pos
		}
		if p := keywordPos(ch, keyword, config.Pos{}); p.Line != 0 {
			return p
		}
	}
	return def
}

// serviceErrors places each service a datapath refused at its
// virtual_server block.
func serviceErrors(c *config.Config, err error) []*config.Error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*config.Error
	for _, e := range list {
		ce := &config.Error{Keyword: "virtual_server", Msg: e.Error()}
		var se *lvs.ServiceError
		if errors.As(e, &se) {
			for _, v := range c.VirtualServers {
				if v.Node != nil && (se.Service.FWMark != 0 && v.Fwmark == se.Service.FWMark ||
					v.Address == se.Service.Addr && uint16(v.Port) == se.Service.Port) {
					ce.Pos = v.Node.Pos
					break
				}
			}
			reason := se.Reason
			for _, dp := range []string{"nftables", "ipvs"} {
				reason = strings.TrimPrefix(reason, dp+" datapath: ") // said once is enough
			}
			ce.Msg = fmt.Sprintf("%s: the %s datapath cannot do this: %s", se.Service, datapathName(c), reason)
		}
		out = append(out, ce)
	}
	return out
}

func datapathName(c *config.Config) string {
	if c.Cluster == nil || c.Cluster.Datapath == "" || c.Cluster.Datapath == "auto" {
		return "auto (on this machine's kernel)"
	}
	return c.Cluster.Datapath
}
