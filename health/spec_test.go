package health

import (
	"testing"
	"time"
)

// TestResolvedDefaults pins keepalived.conf(5)'s defaults.
func TestResolvedDefaults(t *testing.T) {
	three, zero := 3, time.Duration(0)
	tests := []struct {
		name string
		spec CheckSpec
		want Timing
	}{
		{"TCP_CHECK", CheckSpec{Kind: KindTCP},
			Timing{DelayLoop: 60 * time.Second, Retry: 1, DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Timeout: 5 * time.Second}},
		{"HTTP_GET: delay_before_retry 3s, connect_timeout per url", CheckSpec{Kind: KindHTTP, URLs: []URLSpec{{}, {}}},
			Timing{DelayLoop: 60 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second, Warmup: 60 * time.Second, Timeout: 10 * time.Second}},
		{"SSL_GET", CheckSpec{Kind: KindSSL, DelayLoop: 6 * time.Second},
			Timing{DelayLoop: 6 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second, Warmup: 6 * time.Second, Timeout: 5 * time.Second}},
		{"DNS_CHECK: retry 3, delay_before_retry delay_loop", CheckSpec{Kind: KindDNS, DelayLoop: 10 * time.Second},
			Timing{DelayLoop: 10 * time.Second, Retry: 3, DelayBeforeRetry: 10 * time.Second, Warmup: 10 * time.Second, Timeout: 5 * time.Second}},
		{"MISC_CHECK: retry 0, misc_timeout delay_loop", CheckSpec{Kind: KindMisc, DelayLoop: 7 * time.Second},
			Timing{DelayLoop: 7 * time.Second, Retry: 0, DelayBeforeRetry: time.Second, Warmup: 7 * time.Second, Timeout: 7 * time.Second}},
		{"MISC_CHECK misc_timeout", CheckSpec{Kind: KindMisc, MiscTimeout: 2 * time.Second, ConnectTimeout: time.Hour},
			Timing{DelayLoop: 60 * time.Second, DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Timeout: 2 * time.Second}},
		{"explicit values win, warmup 0 and alpha", CheckSpec{Kind: KindTCP, DelayLoop: 2 * time.Second, Retry: &three,
			DelayBeforeRetry: 500 * time.Millisecond, Warmup: &zero, ConnectTimeout: time.Second, Alpha: true},
			Timing{DelayLoop: 2 * time.Second, Retry: 3, DelayBeforeRetry: 500 * time.Millisecond, Timeout: time.Second, Alpha: true}},
	}
	for _, tt := range tests {
		if got := tt.spec.Resolved(); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	for k, n := range kindNames {
		if got, err := ParseKind(n); err != nil || got != k || k.String() != n {
			t.Errorf("ParseKind(%q) = %v, %v", n, got, err)
		}
	}
	if got, err := ParseKind("http_get"); err != nil || got != KindHTTP {
		t.Errorf("ParseKind is case-sensitive: %v %v", got, err)
	}
	if _, err := ParseKind("FILE_CHECK"); err == nil {
		t.Error("FILE_CHECK accepted")
	}
}
