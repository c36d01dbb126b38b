package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgtray/wgtray/helper/plan"
)

// Table flags of nf_tables.h that golang.org/x/sys does not name.
const (
	tableFlagOwner   = 0x2 // NFT_TABLE_F_OWNER: only the owning socket may change or delete it
	tableFlagPersist = 0x4 // NFT_TABLE_F_PERSIST: it outlives its owner, and a new process can adopt it
)

// nfprotoInet is the inet family of the block's table.
const nfprotoInet = unix.NFPROTO_INET

// Blocker writes the kill switch's table, inet wgtray, through one
// netlink socket kept open for the life of the process. Where the kernel
// has NFT_TABLE_F_OWNER and NFT_TABLE_F_PERSIST (Linux 6.9), the table is
// created with both: while this process runs no other program can change
// or delete it (nft flush ruleset leaves it), and when the process dies
// the table stays, orphaned, until the next helper adopts it. Without
// them, the table is a plain one, which the repair watch puts back.
type Blocker struct {
	mu   sync.Mutex
	conn *netlink.Conn
	// flags are the table flags in use: owner|persist, or 0 once the
	// kernel refused them (or when created with NewBlocker(false)).
	flags uint32
	// want is what the table holds now, nil when it is deleted.
	want []plan.BlockRule
	// nsfd is the network namespace to work in, 0 for the process's.
	nsfd int
}

// NewBlocker returns a writer of the block's table; owner says whether to
// try NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST.
func NewBlocker(owner bool) *Blocker { return NewBlockerIn(owner, 0) }

// NewBlockerIn is NewBlocker for the network namespace of the descriptor
// nsfd (tests: no thread ever enters it).
func NewBlockerIn(owner bool, nsfd int) *Blocker {
	b := &Blocker{nsfd: nsfd}
	if owner {
		b.flags = tableFlagOwner | tableFlagPersist
	}
	return b
}

// Owned reports whether the table is made with the owner and persist
// flags.
func (b *Blocker) Owned() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flags != 0
}

// Close closes the socket. With the owner flags the table stays, now an
// orphan for the next helper to adopt; that is the point.
func (b *Blocker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
}

// Set makes the table hold exactly rules, in one transaction: the packet
// path sees the old table or the new one, never none.
func (b *Blocker) Set(rules []plan.BlockRule) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var body []netlink.Message
	for _, c := range plan.BlockChains {
		body = append(body, newChain(c))
	}
	for _, r := range rules {
		exprs, err := blockExprs(r)
		if err != nil {
			return fmt.Errorf("nftables table inet %s: rule %q: %w", plan.BlockTable, r, err)
		}
		m, err := newRule(r.Chain, exprs)
		if err != nil {
			return err
		}
		body = append(body, m)
	}
	err := b.replace(body)
	if err != nil && b.flags != 0 && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
		// A kernel before 6.9, or a table made without the flags by an
		// earlier run: the plain table, repaired by the watch.
		b.flags = 0
		err = b.replace(body)
	}
	if err != nil {
		return fmt.Errorf("set nftables table inet %s: %w", plan.BlockTable, err)
	}
	b.want = rules
	return nil
}

// replace sends: adopt (or create) the table, delete it, create it again
// with body, all in one batch.
func (b *Blocker) replace(body []netlink.Message) error {
	msgs := []netlink.Message{newTable(b.flags), delTable(), newTable(b.flags)}
	return b.send(append(msgs, body...))
}

// Delete removes the table: adopted first, so that an orphan left by a
// dead helper goes too. A missing table is not an error.
func (b *Blocker) Delete() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	// No table, no batch: nothing is written where there is nothing of
	// ours (package removal runs this on machines that never blocked).
	if exists, err := b.existsLocked(); err == nil && !exists {
		b.want = nil
		return nil
	}
	err := b.send([]netlink.Message{newTable(b.flags), delTable()})
	if err != nil && b.flags != 0 && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
		err = b.send([]netlink.Message{newTable(0), delTable()})
	}
	if err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", plan.BlockTable, err)
	}
	b.want = nil
	return nil
}

// existsLocked reports whether the table exists, asked on a socket of
// its own.
func (b *Blocker) existsLocked() (bool, error) {
	var opts []nftables.ConnOption
	if b.nsfd != 0 {
		opts = append(opts, nftables.WithNetNSFd(b.nsfd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return false, err
	}
	defer c.CloseLasting()
	_, err = c.ListTableOfFamily(plan.BlockTable, nftables.TableFamilyINet)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

// Want returns the rules the table should hold, nil when it should not
// exist.
func (b *Blocker) Want() []plan.BlockRule {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.want
}

// Intact reports whether the table holds as many rules in each chain as
// it should (or, when it should not exist, whether it does not): what
// the repair watch checks after every change of the ruleset.
func (b *Blocker) Intact() (bool, error) {
	want := b.Want()
	var opts []nftables.ConnOption
	if b.nsfd != 0 {
		opts = append(opts, nftables.WithNetNSFd(b.nsfd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return false, err
	}
	defer c.CloseLasting()
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: plan.BlockTable}
	if _, err := c.ListTableOfFamily(plan.BlockTable, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return want == nil, nil
		}
		return false, err
	}
	if want == nil {
		return true, nil // someone else's table of our name: not ours to judge
	}
	count := map[string]int{}
	for _, r := range want {
		count[r.Chain]++
	}
	for _, ch := range plan.BlockChains {
		rules, err := c.GetRules(t, &nftables.Chain{Name: ch, Table: t})
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(rules) != count[ch] {
			return false, nil
		}
	}
	return true, nil
}

// send sends msgs as one batch on the owning socket and waits for every
// acknowledgement, returning the first error.
func (b *Blocker) send(msgs []netlink.Message) error {
	if b.conn == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: b.nsfd})
		if err != nil {
			return err
		}
		b.conn = c
	}
	batch := []netlink.Message{{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request}, Data: batchHeader()}}
	for _, m := range msgs {
		m.Header.Flags |= netlink.Request | netlink.Acknowledge
		batch = append(batch, m)
	}
	batch = append(batch, netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request}, Data: batchHeader()})
	if _, err := b.conn.SendMessages(batch); err != nil {
		return err
	}
	// One answer per message: an acknowledgement, or an error.
	if err := b.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	var first error
	for got := 0; got < len(msgs); {
		replies, err := b.conn.Receive()
		if err != nil {
			var oe *netlink.OpError
			if errors.As(err, &oe) && oe.Timeout() {
				b.conn.Close() // answers may still come: never reuse it
				b.conn = nil
				return errors.Join(first, err)
			}
			if first == nil {
				first = err
			}
			got++
			continue
		}
		got += len(replies)
	}
	return first
}

func newTable(flags uint32) netlink.Message {
	return nftMsg(unix.NFT_MSG_NEWTABLE, netlink.Create, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_TABLE_NAME, plan.BlockTable)
		ae.Uint32(unix.NFTA_TABLE_FLAGS, flags)
	})
}

func delTable() netlink.Message {
	return nftMsg(unix.NFT_MSG_DELTABLE, 0, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_TABLE_NAME, plan.BlockTable)
	})
}

// chainHooks are the block's chains' netfilter hooks.
var chainHooks = map[string]uint32{"input": unix.NF_INET_LOCAL_IN, "forward": unix.NF_INET_FORWARD, "output": unix.NF_INET_LOCAL_OUT}

// newChain is a base filter chain at priority 0 with policy accept: the
// rules end in their own verdicts.
func newChain(name string) netlink.Message {
	return nftMsg(unix.NFT_MSG_NEWCHAIN, netlink.Create, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_CHAIN_TABLE, plan.BlockTable)
		ae.String(unix.NFTA_CHAIN_NAME, name)
		ae.Nested(unix.NFTA_CHAIN_HOOK, func(nae *netlink.AttributeEncoder) error {
			nae.Uint32(unix.NFTA_HOOK_HOOKNUM, chainHooks[name])
			nae.Uint32(unix.NFTA_HOOK_PRIORITY, 0)
			return nil
		})
		ae.Uint32(unix.NFTA_CHAIN_POLICY, 1) // NF_ACCEPT
		ae.String(unix.NFTA_CHAIN_TYPE, "filter")
	})
}

func newRule(chain string, exprs []expr.Any) (netlink.Message, error) {
	var elems [][]byte
	for _, x := range exprs {
		b, err := expr.Marshal(byte(nfprotoInet), x)
		if err != nil {
			return netlink.Message{}, fmt.Errorf("marshal %T: %w", x, err)
		}
		elems = append(elems, b)
	}
	return nftMsg(unix.NFT_MSG_NEWRULE, netlink.Create|netlink.Append, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_RULE_TABLE, plan.BlockTable)
		ae.String(unix.NFTA_RULE_CHAIN, chain)
		ae.Nested(unix.NFTA_RULE_EXPRESSIONS, func(nae *netlink.AttributeEncoder) error {
			for _, el := range elems {
				nae.Bytes(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, el)
			}
			return nil
		})
	}), nil
}

// nftMsg is one nf_tables message about the inet family, its attributes
// big-endian as nf_tables wants them.
func nftMsg(typ int, flags netlink.HeaderFlags, attrs func(*netlink.AttributeEncoder)) netlink.Message {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	attrs(ae)
	data, err := ae.Encode()
	if err != nil {
		// Only strings, numbers and bytes built here: cannot fail.
		panic(fmt.Sprintf("encode nftables message: %v", err))
	}
	return netlink.Message{Header: netlink.Header{Type: nftType(typ), Flags: flags}, Data: append(genHeader(uint8(nfprotoInet)), data...)}
}
