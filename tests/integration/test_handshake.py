"""The opening handshake (RFC 6455 section 4.2) as httpd answers it: which
status for which fault, Origin, httpd's own access control, the handler's
on_open, and subprotocol negotiation."""
import base64
import json

import pytest
import websockets
import websockets.exceptions

import wsutil
from wsutil import handshake_status, http_raw, run, ws_connect

from conftest import HTPASSWD_USER


def upgrade_ok(resp):
    return resp.status == 101 and \
        (resp.header("Upgrade") or "").lower() == "websocket"


# --- plain requests -----------------------------------------------------

def test_plain_get_to_websocket_location_gets_426_with_upgrade_websocket(
        server):
    r = wsutil.http_get(server.port, "/echo")
    assert r.status == 426
    assert (r.header("Upgrade") or "").lower() == "websocket"


def test_plain_get_with_plain_requests_serve_gets_the_normal_page(server):
    r = wsutil.http_get(server.port, "/page.html")
    assert r.status == 200
    assert b"plain page" in r.body


def test_plain_requests_serve_location_still_upgrades(server):
    r = handshake_status(server.port, "/page.html")
    assert upgrade_ok(r), r


def test_normal_pages_beside_websocket_locations_are_served(server):
    r = wsutil.http_get(server.port, "/")
    assert r.status == 200
    assert b"It works" in r.body


# --- method, HTTP version, headers ------------------------------------------

def test_post_with_upgrade_gets_405_with_allow_get(server):
    r = handshake_status(server.port, "/echo", method="POST")
    assert r.status == 405
    allow = [m.strip() for m in ",".join(r.header_all("Allow")).split(",")]
    assert "GET" in allow, r
    assert "POST" not in allow, r


def test_http_1_0_upgrade_gets_400(server):
    r = handshake_status(server.port, "/echo", version="HTTP/1.0")
    assert r.status == 400


def test_connection_header_without_upgrade_token_gets_400(server):
    r = handshake_status(server.port, "/echo",
                         headers={"Connection": "keep-alive"})
    assert r.status == 400


def test_missing_connection_header_gets_400(server):
    r = handshake_status(server.port, "/echo", omit=("Connection",))
    assert r.status == 400


def test_missing_key_gets_400(server):
    r = handshake_status(server.port, "/echo", omit=("Sec-WebSocket-Key",))
    assert r.status == 400


@pytest.mark.parametrize("key", [
    "dGhlIHNhbXBsZSBub25jZQ",                     # 22 chars, no padding
    "dGhlIHNhbXBsZSBub25jZQ===",                  # 25 chars
    "dGhlIHNhbXBsZSBub25j*Q==",                   # not base64
    base64.b64encode(b"fifteen bytes!!").decode(),  # 15 bytes
    base64.b64encode(b"seventeen bytes!!").decode(),  # 17 bytes
    "",
], ids=["short", "long", "not-base64", "15-bytes", "17-bytes", "empty"])
def test_malformed_key_gets_400(server, key):
    r = handshake_status(server.port, "/echo", key=key)
    assert r.status == 400


def test_version_8_gets_426_with_supported_version_13(server):
    r = handshake_status(server.port, "/echo",
                         headers={"Sec-WebSocket-Version": "8"})
    assert r.status == 426
    assert r.header("Sec-WebSocket-Version") == "13"


def status_with_header_repeated(port, name, value):
    """The status of a valid upgrade request that carries name twice."""
    req = wsutil.upgrade_request("/echo", port, headers={name: value})
    # The request ends with an empty line: add the second copy before it.
    req = req[:-2] + "{}: {}\r\n\r\n".format(name, value).encode("ascii")
    return http_raw(port, req).status


def test_repeated_version_header_gets_400(server):
    # Section 11.3.5: the header must not appear more than once.
    assert status_with_header_repeated(server.port, "Sec-WebSocket-Version",
                                       "13") == 400


def test_repeated_key_header_gets_400(server):
    # Section 11.3.1: likewise.
    assert status_with_header_repeated(server.port, "Sec-WebSocket-Key",
                                       wsutil.new_key()) == 400


def test_missing_version_gets_400(server):
    r = handshake_status(server.port, "/echo",
                         omit=("Sec-WebSocket-Version",))
    assert r.status == 400


@pytest.mark.parametrize("upgrade,connection", [
    ("WebSocket", "upgrade"),
    ("WEBSOCKET", "UPGRADE"),
    ("websocket", "keep-alive, Upgrade"),
    ("websocket", "Upgrade,keep-alive"),
    ("h2c, websocket", "keep-alive,  upgrade "),
])
def test_upgrade_and_connection_tokens_are_case_insensitive_lists(
        server, upgrade, connection):
    r = handshake_status(server.port, "/echo", headers={
        "Upgrade": upgrade, "Connection": connection})
    assert r.status == 101, r


def test_accept_value_matches_rfc_6455_sample(server):
    r = handshake_status(server.port, "/echo", key=wsutil.SAMPLE_KEY)
    assert r.status == 101
    assert r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert (r.header("Connection") or "").lower() == "upgrade"
    assert (r.header("Upgrade") or "").lower() == "websocket"


def test_101_is_followed_by_a_working_websocket(server):
    with wsutil.RawWebSocket(server.port, "/echo") as ws:
        assert ws.buf == b""
        ws.send_frame(wsutil.OP_TEXT, "after the 101")
        assert ws.recv_message() == (wsutil.OP_TEXT, b"after the 101")


# --- Origin -----------------------------------------------------------------

def test_cross_site_origin_gets_403(server):
    r = handshake_status(server.port, "/echo",
                         headers={"Origin": "http://evil-403.example"})
    assert r.status == 403
    # At warn, httpd's default LogLevel: an admin sees it without asking.
    line = server.wait_log(r"evil-403\.example")
    assert line and "[websocket:warn]" in line, line
    assert "refused with 403: not this site (http://127.0.0.1:{})".format(
        server.port) in line
    assert "WebSocketAllowedOrigins" in line


def test_origin_same_as_host_gets_101(server):
    r = handshake_status(server.port, "/echo", headers={
        "Origin": "http://127.0.0.1:{}".format(server.port)})
    assert r.status == 101


def test_origin_with_other_port_than_host_gets_403(server):
    r = handshake_status(server.port, "/echo", headers={
        "Origin": "http://127.0.0.1:{}".format(server.port + 1)})
    assert r.status == 403


def test_origin_with_other_scheme_than_site_gets_403(server):
    r = handshake_status(server.port, "/echo", headers={
        "Origin": "https://127.0.0.1:{}".format(server.port)})
    assert r.status == 403


def test_absent_origin_gets_101(server):
    r = handshake_status(server.port, "/echo")
    assert r.status == 101


@pytest.mark.parametrize("origin", ["https://trusted.example",
                                    "https://trusted.example:443",
                                    "http://other.example:8081"])
def test_origin_listed_in_allowed_origins_gets_101(server, origin):
    r = handshake_status(server.port, "/origins", headers={"Origin": origin})
    assert r.status == 101


@pytest.mark.parametrize("origin", ["http://trusted.example",
                                    "http://other.example",
                                    "https://evil.example", "null"])
def test_origin_not_listed_in_allowed_origins_gets_403(server, origin):
    r = handshake_status(server.port, "/origins", headers={"Origin": origin})
    assert r.status == 403


def test_python_client_with_cross_site_origin_is_refused(server):
    async def go():
        async with ws_connect(server.port, "/echo",
                              origin="http://evil.example"):
            pass
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        run(go())
    assert e.value.status_code == 403


# --- httpd's access control applies first --------------------------------------

@pytest.mark.expect_log(r"AH01630: client denied by server configuration")
def test_require_all_denied_location_gets_403_without_upgrade(server):
    r = handshake_status(server.port, "/denied")
    assert r.status == 403
    assert r.header("Sec-WebSocket-Accept") is None


def test_basic_auth_location_without_credentials_gets_401(server):
    r = handshake_status(server.port, "/private")
    assert r.status == 401
    assert (r.header("WWW-Authenticate") or "").startswith("Basic")
    assert r.header("Sec-WebSocket-Accept") is None


@pytest.mark.expect_log(r"AH01617")   # mod_auth_basic: wrong password
def test_basic_auth_location_with_wrong_password_gets_401(server):
    cred = base64.b64encode("{}:wrong".format(HTPASSWD_USER[0]).encode())
    r = handshake_status(server.port, "/private", headers={
        "Authorization": "Basic " + cred.decode()})
    assert r.status == 401


def test_basic_auth_location_with_credentials_upgrades_and_info_has_user(
        server):
    cred = base64.b64encode(":".join(HTPASSWD_USER).encode()).decode()

    async def go():
        async with ws_connect(server.port, "/private", extra_headers={
                "Authorization": "Basic " + cred}) as ws:
            await ws.send("info")
            return json.loads(await ws.recv())
    info = run(go())
    assert info["user"] == HTPASSWD_USER[0]
    assert info["path"] == "/private"


# --- the handler's on_open ------------------------------------------------------

@pytest.mark.parametrize("status", [403, 404, 429, 503])
def test_handler_on_open_reject_answers_its_status(server, status):
    r = handshake_status(server.port, "/test?reject={}".format(status))
    assert r.status == status
    assert r.header("Sec-WebSocket-Accept") is None


@pytest.mark.expect_log(r"on_open returned 200")
def test_handler_on_open_returning_a_non_error_status_gets_500(server):
    r = handshake_status(server.port, "/test?reject=200")
    assert r.status == 500


def test_handler_on_open_message_arrives_right_after_the_101(server):
    with wsutil.RawWebSocket(server.port, "/test?hello=1") as ws:
        assert ws.recv_message() == (wsutil.OP_TEXT, b"hello")


def test_info_reports_query_header_cookie_address_and_option(server):
    async def go():
        async with ws_connect(server.port, "/test?a=1&b=two", extra_headers={
                "X-Test": "x value", "Cookie": "a=1; c=\"cookie-c\"; d=4"}) \
                as ws:
            await ws.send("info")
            return json.loads(await ws.recv())
    info = run(go())
    assert info == {
        "path": "/test",
        "query": "a=1&b=two",
        "header": "x value",
        "cookie": "cookie-c",
        "user": None,
        "remote_addr": "127.0.0.1",
        "protocol": None,
        "greeting": "hello there",
    }


def test_info_without_query_header_or_cookie_reports_nulls(server):
    async def go():
        async with ws_connect(server.port, "/proto") as ws:
            await ws.send("info")
            return json.loads(await ws.recv())
    info = run(go())
    assert info["query"] is None
    assert info["header"] is None
    assert info["cookie"] is None
    assert info["greeting"] is None


# --- subprotocols ---------------------------------------------------------------

def test_subprotocol_follows_server_preference_order(server):
    r = handshake_status(server.port, "/proto",
                         headers={"Sec-WebSocket-Protocol": "v2, chat"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") == "chat"


def test_subprotocol_only_v2_offered_gets_v2(server):
    r = handshake_status(server.port, "/proto",
                         headers={"Sec-WebSocket-Protocol": "other, v2"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") == "v2"


def test_subprotocol_unknown_offer_gets_101_without_protocol_header(server):
    r = handshake_status(server.port, "/proto",
                         headers={"Sec-WebSocket-Protocol": "other"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") is None


def test_no_subprotocol_offered_gets_no_protocol_header(server):
    r = handshake_status(server.port, "/proto")
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") is None


def agreed_subprotocol(port, path, offer):
    """Connect with the Python client offering offer; return the agreed
    subprotocol and what the test handler says it is."""
    async def go():
        async with ws_connect(port, path, subprotocols=offer) as ws:
            await ws.send("info")
            return ws.subprotocol, json.loads(await ws.recv())
    return run(go())


def test_subprotocol_selected_by_handler_wins(server):
    chosen, info = agreed_subprotocol(server.port, "/proto?proto=v2",
                                      ["chat", "v2"])
    assert chosen == "v2"
    assert info["protocol"] == "v2"


def test_subprotocol_handler_may_select_one_not_in_server_list(server):
    r = handshake_status(server.port, "/proto?proto=x-custom",
                         headers={"Sec-WebSocket-Protocol": "chat, x-custom"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") == "x-custom"


def test_subprotocol_handler_selecting_one_not_offered_fails(server):
    # select_protocol returns WS_EINVAL; the test handler answers 500.
    r = handshake_status(server.port, "/proto?proto=v3",
                         headers={"Sec-WebSocket-Protocol": "chat"})
    assert r.status == 500


def test_python_client_gets_default_subprotocol(server):
    chosen, info = agreed_subprotocol(server.port, "/proto", ["v2", "chat"])
    assert chosen == "chat"
    assert info["protocol"] == "chat"


def test_malformed_subprotocol_list_gets_400(server):
    r = handshake_status(server.port, "/proto",
                         headers={"Sec-WebSocket-Protocol": "chat, a b"})
    assert r.status == 400


def test_no_agreed_subprotocol_for_an_offer_is_logged_at_info(server):
    r = handshake_status(server.port, "/proto",
                         headers={"Sec-WebSocket-Protocol": "x-unknown"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") is None
    assert server.wait_log(r"\[websocket:info\].*WS00068.*x-unknown.*"
                           r"browsers fail")


@pytest.mark.parametrize("offer,agreed", [
    ("x-a, special", "special"),
    ("x-a, x-b", "x-a"),
])
def test_subprotocol_star_agrees_to_the_first_offer_after_the_list(
        server, offer, agreed):
    r = handshake_status(server.port, "/anyproto",
                         headers={"Sec-WebSocket-Protocol": offer})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") == agreed


def test_handler_without_any_protocol_flag_agrees_to_none(server):
    r = handshake_status(server.port, "/test",
                         headers={"Sec-WebSocket-Protocol": "x-a"})
    assert r.status == 101
    assert r.header("Sec-WebSocket-Protocol") is None


def test_plain_get_gets_a_short_correct_426_page(server):
    r = wsutil.http_get(server.port, "/echo")
    assert r.status == 426
    assert r.body.startswith(b"<!DOCTYPE html>"), r.body[:40]
    assert b"WebSocket endpoint" in r.body
    assert b"SSL" not in r.body and b"TLS" not in r.body
    assert len(r.body) < 1024


def test_unsupported_version_gets_a_426_page_about_the_version(server):
    r = handshake_status(server.port, "/echo",
                         headers={"Sec-WebSocket-Version": "8"})
    assert r.status == 426
    assert r.body.startswith(b"<!DOCTYPE html>"), r.body[:40]
    assert b"version 13" in r.body
    assert b"SSL" not in r.body


def test_errordocument_426_set_by_the_admin_is_kept(server):
    r = wsutil.http_get(server.port, "/custom426")
    assert r.status == 426
    assert r.body.strip() == b"our own words"
