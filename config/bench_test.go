package config

import (
	"fmt"
	"strings"
	"testing"
)

// bigConfig returns a configuration with vs virtual servers of rsPer real
// servers each, every real server with a TCP_CHECK, in the classic DR
// layout.
func bigConfig(vs, rsPer int) []byte {
	var b strings.Builder
	b.Grow(vs * rsPer * 120)
	b.WriteString("global_defs {\n    router_id LB\n}\n")
	for i := range vs {
		fmt.Fprintf(&b, "virtual_server 10.%d.%d.%d 80 {\n    delay_loop 6\n    lvs_sched wrr\n    lvs_method DR\n    persistence_timeout 50\n    protocol TCP\n",
			1+i/65536, i/256%256, i%256)
		for j := range rsPer {
			fmt.Fprintf(&b, "    real_server 172.16.%d.%d 80 {\n        weight %d\n        TCP_CHECK {\n            connect_timeout 3\n            retry 3\n            delay_before_retry 3\n        }\n    }\n",
				j, 1+i%250, 1+j)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// BenchmarkParse10kServices parses 10,000 virtual servers with 100,000
// real servers (the target: under one second per parse).
func BenchmarkParse10kServices(b *testing.B) {
	src := bigConfig(10000, 10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		c, _, err := Parse("big.conf", src)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.VirtualServers) != 10000 {
			b.Fatalf("%d virtual servers", len(c.VirtualServers))
		}
	}
}

// BenchmarkParseTree10kServices measures the syntax pass alone.
func BenchmarkParseTree10kServices(b *testing.B) {
	src := bigConfig(10000, 10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTree("big.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}
