#!/usr/bin/python3
"""mod_websocket's benchmark (`make bench`): httpd + mod_websocket against
Node's `ws`, libwebsockets and nginx + Nchan, measured by tools/wsbench.c.

In one run it
  * starts httpd (mpm_event, ThreadsPerChild 50, MaxRequestWorkers 50 -- one
    child, so that the echo and idle rows compare with earlier runs --
    AsyncRequestWorkerFactor 400, Timeout 60, LogLevel warn) with /echo and,
    if build/handlers/broadcast.so exists, /broadcast, on a free loopback
    port, tools/node-echo.js on another and build/tools/lws-echo
    (tools/lws-echo.c on Debian's libwebsockets, which `make bench` builds,
    installing libwebsockets-dev when missing) on a third;
  * pins the servers to CPU 0 and the client to CPU 1 (taskset, when there
    are two CPUs or more);
  * runs 3 rounds of echo (100 x 1 x 32 B, 100 x 8 x 32 B, 1000 x 1 x 32 B
    text; connections x messages in flight x size) against the three
    servers, the order rotating from round to round, with each server's
    CPU time per message (its processes' user + system time, wsbench
    --pid); in each round also 100 x 1 x 1 KB JSON-like text with the client
    offering permessage-deflate as browsers do (wsbench --json --deflate),
    against httpd's /echo (compression on, the default) and /echo-plain
    (WebSocketCompression Off: the same offer declined), and Node's ws with
    perMessageDeflate on (a second node-echo.js, --deflate) and off, with
    the server's CPU use and the bytes on the wire;
  * holds 10,000 idle connections (source addresses 127.0.0.1-4) against
    httpd, then against Node, for the server's RSS per connection and
    thread count;
  * broadcasts to 1,000 receivers on that one-child httpd (the row earlier
    runs had), then stops both servers;
  * holds 10,000 idle connections that each sent one 1 KB JSON-like
    message and got it back, on a freshly started httpd (same config) with
    compression on (/echo, permessage-deflate agreed: the server holds each
    connection's inflater) and then on another with it off (/echo-plain);
  * starts the broadcast servers: httpd with two children (the demo's
    event settings), tools/node-broadcast.js (one process) and nginx +
    Nchan (Debian's packages, installed if missing without starting
    Debian's nginx service; two workers), and broadcasts, one publisher to
    1,000 and 10,000 receivers at 10 msg/s and to 1,000 at 100 msg/s (32 B
    text, 10 s), on /broadcast?channel=bench, to each in turn;
  * prints one markdown table (medians of the rounds) and the exact
    commands and settings used.

--only SECTION[,SECTION...] runs only those parts (echo, compression,
idle, broadcast, several; the default is all of them), e.g. `make bench
BENCH_ARGS="--only echo"` for the echo rows alone.

Every server is stopped at the end, also on errors and interrupts (SIGTERM
to the PIDs this script started, nothing else).  Every figure printed comes
from the measurements of this run.
"""
import argparse
import inspect
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import serverroot  # noqa: E402

BUILD = os.path.join(TOP, "build")
WS_MODULE = os.path.join(TOP, "tests", "node", "node_modules", "ws")

ROUNDS = 3
ECHO_SECONDS = 10
ECHO_WARMUP = 1
# (connections, messages in flight per connection, message bytes), text.
ECHO_CASES = [(100, 1, 32), (100, 8, 32), (1000, 1, 32)]
LWS_PACKAGE = "libwebsockets-dev"
# The parts of a run (--only); the default is all of them.
SECTIONS = ["echo", "compression", "idle", "broadcast", "several", "demo"]
IDLE_CONNS = 10000
IDLE_SECONDS = 10
IDLE_SRC = "127.0.0.1-127.0.0.4"
# Idle on the demo's configuration (`make start`'s, serverroot.demo_sizing):
# DEMO_IDLE_CONNS WebSockets from DEMO_IDLE_CLIENTS wsbench processes (a
# process may hold fewer descriptors than that; each binds its own loopback
# addresses 127.0.N.1-8), held until every one is open, then pages are
# asked for DEMO_PAGE_PROBES times.
DEMO_IDLE_CONNS = 50000
DEMO_IDLE_CLIENTS = 3
DEMO_PAGE_PROBES = 50
# Compression (permessage-deflate, RFC 7692): (connections, messages in
# flight, bytes) of JSON-like text (wsbench --json), the client offering
# "permessage-deflate; client_max_window_bits" (wsbench --deflate, as
# browsers offer), echoed by each target of Z_TARGETS in every echo round.
Z_CASES = [(100, 1, 1024)]
# (row name, server, path): mod_websocket on /echo (WebSocketCompression On,
# the default) and /echo-plain (Off: the same offer is declined); Node's ws
# with perMessageDeflate on (node-echo.js --deflate, set like mod_websocket's
# defaults) and off (the plain node-echo.js).
Z_TARGETS = [("mod_websocket, compression on", "httpd", "/echo"),
             ("mod_websocket, compression off", "httpd", "/echo-plain"),
             ("node ws, compression on", "node-deflate", "/echo"),
             ("node ws, compression off", "node", "/echo")]
# Idle with compression: IDLE_CONNS connections that each sent one Z_IDLE_SIZE
# B JSON-like message (wsbench --idle-msg --json --deflate), on a fresh httpd
# each: (row name, path).
Z_IDLE_SIZE = 1024
Z_IDLE_TARGETS = [("mod_websocket, compression on", "/echo"),
                  ("mod_websocket, compression off", "/echo-plain")]
BCAST_RECEIVERS = 1000
BCAST_RATE = 10
BCAST_SIZE = 32
BCAST_SECONDS = 10
# One publisher to many receivers, each on every broadcast server: (receivers,
# messages/s); BCAST_SIZE B text for BCAST_SECONDS, sent once every receiver
# is connected.  After the last send the receivers count what arrives until
# each has every message, or nothing came for BCAST_QUIET s (the rest is
# lost), or BCAST_GRACE s have passed: a server that runs seconds behind
# delivers late, and its late messages are not counted as lost.
BCAST_CASES = [(1000, 10), (10000, 10), (1000, 100)]
BCAST_PATH = "/broadcast?channel=bench"
BCAST_GRACE = 30
BCAST_QUIET = 2
BCAST_TARGETS = ["mod_websocket", "node ws", "nginx + nchan"]
# Several servers: 1 publisher -> SEVERAL_RECEIVERS receivers split over two
# httpd servers sharing channels through Redis (WebSocketChannels redis://),
# against the embedded default (one server, its two children), rounds
# alternating; the sender is on the first server.
SEVERAL_RECEIVERS = 1000
SEVERAL_RATE = 10
SEVERAL_ROUNDS = 3
SEVERAL_KEY = "broadcast across servers 1 to {} x {}/s".format(
    SEVERAL_RECEIVERS, SEVERAL_RATE)
SEVERAL_TARGETS = ["mod_websocket, embedded (one server, 2 children)",
                   "mod_websocket, Redis (two servers x 2 children)"]
NGINX_PACKAGES = ["nginx-light", "libnginx-mod-nchan"]
NCHAN_MODULE = "ngx_nchan_module.so"
NCHAN_MODULE_DIRS = ["/usr/lib/nginx/modules"]
NCHAN_LOAD_CONF = "/etc/nginx/modules-enabled/50-mod-nchan.conf"
POLICY_RC_D = "/usr/sbin/policy-rc.d"

HTTPD_EXTRA = """\
AsyncRequestWorkerFactor 400
WebSocketLoadHandler echo "{handlers}/echo.so"
<Location /echo>
    WebSocketHandler echo
</Location>
<Location /echo-plain>
    WebSocketHandler echo
    WebSocketCompression Off
</Location>
"""
HTTPD_BCAST = """\
WebSocketLoadHandler broadcast "{handlers}/broadcast.so"
<Location /broadcast>
    WebSocketHandler broadcast
</Location>
"""
# The broadcast httpd runs like the demo, with two children.  serverroot.py's
# event settings (its start_servers=2, the demo's) are used when they start
# two or more; with a serverroot.py that cannot, this block replaces them.
# MaxRequestWorkers 50 keeps it at two children (the spare-thread settings
# would otherwise start more during the 10,000 handshakes, and the split
# between children would vary from run to run).
HTTPD_BCAST_MPM = """\
<IfModule mpm_event_module>
    StartServers             2
    ServerLimit              4
    ThreadsPerChild          25
    ThreadLimit              25
    MaxRequestWorkers        50
    MinSpareThreads          50
    MaxSpareThreads          100
    MaxConnectionsPerChild   0
    AsyncRequestWorkerFactor 400
</IfModule>
"""

# nginx + Nchan, everything under build/bench/nginx.  nchan_pubsub websocket:
# a WebSocket client of the location subscribes to the channel and what it
# sends is published to it (the sender, a subscriber too, gets it back).
NGINX_CONF = """\
# Generated by tools/bench.py -- do not edit; rerun it instead.
load_module "{module}";
daemon off;
master_process on;
worker_processes 2;
{user}pid "{d}/run/nginx.pid";
lock_file "{d}/run/nginx.lock";
error_log "{d}/logs/error.log" warn;
worker_rlimit_nofile {nofile};

events {{
    worker_connections {conns};
}}

http {{
    access_log off;
    client_body_temp_path "{d}/temp/body";
    proxy_temp_path "{d}/temp/proxy";
    fastcgi_temp_path "{d}/temp/fastcgi";
    uwsgi_temp_path "{d}/temp/uwsgi";
    scgi_temp_path "{d}/temp/scgi";

    server {{
        listen 127.0.0.1:{port};
        location = /broadcast {{
            nchan_pubsub websocket;
            nchan_channel_id $arg_channel;
            # Nchan's default buffer; a new subscriber gets none of it
            # (the default, oldest, would replay an earlier run's
            # messages to the next run's receivers).
            nchan_message_buffer_length 10;
            nchan_subscriber_first_message newest;
        }}
    }}
}}
"""


class Stop(Exception):
    """A signal asked us to stop (the servers are stopped on the way out)."""


def on_signal(signum, frame):
    raise Stop("signal {}".format(signum))


def free_port(taken=()):
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server:
    """A server process we started, and only that one, to stop at the end."""

    def __init__(self, name, argv, log):
        self.name = name
        self.argv = argv
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30.0):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print("bench: {} (pid {}) ignored SIGTERM for {:.0f}s; "
                      "SIGKILL".format(self.name, self.pid, timeout))
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.log.close()


def cpu_busy_s():
    """Seconds of CPU time used so far: the whole machine (/proc/stat) and
    this script with its waited-for children (the servers, after they are
    stopped, and every wsbench run)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    machine = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / \
        os.sysconf("SC_CLK_TCK")
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        ours += ru.ru_utime + ru.ru_stime
    return machine, ours


def parse_result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            res = {}
            for kv in line[len("RESULT "):].split():
                k, _, v = kv.partition("=")
                try:
                    res[k] = float(v) if re.match(r"^-?[0-9.]+$", v) else v
                except ValueError:
                    res[k] = v
            return res
    return None


class Snapshot:
    """Copies of build/modules/mod_websocket.so and build/handlers/*.so,
    taken at the start: the servers load these, so that a rebuild of
    build/ during the run (the module is overwritten in place) neither
    crashes a running httpd nor mixes two versions in one run."""

    def __init__(self, d):
        self.dir = d
        self.handlers = os.path.join(d, "handlers")
        self.module = os.path.join(d, "mod_websocket.so")
        self.sources = []       # (build/ path, its mtime) of each copy
        os.makedirs(self.handlers, exist_ok=True)
        for old in os.listdir(self.handlers):
            os.remove(os.path.join(self.handlers, old))
        files = [(os.path.join(BUILD, "modules", "mod_websocket.so"),
                  self.module)]
        hdir = os.path.join(BUILD, "handlers")
        for name in sorted(os.listdir(hdir)) if os.path.isdir(hdir) else []:
            if name.endswith(".so"):
                files.append((os.path.join(hdir, name),
                              os.path.join(self.handlers, name)))
        for src, dst in files:
            if not os.path.exists(src):
                continue
            copied = False
            for _ in range(10):  # not while `make` is writing it
                st = os.stat(src)
                if time.time() - st.st_mtime < 2:
                    time.sleep(2)
                    continue
                shutil.copy2(src, dst)
                st2 = os.stat(src)
                copied = (st2.st_mtime, st2.st_size) == \
                    (st.st_mtime, st.st_size)
                if copied:
                    break
            if not copied:
                shutil.copy2(src, dst)
            self.sources.append((src, os.stat(dst).st_mtime))
        os.chmod(self.handlers, 0o755)
        os.chmod(d, 0o755)

    def describe(self):
        return "; ".join("{} (built {})".format(
            os.path.relpath(src, TOP), time.strftime(
                "%Y-%m-%d %H:%M:%S", time.localtime(mtime)))
            for src, mtime in self.sources)


class Bench:
    def __init__(self, args):
        self.args = args
        self.client_pin = []
        self.server_pin = []
        self.commands = {}      # scenario -> the exact command (first round)
        self.results = {}       # (scenario, target) -> [RESULT dicts]
        self.failures = []      # text of runs that failed
        self.notes = []         # wsbench "note:" lines, with their run
        self.logdir = os.path.join(args.dir, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.nrun = 0
        self.snap = None
        self.zport = None       # node-echo.js --deflate's port
        self.znode = None       # and its Server
        self.zidle_argv = None  # how the idle-with-compression httpd ran
        self.lws = None         # lws-echo's Server
        self.lws_port = None
        self.lws_note = ""      # why there are no libwebsockets rows

    def wsbench(self, key, target, argv, timeout):
        cmd = self.client_pin + [self.args.wsbench] + argv
        self.commands.setdefault((key, target), cmd)
        self.nrun += 1
        label = "{} / {}".format(key, target)
        t0 = time.time()
        try:
            cp = subprocess.run(cmd, capture_output=True, text=True,
                                timeout=timeout)
            out, err, rc = cp.stdout, cp.stderr, cp.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else \
                (e.stdout or "")
            err, rc = "timed out after {}s".format(timeout), -1
        with open(os.path.join(self.logdir, "run{:02d}.txt".format(self.nrun)),
                  "w") as f:
            f.write("$ {}\n{}{}".format(shlex.join(cmd), out, err))
        res = parse_result(out)
        for line in out.splitlines():
            if line.startswith("note:"):
                self.notes.append("{}: {}".format(label, line[5:].strip()))
                print("    " + line)
        if err.strip():
            for line in err.strip().splitlines():
                print("    stderr: " + line)
        if rc != 0 or not res or res.get("ok") != 1:
            self.failures.append("{}: exit {} ({})".format(
                label, rc, (err.strip() or "no RESULT").splitlines()[-1]))
            print("  {} {:<30} FAILED (exit {}; log {})".format(
                time.strftime("%H:%M:%S", time.localtime(t0)), label, rc, os.path.join(self.logdir,
                                        "run{:02d}.txt".format(self.nrun))))
            return None
        self.results.setdefault((key, target), []).append(res)
        summary = ""
        if res["mode"] == "echo":
            summary = ("{:>9.0f} msgs/s  p50 {:.3f}  p99 {:.3f}  p99.9 {:.3f}"
                       "  max {:.3f} ms  errors {:.0f}").format(
                res["msgs_per_s"], res["p50_ms"], res["p99_ms"],
                res["p999_ms"], res["max_ms"], res["errors"])
            if "deflate" in res:
                summary += ("  cpu server {:.0f}% ({:.1f} us/msg) client "
                            "{:.0f}%  deflate {:.0f}/{:.0f}  wire/payload "
                            "to server {:.0f}% back {:.0f}%").format(
                    res["server_cpu_pct"], res["server_cpu_us_per_msg"],
                    res["client_cpu_pct"], res["pmd_conns"],
                    res["connected"], 100 * res["tx_ratio"],
                    100 * res["rx_ratio"])
        elif res["mode"] == "idle":
            summary = ("connected {:.0f} failed {:.0f} still_open {:.0f}  "
                       "RSS {:+.2f} KB/conn  threads {:.0f}").format(
                res["connected"], res["failed"], res["still_open"],
                res.get("rss_per_conn_kb", 0), res.get("threads", 0))
            if "deflate" in res:
                summary += "  echoed {:.0f}  deflate {:.0f}/{:.0f}".format(
                    res["idle_echoed"], res["pmd_conns"], res["connected"])
        elif res["mode"] == "broadcast":
            summary = ("sent {:.0f}  received {:.0f}/{:.0f}  reached {:.0f}  "
                       "p50 {:.3f}  p99 {:.3f}  max {:.3f} ms  errors {:.0f}"
                       "  receivers per server process {}  cpu server "
                       "{:.0f}% client {:.0f}%  last delivery +{:.0f} ms ({})"
                       ).format(res["sent"], res["received"], res["expected"],
                                res["reached"], res["p50_ms"], res["p99_ms"],
                                res["max_ms"], res["errors"],
                                res.get("holder_split", "?"),
                                res.get("server_cpu_pct", -1),
                                res.get("client_cpu_pct", -1),
                                res.get("drain_ms", -1),
                                res.get("wait_end", "?"))
        print("  {} {:<30} {}  ({:.1f}s)".format(
            time.strftime("%H:%M:%S", time.localtime(t0)), label, summary,
            time.time() - t0))
        return res


def version_of(argv):
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (cp.stdout or cp.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def fmt(v, digits=3):
    return "{:.{}f}".format(v, digits)


def dpkg_version(pkg):
    try:
        cp = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                            capture_output=True, text=True, timeout=10)
        return cp.stdout.strip() if cp.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def children_of(pid):
    """PIDs whose parent is pid (/proc)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(name)) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(name))
    return sorted(kids)


def procs_desc(pids):
    """"pid (N threads), ..." for pids."""
    out = []
    for pid in pids:
        try:
            n = len(os.listdir("/proc/{}/task".format(pid)))
        except OSError:
            n = 0
        out.append("{} ({} thread{})".format(pid, n, "" if n == 1 else "s"))
    return ", ".join(out) or "-"


def find_nginx_nchan():
    """(nginx binary, Nchan module path), each None when missing.  The
    module is where Debian puts it: /usr/lib/nginx/modules, or wherever
    the load_module line of modules-enabled/50-mod-nchan.conf points
    (relative to nginx's prefix)."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    candidates = [os.path.join(d, NCHAN_MODULE) for d in NCHAN_MODULE_DIRS]
    try:
        with open(NCHAN_LOAD_CONF) as f:
            m = re.search(r"^\s*load_module\s+\"?([^\";\s]+)", f.read(), re.M)
        if m:
            path = m.group(1)
            if not os.path.isabs(path) and nginx:
                prefix = "/usr/share/nginx"
                cp = subprocess.run([nginx, "-V"], capture_output=True,
                                    text=True, timeout=10)
                pm = re.search(r"--prefix=(\S+)", cp.stderr + cp.stdout)
                if pm:
                    prefix = pm.group(1)
                path = os.path.join(prefix, path)
            candidates.append(os.path.realpath(path))
    except (OSError, subprocess.SubprocessError):
        pass
    module = next((c for c in candidates if os.path.isfile(c)), None)
    return nginx, module


def install_nginx_nchan():
    """apt-get install nginx-light libnginx-mod-nchan without letting the
    packages start Debian's nginx service: a policy-rc.d that says 101
    ("action forbidden") while apt runs, when the machine has none (one it
    has is left as it is).  Returns a note on what was done."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not installed: needs root and apt-get"
    print("bench: installing {} (apt-get; Debian's nginx service is not "
          "started)".format(" ".join(NGINX_PACKAGES)))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ours = False
    try:
        if not os.path.exists(POLICY_RC_D):
            with open(POLICY_RC_D, "w") as f:
                f.write("#!/bin/sh\n# Written by mod_websocket's tools/"
                        "bench.py during apt-get install; removed after.\n"
                        "exit 101\n")
            os.chmod(POLICY_RC_D, 0o755)
            ours = True
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + \
            NGINX_PACKAGES
        cp = subprocess.run(cmd, env=env, capture_output=True, text=True,
                            timeout=600)
        if cp.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env,
                           capture_output=True, timeout=600)
            cp = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                timeout=600)
        if cp.returncode != 0:
            return "apt-get install failed: " + \
                (cp.stderr.strip().splitlines() or ["?"])[-1]
        return "installed by this run: `{}`{}".format(
            shlex.join(cmd), " (with a temporary {} exiting 101)".format(
                POLICY_RC_D) if ours else " ({} was already there)".format(
                POLICY_RC_D))
    except (OSError, subprocess.SubprocessError) as e:
        return "apt-get install failed: {}".format(e)
    finally:
        if ours:
            try:
                os.remove(POLICY_RC_D)
            except OSError:
                pass


def nginx_conf(d, port, module, nofile):
    """Write d/conf/nginx.conf for nginx + Nchan; returns its path."""
    for sub in ("conf", "logs", "run", "temp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    user = ""
    if os.geteuid() == 0:
        # Workers run unprivileged, as Debian's do (user root is refused by
        # some builds).
        u, g = serverroot.run_user()
        user = "user {} {};\n".format(u, g)
    conf = NGINX_CONF.format(module=module, user=user, d=d, port=port,
                             nofile=nofile, conns=max(1024, nofile - 100))
    path = os.path.join(d, "conf", "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(d, 0o755)
    return path


def httpd_bcast_conf(d, port, snap):
    """The broadcast httpd's config: serverroot.py's, with the demo's two
    children (its own event settings when they start two or more, else
    HTTPD_BCAST_MPM).  Returns (path, where the event settings came
    from)."""
    extra = HTTPD_BCAST.format(handlers=snap.handlers)
    kw = {}
    if "start_servers" in inspect.signature(serverroot.generate).parameters:
        kw["start_servers"] = 2         # as the demo (serverroot.py --demo)
    conf = serverroot.generate(d, port, mpm="event", extra=extra,
                               listen_host="127.0.0.1", threads=25,
                               servers=2, log_level="warn",
                               module=snap.module, **kw)
    with open(conf) as f:
        text = f.read()
    m = re.search(r"^\s*StartServers\s+(\d+)", text, re.M)
    if m and int(m.group(1)) >= 2:
        return conf, "serverroot.py's demo"
    text, n = re.subn(r"<IfModule mpm_event_module>.*?</IfModule>\n",
                      lambda _: HTTPD_BCAST_MPM, text, count=1, flags=re.S)
    if n != 1:
        raise RuntimeError("no mpm_event block in " + conf)
    with open(conf, "w") as f:
        f.write(text)
    return conf, "bench.py's (serverroot.py's start {} child{})".format(
        m.group(1) if m else "?", "" if m and m.group(1) == "1" else "ren")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--httpd", default="/usr/sbin/apache2")
    ap.add_argument("--wsbench", default=os.path.join(BUILD, "tools",
                                                      "wsbench"))
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--lws-echo", default=os.path.join(BUILD, "tools",
                                                       "lws-echo"),
                    help="the libwebsockets echo server (make bench builds "
                         "it; when it is missing the libwebsockets rows "
                         "are skipped, and <this>.log says why)")
    ap.add_argument("--only", metavar="SECTION[,SECTION...]",
                    default=",".join(SECTIONS),
                    help="run only these parts: {} (default: all)".format(
                        ", ".join(SECTIONS)))
    ap.add_argument("--dir", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--quick", action="store_true",
                    help="a short smoke run (1 round, 2 s, 2000 idle), to "
                         "check the setup; not for figures")
    a = ap.parse_args()
    a.only = {x.strip() for x in a.only.split(",") if x.strip()}
    if not a.only or a.only - set(SECTIONS):
        ap.error("--only: one or more of {} (got {})".format(
            ", ".join(SECTIONS), ", ".join(sorted(a.only)) or "nothing"))
    if a.quick:
        global ROUNDS, ECHO_SECONDS, IDLE_CONNS, IDLE_SECONDS, BCAST_SECONDS
        global BCAST_CASES
        ROUNDS, ECHO_SECONDS, IDLE_CONNS, IDLE_SECONDS, BCAST_SECONDS = \
            1, 2, 2000, 2, 2
        BCAST_CASES = [(1000, 10), (2000, 10), (1000, 100)]
    a.dir = os.path.abspath(a.dir)
    a.wsbench = os.path.abspath(a.wsbench)
    a.lws_echo = os.path.abspath(a.lws_echo)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    nofile = raise_nofile()
    b = Bench(a)
    started = time.time()
    load_start = open("/proc/loadavg").read().split()[:3]
    cpu_start = cpu_busy_s()
    if not os.access(a.wsbench, os.X_OK):
        sys.exit("bench: {} is missing (make bench builds it)".format(
            a.wsbench))
    if nofile < IDLE_CONNS + 200:
        print("bench: warning: open-files limit {} is below {}; the idle "
              "test will lose connections".format(nofile, IDLE_CONNS + 200))

    taskset = shutil.which("taskset")
    ncpu = os.cpu_count() or 1
    if taskset and ncpu >= 2:
        b.server_pin = [taskset, "-c", "0"]
        b.client_pin = [taskset, "-c", "1"]
        pinning = "servers on CPU 0, client on CPU 1 (taskset)"
    else:
        pinning = "none ({})".format("taskset missing" if not taskset
                                     else "only one CPU")

    snap = b.snap = Snapshot(os.path.join(a.dir, "modules"))
    have_bcast = os.path.exists(os.path.join(snap.handlers, "broadcast.so"))
    have_node = os.path.isdir(WS_MODULE)

    hport = free_port()
    nport = free_port({hport})
    extra = HTTPD_EXTRA.format(handlers=snap.handlers)
    if have_bcast:
        extra += HTTPD_BCAST.format(handlers=snap.handlers)
    conf = serverroot.generate(os.path.join(a.dir, "httpd"), hport,
                               mpm="event", extra=extra,
                               listen_host="127.0.0.1", threads=50,
                               servers=1, log_level="warn",
                               module=snap.module)
    errlog = os.path.join(a.dir, "httpd", "logs", "error_log")
    for old in (errlog, os.path.join(a.dir, "httpd", "logs", "access_log")):
        if os.path.exists(old):
            os.remove(old)
    check = subprocess.run([a.httpd, "-t", "-f", conf], capture_output=True,
                           text=True)
    if check.returncode != 0:
        sys.exit("bench: httpd -t failed:\n" + check.stderr)

    servers = []
    httpd = node = None
    bc = BroadcastSetup(a.dir)
    if "broadcast" in a.only:
        bc.nginx, bc.nchan = find_nginx_nchan()
        if not (bc.nginx and bc.nchan):
            bc.install_note = install_nginx_nchan()
            bc.nginx, bc.nchan = find_nginx_nchan()
            print("bench: nginx + Nchan: " + bc.install_note)
    if "echo" in a.only and not os.access(a.lws_echo, os.X_OK):
        b.lws_note = lws_missing(a.lws_echo)
        print("bench: libwebsockets rows SKIPPED -- " + b.lws_note)
    try:
        httpd_argv = b.server_pin + [a.httpd, "-f", conf, "-DFOREGROUND"]
        httpd = Server("httpd", httpd_argv,
                       os.path.join(a.dir, "httpd.out"))
        servers.append(httpd)
        if not serverroot.wait_port(hport, proc=httpd.proc):
            raise RuntimeError("httpd did not start; see {} and {}".format(
                errlog, httpd.log_path))
        run_echo = "echo" in a.only
        run_z = "compression" in a.only
        if have_node and (run_echo or run_z or "idle" in a.only):
            node = start_node(b, a, "node-echo.js", nport,
                              os.path.join(a.dir, "node.out"))
            servers.append(node)
        if have_node and run_z:
            b.zport = free_port({hport, nport})
            b.znode = start_node(b, a, "node-echo.js", b.zport,
                                 os.path.join(a.dir, "node-deflate.out"),
                                 ["--deflate"])
            servers.append(b.znode)
        if not have_node:
            print("bench: NOTE: {} is missing (npm install --prefix "
                  "tests/node ws@8); Node runs skipped".format(WS_MODULE))
        if run_echo and not b.lws_note:
            b.lws_port = free_port({hport, nport, b.zport})
            b.lws = start_lws(b, a, b.lws_port)
            if b.lws:
                servers.append(b.lws)

        targets = [("mod_websocket", hport, httpd)]
        if node:
            targets.append(("node ws", nport, node))
        echo_targets = targets + ([("libwebsockets", b.lws_port, b.lws)]
                                  if b.lws else [])
        print("bench: httpd pid {} on 127.0.0.1:{}{}{}; {}".format(
            httpd.pid, hport,
            "; node pid {} on 127.0.0.1:{}".format(node.pid, nport)
            if node else "",
            "; lws-echo pid {} on 127.0.0.1:{}".format(b.lws.pid, b.lws_port)
            if b.lws else "", "pinning: " + pinning))

        # -- echo, 3 rounds, the order rotating ----------------------------
        rounds = ROUNDS if run_echo or run_z else 0
        for rnd in range(1, rounds + 1):
            print("echo round {}/{}".format(rnd, ROUNDS))
            # Each server starts one round (with two servers: alternating).
            first = (rnd - 1) % len(echo_targets)
            order = echo_targets[first:] + echo_targets[:first]
            for c, k, s in ECHO_CASES if run_echo else ():
                key = "echo {}x{}x{}".format(c, k, s)
                for name, port, srv in order:
                    if not srv.alive():
                        b.failures.append("{} / {}: server is gone".format(
                            key, name))
                        continue
                    b.wsbench(key, name, [
                        "echo", "--host", "127.0.0.1", "--port", str(port),
                        "--path", "/echo", "-c", str(c), "-k", str(k),
                        "-s", str(s), "--text", "-d", str(ECHO_SECONDS),
                        "-w", str(ECHO_WARMUP), "--pid", str(srv.pid)],
                        timeout=ECHO_SECONDS + ECHO_WARMUP + 90)
            if not run_z:
                continue
            zservers = {"httpd": (hport, httpd), "node": (nport, node),
                        "node-deflate": (b.zport, b.znode)}
            ztargets = Z_TARGETS if rnd % 2 else list(reversed(Z_TARGETS))
            for c, k, s in Z_CASES:
                key = zkey(c, k, s)
                for name, which, path in ztargets:
                    port, srv = zservers[which]
                    if srv is None:
                        continue
                    if not srv.alive():
                        b.failures.append("{} / {}: server is gone".format(
                            key, name))
                        continue
                    b.wsbench(key, name, [
                        "echo", "--host", "127.0.0.1", "--port", str(port),
                        "--path", path, "-c", str(c), "-k", str(k),
                        "-s", str(s), "--json", "--deflate",
                        "-d", str(ECHO_SECONDS), "-w", str(ECHO_WARMUP),
                        "--pid", str(srv.pid)],
                        timeout=ECHO_SECONDS + ECHO_WARMUP + 90)

        # -- idle: 10,000 connections held --------------------------------
        if "idle" in a.only:
            idle_round(b, targets)

        # -- broadcast to 1,000 receivers (this one-child httpd) -----------
        if "broadcast" in a.only:
            bcast_one_child(b, httpd, hport, have_bcast)

        # -- idle with compression: a fresh httpd for each row --------------
        for srv in servers:
            srv.stop()
        if run_z:
            zidle(b, a, conf, hport, errlog, servers)

        # -- broadcast: the three servers side by side ---------------------
        for srv in servers:
            srv.stop()
        if "broadcast" in a.only:
            bcast_round(b, a, bc, servers, nofile, snap)
        # -- several servers: Redis against the embedded default ----------
        if "several" in a.only and have_bcast:
            for srv in servers:
                srv.stop()
            several_servers(b, a, snap, servers, bc)
        # -- idle on the demo: 50,000 WebSockets and pages -----------------
        if "demo" in a.only:
            for srv in servers:
                srv.stop()
            demo_idle(b, a, snap, servers)
    except Stop as e:
        print("bench: interrupted ({}); stopping the servers".format(e))
        b.failures.append("interrupted")
    except Exception as e:  # report, stop the servers, fail below
        print("bench: ERROR: {}".format(e))
        b.failures.append(str(e))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for srv in servers:
            srv.stop()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    cpu_end = cpu_busy_s()
    others = (cpu_end[0] - cpu_start[0]) - (cpu_end[1] - cpu_start[1])
    report(b, a, conf, extra, hport, nport, httpd, node, pinning, nofile,
           have_bcast, errlog, started, load_start, others, bc)
    return 1 if b.failures else 0


class BroadcastSetup:
    """The broadcast servers: what was found, started and configured."""

    def __init__(self, d):
        self.dir = d
        self.targets = {}       # name -> (port, Server), BCAST_TARGETS order
        self.skipped = {}       # name -> why it was not run
        self.nginx = self.nchan = None
        self.install_note = ""
        self.httpd_conf = self.httpd_mpm_from = None
        self.httpd_children = "-"   # processes under the master, at start
        self.nginx_conf = None
        self.nginx_workers = []
        self.nginx_workers_desc = "-"
        self.errlogs = {}       # name -> its log file
        self.handlers = None    # the handlers' directory
        self.several_note = ""  # why the several-servers rows did not run
        self.several_redis = None   # (redis-server, port, Server)
        self.several_ports = {}     # a, b, embedded -> (port, Server, conf)


def zkey(c, k, s):
    return "echo json {}x{}x{} deflate".format(c, k, s)


def zidle(b, a, conf, hport, errlog, servers):
    """The idle rows with compression: for each of Z_IDLE_TARGETS a fresh
    httpd (the echo httpd's config and port) holding IDLE_CONNS connections
    that each sent one JSON-like message (offering permessage-deflate) and
    got it back; stopped after."""
    print("idle {} connections, one {} B message each, compression on/off "
          "(a fresh httpd each)".format(IDLE_CONNS, Z_IDLE_SIZE))
    for name, path in Z_IDLE_TARGETS:
        srv = Server("httpd (idle, {})".format(name), b.server_pin + [
            a.httpd, "-f", conf, "-DFOREGROUND"],
            os.path.join(a.dir, "httpd-zidle.out"))
        servers.append(srv)
        if not serverroot.wait_port(hport, proc=srv.proc):
            b.failures.append("idle / {}: httpd did not start; see {}".format(
                name, errlog))
            srv.stop()
            continue
        time.sleep(1)           # the child starts its threads
        b.zidle_argv = srv.argv
        b.wsbench("idle json deflate", name, [
            "idle", "--host", "127.0.0.1", "--port", str(hport),
            "--path", path, "-c", str(IDLE_CONNS), "-d", str(IDLE_SECONDS),
            "--src", IDLE_SRC, "--idle-msg", "-s", str(Z_IDLE_SIZE),
            "--json", "--deflate", "--pid", str(srv.pid)],
            timeout=IDLE_SECONDS + 150)
        srv.stop()


def wait_listening(srv, port, timeout=15.0):
    """Wait (at most timeout s) until srv printed "listening" and port
    answers; True if it did and is still running."""
    deadline = time.time() + timeout
    while time.time() < deadline and srv.alive():
        with open(srv.log_path) as f:
            if "listening" in f.read():
                break
        time.sleep(0.05)
    return srv.alive() and serverroot.wait_port(port, proc=srv.proc)


def start_node(b, a, script, port, log, extra=()):
    """Start tools/<script> on port (extra: more arguments); wait for its
    "listening"."""
    argv = b.server_pin + [a.node, os.path.join(TOOLS, script), str(port)] \
        + list(extra)
    node = Server("node", argv, log)
    if not wait_listening(node, port):
        node.stop()
        raise RuntimeError("{} did not start; see {}".format(
            script, node.log_path))
    return node


def lws_missing(path):
    """Why the libwebsockets echo server is not there: the first errors
    and the last line of the log `make bench` left beside it (path.log)
    when it could not build it."""
    why = "{} is missing".format(os.path.relpath(path, TOP))
    try:
        with open(path + ".log") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return why + " (`make bench` builds it)"
    errors = [ln for ln in lines if re.search(
        r"\berror\b|fatal|No package|not found|E: |denied", ln, re.I)]
    shown = (errors or lines or ["empty log"])
    shown = shown[:2] + shown[-1:] if len(shown) > 3 else shown
    return "{}: the build failed ({}: {})".format(
        why, os.path.relpath(path + ".log", TOP), " | ".join(shown))


def lws_build_note(path):
    """How `make bench` came by libwebsockets, from its log (path.log)."""
    try:
        with open(path + ".log") as f:
            if "installing " + LWS_PACKAGE in f.read():
                return "installed by this run's `make bench`: apt-get " \
                    "install --no-install-recommends " + LWS_PACKAGE
    except OSError:
        pass
    return "already installed"


def start_lws(b, a, port):
    """Start lws-echo on port, pinned like the other servers; wait for its
    "listening".  None (and b.lws_note says why) when it does not start."""
    log = os.path.join(a.dir, "lws-echo.out")
    srv = Server("lws-echo", b.server_pin + [a.lws_echo, str(port)], log)
    if wait_listening(srv, port):
        return srv
    srv.stop()
    with open(log) as f:
        out = " | ".join(ln.strip() for ln in f if ln.strip())
    b.lws_note = "lws-echo did not start ({})".format(out or "no output")
    print("bench: libwebsockets rows SKIPPED -- " + b.lws_note)
    return None


def bcast_key(receivers, rate):
    return "broadcast 1 to {} x {}/s".format(receivers, rate)


def idle_round(b, targets):
    """IDLE_CONNS idle connections held against each of targets."""
    print("idle {} connections, {}s".format(IDLE_CONNS, IDLE_SECONDS))
    for name, port, srv in targets:
        if not srv.alive():
            b.failures.append("idle / {}: server is gone".format(name))
            continue
        b.wsbench("idle", name, [
            "idle", "--host", "127.0.0.1", "--port", str(port),
            "--path", "/echo", "-c", str(IDLE_CONNS),
            "-d", str(IDLE_SECONDS), "--src", IDLE_SRC,
            "--pid", str(srv.pid)], timeout=IDLE_SECONDS + 150)


def bcast_one_child(b, httpd, hport, have_bcast):
    """Broadcast to BCAST_RECEIVERS on the echo httpd (one child)."""
    if not have_bcast:
        print("broadcast: SKIPPED -- build/handlers/broadcast.so does "
              "not exist (yet)")
        return
    print("broadcast {} receivers, {} msg/s, {}s (httpd, one "
          "child)".format(BCAST_RECEIVERS, BCAST_RATE, BCAST_SECONDS))
    if not httpd.alive():
        b.failures.append("broadcast: httpd is gone")
        return
    b.wsbench(bcast_key(BCAST_RECEIVERS, BCAST_RATE),
              "mod_websocket, 1 child", [
                  "broadcast", "--host", "127.0.0.1", "--port", str(hport),
                  "--path", "/broadcast", "-c", str(BCAST_RECEIVERS),
                  "--rate", str(BCAST_RATE), "-s", str(BCAST_SIZE),
                  "--text", "-d", str(BCAST_SECONDS),
                  "--pid", str(httpd.pid)],
              timeout=BCAST_SECONDS + 150)


def bcast_round(b, a, bc, servers, nofile, snap):
    """The broadcast servers side by side: start them (bcast_servers), then
    each case of BCAST_CASES on each, one run each."""
    bcast_servers(b, a, bc, servers, nofile, snap)
    print("broadcast servers: {}".format("; ".join(
        "{} pid {} on 127.0.0.1:{}".format(name, srv.pid, port)
        for name, (port, srv) in bc.targets.items())))
    for receivers, rate in BCAST_CASES:
        key = bcast_key(receivers, rate)
        print(key)
        for name in BCAST_TARGETS:
            if name not in bc.targets:
                continue
            port, srv = bc.targets[name]
            if not srv.alive():
                b.failures.append("{} / {}: server is gone".format(
                    key, name))
                continue
            b.wsbench(key, name, [
                "broadcast", "--host", "127.0.0.1", "--port", str(port),
                "--path", BCAST_PATH, "-c", str(receivers),
                "--rate", str(rate), "-s", str(BCAST_SIZE), "--text",
                "-d", str(BCAST_SECONDS), "--grace", str(BCAST_GRACE),
                "--quiet", str(BCAST_QUIET), "--src", IDLE_SRC,
                "--pid", str(srv.pid)],
                timeout=BCAST_SECONDS + BCAST_GRACE + 150)


def bcast_servers(b, a, bc, servers, nofile, snap):
    """Start the broadcast servers (each one that can run) into bc.targets:
    httpd with two children or more, node-broadcast.js, nginx + Nchan."""
    taken = set()
    # httpd, two children
    if os.path.exists(os.path.join(snap.handlers, "broadcast.so")):
        d = os.path.join(a.dir, "httpd-broadcast")
        port = free_port(taken)
        taken.add(port)
        conf, bc.httpd_mpm_from = httpd_bcast_conf(d, port, snap)
        bc.httpd_conf = conf
        bc.handlers = snap.handlers
        errlog = os.path.join(d, "logs", "error_log")
        bc.errlogs["mod_websocket"] = errlog
        for old in (errlog, os.path.join(d, "logs", "access_log")):
            if os.path.exists(old):
                os.remove(old)
        check = subprocess.run([a.httpd, "-t", "-f", conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("httpd -t failed for {}:\n{}".format(
                conf, check.stderr))
        srv = Server("httpd (broadcast)", b.server_pin + [
            a.httpd, "-f", conf, "-DFOREGROUND"],
            os.path.join(a.dir, "httpd-broadcast.out"))
        servers.append(srv)
        if not serverroot.wait_port(port, proc=srv.proc):
            raise RuntimeError("httpd (broadcast) did not start; see " +
                               errlog)
        deadline = time.time() + 10
        while time.time() < deadline and len(children_of(srv.pid)) < 2:
            time.sleep(0.1)
        time.sleep(1)       # the children start their threads
        bc.httpd_children = procs_desc(children_of(srv.pid))
        bc.targets["mod_websocket"] = (port, srv)
    else:
        bc.skipped["mod_websocket"] = "build/handlers/broadcast.so missing"
    # Node ws, one process
    if os.path.isdir(WS_MODULE):
        port = free_port(taken)
        taken.add(port)
        srv = start_node(b, a, "node-broadcast.js", port,
                         os.path.join(a.dir, "node-broadcast.out"))
        servers.append(srv)
        bc.errlogs["node ws"] = srv.log_path
        bc.targets["node ws"] = (port, srv)
    else:
        bc.skipped["node ws"] = "{} missing".format(WS_MODULE)
    # nginx + Nchan, two workers
    if bc.nginx and bc.nchan:
        d = os.path.join(a.dir, "nginx")
        port = free_port(taken)
        taken.add(port)
        conf = nginx_conf(d, port, bc.nchan, nofile)
        bc.nginx_conf = conf
        errlog = os.path.join(d, "logs", "error.log")
        bc.errlogs["nginx + nchan"] = errlog
        if os.path.exists(errlog):
            os.remove(errlog)
        base = [bc.nginx, "-p", d + "/", "-c", conf, "-e", errlog]
        check = subprocess.run(base + ["-t"], capture_output=True, text=True)
        if check.returncode != 0:
            bc.skipped["nginx + nchan"] = "nginx -t failed: {}".format(
                " | ".join(check.stderr.strip().splitlines()[-3:]))
        else:
            srv = Server("nginx", b.server_pin + base,
                         os.path.join(a.dir, "nginx.out"))
            servers.append(srv)
            if not serverroot.wait_port(port, proc=srv.proc):
                raise RuntimeError("nginx did not start; see {} and "
                                   "{}".format(errlog, srv.log_path))
            deadline = time.time() + 10
            while time.time() < deadline and len(children_of(srv.pid)) < 2:
                time.sleep(0.1)
            bc.nginx_workers = children_of(srv.pid)
            bc.nginx_workers_desc = procs_desc(bc.nginx_workers)
            bc.targets["nginx + nchan"] = (port, srv)
    else:
        bc.skipped["nginx + nchan"] = bc.install_note or \
            "nginx or Nchan's module missing"
    for name in list(bc.skipped):
        print("bench: broadcast / {}: SKIPPED -- {}".format(
            name, bc.skipped[name]))


def tree_rss_kb(pid):
    """VmRSS of pid and its children, in KB."""
    total = 0
    for p in [pid] + children_of(pid):
        try:
            with open("/proc/{}/status".format(p)) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def http_get_ms(port, path, timeout=10.0):
    """(status, ms) of one GET on a new connection; status 0 on failure."""
    import http.client
    t0 = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, (time.monotonic() - t0) * 1000.0, body
    except (OSError, http.client.HTTPException):
        return 0, (time.monotonic() - t0) * 1000.0, b""


def demo_open(port):
    """The status page's count of open WebSockets, or -1."""
    import json
    status, _, body = http_get_ms(port, "/websocket-status?json")
    try:
        return json.loads(body)["totals"]["open"] if status == 200 else -1
    except (ValueError, KeyError):
        return -1


def demo_idle(b, a, snap, servers):
    """DEMO_IDLE_CONNS idle WebSockets on the demo's configuration, from
    DEMO_IDLE_CLIENTS wsbench processes at once; once all are open, the
    server tree's RSS per connection and DEMO_PAGE_PROBES page requests
    (a new connection each, one after the other)."""
    key, name = "idle demo", "mod_websocket"
    sizing = serverroot.demo_sizing()
    port = free_port()
    d = os.path.join(a.dir, "httpd-demo")
    conf = serverroot.generate(d, port, mpm="event", demo=True,
                               listen_host="127.0.0.1", log_level="warn",
                               module=snap.module, **sizing)
    b.demo_conf = conf
    b.demo_sizing = sizing
    print("idle {} connections on the demo's configuration ({} children, "
          "AsyncRequestWorkerFactor {})".format(
              DEMO_IDLE_CONNS, sizing["servers"], sizing["async_factor"]))
    argv = b.server_pin + [a.httpd,
                           "-f", conf, "-DFOREGROUND"]
    b.demo_argv = argv
    srv = Server("httpd-demo", argv, os.path.join(a.dir, "httpd-demo.out"))
    servers.append(srv)
    if not serverroot.wait_port(port, proc=srv.proc):
        b.failures.append("{}: httpd did not start".format(key))
        return
    deadline = time.time() + 10
    while time.time() < deadline and \
            len(children_of(srv.pid)) < sizing["servers"] + 1:
        time.sleep(0.2)
    time.sleep(1)
    rss_before = tree_rss_kb(srv.pid)
    per = -(-DEMO_IDLE_CONNS // DEMO_IDLE_CLIENTS)
    hold = 60
    clients = []
    t0 = time.time()
    for i in range(DEMO_IDLE_CLIENTS):
        cmd = b.client_pin + [a.wsbench, "idle", "--host", "127.0.0.1",
                              "--port", str(port), "--path", "/echo",
                              "-c", str(per), "-d", str(hold), "--src",
                              "127.0.{0}.1-127.0.{0}.8".format(i + 1)]
        b.commands.setdefault((key, "{} client {}".format(name, i + 1)), cmd)
        clients.append(subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    want = per * DEMO_IDLE_CLIENTS
    opened, connect_s = -1, None
    while time.time() - t0 < 120:
        opened = demo_open(port)
        if opened >= want:
            connect_s = time.time() - t0
            break
        if all(c.poll() is not None for c in clients):
            break
        time.sleep(1)
    time.sleep(2)
    rss_after = tree_rss_kb(srv.pid)
    probes = []
    for _ in range(DEMO_PAGE_PROBES):
        status, ms, _ = http_get_ms(port, "/")
        probes.append((status, ms))
        if os.environ.get("BENCH_DEBUG"):
            print("    probe {:.2f} s: {} {:.1f} ms".format(
                time.time() - t0, status, ms))
        time.sleep(0.1)
    open_during = demo_open(port)
    res = {"mode": "idle-demo", "ok": 1, "conns": want, "opened": opened,
           "open_during_probes": open_during, "connect_s": connect_s or -1,
           "rss_before_kb": rss_before, "rss_after_kb": rss_after,
           "rss_per_conn_kb": (rss_after - rss_before) / max(opened, 1),
           "pages_ok": sum(1 for st, _ in probes if st == 200),
           "pages": len(probes),
           "page_p50_ms": statistics.median(ms for _, ms in probes),
           "page_max_ms": max(ms for _, ms in probes),
           "connected": 0, "failed": 0, "still_open": 0, "errors": 0}
    for i, c in enumerate(clients):
        try:
            out, _ = c.communicate(timeout=hold + 120)
        except subprocess.TimeoutExpired:
            c.kill()
            out, _ = c.communicate()
        b.nrun += 1
        with open(os.path.join(b.logdir, "run{:02d}.txt".format(b.nrun)),
                  "w") as f:
            f.write("$ {}\n{}".format(shlex.join(c.args), out))
        r = parse_result(out) or {}
        for k in ("connected", "failed", "still_open", "errors"):
            res[k] += r.get(k, 0)
    srv.stop()
    if res["connected"] < want or opened < want or res["pages_ok"] < \
            res["pages"]:
        b.failures.append("{} / {}: connected {} of {}, open {}, pages {}/{}"
                          .format(key, name, res["connected"], want, opened,
                                  res["pages_ok"], res["pages"]))
    b.results.setdefault((key, name), []).append(res)
    print("  {} {:<30} connected {:.0f} failed {:.0f} still_open {:.0f}  "
          "open {} (all in {:.1f} s)  RSS {:+.2f} KB/conn  pages {}/{} 200, "
          "p50 {:.1f} ms, max {:.1f} ms".format(
              time.strftime("%H:%M:%S", time.localtime(t0)),
              "{} / {}".format(key, name), res["connected"], res["failed"],
              res["still_open"], opened, res["connect_s"],
              res["rss_per_conn_kb"], res["pages_ok"], res["pages"],
              res["page_p50_ms"], res["page_max_ms"]))


def demo_idle_rows(b):
    runs = b.results.get(("idle demo", "mod_websocket"), [])
    label = "idle {} conns on the demo's configuration, pages asked " \
        "meanwhile".format(DEMO_IDLE_CONNS)
    if not runs:
        print("| {} | mod_websocket | not run | | | | | | | |".format(label))
        return
    r = runs[0]
    print("| {} | mod_websocket | - | - | {:.1f} | - | - | {:.1f} | {:.0f} | "
          "connected {:.0f}, failed {:.0f}, still open {:.0f}; {} open at "
          "once (the status page's count; all open {:.1f} s after the "
          "first connect); server RSS {:.1f} MB -> {:.1f} MB = **{:.2f} KB "
          "per idle conn**; pages (p50 and max ms in the latency columns): "
          "{}/{} answered 200 |".format(
              label, r["page_p50_ms"], r["page_max_ms"], r["errors"],
              r["connected"], r["failed"], r["still_open"], r["opened"],
              r["connect_s"], r["rss_before_kb"] / 1024.0,
              r["rss_after_kb"] / 1024.0, r["rss_per_conn_kb"],
              r["pages_ok"], r["pages"]))


def several_servers(b, a, snap, servers, bc):
    """redis-server, two httpd servers on it and one embedded httpd (each
    with the demo's two children, all pinned to the servers' CPU); runs
    SEVERAL_ROUNDS alternating rounds of 1 -> SEVERAL_RECEIVERS."""
    redis = shutil.which("redis-server")
    if not redis:
        bc.several_note = "redis-server missing (build.sh installs it)"
        print("bench: several servers: SKIPPED -- " + bc.several_note)
        return
    taken = set()
    rport = free_port()
    taken.add(rport)
    d = os.path.join(a.dir, "redis")
    os.makedirs(d, exist_ok=True)
    rs = Server("redis", b.server_pin + [
        redis, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", d], os.path.join(a.dir, "redis.out"))
    servers.append(rs)
    if not serverroot.wait_port(rport, proc=rs.proc):
        raise RuntimeError("redis-server did not start; see " + rs.log_path)
    bc.several_redis = (redis, rport, rs)
    ports = {}
    for name in ("a", "b", "embedded"):
        port = free_port(taken)
        taken.add(port)
        hd = os.path.join(a.dir, "httpd-several-" + name)
        conf, _ = httpd_bcast_conf(hd, port, snap)
        if name != "embedded":
            with open(conf, "a") as f:
                f.write("WebSocketChannels redis://127.0.0.1:{} "
                        "prefix=bench:\n".format(rport))
        for old in ("error_log", "access_log"):
            if os.path.exists(os.path.join(hd, "logs", old)):
                os.remove(os.path.join(hd, "logs", old))
        check = subprocess.run([a.httpd, "-t", "-f", conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("httpd -t failed for {}:\n{}".format(
                conf, check.stderr))
        srv = Server("httpd (several {})".format(name), b.server_pin + [
            a.httpd, "-f", conf, "-DFOREGROUND"],
            os.path.join(a.dir, "httpd-several-{}.out".format(name)))
        servers.append(srv)
        if not serverroot.wait_port(port, proc=srv.proc):
            raise RuntimeError("httpd (several {}) did not start".format(
                name))
        bc.errlogs["several " + name] = os.path.join(hd, "logs", "error_log")
        ports[name] = (port, srv, conf)
    time.sleep(2)           # children up, hubs connected to Redis
    bc.several_ports = ports
    print(SEVERAL_KEY)
    for rnd in range(SEVERAL_ROUNDS):
        order = list(SEVERAL_TARGETS) if rnd % 2 == 0 else \
            list(reversed(SEVERAL_TARGETS))
        for name in order:
            if "Redis" in name:
                port_args = ["--port", str(ports["a"][0]),
                             "--port2", str(ports["b"][0])]
            else:
                port_args = ["--port", str(ports["embedded"][0])]
            b.wsbench(SEVERAL_KEY, name, [
                "broadcast", "--host", "127.0.0.1"] + port_args + [
                "--path", BCAST_PATH, "-c", str(SEVERAL_RECEIVERS),
                "--rate", str(SEVERAL_RATE), "-s", str(BCAST_SIZE),
                "--text", "-d", str(BCAST_SECONDS), "--grace",
                str(BCAST_GRACE), "--quiet", str(BCAST_QUIET), "--src",
                IDLE_SRC], timeout=BCAST_SECONDS + BCAST_GRACE + 150)


def several_row(name, runs):
    """One several-servers row: medians over the rounds."""
    exp = sum(r["expected"] for r in runs)
    got = sum(r["received"] for r in runs)
    notes = ["{} rounds, p50/p99 per round: {}".format(
        len(runs), ", ".join("{:.1f}/{:.1f}".format(r["p50_ms"], r["p99_ms"])
                             for r in runs)),
             "deliveries {:.0f} of {:.0f} expected (**{:.1f}%**)".format(
                 got, exp, 100.0 * got / exp if exp else 0.0)]
    if any(r.get("stale") for r in runs):
        notes.append("stale (replayed) messages not counted")
    return ("| {} | {} | {:.0f} deliveries/s | - | {} | {} | {} | {} | - "
            "| {:.0f} | {} |".format(
                "broadcast 1 -> {} receivers, {} msg/s x {} B text, {} s"
                .format(SEVERAL_RECEIVERS, SEVERAL_RATE, BCAST_SIZE,
                        BCAST_SECONDS), name,
                med(runs, "deliveries_per_s"), fmt(med(runs, "p50_ms")),
                fmt(med(runs, "p99_ms")), fmt(med(runs, "p999_ms")),
                fmt(med(runs, "max_ms")), sum(r["errors"] for r in runs),
                "; ".join(notes)))


def bcast_row(label, name, r, base):
    """One broadcast row; base: mod_websocket's result, for the ratios."""
    pct = 100.0 * r["received"] / r["expected"] if r["expected"] else 0.0
    notes = ["sent {:.0f}; deliveries {:.0f} of {:.0f} expected "
             "(**{:.1f}%**)".format(r["sent"], r["received"], r["expected"],
                                    pct),
             "receivers connected {:.0f} of {:.0f}, reached {:.0f}, got all "
             "{:.0f}, still open {:.0f}".format(
                 r["connected"], r["receivers"], r["reached"], r["complete"],
                 r["still_open"])]
    if r.get("self_rx", r["sent"]) != r["sent"]:
        notes.append("the sender got {:.0f} of its own {:.0f}".format(
            r["self_rx"], r["sent"]))
    if r.get("stale"):
        notes.append("{:.0f} stale (replayed) messages not counted".format(
            r["stale"]))
    holders = r.get("holders")
    split = r.get("holder_split", "?")
    if isinstance(split, float):    # one process: parsed as a number
        split = "{:.0f}".format(split)
    if holders is not None:
        what = {"node ws": "node processes", "nginx + nchan":
                "nginx workers"}.get(name, "httpd children")
        notes.append("{} holding receivers: {:.0f} ({}; the sender's: "
                     "{:.0f}{})".format(
                         what, holders, split,
                         r.get("sender_peers", 0),
                         "; {:.0f} not located".format(r["unlocated"])
                         if r.get("unlocated") else ""))
        if name.startswith("mod_websocket") and holders > 1 and \
                r["received"] < r["expected"]:
            notes.append("broadcast.so's members are per child: a message "
                         "reaches only the receivers in the sender's child "
                         "until channels span the children")
    if "drain_ms" in r:
        notes.append("last delivery {:.0f} ms after the last send{}".format(
            r["drain_ms"], {
                "quiet": " (**then nothing for {:.0f} s: the missing "
                         "deliveries were lost**)".format(r.get("quiet", 0)),
                "grace": " (**deliveries still missing when the {:.0f} s "
                         "wait ended**)".format(r.get("grace", 0)),
                "interrupted": " (interrupted)"}.get(r.get("wait_end"),
                                                     "")))
    if "last_s_mean_ms" in r:
        first, last = r["first_s_mean_ms"], r["last_s_mean_ms"]
        notes.append("mean latency of the first / last second's messages "
                     "{:.1f} / {:.1f} ms{}".format(
                         first, last, " (**fell behind**: the backlog grew "
                         "while sending, so the latencies depend on the "
                         "run's length)" if last > 2 * first and
                         last - first > 50 else ""))
    if "server_cpu_pct" in r:
        notes.append("CPU over the run: server {:.0f}%, client {:.0f}%".format(
            r["server_cpu_pct"], r["client_cpu_pct"]))
    if base:
        rel = []
        if r["deliveries_per_s"]:
            rel.append("deliveries/s {:.2f}".format(
                base["deliveries_per_s"] / r["deliveries_per_s"]))
        for k, t in (("p50_ms", "p50"), ("p99_ms", "p99")):
            if r[k] and base[k]:
                rel.append("{} {:.2f}".format(t, base[k] / r[k]))
        if rel:
            notes.append("mod_websocket/{}: {}{}".format(
                name.split()[0], ", ".join(rel),
                " (mod_websocket's latencies are those of the {:.0f} "
                "receivers it reached)".format(base["reached"])
                if base["reached"] < base["connected"] else ""))
    return ("| {} | {} | {:.0f} deliveries/s | - | {} | {} | {} | {} | - "
            "| {:.0f} | {} |".format(label, name, r["deliveries_per_s"],
                            fmt(r["p50_ms"]), fmt(r["p99_ms"]),
                            fmt(r["p999_ms"]), fmt(r["max_ms"]), r["errors"],
                            "; ".join(notes)))


def bcast_settings(b, a, bc):
    """The broadcast servers' part of "Settings and commands"."""
    if "mod_websocket" in bc.targets:
        port, srv = bc.targets["mod_websocket"]
        print("- httpd (broadcast rows): the same binary and module, "
              "mpm_event with {} event settings; processes under the "
              "master at start: {} (the MPM's children, and any process a "
              "module runs; the notes of each row say which held "
              "receivers); config {}".format(
                  bc.httpd_mpm_from, bc.httpd_children, bc.httpd_conf))
        try:
            with open(bc.httpd_conf) as f:
                m = re.search(r"<IfModule mpm_event_module>.*?</IfModule>",
                              f.read(), re.S)
            for line in (m.group(0).splitlines() if m else []):
                if line.strip() and not line.strip().startswith("#"):
                    print("    " + line.strip())
        except OSError:
            pass
        print("  - started as: `{}` (127.0.0.1:{})".format(
            shlex.join(srv.argv), port))
        print("  - endpoint (appended to serverroot.py's config); receivers "
              "and the publisher connect to {}:".format(BCAST_PATH))
        for line in HTTPD_BCAST.format(
                handlers=bc.handlers).strip().splitlines():
            print("    " + line)
    if "node ws" in bc.targets:
        port, srv = bc.targets["node ws"]
        print("- node (broadcast rows): tools/node-broadcast.js, one process "
              "as people run it (Node runs JavaScript on one thread; no "
              "cluster), ws {}, perMessageDeflate off; a message goes to "
              "every client of the sender's ?channel=, the sender "
              "included, by ws's plain loop of client.send(); started as: "
              "`{}` (127.0.0.1:{})".format(ws_version(),
                                          shlex.join(srv.argv), port))
    if bc.nginx:
        print("- nginx + Nchan: {} ({}), Nchan {} (Debian's "
              "libnginx-mod-nchan, {}); {}".format(
                  bc.nginx, version_of([bc.nginx, "-v"]),
                  dpkg_version("libnginx-mod-nchan"), bc.nchan or "missing",
                  bc.install_note or "already installed"))
    if "nginx + nchan" in bc.targets:
        port, srv = bc.targets["nginx + nchan"]
        print("  - master process and {} worker(s): {}, all pinned with the "
              "master to the servers' CPU; the workers run as an "
              "unprivileged user; accept_mutex off, multi_accept off "
              "(nginx's defaults); config {}; stopped with SIGTERM to the "
              "master's pid".format(len(bc.nginx_workers),
                                    bc.nginx_workers_desc, bc.nginx_conf))
        try:
            with open(bc.nginx_conf) as f:
                text = f.read()
            keep = [ln.strip() for ln in text.splitlines()
                    if re.match(r"\s*(worker_processes|worker_connections|"
                                r"worker_rlimit_nofile|nchan_|listen|"
                                r"location|user)", ln)]
            print("    " + "; ".join(k.rstrip(";{ ") for k in keep))
        except OSError:
            pass
        print("  - Nchan's WebSocket pub/sub (nchan_pubsub websocket): a "
              "client subscribes to the channel and each of its messages is "
              "published to it; the publisher gets its own messages back "
              "(it is a subscriber too) and nothing else (no reply to a "
              "publish; the notes say when a run's sender did not get "
              "exactly its own messages back); a message keeps its type "
              "(text or binary); Nchan's 101 offers permessage-deflate, "
              "which wsbench does not ask for; started as: `{}` "
              "(127.0.0.1:{})".format(
                  shlex.join(srv.argv), port))


def z_settings(b):
    """The compression rows' part of "Settings and commands"."""
    print("- compression rows (permessage-deflate, RFC 7692): wsbench "
          "--json --deflate: {} B JSON-like text messages (a batch of "
          "records, 64 variants with the same keys, the send time in the "
          "first field), the client offering `permessage-deflate; "
          "client_max_window_bits` as browsers do (no "
          "client_no_context_takeover: it keeps its compressor's context "
          "per connection, zlib's default level, so the server keeps an "
          "inflater per connection) and inflating what comes back with "
          "RSV1; every echo checked byte for byte; \"compression on\" = "
          "/echo (WebSocketCompression On, the default), \"off\" = "
          "/echo-plain (WebSocketCompression Off: the same offer "
          "declined); server CPU = user + system time of the server's "
          "processes over the run (warm-up included), per message = that "
          "time / messages echoed in the run; wire/payload = frame payload "
          "bytes / message bytes, as wsbench counted them".format(
              ", ".join(str(z[2]) for z in Z_CASES)))
    if b.znode:
        print("  - node ws, compression on: a second tools/node-echo.js "
              "with --deflate (perMessageDeflate threshold 64, level 3, "
              "memLevel 8, serverNoContextTakeover, clientMaxWindowBits 12: "
              "mod_websocket's defaults; ws runs zlib in libuv's thread "
              "pool), started as: `{}` (127.0.0.1:{}); \"off\": the plain "
              "node-echo.js above".format(shlex.join(b.znode.argv),
                                          b.zport))
    if b.zidle_argv:
        print("  - idle with compression: for each row a fresh httpd, the "
              "echo httpd's config and port, started as `{}` and stopped "
              "after; each connection sends one {} B message once open and "
              "gets it back, then stays idle; with compression on the RSS "
              "also holds the worker threads' compressors (one per thread "
              "that compressed an echo, up to ThreadsPerChild, about 260 KB "
              "each at window 15 and memLevel 8; not per connection: the "
              "difference on/off is an upper bound of one inflater's "
              "cost)".format(
                  shlex.join(b.zidle_argv), Z_IDLE_SIZE))


def ws_version():
    try:
        import json
        with open(os.path.join(WS_MODULE, "package.json")) as f:
            return json.load(f).get("version", "?")
    except (OSError, ValueError):
        return "?"


def print_echo_row(label, name, m, runs, notes):
    """One echo row of the table: m the medians, runs the rounds."""
    print("| {} | {} | {:.0f} | {:.3f} | {} | {} | {} | {} | {:.1f} "
          "| {:.0f} | {} |".format(
              label, name, m["msgs_per_s"], med(runs, "mb_per_s"),
              fmt(m["p50_ms"]), fmt(m["p99_ms"]),
              fmt(med(runs, "p999_ms")), fmt(med(runs, "max_ms")),
              m["server_cpu_us_per_msg"], sum(r["errors"] for r in runs),
              "; ".join(notes)))


def echo_rows(b, c, k, s, names):
    """The echo rows of one ECHO_CASES case, one per server of names
    (mod_websocket first): medians of the rounds, each figure on its own;
    notes: the rounds, the CPU, and mod_websocket/this server's ratios."""
    key = "echo {}x{}x{}".format(c, k, s)
    label = "echo {} conns x {} in flight x {} B text".format(c, k, s)
    base = None
    for name in names:
        runs = b.results.get((key, name), [])
        if not runs:
            skipped = name == "libwebsockets" and b.lws_note
            print("| {} | {} | {} | | | | | | | | {} |".format(
                label, name, "skipped" if skipped else "not run",
                "why: see Observations" if skipped else ""))
            continue
        m = {x: med(runs, x) for x in (
            "msgs_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_msg",
            "server_cpu_pct", "client_cpu_pct")}
        notes = ["{} rounds: {} msgs/s".format(len(runs), "/".join(
            "{:.0f}".format(r["msgs_per_s"]) for r in runs)),
            "server CPU {:.0f}% of one CPU, client {:.0f}%{}".format(
                m["server_cpu_pct"], m["client_cpu_pct"],
                " (**the client was the limit**)"
                if m["client_cpu_pct"] >= 90 else "")]
        if base is None:
            base = m
        elif m["msgs_per_s"] and m["p99_ms"] and \
                m["server_cpu_us_per_msg"] > 0:
            ratio = {x: base[x] / m[x] for x in (
                "msgs_per_s", "p99_ms", "server_cpu_us_per_msg")}
            notes.append("mod_websocket/{}: msgs/s **{:.2f}**, p99 "
                         "**{:.2f}**, CPU/msg **{:.2f}**".format(
                             name.split()[0], ratio["msgs_per_s"],
                             ratio["p99_ms"],
                             ratio["server_cpu_us_per_msg"]))
            if name == "libwebsockets" and (c, k, s) == (100, 1, 32):
                missed = [t for t, bad in (
                    ("msgs/s", ratio["msgs_per_s"] < 1),
                    ("p99", ratio["p99_ms"] > 1),
                    ("CPU/msg", ratio["server_cpu_us_per_msg"] > 1)) if bad]
                notes.append("issue 15's target (msgs/s and p99 no worse, "
                             "CPU/msg no more than libwebsockets'): {}"
                             .format("**missed on {}**".format(
                                 ", ".join(missed)) if missed else "met"))
        print_echo_row(label, name, m, runs, notes)


def zrows(b, c, k, s):
    """The compression echo rows of one Z_CASES case: medians of the
    rounds; notes: the server's CPU, what was agreed, the bytes on the
    wire, and on/off ratios."""
    key = zkey(c, k, s)
    label = ("echo {} conns x {} in flight x {} B JSON-like text, client "
             "offers permessage-deflate".format(c, k, s))
    meds = {}
    for name, which, path in Z_TARGETS:
        runs = b.results.get((key, name), [])
        if not runs:
            print("| {} | {} | not run | | | | | | | | {} |".format(
                label, name, "no node (tests/node/node_modules/ws)"
                if which.startswith("node") and b.znode is None else ""))
            continue
        m = {x: med(runs, x) for x in (
            "msgs_per_s", "server_cpu_pct", "server_cpu_us_per_msg",
            "client_cpu_pct", "p50_ms", "p99_ms")}
        meds[name] = m
        conns = sum(r["connected"] for r in runs)
        agreed = sum(r["pmd_conns"] for r in runs)
        ext = runs[0].get("ext", "-")
        notes = ["{} rounds: {} msgs/s".format(len(runs), "/".join(
            "{:.0f}".format(r["msgs_per_s"]) for r in runs)),
            "server CPU **{:.0f}%** of one CPU, **{:.1f} us per message** "
            "(over the run, warm-up included); client CPU {:.0f}%{}".format(
                m["server_cpu_pct"], m["server_cpu_us_per_msg"],
                m["client_cpu_pct"], " (**the client was the limit**)"
                if m["client_cpu_pct"] >= 90 else "")]
        if agreed:
            tx_p = sum(r["tx_payload"] for r in runs)
            tx_w = sum(r["tx_wire"] for r in runs)
            rx_p = sum(r["rx_payload"] for r in runs)
            rx_w = sum(r["rx_wire"] for r in runs)
            rsv1 = sum(r["rx_rsv1"] for r in runs)
            rxm = sum(r["rx_msgs"] for r in runs)
            notes.append("permessage-deflate agreed on {:.0f} of {:.0f} "
                         "connections (`{}`)".format(
                             agreed, conns, str(ext).replace(";", "; ")))
            notes.append("frame payload bytes / message bytes: client to "
                         "server {:.1f}%, server to client **{:.1f}%** "
                         "({:.0f} of {:.0f} echoes compressed)".format(
                             100.0 * tx_w / tx_p if tx_p else 0,
                             100.0 * rx_w / rx_p if rx_p else 0, rsv1, rxm))
        else:
            notes.append("permessage-deflate declined on all {:.0f} "
                         "connections (sent uncompressed)".format(conns))
        if name.endswith("compression off"):
            on = meds.get(name.replace("compression off", "compression on"))
            if on and m["msgs_per_s"] and m["server_cpu_us_per_msg"] > 0:
                notes.append("on/off: msgs/s {:.2f}, server CPU per message "
                             "{:.2f}, p50 {:.2f}".format(
                                 on["msgs_per_s"] / m["msgs_per_s"],
                                 on["server_cpu_us_per_msg"] /
                                 m["server_cpu_us_per_msg"],
                                 on["p50_ms"] / m["p50_ms"]
                                 if m["p50_ms"] else float("nan")))
        if name == "node ws, compression on":
            mw = meds.get("mod_websocket, compression on")
            if mw and m["msgs_per_s"]:
                notes.append("mod_websocket/node = {:.2f}".format(
                    mw["msgs_per_s"] / m["msgs_per_s"]))
        print_echo_row(label, name, m, runs, notes)


def zidle_rows(b):
    """The idle rows with compression (Z_IDLE_TARGETS), one run each."""
    label = "idle {} conns held {} s, each sent one {} B JSON-like " \
        "message (offering permessage-deflate), fresh httpd".format(
            IDLE_CONNS, IDLE_SECONDS, Z_IDLE_SIZE)
    per = {}
    for name, path in Z_IDLE_TARGETS:
        runs = b.results.get(("idle json deflate", name), [])
        if not runs:
            print("| {} | {} | not run | | | | | | | | |".format(label, name))
            continue
        r = runs[0]
        per[name] = r["rss_per_conn_kb"]
        notes = ("connected {:.0f}, failed {:.0f}, still open {:.0f}, "
                 "echoed {:.0f}; permessage-deflate agreed on {:.0f}{}; "
                 "server RSS {:.1f} MB -> {:.1f} MB after connecting "
                 "({:.2f} KB/conn) -> {:.1f} MB idle = **{:.2f} KB per idle "
                 "conn**; threads {:.0f} -> {:.0f} in {:.0f} process(es); "
                 "connect {:.1f} s").format(
                     r["connected"], r["failed"], r["still_open"],
                     r["idle_echoed"], r["pmd_conns"],
                     " (`{}`; the messages {:.1f}% of their size on the wire "
                     "to the server, {:.1f}% back)".format(
                         str(r.get("ext", "-")).replace(";", "; "),
                         100 * r["tx_ratio"], 100 * r["rx_ratio"])
                     if r["pmd_conns"] else "",
                     r["rss_before_kb"] / 1024.0, r["rss_after_kb"] / 1024.0,
                     r.get("rss_per_conn_connect_kb", 0),
                     r["rss_end_kb"] / 1024.0, r["rss_per_conn_kb"],
                     r["threads_before"], r["threads"], r["procs"],
                     r["connect_s"])
        if name.endswith("compression off"):
            on = per.get(name.replace("compression off", "compression on"))
            if on is not None:
                notes += "; compression on costs {:+.2f} KB per idle " \
                    "conn".format(on - r["rss_per_conn_kb"])
        print("| {} | {} | - | - | - | - | - | - | - | {:.0f} | {} |".format(
            label, name, r["errors"], notes))


def med(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def report(b, a, conf, extra, hport, nport, httpd, node, pinning, nofile,
           have_bcast, errlog, started, load_start, others, bc):
    print()
    print("## mod_websocket benchmark")
    print()
    if a.only & {"echo", "compression"}:
        print("Echo rows: median of {} rounds per figure (each figure's "
              "median on its own); errors summed over the rounds. Latency "
              "is the round trip (echo) or send-to-delivery (broadcast), "
              "in ms. MB/s is payload echoed, one way. Server CPU us/msg: "
              "the user + system time of the server's processes over the "
              "run (warm-up included) / the messages echoed in it. Ratios "
              "in the notes: mod_websocket's figure / this server's "
              "(msgs/s: above 1 = mod_websocket echoed more; p99 and "
              "CPU/msg: below 1 = mod_websocket was faster, used "
              "less).".format(ROUNDS))
        print()
    if a.only != set(SECTIONS):
        print("Only part of the benchmark ran (--only {}).".format(
            ",".join(x for x in SECTIONS if x in a.only)))
        print()
    if "broadcast" in a.only:
        print("Broadcast rows: one run each; one publisher sends {} B "
              "text messages for {} s to /broadcast?channel=bench once "
              "every receiver is connected; after the last send the "
              "receivers wait until each has every message (or nothing "
              "came for {} s, or {} s passed). deliveries/s = deliveries "
              "counted / the {} s of sending (a server that falls behind "
              "delivers the rest late: see \"last delivery\" and the "
              "first/last second's latencies); delivered % = deliveries / "
              "(messages sent x receivers connected). Ratios in the notes: "
              "mod_websocket's figure / this server's (deliveries/s: above "
              "1 = mod_websocket delivered more; latency: below 1 = "
              "mod_websocket was faster)."
              .format(BCAST_SIZE, BCAST_SECONDS, BCAST_QUIET, BCAST_GRACE,
                      BCAST_SECONDS))
        print()
    print("| Test | Server | msgs/s | MB/s | p50 ms | p99 ms | p99.9 ms "
          "| max ms | server CPU us/msg | errors | notes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    names = ["mod_websocket"] + (["node ws"] if node else [])
    if "echo" in a.only:
        for c, k, s in ECHO_CASES:
            echo_rows(b, c, k, s, names + ["libwebsockets"])
    for c, k, s in Z_CASES if "compression" in a.only else []:
        zrows(b, c, k, s)
    for name in names if "idle" in a.only else []:
        runs = b.results.get(("idle", name), [])
        label = "idle {} conns held {} s".format(IDLE_CONNS, IDLE_SECONDS)
        if not runs:
            print("| {} | {} | not run | | | | | | | | |".format(label, name))
            continue
        r = runs[0]
        print("| {} | {} | - | - | - | - | - | - | - | {:.0f} | connected "
              "{:.0f}, failed {:.0f}, still open {:.0f}; server RSS {:.1f} "
              "MB -> {:.1f} MB after connecting ({:.2f} KB/conn) -> {:.1f} "
              "MB idle = **{:.2f} KB per idle conn**; threads {:.0f} -> "
              "{:.0f} in {:.0f} process(es); connect {:.1f} s |".format(
                  label, name, r["errors"], r["connected"], r["failed"],
                  r["still_open"], r["rss_before_kb"] / 1024.0,
                  r["rss_after_kb"] / 1024.0,
                  r.get("rss_per_conn_connect_kb", 0),
                  r["rss_end_kb"] / 1024.0, r["rss_per_conn_kb"],
                  r["threads_before"], r["threads"], r["procs"],
                  r["connect_s"]))
    if "compression" in a.only:
        zidle_rows(b)
    if "demo" in a.only:
        demo_idle_rows(b)
    for receivers, rate in BCAST_CASES if "broadcast" in a.only else []:
        key = bcast_key(receivers, rate)
        label = "broadcast 1 -> {} receivers, {} msg/s x {} B text, " \
            "{} s".format(receivers, rate, BCAST_SIZE, BCAST_SECONDS)
        base = b.results.get((key, "mod_websocket"), [None])[0]
        for name in BCAST_TARGETS:
            runs = b.results.get((key, name), [])
            if not runs:
                print("| {} | {} | {} | | | | | | | | {} |".format(
                    label, name, "skipped" if name in bc.skipped
                    else "not run", bc.skipped.get(name, "")))
                continue
            print(bcast_row(label, name, runs[0],
                            base if name != "mod_websocket" else None))
        if (receivers, rate) == (BCAST_RECEIVERS, BCAST_RATE) and \
                have_bcast:
            name = "mod_websocket, 1 child"
            runs = b.results.get((key, name), [])
            if runs:
                print(bcast_row(label, name, runs[0], None))
            else:
                print("| {} | {} | not run | | | | | | | | |".format(label,
                                                                  name))

    for name in SEVERAL_TARGETS if "several" in a.only else []:
        runs = b.results.get((SEVERAL_KEY, name), [])
        if runs:
            print(several_row(name, runs))
        elif have_bcast:
            print("| broadcast 1 -> {} receivers across servers | {} | not "
                  "run | | | | | | | | {} |".format(SEVERAL_RECEIVERS, name,
                                                  bc.several_note))
    print()
    print("### Settings and commands")
    print()
    print("- host: {} CPUs, {}, Linux {}; load average at start {}, at end "
          "{}".format(os.cpu_count(), platform.machine(), platform.release(),
                      "/".join(load_start),
                      "/".join(open("/proc/loadavg").read().split()[:3])))
    print("- pinning: {}; open-files limit (ulimit -n) {}".format(pinning,
                                                                  nofile))
    limit = "?"
    try:
        with open(conf) as f:
            m = re.search(r"^\s*ServerLimit\s+(\d+)", f.read(), re.M)
            limit = m.group(1) if m else limit
    except OSError:
        pass
    print("- httpd (echo, idle, and the broadcast row \"mod_websocket, 1 "
          "child\"): {} ({}), mpm_event, ThreadsPerChild 50, "
          "MaxRequestWorkers 50 (one child: the echo and idle rows compare "
          "with earlier runs, and every receiver of that broadcast row "
          "shares the sender's child; ServerLimit {} leaves a restart's "
          "old generation room), AsyncRequestWorkerFactor 400, "
          "Timeout 60, "
          "LogLevel warn; config {}".format(a.httpd, version_of(
              [a.httpd, "-v"]), limit, conf))
    if b.snap:
        print("  - module and handlers: copies taken at the start of the "
              "run into {} (the servers load those, so a rebuild of build/ "
              "during the run cannot reach them): {}".format(
                  b.snap.dir, b.snap.describe()))
    if httpd:
        print("  - started as: `{}` (127.0.0.1:{})".format(
            shlex.join(httpd.argv), hport))
    print("  - endpoints (appended to serverroot.py's config):")
    for line in extra.strip().splitlines():
        print("    " + line)
    if node:
        ws_ver = "?"
        try:
            import json
            with open(os.path.join(WS_MODULE, "package.json")) as f:
                ws_ver = json.load(f).get("version", "?")
        except (OSError, ValueError):
            pass
        print("- node: {} with ws {} (perMessageDeflate off), started as: "
              "`{}` (127.0.0.1:{})".format(version_of([a.node, "--version"]),
                                          ws_ver, shlex.join(node.argv),
                                          nport))
    if b.lws:
        print("- libwebsockets (echo rows): {} (tools/lws-echo.c) on "
              "Debian's libwebsockets {} ({}): one context, one vhost on "
              "127.0.0.1, one service thread on lws's default event loop "
              "(poll), no TLS, no extensions (permessage-deflate not "
              "offered), text checked for UTF-8 "
              "(LWS_SERVER_OPTION_VALIDATE_UTF8, as mod_websocket and ws "
              "do); each message is assembled from its fragments, queued "
              "per connection and written back with its own type on "
              "LWS_CALLBACK_SERVER_WRITEABLE, as much of the queue as goes "
              "out before lws has to buffer a write (lws_partial_buffered"
              "()); log level ERR|WARN; started "
              "as: `{}` (127.0.0.1:{})".format(
                  os.path.relpath(a.lws_echo, TOP),
                  dpkg_version(LWS_PACKAGE), lws_build_note(a.lws_echo),
                  shlex.join(b.lws.argv), b.lws_port))
    if "echo" in a.only:
        print("- echo rows, server CPU: user + system time (/proc/PID/stat "
              "utime + stime) of the server's process and its descendants "
              "(httpd: the master and its child; node and lws-echo: one "
              "process), read by wsbench --pid just before the run and "
              "just after it (warm-up included); per message = that time "
              "/ the messages echoed in the same span; the client's own "
              "CPU from getrusage (a client near 100% of its CPU was the "
              "limit, not the server); not in these counters: the "
              "kernel's softirq time delivering what the server sends "
              "over loopback (charged to CPU 0, about a third more than "
              "lws-echo's own time in a check here)")
    if "compression" in a.only:
        z_settings(b)
    if getattr(b, "demo_argv", None):
        print("  - idle on the demo's configuration: `make start`'s "
              "(tools/serverroot.py demo_sizing: {} children of 25 threads "
              "started at once, AsyncRequestWorkerFactor {}, from the "
              "open-files limit {} a child inherits), the snapshot's module, "
              "started as `{}` (config {}); {} wsbench idle processes at "
              "once (commands below), each from its own loopback addresses; "
              "once the status page counts them all open, the server tree's "
              "RSS, then {} GETs of / one after the other (a new connection "
              "each, 0.1 s apart)".format(
                  b.demo_sizing["servers"], b.demo_sizing["async_factor"],
                  resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                  shlex.join(b.demo_argv), b.demo_conf, DEMO_IDLE_CLIENTS,
                  DEMO_PAGE_PROBES))
    if "broadcast" in a.only:
        bcast_settings(b, a, bc)
    if bc.several_redis:
        redis, rport, rs = bc.several_redis
        print("- several servers (rows \"broadcast across servers\"): "
              "redis-server {} ({}) on 127.0.0.1:{}, no persistence; two "
              "httpd servers configured like the broadcast httpd (two "
              "children each) plus `WebSocketChannels redis://127.0.0.1:{} "
              "prefix=bench:`: {}; every other receiver connects to the "
              "second server (wsbench --port2), the sender to the first; "
              "the embedded row: a third httpd, the same config without "
              "WebSocketChannels, all receivers on it; all of them pinned "
              "to the servers' CPU; {} rounds, alternating".format(
                  redis, version_of([redis, "--version"]), rport, rport,
                  ", ".join("{} on port {} (config {})".format(k, v[0], v[2])
                            for k, v in bc.several_ports.items()),
                  SEVERAL_ROUNDS))
    print("- client: {} (one thread, epoll); echo: {} s measured after {} s "
          "warm-up, each connection keeps its messages in flight; "
          "broadcast: the receivers and the sender (one more connection, "
          "connected last) in the same thread; the sender starts 0.5 s "
          "after the last connection is up and stamps each message with "
          "its send time (CLOCK_MONOTONIC, the receivers' clock too); "
          "with --pid it finds which server process holds each connection "
          "(/proc/net/tcp inode -> /proc/PID/fd) before sending".format(
              a.wsbench, ECHO_SECONDS, ECHO_WARMUP))
    print("- commands (round 1; the ports were free ports of this run):")
    for (key, target), cmd in b.commands.items():
        print("  - {} / {}: `{}`".format(key, target, shlex.join(cmd)))
    print("- raw output of every run: {}".format(b.logdir))

    # Anything odd: failures, wsbench notes, httpd's error log.
    print()
    print("### Observations")
    print()
    if b.failures:
        for f in b.failures:
            print("- FAILED: {}".format(f))
    if b.notes:
        for n in b.notes:
            print("- wsbench note: {}".format(n))
    lines = []
    try:
        with open(errlog) as f:
            lines = [ln.rstrip("\n") for ln in f
                     if not re.search(r"\[[a-z_]+:notice\]", ln)]
    except OSError:
        pass
    if lines:
        print("- httpd error_log ({}): {} line(s) above notice; first "
              "ones:".format(errlog, len(lines)))
        for ln in lines[:15]:
            print("    " + ln)
    else:
        print("- httpd error_log: nothing above notice")
    for what, srv in (("node", node), ("lws-echo", b.lws)):
        if not srv:
            continue
        try:
            with open(srv.log_path) as f:
                other = [ln.strip() for ln in f
                         if ln.strip() not in ("", "listening")]
            if other:
                print("- {} output: {}".format(what, " | ".join(other[:10])))
        except OSError:
            pass
    if b.lws_note:
        print("- libwebsockets rows skipped: " + b.lws_note)
    for name in BCAST_TARGETS:
        path = bc.errlogs.get(name)
        if not path:
            continue
        try:
            with open(path) as f:
                lines = [ln.rstrip("\n") for ln in f
                         if ln.strip() and ln.strip() != "listening" and
                         not re.search(r"\[([a-z_]+:)?(notice|info|debug)"
                                       r"\]", ln)]
        except OSError:
            lines = []
        what = {"mod_websocket": "httpd (broadcast) error_log",
                "node ws": "node-broadcast.js output",
                "nginx + nchan": "nginx error.log"}[name]
        if lines:
            print("- {} ({}): {} line(s) above notice; first ones:".format(
                what, path, len(lines)))
            for ln in lines[:10]:
                print("    " + ln)
        else:
            print("- {}: nothing above notice".format(what))
    if not b.failures and not b.notes:
        print("- no failed runs, no wsbench notes")
    elapsed = time.time() - started
    print("- CPU time used by processes other than this benchmark's during "
          "the run: {:.0f} s, {:.0f}% of the {} CPUs{}".format(
              max(others, 0.0), 100.0 * max(others, 0.0) / elapsed /
              (os.cpu_count() or 1), os.cpu_count(),
              " -- the machine was not idle: the figures are noisy"
              if others > 0.1 * elapsed * (os.cpu_count() or 1) else ""))
    print("- total time {:.0f} s".format(elapsed))


if __name__ == "__main__":
    sys.exit(main())
