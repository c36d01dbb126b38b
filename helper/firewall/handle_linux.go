package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftaTableHandle is NFTA_TABLE_HANDLE, the table's handle: a number the
// kernel gives each table when it is created and never reuses in the
// network namespace. golang.org/x/sys does not name it.
const nftaTableHandle = 4

// Handle returns the kernel's handle of the table: what proves, later,
// that a table of that name is still the one we added. google/nftables
// does not report it, so it is read with one NFT_MSG_GETTABLE.
func Handle(f Family, table string) (uint64, error) {
	if err := validTable(f, table); err != nil {
		return 0, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return 0, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
	}
	defer c.Close()
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_TABLE_NAME, Data: []byte(table + "\x00")}})
	if err != nil {
		return 0, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: nftType(unix.NFT_MSG_GETTABLE), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(genHeader(f.nft()), attrs...),
	})
	if err != nil {
		return 0, fmt.Errorf("look up nftables table %s %q: %w", f, table, err)
	}
	for _, m := range msgs {
		if m.Header.Type != nftType(unix.NFT_MSG_NEWTABLE) || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == nftaTableHandle {
				return ad.Uint64(), nil
			}
		}
		if err := ad.Err(); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("look up nftables table %s %q: the kernel gave no handle", f, table)
}

// DeleteHandle removes the table whose handle is handle, with everything
// in it, and leaves alone a table of the same name with another handle:
// someone else's, made after ours was deleted. The kernel looks the table
// up by the handle alone, so no other table can be hit in between. A table
// that is gone is not an error.
func DeleteHandle(f Family, table string, handle uint64) error {
	if err := validTable(f, table); err != nil {
		return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
	}
	if handle == 0 {
		return fmt.Errorf("delete nftables table %s %q: no handle", f, table)
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
	}
	defer c.Close()
	h := make([]byte, 8)
	binary.BigEndian.PutUint64(h, handle)
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: nftaTableHandle, Data: h}})
	if err != nil {
		return err
	}
	batch := []netlink.Message{
		{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request}, Data: batchHeader()},
		{Header: netlink.Header{Type: nftType(unix.NFT_MSG_DELTABLE), Flags: netlink.Request | netlink.Acknowledge}, Data: append(genHeader(f.nft()), attrs...)},
		{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request}, Data: batchHeader()},
	}
	if _, err := c.SendMessages(batch); err != nil {
		return fmt.Errorf("delete nftables table %s %q: %w", f, table, err)
	}
	// The one acknowledgement is that of the delete.
	if _, err := c.Receive(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s %q (handle %d): %w", f, table, handle, err)
	}
	return nil
}

func nftType(msg int) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msg)
}

// genHeader is struct nfgenmsg for a message about family.
func genHeader[F ~uint8](family F) []byte { return []byte{uint8(family), unix.NFNETLINK_V0, 0, 0} }

// batchHeader is struct nfgenmsg of a batch's begin and end: the
// subsystem, big-endian, in res_id.
func batchHeader() []byte {
	return []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES}
}
