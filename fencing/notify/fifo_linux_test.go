//go:build linux

package notify

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A reader (the test, like keepalived's sample_notify_fifo.sh) receives
// keepalived-format lines in publication order.
func TestFIFOKeepalivedLines(t *testing.T) {
	checkNoLeaks(t)
	path := filepath.Join(t.TempDir(), "vrrp_notify_fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	readerReady := make(chan *os.File, 1)
	go func() {
		r, err := os.Open(path) // blocks until a writer opens
		if err != nil {
			close(lines)
			return
		}
		readerReady <- r
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	x, err := OpenFIFO(FIFOConfig{Path: path, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := <-readerReady
	defer r.Close()
	ts := []Transition{
		{Name: "VI_1", State: StateBackup, Priority: 100},
		{Name: "VI_1", State: StateMaster, Priority: 100},
		{Group: true, Name: "VG_1", State: StateMaster, Priority: 100},
		{Name: "VI_2", State: StateFault, Priority: 0},
		{Name: "VI_1", State: StateStop, Priority: 100},
	}
	d := NewDispatcher(DispatcherConfig{}, x)
	for _, tr := range ts {
		tr := tr
		d.Publish(Notification{Transition: &tr})
	}
	want := []string{
		`INSTANCE "VI_1" BACKUP 100`,
		`INSTANCE "VI_1" MASTER 100`,
		`GROUP "VG_1" MASTER 0`,
		`INSTANCE "VI_2" FAULT 0`,
		`INSTANCE "VI_1" STOP 100`,
	}
	for i, w := range want {
		select {
		case got := <-lines:
			if got != w {
				t.Fatalf("line %d: %q, want %q", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d never arrived", i)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Written != 5 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// No reader at all: nothing blocks, the pipe buffers what it can, the
// rest is dropped and counted; a reader arriving later gets whole lines in
// order.
func TestFIFOAbsentReaderNeverBlocks(t *testing.T) {
	checkNoLeaks(t)
	path := filepath.Join(t.TempDir(), "fifo")
	x, err := OpenFIFO(FIFOConfig{Path: path, Create: true, QueueLen: 64, WriteTimeout: 2 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000 // ~27 bytes each: more than the 64 KiB pipe holds
	within(t, "3000 Notify calls without a reader", 60*time.Second, func() {
		for i := 0; i < n; i++ {
			x.Notify(Transition{Name: "VI_1", State: StateMaster, Priority: i % 256})
			pace(x, i)
		}
	})
	within(t, "Close", 60*time.Second, func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	st := x.Stats()
	t.Logf("stats %+v", st)
	if st.Written+st.Dropped != n || st.Dropped == 0 || st.Written == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The writer closed; open read-write ourselves (non-blocking) and read
	// what the pipe kept: whole lines, in order.
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	// The pipe's buffer went with the last open file; nothing is left, and
	// that is the point: a reader that was never there costs nothing.
	buf := make([]byte, 4096)
	if k, err := syscall.Read(fd, buf); err != syscall.EAGAIN {
		t.Fatalf("read %d bytes (%q), err %v: want an empty pipe", k, buf[:max(k, 0)], err)
	}
}

// A slow reader: a reader that stops reading fills the pipe; later
// notifications are dropped, earlier ones arrive whole and in order.
func TestFIFOSlowReader(t *testing.T) {
	checkNoLeaks(t)
	path := filepath.Join(t.TempDir(), "fifo")
	x, err := OpenFIFO(FIFOConfig{Path: path, Create: true, QueueLen: 16, WriteTimeout: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 4000
	within(t, "Notify while the reader sleeps", 60*time.Second, func() {
		for i := 0; i < n; i++ {
			x.Notify(Transition{Name: "VI_1", State: StateBackup, Priority: i % 200})
			pace(x, i)
		}
	})
	within(t, "Close", 60*time.Second, func() { x.Close() })
	st := x.Stats()
	t.Logf("stats %+v", st)
	if st.Dropped == 0 || st.Written+st.Dropped != n {
		t.Fatalf("stats %+v", st)
	}
	// Now read what is buffered: exactly Written whole lines.
	if err := syscall.SetNonblock(int(r.Fd()), false); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(r)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if uint64(len(got)) != st.Written {
		t.Fatalf("read %d lines, writer wrote %d", len(got), st.Written)
	}
	for i, l := range got {
		if !strings.HasPrefix(l, `INSTANCE "VI_1" BACKUP `) {
			t.Fatalf("line %d torn: %q", i, l)
		}
	}
	if got[0] != `INSTANCE "VI_1" BACKUP 0` || got[1] != `INSTANCE "VI_1" BACKUP 1` {
		t.Fatalf("first lines %q", got[:2])
	}
}

// pace lets the writer catch up every 32 lines, so that the pipe itself
// fills up (rather than only the queue) and writes meet their timeout.
func pace(x *FIFO, i int) {
	if i%32 != 31 {
		return
	}
	for j := 0; j < 2000; j++ {
		if st := x.Stats(); st.Written+st.Dropped >= uint64(i+1) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOpenFIFOErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFIFO(FIFOConfig{Path: filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing fifo without Create: %v", err)
	}
	reg := filepath.Join(dir, "regular")
	os.WriteFile(reg, nil, 0o600)
	if _, err := OpenFIFO(FIFOConfig{Path: reg}); err == nil || !strings.Contains(err.Error(), "is not a named pipe") {
		t.Fatalf("regular file: %v", err)
	}
	if _, err := OpenFIFO(FIFOConfig{}); err == nil {
		t.Fatal("empty path accepted")
	}
}

// Directors sharing one notify_fifo path start at once: whichever creates
// the pipe first, every one opens it.
func TestOpenFIFOConcurrentCreate(t *testing.T) {
	checkNoLeaks(t)
	for round := 0; round < 20; round++ {
		path := filepath.Join(t.TempDir(), "fifo")
		errs := make(chan error, 8)
		fifos := make(chan *FIFO, 8)
		for range 8 {
			go func() {
				x, err := OpenFIFO(FIFOConfig{Path: path, Create: true})
				errs <- err
				fifos <- x
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if x := <-fifos; x != nil {
				x.Close()
			}
		}
	}
}
