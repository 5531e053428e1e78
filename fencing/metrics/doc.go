// Package metrics holds the agent's Prometheus metrics, on a registry of
// their own (never the global default registry), each with HELP text. The
// agent's loops call the setters; Handler serves the text exposition on
// the admin address.
//
// Metric families (all prefixed vigil_):
//
//	instance_holder{instance,node}              1 for the node holding the instance
//	instance_epoch{instance}                    fencing token of the current assignment
//	lease_remaining_seconds{instance}           this node's lease time left
//	raft_state{state}                           1 for this node's Raft state
//	raft_term, raft_commit_index, raft_applied_index
//	link_up{peer,link}                          heartbeat link state
//	alerts_open{kind}, alerts_total{kind}       split-brain alerts
//	realserver_up{service,realserver}, realserver_weight{service,realserver}
//	datapath_operations_total{datapath,op,result}
//	fence_attempts_total{result}
//	self_fence_seconds{step}                    histogram, lease expiry to step done
//	notify_sent_total{sink}, notify_failed_total{sink}, notify_dropped_total{sink}
package metrics
