#!/usr/bin/python3
"""Generate a ServerRoot for a local httpd running mod_websocket, and start,
run or stop it.  Used by `make start/stop/run` (the demo site) and by the
integration tests, so both run the same configuration.

Never touches the system's apache2 service or its configuration: everything
lives under --dir (conf/, htdocs/, logs/, run/), and the httpd binary is only
given that config file.

    serverroot.py --dir build/demo --port 8080 --demo start
    serverroot.py --dir build/demo stop
    serverroot.py --dir build/demo-8081 --port 8081 --demo \
        --redis redis://127.0.0.1:6379 start   # channels shared over Redis
"""
import argparse
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
MODDIR = "/usr/lib/apache2/modules"

# httpd modules a small site needs (Debian's apache2 builds them shared).
BASE_MODULES = [
    "authz_core", "authz_host", "authn_core", "auth_basic", "authn_file",
    "authz_user", "mime", "dir", "alias", "headers", "env",
    "setenvif", "status", "reqtimeout", "filter",
]

MPM_SETTINGS = {
    "event": """\
<IfModule mpm_event_module>
    StartServers            {start}
    # Twice the children MaxRequestWorkers needs: after a graceful restart
    # the old children keep their slots while their WebSockets close, and
    # the new ones need slots of their own meanwhile.
    ServerLimit             {server_limit}
    ThreadsPerChild         {threads}
    MaxRequestWorkers       {workers}
    MinSpareThreads         {min_spare}
    MaxSpareThreads         {workers}
    ThreadLimit             {threads}
    MaxConnectionsPerChild  0
{async_factor}</IfModule>
""",
    "worker": """\
<IfModule mpm_worker_module>
    StartServers            {start}
    ServerLimit             {server_limit}
    ThreadsPerChild         {threads}
    MaxRequestWorkers       {workers}
    MinSpareThreads         {min_spare}
    MaxSpareThreads         {workers}
    ThreadLimit             {threads}
    MaxConnectionsPerChild  0
</IfModule>
""",
    "prefork": """\
<IfModule mpm_prefork_module>
    StartServers            4
    MinSpareServers         2
    MaxSpareServers         8
    ServerLimit             {prefork_limit}
    MaxRequestWorkers       {workers}
    MaxConnectionsPerChild  0
</IfModule>
""",
}

ASYNC_FACTOR = """\
    # Parked WebSockets count against the child's connection limit,
    # ThreadsPerChild + idle threads x this factor (the default, 2, would
    # stop accepting after ~75 connections per child).
    AsyncRequestWorkerFactor {}
"""

DEMO_ENDPOINTS = """\
# The demo's WebSocket endpoints, beside normal pages on the same port.
WebSocketLoadHandler echo "{build}/handlers/echo.so"
WebSocketLoadHandler broadcast "{build}/handlers/broadcast.so"
WebSocketLoadHandler chat "{build}/handlers/chat.so"

<Location "/echo">
    WebSocketHandler echo
</Location>
# ws://host/broadcast?channel=NAME: every message to everyone on NAME, in
# every child process.
<Location "/broadcast">
    WebSocketHandler broadcast
</Location>
# JSON chat: rooms, names, presence and history (handlers/chat.md).
<Location "/chat">
    WebSocketHandler chat
    # Chat requests are small (chat.md): refuse big ones at the frame.
    WebSocketMaxMessageSize 64K
</Location>
# The whole server's WebSocket figures: HTML, ?json, ?refresh=N.
<Location "/websocket-status">
    SetHandler websocket-status
    Require local
</Location>
# curl -d 'hello' http://localhost:PORT/publish/NAME: to /broadcast's NAME.
<Location "/publish">
    SetHandler websocket-publish
    WebSocketNamespace /broadcast
    Require local
</Location>
"""


# What the React and Vue examples load without a build step, from npm
# (demo/package.json; ./build.sh installs it into demo/node_modules).
VENDOR = ["react/umd/react.development.js",
          "react-dom/umd/react-dom.development.js",
          "htm/dist/htm.module.js",
          "vue/dist/vue.esm-browser.prod.js"]


def copy_vendor(dest):
    """Copy VENDOR into dest (the demo's /vendor/); say so when npm's
    packages are not there (the examples' pages then cannot run)."""
    modules = os.path.join(TOP, "demo", "node_modules")
    os.makedirs(dest, exist_ok=True)
    missing = []
    for f in VENDOR:
        src = os.path.join(modules, f)
        if os.path.exists(src):
            shutil.copy(src, dest)
        else:
            missing.append(f)
    if missing:
        sys.stderr.write("serverroot: demo/node_modules lacks {} (./build.sh "
                         "installs it): the React and Vue examples will not "
                         "run\n".format(", ".join(missing)))


def run_user():
    """httpd refuses to run children as root; pick who they run as."""
    if os.getuid() != 0:
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        return user, group
    for user in ("www-data", "daemon", "nobody"):
        try:
            pw = pwd.getpwnam(user)
            return user, grp.getgrgid(pw.pw_gid).gr_name
        except KeyError:
            continue
    raise SystemExit("no unprivileged user to run httpd children as")


def raise_nofile():
    """Parked connections need one descriptor each: lift the soft limit to
    the hard one for us and the httpd we start (httpd does not do it)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The demo (`make start`) is sized to hold DEMO_WEBSOCKETS WebSockets with
# pages still answering: mpm_event counts each parked WebSocket against its
# child's connection limit (ThreadsPerChild x (1 + AsyncRequestWorkerFactor)
# with every thread idle), and a child cannot hold more connections than its
# open-files limit (httpd does not raise it; a container may cap it, 20,000
# here).  So: enough children that each stays under that limit, and the
# factor that fills each child to it.  mod_websocket keeps a quarter of the
# total for pages (WS00071 in the error log says what it came to).
DEMO_WEBSOCKETS = 50000
DEMO_THREADS = 25


def demo_sizing(nofile=None):
    """The mpm_event settings of the demo for DEMO_WEBSOCKETS: a dict of
    generate()'s servers, start_servers and async_factor.  nofile: a
    child's open-files limit (default: ours, raised to the hard limit, as
    the httpd we start inherits it)."""
    import resource
    if nofile is None:
        raise_nofile()
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile == resource.RLIM_INFINITY or nofile > 1 << 20:
        nofile = 1 << 20
    # Descriptors a child needs besides its connections: listeners, logs,
    # pipes, epoll and event fds, the hub's socket.
    per_child = max(nofile - 1000, 1000)
    total = DEMO_WEBSOCKETS * 4 // 3 + 1000     # and the quarter for pages
    servers = min(max(2, -(-total // per_child)), 8)
    factor = -(-total // (servers * DEMO_THREADS)) - 1
    return {"servers": servers, "start_servers": servers,
            "async_factor": max(factor, 400)}


def generate(d, port, mpm="event", demo=False, extra="", listen_host=None,
             threads=25, servers=2, log_level="info", tls=False, module=None,
             h2=False, async_factor=400, start_servers=1, channels=None):
    """Write d/conf/httpd.conf (and htdocs) and return the config path.
    start_servers: children of worker and event started at once and kept
    (1: the second one starts when the first is busy).
    module: the mod_websocket.so to load (default: the one in build/);
    h2: HTTP/2 (h2 over TLS, h2c in the clear) with WebSockets over it
    (RFC 8441, `H2WebSockets on`); async_factor: mpm_event's
    AsyncRequestWorkerFactor (None: httpd's default); channels: the
    WebSocketChannels value (e.g. "redis://127.0.0.1:6379 prefix=ws:"),
    None for the default (embedded)."""
    raise_nofile()
    d = os.path.abspath(d)
    for sub in ("conf", "logs", "run", "htdocs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if demo:
        src = os.path.join(TOP, "demo", "htdocs")
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(d, "htdocs"),
                            dirs_exist_ok=True)
        copy_vendor(os.path.join(d, "htdocs", "vendor"))
    index = os.path.join(d, "htdocs", "index.html")
    if not os.path.exists(index):
        with open(index, "w") as f:
            f.write("<!doctype html><title>mod_websocket</title>"
                    "<p>It works: a normal page.</p>\n")
    user, group = run_user()
    modules = "".join(
        'LoadModule {0}_module "{1}/mod_{0}.so"\n'.format(m, MODDIR)
        for m in ["mpm_" + mpm] + BASE_MODULES)
    if tls:
        modules += ('LoadModule socache_shmcb_module '
                    '"{0}/mod_socache_shmcb.so"\n'
                    'LoadModule ssl_module "{0}/mod_ssl.so"\n'
                    .format(MODDIR))
    if h2:
        modules += 'LoadModule http2_module "{0}/mod_http2.so"\n'.format(
            MODDIR)
    modules += 'LoadModule websocket_module "{}"\n'.format(
        module or os.path.join(BUILD, "modules", "mod_websocket.so"))
    listen = "{}:{}".format(listen_host, port) if listen_host else str(port)
    conf = """\
# Generated by tools/serverroot.py -- do not edit; rerun it instead.
ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{d}/run/httpd.pid"
ServerName localhost
Listen {listen}
User {user}
Group {group}
{modules}
ErrorLog "{d}/logs/error_log"
LogLevel warn websocket:{log_level}
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D ws=%{{WS_CLOSE_CODE}}e" ws
CustomLog "{d}/logs/access_log" ws
TypesConfig /etc/mime.types
DocumentRoot "{d}/htdocs"
DirectoryIndex index.html
Timeout 60
KeepAliveTimeout 5
ListenBacklog 4096
<Directory "{d}/htdocs">
    Require all granted
</Directory>
<Location "/server-status">
    SetHandler server-status
    Require ip 127.0.0.1 ::1
</Location>
{mpm_conf}
""".format(d=d, listen=listen, user=user, group=group, modules=modules,
           log_level=log_level,
           mpm_conf=MPM_SETTINGS[mpm].format(
               threads=threads, servers=servers, workers=threads * servers,
               start=start_servers, min_spare=threads,
               server_limit=2 * servers, prefork_limit=2 * threads * servers,
               async_factor=ASYNC_FACTOR.format(async_factor)
               if async_factor else ""))
    if tls:
        conf += """\
SSLEngine on
SSLCertificateFile "{d}/conf/server.crt"
SSLCertificateKeyFile "{d}/conf/server.key"
SSLSessionCache "shmcb:{d}/run/ssl_scache(512000)"
""".format(d=d)
        make_cert(d)
    if h2:
        conf += """\
# HTTP/2 (h2 over TLS, h2c in the clear) and WebSockets over it (RFC 8441).
Protocols {} http/1.1
H2WebSockets on
""".format("h2" if tls else "h2c")
    if channels:
        conf += """\
# Channels shared with every server using the same Redis and prefix.
WebSocketChannels {}
""".format(channels)
    if demo:
        conf += DEMO_ENDPOINTS.format(build=BUILD)
    conf += extra
    path = os.path.join(d, "conf", "httpd.conf")
    with open(path, "w") as f:
        f.write(conf)
    # Children run unprivileged: they must be able to read what we made.
    os.chmod(d, 0o755)
    return path


def make_cert(d):
    crt = os.path.join(d, "conf", "server.crt")
    key = os.path.join(d, "conf", "server.key")
    if os.path.exists(crt):
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_port(port, host="127.0.0.1", timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def httpd_bin(arg):
    if arg:
        return arg
    try:
        out = subprocess.run(["apxs", "-q", "SBINDIR"], capture_output=True,
                             text=True, check=True).stdout.strip()
        tgt = subprocess.run(["apxs", "-q", "TARGET"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return os.path.join(out, tgt)
    except (OSError, subprocess.CalledProcessError):
        return "/usr/sbin/apache2"


def read_pid(d):
    try:
        with open(os.path.join(d, "run", "httpd.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stop(d, timeout=15.0):
    pid = read_pid(d)
    if not pid or not alive(pid):
        print("not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    if alive(pid):
        print("httpd {} did not stop in {}s".format(pid, timeout))
        return 1
    print("stopped httpd {}".format(pid))
    return 0


def stop_command(d, port):
    """What stops the server in d: `make stop` for the demo's places
    (build/demo, build/demo-<port> for other ports)."""
    if d == os.path.join(BUILD, "demo"):
        return "make stop"
    if d == os.path.join(BUILD, "demo-{}".format(port)):
        return "make stop PORT={}".format(port)
    return "{} --dir {} stop".format(sys.argv[0], d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--mpm", default="event",
                    choices=sorted(MPM_SETTINGS.keys()))
    ap.add_argument("--httpd")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--tls", action="store_true",
                    help="TLS (a self-signed certificate made on first "
                    "use), HTTP/2 and WebSockets over HTTP/2")
    ap.add_argument("--redis", metavar="URL",
                    help="channels over Redis (WebSocketChannels URL "
                    "[options]): demos on other ports with the same URL "
                    "share channels, chat rooms and history")
    ap.add_argument("action", choices=["config", "start", "stop", "run"])
    a = ap.parse_args()
    d = os.path.abspath(a.dir)
    if a.action == "stop":
        return stop(d)
    pid = read_pid(d)
    if pid and alive(pid):
        print("already running (pid {}); `{}` first".format(
            pid, stop_command(d, a.port)))
        return 1
    # The demo runs all its children from the start (at least two, as
    # Debian's apache2 does: its channels and chat reach across them),
    # sized for DEMO_WEBSOCKETS.
    sizing = demo_sizing() if a.demo else {}
    conf = generate(d, a.port, mpm=a.mpm, demo=a.demo, tls=a.tls, h2=a.tls,
                    channels=a.redis, **sizing)
    httpd = httpd_bin(a.httpd)
    check = subprocess.run([httpd, "-t", "-f", conf], capture_output=True,
                           text=True)
    if check.returncode != 0:
        sys.stderr.write(check.stderr)
        return 1
    if a.action == "config":
        print(conf)
        return 0
    if a.action == "run":
        os.execv(httpd, [httpd, "-f", conf, "-DFOREGROUND"])
    subprocess.run([httpd, "-f", conf, "-k", "start"], check=True)
    if not wait_port(a.port):
        sys.stderr.write("httpd did not answer on port {}; see {}\n".format(
            a.port, os.path.join(d, "logs", "error_log")))
        return 1
    scheme = "https" if a.tls else "http"
    stop_cmd = stop_command(d, a.port)
    ws = "wss" if a.tls else "ws"
    print("demo up: {2}://localhost:{0}/  (WebSocket: {3}://localhost:{0}"
          "/echo, /broadcast?channel=NAME, /chat{4}); publish: curl -d "
          "hello {2}://localhost:{0}/publish/NAME; status: {2}://localhost:"
          "{0}/websocket-status (?json);{6} logs in {1}/logs; "
          "`{5}` stops it".format(
              a.port, d, scheme, ws, "; also over HTTP/2" if a.tls else "",
              stop_cmd, " channels over Redis ({}), shared with every demo "
              "using it;".format(a.redis) if a.redis else "")
          if a.demo else
          "up: {2}://localhost:{0}/; logs in {1}/logs; `{5}` stops it".format(
              a.port, d, scheme, ws, "", stop_cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
