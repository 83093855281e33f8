"""`make install` and `make uninstall` as an admin meets them, always into
a scratch DESTDIR under build/test (never the real /usr or /etc): the
installed files configure a server that passes configtest, starts and
echoes on ws://.../echo (the README's install section ends there); an
edited configuration file survives a second install, with the new one
beside it as .dist and a line saying so; every install writes new inodes
(a running httpd keeps the files it mapped, and keeps serving); uninstall
leaves nothing behind but the edited file it says it kept."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

import serverroot
import wsutil
from conftest import (BUILD, HTTPD, TESTROOT, TOP, fresh_dir, httpd_env,
                      stop_server)

LIBEXEC = "usr/lib/apache2/modules"
MODS = "etc/apache2/mods-available"
CONFS = "etc/apache2/conf-available"
SHARE = "usr/share/mod_websocket"

# What the Debian layout installs (relative to DESTDIR), shipped copies of
# the configuration files included.
DEBIAN_FILES = {
    LIBEXEC + "/mod_websocket.so",
    LIBEXEC + "/websocket/echo.so",
    LIBEXEC + "/websocket/broadcast.so",
    LIBEXEC + "/websocket/chat.so",
    "usr/include/apache2/ws_plugin_api.h",
    SHARE + "/ws-client.js",
    SHARE + "/react/useWebSocket.js",
    SHARE + "/vue/useWebSocket.js",
    SHARE + "/conf/websocket.load",
    SHARE + "/conf/websocket.conf",
    SHARE + "/conf/websocket-echo.conf",
    MODS + "/websocket.load",
    MODS + "/websocket.conf",
    CONFS + "/websocket-echo.conf",
}


def make(target, destdir, *args):
    """make TARGET DESTDIR=destdir (destdir under build/test: never the
    system) -> (exit status, output)."""
    assert os.path.abspath(destdir).startswith(TESTROOT + os.sep)
    proc = subprocess.run(
        ["make", "-s", "-C", TOP, target, "DESTDIR=" + destdir,
         "BUILD=" + BUILD] + list(args),
        capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def install(destdir, *args):
    rc, out = make("install", destdir, *args)
    assert rc == 0, out
    return out


def tree(root):
    """{relative path: bytes} of the files and links under root, and the
    set of its directories."""
    files, dirs = {}, set()
    for d, subdirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel != ".":
            dirs.add(rel)
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p):
                files[os.path.relpath(p, root)] = os.readlink(p)
            else:
                with open(p, "rb") as f:
                    files[os.path.relpath(p, root)] = f.read()
    return files, dirs


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def real_paths(text, destdir):
    """text with the absolute paths of the files installed under destdir
    moved there: what the installed configuration says of /usr/lib/...,
    for a server that runs them from destdir."""
    files, _ = tree(destdir)
    for rel in sorted(files, key=len, reverse=True):
        text = re.sub(r"(?<![\w/.-])/" + re.escape(rel) + r"(?![\w/.-])",
                      lambda m: os.path.join(destdir, rel), text)
    return text


def mapped(pid, path):
    """How process pid maps path: "current", "deleted" (an inode since
    replaced or removed) or None."""
    with open("/proc/{}/maps".format(pid)) as f:
        lines = [line.rstrip("\n") for line in f if path in line]
    if not lines:
        return None
    return "deleted" if all(line.endswith("(deleted)") for line in lines) \
        else "current"


def ancestors(paths):
    """Every directory above each path (relative paths)."""
    out = set()
    for p in paths:
        p = os.path.dirname(p)
        while p:
            out.add(p)
            p = os.path.dirname(p)
    return out


def empty_destdir(name):
    """A DESTDIR of this test's, empty."""
    dest = os.path.join(TESTROOT, name)
    fresh_dir(dest)
    os.makedirs(dest)
    return dest


def location(model, path):
    return next(loc for loc in model["locations"] if loc["path"] == path)


def test_install_serves_echo_keeps_edits_and_uninstalls_cleanly(
        httpd_factory, monkeypatch):
    dest = empty_destdir("install-destdir")

    out = install(dest, "LAYOUT=debian")
    files, _ = tree(dest)
    assert set(files) == DEBIAN_FILES, out
    assert "make install: kept" not in out
    assert "next, a2enmod websocket" in out

    # The installed snippets name the installed paths: moved under DESTDIR
    # (every path they load from must then exist), they configure a
    # server.  websocket.load loads the module, in place of
    # serverroot's own LoadModule line.
    conf_dir = os.path.join(TESTROOT, "install-conf")
    fresh_dir(conf_dir)
    os.makedirs(conf_dir)
    confs = {}
    for rel in (MODS + "/websocket.load", MODS + "/websocket.conf",
                CONFS + "/websocket-echo.conf"):
        with open(os.path.join(dest, rel)) as f:
            text = real_paths(f.read(), dest)
        for m in re.finditer(r"(?m)^\s*(?:LoadModule|WebSocketLoadHandler)"
                             r" \S+ (\S+)", text):
            assert m.group(1).startswith(dest), m.group(0)
            assert os.path.exists(m.group(1)), m.group(0)
        path = os.path.join(conf_dir, os.path.basename(rel))
        with open(path, "w") as f:
            f.write(text)
        confs[os.path.basename(rel)] = path
    assert "LoadModule websocket_module" in read(confs["websocket.load"])

    generate = serverroot.generate

    def generate_with_load_file(d, port, **kw):
        path = generate(d, port, **kw)
        with open(path) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^LoadModule websocket_module .*$",
                          lambda m: 'Include "{}"'.format(
                              confs["websocket.load"]), text)
        assert n == 1
        with open(path, "w") as f:
            f.write(text)
        return path
    monkeypatch.setattr(serverroot, "generate", generate_with_load_file)

    srv = httpd_factory("install", 'Include "{}"\nInclude "{}"\n'.format(
        confs["websocket.conf"], confs["websocket-echo.conf"]))
    check = subprocess.run([HTTPD, "-t", "-f", srv.conf],
                           capture_output=True, text=True, timeout=60,
                           env=httpd_env())
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Syntax OK" in check.stdout + check.stderr
    assert 'Include "{}"'.format(confs["websocket.load"]) in read(srv.conf)
    assert wsutil.run(wsutil.echo_once(srv.port, "/echo", "hello")) \
        == "hello"
    assert wsutil.http_get(srv.port, "/echo").status == 426
    # The shipped websocket.conf serves the status page (from here only)
    # and counts the session that just ended.
    page = wsutil.http_get(srv.port, "/websocket-status?json")
    assert page.status == 200
    model = json.loads(page.body)
    assert location(model, "/echo")["accepted"] >= 1

    # The admin edits websocket.conf.  Reinstalling the same version
    # keeps it without a word (nothing new to merge).
    conf = os.path.join(dest, MODS, "websocket.conf")
    with open(conf, "a") as f:
        f.write("# the admin's own line\n")
    edited = read(conf, "rb")
    out = install(dest, "LAYOUT=debian")
    assert "make install: kept" not in out, out
    assert "(edited: kept; this version ships the same)" in out
    assert read(conf, "rb") == edited
    assert not os.path.exists(conf + ".dist")
    # A new version (as if the last install had shipped something else),
    # with the server running: the edit is kept, the new version beside
    # it, one line says so; the module and handlers are new files.
    shipped = os.path.join(dest, SHARE, "conf", "websocket.conf")
    with open(shipped, "a") as f:
        f.write("# what an older version shipped\n")
    inodes = {rel: os.stat(os.path.join(dest, rel)).st_ino
              for rel in (LIBEXEC + "/mod_websocket.so",
                          LIBEXEC + "/websocket/echo.so")}
    out = install(dest, "LAYOUT=debian")
    kept = [line for line in out.splitlines()
            if line.startswith("make install: kept")]
    assert kept == ["make install: kept {0}: it was edited; this version's "
                    "is {0}.dist (merge what you need into yours, then "
                    "delete it)".format(conf)], out
    assert read(conf, "rb") == edited
    assert read(conf + ".dist", "rb") == \
        read(os.path.join(dest, SHARE, "conf", "websocket.conf"), "rb")
    for rel, ino in inodes.items():
        assert os.stat(os.path.join(dest, rel)).st_ino != ino, rel
    # Nothing was written into the files the server maps: it still maps
    # and serves the old ones, and a graceful restart (the README's way to
    # load new files) loads the new ones.
    module = os.path.join(dest, LIBEXEC, "mod_websocket.so")
    assert mapped(srv.proc.pid, module) == "deleted"
    assert wsutil.run(wsutil.echo_once(srv.port, "/echo", "still here")) \
        == "still here"
    os.kill(srv.proc.pid, signal.SIGUSR1)      # graceful, by our PID
    assert srv.wait_log(r"AH00493: SIGUSR1 received", timeout=10)
    deadline = time.time() + 15
    while True:
        try:
            assert wsutil.run(wsutil.echo_once(srv.port, "/echo", "again")) \
                == "again"
            break
        except (OSError, AssertionError) as e:
            if time.time() > deadline:
                raise AssertionError("no echo after a graceful restart: "
                                     "{}".format(e))
            time.sleep(0.2)
    assert mapped(srv.proc.pid, module) == "current"
    stop_server(srv)

    # Uninstall keeps the edited file (saying so) and nothing else.
    rc, out = make("uninstall", dest, "LAYOUT=debian")
    assert rc == 0, out
    assert "make uninstall: kept {}: it was edited".format(conf) in out
    files, dirs = tree(dest)
    assert set(files) == {MODS + "/websocket.conf"}, out
    assert files[MODS + "/websocket.conf"] == edited
    # Of the directories, only httpd's own places (made by install in the
    # empty DESTDIR) remain, empty: none of mod_websocket's own.
    assert dirs <= ancestors(DEBIAN_FILES) - {LIBEXEC + "/websocket", SHARE,
                                              SHARE + "/react",
                                              SHARE + "/vue",
                                              SHARE + "/conf"}, dirs


# A system with httpd's places and other packages' files in them.
SYSTEM = {
    LIBEXEC + "/mod_alias.so": b"not ours\n",
    "usr/include/apache2/httpd.h": b"/* not ours */\n",
    MODS + "/alias.load": b"LoadModule alias_module x\n",
    CONFS + "/javascript-common.conf": b"# not ours\n",
    "etc/apache2/conf.d/other.conf": b"# not ours\n",
    "usr/share/doc/other/README": b"not ours\n",
}


@pytest.mark.parametrize("layout", ["debian", "conf.d"])
def test_uninstall_leaves_the_system_as_it_was(layout):
    dest = os.path.join(TESTROOT, "install-system-" + layout)
    fresh_dir(dest)
    for rel, data in SYSTEM.items():
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        with open(os.path.join(dest, rel), "wb") as f:
            f.write(data)
    before = tree(dest)

    install(dest, "LAYOUT=" + layout)
    files, _ = tree(dest)
    if layout == "conf.d":
        text = read(os.path.join(dest, "etc/apache2/conf.d/websocket.conf"))
        # One file, the module loaded before its <IfModule> block.
        assert text.index("LoadModule websocket_module") \
            < text.index("<IfModule websocket_module>")
        # The echo snippet is not enabled on every site behind the
        # admin's back: it waits in /usr/share to be copied.
        assert SHARE + "/websocket-echo.conf" in files
        assert not [f for f in files if "websocket-echo" in f
                    and f.startswith("etc/")]
    install(dest, "LAYOUT=" + layout)        # a second install changes
    rc, out = make("uninstall", dest, "LAYOUT=" + layout)   # nothing here
    assert rc == 0, out
    assert "make uninstall: kept" not in out
    assert tree(dest) == before


def test_install_writes_its_own_paths_into_the_configuration():
    dest = empty_destdir("install-paths")
    install(dest, "LAYOUT=debian", "WS_DATADIR=/opt/wsdata",
            "HTTPD_LIBEXECDIR=/opt/httpd/modules")
    assert "LoadModule websocket_module /opt/httpd/modules/mod_websocket.so" \
        in read(os.path.join(dest, MODS, "websocket.load"))
    text = read(os.path.join(dest, MODS, "websocket.conf"))
    assert "WebSocketLoadHandler echo /opt/httpd/modules/websocket/echo.so" \
        in text
    assert "Alias /ws-client.js /opt/wsdata/ws-client.js" in text
    assert "/usr/lib/apache2" not in text
    assert os.path.exists(os.path.join(dest, "opt/wsdata/ws-client.js"))
    rc, out = make("uninstall", dest, "LAYOUT=debian",
                   "WS_DATADIR=/opt/wsdata",
                   "HTTPD_LIBEXECDIR=/opt/httpd/modules")
    assert rc == 0, out
    assert tree(dest)[0] == {}


def test_a_deleted_configuration_file_is_not_brought_back():
    dest = empty_destdir("install-deleted")
    install(dest, "LAYOUT=debian")
    echo = os.path.join(dest, CONFS, "websocket-echo.conf")
    os.unlink(echo)
    # The same version again: left absent, nothing to say.
    out = install(dest, "LAYOUT=debian")
    assert not os.path.exists(echo)
    assert not os.path.exists(echo + ".dist")
    assert "left absent" in out and "make install: left" not in out
    # A new version of it: left absent, the new one beside, said once.
    with open(os.path.join(dest, SHARE, "conf", "websocket-echo.conf"),
              "a") as f:
        f.write("# what an older version shipped\n")
    out = install(dest, "LAYOUT=debian")
    assert not os.path.exists(echo)
    assert os.path.exists(echo + ".dist")
    assert "make install: left {} absent".format(echo) in out
    rc, out = make("uninstall", dest, "LAYOUT=debian")
    assert rc == 0, out
    assert tree(dest)[0] == {}


def test_uninstall_refuses_while_the_module_is_enabled():
    dest = empty_destdir("install-enabled")
    install(dest, "LAYOUT=debian")
    # What a2enmod websocket makes.
    enabled = os.path.join(dest, "etc/apache2/mods-enabled")
    os.makedirs(enabled)
    os.symlink("../mods-available/websocket.load",
               os.path.join(enabled, "websocket.load"))
    out = install(dest, "LAYOUT=debian")
    assert "websocket is enabled: apachectl graceful loads the new files" \
        in out
    before = tree(dest)
    rc, out = make("uninstall", dest, "LAYOUT=debian")
    assert rc != 0
    assert "is enabled: run a2dismod websocket" in out
    assert "nothing removed" in out
    assert tree(dest) == before
