package config

// Limits on the number of VIPs one advert carries: the address count is an
// 8-bit field, and an IPv6 advert fills a 1500-byte MTU at 89 addresses.
const (
	maxVIPs4 = 255
	maxVIPs6 = 89
)

// keepalivedInstanceChecks applies the checks keepalived makes when it
// completes an instance (vrrp.c vrrp_complete_instance); each makes
// `keepalived -t` fail, so each is an error here too.
//
// Deliberately not checked: keepalived 2.2.7 accepts a first IPv6 VIP that
// is not link-local (older versions rejected it).
func keepalivedInstanceChecks(b *builder, i *VRRPInstance, v6 bool) {
	n := i.Node
	owner := i.Priority == 255
	at := func(kw string) Pos { return keywordPos(n, kw) }
	if v6 && i.set.version2 {
		b.errorAt(at("version"), "version", "instance %s: VRRPv2 is IPv4 only; IPv6 instances run version 3", i.Name)
	}
	if a := i.Authentication; a != nil {
		switch {
		case i.StrictMode:
			b.errorAt(at("authentication"), "authentication", "instance %s: strict mode does not allow authentication", i.Name)
		case i.Version == 3:
			b.errorAt(at("authentication"), "authentication", "instance %s: VRRPv3 has no authentication", i.Name)
		case a.Type == "AH" && v6:
			b.errorAt(at("authentication"), "authentication", "instance %s: AH authentication is not available with IPv6", i.Name)
		case a.Type == "AH" && i.State == "MASTER" && !owner:
			b.errorAt(at("state"), "state", "instance %s: initial state MASTER needs the AH sequence number of a received advert; use state BACKUP", i.Name)
		}
	}
	if i.StrictMode {
		if i.State == "MASTER" != owner {
			b.errorAt(at("state"), "state", "instance %s: in strict mode state MASTER must match being the address owner (priority 255)", i.Name)
		}
		if len(i.UnicastPeers) > 0 {
			b.errorAt(at("unicast_peer"), "unicast_peer", "instance %s: strict mode does not allow unicast peers", i.Name)
		}
		if i.PreemptDelay > 0 {
			b.errorAt(at("preempt_delay"), "preempt_delay", "instance %s: strict mode does not allow preempt_delay", i.Name)
		}
		if !i.LowerPrioNoAdvert {
			b.errorAt(at("lower_prio_no_advert"), "lower_prio_no_advert", "instance %s: strict mode requires lower_prio_no_advert", i.Name)
		}
		if i.HigherPrioSendAdvert {
			b.errorAt(at("higher_prio_send_advert"), "higher_prio_send_advert", "instance %s: strict mode does not allow higher_prio_send_advert", i.Name)
		}
		if i.GarpLowerPrioRepeat != 0 || i.GarpLowerPrioDelay != 0 {
			b.errorAt(at("garp_lower_prio_repeat"), "garp_lower_prio_repeat", "instance %s: strict mode does not allow repeated lower-priority GARPs", i.Name)
		}
		if i.VMACXmitBase {
			b.errorAt(at("vmac_xmit_base"), "vmac_xmit_base", "instance %s: strict mode does not allow vmac_xmit_base", i.Name)
		}
		if i.Accept && i.acceptSet && !owner && i.Version == 2 {
			b.errorAt(at("accept"), "accept", "instance %s: accept mode with VRRPv2 does not comply with RFC 3768 in strict mode", i.Name)
		}
	}
	if max := maxVIPs4; len(i.VirtualIPAddresses) > 0 {
		if v6 {
			max = maxVIPs6
		}
		if len(i.VirtualIPAddresses) > max {
			b.errorAt(at("virtual_ipaddress"), "virtual_ipaddress", "instance %s: %d VIPs do not fit one advert (at most %d); move the rest to virtual_ipaddress_excluded",
				i.Name, len(i.VirtualIPAddresses), max)
		}
	}
	if i.Nopreempt && owner {
		b.errorAt(at("nopreempt"), "nopreempt", "instance %s: nopreempt has no meaning for the address owner (priority 255)", i.Name)
	} else if i.Nopreempt && i.State == "MASTER" {
		b.errorAt(at("nopreempt"), "nopreempt", "instance %s: nopreempt does not work with state MASTER; use state BACKUP", i.Name)
	}
	if i.PreemptDelay > 0 && i.State == "MASTER" {
		b.errorAt(at("preempt_delay"), "preempt_delay", "instance %s: preempt_delay does not work with state MASTER; use state BACKUP", i.Name)
	}
	if i.PreemptDelay > 0 && i.Nopreempt {
		b.errorAt(at("preempt_delay"), "preempt_delay", "instance %s: preempt_delay contradicts nopreempt", i.Name)
	}
	if i.VMACXmitBase && !i.UseVMAC {
		b.errorAt(at("vmac_xmit_base"), "vmac_xmit_base", "instance %s: vmac_xmit_base needs use_vmac", i.Name)
	}
	if i.PromoteSecondaries && i.UseVMAC {
		b.errorAt(at("promote_secondaries"), "promote_secondaries", "instance %s: promote_secondaries is automatic on a VMAC", i.Name)
	}
	for _, t := range i.TrackInterfaces {
		if i.Interface != "" && t.Name == i.Interface {
			b.warns = append(b.warns, Warning{Pos: t.Pos, Keyword: t.Name, Msg: "instance " + i.Name + ": track_interface lists the instance's own interface, which is always tracked"})
		}
	}
	if i.UnicastSrcIP.IsValid() && len(i.VirtualIPAddresses) > 0 && i.UnicastSrcIP.Unmap().Is6() != v6 {
		b.errorAt(at("unicast_src_ip"), "unicast_src_ip", "instance %s: %s is not of the family of the VIPs", i.Name, i.UnicastSrcIP)
	}
}

// trackWeightChecks rejects tracking weights keepalived ignores with a
// config error: on an address owner, and on members of a sync group without
// sync_group_tracking_weight (the group must move as one).
func trackWeightChecks(b *builder, c *Config, i *VRRPInstance, group *SyncGroup) {
	why := ""
	switch {
	case group != nil && !group.SyncGroupTrackingWeight:
		why = "a member of sync group " + group.Name + " (tracking weights would split the group; set weight 0, or sync_group_tracking_weight on the group)"
	case i.Priority == 255:
		why = "the address owner (priority 255)"
	default:
		return
	}
	for _, t := range i.TrackInterfaces {
		if t.Weight != 0 {
			b.errorAt(t.Pos, t.Name, "track_interface weight %d ignored: instance %s is %s", t.Weight, i.Name, why)
		}
	}
	for _, t := range i.TrackScripts {
		w := t.Weight
		if s := c.Script(t.Name); s != nil && !t.WeightSet {
			w = s.Weight
		}
		if w != 0 {
			b.errorAt(t.Pos, t.Name, "track_script weight %d ignored: instance %s is %s", w, i.Name, why)
		}
	}
	for _, t := range i.TrackFiles {
		w := t.Weight
		if f := c.TrackFile(t.Name); f != nil && !t.WeightSet {
			w = f.Weight
		}
		if w != 0 {
			b.errorAt(t.Pos, t.Name, "track_file weight %d ignored: instance %s is %s", w, i.Name, why)
		}
	}
}
