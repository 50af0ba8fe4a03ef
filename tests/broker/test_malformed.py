"""Malformed and hostile input: truncated packets, garbage, bad lengths, bad strings, packets a
client may not send. Each closes only the offending connection; other clients keep working and
the broker stays up."""

import random
import socket
import time

from broker import Broker, known_mosquitto_difference
from mqtt_bytes import *


def _others_still_work(b, tag="ok"):
    """A fresh publisher and subscriber can still exchange a QoS 1 message."""
    assert b.alive(), "broker died\n" + b.log_tail()
    s = b.subscriber("check-sub-" + tag, [("check/" + tag, 1)])
    p = b.client("check-pub-" + tag)
    p.sendall(publish("check/" + tag, b"alive", qos=1, mid=1))
    expect_packet(p, puback(1), "PUBACK")
    expect_publish(s, "check/" + tag, b"alive", qos=1)


def _bad_input_closes(raw, proto=V311, after_connect=True, cid="bad"):
    """Send raw bytes (after a valid CONNECT when after_connect), expect this connection to close
    (5.0: a DISCONNECT first is allowed), and check that a client connected before still works."""
    with Broker() as b:
        bystander = b.subscriber("bystander", [("by/t", 0)])
        s = b.client(cid, proto=proto) if after_connect else b.sock()
        send(s, raw)
        try:
            got = recv_packet(s, 2)
        except Closed:
            got = None
        except socket.timeout:
            raise AssertionError("sent %s: connection still open after 2 s" % hexdump(raw)) from None
        if got is not None:
            d = parse(got, V5)
            assert proto == V5 and d["type"] in ("DISCONNECT", "CONNACK") and d.get("rc", 0) >= 0x80, \
                "expected close, got %s %s" % (hexdump(got), d)
            expect_closed(s)
        p = b.client("by-pub")
        p.sendall(publish("by/t", b"still here"))
        expect_packet(bystander, publish("by/t", b"still here"), "bystander PUBLISH")
        _others_still_work(b)


# -- framing ----------------------------------------------------------------------------------

def test_v311_reserved_packet_type_0_closes():
    """MQTT 2.2.1: packet type 0 is reserved -> close."""
    _bad_input_closes(b"\x00\x00")


def test_v311_auth_packet_in_311_closes():
    """MQTT 3.1.1 2.2.1: type 15 is reserved in 3.1.1 (AUTH exists only in 5.0) -> close."""
    _bad_input_closes(b"\xf0\x00")


def test_v311_remaining_length_five_bytes_closes():
    """MQTT 2.2.3: Remaining Length is at most 4 bytes; a fifth continuation byte -> close."""
    _bad_input_closes(b"\x30\xff\xff\xff\xff\x01")


def test_v5_remaining_length_five_bytes_malformed():
    """MQTT 5.0 1.5.5: a Variable Byte Integer longer than 4 bytes is malformed -> close
    (DISCONNECT 0x81 allowed first)."""
    _bad_input_closes(b"\x30\xff\xff\xff\xff\x01", proto=V5)


@known_mosquitto_difference("answers PINGREQ with flags 0001 with PINGRESP")
def test_v311_pingreq_with_flags_closes():
    """MQTT-2.2.2-2: reserved fixed-header flags must be as specified; PINGREQ with 0x1 -> close."""
    _bad_input_closes(b"\xc1\x00")


@known_mosquitto_difference("answers a PINGREQ with a body with PINGRESP")
def test_v311_pingreq_with_body_closes():
    """MQTT 3.12: PINGREQ has Remaining Length 0; a body is malformed -> close."""
    _bad_input_closes(b"\xc0\x01\x00")


def test_v311_disconnect_with_flags_closes():
    """MQTT-3.14.1-1: DISCONNECT reserved flags must be 0 -> close."""
    _bad_input_closes(b"\xe1\x00")


@known_mosquitto_difference("ignores the extra byte of a 3-byte 3.1.1 PUBACK")
def test_v311_puback_wrong_length_closes():
    """MQTT 3.4.1: PUBACK Remaining Length is 2 in 3.1.1 -> a 3-byte PUBACK is malformed."""
    _bad_input_closes(b"\x40\x03\x00\x01\x00")


def test_v311_connack_from_client_closes():
    """MQTT 2.2.1 / 4.8: CONNACK travels Server to Client only; a client sending it -> close."""
    _bad_input_closes(connack(0))


@known_mosquitto_difference("ignores SUBACK, UNSUBACK and PINGRESP sent by a 3.1.1 client")
def test_v311_suback_unsuback_pingresp_from_client_close():
    """MQTT 2.2.1 / 4.8: SUBACK, UNSUBACK, PINGRESP travel Server to Client only; a client sending
    one commits a protocol violation -> close."""
    for raw in (suback(1, [0]), unsuback(1), pingresp()):
        _bad_input_closes(raw)


@known_mosquitto_difference("ignores well-formed SUBACK, UNSUBACK and PINGRESP sent by a 5.0 client")
def test_v5_suback_unsuback_pingresp_from_client_close():
    """MQTT 5.0 2.1.2 / 4.13: SUBACK, UNSUBACK and PINGRESP from a client are a Protocol Error ->
    close (DISCONNECT 0x82 allowed first)."""
    for raw in (suback(1, [0], proto=V5), unsuback(1, [0], proto=V5), pingresp()):
        _bad_input_closes(raw, proto=V5)


def test_v311_garbage_before_connect_closes():
    """MQTT-3.1.0-1: bytes that are not a CONNECT as the first packet -> close."""
    _bad_input_closes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", after_connect=False)


# -- strings and lengths ----------------------------------------------------------------------

def test_v311_topic_length_past_end_closes():
    """MQTT 1.5.3 / 2.2.3: a string length that runs past the Remaining Length -> close."""
    _bad_input_closes(packet(0x30, b"\xff\xffabc"))


def test_v311_topic_invalid_utf8_closes():
    """MQTT-1.5.3-1: ill-formed UTF-8 in a Topic Name -> close."""
    _bad_input_closes(packet(0x30, string(b"bad\xc3\x28") + b"x"))


def test_v311_topic_utf16_surrogate_closes():
    """MQTT-1.5.3-1: UTF-8 encoded surrogates (U+D800..U+DFFF) are ill-formed -> close."""
    _bad_input_closes(packet(0x30, string(b"a\xed\xa0\x80") + b"x"))


def test_v311_topic_null_character_closes():
    """MQTT-1.5.3-2: a UTF-8 string must not contain U+0000 -> close."""
    _bad_input_closes(packet(0x30, string(b"a\x00b") + b"x"))


def test_v5_topic_invalid_utf8_malformed():
    """MQTT-1.5.4-1 (5.0): ill-formed UTF-8 in a Topic Name -> DISCONNECT 0x81 (allowed) and close."""
    _bad_input_closes(packet(0x30, string(b"bad\xff") + b"\x00x"), proto=V5)


def test_v311_subscribe_filter_length_past_end_closes():
    """MQTT 1.5.3: a SUBSCRIBE whose filter length runs past the packet -> close."""
    _bad_input_closes(packet(0x82, u16(1) + b"\x00\x20ab\x00"))


def test_v311_subscribe_missing_qos_byte_closes():
    """MQTT 3.8.3: each filter is followed by a requested QoS byte; missing -> close."""
    _bad_input_closes(packet(0x82, u16(1) + string("ab")))


def test_v311_connect_remaining_length_shorter_than_header_closes():
    """MQTT 3.1.2: a CONNECT that ends inside its variable header -> close."""
    _bad_input_closes(packet(0x10, string("MQTT") + b"\x04"), after_connect=False)


# -- truncated input and slow peers -----------------------------------------------------------

def test_v311_truncated_connect_then_close_harms_nobody():
    """A client that sends half a CONNECT and disconnects does not disturb the others."""
    with Broker() as b:
        sub = b.subscriber("sub", [("tr/t", 0)])
        for _ in range(5):
            s = b.sock()
            s.sendall(connect("half")[:7])
            s.close()
        p = b.client("p")
        p.sendall(publish("tr/t", b"ok"))
        expect_packet(sub, publish("tr/t", b"ok"), "PUBLISH")


def test_v311_truncated_publish_then_close_not_delivered():
    """A PUBLISH cut short by the connection closing is not delivered."""
    with Broker() as b:
        sub = b.subscriber("sub", [("tr/p", 0)])
        s = b.client("half")
        s.sendall(publish("tr/p", b"x" * 100)[:30])
        s.close()
        expect_nothing(sub, 0.5)
        _others_still_work(b)


def test_v311_packet_split_across_segments_is_reassembled():
    """MQTT 4.2: a packet may arrive in pieces; the broker waits for the rest."""
    with Broker() as b:
        sub = b.subscriber("sub", [("sp/t", 0)])
        p = b.client("p")
        pkt = publish("sp/t", b"y" * 300)
        for i in range(0, len(pkt), 7):
            p.sendall(pkt[i:i + 7])
            time.sleep(0.002)
        expect_packet(sub, pkt, "reassembled PUBLISH")


def test_v311_huge_remaining_length_then_close():
    """A header announcing 256 MB that never comes, then close: the broker stays up."""
    with Broker() as b:
        s = b.client("huge")
        s.sendall(b"\x30\xff\xff\xff\x7f\x00\x01a")
        s.close()
        time.sleep(0.2)
        _others_still_work(b)


def test_random_garbage_connections_do_not_harm_broker():
    """Fuzz-lite: 30 connections send random bytes (fixed seed), before or after CONNECT; the
    broker stays up and a normal exchange still works."""
    rng = random.Random(20240501)
    with Broker() as b:
        sub = b.subscriber("sub", [("fz/t", 1)])
        for i in range(30):
            s = b.client("fz%d" % i) if i % 2 else b.sock()
            send(s, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
            s.close()
        time.sleep(0.2)
        p = b.client("p")
        p.sendall(publish("fz/t", b"alive", qos=1, mid=1))
        expect_packet(p, puback(1), "PUBACK")
        expect_publish(sub, "fz/t", b"alive", qos=1)


def test_client_closing_with_unread_data_harms_nobody():
    """A subscriber that stops reading and vanishes while messages are sent to it does not stall
    the broker for others."""
    with Broker() as b:
        lazy = b.subscriber("lazy", [("lz/t", 0)])
        good = b.subscriber("good", [("lz/t", 0)])
        p = b.client("p")
        for i in range(200):
            p.sendall(publish("lz/t", b"z" * 1000))
        lazy.close()
        for i in range(200):
            expect_packet(good, publish("lz/t", b"z" * 1000), "PUBLISH %d" % i)
        _others_still_work(b)
