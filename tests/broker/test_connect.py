"""CONNECT and CONNACK: validation, return/reason codes, client identifiers, sessions, takeover,
keep alive, in MQTT 3.1, 3.1.1 and 5.0."""

import time

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


# -- accepted connections ---------------------------------------------------------------------

def test_v311_connect_accepted_connack_bytes():
    """MQTT-3.2.2-1/MQTT-3.2.0-1: clean session CONNECT -> CONNACK 20 02 00 00."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("c311", proto=V311))
        expect_packet(s, b"\x20\x02\x00\x00", "CONNACK")


def test_v31_mqisdp_connect_accepted():
    """MQTT 3.1 (protocol name "MQIsdp", level 3) is still accepted: CONNACK 20 02 00 00."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("c31", proto=V31))
        expect_packet(s, b"\x20\x02\x00\x00", "CONNACK")
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")


def test_v31_client_can_publish_and_subscribe():
    """An MQTT 3.1 client exchanges messages with a 3.1.1 client."""
    with Broker() as b:
        old = b.client("old", proto=V31)
        new = b.client("new", proto=V311)
        old.sendall(subscribe(1, [("t/31", 1)]))
        expect_packet(old, suback(1, [1]), "SUBACK")
        new.sendall(publish("t/31", b"hi", qos=1, mid=7))
        expect_packet(new, puback(7), "PUBACK")
        expect_publish(old, "t/31", b"hi", qos=1)


def test_v5_connect_accepted():
    """MQTT-3.2.0-1: CONNACK reason 0x00, session present 0, property block well formed."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("c5", proto=V5))
        expect_connack(s, 0, False, V5)


def test_v311_pingreq_pingresp():
    """MQTT-3.12.4-1: the Server MUST send a PINGRESP in response to a PINGREQ."""
    with Broker() as b:
        s = b.client("ping")
        for _ in range(3):
            s.sendall(pingreq())
            expect_packet(s, pingresp(), "PINGRESP")


def test_v5_pingreq_pingresp():
    """MQTT-3.12.4-1 in 5.0."""
    with Broker() as b:
        s = b.client("ping5", proto=V5)
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")


def test_v311_connect_sent_byte_by_byte():
    """A CONNECT that arrives one byte per TCP segment is reassembled."""
    with Broker() as b:
        s = b.sock()
        for byte in connect("slow", proto=V311):
            s.sendall(bytes([byte]))
            time.sleep(0.005)
        expect_packet(s, connack(0), "CONNACK")


def test_v311_username_and_password_accepted():
    """MQTT-3.1.3-11/12: user name and password fields in the payload are read correctly."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("up", username="user", password=b"\x00\xffpw"))
        expect_packet(s, connack(0), "CONNACK")
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")


def test_v5_password_without_username_allowed():
    """MQTT 5.0 3.1.2.9: a password without a user name is allowed (3.1.1 forbade it)."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("pw5", proto=V5, password=b"secret"))
        expect_connack(s, 0, False, V5)


# -- refused connections ----------------------------------------------------------------------

def test_v311_unacceptable_protocol_level():
    """MQTT-3.1.2-2: unsupported protocol level -> CONNACK 0x01 then close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("lvl", proto=V311)[:8] + b"\x06" + connect("lvl", proto=V311)[9:])
        expect_packet(s, b"\x20\x02\x00\x01", "CONNACK 0x01")
        expect_closed(s)


def test_unknown_protocol_level_refused():
    """MQTT-3.1.2-2 (3.1.1 and 5.0): level 7 is unknown -> CONNACK "unacceptable protocol version"
    (0x01 in 3.1.1 form, or 0x84 in 5.0 form) and close."""
    with Broker() as b:
        s = b.sock()
        pkt = bytearray(connect("lvl7", proto=V5))
        pkt[8] = 7
        s.sendall(bytes(pkt))
        got = recv_packet(s)
        assert got in (b"\x20\x02\x00\x01", b"\x20\x03\x00\x84\x00"), hexdump(got)
        expect_closed(s)


def test_v311_bad_protocol_name_closes():
    """MQTT-3.1.2-1: protocol name not "MQTT" -> the Server MAY disconnect; it must not accept."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("name", proto=V311, proto_name="MQTX"))
        _expect_refused_or_closed(s, V311)


def test_v5_bad_protocol_name_closes():
    """MQTT-3.1.2-1 (5.0): protocol name "MQTX" -> not accepted under this specification."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("name5", proto=V5, proto_name="MQTX"))
        _expect_refused_or_closed(s, V5)


def test_v311_mqisdp_name_with_level_4_refused():
    """Protocol name and level must agree: "MQIsdp" goes with 3, "MQTT" with 4 and 5."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("mix", proto=V311, proto_name="MQIsdp"))
        _expect_refused_or_closed(s, V311)


def _expect_refused_or_closed(s, proto):
    """Closed, optionally after a CONNACK with a non-zero code; never a successful CONNACK."""
    try:
        got = recv_packet(s, 3)
    except Closed:
        return
    assert got[0] == 0x20 and len(got) >= 4 and got[3] != 0, "expected refusal, got " + hexdump(got)
    expect_closed(s)


def test_v311_reserved_connect_flag_closes():
    """MQTT-3.1.2-3: reserved flag (bit 0) set -> close the connection."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("rsv", flags=0x03))
        expect_closed(s)


def test_v5_reserved_connect_flag_is_malformed():
    """MQTT-3.1.2-3 (5.0): reserved flag set is a Malformed Packet -> CONNACK 0x81 (MAY) and close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("rsv5", proto=V5, flags=0x03))
        _expect_connack_error_or_close(s, 0x81)


def _expect_connack_error_or_close(s, rc):
    """5.0 MQTT-4.13.1-1: on an error in CONNECT the Server MAY send CONNACK with the reason code,
    and MUST close."""
    try:
        got = recv_packet(s, 3)
    except Closed:
        return
    d = parse(got, V5)
    assert d["type"] == "CONNACK" and d["rc"] == rc, "expected CONNACK 0x%02x, got %s %s" % (rc, hexdump(got), d)
    expect_closed(s)


def test_v311_first_packet_not_connect_closes():
    """MQTT-3.1.0-1: the first packet must be CONNECT; otherwise close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(pingreq())
        expect_closed(s)


def test_v311_first_packet_publish_closes():
    """MQTT-3.1.0-1: a PUBLISH before CONNECT closes the connection and is not delivered."""
    with Broker() as b:
        sub = b.client("watch")
        sub.sendall(subscribe(1, [("pre/connect", 0)]))
        expect_packet(sub, suback(1, [0]), "SUBACK")
        s = b.sock()
        s.sendall(publish("pre/connect", b"x"))
        expect_closed(s)
        expect_nothing(sub)


def test_v311_second_connect_closes():
    """MQTT-3.1.0-2: a second CONNECT is a protocol violation -> close."""
    with Broker() as b:
        s = b.client("twice")
        s.sendall(connect("twice"))
        expect_closed(s)


@known_mosquitto_difference("closes without sending DISCONNECT 0x82 (5.0 section 4.13.2: SHOULD send it)")
def test_v5_second_connect_is_protocol_error():
    """MQTT-3.1.0-2 (5.0): second CONNECT -> DISCONNECT 0x82 (Protocol Error) and close."""
    with Broker() as b:
        s = b.client("twice5", proto=V5)
        s.sendall(connect("twice5", proto=V5))
        expect_disconnect(s, 0x82)


def test_v311_password_without_username_closes():
    """MQTT-3.1.2-22: in 3.1.1, password flag set with user name flag 0 -> protocol violation."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("pw", password=b"secret"))
        _expect_refused_or_closed(s, V311)


def test_v311_will_qos_without_will_flag_closes():
    """MQTT-3.1.2-11/13: will flag 0 means will QoS 0 -> will QoS 1 without will flag closes."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("wq", flags=0x02 | 0x08))
        expect_closed(s)


def test_v311_will_qos_3_closes():
    """MQTT-3.1.2-14: will QoS 3 is invalid -> close."""
    with Broker() as b:
        s = b.sock()
        pkt = connect("wq3", will={"topic": "w", "payload": b"x", "qos": 1})
        pkt = bytearray(pkt)
        pkt[9] |= 0x18
        s.sendall(bytes(pkt))
        expect_closed(s)


def test_v311_will_retain_without_will_flag_closes():
    """MQTT-3.1.2-15: will retain must be 0 when the will flag is 0."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("wr", flags=0x02 | 0x20))
        expect_closed(s)


def test_v311_client_id_invalid_utf8_closes():
    """MQTT-1.5.3-1: ill-formed UTF-8 in the client id -> close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect(b"bad\xff\xfeid"))
        _expect_refused_or_closed(s, V311)


def test_v5_client_id_with_null_character_closes():
    """MQTT-1.5.4-2: a UTF-8 string must not contain U+0000 -> Malformed Packet."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect(b"nul\x00id", proto=V5))
        _expect_connack_error_or_close(s, 0x81)


def test_v311_connect_truncated_payload_closes():
    """MQTT-1.5.3 / 2.2.3: a CONNECT whose client id runs past the Remaining Length -> close."""
    with Broker() as b:
        s = b.sock()
        body = string("MQTT") + b"\x04\x02\x00\x3c" + b"\x00\x10abc"
        s.sendall(packet(0x10, body))
        expect_closed(s)


def test_v311_anonymous_refused_rc5():
    """allow_anonymous false: CONNECT without user name -> CONNACK 0x05 (not authorized), close."""
    with Broker("listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n") as b:
        s = b.sock()
        s.sendall(connect("anon"))
        expect_packet(s, b"\x20\x02\x00\x05", "CONNACK 0x05")
        expect_closed(s)


def test_v5_anonymous_refused_0x87():
    """allow_anonymous false in 5.0 -> CONNACK 0x87 (Not authorized) or 0x86, then close."""
    with Broker("listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n") as b:
        s = b.sock()
        s.sendall(connect("anon5", proto=V5))
        d = expect_type(s, CONNACK, "CONNACK", proto=V5)
        assert d["rc"] in (0x86, 0x87), d
        expect_closed(s)


def test_v5_unknown_authentication_method_0x8c():
    """MQTT-4.12.0-1: an authentication method the Server does not support -> CONNACK 0x8C
    (Bad authentication method) or 0x87, and close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("auth5", proto=V5, props=props(authentication_method="NO-SUCH-METHOD")))
        d = expect_type(s, CONNACK, "CONNACK", proto=V5)
        assert d["rc"] in (0x8C, 0x87), d
        expect_closed(s)


def test_v5_duplicate_connect_property_is_protocol_error():
    """MQTT 5.0 3.1.2.11.2: Session Expiry Interval twice is a Protocol Error -> CONNACK 0x82 (MAY), close."""
    with Broker() as b:
        s = b.sock()
        block = raw_props(prop("session_expiry_interval", 10) + prop("session_expiry_interval", 20))
        s.sendall(connect("dup5", proto=V5, props=block))
        _expect_connack_error_or_close(s, 0x82)


def test_v5_receive_maximum_zero_is_protocol_error():
    """MQTT 5.0 3.1.2.11.3: Receive Maximum 0 is a Protocol Error."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("rm0", proto=V5, props=props(receive_maximum=0)))
        _expect_connack_error_or_close(s, 0x82)


def test_v5_maximum_packet_size_zero_is_protocol_error():
    """MQTT 5.0 3.1.2.11.4: Maximum Packet Size 0 is a Protocol Error."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("mps0", proto=V5, props=props(maximum_packet_size=0)))
        _expect_connack_error_or_close(s, 0x82)


def test_v5_unknown_property_in_connect_is_malformed():
    """MQTT 5.0 2.2.2.2: an unknown property identifier is a Malformed Packet (0x81)."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("unk5", proto=V5, props=raw_props(b"\x7f\x00")))
        _expect_connack_error_or_close(s, 0x81)


def test_v5_publish_only_property_in_connect_refused():
    """MQTT 5.0 2.2.2.2: a property not defined for CONNECT (Topic Alias) -> Malformed/Protocol Error."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("wrongprop", proto=V5, props=props(topic_alias=1)))
        try:
            got = recv_packet(s, 3)
        except Closed:
            return
        d = parse(got, V5)
        assert d["type"] == "CONNACK" and d["rc"] in (0x81, 0x82), d
        expect_closed(s)


# -- client identifiers -----------------------------------------------------------------------

def test_v311_empty_client_id_clean_session_accepted():
    """MQTT-3.1.3-6/7: zero-length client id with CleanSession 1 is accepted."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("", clean=True))
        expect_packet(s, connack(0), "CONNACK")


def test_v311_empty_client_id_persistent_session_refused_rc2():
    """MQTT-3.1.3-8: zero-length client id with CleanSession 0 -> CONNACK 0x02 and close."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("", clean=False))
        expect_packet(s, b"\x20\x02\x00\x02", "CONNACK 0x02")
        expect_closed(s)


def test_v31_empty_client_id_refused_rc2():
    """MQTT 3.1: the client id must be 1 to 23 characters -> CONNACK 0x02 (identifier rejected)."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("", proto=V31))
        expect_packet(s, b"\x20\x02\x00\x02", "CONNACK 0x02")
        expect_closed(s)


def test_v311_long_client_id_accepted():
    """MQTT-3.1.3-5 allows 1..23 characters at least; servers MAY allow more (here 100)."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("x" * 100))
        expect_packet(s, connack(0), "CONNACK")


def test_v5_assigned_client_identifier():
    """MQTT-3.1.3-6/MQTT-3.2.2-16: empty client id in 5.0 -> the Server assigns one and returns it
    in Assigned Client Identifier; two clients get different identifiers."""
    with Broker() as b:
        ids = []
        for _ in range(2):
            s = b.sock()
            s.sendall(connect("", proto=V5))
            p = expect_connack(s, 0, False, V5)
            assert "assigned_client_identifier" in p, p
            assert p["assigned_client_identifier"], p
            ids.append(p["assigned_client_identifier"])
        assert ids[0] != ids[1], ids


def test_v5_no_assigned_identifier_when_client_gave_one():
    """MQTT 5.0 3.2.2.3.7: Assigned Client Identifier only when the client id was empty."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("mine", proto=V5))
        p = expect_connack(s, 0, False, V5)
        assert "assigned_client_identifier" not in p, p


# -- sessions ---------------------------------------------------------------------------------

def test_v311_session_present_flags():
    """MQTT-3.2.2-1/2/3: clean session -> SP 0; persistent session resumed -> SP 1; new
    persistent session -> SP 0; a clean session discards the old one."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("sp", clean=False))
        expect_packet(s, connack(0, session_present=False), "CONNACK first persistent")
        s.sendall(disconnect())
        s.close()
        s = b.sock()
        s.sendall(connect("sp", clean=False))
        expect_packet(s, connack(0, session_present=True), "CONNACK resumed")
        s.sendall(disconnect())
        s.close()
        s = b.sock()
        s.sendall(connect("sp", clean=True))
        expect_packet(s, connack(0, session_present=False), "CONNACK clean")
        s.sendall(disconnect())
        s.close()
        s = b.sock()
        s.sendall(connect("sp", clean=False))
        expect_packet(s, connack(0, session_present=False), "CONNACK after clean")


def test_v311_persistent_session_keeps_subscriptions():
    """MQTT-3.1.2-4: a resumed session keeps its subscriptions."""
    with Broker() as b:
        s = b.client("keepsub", clean=False)
        s.sendall(subscribe(1, [("keep/sub", 0)]))
        expect_packet(s, suback(1, [0]), "SUBACK")
        s.sendall(disconnect())
        s.close()
        s = b.client("keepsub", clean=False, session_present=True)
        p = b.client("pub")
        p.sendall(publish("keep/sub", b"still here"))
        expect_publish(s, "keep/sub", b"still here")


def test_v311_clean_session_discards_subscriptions():
    """MQTT-3.1.2-6: CleanSession 1 -> a new session, old subscriptions gone."""
    with Broker() as b:
        s = b.client("dropsub", clean=False)
        s.sendall(subscribe(1, [("drop/sub", 0), ("marker", 0)]))
        expect_packet(s, suback(1, [0, 0]), "SUBACK")
        s.sendall(disconnect())
        s.close()
        s = b.client("dropsub", clean=True)
        s.sendall(subscribe(2, [("marker", 0)]))
        expect_packet(s, suback(2, [0]), "SUBACK")
        p = b.client("pub")
        p.sendall(publish("drop/sub", b"gone") + publish("marker", b"m"))
        expect_publish(s, "marker", b"m", name="only the marker")


def test_v5_session_present_and_expiry():
    """MQTT-3.2.2-2/3 (5.0): Session Expiry Interval > 0 keeps the session -> SP 1 on reconnect
    with Clean Start 0; Clean Start 1 -> SP 0."""
    with Broker() as b:
        s = b.client("sp5", proto=V5, clean=False, props=props(session_expiry_interval=60))
        s.sendall(disconnect(proto=V5))
        s.close()
        s = b.client("sp5", proto=V5, clean=False, session_present=True,
                     props=props(session_expiry_interval=60))
        s.sendall(disconnect(proto=V5))
        s.close()
        b.client("sp5", proto=V5, clean=True, session_present=False)


def test_v5_session_expiry_zero_ends_session_at_close():
    """MQTT 5.0 3.1.2.11.2: no Session Expiry Interval (0) -> session ends with the connection."""
    with Broker() as b:
        s = b.client("se0", proto=V5, clean=False)
        s.sendall(disconnect(proto=V5))
        s.close()
        b.client("se0", proto=V5, clean=False, session_present=False)


def test_v5_session_expires_after_interval():
    """MQTT-4.1.0-2 (5.0): a session with Session Expiry Interval 1 is gone after 1 s."""
    with Broker() as b:
        s = b.client("se1", proto=V5, clean=False, props=props(session_expiry_interval=1))
        s.sendall(disconnect(proto=V5))
        s.close()
        time.sleep(2.2)
        b.client("se1", proto=V5, clean=False, session_present=False,
                 props=props(session_expiry_interval=1))


def test_v5_disconnect_cannot_set_session_expiry_from_zero():
    """MQTT 5.0 3.14.2.2.2: Session Expiry Interval 0 in CONNECT and non-zero in DISCONNECT is a
    Protocol Error -> DISCONNECT 0x82."""
    with Broker() as b:
        s = b.client("se-dis", proto=V5)
        s.sendall(disconnect(0, proto=V5, props=props(session_expiry_interval=30)))
        expect_disconnect(s, 0x82)


def test_v5_disconnect_can_change_session_expiry():
    """MQTT 5.0 3.14.2.2.2: a non-zero Session Expiry Interval can be changed in DISCONNECT; set to
    0 the session ends at once."""
    with Broker() as b:
        s = b.client("se-chg", proto=V5, clean=False, props=props(session_expiry_interval=60))
        s.sendall(disconnect(0, proto=V5, props=props(session_expiry_interval=0)))
        s.close()
        time.sleep(0.2)
        b.client("se-chg", proto=V5, clean=False, session_present=False)


# -- session takeover -------------------------------------------------------------------------

def test_v311_session_takeover_closes_old_connection():
    """MQTT-3.1.4-2: a CONNECT with a client id in use -> the Server closes the existing connection."""
    with Broker() as b:
        old = b.client("same")
        b.client("same")
        expect_closed(old)


@known_mosquitto_difference("closes the old connection without DISCONNECT 0x8E")
def test_v5_session_takeover_sends_disconnect_0x8e():
    """MQTT 5.0 3.1.4 (MQTT-3.1.4-3): the old connection gets DISCONNECT 0x8E (Session taken over)."""
    with Broker() as b:
        old = b.client("same5", proto=V5)
        b.client("same5", proto=V5)
        expect_disconnect(old, 0x8E)


def test_v311_takeover_keeps_persistent_session():
    """MQTT-3.1.4-2/3.2.2-2: taking over with CleanSession 0 resumes the session (SP 1) and
    its subscriptions."""
    with Broker() as b:
        old = b.client("tk", clean=False)
        old.sendall(subscribe(1, [("tk/t", 1)]))
        expect_packet(old, suback(1, [1]), "SUBACK")
        new = b.client("tk", clean=False, session_present=True)
        expect_closed(old)
        p = b.client("pub")
        p.sendall(publish("tk/t", b"to new", qos=1, mid=3))
        expect_packet(p, puback(3), "PUBACK")
        expect_publish(new, "tk/t", b"to new", qos=1)


# -- keep alive -------------------------------------------------------------------------------

@known_mosquitto_difference("checks keep alive on a coarse timer: a 1 s Keep Alive is enforced after ~5.5 s, not 1.5 s")
def test_v311_keepalive_enforced():
    """MQTT-3.1.2-24: no packet within 1.5 x Keep Alive -> the Server closes the connection.
    Keep Alive 1 s: closed after about 1.5 s, not before 1 s."""
    with Broker() as b:
        s = b.client("ka", keepalive=1)
        t0 = time.monotonic()
        expect_closed(s, timeout=3.0)
        elapsed = time.monotonic() - t0
        assert 1.0 <= elapsed <= 2.6, "closed after %.2f s, expected about 1.5 s" % elapsed


@known_mosquitto_difference("checks keep alive on a coarse timer: a 1 s Keep Alive is enforced after ~5.5 s, not 1.5 s")
def test_v5_keepalive_enforced():
    """MQTT-3.1.2-22 (5.0): no packet within 1.5 x Keep Alive -> close (a DISCONNECT 0x8D
    Keep Alive timeout MAY come first)."""
    with Broker() as b:
        s = b.client("ka5", proto=V5, keepalive=1)
        t0 = time.monotonic()
        try:
            got = recv_packet(s, 3.0)
            d = parse(got, V5)
            assert d["type"] == "DISCONNECT" and d.get("rc") == 0x8D, d
            expect_closed(s)
        except Closed:
            pass
        elapsed = time.monotonic() - t0
        assert 1.0 <= elapsed <= 2.6, "closed after %.2f s, expected about 1.5 s" % elapsed


def test_v311_pingreq_keeps_connection_alive():
    """MQTT-3.1.2-23/24: a client that sends PINGREQ within the keep alive stays connected."""
    with Broker() as b:
        s = b.client("kaping", keepalive=1)
        for _ in range(5):
            time.sleep(0.5)
            s.sendall(pingreq())
            expect_packet(s, pingresp(), "PINGRESP")


def test_v311_any_packet_resets_keepalive():
    """MQTT-3.1.2-23: any control packet counts, not only PINGREQ."""
    with Broker() as b:
        s = b.client("kapub", keepalive=1)
        for i in range(5):
            time.sleep(0.5)
            s.sendall(publish("ka/any", b"x", qos=1, mid=i + 1))
            expect_packet(s, puback(i + 1), "PUBACK")


def test_v311_keepalive_zero_disables():
    """MQTT 3.1.2.10: Keep Alive 0 turns the mechanism off; an idle client is not closed."""
    with Broker() as b:
        s = b.client("ka0", keepalive=0)
        expect_nothing(s, 2.0)
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")


def test_v5_server_keep_alive_lowers_client_value():
    """MQTT-3.2.2-21/22: with max_keepalive 10 and client Keep Alive 60, CONNACK carries
    Server Keep Alive 10."""
    with Broker(DEFAULT + "max_keepalive 10\n") as b:
        s = b.sock()
        s.sendall(connect("ska", proto=V5, keepalive=60))
        p = expect_connack(s, 0, False, V5)
        assert p.get("server_keep_alive") == 10, p
