package config

import "net/netip"

// VRRPInstance is a vrrp_instance block as one node sees it. Values
// inherited from global_defs (version, garp timings, strict mode, ...) are
// resolved. Per-node overrides (`node NAME { ... }`) are not applied here:
// use Config.ForNode or VRRPInstance.ForNode.
type VRRPInstance struct {
	Name                    string        `json:"name"`
	State                   string        `json:"state"` // MASTER or BACKUP
	Interface               string        `json:"interface"`
	VirtualRouterID         int           `json:"virtual_router_id"`
	Priority                int           `json:"priority"`
	AdvertInt               Duration      `json:"advert_int"`
	Version                 int           `json:"version"`
	Nopreempt               bool          `json:"nopreempt"`
	PreemptDelay            Duration      `json:"preempt_delay"`
	Accept                  bool          `json:"accept"`
	Authentication          *Auth         `json:"authentication,omitempty"`
	VirtualIPAddresses      []VIP         `json:"virtual_ipaddress"`
	NoVirtualIPAddress      bool          `json:"no_virtual_ipaddress,omitempty"`
	VirtualIPExcluded       []VIP         `json:"virtual_ipaddress_excluded"`
	VirtualRoutes           []Route       `json:"virtual_routes"`
	VirtualRules            []Route       `json:"virtual_rules,omitempty"`
	TrackInterfaces         []Track       `json:"track_interface"`
	TrackScripts            []Track       `json:"track_script"`
	TrackFiles              []Track       `json:"track_file"`
	DontTrackPrimary        bool          `json:"dont_track_primary"`
	UnicastSrcIP            netip.Addr    `json:"unicast_src_ip,omitzero"`
	UnicastPeers            []UnicastPeer `json:"unicast_peer"`
	UnicastTTL              int           `json:"unicast_ttl,omitempty"`
	UnicastFaultNoPeer      bool          `json:"unicast_fault_no_peer,omitempty"`
	CheckUnicastSrc         bool          `json:"check_unicast_src"`
	McastSrcIP              netip.Addr    `json:"mcast_src_ip,omitzero"`
	McastDstIP              netip.Addr    `json:"mcast_dst_ip,omitzero"`
	UseVMAC                 bool          `json:"use_vmac"`
	VMACName                string        `json:"vmac_name,omitempty"`
	VMACAddr                string        `json:"vmac_addr,omitempty"`
	VMACXmitBase            bool          `json:"vmac_xmit_base"`
	NativeIPv6              bool          `json:"native_ipv6,omitempty"`
	GarpMasterDelay         Duration      `json:"garp_master_delay"`
	GarpMasterRepeat        int           `json:"garp_master_repeat"`
	GarpLowerPrioDelay      Duration      `json:"garp_lower_prio_delay"`
	GarpLowerPrioRepeat     int           `json:"garp_lower_prio_repeat"`
	GarpMasterRefresh       Duration      `json:"garp_master_refresh"`
	GarpMasterRefreshRepeat int           `json:"garp_master_refresh_repeat"`
	DownTimerAdverts        int           `json:"down_timer_adverts"`
	LowerPrioNoAdvert       bool          `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert    bool          `json:"higher_prio_send_advert"`
	SkipCheckAdvAddr        bool          `json:"skip_check_adv_addr"`
	StrictMode              bool          `json:"strict_mode"`
	Notify
	NotifyPriorityChanges  bool   `json:"notify_priority_changes,omitempty"`
	SMTPAlert              bool   `json:"smtp_alert"`
	PromoteSecondaries     bool   `json:"promote_secondaries,omitempty"`
	LVSSyncDaemonInterface string `json:"lvs_sync_daemon_interface,omitempty"`
	Debug                  int    `json:"debug,omitempty"`
	// NodeOverrides are the `node NAME { ... }` blocks: node name -> the
	// override statements as written, in order.
	NodeOverrides map[string][]string `json:"node_overrides,omitempty"`
	// Other holds accepted keywords vigil does not act on.
	Other map[string]string `json:"other,omitempty"`

	Node         *Node            `json:"-"`
	overrides    map[string]*Node // node name -> override block
	global       *GlobalDefs
	acceptSet    bool
	lowerPrioSet bool
	set          instSet
}

// instSet records which keywords an instance set itself, for the
// defaults and checks that depend on it.
type instSet struct {
	state, priority, higherPrio, garpLowerRep, garpLowerDelay, version2 bool
}

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Name    string         `json:"name"`
	Entries []VSGroupEntry `json:"entries"`
	Node    *Node          `json:"-"`
}

// VSGroupEntry is one line of a virtual_server_group: an address range and
// port, or a fwmark.
type VSGroupEntry struct {
	// First and Last bound an address range (equal for one address).
	First  netip.Addr `json:"first,omitzero"`
	Last   netip.Addr `json:"last,omitzero"`
	Port   int        `json:"port,omitempty"`
	Fwmark uint32     `json:"fwmark,omitempty"`
	Family string     `json:"family,omitempty"` // inet or inet6 for fwmarks, when given
	Pos    Pos        `json:"-"`
}

// VirtualServer is a virtual_server block: exactly one of Address (with
// Port), Fwmark or Group identifies it.
type VirtualServer struct {
	Address                netip.Addr   `json:"address,omitzero"`
	Port                   int          `json:"port,omitempty"`
	Fwmark                 uint32       `json:"fwmark,omitempty"`
	Group                  string       `json:"group,omitempty"`
	Protocol               string       `json:"protocol"`   // TCP, UDP or SCTP
	LVSSched               string       `json:"lvs_sched"`  // lb_algo
	LVSMethod              string       `json:"lvs_method"` // lb_kind: NAT, DR or TUN
	TunnelType             string       `json:"tunnel_type,omitempty"`
	PersistenceTimeout     Duration     `json:"persistence_timeout"` // 0: not persistent
	PersistenceGranularity string       `json:"persistence_granularity,omitempty"`
	PersistenceEngine      string       `json:"persistence_engine,omitempty"`
	IPFamily               string       `json:"ip_family,omitempty"`
	HASuspend              bool         `json:"ha_suspend"`
	Virtualhost            string       `json:"virtualhost,omitempty"`
	SorryServer            *SorryServer `json:"sorry_server,omitempty"`
	Quorum                 int          `json:"quorum"`
	Hysteresis             int          `json:"hysteresis"`
	QuorumUp               *Script      `json:"quorum_up,omitempty"`
	QuorumDown             *Script      `json:"quorum_down,omitempty"`
	Alpha                  bool         `json:"alpha"`
	Omega                  bool         `json:"omega"`
	InhibitOnFailure       bool         `json:"inhibit_on_failure"`
	DelayLoop              Duration     `json:"delay_loop"`
	ConnectTimeout         Duration     `json:"connect_timeout"`
	Retry                  int          `json:"retry"`
	DelayBeforeRetry       Duration     `json:"delay_before_retry"`
	Warmup                 Duration     `json:"warmup"`
	SMTPAlert              bool         `json:"smtp_alert"`
	// Scheduler flags.
	Flag1               bool `json:"flag_1,omitempty"`
	Flag2               bool `json:"flag_2,omitempty"`
	Flag3               bool `json:"flag_3,omitempty"`
	SHPort              bool `json:"sh_port,omitempty"`
	SHFallback          bool `json:"sh_fallback,omitempty"`
	MHPort              bool `json:"mh_port,omitempty"`
	MHFallback          bool `json:"mh_fallback,omitempty"`
	OnePacketScheduling bool `json:"ops,omitempty"`
	Hashed              bool `json:"hashed,omitempty"`
	// Weight is the default weight of the real servers (default 1).
	Weight      int               `json:"weight"`
	RealServers []*RealServer     `json:"real_servers"`
	Other       map[string]string `json:"other,omitempty"`
	Node        *Node             `json:"-"`
	inh         inherited
	protocolSet bool
}

// SorryServer is the sorry_server of a virtual server.
type SorryServer struct {
	Address   netip.Addr `json:"address"`
	Port      int        `json:"port,omitempty"`
	Inhibit   bool       `json:"inhibit"`
	LVSMethod string     `json:"lvs_method"`
}

// RealServer is a real_server block, with values inherited from its
// virtual server resolved.
type RealServer struct {
	Address          netip.Addr        `json:"address"`
	Port             int               `json:"port"`
	Weight           int               `json:"weight"`
	LVSMethod        string            `json:"lvs_method"`
	InhibitOnFailure bool              `json:"inhibit_on_failure"`
	NotifyUp         *Script           `json:"notify_up,omitempty"`
	NotifyDown       *Script           `json:"notify_down,omitempty"`
	UThreshold       int               `json:"uthreshold,omitempty"`
	LThreshold       int               `json:"lthreshold,omitempty"`
	Virtualhost      string            `json:"virtualhost,omitempty"`
	SMTPAlert        bool              `json:"smtp_alert"`
	Alpha            bool              `json:"alpha"`
	DelayLoop        Duration          `json:"delay_loop"`
	ConnectTimeout   Duration          `json:"connect_timeout"`
	Retry            int               `json:"retry"`
	DelayBeforeRetry Duration          `json:"delay_before_retry"`
	Warmup           Duration          `json:"warmup"`
	Checkers         []*Checker        `json:"checkers"`
	Other            map[string]string `json:"other,omitempty"`
	Node             *Node             `json:"-"`
	inh              inherited
}

// Checker is one health checker of a real server, with the connection
// and timing values inherited from the real and virtual server resolved
// (connect_ip defaults to the real server address, connect_port to its
// port).
type Checker struct {
	Type             string     `json:"type"` // TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK, BFD_CHECK
	ConnectIP        netip.Addr `json:"connect_ip,omitzero"`
	ConnectPort      int        `json:"connect_port,omitempty"`
	BindTo           netip.Addr `json:"bindto,omitzero"`
	BindPort         int        `json:"bind_port,omitempty"`
	BindIf           string     `json:"bind_if,omitempty"`
	Fwmark           uint32     `json:"fwmark,omitempty"`
	ConnectTimeout   Duration   `json:"connect_timeout"`
	Retry            int        `json:"retry"`
	DelayBeforeRetry Duration   `json:"delay_before_retry"`
	DelayLoop        Duration   `json:"delay_loop"`
	Warmup           Duration   `json:"warmup"`
	Alpha            bool       `json:"alpha"`
	LogAllFailures   bool       `json:"log_all_failures,omitempty"`

	HTTP *HTTPCheck `json:"http,omitempty"` // HTTP_GET and SSL_GET
	SMTP *SMTPCheck `json:"smtp,omitempty"`
	DNS  *DNSCheck  `json:"dns,omitempty"`
	Misc *MiscCheck `json:"misc,omitempty"`
	UDP  *UDPCheck  `json:"udp,omitempty"`
	File *FileCheck `json:"file,omitempty"`
	// BFDName is the bfd_instance of a BFD_CHECK.
	BFDName string            `json:"bfd_name,omitempty"`
	Other   map[string]string `json:"other,omitempty"`
	Node    *Node             `json:"-"`
	inh     inherited
}

// HTTPCheck holds the HTTP_GET / SSL_GET specifics.
type HTTPCheck struct {
	URLs         []URL  `json:"urls"`
	HTTPProtocol string `json:"http_protocol"` // 1.0, 1.0C or 1.1
	Virtualhost  string `json:"virtualhost,omitempty"`
	EnableSNI    bool   `json:"enable_sni,omitempty"`
	FastRecovery bool   `json:"fast_recovery,omitempty"`
	TLS          bool   `json:"tls"` // SSL_GET
}

// URL is one url block of an HTTP checker.
type URL struct {
	Path         string      `json:"path"`
	Digest       string      `json:"digest,omitempty"`
	StatusCodes  []CodeRange `json:"status_code"` // default 200-299
	Virtualhost  string      `json:"virtualhost,omitempty"`
	Regex        string      `json:"regex,omitempty"`
	RegexNoMatch bool        `json:"regex_no_match,omitempty"`
	RegexOptions []string    `json:"regex_options,omitempty"`
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// SMTPCheck holds the SMTP_CHECK specifics. Hosts are the legacy host { }
// blocks, each a connection target of its own.
type SMTPCheck struct {
	HeloName string     `json:"helo_name"`
	Hosts    []*Checker `json:"hosts,omitempty"`
}

// DNSCheck holds the DNS_CHECK specifics.
type DNSCheck struct {
	Type string `json:"type"` // default SOA
	Name string `json:"name"` // default "."
}

// MiscCheck holds the MISC_CHECK specifics.
type MiscCheck struct {
	Path    string   `json:"misc_path"`
	Timeout Duration `json:"misc_timeout"` // default: delay_loop
	Dynamic bool     `json:"misc_dynamic"`
	User    string   `json:"user,omitempty"`
	Group   string   `json:"group,omitempty"`
}

// UDPCheck holds the UDP_CHECK specifics.
type UDPCheck struct {
	Payload        string `json:"payload,omitempty"` // hex
	RequireReply   bool   `json:"require_reply"`
	ReplyData      string `json:"reply_data,omitempty"` // hex, X for don't care
	MinReplyLength int    `json:"min_reply_length"`
	MaxReplyLength int    `json:"max_reply_length"`
}

// FileCheck holds the FILE_CHECK specifics.
type FileCheck struct {
	TrackFile string `json:"track_file"`
	Dynamic   bool   `json:"dynamic"`
	Weight    int    `json:"weight"`
	Reverse   bool   `json:"reverse,omitempty"`
}

// SSLConfig is the global SSL block used by SSL_GET.
type SSLConfig struct {
	Password    string `json:"password,omitempty"`
	CA          string `json:"ca,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Key         string `json:"key,omitempty"`
}
