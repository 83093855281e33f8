"""Bad configuration is refused by `apache2 -t` (configtest) with a message
that names the file, the line and the reason; good configuration passes."""
import os
import re
import subprocess

import pytest

from conftest import (BAD_ABI_SO, ECHO_SO, HTTPD, LOAD_HANDLERS, MAIN_SITE,
                      MODULE_SO, httpd_env,
                      NO_SYMBOL_SO, TEST_SO, TESTROOT, fresh_dir,
                      with_build_paths)
import serverroot


def configtest(name, extra):
    d = os.path.join(TESTROOT, "config-" + name)
    fresh_dir(d)
    conf = serverroot.generate(d, 1, mpm="event",
                               extra=with_build_paths(extra),
                               listen_host="127.0.0.1", module=MODULE_SO)
    proc = subprocess.run([HTTPD, "-t", "-f", conf], capture_output=True,
                          text=True, timeout=60, env=httpd_env())
    return proc.returncode, proc.stdout + proc.stderr, conf


def line_of(conf, text):
    """1-based number of the first line of conf containing text, searching
    the generated tail only (after our own LoadHandler lines if any)."""
    with open(conf) as f:
        lines = f.read().split("\n")
    hits = [i + 1 for i, line in enumerate(lines) if text in line]
    assert hits, "{!r} not in {}".format(text, conf)
    return hits[-1]


def assert_refused(name, extra, at, *messages):
    rc, out, conf = configtest(name, extra)
    assert rc != 0, "configtest passed:\n" + out
    n = line_of(conf, at)
    assert re.search(r"Syntax error on line {} of {}".format(
        n, re.escape(conf)), out), out
    for m in messages:
        assert re.search(m, out), "{!r} not in:\n{}".format(m, out)
    return out


def test_main_test_site_configuration_passes_configtest(tmp_path):
    rc, out, _ = configtest("good-main", MAIN_SITE.replace(
        "@ROOT@", str(tmp_path)))
    assert rc == 0, out
    assert "Syntax OK" in out


def test_handler_never_loaded_is_refused():
    assert_refused("unloaded", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler nosuchhandler
</Location>
""", "WebSocketHandler nosuchhandler", r"WebSocketHandler",
                   r"no handler named 'nosuchhandler'",
                   r"WebSocketLoadHandler")


def test_handler_used_before_its_load_line_is_refused():
    assert_refused("load-after-use", """
<Location "/x">
    WebSocketHandler echo
</Location>
WebSocketLoadHandler echo "{}"
""".format(ECHO_SO), "WebSocketHandler echo", r"no handler named 'echo'")


def test_load_handler_of_missing_file_is_refused():
    assert_refused("missing-file", """
WebSocketLoadHandler ghost /nonexistent/dir/ghost.so
""", "WebSocketLoadHandler ghost", r"WebSocketLoadHandler",
                   r"cannot load /nonexistent/dir/ghost\.so")


def test_load_handler_without_ws_handler_symbol_is_refused():
    assert_refused("no-symbol", """
WebSocketLoadHandler nosym "{}"
""".format(NO_SYMBOL_SO), "WebSocketLoadHandler nosym",
                   r"no_symbol\.so", r"ws_handler")


def test_load_handler_built_for_another_abi_is_refused():
    assert_refused("bad-abi", """
WebSocketLoadHandler badabi "{}"
""".format(BAD_ABI_SO), "WebSocketLoadHandler badabi",
                   r"bad_abi\.so", r"ABI version 99", r"version 1")


def test_load_handler_twice_under_one_name_is_refused():
    assert_refused("dup-name", LOAD_HANDLERS + """
WebSocketLoadHandler echo "{}"
""".format(TEST_SO), 'WebSocketLoadHandler echo "{}"'.format(TEST_SO),
                   r"already loaded")


def test_load_handler_inside_location_is_refused():
    assert_refused("load-in-location", """
<Location "/x">
    WebSocketLoadHandler echo "{}"
</Location>
""".format(ECHO_SO), "WebSocketLoadHandler echo", r"WebSocketLoadHandler",
                   r"not allowed|cannot occur")


@pytest.mark.parametrize("directive", ["WebSocketMaxMessageSize",
                                       "WebSocketMaxFrameSize"])
@pytest.mark.parametrize("value,message", [
    ("0", r"'0' is not a positive size"),
    ("abc", r"'abc' is not a positive size"),
    ("-5", r"'-5' is not a positive size"),
    ("10X", r"unknown unit"),
    ("99999999999G", r"too large"),
], ids=["zero", "abc", "negative", "unit", "huge"])
def test_bad_size_is_refused(directive, value, message):
    assert_refused("size-{}-{}".format(directive, value), LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler echo
    {} {}
</Location>
""".format(directive, value), "{} {}".format(directive, value),
                   directive, message)


@pytest.mark.parametrize("origin", ["example.com", "https://example.com/path",
                                    "://example.com", "https://"])
def test_allowed_origin_without_scheme_or_with_path_is_refused(origin):
    assert_refused("origin-{}".format(re.sub(r"\W", "_", origin)),
                   LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler echo
    WebSocketAllowedOrigins https://ok.example {}
</Location>
""".format(origin), "WebSocketAllowedOrigins", r"WebSocketAllowedOrigins",
                   r"is not an origin", r"scheme://host")


def test_handler_option_refused_by_check_option_is_refused():
    assert_refused("bad-option", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler test
    WebSocketHandlerOption bad x
</Location>
""", "WebSocketHandlerOption bad x", r"WebSocketHandlerOption",
                   r"handler test", r"option bad",
                   r"this option is always refused")


def test_handler_option_before_handler_line_is_checked_at_handler_line():
    assert_refused("bad-option-first", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandlerOption bad x
    WebSocketHandler test
</Location>
""", "WebSocketHandler test", r"this option is always refused")


def test_handler_option_in_inner_location_is_checked_too():
    assert_refused("bad-option-inherited", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler test
</Location>
<Location "/x/inner">
    WebSocketHandlerOption bad x
</Location>
""", "WebSocketHandlerOption bad x", r"this option is always refused")


def test_handler_options_accepted_by_check_option_pass():
    rc, out, _ = configtest("good-option", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandlerOption greeting first
    WebSocketHandler test
    WebSocketHandlerOption other "with spaces"
</Location>
""")
    assert rc == 0, out


def test_bad_plain_requests_value_is_refused():
    assert_refused("plain", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler echo
    WebSocketPlainRequests Sometimes
</Location>
""", "WebSocketPlainRequests Sometimes", r"'Sometimes' is not Refuse or Serve")


def test_subprotocol_that_is_not_a_token_is_refused():
    assert_refused("proto", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler echo
    WebSocketProtocols chat "v2,v3"
</Location>
""", "WebSocketProtocols chat", r"'v2,v3' is not a valid subprotocol name")


@pytest.mark.parametrize("origin", ["http://host:abc", "http://host:",
                                    "http://host:70000", "http://[::1"])
def test_allowed_origin_that_could_never_match_is_refused(origin):
    assert_refused("origin-port-{}".format(re.sub(r"\W", "_", origin)),
                   LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler echo
    WebSocketAllowedOrigins {}
</Location>
""".format(origin), "WebSocketAllowedOrigins", r"WebSocketAllowedOrigins",
                   r"is not an origin", r"port from 0 to 65535")


def test_handler_option_in_location_sharing_only_a_string_prefix_is_not_checked():
    # <Location /chat> does not enclose /chatroom (httpd matches locations
    # at path segment boundaries), so chat's handler does not judge it.
    rc, out, _ = configtest("option-prefix", LOAD_HANDLERS + """
<Location "/chat">
    WebSocketHandler test
</Location>
<Location "/chatroom">
    WebSocketHandlerOption bad x
</Location>
""")
    assert rc == 0, out


def test_handler_option_in_location_below_a_trailing_slash_is_checked():
    assert_refused("option-slash", LOAD_HANDLERS + """
<Location "/chat/">
    WebSocketHandler test
</Location>
<Location "/chat/room">
    WebSocketHandlerOption bad x
</Location>
""", "WebSocketHandlerOption bad x", r"this option is always refused")


def test_load_handler_inside_virtual_host_is_refused_as_documented():
    # The README documents WebSocketLoadHandler for the server config only
    # (handler names are global).
    assert_refused("load-in-vhost", """
<VirtualHost 127.0.0.1:1>
    WebSocketLoadHandler echo "{}"
</VirtualHost>
""".format(ECHO_SO), "WebSocketLoadHandler echo", r"WebSocketLoadHandler",
                   r"cannot occur within <VirtualHost> section")


def test_subprotocol_star_passes():
    rc, out, _ = configtest("proto-star", LOAD_HANDLERS + """
<Location "/x">
    WebSocketHandler test
    WebSocketProtocols chat *
</Location>
""")
    assert rc == 0, out


def test_settings_in_server_and_vhost_context_are_every_locations_default(
        httpd_factory):
    # Limits may be written where httpd's own WebSocket directives may: in
    # the server config or a virtual host, for every location there.
    from conftest import stop_server
    import wsutil
    srv = httpd_factory("settings-server-context", """
WebSocketMaxMessageSize 1K
WebSocketLoadHandler echo "@ECHO_SO@"
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/bigger">
    WebSocketHandler echo
    WebSocketMaxMessageSize 4K
</Location>
""")
    try:
        big = "x" * 2048
        assert wsutil.violation_close_code(
            srv.port, "/echo", wsutil.frame(wsutil.OP_TEXT, big)) == 1009
        with wsutil.RawWebSocket(srv.port, "/bigger") as ws:
            ws.send_frame(wsutil.OP_TEXT, big)
            assert ws.recv_message() == (wsutil.OP_TEXT, big.encode())
    finally:
        stop_server(srv)
