package config

import (
	"net/netip"
	"strings"
)

func defaultGlobal() GlobalDefs {
	return GlobalDefs{
		NotificationEmail:       []string{},
		SMTPPort:                25,
		SMTPConnectTimeout:      seconds(30),
		DefaultInterface:        "eth0",
		VRRPVersion:             2,
		VRRPMcastGroup4:         netip.MustParseAddr("224.0.0.18"),
		VRRPMcastGroup6:         netip.MustParseAddr("ff02::12"),
		VRRPGarpMasterDelay:     seconds(5),
		VRRPGarpMasterRepeat:    5,
		VRRPGarpLowerPrioDelay:  -1, // follows vrrp_garp_master_delay
		VRRPGarpLowerPrioRepeat: -1, // follows vrrp_garp_master_repeat
		// Unlike keepalived (off), vigil refreshes its gratuitous ARPs every
		// 5 s by default: a client whose entry still points at a departed
		// holder (after a partition heals, or a rogue stopped) is cut off
		// until the entry expires otherwise, 20 to 50 s as measured.
		VRRPGarpMasterRefresh:       seconds(5),
		VRRPGarpMasterRefreshRepeat: 1,
		VRRPDownTimerAdverts:        3,
	}
}

// finishGlobal resolves the global defaults that follow other keywords.
func finishGlobal(g *GlobalDefs) {
	if !g.alertVRRPSet {
		g.SMTPAlertVRRP = g.SMTPAlert
	}
	if !g.alertCheckerSet {
		g.SMTPAlertChecker = g.SMTPAlert
	}
	if g.VRRPGarpLowerPrioDelay < 0 {
		g.VRRPGarpLowerPrioDelay = g.VRRPGarpMasterDelay
	}
	if g.VRRPGarpLowerPrioRepeat < 0 {
		g.VRRPGarpLowerPrioRepeat = g.VRRPGarpMasterRepeat
	}
	if g.VRRPMinGarp {
		g.VRRPGarpMasterRepeat = 1
		g.VRRPGarpMasterDelay = 0
	}
}

// globalOther are the global_defs keywords of keepalived 2.2 (global_parser.c
// init_global_keywords, and keepalived.conf(5)) that vigil accepts without
// acting on them (kept in GlobalDefs.Other).
var globalOther = []string{
	"process_names", "process_name", "vrrp_process_name", "checker_process_name", "bfd_process_name",
	"startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout",
	"min_auto_priority_delay", "disable_local_igmp", "vrrp_garp_extra_if",
	"vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_ifindex",
	"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters",
	"vrrp_priority", "vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime",
	"checker_priority", "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime",
	"bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime",
	"snmp_socket", "enable_traps", "enable_snmp_vrrp", "enable_snmp_rfc", "enable_snmp_rfcv2",
	"enable_snmp_rfcv3", "enable_snmp_checker", "enable_dbus", "dbus_service_name",
	"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
	"vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
	"lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
	"lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies", "no_checker_emails",
	"vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "log_unknown_vrids", "vmac_prefix", "vmac_addr_prefix",
	"umask", "random_seed", "reload_check_config", "reload_time_file", "reload_repeat", "reload_file",
	"include_check", "tmp_config_directory", "data_use_instance", "config_save_dir",
	"fifo_write_vrrp_states_on_reload", "linkbeat_interfaces",
}

// globalDeprecated are deprecated global_defs keywords: old -> new.
var globalDeprecated = map[string]string{
	"lvs_process_name":       "checker_process_name",
	"vrrp_vmac_garp_intvl":   "vrrp_garp_extra_if",
	"vrrp_rlimit_rtime":      "vrrp_rlimit_rttime",
	"checker_rlimit_rtime":   "checker_rlimit_rttime",
	"bfd_rlimit_rtime":       "bfd_rlimit_rttime",
	"enable_snmp_keepalived": "enable_snmp_vrrp",
}

var globalTable = func() table[GlobalDefs] {
	t := table[GlobalDefs]{
		"router_id": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.RouterID, _ = b.str(n) }},
		"notification_email": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			// A block of addresses, several per line allowed; keepalived
			// also accepts them on the keyword line.
			g.NotificationEmail = append(g.NotificationEmail, n.Args...)
			for _, c := range n.Children {
				g.NotificationEmail = append(g.NotificationEmail, c.Words()...)
			}
		}},
		"notification_email_from": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.NotificationEmailFrom, _ = b.str(n) }},
		"smtp_server": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if !b.noBlock(n) || !b.nargs(n, 1, 2) {
				return
			}
			g.SMTPServer = n.Args[0]
			if len(n.Args) == 2 {
				g.SMTPPort, _ = b.portArg(n, 1)
			}
		}},
		"smtp_helo_name":         {fn: func(b *builder, n *Node, g *GlobalDefs) { g.SMTPHeloName, _ = b.str(n) }},
		"smtp_connect_timeout":   {fn: func(b *builder, n *Node, g *GlobalDefs) { g.SMTPConnectTimeout, _ = b.dur1(n, 3600) }},
		"smtp_alert":             {fn: func(b *builder, n *Node, g *GlobalDefs) { g.SMTPAlert, g.alertSet = b.flag(n) }},
		"smtp_alert_vrrp":        {fn: func(b *builder, n *Node, g *GlobalDefs) { g.SMTPAlertVRRP, g.alertVRRPSet = b.flag(n) }},
		"smtp_alert_checker":     {fn: func(b *builder, n *Node, g *GlobalDefs) { g.SMTPAlertChecker, g.alertCheckerSet = b.flag(n) }},
		"no_email_faults":        {fn: func(b *builder, n *Node, g *GlobalDefs) { g.NoEmailFaults = b.bare(n) }},
		"enable_script_security": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.EnableScriptSecurity, _ = b.flag(n) }},
		"script_user": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if b.noBlock(n) && b.nargs(n, 1, 2) {
				g.ScriptUser = n.Args[0]
				if len(n.Args) == 2 {
					g.ScriptGroup = n.Args[1]
				}
			}
		}},
		"default_interface": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.DefaultInterface, _ = b.str(n) }},
		"dynamic_interfaces": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if b.noBlock(n) && b.nargs(n, 0, 1) {
				g.DynamicInterfaces = true
				if len(n.Args) == 1 {
					if n.Args[0] != "allow_if_changes" {
						b.errorf(n, "%q: the only option is allow_if_changes", n.Args[0])
					}
					g.DynamicInterfacesMode = n.Args[0]
				}
			}
		}},
		"notify_fifo":             {fn: func(b *builder, n *Node, g *GlobalDefs) { g.NotifyFIFO, _ = b.joined(n) }},
		"notify_fifo_script":      {fn: func(b *builder, n *Node, g *GlobalDefs) { g.NotifyFIFOScript, _ = b.joined(n) }},
		"vrrp_notify_fifo":        {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPNotifyFIFO, _ = b.joined(n) }},
		"vrrp_notify_fifo_script": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPNotifyFIFOScript, _ = b.joined(n) }},
		"lvs_notify_fifo":         {fn: func(b *builder, n *Node, g *GlobalDefs) { g.LVSNotifyFIFO, _ = b.joined(n) }},
		"lvs_notify_fifo_script":  {fn: func(b *builder, n *Node, g *GlobalDefs) { g.LVSNotifyFIFOScript, _ = b.joined(n) }},
		"lvs_flush":               {fn: func(b *builder, n *Node, g *GlobalDefs) { g.LVSFlush = b.bare(n) }},
		"lvs_flush_on_stop": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if b.noBlock(n) && b.nargs(n, 0, 1) {
				g.LVSFlushOnStop = "RS"
				if len(n.Args) == 1 {
					g.LVSFlushOnStop, _ = b.oneOf(n, "VS")
				}
			}
		}},
		"lvs_timeouts": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if !b.noBlock(n) || !b.nargs(n, 2, 6) || len(n.Args)%2 != 0 {
				if len(n.Args)%2 != 0 {
					b.errorf(n, "expects pairs: [tcp SECS] [tcpfin SECS] [udp SECS]")
				}
				return
			}
			for i := 0; i < len(n.Args); i += 2 {
				d, ok := b.durArg(n, i+1, 86400*365)
				if !ok {
					continue
				}
				switch n.Args[i] {
				case "tcp":
					g.LVSTimeouts.TCP = d
				case "tcpfin":
					g.LVSTimeouts.TCPFin = d
				case "udp":
					g.LVSTimeouts.UDP = d
				default:
					b.errorf(n, "%q: expected tcp, tcpfin or udp", n.Args[i])
				}
			}
		}},
		"lvs_sync_daemon": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.LVSSyncDaemon = b.syncDaemon(n) }},

		"vrrp_version":                    {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPVersion, _ = b.int1(n, 2, 3) }},
		"vrrp_mcast_group4":               {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPMcastGroup4, _ = b.mcast(n, false) }},
		"vrrp_mcast_group6":               {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPMcastGroup6, _ = b.mcast(n, true) }},
		"vrrp_garp_master_delay":          {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpMasterDelay, _ = b.dur1(n, 86400) }},
		"vrrp_garp_master_repeat":         {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpMasterRepeat, _ = b.int1(n, 0, 10000) }},
		"vrrp_garp_lower_prio_delay":      {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpLowerPrioDelay, _ = b.dur1(n, 86400) }},
		"vrrp_garp_lower_prio_repeat":     {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpLowerPrioRepeat, _ = b.int1(n, 0, 10000) }},
		"vrrp_garp_master_refresh":        {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpMasterRefresh, _ = b.dur1(n, 86400) }},
		"vrrp_garp_master_refresh_repeat": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpMasterRefreshRepeat, _ = b.int1(n, 0, 10000) }},
		"vrrp_garp_interval":              {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGarpInterval, _ = b.dur1(n, 1) }},
		"vrrp_gna_interval":               {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPGnaInterval, _ = b.dur1(n, 1) }},
		"vrrp_min_garp":                   {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPMinGarp, _ = b.flag(n) }},
		"vrrp_lower_prio_no_advert":       {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPLowerPrioNoAdvert, _ = b.flag(n) }},
		"vrrp_higher_prio_send_advert":    {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPHigherPrioSendAdvert, _ = b.flag(n) }},
		"vrrp_skip_check_adv_addr":        {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPSkipCheckAdvAddr, _ = b.flag(n) }},
		"vrrp_strict":                     {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPStrict = b.bare(n) }},
		"vrrp_check_unicast_src":          {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPCheckUnicastSrc = b.bare(n) }},
		"vrrp_startup_delay":              {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPStartupDelay, _ = b.dur1(n, 3600) }},
		"vrrp_down_timer_adverts":         {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPDownTimerAdverts, _ = b.int1(n, 1, 100) }},
		"vrrp_notify_priority_changes":    {fn: func(b *builder, n *Node, g *GlobalDefs) { g.VRRPNotifyPriorityChanges, _ = b.flag(n) }},
		"max_auto_priority": {fn: func(b *builder, n *Node, g *GlobalDefs) {
			if len(n.Args) == 0 && b.noBlock(n) {
				g.MaxAutoPriority = 99 // keepalived: no value means the maximum
				return
			}
			g.MaxAutoPriority, _ = b.int1(n, -1, 99)
		}},
		"checker_log_all_failures": {fn: func(b *builder, n *Node, g *GlobalDefs) { g.CheckerLogAllFailures, _ = b.flag(n) }},
		// Deprecated forms keepalived still reads.
	}
	for _, k := range globalOther {
		if _, ok := t[k]; !ok {
			t[k] = entry[GlobalDefs]{fn: func(b *builder, n *Node, g *GlobalDefs) { other(&g.Other, n) }}
		}
	}
	for old, repl := range globalDeprecated {
		t[old] = entry[GlobalDefs]{alias: repl, fn: func(b *builder, n *Node, g *GlobalDefs) { other(&g.Other, n) }}
	}
	t["lvs_flush_onstop"] = entry[GlobalDefs]{alias: "lvs_flush_on_stop", fn: t["lvs_flush_on_stop"].fn}
	return t
}()

// realServerSMTPAlert is a real server's smtp_alert default: keepalived
// keeps it on unless global_defs sets smtp_alert or smtp_alert_checker
// (for backward compatibility, unlike every other smtp_alert default).
func (g *GlobalDefs) realServerSMTPAlert() bool {
	if g.alertCheckerSet || g.alertSet {
		return g.SMTPAlertChecker
	}
	return true
}

func (b *builder) mcast(n *Node, v6 bool) (netip.Addr, bool) {
	a, ok := b.addr1(n)
	if !ok {
		return a, false
	}
	if !a.IsMulticast() || a.Is6() != v6 {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		b.errorf(n, "%s is not an %s multicast address", a, fam)
		return netip.Addr{}, false
	}
	return a, true
}

// syncDaemon parses `lvs_sync_daemon IF [[inst] INSTANCE] [id N] [maxlen N]
// [port N] [ttl N] [group ADDR]`.
func (b *builder) syncDaemon(n *Node) *LVSSyncDaemon {
	if !b.noBlock(n) || !b.nargs(n, 1, -1) {
		return nil
	}
	d := &LVSSyncDaemon{Interface: n.Args[0], Port: 8848, Group: netip.MustParseAddr("224.0.0.81")}
	args := n.Args[1:]
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "inst", "id", "maxlen", "port", "ttl", "group":
		default:
			d.Instance = args[0] // the instance without "inst"
			args = args[1:]
		}
	}
	for i := 0; i < len(args); i += 2 {
		kw := args[i]
		if i+1 >= len(args) {
			b.errorf(n, "%s needs a value", kw)
			break
		}
		v := &Node{Pos: n.Pos, Keyword: n.Keyword, Args: args[i+1 : i+2]}
		switch strings.ToLower(kw) {
		case "inst":
			d.Instance = args[i+1]
		case "id":
			d.SyncID, _ = b.intArg(v, 0, 0, 255)
		case "maxlen":
			d.MaxLen, _ = b.intArg(v, 0, 1, 65507)
		case "port":
			d.Port, _ = b.intArg(v, 0, 1, 65535)
		case "ttl":
			d.TTL, _ = b.intArg(v, 0, 1, 255)
		case "group":
			d.Group, _ = b.addrArg(v, 0)
		default:
			b.errorf(n, "%q: expected inst, id, maxlen, port, ttl or group", kw)
		}
	}
	return d
}
