"""Retained messages: store, replace, clear, QoS on delivery, the RETAIN flag on the wire,
and the 5.0 subscription options Retain Handling and Retain As Published."""

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


def _retain(b, topic, payload, qos=0, proto=V311, cid="retainer", props_=None):
    """Publish a retained message and wait until the broker acknowledged it (QoS 1)."""
    p = b.client(cid, proto=proto)
    p.sendall(publish(topic, payload, qos=1, mid=1, retain=True, proto=proto, props=props_))
    if proto == V5:
        expect_type(p, PUBACK, "PUBACK", proto=V5)
    else:
        expect_packet(p, puback(1), "PUBACK")
    p.sendall(disconnect())
    p.close()


def test_v311_retained_sent_on_subscribe_with_retain_flag():
    """MQTT-3.3.1-6/MQTT-3.3.1-8: a new subscription gets the retained message with RETAIN 1."""
    with Broker() as b:
        _retain(b, "r/a", b"kept")
        s = b.subscriber("sub", [("r/a", 0)])
        expect_packet(s, publish("r/a", b"kept", retain=True), "retained PUBLISH")


def test_v311_retained_qos0_stored():
    """MQTT-3.3.1-7: a QoS 0 retained message replaces the old one and SHOULD be stored."""
    with Broker() as b:
        p = b.client("p")
        p.sendall(publish("r/q0", b"zero", retain=True))
        p.sendall(pingreq())
        expect_packet(p, pingresp(), "PINGRESP")
        s = b.subscriber("sub", [("r/q0", 1)])
        expect_packet(s, publish("r/q0", b"zero", retain=True), "retained PUBLISH")


def test_v311_live_message_has_retain_0():
    """MQTT-3.3.1-9: a retained PUBLISH forwarded to an existing subscription has RETAIN 0."""
    with Broker() as b:
        s = b.subscriber("sub", [("r/live", 0)])
        p = b.client("p")
        p.sendall(publish("r/live", b"now", retain=True))
        expect_packet(s, publish("r/live", b"now", retain=False), "PUBLISH with RETAIN 0")


def test_v311_retained_replaced():
    """MQTT-3.3.1-5: a new retained message replaces the one stored for the topic."""
    with Broker() as b:
        _retain(b, "r/rep", b"old")
        _retain(b, "r/rep", b"new")
        s = b.subscriber("sub", [("r/rep", 0)])
        expect_packet(s, publish("r/rep", b"new", retain=True), "retained PUBLISH")
        expect_nothing(s)


def test_v311_retained_cleared_by_empty_payload():
    """MQTT-3.3.1-10/11: a zero-byte retained PUBLISH removes the retained message and is not stored."""
    with Broker() as b:
        _retain(b, "r/clr", b"old")
        _retain(b, "r/clr", b"")
        s = b.subscriber("sub", [("r/clr", 0), ("r/clr2", 0)])
        expect_nothing(s, name="no retained message after clearing")


def test_v311_empty_retained_forwarded_to_current_subscribers():
    """MQTT-3.3.1-10: the zero-byte retained PUBLISH is still delivered to current subscribers."""
    with Broker() as b:
        s = b.subscriber("sub", [("r/e", 0)])
        p = b.client("p")
        p.sendall(publish("r/e", b"", retain=True))
        expect_packet(s, publish("r/e", b""), "PUBLISH with empty payload")


def test_v311_retained_qos_is_min_of_message_and_subscription():
    """MQTT-3.8.4-6 / 3.3.1.3: a QoS 2 retained message to a QoS 1 subscription arrives as QoS 1,
    to a QoS 0 subscription as QoS 0."""
    with Broker() as b:
        p = b.client("p")
        p.sendall(publish("r/qos", b"q2", qos=2, mid=1, retain=True))
        expect_packet(p, pubrec(1), "PUBREC")
        p.sendall(pubrel(1))
        expect_packet(p, pubcomp(1), "PUBCOMP")
        s1 = b.subscriber("s1", [("r/qos", 1)])
        expect_publish(s1, "r/qos", b"q2", qos=1, retain=True)
        s0 = b.subscriber("s0", [("r/qos", 0)])
        expect_packet(s0, publish("r/qos", b"q2", retain=True), "retained PUBLISH QoS 0")


def test_v311_retained_qos1_not_upgraded():
    """MQTT-3.8.4-6: retained QoS 0 to a QoS 2 subscription arrives as QoS 0."""
    with Broker() as b:
        p = b.client("p")
        p.sendall(publish("r/q0up", b"z", retain=True) + pingreq())
        expect_packet(p, pingresp(), "PINGRESP")
        s = b.subscriber("s", [("r/q0up", 2)])
        expect_packet(s, publish("r/q0up", b"z", retain=True), "retained PUBLISH QoS 0")


def test_v311_retained_matched_by_wildcards():
    """MQTT 3.3.1.3: every retained message that matches the filter is sent (4.7 matching)."""
    with Broker() as b:
        for t in ("w/a", "w/b/c", "x/a"):
            _retain(b, t, t.encode())
        s = b.subscriber("sub", [("w/#", 0)])
        got = {parse(recv_packet(s))["topic"] for _ in range(2)}
        assert got == {"w/a", "w/b/c"}, got
        expect_nothing(s)


def test_v311_retained_resent_on_resubscribe():
    """MQTT-3.8.4-3: repeating a SUBSCRIBE replaces the subscription and re-sends retained messages."""
    with Broker() as b:
        _retain(b, "r/again", b"x")
        s = b.subscriber("sub", [("r/again", 0)])
        expect_packet(s, publish("r/again", b"x", retain=True), "first")
        s.sendall(subscribe(2, [("r/again", 0)]))
        expect_packet(s, suback(2, [0]), "SUBACK")
        expect_packet(s, publish("r/again", b"x", retain=True), "again")


def test_v311_retained_delivered_after_suback():
    """MQTT 3.8.4 lets a Server send matching PUBLISH packets before the SUBACK; mote, like
    mosquitto, sends the SUBACK first, and the other tests rely on that order."""
    with Broker() as b:
        _retain(b, "r/order", b"x")
        s = b.client("sub")
        s.sendall(subscribe(1, [("r/order", 0)]))
        expect_packet(s, suback(1, [0]), "SUBACK first")
        expect_packet(s, publish("r/order", b"x", retain=True), "then retained")


# -- MQTT 5.0 ---------------------------------------------------------------------------------

def test_v5_retain_handling_0_sends_on_every_subscribe():
    """MQTT-3.3.1-9 (5.0): Retain Handling 0 -> retained messages on every SUBSCRIBE."""
    with Broker() as b:
        _retain(b, "rh/0", b"x")
        s = b.client("sub", proto=V5)
        for mid in (1, 2):
            s.sendall(subscribe(mid, [("rh/0", sub_opts(0, retain_handling=0))], proto=V5))
            expect_packet(s, suback(mid, [0], proto=V5), "SUBACK")
            expect_publish(s, "rh/0", b"x", retain=True, proto=V5)


def test_v5_retain_handling_1_only_for_new_subscription():
    """MQTT-3.3.1-10: Retain Handling 1 -> retained messages only if the subscription did not exist."""
    with Broker() as b:
        _retain(b, "rh/1", b"x")
        s = b.client("sub", proto=V5)
        s.sendall(subscribe(1, [("rh/1", sub_opts(0, retain_handling=1))], proto=V5))
        expect_packet(s, suback(1, [0], proto=V5), "SUBACK")
        expect_publish(s, "rh/1", b"x", retain=True, proto=V5)
        s.sendall(subscribe(2, [("rh/1", sub_opts(0, retain_handling=1))], proto=V5))
        expect_packet(s, suback(2, [0], proto=V5), "SUBACK")
        expect_nothing(s, name="no retained message for an existing subscription")


def test_v5_retain_handling_2_never():
    """MQTT-3.3.1-11: Retain Handling 2 -> no retained messages at subscribe."""
    with Broker() as b:
        _retain(b, "rh/2", b"x")
        s = b.client("sub", proto=V5)
        s.sendall(subscribe(1, [("rh/2", sub_opts(0, retain_handling=2))], proto=V5))
        expect_packet(s, suback(1, [0], proto=V5), "SUBACK")
        expect_nothing(s)


def test_v5_retain_handling_3_is_protocol_error():
    """MQTT 5.0 3.8.3.1: Retain Handling 3 is a Protocol Error -> DISCONNECT 0x82 (or 0x81)."""
    with Broker() as b:
        s = b.client("sub", proto=V5)
        s.sendall(subscribe(1, [("rh/3", sub_opts(0, retain_handling=3))], proto=V5))
        d = expect_type(s, DISCONNECT, "DISCONNECT", proto=V5)
        assert d.get("rc") in (0x81, 0x82), d
        expect_closed(s)


def test_v5_retain_as_published_0_clears_flag():
    """MQTT-3.3.1-12: Retain As Published 0 -> forwarded messages have RETAIN 0."""
    with Broker() as b:
        s = b.subscriber("sub", [("rap/0", sub_opts(0, retain_as_published=False))], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("rap/0", b"x", retain=True, proto=V5))
        expect_packet(s, publish("rap/0", b"x", retain=False, proto=V5), "PUBLISH RETAIN 0", proto=V5)


def test_v5_retain_as_published_1_keeps_flag():
    """MQTT-3.3.1-13: Retain As Published 1 -> RETAIN set as the publisher set it."""
    with Broker() as b:
        s = b.subscriber("sub", [("rap/1", sub_opts(0, retain_as_published=True))], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("rap/1", b"r", retain=True, proto=V5))
        p.sendall(publish("rap/1", b"n", retain=False, proto=V5))
        expect_packet(s, publish("rap/1", b"r", retain=True, proto=V5), "PUBLISH RETAIN 1", proto=V5)
        expect_packet(s, publish("rap/1", b"n", retain=False, proto=V5), "PUBLISH RETAIN 0", proto=V5)


def test_v5_retained_message_keeps_properties():
    """MQTT-3.3.2-4 / 3.3.2-20: properties of a retained message (content type, user properties)
    are sent unaltered when it is delivered later."""
    with Broker() as b:
        pp = props(content_type="text/plain", user_property=[("k", "v")])
        _retain(b, "r/props", b"x", proto=V5, props_=pp)
        s = b.subscriber("sub", [("r/props", 0)], proto=V5)
        expect_publish(s, "r/props", b"x", retain=True, proto=V5,
                       props={"content_type": "text/plain", "user_property": [("k", "v")]})


def test_v5_retain_not_available_0x9a():
    """MQTT-3.2.2-14 (5.0 3.2.2.3.5): with retain_available false the CONNACK says Retain
    Available 0, and a retained PUBLISH -> DISCONNECT 0x9A (Retain not supported)."""
    with Broker(DEFAULT + "retain_available false\n") as b:
        s = b.client("nr", proto=V5)
        assert b.last_connack_props.get("retain_available") == 0, b.last_connack_props
        s.sendall(publish("nr/t", b"x", retain=True, proto=V5))
        expect_disconnect(s, 0x9A)


@known_mosquitto_difference("sends retained messages to a new shared subscription")
def test_v5_shared_subscription_gets_no_retained():
    """MQTT 5.0 3.3.1.3: retained messages are sent when a new Non-shared Subscription is made;
    a shared subscription gets none."""
    with Broker() as b:
        _retain(b, "sr/t", b"x")
        s = b.subscriber("sub", [("$share/g/sr/t", 0)], proto=V5)
        expect_nothing(s)
