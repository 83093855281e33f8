"""Which httpd child process holds a client's connection, as the kernel
says: the server side of the TCP connection (its socket inode, from
/proc/net/tcp) is among the open files of exactly one process.  The tests
run as root (or as httpd's user), so they may read every child's /proc.

    pid = child_of(srv, ws.local_address[1])
"""
import os

from conftest import _children_of


def _inode(server_port, client_port):
    """The inode of the server-side socket of the connection from
    127.0.0.1:client_port to server_port, or None."""
    want_local = ":%04X" % server_port
    want_remote = ":%04X" % client_port
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want_local) \
                            and fields[2].endswith(want_remote):
                        return fields[9]
        except OSError:
            continue
    return None


def child_of(srv, client_port):
    """The pid of srv's child that holds the connection whose client end
    is client_port, or None."""
    inode = _inode(srv.port, client_port)
    if inode is None:
        return None
    target = "socket:[%s]" % inode
    for pid in _children_of(srv.proc.pid):
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    return pid
            except OSError:
                continue
    return None


def children(srv):
    """srv's child processes (the channel hub among them)."""
    return _children_of(srv.proc.pid)


async def spread(srv, connect, path, n, children=2, limit=200):
    """Open n connections to path with connect(srv, path), more if needed
    (all kept open) until they sit in at least `children` processes;
    returns (conns, pid of each).  mpm_event's children compete for each
    accept and an idle one may win them all for a while: after every 20
    that landed together, pause a little so another child gets a turn."""
    import asyncio

    conns, pids = [], []
    while len(conns) < limit:
        ws = await connect(srv, path)
        conns.append(ws)
        pids.append(child_of(srv, ws.local_address[1]))
        if len(conns) >= n and len(set(pids)) >= children:
            break
        if len(conns) % 20 == 0:
            await asyncio.sleep(0.2)
    assert len(set(pids)) >= children, \
        "all {} connections to {} landed in {}".format(
            len(conns), getattr(srv, "name", srv), set(pids))
    return conns, pids
