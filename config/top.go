package config

// topTable holds the top-level blocks. Blocks vigil accepts but does not
// act on (bfd_instance, vrrp_track_process, garp_group, ...) are checked
// for being blocks and otherwise kept only in the tree.
var topTable = table[Config]{
	"global_defs": {fn: func(b *builder, n *Node, c *Config) {}}, // built first, see config
	"cluster": {fn: func(b *builder, n *Node, c *Config) {
		if c.Cluster != nil {
			b.errorf(n, "second cluster block (first at %s)", c.Cluster.Node.Pos)
			return
		}
		c.Cluster = b.cluster(n)
	}},
	"vrrp_script": {fn: func(b *builder, n *Node, c *Config) {
		if s := b.script(n); s != nil {
			c.Scripts = append(c.Scripts, s)
		}
	}},
	"track_file": {fn: func(b *builder, n *Node, c *Config) {
		if t := b.trackFile(n); t != nil {
			c.TrackFiles = append(c.TrackFiles, t)
		}
	}},
	"vrrp_track_file": {alias: "track_file", fn: func(b *builder, n *Node, c *Config) {
		if t := b.trackFile(n); t != nil {
			c.TrackFiles = append(c.TrackFiles, t)
		}
	}},
	"vrrp_sync_group": {fn: func(b *builder, n *Node, c *Config) {
		if g := b.syncGroup(n); g != nil {
			c.SyncGroups = append(c.SyncGroups, g)
		}
	}},
	"vrrp_instance": {fn: func(b *builder, n *Node, c *Config) {
		if !b.block(n) || !b.nargs(n, 1, 1) {
			return
		}
		c.Instances = append(c.Instances, b.instance(n, &c.Global, nil))
	}},
	"static_ipaddress": {fn: func(b *builder, n *Node, c *Config) {
		if b.block(n) && b.nargs(n, 0, 0) {
			c.StaticIPAddresses = append(c.StaticIPAddresses, b.vips(n)...)
		}
	}},
	"static_routes": {fn: func(b *builder, n *Node, c *Config) {
		if b.block(n) && b.nargs(n, 0, 0) {
			c.StaticRoutes = append(c.StaticRoutes, b.routes(n)...)
		}
	}},
	"virtual_server_group": {fn: func(b *builder, n *Node, c *Config) {
		if g := b.vsGroup(n); g != nil {
			c.VirtualServerGroups = append(c.VirtualServerGroups, g)
		}
	}},
	"virtual_server": {fn: func(b *builder, n *Node, c *Config) {
		if vs := b.virtualServer(n, &c.Global); vs != nil {
			c.VirtualServers = append(c.VirtualServers, vs)
		}
	}},
	"SSL": {fn: func(b *builder, n *Node, c *Config) {
		if !b.block(n) {
			return
		}
		c.SSL = &SSLConfig{}
		apply(b, sslTable, n.Children, c.SSL, "SSL block")
	}},
	"static_rules":             {fn: acceptBlock},
	"bfd_instance":             {fn: acceptBlock},
	"vrrp_track_process":       {fn: acceptBlock},
	"garp_group":               {fn: acceptBlock},
	"linkbeat_interfaces":      {fn: acceptBlock},
	"interface_up_down_delays": {fn: acceptBlock},
	"net_namespace":            {fn: func(b *builder, n *Node, c *Config) {}},
	"net_namespace_ipvs":       {fn: func(b *builder, n *Node, c *Config) {}},
	"namespace_with_ipsets":    {fn: func(b *builder, n *Node, c *Config) {}},
	"instance":                 {fn: func(b *builder, n *Node, c *Config) {}},
	"use_pid_dir":              {fn: func(b *builder, n *Node, c *Config) {}},
	"linkbeat_use_polling":     {fn: func(b *builder, n *Node, c *Config) {}},
	"child_wait_time":          {fn: func(b *builder, n *Node, c *Config) {}},
}

func acceptBlock(b *builder, n *Node, _ *Config) { b.block(n) }

var sslTable = table[SSLConfig]{
	"password":    {fn: func(b *builder, n *Node, s *SSLConfig) { s.Password, _ = b.str(n) }},
	"ca":          {fn: func(b *builder, n *Node, s *SSLConfig) { s.CA, _ = b.str(n) }},
	"certificate": {fn: func(b *builder, n *Node, s *SSLConfig) { s.Certificate, _ = b.str(n) }},
	"key":         {fn: func(b *builder, n *Node, s *SSLConfig) { s.Key, _ = b.str(n) }},
}

// config builds the model from the tree: global_defs first (wherever it
// stands, since instances and servers inherit from it), then the rest in
// file order.
func (b *builder) config(tree []*Node) *Config {
	c := &Config{Tree: tree, Global: defaultGlobal()}
	for _, n := range tree {
		if n.Keyword == "global_defs" && b.block(n) {
			apply(b, globalTable, n.Children, &c.Global, "global_defs")
		}
	}
	finishGlobal(&c.Global)
	apply(b, topTable, tree, c, "the top level")
	if c.Scripts == nil {
		c.Scripts = []*VRRPScript{}
	}
	if c.TrackFiles == nil {
		c.TrackFiles = []*TrackFile{}
	}
	if c.SyncGroups == nil {
		c.SyncGroups = []*SyncGroup{}
	}
	if c.Instances == nil {
		c.Instances = []*VRRPInstance{}
	}
	if c.VirtualServerGroups == nil {
		c.VirtualServerGroups = []*VirtualServerGroup{}
	}
	if c.VirtualServers == nil {
		c.VirtualServers = []*VirtualServer{}
	}
	return c
}
