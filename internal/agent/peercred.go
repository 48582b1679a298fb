package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// authType names peerInfo as a gRPC AuthInfo.
const authType = "kith-unix-peer"

// peerInfo is what the kernel says about the process at the other end of a
// Workload API connection (SO_PEERCRED, captured when it connected) and
// about the connection: the inode of the peer's socket, which the process
// holds in its descriptor table. The start time of that pid and its
// executable are read right after the connection was accepted.
type peerInfo struct {
	credentials.CommonAuthInfo
	pid       int32
	uid, gid  uint32
	sock      uint64 // the peer's socket inode; 0: unknown
	startTime uint64 // 0: unknown
	exe       fileID // zero: unknown
}

// AuthType implements credentials.AuthInfo.
func (peerInfo) AuthType() string { return authType }

// peerCredentials is a gRPC TransportCredentials for a Unix socket server:
// it does no cryptography (the socket is local) and attaches the peer's
// credentials to the connection as a peerInfo.
type peerCredentials struct {
	proc procReader
	// noPeerSocket, if set, is told when the kernel refuses to name the
	// peer's socket (the path and sha256 selectors are then left out).
	noPeerSocket func(error)
}

// ServerHandshake reads SO_PEERCRED from the accepted connection.
func (pc peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, nil, fmt.Errorf("workload API: %T is not a Unix socket", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, nil, fmt.Errorf("workload API: %w", err)
	}
	var cred *unix.Ucred
	var credErr, sockErr error
	var sock uint64
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		sock, sockErr = peerSocketInode(int(fd))
	}); err != nil {
		return nil, nil, fmt.Errorf("workload API: %w", err)
	}
	if credErr != nil {
		return nil, nil, fmt.Errorf("workload API: peer credentials: %w", credErr)
	}
	info := peerInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		pid:            cred.Pid, uid: cred.Uid, gid: cred.Gid, sock: sock,
	}
	var errno unix.Errno
	if errors.As(sockErr, &errno) && pc.noPeerSocket != nil { // not a peer that is already gone
		pc.noPeerSocket(sockErr)
	}
	if cred.Pid > 0 { // each unknown if unreadable
		info.startTime, _ = pc.proc.startTime(cred.Pid)
		info.exe, _ = pc.proc.exeID(cred.Pid)
	}
	return conn, info, nil
}

// ClientHandshake is not supported: these credentials are for the server.
func (peerCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("workload API credentials are server-side only")
}

// Info describes the protocol.
func (peerCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: authType}
}

// Clone returns a copy.
func (pc peerCredentials) Clone() credentials.TransportCredentials { return pc }

// OverrideServerName is a no-op (and unused by gRPC).
func (peerCredentials) OverrideServerName(string) error { return nil }

// peerOf returns the peerInfo of an RPC's connection.
func peerOf(ctx context.Context) (peerInfo, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return peerInfo{}, false
	}
	info, ok := p.AuthInfo.(peerInfo)
	return info, ok
}
