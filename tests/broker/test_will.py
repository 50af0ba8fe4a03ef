"""Will messages: when they are published and when not, QoS and retain, 5.0 Will Delay Interval,
DISCONNECT 0x04, will properties."""

import time

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


def _will_client(b, cid, topic="will/t", payload=b"gone", qos=0, retain=False, proto=V311,
                 will_props=None, **kw):
    return b.client(cid, proto=proto, will={"topic": topic, "payload": payload, "qos": qos,
                                            "retain": retain, "props": will_props}, **kw)


def test_v311_will_on_abnormal_close():
    """MQTT-3.1.2-8: the connection closes without DISCONNECT -> the will is published."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/t", 0)])
        w = _will_client(b, "w")
        w.close()
        expect_packet(sub, publish("will/t", b"gone"), "will PUBLISH")


def test_v311_no_will_after_disconnect():
    """MQTT-3.1.2-10: DISCONNECT removes the will; closing afterwards publishes nothing."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/t", 0)])
        w = _will_client(b, "w")
        w.sendall(disconnect())
        w.close()
        expect_nothing(sub, 0.8)


def test_v311_will_on_protocol_violation():
    """MQTT-3.1.2-8: the Server closes the connection because of a protocol error (here a packet
    of reserved type 0, MQTT-2.2.1) -> will published."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/t", 0)])
        w = _will_client(b, "w")
        w.sendall(b"\x00\x00")
        expect_closed(w)
        expect_packet(sub, publish("will/t", b"gone"), "will PUBLISH")


@known_mosquitto_difference("closes the connection on a second CONNECT without publishing the will")
def test_v311_will_on_second_connect():
    """MQTT-3.1.2-8 with MQTT-3.1.0-2: a second CONNECT is a protocol violation; the Server closes
    the connection, so the will is published."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/t", 0)])
        w = _will_client(b, "w")
        w.sendall(connect("w"))
        expect_closed(w)
        expect_packet(sub, publish("will/t", b"gone"), "will PUBLISH", timeout=1.5)


def test_v311_will_on_keepalive_timeout():
    """MQTT-3.1.2-8: the client misses its keep alive -> connection closed and will published
    (timing of the keep alive itself is checked in test_connect.py)."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/t", 0)])
        _will_client(b, "w", keepalive=1)
        expect_packet(sub, publish("will/t", b"gone"), "will PUBLISH", timeout=8)


def test_v311_will_qos_and_retain():
    """MQTT-3.1.2-16/17: will QoS 1 delivered as QoS 1; will retain 1 -> stored as retained and
    sent to later subscribers with RETAIN 1; current subscribers get RETAIN 0 [MQTT-3.3.1-9]."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/r", 1)])
        w = _will_client(b, "w", topic="will/r", payload=b"bye", qos=1, retain=True)
        w.close()
        d = expect_publish(sub, "will/r", b"bye", qos=1, retain=False)
        sub.sendall(puback(d["mid"]))
        late = b.subscriber("late", [("will/r", 1)])
        expect_publish(late, "will/r", b"bye", qos=1, retain=True)


def test_v311_will_qos2():
    """MQTT-3.1.2-14: will QoS 2 -> delivered with the QoS 2 flow."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/q2", 2)])
        w = _will_client(b, "w", topic="will/q2", qos=2)
        w.close()
        d = expect_publish(sub, "will/q2", b"gone", qos=2)
        sub.sendall(pubrec(d["mid"]))
        expect_packet(sub, pubrel(d["mid"]), "PUBREL")
        sub.sendall(pubcomp(d["mid"]))


def test_v311_will_not_retained_when_retain_0():
    """MQTT-3.1.2-16: will retain 0 -> published as a non-retained message."""
    with Broker() as b:
        w = _will_client(b, "w", topic="will/nr")
        sub = b.subscriber("sub", [("will/nr", 0)])
        w.close()
        expect_packet(sub, publish("will/nr", b"gone"), "will PUBLISH")
        late = b.subscriber("late", [("will/nr", 0)])
        expect_nothing(late)


def test_v311_will_topic_with_wildcard_refused():
    """MQTT-3.1.3-10/MQTT-3.3.2-2: the Will Topic is a Topic Name, so wildcards are not allowed."""
    with Broker() as b:
        s = b.sock()
        s.sendall(connect("w", will={"topic": "will/#", "payload": b"x"}))
        try:
            got = recv_packet(s, 3)
        except Closed:
            return
        assert got[0] == 0x20 and got[3] != 0, hexdump(got)
        expect_closed(s)


# -- MQTT 5.0 ---------------------------------------------------------------------------------

def test_v5_will_on_abnormal_close():
    """MQTT-3.1.2-8 (5.0): close without DISCONNECT -> will published."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/5", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/5", proto=V5)
        w.close()
        expect_publish(sub, "will/5", b"gone", proto=V5)


def test_v5_no_will_after_disconnect_0x00():
    """MQTT-3.1.2-10 (5.0): DISCONNECT with reason 0x00 -> the will is deleted."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/5", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/5", proto=V5)
        w.sendall(disconnect(0, proto=V5))
        w.close()
        expect_nothing(sub, 0.8)


def test_v5_disconnect_0x04_publishes_will():
    """MQTT 5.0 3.14.2.1: DISCONNECT 0x04 (Disconnect with Will Message) -> will published."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/5", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/5", proto=V5)
        w.sendall(disconnect(0x04, proto=V5))
        expect_publish(sub, "will/5", b"gone", proto=V5)


def test_v5_will_on_takeover():
    """MQTT 5.0 3.1.4 (after MQTT-3.1.4-3): the existing client's will is published when its
    session is taken over (Will Delay Interval 0)."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/tk", 0)], proto=V5)
        _will_client(b, "tk", topic="will/tk", proto=V5)
        b.client("tk", proto=V5)
        expect_publish(sub, "will/tk", b"gone", proto=V5)


def test_v5_will_delay_interval():
    """MQTT-3.1.3-9 / 5.0 3.1.3.2.2: Will Delay Interval 1 s -> not published at once, published
    after about 1 s (session expiry 10 s keeps the session alive meanwhile)."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/d", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/d", proto=V5, will_props=props(will_delay_interval=1),
                         clean=False, props=props(session_expiry_interval=10))
        w.close()
        t0 = time.monotonic()
        expect_nothing(sub, 0.6, name="will before its delay")
        expect_publish(sub, "will/d", b"gone", proto=V5, timeout=3)
        assert time.monotonic() - t0 >= 0.9


def test_v5_will_delay_cancelled_by_reconnect():
    """MQTT-3.1.3-9: a new connection to the session before the delay ends -> no will."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/c", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/c", proto=V5, will_props=props(will_delay_interval=1),
                         clean=False, props=props(session_expiry_interval=10))
        w.close()
        time.sleep(0.2)
        b.client("w", proto=V5, clean=False, session_present=True,
                 props=props(session_expiry_interval=10))
        expect_nothing(sub, 1.8, name="will after reconnect")


def test_v5_will_sent_when_session_ends_before_delay():
    """5.0 3.1.3.2.2: the will is published when the delay passes or the session ends, whichever
    is first: delay 30 s, session expiry 1 s -> published after about 1 s."""
    with Broker() as b:
        sub = b.subscriber("sub", [("will/se", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/se", proto=V5, will_props=props(will_delay_interval=30),
                         clean=False, props=props(session_expiry_interval=1))
        w.close()
        expect_publish(sub, "will/se", b"gone", proto=V5, timeout=4)


def test_v5_will_properties_carried():
    """MQTT 5.0 3.1.3.2: will properties go out with the will: Payload Format Indicator, Content
    Type, Response Topic, Correlation Data, User Properties in order [MQTT-3.1.3-10]."""
    wp = props(payload_format_indicator=1, content_type="text/plain", response_topic="resp/t",
               correlation_data=b"\x01\x02", user_property=[("a", "1"), ("b", "2"), ("a", "3")])
    with Broker() as b:
        sub = b.subscriber("sub", [("will/p", 0)], proto=V5)
        w = _will_client(b, "w", topic="will/p", payload=b"text", proto=V5, will_props=wp)
        w.close()
        expect_publish(sub, "will/p", b"text", proto=V5, props={
            "payload_format_indicator": 1, "content_type": "text/plain", "response_topic": "resp/t",
            "correlation_data": b"\x01\x02", "user_property": [("a", "1"), ("b", "2"), ("a", "3")]})


def test_v5_will_retained():
    """MQTT-3.1.2-17 (5.0): Will Retain 1 -> the will becomes the retained message."""
    with Broker() as b:
        w = _will_client(b, "w", topic="will/ret", payload=b"r", proto=V5, retain=True)
        w.close()
        time.sleep(0.2)
        late = b.subscriber("late", [("will/ret", 0)], proto=V5)
        expect_publish(late, "will/ret", b"r", retain=True, proto=V5)


def test_v5_will_retain_refused_when_retain_unavailable():
    """MQTT-3.2.2-13: Will Retain 1 but retain_available false -> CONNACK 0x9A and close."""
    with Broker(DEFAULT + "retain_available false\n") as b:
        s = b.sock()
        s.sendall(connect("w", proto=V5, will={"topic": "will/x", "payload": b"x", "retain": True}))
        expect_connack(s, 0x9A, False, V5)
        expect_closed(s)


def test_v5_will_qos_above_maximum_refused():
    """MQTT-3.2.2-12: Will QoS 2 above the Server's Maximum QoS (max_qos 1) -> CONNACK 0x9B, close."""
    with Broker(DEFAULT + "max_qos 1\n") as b:
        s = b.sock()
        s.sendall(connect("w", proto=V5, will={"topic": "will/x", "payload": b"x", "qos": 2}))
        expect_connack(s, 0x9B, False, V5)
        expect_closed(s)
