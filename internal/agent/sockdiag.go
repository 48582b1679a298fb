package agent

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// From linux/unix_diag.h, which golang.org/x/sys does not carry.
const (
	udiagShowPeer = 0x4 // UDIAG_SHOW_PEER: ask for the peer's inode
	unixDiagPeer  = 2   // UNIX_DIAG_PEER: the attribute that carries it
	unixDiagReq   = 24  // sizeof(struct unix_diag_req)
	unixDiagMsg   = 16  // sizeof(struct unix_diag_msg)
)

// errNoPeerSocket means the kernel did not name the other end of a Unix
// socket: it is not connected, or the kernel lacks unix_diag.
var errNoPeerSocket = errors.New("the kernel did not name the peer socket")

// peerSocketInode returns the inode of the socket at the other end of the
// connected Unix socket fd: the number the peer's /proc/PID/fd shows as
// socket:[N]. It asks the kernel over NETLINK_SOCK_DIAG, as `ss -x` does;
// no privilege is needed.
func peerSocketInode(fd int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("stat socket: %w", err)
	}
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(nl)
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(nl, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	ino := uint32(st.Ino) // unix_diag names sockets by 32-bit inode
	if err := unix.Sendto(nl, unixDiagRequest(ino), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(nl, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	return parseUnixDiagPeer(buf[:n], ino)
}

// unixDiagRequest encodes a SOCK_DIAG_BY_FAMILY request for the Unix
// socket of inode ino, asking for its peer.
func unixDiagRequest(ino uint32) []byte {
	const size = unix.SizeofNlMsghdr + unixDiagReq
	b := make([]byte, size)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], size)
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // sequence number
	r := b[unix.SizeofNlMsghdr:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	ne.PutUint32(r[8:], ino)
	ne.PutUint32(r[12:], udiagShowPeer)
	ne.PutUint32(r[16:], ^uint32(0)) // no cookie
	ne.PutUint32(r[20:], ^uint32(0))
	return b
}

// parseUnixDiagPeer reads the kernel's answer to unixDiagRequest(ino) and
// returns the peer's inode. It fails on an error answer, an answer about
// another socket, a malformed answer, or one without a peer.
func parseUnixDiagPeer(b []byte, ino uint32) (uint64, error) {
	ne := binary.NativeEndian
	for len(b) >= unix.SizeofNlMsghdr {
		size, typ := ne.Uint32(b[0:]), ne.Uint16(b[4:])
		if size < unix.SizeofNlMsghdr || uint64(size) > uint64(len(b)) {
			return 0, errors.New("sock_diag: malformed answer")
		}
		body := b[unix.SizeofNlMsghdr:size]
		b = b[min(nlAlign(uint64(size)), uint64(len(b))):]
		switch typ {
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return 0, errors.New("sock_diag: malformed error")
			}
			if errno := -int32(ne.Uint32(body)); errno > 0 {
				return 0, fmt.Errorf("%w: %w", errNoPeerSocket, unix.Errno(errno))
			}
			return 0, errNoPeerSocket
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(body) < unixDiagMsg || body[0] != unix.AF_UNIX || ne.Uint32(body[4:]) != ino {
				return 0, errors.New("sock_diag: answer about another socket")
			}
			for attrs := body[unixDiagMsg:]; len(attrs) >= 4; {
				alen, atyp := ne.Uint16(attrs[0:]), ne.Uint16(attrs[2:])
				if alen < 4 || int(alen) > len(attrs) {
					return 0, errors.New("sock_diag: malformed attribute")
				}
				if atyp == unixDiagPeer && alen >= 8 {
					if peer := ne.Uint32(attrs[4:]); peer != 0 {
						return uint64(peer), nil
					}
				}
				attrs = attrs[min(nlAlign(uint64(alen)), uint64(len(attrs))):]
			}
			return 0, errNoPeerSocket
		}
	}
	return 0, errNoPeerSocket
}

// nlAlign rounds n up to netlink's 4-byte alignment.
func nlAlign(n uint64) uint64 { return (n + 3) &^ 3 }
