package lvstest_test

import (
	"errors"
	"testing"

	"vigil/lvs"
	"vigil/lvs/lvstest"
)

func TestConformanceMemory(t *testing.T) {
	lvstest.RunConformance(t, lvstest.Harness{
		New:  func(t *testing.T) lvs.Datapath { return lvstest.New(nil) },
		Caps: lvstest.IPVSCaps,
	})
}

func TestKernelErrors(t *testing.T) {
	k := lvstest.NewKernel()
	s := lvstest.States()[1].State.Services[0]
	r := s.Reals[0]
	steps := []struct {
		op   lvs.Op
		want error
	}{
		{lvs.Op{Kind: lvs.AddDest, Service: s, Real: r}, lvs.ErrNotExist},
		{lvs.Op{Kind: lvs.UpdateService, Service: s}, lvs.ErrNotExist},
		{lvs.Op{Kind: lvs.AddService, Service: s}, nil},
		{lvs.Op{Kind: lvs.AddService, Service: s}, lvs.ErrExist},
		{lvs.Op{Kind: lvs.UpdateDest, Service: s, Real: r}, lvs.ErrNotExist},
		{lvs.Op{Kind: lvs.DelDest, Service: s, Real: r}, lvs.ErrNotExist},
		{lvs.Op{Kind: lvs.AddDest, Service: s, Real: r}, nil},
		{lvs.Op{Kind: lvs.AddDest, Service: s, Real: r}, lvs.ErrExist},
		{lvs.Op{Kind: lvs.DelService, Service: s}, nil},
		{lvs.Op{Kind: lvs.DelService, Service: s}, lvs.ErrNotExist},
	}
	for i, st := range steps {
		err := k.Do(st.op)
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Errorf("step %d %s: err %v, want %v", i, st.op, err, st.want)
		}
	}
	if k.String() != "" {
		t.Errorf("table not empty:\n%s", k)
	}
}

func TestKernelString(t *testing.T) {
	k := lvstest.NewKernel()
	dp := lvstest.New(k)
	if err := dp.Apply(t.Context(), lvstest.States()[9].State); err != nil {
		t.Fatal(err)
	}
	want := "ipvs svc tcp 10.0.0.1:80 mh persistent=300/32 flags=mh-port,persistent\n" +
		"ipvs dst tcp 10.0.0.1:80 -> 10.0.1.1:8080 nat w=1\n" +
		"ipvs dst tcp 10.0.0.1:80 -> 10.0.1.2:8080 nat w=1\n" +
		"ipvs svc udp 10.0.0.2:53 rr\n" +
		"ipvs dst udp 10.0.0.2:53 -> 10.0.1.3:53 nat w=1\n" +
		"ipvs dst udp 10.0.0.2:53 -> 10.0.1.4:53 nat w=1\n"
	if got := k.String(); got != want {
		t.Errorf("String:\n got:\n%s want:\n%s", got, want)
	}
}
