# vigil: see README.md. Every target runs as root on a machine with Go and
# Debian's archive; .ci/run installs the Debian packages the tests need.

GO       ?= go
BIN      ?= bin/vigil
PKGS     ?= ./...
FUZZTIME ?= 10s
# The whole suite on this project's 2-core machines takes a few minutes; the
# timeout only stops a hung test from eating CI's budget.
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test demo bench fuzz lint clean install nemesis

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/vigil

# The whole suite: unit tests, simulations, and the real-kernel tests in
# network namespaces (those need root; as another user they skip and say so).
test:
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

# A three-director cluster in network namespaces, a failover, the numbers.
demo: build
	$(BIN) demo

# Go benchmarks of every package (parser, datapath apply, health checks,
# ...), then the failover table: vigil against keepalived, measured in the
# same run on the same namespace topology (needs root; TRIALS per system),
# and 10,000 health checks sustained for HEALTH.
TRIALS ?= 20
HEALTH ?= 60s
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./test/bench/failover -n $(TRIALS) -health $(HEALTH) -out bin/bench-failover.md

# Random fault schedules (test/nemesis: kill -9, isolation, one link cut,
# partitions at the hosts, majority/minority and asymmetric, pauses longer
# than the lease, packet loss, drains, transfers, configuration changes)
# against three vigil agents in namespaces, with an ARP observer on the
# client failing the run if two directors answer at once and a checker
# failing it if an acknowledged configuration change is lost; then the
# same schedules against three keepalived nodes, whose split brains are
# counted, not failed. A recorder tapped into both bridges keeps every
# VRRP advert and gratuitous ARP: the report shows for both systems when
# two directors advertised or announced the VIP at once. make test runs a
# short slice (20 schedules); this runs N and keeps the side-by-side
# report (bin/nemesis-report.md) and the log (bin/nemesis-log.txt).
N ?= 200
SEED ?= 0
nemesis:
	@mkdir -p bin
	@status=0; $(GO) test -count=1 -timeout 6h -v -run '^TestNemesis$$' ./test/nemesis -args -nemesis.n=$(N) -nemesis.seed=$(SEED) \
		-nemesis.report=$(CURDIR)/bin/nemesis-report.md > bin/nemesis-log.txt 2>&1 || status=$$?; \
	grep -E '^\s*(---|ok|FAIL)|schedule .*(failed|replays)' bin/nemesis-log.txt; \
	sed -n '1,/^## Schedules/p' bin/nemesis-report.md 2>/dev/null; \
	echo "report: bin/nemesis-report.md, log: bin/nemesis-log.txt"; exit $$status

# A short run of every fuzz target (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		dir=$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "== $$dir $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt: not formatted:"; echo "$$bad"; exit 1; fi
	$(GO) vet $(PKGS)
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck $(PKGS)

# The binary, the systemd unit (vigil.service runs `vigil agent -f
# /etc/vigil/vigil.conf`) and the README.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)/usr/local/sbin/vigil
	install -D -m 0644 cmd/vigil/vigil.service $(DESTDIR)/etc/systemd/system/vigil.service
	install -D -m 0644 README.md $(DESTDIR)/usr/local/share/doc/vigil/README.md

clean:
	rm -rf bin
	$(GO) clean -testcache
