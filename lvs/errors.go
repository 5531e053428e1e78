package lvs

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors. Datapaths wrap them in *OpError; test with errors.Is.
var (
	// ErrExist: the service or destination already exists. It is the
	// kernel's EEXIST, so errors.Is works on raw netlink errors too.
	ErrExist error = syscall.EEXIST
	// ErrNotExist: the service or destination does not exist (ENOENT;
	// datapaths map IPVS's ESRCH to it).
	ErrNotExist error = syscall.ENOENT
	// ErrUnsupported: the datapath cannot express this service.
	ErrUnsupported = errors.New("not supported by this datapath")
	// ErrNoIPVS: the kernel has no IPVS (no IPVS generic-netlink family).
	ErrNoIPVS = errors.New("the kernel has no IPVS (generic netlink family IPVS not found); use datapath nftables")
	// ErrUnimplemented: the datapath does not exist on this platform.
	ErrUnimplemented = errors.New("datapath not implemented on this platform")
)

// OpError is an error from one datapath operation.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string { return fmt.Sprintf("lvs: %s: %v", e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// ServiceError is a service a datapath cannot express, found by Validate.
type ServiceError struct {
	Service ServiceKey
	Reason  string
	Err     error // usually ErrUnsupported
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("lvs: service %s: %s", e.Service, e.Reason)
}

// Unwrap returns the underlying error.
func (e *ServiceError) Unwrap() error { return e.Err }
