// Package datapath chooses and opens vigil's load-balancer datapath from
// the configuration's `datapath ipvs|nftables|auto` (auto: IPVS when the
// kernel has it, else nftables), and validates a desired state against the
// chosen one for `vigil config check`.
package datapath

import (
	"errors"
	"fmt"

	"vigil/lvs"
	"vigil/lvs/ipvs"
	"vigil/lvs/nft"
)

// Kind names a datapath.
type Kind string

// The datapaths.
const (
	IPVS     Kind = "ipvs"
	NFTables Kind = "nftables"
	Auto     Kind = "auto"
)

// Config is what the agent passes to Open.
type Config struct {
	Kind Kind // "" = Auto
	IPVS ipvs.Options
	NFT  nft.Options
}

// Resolve turns Auto into IPVS or NFTables by asking the kernel (in
// cfg.IPVS.NetNSPath) whether it has IPVS; it rejects unknown kinds.
func Resolve(cfg Config) (Kind, error) {
	switch cfg.Kind {
	case IPVS, NFTables:
		return cfg.Kind, nil
	case Auto, "":
		err := ipvs.CheckKernel(cfg.IPVS.NetNSPath)
		if err == nil {
			return IPVS, nil
		}
		if errors.Is(err, lvs.ErrNoIPVS) || errors.Is(err, lvs.ErrUnimplemented) {
			return NFTables, nil
		}
		return "", err
	}
	return "", fmt.Errorf("datapath: unknown datapath %q (want ipvs, nftables or auto)", cfg.Kind)
}

// Open resolves the kind and opens that datapath.
func Open(cfg Config) (lvs.Datapath, Kind, error) {
	k, err := Resolve(cfg)
	if err != nil {
		return nil, "", err
	}
	switch k {
	case IPVS:
		dp, err := ipvs.New(cfg.IPVS)
		if err != nil {
			return nil, k, err
		}
		return dp, k, nil
	default:
		dp, err := nft.New(cfg.NFT)
		if err != nil {
			return nil, k, err
		}
		return dp, k, nil
	}
}

// Validate checks st against what datapath kind can express, without
// touching the kernel for ipvs and nftables (auto asks the kernel which one
// it would be). Errors name the service (*lvs.ServiceError).
func Validate(cfg Config, st lvs.State) error {
	k, err := Resolve(cfg)
	if err != nil {
		return err
	}
	if k == NFTables {
		return cfg.NFT.Validate(st)
	}
	return st.Validate()
}
