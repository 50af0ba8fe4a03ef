"""PUBLISH and the QoS 0/1/2 flows in both directions: acknowledgements, in-flight windows,
redelivery with DUP on reconnect, offline queueing, Receive Maximum."""

import time

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


# -- client -> broker -> client ---------------------------------------------------------------

def test_v311_qos0_delivered_exact_bytes():
    """MQTT 3.3.1/3.3.5: a QoS 0 message arrives as 30 LEN topic payload."""
    with Broker() as b:
        sub = b.subscriber("sub", [("a/b", 0)])
        pub = b.client("pub")
        pub.sendall(publish("a/b", b"hello"))
        expect_packet(sub, b"\x30\x0a\x00\x03a/bhello", "PUBLISH")


def test_v311_qos0_publisher_gets_no_ack():
    """MQTT-4.3.1: QoS 0 is fire and forget: nothing comes back to the publisher."""
    with Broker() as b:
        pub = b.client("pub")
        pub.sendall(publish("q0/none", b"x"))
        expect_nothing(pub)


def test_v311_qos1_puback_and_delivery():
    """MQTT-4.3.2-2: QoS 1 PUBLISH -> PUBACK 40 02 with the same packet id; the subscriber gets
    QoS 1 with a non-zero packet id and DUP 0."""
    with Broker() as b:
        sub = b.subscriber("sub", [("q1/t", 1)])
        pub = b.client("pub")
        pub.sendall(publish("q1/t", b"one", qos=1, mid=0x1234))
        expect_packet(pub, b"\x40\x02\x12\x34", "PUBACK")
        d = expect_publish(sub, "q1/t", b"one", qos=1)
        sub.sendall(puback(d["mid"]))
        expect_nothing(sub)


def test_v311_qos2_publisher_flow():
    """MQTT-4.3.3-2 (broker as receiver): PUBLISH QoS 2 -> PUBREC; PUBREL -> PUBCOMP, same id."""
    with Broker() as b:
        pub = b.client("pub")
        pub.sendall(publish("q2/t", b"two", qos=2, mid=77))
        expect_packet(pub, b"\x50\x02\x00\x4d", "PUBREC")
        pub.sendall(pubrel(77))
        expect_packet(pub, b"\x70\x02\x00\x4d", "PUBCOMP")


def test_v311_qos2_subscriber_flow():
    """MQTT-4.3.3-1 (broker as sender): PUBLISH QoS 2 -> client PUBREC -> broker PUBREL
    (62 02, flags 0010 [MQTT-3.6.1-1]) -> client PUBCOMP; delivered once."""
    with Broker() as b:
        sub = b.subscriber("sub", [("q2/s", 2)])
        pub = b.client("pub")
        pub.sendall(publish("q2/s", b"two", qos=2, mid=5))
        expect_packet(pub, pubrec(5), "PUBREC")
        pub.sendall(pubrel(5))
        expect_packet(pub, pubcomp(5), "PUBCOMP")
        d = expect_publish(sub, "q2/s", b"two", qos=2)
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.sendall(pubcomp(d["mid"]))
        expect_nothing(sub)


def test_v311_qos2_duplicate_publish_delivered_once():
    """MQTT-4.3.3-2 (receiver): until PUBREL, a PUBLISH with the same packet id is
    acknowledged with PUBREC again and MUST NOT cause a duplicate delivery."""
    with Broker() as b:
        sub = b.subscriber("sub", [("q2/dup", 2), ("marker", 0)])
        pub = b.client("pub")
        pub.sendall(publish("q2/dup", b"once", qos=2, mid=9))
        expect_packet(pub, pubrec(9), "PUBREC")
        pub.sendall(publish("q2/dup", b"once", qos=2, mid=9, dup=True))
        expect_packet(pub, pubrec(9), "PUBREC again")
        pub.sendall(pubrel(9))
        expect_packet(pub, pubcomp(9), "PUBCOMP")
        pub.sendall(publish("marker", b"end"))
        d = expect_publish(sub, "q2/dup", b"once", qos=2)
        expect_publish(sub, "marker", b"end", name="marker (no second copy before it)")
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.sendall(pubcomp(d["mid"]))
        expect_nothing(sub)


def test_v311_qos1_dup_flag_not_propagated():
    """MQTT-3.3.1-3: the DUP flag of an incoming PUBLISH is not propagated to subscribers."""
    with Broker() as b:
        sub = b.subscriber("sub", [("dup/in", 1)])
        pub = b.client("pub")
        pub.sendall(publish("dup/in", b"retry", qos=1, mid=3, dup=True))
        expect_packet(pub, puback(3), "PUBACK")
        expect_publish(sub, "dup/in", b"retry", qos=1, dup=False)


def test_v311_packet_id_reusable_after_puback():
    """MQTT 3.1.1 2.3.1: after PUBACK the id is free; a new PUBLISH with it is a new message."""
    with Broker() as b:
        sub = b.subscriber("sub", [("reuse", 1)])
        pub = b.client("pub")
        for payload in (b"first", b"second"):
            pub.sendall(publish("reuse", payload, qos=1, mid=1))
            expect_packet(pub, puback(1), "PUBACK")
            d = expect_publish(sub, "reuse", payload, qos=1)
            sub.sendall(puback(d["mid"]))


def test_v311_qos_downgraded_to_granted_qos():
    """MQTT-3.8.4-6: delivered QoS = min(published QoS, granted QoS)."""
    with Broker() as b:
        s0 = b.subscriber("s0", [("dg", 0)])
        s1 = b.subscriber("s1", [("dg", 1)])
        pub = b.client("pub")
        pub.sendall(publish("dg", b"x", qos=2, mid=1))
        expect_packet(pub, pubrec(1), "PUBREC")
        pub.sendall(pubrel(1))
        expect_packet(pub, pubcomp(1), "PUBCOMP")
        expect_packet(s0, publish("dg", b"x"), "PUBLISH QoS 0")
        expect_publish(s1, "dg", b"x", qos=1)


def test_v311_qos_not_upgraded():
    """MQTT-3.8.4-6: a QoS 1 message to a QoS 2 subscription is sent with QoS 1."""
    with Broker() as b:
        s2 = b.subscriber("s2", [("up", 2)])
        pub = b.client("pub")
        pub.sendall(publish("up", b"x", qos=1, mid=1))
        expect_packet(pub, puback(1), "PUBACK")
        expect_publish(s2, "up", b"x", qos=1)


def test_v311_qos1_messages_in_order_with_distinct_ids():
    """MQTT-4.6.0-6: QoS 1 messages on a topic arrive in publish order; in-flight
    packet ids are distinct [MQTT-2.3.1-2]."""
    with Broker() as b:
        sub = b.subscriber("sub", [("ord", 1)])
        pub = b.client("pub")
        for i in range(10):
            pub.sendall(publish("ord", b"%d" % i, qos=1, mid=i + 1))
        for i in range(10):
            expect_packet(pub, puback(i + 1), "PUBACK %d" % (i + 1))
        mids = [expect_publish(sub, "ord", b"%d" % i, qos=1)["mid"] for i in range(10)]
        assert len(set(mids)) == 10, mids


def test_v311_each_subscriber_gets_one_copy():
    """MQTT-3.3.5-1 family: every matching subscriber receives the message once."""
    with Broker() as b:
        subs = [b.subscriber("s%d" % i, [("fan/out", 1)]) for i in range(3)]
        pub = b.client("pub")
        pub.sendall(publish("fan/out", b"all", qos=1, mid=1) + publish("fan/out", b"end"))
        expect_packet(pub, puback(1), "PUBACK")
        for s in subs:
            expect_publish(s, "fan/out", b"all", qos=1)
            expect_publish(s, "fan/out", b"end", qos=0)


def test_v311_large_payload_three_byte_length():
    """MQTT 2.2.3: Remaining Length over 16383 uses 3 bytes; a 200 kB payload arrives intact."""
    payload = bytes(range(256)) * 800
    with Broker() as b:
        sub = b.subscriber("sub", [("big", 1)])
        pub = b.client("pub")
        pub.sendall(publish("big", payload, qos=1, mid=1))
        expect_packet(pub, puback(1), "PUBACK", timeout=10)
        expect_publish(sub, "big", payload, qos=1, timeout=10)


def test_v311_several_packets_in_one_segment():
    """MQTT 4.2: packets back to back in one TCP write are all processed."""
    with Broker() as b:
        sub = b.subscriber("sub", [("burst", 0)])
        pub = b.sock()
        pub.sendall(connect("pub") + publish("burst", b"1") + publish("burst", b"2") + pingreq())
        expect_packet(pub, connack(0), "CONNACK")
        expect_packet(pub, pingresp(), "PINGRESP")
        expect_publish(sub, "burst", b"1")
        expect_publish(sub, "burst", b"2")


# -- redelivery on reconnect ------------------------------------------------------------------

def _persistent_sub(b, cid, flt, qos, proto=V311, **kw):
    if proto == V5:
        kw.setdefault("props", props(session_expiry_interval=60))
    return b.subscriber(cid, [(flt, qos)], proto=proto, clean=False, **kw)


def test_v311_unacked_qos1_redelivered_with_dup():
    """MQTT-4.4.0-1/MQTT-3.3.1-1: unacknowledged QoS 1 PUBLISH is resent on reconnect (CleanSession 0)
    with the same packet id and DUP 1."""
    with Broker() as b:
        sub = _persistent_sub(b, "rd1", "rd/1", 1)
        pub = b.client("pub")
        pub.sendall(publish("rd/1", b"again", qos=1, mid=1))
        expect_packet(pub, puback(1), "PUBACK")
        first = expect_publish(sub, "rd/1", b"again", qos=1)
        sub.close()
        sub = b.client("rd1", clean=False, session_present=True)
        d = expect_publish(sub, "rd/1", b"again", qos=1, dup=True, name="redelivered PUBLISH")
        assert d["mid"] == first["mid"], (first["mid"], d["mid"])
        sub.sendall(puback(d["mid"]))
        expect_nothing(sub)


def test_v5_unacked_qos1_redelivered_with_dup():
    """MQTT-4.4.0-1 (5.0): with Clean Start 0 and a session present, unacknowledged PUBLISH is
    resent with its original packet id and DUP 1."""
    with Broker() as b:
        sub = _persistent_sub(b, "rd5", "rd/5", 1, proto=V5)
        pub = b.client("pub", proto=V5)
        pub.sendall(publish("rd/5", b"again", qos=1, mid=1, proto=V5))
        expect_type(pub, PUBACK, "PUBACK", proto=V5)
        first = expect_publish(sub, "rd/5", b"again", qos=1, proto=V5)
        sub.close()
        sub = b.client("rd5", proto=V5, clean=False, session_present=True,
                       props=props(session_expiry_interval=60))
        d = expect_publish(sub, "rd/5", b"again", qos=1, dup=True, proto=V5, name="redelivered PUBLISH")
        assert d["mid"] == first["mid"], (first["mid"], d["mid"])


def test_v311_unacked_qos2_publish_redelivered_with_dup():
    """MQTT-4.4.0-1: a QoS 2 PUBLISH without PUBREC is resent with DUP 1 on reconnect."""
    with Broker() as b:
        sub = _persistent_sub(b, "rd2", "rd/2", 2)
        pub = b.client("pub")
        pub.sendall(publish("rd/2", b"q2", qos=2, mid=1))
        expect_packet(pub, pubrec(1), "PUBREC")
        pub.sendall(pubrel(1))
        expect_packet(pub, pubcomp(1), "PUBCOMP")
        first = expect_publish(sub, "rd/2", b"q2", qos=2)
        sub.close()
        sub = b.client("rd2", clean=False, session_present=True)
        d = expect_publish(sub, "rd/2", b"q2", qos=2, dup=True, name="redelivered PUBLISH")
        assert d["mid"] == first["mid"]
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.sendall(pubcomp(d["mid"]))


def test_v311_pubrel_resent_on_reconnect():
    """MQTT-4.4.0-1: after PUBREC the broker resends PUBREL (not the PUBLISH) on reconnect."""
    with Broker() as b:
        sub = _persistent_sub(b, "rr2", "rr/2", 2)
        pub = b.client("pub")
        pub.sendall(publish("rr/2", b"q2", qos=2, mid=1))
        expect_packet(pub, pubrec(1), "PUBREC")
        pub.sendall(pubrel(1))
        expect_packet(pub, pubcomp(1), "PUBCOMP")
        d = expect_publish(sub, "rr/2", b"q2", qos=2)
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.close()
        sub = b.client("rr2", clean=False, session_present=True)
        expect_packet(sub, pubrel(d["mid"]), "PUBREL resent")
        sub.sendall(pubcomp(d["mid"]))
        expect_nothing(sub)


def test_v311_publisher_qos2_state_survives_reconnect():
    """MQTT-4.3.3-2/MQTT-4.4.0-1: after PUBREC the broker keeps the packet id across a reconnect of a
    persistent session; the client's PUBREL then gets PUBCOMP and the message is delivered once."""
    with Broker() as b:
        sub = b.subscriber("sub", [("pq2", 2), ("marker", 0)])
        pub = b.client("pq2pub", clean=False)
        pub.sendall(publish("pq2", b"x", qos=2, mid=42))
        expect_packet(pub, pubrec(42), "PUBREC")
        pub.close()
        pub = b.client("pq2pub", clean=False, session_present=True)
        pub.sendall(pubrel(42))
        expect_packet(pub, pubcomp(42), "PUBCOMP")
        pub.sendall(publish("marker", b"end"))
        d = expect_publish(sub, "pq2", b"x", qos=2)
        expect_publish(sub, "marker", b"end", name="marker (no second copy before it)")
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.sendall(pubcomp(d["mid"]))
        expect_nothing(sub)


# -- offline queueing -------------------------------------------------------------------------

def test_v311_offline_messages_queued_in_order():
    """MQTT-3.1.2-5/4.1: QoS 1/2 messages for a disconnected persistent session are stored and
    delivered in order on reconnect."""
    with Broker() as b:
        sub = _persistent_sub(b, "off", "off/q", 1)
        sub.sendall(disconnect())
        sub.close()
        pub = b.client("pub")
        for i in range(5):
            pub.sendall(publish("off/q", b"m%d" % i, qos=1, mid=i + 1))
            expect_packet(pub, puback(i + 1), "PUBACK")
        sub = b.client("off", clean=False, session_present=True)
        for i in range(5):
            d = expect_publish(sub, "off/q", b"m%d" % i, qos=1)
            sub.sendall(puback(d["mid"]))
        expect_nothing(sub)


def test_v311_offline_qos2_message_downgraded_to_qos1():
    """A QoS 2 message to an offline QoS 1 subscription is queued and delivered with QoS 1."""
    with Broker() as b:
        sub = _persistent_sub(b, "offq", "off/q12", 1)
        sub.close()
        pub = b.client("pub")
        pub.sendall(publish("off/q12", b"x", qos=2, mid=1))
        expect_packet(pub, pubrec(1), "PUBREC")
        pub.sendall(pubrel(1))
        expect_packet(pub, pubcomp(1), "PUBCOMP")
        sub = b.client("offq", clean=False, session_present=True)
        expect_publish(sub, "off/q12", b"x", qos=1)


def test_v311_offline_queue_limit():
    """max_queued_messages 2: a disconnected persistent session holds at most 2 QoS 1 messages;
    later ones are dropped (MQTT 3.1.1 4.1 lets the Server limit session state). On reconnect
    the 2 oldest arrive, in order."""
    with Broker(DEFAULT + "max_queued_messages 2\n") as b:
        sub = _persistent_sub(b, "lim", "lim/q", 1)
        sub.close()
        pub = b.client("pub")
        for i in range(6):
            pub.sendall(publish("lim/q", b"m%d" % i, qos=1, mid=i + 1))
            expect_packet(pub, puback(i + 1), "PUBACK")
        sub = b.client("lim", clean=False, session_present=True)
        for i in range(2):
            d = expect_publish(sub, "lim/q", b"m%d" % i, qos=1)
            sub.sendall(puback(d["mid"]))
        expect_nothing(sub, 0.5, name="nothing past the limit")


def test_v5_queued_message_to_session_that_expired_is_dropped():
    """MQTT-4.1.0-2 (5.0): when the session expires, its queued messages go with it."""
    with Broker() as b:
        sub = b.subscriber("exp", [("exp/q", 1)], proto=V5, clean=False,
                           props=props(session_expiry_interval=1))
        sub.close()
        pub = b.client("pub", proto=V5)
        pub.sendall(publish("exp/q", b"late", qos=1, mid=1, proto=V5))
        expect_type(pub, PUBACK, "PUBACK", proto=V5)
        time.sleep(2.2)
        sub = b.client("exp", proto=V5, clean=False, session_present=False,
                       props=props(session_expiry_interval=1))
        expect_nothing(sub, proto=V5)


# -- in-flight windows ------------------------------------------------------------------------

@known_mosquitto_difference("after one PUBACK it sends two queued messages, so 3 are unacknowledged with max_inflight_messages 2")
def test_v311_max_inflight_messages_window():
    """max_inflight_messages 2: at most 2 unacknowledged QoS 1 messages to a client; each PUBACK
    releases the next one, order kept [MQTT-4.6.0-6]."""
    with Broker(DEFAULT + "max_inflight_messages 2\n") as b:
        sub = b.subscriber("sub", [("win", 1)])
        pub = b.client("pub")
        for i in range(4):
            pub.sendall(publish("win", b"%d" % i, qos=1, mid=i + 1))
            expect_packet(pub, puback(i + 1), "PUBACK")
        d0 = expect_publish(sub, "win", b"0", qos=1)
        d1 = expect_publish(sub, "win", b"1", qos=1)
        expect_nothing(sub, name="window full")
        sub.sendall(puback(d0["mid"]))
        d2 = expect_publish(sub, "win", b"2", qos=1)
        expect_nothing(sub, name="window full again")
        sub.sendall(puback(d1["mid"]) + puback(d2["mid"]))
        expect_publish(sub, "win", b"3", qos=1)


def test_v5_client_receive_maximum_respected():
    """MQTT-3.3.4-9: the Server MUST NOT send more than the client's Receive Maximum (here 1)
    unacknowledged QoS 1/2 PUBLISH packets."""
    with Broker() as b:
        sub = b.subscriber("rm", [("rm/t", 1)], proto=V5, props=props(receive_maximum=1))
        pub = b.client("pub", proto=V5)
        for i in range(3):
            pub.sendall(publish("rm/t", b"%d" % i, qos=1, mid=i + 1, proto=V5))
            expect_type(pub, PUBACK, "PUBACK", proto=V5)
        d = expect_publish(sub, "rm/t", b"0", qos=1, proto=V5)
        expect_nothing(sub, name="Receive Maximum 1 reached", proto=V5)
        sub.sendall(puback(d["mid"], proto=V5))
        d = expect_publish(sub, "rm/t", b"1", qos=1, proto=V5)
        expect_nothing(sub, proto=V5)
        sub.sendall(puback(d["mid"], proto=V5))
        expect_publish(sub, "rm/t", b"2", qos=1, proto=V5)


def test_v5_qos0_not_limited_by_receive_maximum():
    """MQTT 5.0 3.3.4: Receive Maximum only counts QoS 1/2; QoS 0 still flows while it is full."""
    with Broker() as b:
        sub = b.subscriber("rm0", [("rm0/t", 1)], proto=V5, props=props(receive_maximum=1))
        pub = b.client("pub", proto=V5)
        pub.sendall(publish("rm0/t", b"q1a", qos=1, mid=1, proto=V5))
        pub.sendall(publish("rm0/t", b"q1b", qos=1, mid=2, proto=V5))
        pub.sendall(publish("rm0/t", b"q0", proto=V5))
        expect_publish(sub, "rm0/t", b"q1a", qos=1, proto=V5)
        expect_publish(sub, "rm0/t", b"q0", qos=0, proto=V5)


def test_v5_connack_receive_maximum_from_max_inflight():
    """MQTT 5.0 3.2.2.3.3: max_inflight_messages 3 is announced as Receive Maximum 3."""
    with Broker(DEFAULT + "max_inflight_messages 3\n") as b:
        b.client("rmx", proto=V5)
        assert b.last_connack_props.get("receive_maximum") == 3, b.last_connack_props


@known_mosquitto_difference("answers the extra PUBLISH with PUBREC 0x97 (Quota exceeded) instead of DISCONNECT 0x93")
def test_v5_server_receive_maximum_exceeded():
    """MQTT-3.3.4-7 (5.0 3.3.4): a client that sends more unacknowledged QoS 2 PUBLISH than
    the Server's Receive Maximum (2) -> DISCONNECT 0x93 (Receive Maximum exceeded)."""
    with Broker(DEFAULT + "max_inflight_messages 2\n") as b:
        pub = b.client("over", proto=V5)
        assert b.last_connack_props.get("receive_maximum") == 2, b.last_connack_props
        for mid in (1, 2):
            pub.sendall(publish("rmx/t", b"x", qos=2, mid=mid, proto=V5))
            expect_type(pub, PUBREC, "PUBREC", proto=V5)
        pub.sendall(publish("rmx/t", b"x", qos=2, mid=3, proto=V5))
        expect_disconnect(pub, 0x93)


# -- invalid PUBLISH and acks -----------------------------------------------------------------

def test_v311_publish_qos3_closes():
    """MQTT-3.3.1-4: a PUBLISH with both QoS bits set -> close."""
    with Broker() as b:
        s = b.client("q3")
        s.sendall(packet(0x36, string("q/3") + u16(1) + b"x"))
        expect_closed(s)


def test_v5_publish_qos3_malformed():
    """MQTT-3.3.1-4 (5.0): QoS 3 is a Malformed Packet -> DISCONNECT 0x81."""
    with Broker() as b:
        s = b.client("q35", proto=V5)
        s.sendall(packet(0x36, string("q/3") + u16(1) + b"\x00x"))
        expect_disconnect(s, 0x81)


def test_v311_qos1_packet_id_zero_closes():
    """MQTT-2.3.1-1: QoS > 0 PUBLISH needs a non-zero packet id -> close."""
    with Broker() as b:
        s = b.client("id0")
        s.sendall(publish("id/0", b"x", qos=1, mid=0))
        expect_closed(s)


def test_v5_qos1_packet_id_zero_protocol_error():
    """MQTT-2.2.1-3 (5.0): packet id 0 -> DISCONNECT 0x82 (Protocol Error) [or 0x81]."""
    with Broker() as b:
        s = b.client("id05", proto=V5)
        s.sendall(publish("id/0", b"x", qos=1, mid=0, proto=V5))
        d = expect_type(s, DISCONNECT, "DISCONNECT", proto=V5)
        assert d.get("rc") in (0x81, 0x82), d
        expect_closed(s)


def test_v311_publish_topic_with_wildcard_closes():
    """MQTT-3.3.2-2: a Topic Name must not contain wildcards -> close, not delivered."""
    with Broker() as b:
        sub = b.subscriber("sub", [("#", 0)])
        s = b.client("wild")
        s.sendall(publish("a/+", b"x"))
        expect_closed(s)
        expect_nothing(sub)


def test_v5_publish_topic_with_wildcard_rejected():
    """MQTT-3.3.2-2 (5.0): wildcard in a Topic Name -> DISCONNECT 0x90 (Topic Name invalid), or
    0x82 (Protocol Error): the spec does not say which of the two."""
    with Broker() as b:
        s = b.client("wild5", proto=V5)
        s.sendall(publish("a/#", b"x", proto=V5))
        d = expect_type(s, DISCONNECT, "DISCONNECT", proto=V5)
        assert d.get("rc") in (0x90, 0x82), d
        expect_closed(s)


def test_v311_publish_empty_topic_closes():
    """MQTT-4.7.3-1: Topic Names must be at least one character long -> close."""
    with Broker() as b:
        s = b.client("empty")
        s.sendall(publish("", b"x"))
        expect_closed(s)


def test_v311_pubrel_wrong_flags_closes():
    """MQTT-3.6.1-1: PUBREL fixed header flags must be 0010; 0000 -> close."""
    with Broker() as b:
        s = b.client("relflags")
        s.sendall(publish("rel/f", b"x", qos=2, mid=1))
        expect_packet(s, pubrec(1), "PUBREC")
        s.sendall(b"\x60\x02\x00\x01")
        expect_closed(s)


def test_v311_puback_for_unknown_id_ignored():
    """MQTT 4.3.2: a PUBACK the broker did not expect does not break the connection."""
    with Broker() as b:
        s = b.client("unk")
        s.sendall(puback(999))
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")


def test_v311_pubrel_for_unknown_id_gets_pubcomp():
    """MQTT-4.3.3-2 (receiver answers PUBREL with PUBCOMP): a PUBREL for an id the broker does not hold is still completed
    (PUBCOMP 70 02), so a retrying client can finish."""
    with Broker() as b:
        s = b.client("rel")
        s.sendall(pubrel(321))
        expect_packet(s, pubcomp(321), "PUBCOMP")


@known_mosquitto_difference("answers PUBCOMP 0x00")
def test_v5_pubrel_for_unknown_id_0x92():
    """MQTT 5.0 3.7.2.1: PUBREL for an unknown id -> PUBCOMP with 0x92 (Packet Identifier not found)."""
    with Broker() as b:
        s = b.client("rel5", proto=V5)
        s.sendall(pubrel(321, proto=V5))
        d = expect_type(s, PUBCOMP, "PUBCOMP", proto=V5)
        assert d["mid"] == 321 and d["rc"] == 0x92, d
