package config

import (
	"net/netip"
	"strconv"
	"time"
)

// Config is the typed model of one configuration, with every default
// filled in. Slices keep the order of the file. JSON field names are
// stable: `vigil config dump --json` and golden files depend on them.
type Config struct {
	Global              GlobalDefs            `json:"global_defs"`
	Cluster             *Cluster              `json:"cluster,omitempty"`
	Scripts             []*VRRPScript         `json:"vrrp_scripts"`
	TrackFiles          []*TrackFile          `json:"track_files"`
	SyncGroups          []*SyncGroup          `json:"vrrp_sync_groups"`
	Instances           []*VRRPInstance       `json:"vrrp_instances"`
	StaticIPAddresses   []VIP                 `json:"static_ipaddress,omitempty"`
	StaticRoutes        []Route               `json:"static_routes,omitempty"`
	VirtualServerGroups []*VirtualServerGroup `json:"virtual_server_groups"`
	VirtualServers      []*VirtualServer      `json:"virtual_servers"`
	SSL                 *SSLConfig            `json:"ssl,omitempty"`

	// Tree is the syntax tree the model was built from.
	Tree []*Node `json:"-"`
	// Files are the files read, the main file first, then the included
	// ones in the order read (to watch for a reload).
	Files []string `json:"-"`
}

// Duration is a time.Duration that keepalived.conf and JSON express in
// seconds (a JSON number, possibly fractional: 1, 0.5, 360).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Seconds returns d in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

func (d Duration) String() string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// MarshalJSON renders d as a number of seconds.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

func seconds(s float64) Duration { return Duration(s * float64(time.Second)) }

// GlobalDefs is the global_defs block.
type GlobalDefs struct {
	RouterID              string         `json:"router_id"` // empty: the host name
	NotificationEmail     []string       `json:"notification_email"`
	NotificationEmailFrom string         `json:"notification_email_from"` // empty: keepalived@<host name>
	SMTPServer            string         `json:"smtp_server"`
	SMTPPort              int            `json:"smtp_port"`
	SMTPHeloName          string         `json:"smtp_helo_name"`
	SMTPConnectTimeout    Duration       `json:"smtp_connect_timeout"`
	SMTPAlert             bool           `json:"smtp_alert"`
	SMTPAlertVRRP         bool           `json:"smtp_alert_vrrp"`
	SMTPAlertChecker      bool           `json:"smtp_alert_checker"`
	NoEmailFaults         bool           `json:"no_email_faults"`
	EnableScriptSecurity  bool           `json:"enable_script_security"`
	ScriptUser            string         `json:"script_user"`
	ScriptGroup           string         `json:"script_group"`
	DefaultInterface      string         `json:"default_interface"`
	DynamicInterfaces     bool           `json:"dynamic_interfaces"`
	DynamicInterfacesMode string         `json:"dynamic_interfaces_mode,omitempty"` // "allow_if_changes"
	NotifyFIFO            string         `json:"notify_fifo,omitempty"`
	NotifyFIFOScript      string         `json:"notify_fifo_script,omitempty"`
	VRRPNotifyFIFO        string         `json:"vrrp_notify_fifo,omitempty"`
	VRRPNotifyFIFOScript  string         `json:"vrrp_notify_fifo_script,omitempty"`
	LVSNotifyFIFO         string         `json:"lvs_notify_fifo,omitempty"`
	LVSNotifyFIFOScript   string         `json:"lvs_notify_fifo_script,omitempty"`
	LVSFlush              bool           `json:"lvs_flush"`
	LVSFlushOnStop        string         `json:"lvs_flush_on_stop,omitempty"` // "", "RS" or "VS"
	LVSTimeouts           LVSTimeouts    `json:"lvs_timeouts"`
	LVSSyncDaemon         *LVSSyncDaemon `json:"lvs_sync_daemon,omitempty"`

	VRRPVersion                 int        `json:"vrrp_version"`
	VRRPMcastGroup4             netip.Addr `json:"vrrp_mcast_group4"`
	VRRPMcastGroup6             netip.Addr `json:"vrrp_mcast_group6"`
	VRRPGarpMasterDelay         Duration   `json:"vrrp_garp_master_delay"`
	VRRPGarpMasterRepeat        int        `json:"vrrp_garp_master_repeat"`
	VRRPGarpLowerPrioDelay      Duration   `json:"vrrp_garp_lower_prio_delay"`
	VRRPGarpLowerPrioRepeat     int        `json:"vrrp_garp_lower_prio_repeat"`
	VRRPGarpMasterRefresh       Duration   `json:"vrrp_garp_master_refresh"`
	VRRPGarpMasterRefreshRepeat int        `json:"vrrp_garp_master_refresh_repeat"`
	VRRPGarpInterval            Duration   `json:"vrrp_garp_interval"`
	VRRPGnaInterval             Duration   `json:"vrrp_gna_interval"`
	VRRPMinGarp                 bool       `json:"vrrp_min_garp"`
	VRRPLowerPrioNoAdvert       bool       `json:"vrrp_lower_prio_no_advert"`
	VRRPHigherPrioSendAdvert    bool       `json:"vrrp_higher_prio_send_advert"`
	VRRPSkipCheckAdvAddr        bool       `json:"vrrp_skip_check_adv_addr"`
	VRRPStrict                  bool       `json:"vrrp_strict"`
	VRRPCheckUnicastSrc         bool       `json:"vrrp_check_unicast_src"`
	VRRPStartupDelay            Duration   `json:"vrrp_startup_delay"`
	VRRPDownTimerAdverts        int        `json:"vrrp_down_timer_adverts"`
	VRRPNotifyPriorityChanges   bool       `json:"vrrp_notify_priority_changes"`
	MaxAutoPriority             int        `json:"max_auto_priority"`
	CheckerLogAllFailures       bool       `json:"checker_log_all_failures"`

	alertSet, alertVRRPSet, alertCheckerSet bool

	// Other holds the remaining global_defs keywords keepalived knows
	// (process priorities, SNMP, DBus, netlink buffers, ...), which vigil
	// accepts and does not act on: keyword -> arguments joined by spaces.
	Other map[string]string `json:"other,omitempty"`
}

// LVSTimeouts are the IPVS connection timeouts (zero: leave unchanged).
type LVSTimeouts struct {
	TCP    Duration `json:"tcp"`
	TCPFin Duration `json:"tcpfin"`
	UDP    Duration `json:"udp"`
}

// LVSSyncDaemon is global_defs lvs_sync_daemon.
type LVSSyncDaemon struct {
	Interface string     `json:"interface"`
	Instance  string     `json:"instance,omitempty"`
	SyncID    int        `json:"id"`
	MaxLen    int        `json:"maxlen,omitempty"`
	Port      int        `json:"port"`
	TTL       int        `json:"ttl,omitempty"`
	Group     netip.Addr `json:"group"`
}

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Name     string   `json:"name"`
	Script   string   `json:"script"`
	Interval Duration `json:"interval"`
	Timeout  Duration `json:"timeout"`
	Weight   int      `json:"weight"`
	Reverse  bool     `json:"reverse,omitempty"`
	Rise     int      `json:"rise"`
	Fall     int      `json:"fall"`
	User     string   `json:"user,omitempty"`
	Group    string   `json:"group,omitempty"`
	InitFail bool     `json:"init_fail"`
	Node     *Node    `json:"-"`
}

// TrackFile is a track_file (or deprecated vrrp_track_file) block.
type TrackFile struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	Weight    int    `json:"weight"`
	Reverse   bool   `json:"reverse,omitempty"`
	InitFile  bool   `json:"init_file"`
	InitValue int    `json:"init_value,omitempty"`
	Overwrite bool   `json:"overwrite,omitempty"`
	Node      *Node  `json:"-"`
}

// Track is one entry of track_script, track_file or track_interface: a
// name and an optional weight. WeightSet tells an explicit weight from the
// default (the script's or file's own weight; 0 for interfaces).
type Track struct {
	Name      string `json:"name"`
	Weight    int    `json:"weight"`
	WeightSet bool   `json:"weight_set"`
	Reverse   bool   `json:"reverse,omitempty"`
	Pos       Pos    `json:"-"`
}

// Script is a command keepalived runs through its script runner: the
// command line (quoted in the file when it has arguments) and the optional
// user and group to run it as.
type Script struct {
	Command string `json:"command"`
	User    string `json:"user,omitempty"`
	Group   string `json:"group,omitempty"`
}

// Notify holds the notify scripts of an instance or sync group.
type Notify struct {
	Master           *Script `json:"notify_master,omitempty"`
	Backup           *Script `json:"notify_backup,omitempty"`
	Fault            *Script `json:"notify_fault,omitempty"`
	Stop             *Script `json:"notify_stop,omitempty"`
	Deleted          *Script `json:"notify_deleted,omitempty"`
	Any              *Script `json:"notify,omitempty"`
	MasterRxLowerPri *Script `json:"notify_master_rx_lower_pri,omitempty"`
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Name  string   `json:"name"`
	Group []string `json:"group"`
	Notify
	SMTPAlert               bool    `json:"smtp_alert"`
	TrackInterfaces         []Track `json:"track_interface"`
	TrackScripts            []Track `json:"track_script"`
	TrackFiles              []Track `json:"track_file"`
	GlobalTracking          bool    `json:"global_tracking,omitempty"`
	SyncGroupTrackingWeight bool    `json:"sync_group_tracking_weight,omitempty"`
	Node                    *Node   `json:"-"`
}

// Auth is the authentication block of a VRRP instance.
type Auth struct {
	Type string `json:"auth_type"` // PASS or AH
	Pass string `json:"auth_pass"`
}

// VIP is one line of virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress.
type VIP struct {
	Prefix  netip.Prefix `json:"address"` // a bare address gets /32 or /128
	Brd     string       `json:"brd,omitempty"`
	Dev     string       `json:"dev,omitempty"`
	Scope   string       `json:"scope,omitempty"`
	Label   string       `json:"label,omitempty"`
	Peer    string       `json:"peer,omitempty"`
	UseVMAC bool         `json:"use_vmac,omitempty"`
	NoTrack bool         `json:"no_track,omitempty"`
	// Options are the remaining flags as written (home, -nodad,
	// noprefixroute, preferred_lft N, ...).
	Options []string `json:"options,omitempty"`
	Pos     Pos      `json:"-"`
}

// Route is one line of virtual_routes or static_routes, kept as its words
// with the destination parsed out.
type Route struct {
	To    string   `json:"to"`
	Words []string `json:"words"`
	Pos   Pos      `json:"-"`
}

// UnicastPeer is one line of unicast_peer.
type UnicastPeer struct {
	Addr   netip.Addr `json:"address"`
	MinTTL int        `json:"min_ttl,omitempty"`
	MaxTTL int        `json:"max_ttl,omitempty"`
}
