"""Fixtures for mod_websocket's integration tests.

Every test server is a real httpd (HTTPD, default /usr/sbin/apache2) with a
ServerRoot written by tools/serverroot.py under build/test/<name>/, listening
on a free loopback port, started in the foreground with subprocess.Popen (in
its own session) so the test session owns its PID.  Teardown sends SIGTERM
to that PID only.

A server runs copies of mod_websocket.so and the handlers, taken when it
starts (in <ServerRoot>/modules/): rebuilding build/ while tests run must
not change code that httpd has mapped.

The error log is part of the contract: after every test, and when a server
stops, new lines at emerg/alert/crit/error level, segfaults and "exit
signal" lines fail the test, unless the test declares them with
    @pytest.mark.expect_log(r"regex", ...)
After a crash, the tests that use that server fail at once.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
# WS_BUILD: another build tree (make test-asan builds into build/asan).
BUILD = os.environ.get("WS_BUILD", os.path.join(TOP, "build"))
TESTROOT = os.path.join(BUILD, "test")

sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, HERE)
import serverroot  # noqa: E402
import wsutil  # noqa: E402

HTTPD = os.environ.get("HTTPD", "/usr/sbin/apache2")
MODULE_SO = os.path.join(BUILD, "modules", "mod_websocket.so")
ECHO_SO = os.path.join(BUILD, "handlers", "echo.so")
TEST_SO = os.path.join(BUILD, "test-handlers", "testhandler.so")
BAD_ABI_SO = os.path.join(BUILD, "test-handlers", "bad_abi.so")
NO_SYMBOL_SO = os.path.join(BUILD, "test-handlers", "no_symbol.so")
ABI_V1_SO = os.path.join(BUILD, "test-handlers", "abi_v1.so")

MPMS = ["event", "worker", "prefork"]
# How the core tests run: each MPM, and mpm_event also with a thread per
# connection instead of parking idle connections.
VARIANTS = ["event", "event-thread", "worker", "prefork"]

# Lines in error_log that fail a test.
BAD_LINE = re.compile(r"\[(?:[\w]+:)?(emerg|alert|crit|error)\]"
                      r"|Segmentation fault|exit signal"
                      r"|runtime error:|AddressSanitizer"
                      r"|ERROR: Can't open file", re.I)
CRASH_LINE = re.compile(r"Segmentation fault|exit signal", re.I)

# Once a bug (prefork children crashed at exit, fixed by joining the timer
# thread in a pre-cleanup); kept as a switch for investigating regressions.
PREFORK_EXIT_CRASH = r"AH00052: child pid \d+ exit signal Segmentation fault"
TOLERATE_PREFORK_EXIT_CRASH = False

# The handlers every site loads; a server substitutes its own copies.
LOAD_HANDLERS = """
WebSocketLoadHandler echo "@ECHO_SO@"
WebSocketLoadHandler test "@TEST_SO@"
"""


def with_build_paths(text):
    """LOAD_HANDLERS-style text pointing at build/ itself (configtest)."""
    return text.replace("@ECHO_SO@", ECHO_SO).replace("@TEST_SO@", TEST_SO)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_log(*regexes): error_log lines this test may "
        "cause at error level or above")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_dir(d):
    """Remove what an earlier run left in a test ServerRoot."""
    assert d.startswith(TESTROOT + os.sep)
    shutil.rmtree(d, ignore_errors=True)


def snapshot(src, dst):
    """Copy a .so atomically (never write into a file httpd has mapped)."""
    tmp = dst + ".tmp"
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    return dst


def _children_of(pid):
    """PIDs whose parent is pid (from /proc)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(name)) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            kids.append(int(name))
    return kids


def tree_cpu_seconds(srv):
    """User + system CPU used so far by an httpd's process tree, in
    seconds (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [srv.proc.pid] + _children_of(srv.proc.pid):
        try:
            with open("/proc/{}/stat".format(pid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def server_status(port):
    """mod_status's ?auto page as a dict."""
    r = wsutil.http_get(port, "/server-status?auto")
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def wait_workers_idle(srv, timeout=10.0):
    """Wait until no httpd worker but the one asking is busy: the
    connections a test closed have been wound down.  (httpd 2.4's
    ungraceful stop reads the sockets of workers still closing a
    connection after they may have been freed: a test stops a server only
    once its closed connections are gone.)"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if int(server_status(srv.port).get("BusyWorkers", 0)) <= 1:
            return True
        time.sleep(0.05)
    return False


def httpd_env():
    """The environment httpd runs with: under make test-asan, the sanitizer
    runtime preloaded (httpd itself is not instrumented, the module is)."""
    env = dict(os.environ)
    if os.environ.get("WS_HTTPD_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["WS_HTTPD_PRELOAD"]
    return env


class HttpdServer:
    """One running httpd.  extra: config text appended to the generated
    httpd.conf, where @ROOT@ is the ServerRoot and @PORT@ the port."""

    def __init__(self, name, extra, mpm="event", expected=(), env=None,
                 **gen_kw):
        self.name = name
        self.env = env or {}
        self.mpm = mpm
        self.dir = os.path.join(TESTROOT, name)
        self.extra = extra
        self.gen_kw = gen_kw
        self.expected = [re.compile(e) for e in expected]
        self.proc = None
        self.port = None
        self.log_offset = 0
        self.crashed = []
        self.variant = mpm

    # --- paths ---
    @property
    def error_log(self):
        return os.path.join(self.dir, "logs", "error_log")

    @property
    def access_log(self):
        return os.path.join(self.dir, "logs", "access_log")

    @property
    def conf(self):
        return os.path.join(self.dir, "conf", "httpd.conf")

    @property
    def htdocs(self):
        return os.path.join(self.dir, "htdocs")

    # --- life ---
    def start(self, attempts=3):
        moddir = os.path.join(self.dir, "modules")
        os.makedirs(moddir, exist_ok=True)
        module = snapshot(MODULE_SO, os.path.join(moddir, "mod_websocket.so"))
        echo = snapshot(ECHO_SO, os.path.join(moddir, "echo.so"))
        test = snapshot(TEST_SO, os.path.join(moddir, "testhandler.so"))
        last = None
        for _ in range(attempts):
            self.port = free_port()
            for log in (self.error_log, self.access_log):
                if os.path.exists(log):
                    os.unlink(log)
            extra = self.extra.replace("@ROOT@", self.dir) \
                .replace("@PORT@", str(self.port)) \
                .replace("@ECHO_SO@", echo).replace("@TEST_SO@", test)
            serverroot.generate(self.dir, self.port, mpm=self.mpm,
                                extra=extra, listen_host="127.0.0.1",
                                module=module, **self.gen_kw)
            self.log_offset = 0
            env = httpd_env()
            env.update(self.env)
            self.proc = subprocess.Popen(
                [HTTPD, "-f", self.conf, "-DFOREGROUND"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group: prefork's shutdown signals the
                # whole group (killpg(getpgrp())), which must not be ours.
                start_new_session=True, env=env)
            if self._wait_ready():
                return self
            last = self._startup_failure()
            if "Address already in use" not in last:
                break
        raise RuntimeError("httpd {} did not start: {}".format(self.name,
                                                              last))

    def restart_same_port(self):
        """Stop (SIGTERM) and start again with the same config and port,
        as `make stop; make start` does; returns the stop's problems."""
        problems = self._terminate()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        env = httpd_env()
        env.update(self.env)
        self.proc = subprocess.Popen(
            [HTTPD, "-f", self.conf, "-DFOREGROUND"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, env=env)
        if not self._wait_ready():
            raise RuntimeError("httpd {} did not start again: {}".format(
                self.name, self._startup_failure()))
        return problems

    def _wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.gen_kw.get("tls"):
                    if wsutil.https_ready(self.port):
                        return True
                else:
                    r = wsutil.http_get(self.port, "/", timeout=2)
                    if r.status == 200:
                        return True
            except (OSError, EOFError, ValueError):
                pass
            time.sleep(0.05)
        return False

    def _startup_failure(self):
        if self.proc.poll() is None:
            self._terminate()
        out = self.proc.stdout.read().decode("utf-8", "replace") \
            if self.proc.stdout else ""
        return out + self.read_log()

    def _terminate(self, timeout=20.0):
        """SIGTERM our httpd (by PID) and wait; returns the problems."""
        problems = []
        if self.proc is None or self.proc.poll() is not None:
            return problems
        kids = _children_of(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append("httpd {} did not stop within {}s of SIGTERM"
                            .format(self.proc.pid, timeout))
            self.proc.kill()
            self.proc.wait(10)
        else:
            # A clean stop exits 0; a signal here is a crash at exit (the
            # parent's cleanups: pools, the hub, module unload).
            if self.proc.returncode != 0:
                problems.append("httpd {} exited with {} after SIGTERM"
                                .format(self.proc.pid,
                                        self.proc.returncode))
        # Children of ours that outlived their parent (should not happen).
        for pid in kids:
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            else:
                problems.append("httpd child {} outlived its parent".format(
                    pid))
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        return problems

    def stop(self, strict=False):
        """Stop; return the problems (unexpected log lines included).
        strict: do not tolerate known bugs at exit."""
        problems = self._terminate()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        tolerated = []
        if self.mpm == "prefork" and TOLERATE_PREFORK_EXIT_CRASH \
                and not strict:
            tolerated.append(PREFORK_EXIT_CRASH)
        return problems + self.check_log(tolerated)

    def assert_healthy(self):
        """Fail fast instead of timing out against a broken server."""
        if self.crashed:
            pytest.fail("httpd {} ({}) crashed earlier: {}".format(
                self.name, self.mpm, self.crashed[0]))
        if self.proc.poll() is not None:
            pytest.fail("httpd {} ({}) exited with {}".format(
                self.name, self.mpm, self.proc.returncode))

    # --- the error log ---
    def read_log(self):
        if not os.path.exists(self.error_log):
            return ""
        with open(self.error_log, errors="replace") as f:
            return f.read()

    def new_log_lines(self):
        if not os.path.exists(self.error_log):
            return []
        with open(self.error_log, "rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        # Only whole lines; a partial last line is read next time.
        end = data.rfind(b"\n") + 1
        self.log_offset += end
        return data[:end].decode("utf-8", "replace").splitlines()

    def check_log(self, expected=()):
        """Unexpected bad lines since the last check."""
        allowed = self.expected + [re.compile(e) for e in expected]
        bad = []
        for line in self.new_log_lines():
            if CRASH_LINE.search(line):
                self.crashed.append(line)
            if BAD_LINE.search(line) and \
                    not any(a.search(line) for a in allowed):
                bad.append(line)
        return bad

    def wait_log(self, regex, timeout=10.0):
        """Wait until error_log has a line matching regex; return it."""
        pat = re.compile(regex)
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.read_log().splitlines():
                if pat.search(line):
                    return line
            time.sleep(0.05)
        return None

    def wait_access_log(self, regex, timeout=10.0):
        """Wait until access_log has a line matching regex; return it."""
        pat = re.compile(regex)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.access_log):
                with open(self.access_log, errors="replace") as f:
                    for line in f:
                        if pat.search(line):
                            return line
            time.sleep(0.05)
        return None


# Servers alive now; the per-test log check looks at all of them.
LIVE = []


@pytest.fixture(scope="session")
def httpd_factory():
    """start(name, extra, mpm="event", expected=(), keep_dir=False,
    env=None, **generate_kwargs) -> a running HttpdServer (env: extra
    environment variables for httpd and its children).  Stop it with
    stop_server(); whatever is still running at the end of the session is
    stopped (and its log checked) then."""
    started = []

    def start(name, extra, mpm="event", expected=(), keep_dir=False, **kw):
        if not keep_dir:
            fresh_dir(os.path.join(TESTROOT, name))
        srv = HttpdServer(name, extra, mpm=mpm, expected=expected, **kw)
        srv.start()
        started.append(srv)
        LIVE.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        if srv in LIVE:
            LIVE.remove(srv)
            problems += srv.stop()
    if problems:
        pytest.fail("at httpd shutdown:\n" + "\n".join(problems))


def stop_server(srv, strict=False):
    """Stop a server started by httpd_factory; fail on log problems."""
    if srv in LIVE:
        LIVE.remove(srv)
    problems = srv.stop(strict)
    if problems:
        pytest.fail("httpd {} ({}): unexpected at shutdown:\n{}".format(
            srv.name, srv.mpm, "\n".join(problems)))


@pytest.fixture(autouse=True)
def _error_log_guard(request):
    """After each test: no unexpected bad lines in any live server's
    error_log."""
    yield
    expected = []
    for m in request.node.iter_markers("expect_log"):
        expected.extend(m.args)
    # A line written after this check is caught by the next one.
    problems = []
    for srv in list(LIVE):
        for line in srv.check_log(expected):
            problems.append("{} ({}): {}".format(srv.name, srv.mpm, line))
    if problems:
        pytest.fail("unexpected error_log lines:\n" + "\n".join(problems))


# --- the servers ---------------------------------------------------------

HTPASSWD_USER = ("alice", "s3cret pass")

# The main site: every endpoint the tests use.  @ROOT@ is the ServerRoot.
MAIN_SITE = LOAD_HANDLERS + r"""
<Location "/echo">
    WebSocketHandler echo
</Location>

# The same URL serves a normal page and upgrades.
<Location "/page.html">
    WebSocketHandler echo
    WebSocketPlainRequests Serve
</Location>

<Location "/big">
    WebSocketHandler echo
    WebSocketMaxMessageSize 32M
</Location>

<Location "/small">
    WebSocketHandler echo
    WebSocketMaxMessageSize 1K
</Location>

<Location "/smallframe">
    WebSocketHandler echo
    WebSocketMaxFrameSize 1K
</Location>

<Location "/fewfrags">
    WebSocketHandler echo
    WebSocketMaxFragments 4
</Location>

<Location "/fewpings">
    WebSocketHandler echo
    WebSocketMaxControlRate 50
</Location>

<Location "/test">
    WebSocketHandler test
    WebSocketHandlerOption greeting "hello there"
</Location>

<Location "/proto">
    WebSocketHandler test
    WebSocketProtocols chat v2
</Location>

<Location "/anyproto">
    WebSocketHandler test
    WebSocketProtocols special *
</Location>

<Location "/custom426">
    WebSocketHandler echo
    ErrorDocument 426 "our own words"
</Location>

<Location "/origins">
    WebSocketHandler echo
    WebSocketAllowedOrigins https://trusted.example http://other.example:8081
</Location>

<Location "/denied">
    WebSocketHandler echo
    Require all denied
</Location>

<Location "/private">
    WebSocketHandler test
    AuthType Basic
    AuthName "mod_websocket tests"
    AuthBasicProvider file
    AuthUserFile "@ROOT@/conf/htpasswd"
    Require valid-user
</Location>

# "Nested" locations: /nest/... inherits from /nest.
<Location "/nest">
    WebSocketHandler echo
    WebSocketMaxMessageSize 1K
</Location>
<Location "/nest/inner">
    WebSocketHandlerOption greeting inner
</Location>
<Location "/nest/bigger">
    WebSocketMaxMessageSize 4K
</Location>

<Location "/tnest">
    WebSocketHandler test
    WebSocketHandlerOption greeting outer
    WebSocketMaxMessageSize 1K
</Location>
<Location "/tnest/keep">
    WebSocketHandlerOption colour blue
</Location>
<Location "/tnest/override">
    WebSocketHandlerOption greeting inner
</Location>
"""


@pytest.fixture(scope="session")
def main_server(httpd_factory):
    """The main site on the event MPM; enough threads for 50+ concurrent
    WebSocket connections (one thread each)."""
    name = "main-event"
    conf_dir = os.path.join(TESTROOT, name, "conf")
    fresh_dir(os.path.join(TESTROOT, name))
    os.makedirs(conf_dir)
    subprocess.run(["htpasswd", "-bc", os.path.join(conf_dir, "htpasswd"),
                    HTPASSWD_USER[0], HTPASSWD_USER[1]], check=True,
                   capture_output=True)
    srv = httpd_factory(name, MAIN_SITE, mpm="event", threads=64, servers=3,
                        keep_dir=True)
    with open(os.path.join(srv.htdocs, "page.html"), "w") as f:
        f.write("<!doctype html><title>page</title><p>plain page</p>\n")
    return srv


# The core site, run on every MPM.
CORE_SITE = LOAD_HANDLERS + r"""
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/big">
    WebSocketHandler echo
    WebSocketMaxMessageSize 32M
</Location>
<Location "/test">
    WebSocketHandler test
</Location>
<Location "/fewconns">
    WebSocketHandler echo
    WebSocketMaxConnectionsPerAddress 3
</Location>
"""


@pytest.fixture
def server(main_server):
    """The main site (event MPM), checked healthy before each test."""
    main_server.assert_healthy()
    return main_server


def start_variant(httpd_factory, name, site, variant, **kw):
    """Start site under a VARIANTS entry; the server's .variant says which."""
    mpm = variant.split("-")[0]
    if variant.endswith("-thread"):
        site = "WebSocketIOMode Thread\n" + site
    srv = httpd_factory(name, site, mpm=mpm, **kw)
    srv.variant = variant
    return srv


@pytest.fixture(scope="module", params=VARIANTS)
def module_mpm_server(request, httpd_factory):
    """A site with /echo, /big, /test and /fewconns on each MPM in turn (module scope:
    one httpd per MPM per test module)."""
    name = "core-{}-{}".format(request.module.__name__.split(".")[-1],
                               request.param)
    srv = start_variant(httpd_factory, name, CORE_SITE, request.param)
    yield srv
    stop_server(srv)


@pytest.fixture
def mpm_server(module_mpm_server):
    """The core site on each MPM, checked healthy before each test."""
    module_mpm_server.assert_healthy()
    return module_mpm_server
