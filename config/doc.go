// Package config reads keepalived.conf files and vigil's cluster extension
// into a typed model that every other vigil package consumes.
//
// # Syntax
//
// The reader follows keepalived's syntax (lib/parser.c): statements are
// lines of whitespace-separated words; '{' and '}' open and close blocks
// and are tokens of their own even when glued to a word, and a block's
// '{' may stand on the next line; '#' and '!' outside quotes begin a comment
// (even in the middle of a word, as in keepalived); double quotes make one
// word of a string with blanks (\" and \\ escape inside); a backslash at the
// end of a line continues it; `include PATTERN...` splices in files, a
// relative pattern resolving against the directory of the including file,
// a glob matching nothing being no error while a missing plain file is one
// (keepalived only logs it, and the services it held would silently
// vanish). Includes nest up to 32 deep and cycles are errors. Lines
// starting with @ID or @^ID are keepalived's conditional configuration
// (Options.ConfigID). `$NAME=VALUE` lines define parameters that `$NAME`
// and `${NAME}` on later lines expand to (single-line definitions; no
// built-in variables or ~SEQ).
//
// # Entry points
//
// ParseTree gives the syntax tree alone ([]*Node, with file:line:col on
// every statement). ParseFile and Parse build the typed model (Config) with
// every default of keepalived.conf(5) filled in, validate it, and return all
// errors found as an ErrorList (each "file:line:col: keyword: message",
// unknown keywords with a did-you-mean) and the warnings (deprecated
// aliases: lb_algo, lb_kind, nb_get_retry, vrrp_track_file,
// lvs_sync_daemon_interface, native_ipv6, global_tracking). The JSON form of
// Config (`vigil config dump --json`) has stable snake_case names;
// durations are numbers of seconds.
//
// Values set on a virtual_server (delay_loop, connect_timeout, retry,
// delay_before_retry, warmup, alpha, inhibit_on_failure) are the defaults of
// its real servers, and a real server's of its checkers; the model holds the
// resolved values at every level. Checker defaults depend on the type:
// retry 1 (DNS_CHECK 3, MISC_CHECK 0), delay_before_retry 1 s (HTTP_GET and
// SSL_GET 3 s, DNS_CHECK delay_loop), connect_timeout 5 s, delay_loop 60 s,
// warmup delay_loop, connect_ip/connect_port the real server's.
//
// # The cluster block
//
// A file with a cluster block is a vigil configuration; one file serves
// every director. Without one it is a plain keepalived.conf, which can be
// checked, dumped and imported. The keywords:
//
//	cluster {
//	    name NAME                  # required: the cluster's name
//	    data_dir PATH              # Raft log, snapshots, state (default /var/lib/vigil)
//	    node NAME {                # one block per director (3 or 5; an even number warns)
//	        address A1 [A2 ...]    # one address per heartbeat link, in link order;
//	    }                          #   every node lists the same number of links
//	    api_listen HOST:PORT       # the operator API (default 127.0.0.1:7070)
//	    raft_port PORT             # Raft transport, on link 0 (default 7000)
//	    gossip_port PORT           # memberlist on link i uses PORT+i (default 7001)
//	    lease DURATION             # VIP lease a holder renews with the leader (default 0.8s)
//	    heartbeat DURATION         # Raft heartbeat and gossip probe interval (default 200ms);
//	                               #   lease must be at least 3 heartbeats
//	    clock_drift RATE           # clock-rate drift margin for lease expiry, as 1% or 0.01
//	                               #   (default 1%; at most 50%)
//	    tls {                      # mutual TLS between directors and on the API (default off)
//	        ca FILE
//	        cert FILE
//	        key FILE
//	    }
//	    gossip_key BASE64          # memberlist encryption key, 16, 24 or 32 bytes (default none)
//	    api_token TOKEN            # bearer token required by the API (default none)
//	    fence_peer {               # run before taking a VIP from a peer that did not release it
//	        script "CMD ARGS"      # required: the command line to run
//	        timeout DURATION       # default 10s
//	        required BOOL          # takeover waits for success (default on)
//	    }
//	    webhook {                  # POST every alert and state transition as JSON (repeatable)
//	        url URL                # required: an absolute http or https URL
//	        timeout DURATION       # one POST (default 10s)
//	        retry N                # attempts per notification, with backoff (default 5)
//	        header NAME VALUE      # a request header, e.g. Authorization "Bearer T" (repeatable)
//	    }
//	    datapath auto|ipvs|nftables      # load-balancer datapath (default auto: ipvs if
//	                                     #   the kernel has it, else nftables)
//	    health_quorum majority|leader|any  # whose health verdicts count (default majority)
//	    snapshot_interval DURATION # Raft snapshot check interval (default 120s)
//	    snapshot_threshold N       # log entries between snapshots (default 8192)
//	    snapshot_retain N          # snapshots kept (default 2)
//	}
//
// DURATION is a number of seconds (0.2) or a Go duration (200ms, 2s).
//
// Inside a vrrp_instance, `node NAME { ... }` holds statements for that
// node only: each replaces the instance's statements of the same keyword
// (deprecated aliases count as their keyword) when node NAME reads the
// configuration (Config.ForNode, VRRPInstance.ForNode). Any instance
// keyword may appear, except node itself. virtual_server blocks take no node
// overrides: every director programs the same datapath from the same
// replicated state, which is what keeps established connections on their
// real server across a failover. Config.LocalNode picks the node whose
// address is on a local interface.
//
// The package reads files and nothing else: it starts no process and opens
// no socket.
package config
