//go:build linux

package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// txn is one nftables transaction. Tables, chains, maps and rules are built
// by google/nftables on a connection that records its messages instead of
// sending them; element lists are encoded here, straight into their
// messages (google/nftables allocates several objects per element: with
// their garbage, a third of applying 10,000 services went there). send
// then sends everything as one batch.
type txn struct {
	rec      *nftables.Conn
	recorded []netlink.Message
	msgs     []netlink.Message
}

func newTxn() (*txn, error) {
	t := &txn{}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for _, m := range req {
			if typ := m.Header.Type; typ != unix.NFNL_MSG_BATCH_BEGIN && typ != unix.NFNL_MSG_BATCH_END {
				t.recorded = append(t.recorded, m)
			}
		}
		return nil, nil
	}))
	if err != nil {
		return nil, fmt.Errorf("nft: encoder: %w", err)
	}
	t.rec = c
	return t, nil
}

// take appends what was queued on rec to the batch.
func (t *txn) take() error {
	if err := t.rec.Flush(); err != nil {
		return fmt.Errorf("nft: encode: %w", err)
	}
	t.msgs = append(t.msgs, t.recorded...)
	t.recorded = t.recorded[:0]
	return nil
}

// elemMsg is one NEWSETELEM (DELSETELEM) message being encoded:
//
//	nfgenmsg, NFTA_SET_ELEM_LIST_TABLE, _SET, [_SET_ID],
//	NFTA_SET_ELEM_LIST_ELEMENTS { NFTA_LIST_ELEM {
//	    NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE key }
//	    [NFTA_SET_ELEM_DATA { NFTA_DATA_VALUE val | NFTA_DATA_VERDICT { CODE goto, CHAIN } }]
//	    [NFTA_SET_ELEM_USERDATA comment] } ... }
type elemMsg struct {
	del  bool
	buf  []byte
	list int // offset of the element list's attribute header
}

// verdictGoto is NFT_GOTO (-4) on the wire.
const verdictGoto = 1<<32 - 4

// maxListBytes: the element list is one netlink attribute, whose length is
// 16 bits.
const maxListBytes = 65000

// newElemMsg starts a message in buf (which it keeps).
func newElemMsg(s *nftables.Set, del bool, buf []byte) *elemMsg {
	m := &elemMsg{del: del, buf: append(buf[:0], byte(s.Table.Family), unix.NFNETLINK_V0, 0, 0)}
	m.buf = attrString(m.buf, unix.NFTA_SET_ELEM_LIST_TABLE, s.Table.Name)
	m.buf = attrString(m.buf, unix.NFTA_SET_ELEM_LIST_SET, s.Name)
	if s.ID != 0 {
		m.buf = attr(m.buf, unix.NFTA_SET_ELEM_LIST_SET_ID, binary.BigEndian.AppendUint32(nil, s.ID))
	}
	m.buf, m.list = nest(m.buf, unix.NFTA_SET_ELEM_LIST_ELEMENTS)
	return m
}

// add appends one element; a non-empty chain makes it a goto verdict.
func (m *elemMsg) add(key []byte, val, chain, comment string) {
	var e, k, dt, vd int
	m.buf, e = nest(m.buf, unix.NFTA_LIST_ELEM)
	m.buf, k = nest(m.buf, unix.NFTA_SET_ELEM_KEY)
	m.buf = attr(m.buf, unix.NFTA_DATA_VALUE, key)
	end(m.buf, k)
	switch {
	case chain != "":
		m.buf, dt = nest(m.buf, unix.NFTA_SET_ELEM_DATA)
		m.buf, vd = nest(m.buf, unix.NFTA_DATA_VERDICT)
		m.buf = attr(m.buf, unix.NFTA_VERDICT_CODE, binary.BigEndian.AppendUint32(nil, verdictGoto))
		m.buf = attrString(m.buf, unix.NFTA_VERDICT_CHAIN, chain)
		end(m.buf, vd)
		end(m.buf, dt)
	case val != "":
		m.buf, dt = nest(m.buf, unix.NFTA_SET_ELEM_DATA)
		m.buf = attrBytes(m.buf, unix.NFTA_DATA_VALUE, val)
		end(m.buf, dt)
	}
	if comment != "" {
		m.buf = attr(m.buf, unix.NFTA_SET_ELEM_USERDATA, userdata.AppendString(nil, userdata.NFTNL_UDATA_SET_ELEM_COMMENT, comment))
	}
	end(m.buf, e)
}

// room reports whether an element of about n bytes still fits.
func (m *elemMsg) room(n int) bool { return len(m.buf)-m.list+n+64 <= maxListBytes }

func (m *elemMsg) message() netlink.Message {
	end(m.buf, m.list)
	typ, flags := unix.NFT_MSG_NEWSETELEM, netlink.Request|netlink.Acknowledge|netlink.Create
	if m.del {
		typ, flags = unix.NFT_MSG_DELSETELEM, netlink.Request|netlink.Acknowledge
	}
	return netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ), Flags: flags}, Data: m.buf}
}

// Netlink attributes: a 4-byte header (length and type, host byte order),
// the data, padding to 4 bytes.
func attr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	return pad(append(b, data...))
}

func attrBytes(b []byte, typ uint16, data string) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	return pad(append(b, data...))
}

// attrString appends a NUL-terminated string.
func attrString(b []byte, typ uint16, s string) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(5+len(s)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	return pad(append(append(b, s...), 0))
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nest opens a nested attribute; end closes it.
func nest(b []byte, typ uint16) ([]byte, int) {
	off := len(b)
	b = binary.NativeEndian.AppendUint16(b, 0)
	return binary.NativeEndian.AppendUint16(b, typ|unix.NLA_F_NESTED), off
}

func end(b []byte, off int) { binary.NativeEndian.PutUint16(b[off:], uint16(len(b)-off)) }

// send sends msgs as one batch (one transaction: all or nothing) and
// collects the kernel's answer to each (one per message: it asks for
// acknowledgements). The kernel processes a batch within the sendmsg call,
// so every answer is queued by the time it returns; the read deadline only
// bounds the wait when the kernel answers the batch once (ENOMEM, EPERM).
func (d *Datapath) send(msgs []netlink.Message) error {
	if d.batchConn == nil {
		c, err := d.dial(true)
		if err != nil {
			return err
		}
		d.batchConn = c
	}
	c := d.batchConn
	batch := make([]netlink.Message, 0, len(msgs)+2)
	hdr := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES} // res_id: the subsystem, big-endian
	batch = append(batch, netlink.Message{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: netlink.Request}, Data: hdr})
	batch = append(batch, msgs...)
	batch = append(batch, netlink.Message{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_END, Flags: netlink.Request}, Data: hdr})
	for i := range batch {
		batch[i].Header.Sequence = 0 // numbered by the connection
	}
	sent, err := c.SendMessages(batch)
	if err != nil {
		return fmt.Errorf("nft: send batch: %w", err)
	}
	pending := make(map[uint32]bool, len(msgs))
	for _, m := range sent[1 : len(sent)-1] {
		pending[m.Header.Sequence] = true
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	defer c.SetReadDeadline(time.Time{})
	var errs []error
	for left := len(pending); left > 0; {
		replies, err := c.Receive()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			if len(errs) == 0 {
				errs = append(errs, fmt.Errorf("nft: %d of %d messages of the batch unanswered: %w", left, len(msgs), err))
			}
			left = 0
		case err != nil:
			// An error answers one message (which, the error does not
			// say; the batch is void anyway).
			errs = append(errs, err)
			left--
		}
		for _, r := range replies {
			if r.Header.Type == netlink.Error && pending[r.Header.Sequence] {
				delete(pending, r.Header.Sequence)
				left--
			}
		}
	}
	return errors.Join(errs...)
}
