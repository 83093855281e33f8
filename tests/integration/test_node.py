"""Interoperability with another client: Node's `ws` (tests/node/client.js,
installed by `npm install --prefix tests/node`)."""
import pytest

import wsutil
from wsutil import node_client

pytestmark = pytest.mark.skipif(
    not wsutil.node_available(),
    reason="Node ws not installed: npm install --prefix tests/node")

MiB = 1024 * 1024


def test_node_echo_of_text_and_binary(server):
    r = node_client(server.port, "/echo", "echo", messages=[
        {"type": "text", "text": "hello from node"},
        {"type": "text", "text": "\u00e9\u20ac\U0001f600"},
        {"type": "text", "text": ""},
        {"type": "binary", "size": 1000},
        {"type": "binary", "size": 0},
        {"type": "binary", "size": 70000},
    ])
    assert [x["type"] for x in r["results"]] == \
        ["text"] * 3 + ["binary"] * 3
    assert all(x["same"] for x in r["results"]), r
    assert (r["code"], r["reason"]) == (1000, "done")


def test_node_echo_of_16_mib_binary_and_text(server):
    r = node_client(server.port, "/big", "echo", messages=[
        {"type": "binary", "size": 16 * MiB},
        {"type": "text", "size": 16 * MiB},
    ])
    assert all(x["same"] for x in r["results"]), r
    assert r["results"][0]["length"] == 16 * MiB
    assert r["results"][1]["length"] > 16 * MiB - 16


@pytest.mark.parametrize("code,reason", [(1000, "normal"), (4001, "bye"),
                                         (3999, "\u00e9t\u00e9")])
def test_node_close_code_and_reason_round_trip(server, code, reason):
    r = node_client(server.port, "/echo", "close", code=code, reason=reason)
    assert (r["code"], r["reason"]) == (code, reason)


def test_node_close_without_code_sees_1005(server):
    r = node_client(server.port, "/echo", "close")
    assert r["code"] == 1005


def test_node_handler_close_4001_bye(server):
    r = node_client(server.port, "/test", "recv", send="close 4001 bye",
                    count=-1)
    assert (r["code"], r["reason"]) == (4001, "bye")


def test_node_subprotocol_negotiation(server):
    r = node_client(server.port, "/proto", "protocol",
                    protocols=["v2", "chat"])
    assert r["protocol"] == "chat"
    assert r["info"]["protocol"] == "chat"


def test_node_subprotocol_selected_by_handler(server):
    r = node_client(server.port, "/proto?proto=v2", "protocol",
                    protocols=["chat", "v2"])
    assert r["protocol"] == "v2"


def test_node_thread_messages(server):
    r = node_client(server.port, "/test", "recv", send="thread 50",
                    count=50)
    assert r["messages"] == ["t{}".format(i) for i in range(50)]
