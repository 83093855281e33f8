"""A redis-server of the test's own, for the Redis channel backend's tests
(test_redis.py): started on a free loopback port (and, if asked, a unix
socket) with nothing persisted, in the foreground as our child, stopped by
its PID (SIGTERM, then SIGKILL), and restartable on the same port.  The
system's redis service is never touched.

    r = RedisServer(os.path.join(TESTROOT, "redis-x")).start()
    r.url                       # "redis://127.0.0.1:<port>"
    r.command("KEYS", "*")      # a raw RESP round trip
    r.stop(); r.start()         # the same port again

Every socket read has a timeout: a hung redis fails a test, it never hangs
the suite.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
READ_TIMEOUT = 5.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisError(Exception):
    """An error reply (-ERR ...) from redis."""


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        """One RESP2 reply: str for +, int for :, bytes or None for $, a
        list for *; an error reply raises RedisError."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("not RESP: {!r}".format(line))


class RedisServer:
    """One redis-server of ours.  unix: also listen on <dir>/redis.sock
    (mode 777: httpd's children run unprivileged); password: requirepass."""

    def __init__(self, d, unix=False, password=None):
        if not os.path.exists(REDIS_SERVER):
            raise AssertionError(
                "{} not found: the Redis backend's tests need Debian's "
                "redis-server package (./build.sh deps installs it)".format(
                    REDIS_SERVER))
        self.dir = os.path.abspath(d)
        self.port = None
        self.unix = unix
        self.password = password
        self.proc = None

    @property
    def socket_path(self):
        return os.path.join(self.dir, "redis.sock")

    @property
    def log(self):
        return os.path.join(self.dir, "redis.log")

    @property
    def url(self):
        """The redis:// URL of its TCP port (with the password, if any)."""
        auth = ":{}@".format(self.password) if self.password else ""
        return "redis://{}127.0.0.1:{}".format(auth, self.port)

    def start(self, timeout=10.0):
        """Start (again: on the port it had) and wait until it answers
        PING."""
        assert self.proc is None or self.proc.poll() is not None, \
            "redis {} is running".format(self.proc.pid)
        if self.port is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir)
            os.chmod(self.dir, 0o755)
            self.port = _free_port()
        cmd = [REDIS_SERVER, "--port", str(self.port),
               "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--dir", self.dir,
               "--logfile", self.log, "--protected-mode", "no"]
        if self.unix:
            cmd += ["--unixsocket", self.socket_path,
                    "--unixsocketperm", "777"]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with {}: {}".format(
                    self.proc.returncode, self._log_tail()))
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise AssertionError("redis-server on port {} did not answer PING "
                             "within {}s: {}".format(self.port, timeout,
                                                     self._log_tail()))

    def pause(self):
        """SIGSTOP: connections stay open, nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout=10.0):
        """SIGTERM our redis-server (by PID), SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)       # if paused
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return "(no log)"

    def ping(self):
        """True if it answers PING with +PONG (a raw socket: no client
        library).  With a password, -NOAUTH also proves it is up."""
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=0.5) as s:
                s.settimeout(0.5)
                s.sendall(b"PING\r\n")
                data = s.recv(64)
        except OSError:
            return False
        return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")

    def command(self, *args, db=None):
        """Send one command (after AUTH and SELECT db if needed); return
        its reply."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=READ_TIMEOUT) as s:
            s.settimeout(READ_TIMEOUT)
            r = _Reader(s)
            if self.password:
                s.sendall(_encode(["AUTH", self.password]))
                r.reply()
            if db is not None:
                s.sendall(_encode(["SELECT", db]))
                r.reply()
            s.sendall(_encode(args))
            return r.reply()

    def keys(self, db=None):
        """Every key (of db), as str."""
        return sorted(k.decode("utf-8", "replace")
                      for k in self.command("KEYS", "*", db=db))

    def clients(self):
        """CLIENT LIST as a list of dicts (who is connected)."""
        text = self.command("CLIENT", "LIST").decode()
        out = []
        for line in text.splitlines():
            out.append(dict(f.split("=", 1) for f in line.split()
                            if "=" in f))
        return out


class SilentRedis:
    """A "Redis" that accepts TCP connections and reads forever, never
    answering: what a wedged Redis looks like from outside.  One thread
    accepts, one per connection reads; close() ends them all."""

    def __init__(self):
        import threading
        self.threading = threading
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns = []
        self.received = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self):
        return "redis://127.0.0.1:{}".format(self.port)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(0.2)
            with self.lock:
                self.conns.append(c)
                self.accepted += 1
            t = self.threading.Thread(target=self._read, args=(c,),
                                      daemon=True)
            t.start()
            self.threads.append(t)

    def _read(self, c):
        while not self.stopping.is_set():
            try:
                data = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.received += len(data)

    def close(self):
        self.stopping.set()
        for t in self.threads:
            t.join(2)
        for c in self.conns:
            c.close()
        self.lsock.close()
