#!/usr/bin/python3
"""mod_websocket's benchmark (`make bench`): httpd + mod_websocket against
Node's `ws`, measured by tools/wsbench.c.

In one run it
  * starts httpd (mpm_event, ThreadsPerChild 50, ServerLimit 1 -- one child,
    because broadcast.so's members are per child --
    AsyncRequestWorkerFactor 400, Timeout 60, LogLevel warn) with /echo and,
    if build/handlers/broadcast.so exists, /broadcast, on a free loopback
    port, and tools/node-echo.js on another;
  * pins the servers to CPU 0 and the client to CPU 1 (taskset, when there
    are two CPUs or more);
  * runs 3 rounds of echo (100 x 1 x 32 B, 100 x 8 x 32 B, 1000 x 1 x 32 B
    text; connections x messages in flight x size), alternating the targets;
  * holds 10,000 idle connections (source addresses 127.0.0.1-4) against
    httpd, then against Node, for the server's RSS per connection and
    thread count;
  * broadcasts to 1,000 receivers (httpd only);
  * prints one markdown table (medians of the rounds) and the exact
    commands and settings used.

Both servers are stopped at the end, also on errors and interrupts (SIGTERM
to the PIDs this script started, nothing else).  Every figure printed comes
from the measurements of this run.
"""
import argparse
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
IDLE_CONNS = 10000
IDLE_SECONDS = 10
IDLE_SRC = "127.0.0.1-127.0.0.4"
BCAST_RECEIVERS = 1000
BCAST_RATE = 10
BCAST_SIZE = 32
BCAST_SECONDS = 10

HTTPD_EXTRA = """\
AsyncRequestWorkerFactor 400
WebSocketLoadHandler echo "{build}/handlers/echo.so"
<Location /echo>
    WebSocketHandler echo
</Location>
"""
HTTPD_BCAST = """\
WebSocketLoadHandler broadcast "{build}/handlers/broadcast.so"
<Location /broadcast>
    WebSocketHandler broadcast
</Location>
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
        elif res["mode"] == "idle":
            summary = ("connected {:.0f} failed {:.0f} still_open {:.0f}  "
                       "RSS {:+.2f} KB/conn  threads {:.0f}").format(
                res["connected"], res["failed"], res["still_open"],
                res.get("rss_per_conn_kb", 0), res.get("threads", 0))
        elif res["mode"] == "broadcast":
            summary = ("sent {:.0f}  received {:.0f}/{:.0f}  reached {:.0f}  "
                       "p50 {:.3f}  p99 {:.3f}  max {:.3f} ms  errors {:.0f}"
                       ).format(res["sent"], res["received"], res["expected"],
                                res["reached"], res["p50_ms"], res["p99_ms"],
                                res["max_ms"], res["errors"])
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--httpd", default="/usr/sbin/apache2")
    ap.add_argument("--wsbench", default=os.path.join(BUILD, "tools",
                                                      "wsbench"))
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--dir", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--quick", action="store_true",
                    help="a short smoke run (1 round, 2 s, 2000 idle), to "
                         "check the setup; not for figures")
    a = ap.parse_args()
    if a.quick:
        global ROUNDS, ECHO_SECONDS, IDLE_CONNS, IDLE_SECONDS, BCAST_SECONDS
        ROUNDS, ECHO_SECONDS, IDLE_CONNS, IDLE_SECONDS, BCAST_SECONDS = \
            1, 2, 2000, 2, 2
    a.dir = os.path.abspath(a.dir)
    a.wsbench = os.path.abspath(a.wsbench)
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

    have_bcast = os.path.exists(os.path.join(BUILD, "handlers",
                                             "broadcast.so"))
    have_node = os.path.isdir(WS_MODULE)

    hport = free_port()
    nport = free_port({hport})
    extra = HTTPD_EXTRA.format(build=BUILD)
    if have_bcast:
        extra += HTTPD_BCAST.format(build=BUILD)
    conf = serverroot.generate(os.path.join(a.dir, "httpd"), hport,
                               mpm="event", extra=extra,
                               listen_host="127.0.0.1", threads=50,
                               servers=1, log_level="warn")
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
    try:
        httpd_argv = b.server_pin + [a.httpd, "-f", conf, "-DFOREGROUND"]
        httpd = Server("httpd", httpd_argv,
                       os.path.join(a.dir, "httpd.out"))
        servers.append(httpd)
        if not serverroot.wait_port(hport, proc=httpd.proc):
            raise RuntimeError("httpd did not start; see {} and {}".format(
                errlog, httpd.log_path))
        node_argv = b.server_pin + [a.node, os.path.join(TOOLS,
                                                         "node-echo.js"),
                                    str(nport)]
        if have_node:
            node = Server("node", node_argv, os.path.join(a.dir, "node.out"))
            servers.append(node)
            deadline = time.time() + 15
            while time.time() < deadline and node.alive():
                with open(node.log_path) as f:
                    if "listening" in f.read():
                        break
                time.sleep(0.05)
            if not (node.alive() and serverroot.wait_port(nport,
                                                          proc=node.proc)):
                raise RuntimeError("node-echo.js did not start; see " +
                                   node.log_path)
        else:
            print("bench: NOTE: {} is missing (npm install --prefix "
                  "tests/node ws@8); Node runs skipped".format(WS_MODULE))

        targets = [("mod_websocket", hport, httpd)]
        if node:
            targets.append(("node ws", nport, node))
        print("bench: httpd pid {} on 127.0.0.1:{}{}; {}".format(
            httpd.pid, hport,
            "; node pid {} on 127.0.0.1:{}".format(node.pid, nport)
            if node else "", "pinning: " + pinning))

        # -- echo, 3 rounds, alternating the targets ----------------------
        for rnd in range(1, ROUNDS + 1):
            print("echo round {}/{}".format(rnd, ROUNDS))
            order = targets if rnd % 2 else list(reversed(targets))
            for c, k, s in ECHO_CASES:
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
                        "-w", str(ECHO_WARMUP)],
                        timeout=ECHO_SECONDS + ECHO_WARMUP + 90)

        # -- idle: 10,000 connections held --------------------------------
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

        # -- broadcast to 1,000 receivers (httpd) -------------------------
        if have_bcast:
            print("broadcast {} receivers, {} msg/s, {}s".format(
                BCAST_RECEIVERS, BCAST_RATE, BCAST_SECONDS))
            if httpd.alive():
                b.wsbench("broadcast", "mod_websocket", [
                    "broadcast", "--host", "127.0.0.1", "--port", str(hport),
                    "--path", "/broadcast", "-c", str(BCAST_RECEIVERS),
                    "--rate", str(BCAST_RATE), "-s", str(BCAST_SIZE),
                    "--text", "-d", str(BCAST_SECONDS),
                    "--pid", str(httpd.pid)],
                    timeout=BCAST_SECONDS + 150)
            else:
                b.failures.append("broadcast: httpd is gone")
        else:
            print("broadcast: SKIPPED -- build/handlers/broadcast.so does "
                  "not exist (yet)")
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
           have_bcast, errlog, started, load_start, others)
    return 1 if b.failures else 0


def med(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def report(b, a, conf, extra, hport, nport, httpd, node, pinning, nofile,
           have_bcast, errlog, started, load_start, others):
    print()
    print("## mod_websocket benchmark")
    print()
    print("Echo rows: median of {} rounds per figure (each figure's median "
          "on its own); errors summed over the rounds. Latency is the round "
          "trip (echo) or send-to-delivery (broadcast), in ms. MB/s is "
          "payload echoed, one way.".format(ROUNDS))
    print()
    print("| Test | Server | msgs/s | MB/s | p50 ms | p99 ms | p99.9 ms "
          "| max ms | errors | notes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    names = ["mod_websocket"] + (["node ws"] if node else [])
    for c, k, s in ECHO_CASES:
        key = "echo {}x{}x{}".format(c, k, s)
        base = None
        for name in names:
            runs = b.results.get((key, name), [])
            label = "echo {} conns x {} in flight x {} B text".format(c, k, s)
            if not runs:
                print("| {} | {} | not run | | | | | | | |".format(label, name))
                continue
            rate = med(runs, "msgs_per_s")
            if base is None:
                base = rate
                rel = ""
            else:
                rel = "; mod_websocket/node = {:.2f}".format(base / rate) \
                    if rate else ""
            print("| {} | {} | {:.0f} | {:.3f} | {} | {} | {} | {} | {:.0f} "
                  "| {} rounds: {} msgs/s{} |".format(
                      label, name, rate, med(runs, "mb_per_s"),
                      fmt(med(runs, "p50_ms")), fmt(med(runs, "p99_ms")),
                      fmt(med(runs, "p999_ms")), fmt(med(runs, "max_ms")),
                      sum(r["errors"] for r in runs), len(runs),
                      "/".join("{:.0f}".format(r["msgs_per_s"])
                               for r in runs), rel))
    for name in names:
        runs = b.results.get(("idle", name), [])
        label = "idle {} conns held {} s".format(IDLE_CONNS, IDLE_SECONDS)
        if not runs:
            print("| {} | {} | not run | | | | | | | |".format(label, name))
            continue
        r = runs[0]
        print("| {} | {} | - | - | - | - | - | - | {:.0f} | connected {:.0f}, "
              "failed {:.0f}, still open {:.0f}; server RSS {:.1f} MB -> "
              "{:.1f} MB after connecting ({:.2f} KB/conn) -> {:.1f} MB idle "
              "= **{:.2f} KB per idle conn**; threads {:.0f} -> {:.0f} in "
              "{:.0f} process(es); connect {:.1f} s |".format(
                  label, name, r["errors"], r["connected"], r["failed"],
                  r["still_open"], r["rss_before_kb"] / 1024.0,
                  r["rss_after_kb"] / 1024.0,
                  r.get("rss_per_conn_connect_kb", 0),
                  r["rss_end_kb"] / 1024.0, r["rss_per_conn_kb"],
                  r["threads_before"], r["threads"], r["procs"],
                  r["connect_s"]))
    if have_bcast:
        runs = b.results.get(("broadcast", "mod_websocket"), [])
        label = "broadcast {} receivers, {} msg/s x {} B, {} s".format(
            BCAST_RECEIVERS, BCAST_RATE, BCAST_SIZE, BCAST_SECONDS)
        if runs:
            r = runs[0]
            print("| {} | mod_websocket | {:.0f} deliveries/s | - | {} | {} "
                  "| {} | {} | {:.0f} | sent {:.0f}; deliveries {:.0f} of "
                  "{:.0f} expected ({:.1f}%); receivers connected {:.0f}, "
                  "reached {:.0f}, got all {:.0f}, still open {:.0f}; "
                  "httpd children {:.0f}{} |".format(
                      label, r["deliveries_per_s"], fmt(r["p50_ms"]),
                      fmt(r["p99_ms"]), fmt(r["p999_ms"]), fmt(r["max_ms"]),
                      r["errors"], r["sent"], r["received"], r["expected"],
                      100.0 * r["received"] / r["expected"]
                      if r["expected"] else 0.0,
                      r["connected"], r["reached"], r["complete"],
                      r["still_open"], r["procs"] - 1,
                      " (broadcast.so's members are per child: only "
                      "receivers in the sender's child get messages)"
                      if r["reached"] < r["connected"] else ""))
        else:
            print("| {} | mod_websocket | not run | | | | | | | |".format(
                label))
    else:
        print("| broadcast | mod_websocket | skipped | | | | | | | "
              "build/handlers/broadcast.so missing |")

    print()
    print("### Settings and commands")
    print()
    print("- host: {} CPUs, {}, Linux {}; load average at start {}, at end "
          "{}".format(os.cpu_count(), platform.machine(), platform.release(),
                      "/".join(load_start),
                      "/".join(open("/proc/loadavg").read().split()[:3])))
    print("- pinning: {}; open-files limit (ulimit -n) {}".format(pinning,
                                                                  nofile))
    print("- httpd: {} ({}), mpm_event, ThreadsPerChild 50, ServerLimit 1 "
          "(MaxRequestWorkers 50; one child so that every broadcast receiver "
          "shares the sender's child), AsyncRequestWorkerFactor 400, "
          "Timeout 60, "
          "LogLevel warn; config {}".format(a.httpd, version_of(
              [a.httpd, "-v"]), conf))
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
    print("- client: {} (one thread, epoll); echo: {} s measured after {} s "
          "warm-up, each connection keeps its messages in flight".format(
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
    if node:
        try:
            with open(node.log_path) as f:
                other = [ln.strip() for ln in f if ln.strip() != "listening"]
            if other:
                print("- node output: " + " | ".join(other[:10]))
        except OSError:
            pass
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
