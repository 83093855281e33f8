"""Protocol violations after the handshake (RFC 6455 sections 5 and 7):
each must make the server send a close frame with the right code, then
close TCP, and leave the server serving everyone else."""
import struct

import pytest

import wsutil
from wsutil import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                    RawWebSocket, close_payload, frame, violation_close_code)

F = frame


def check(server, path, data, code):
    assert violation_close_code(server.port, path, data) == code
    # The server still serves other clients.
    assert wsutil.raw_echo_ok(server.port)


# --- framing: 1002 ------------------------------------------------------------

def test_unmasked_frame_gets_1002(server):
    check(server, "/echo", F(OP_TEXT, "no mask", mask=False), 1002)


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x7, 0xB, 0xF])
def test_reserved_opcode_gets_1002(server, opcode):
    check(server, "/echo", F(opcode, b"x"), 1002)


@pytest.mark.parametrize("rsv", [4, 2, 1, 7], ids=["rsv1", "rsv2", "rsv3",
                                                   "all"])
def test_rsv_bit_set_gets_1002(server, rsv):
    check(server, "/echo", F(OP_TEXT, "rsv", rsv=rsv), 1002)


def test_rsv_bit_on_control_frame_gets_1002(server):
    check(server, "/echo", F(OP_PING, b"p", rsv=4), 1002)


def test_ping_with_126_byte_payload_gets_1002(server):
    check(server, "/echo", F(OP_PING, b"p" * 126), 1002)


def test_close_with_126_byte_payload_gets_1002(server):
    check(server, "/echo", F(OP_CLOSE, close_payload(1000, "r" * 124)), 1002)


def test_fragmented_ping_gets_1002(server):
    check(server, "/echo", F(OP_PING, b"half", fin=False), 1002)


def test_fragmented_pong_gets_1002(server):
    check(server, "/echo", F(OP_PONG, b"half", fin=False), 1002)


def test_continuation_without_a_message_gets_1002(server):
    check(server, "/echo", F(OP_CONT, b"orphan"), 1002)


def test_continuation_after_a_finished_message_gets_1002(server):
    with RawWebSocket(server.port, "/echo") as ws:
        ws.send_frame(OP_TEXT, "done")
        assert ws.recv_message() == (OP_TEXT, b"done")
        ws.send_frame(OP_CONT, b"late")
        assert ws.expect_close()[0] == 1002
        ws.expect_eof()


@pytest.mark.parametrize("second", [OP_TEXT, OP_BINARY])
def test_new_data_frame_while_fragmented_message_open_gets_1002(server,
                                                                  second):
    check(server, "/echo", F(OP_TEXT, "first", fin=False) + F(second, b"x"),
          1002)


def test_non_minimal_length_encoding_is_accepted_or_1002(server):
    # RFC 6455 5.2 says the minimal number of bytes MUST be used; servers
    # differ on enforcing it.  Whatever the choice, no crash and a clean
    # answer: the echo or a 1002.
    payload = b"abc"
    key = b"\x01\x02\x03\x04"
    data = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload)) + key + \
        wsutil.mask_bytes(payload, key)
    with RawWebSocket(server.port, "/echo") as ws:
        ws.send(data)
        fin, rsv, op, got = ws.recv_frame()
        assert (op, got) in ((OP_TEXT, payload),) or op == OP_CLOSE
        if op == OP_CLOSE:
            assert struct.unpack("!H", got[:2])[0] == 1002
    assert wsutil.raw_echo_ok(server.port)


def test_64_bit_length_with_high_bit_set_gets_1002_or_1009(server):
    data = struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + b"\0\0\0\0"
    code = violation_close_code(server.port, "/echo", data)
    assert code in (1002, 1009)
    assert wsutil.raw_echo_ok(server.port)


# --- UTF-8: 1007 ----------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    b"\xff",
    b"abc\xc3",                 # truncated 2-byte sequence
    b"\xc0\xaf",                # overlong '/'
    b"\xed\xa0\x80",            # UTF-16 surrogate
    b"\xf4\x90\x80\x80",        # above U+10FFFF
    b"\xe2\x82",                # truncated euro sign
], ids=["ff", "truncated-2", "overlong", "surrogate", "too-big",
        "truncated-3"])
def test_invalid_utf8_text_gets_1007(server, payload):
    check(server, "/echo", F(OP_TEXT, payload), 1007)


def test_invalid_utf8_split_over_fragments_fails_fast_with_1007(server):
    # The second fragment breaks the character the first one began; the
    # message is still unfinished when the close must come.
    check(server, "/echo", F(OP_TEXT, b"ok \xe2\x82", fin=False) +
          F(OP_CONT, b"A", fin=False), 1007)


def test_invalid_utf8_in_first_fragment_fails_fast_with_1007(server):
    # Only the first, non-final fragment is sent: the close must come
    # without waiting for the rest of the message (section 8.1).
    with RawWebSocket(server.port, "/echo", timeout=5) as ws:
        ws.send_frame(OP_TEXT, b"valid start \xff and more", fin=False)
        assert ws.expect_close()[0] == 1007
        ws.expect_eof()
    assert wsutil.raw_echo_ok(server.port)


def test_invalid_utf8_inside_a_partly_sent_frame_fails_fast_with_1007(server):
    # One final frame of 40 bytes of which only the first 14 are sent,
    # the last of them impossible: the close must come from that prefix,
    # not once the frame is complete.
    whole = F(OP_TEXT, b"valid start \xed\xa0" + b"x" * 26)
    with RawWebSocket(server.port, "/echo", timeout=3) as ws:
        ws.send(whole[:len(whole) - 26])
        assert ws.expect_close()[0] == 1007
        ws.expect_eof()
    assert wsutil.raw_echo_ok(server.port)


def test_truncated_utf8_at_end_of_message_gets_1007(server):
    check(server, "/echo", F(OP_TEXT, b"abc", fin=False) +
          F(OP_CONT, b"\xf0\x9f\x98", fin=True), 1007)


def test_invalid_utf8_in_binary_message_is_fine(server):
    with RawWebSocket(server.port, "/echo") as ws:
        ws.send_frame(OP_BINARY, b"\xff\xfe\xc0")
        assert ws.recv_message() == (OP_BINARY, b"\xff\xfe\xc0")


# --- close frames ---------------------------------------------------------------

def test_invalid_utf8_in_close_reason_gets_1007(server):
    check(server, "/echo", F(OP_CLOSE, close_payload(1000, b"bad \xff")),
          1007)


def test_close_payload_of_one_byte_gets_1002(server):
    check(server, "/echo", F(OP_CLOSE, b"\x03"), 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016,
                                  2999, 5000, 65535])
def test_invalid_close_code_gets_1002(server, code):
    check(server, "/echo", F(OP_CLOSE, close_payload(code)), 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                  1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_valid_close_code_is_echoed(server, code):
    assert violation_close_code(server.port, "/echo",
                                F(OP_CLOSE, close_payload(code))) == code


# --- sizes: 1009 --------------------------------------------------------------------

def test_message_over_max_message_size_gets_1009(server):
    check(server, "/small", F(OP_BINARY, b"x" * 2048), 1009)


def test_fragmented_message_over_max_message_size_gets_1009(server):
    check(server, "/small", F(OP_TEXT, b"a" * 600, fin=False) +
          F(OP_CONT, b"b" * 600, fin=True), 1009)


def test_message_of_exactly_max_message_size_is_echoed(server):
    with RawWebSocket(server.port, "/small") as ws:
        ws.send_frame(OP_BINARY, b"x" * 1024)
        assert ws.recv_message() == (OP_BINARY, b"x" * 1024)


def test_oversized_message_is_refused_from_its_header_alone(server):
    # Only the header of a 1 MiB frame is sent: 1009 needs no payload.
    with RawWebSocket(server.port, "/small", timeout=5) as ws:
        ws.send(F(OP_BINARY, b"", length=1 << 20))
        assert ws.expect_close()[0] == 1009
        ws.expect_eof()


def test_frame_over_max_frame_size_gets_1009(server):
    check(server, "/smallframe", F(OP_BINARY, b"y" * 2048), 1009)


def test_message_in_more_fragments_than_allowed_gets_1008(server):
    frames = [F(OP_TEXT, "a", fin=False)] + \
        [F(OP_CONT, "b", fin=False) for _ in range(4)] + \
        [F(OP_CONT, "c", fin=True)]
    check(server, "/fewfrags", b"".join(frames), 1008)


def test_message_in_as_many_fragments_as_allowed_is_echoed(server):
    with RawWebSocket(server.port, "/fewfrags") as ws:
        ws.send(F(OP_TEXT, "a", fin=False) + F(OP_CONT, "b", fin=False) +
                F(OP_CONT, "c", fin=False) + F(OP_CONT, "d", fin=True))
        assert ws.recv_message() == (OP_TEXT, b"abcd")


def test_ping_flood_over_the_control_rate_gets_1008(server):
    check(server, "/fewpings", b"".join(F(OP_PING, "p%d" % i)
                                        for i in range(200)), 1008)


def test_ping_burst_under_the_control_rate_gets_every_pong(server):
    with RawWebSocket(server.port, "/echo") as ws:
        ws.send(b"".join(F(OP_PING, "p%d" % i) for i in range(500)))
        pongs = [ws.recv_frame() for _ in range(500)]
        assert [(op, data) for _, _, op, data in pongs] == \
            [(OP_PONG, b"p%d" % i) for i in range(500)]


def test_message_in_frames_under_max_frame_size_is_echoed(server):
    with RawWebSocket(server.port, "/smallframe") as ws:
        ws.send(F(OP_BINARY, b"1" * 1024, fin=False) +
                F(OP_CONT, b"2" * 1024, fin=False) +
                F(OP_CONT, b"3" * 1000, fin=True))
        assert ws.recv_message() == \
            (OP_BINARY, b"1" * 1024 + b"2" * 1024 + b"3" * 1000)


def test_default_max_message_size_refuses_over_16_mib(server):
    with RawWebSocket(server.port, "/echo", timeout=5) as ws:
        ws.send(F(OP_BINARY, b"", length=16 * 1024 * 1024 + 1))
        assert ws.expect_close()[0] == 1009
        ws.expect_eof()


def test_server_serves_after_all_violations(server):
    assert wsutil.raw_echo_ok(server.port)
