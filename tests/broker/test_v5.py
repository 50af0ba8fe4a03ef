"""MQTT 5.0 features: message expiry, maximum packet size both ways, request/response and other
properties carried through, reason codes on acknowledgements, server DISCONNECT reason codes."""

import time

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


def _offline_sub(b, cid, flt, qos=1):
    s = b.subscriber(cid, [(flt, qos)], proto=V5, clean=False, props=props(session_expiry_interval=60))
    s.sendall(disconnect(proto=V5))
    s.close()


def _resume(b, cid):
    return b.client(cid, proto=V5, clean=False, session_present=True,
                    props=props(session_expiry_interval=60))


def _pub_qos1(b, topic, payload, pprops=None, retain=False, cid="pub"):
    p = b.client(cid, proto=V5)
    p.sendall(publish(topic, payload, qos=1, mid=1, retain=retain, proto=V5, props=pprops))
    expect_type(p, PUBACK, "PUBACK", proto=V5)
    return p


# -- Message Expiry Interval ------------------------------------------------------------------

def test_v5_expired_message_not_delivered_to_offline_session():
    """MQTT-3.3.2-5: a message whose Message Expiry Interval (1 s) passed while the subscriber was
    away is not delivered; a later message without expiry is."""
    with Broker() as b:
        _offline_sub(b, "ex", "ex/t")
        p = _pub_qos1(b, "ex/t", b"stale", props(message_expiry_interval=1))
        time.sleep(2.2)
        p.sendall(publish("ex/t", b"fresh", qos=1, mid=2, proto=V5))
        expect_type(p, PUBACK, "PUBACK", proto=V5)
        s = _resume(b, "ex")
        d = expect_publish(s, "ex/t", b"fresh", qos=1, proto=V5)
        s.sendall(puback(d["mid"], proto=V5))
        expect_nothing(s)


def test_v5_message_expiry_decremented_for_queued_message():
    """MQTT-3.3.2-6: the Message Expiry Interval sent on is the received value minus the time the
    message waited in the Server (10 s published, ~1.2 s waited -> at most 9)."""
    with Broker() as b:
        _offline_sub(b, "exd", "exd/t")
        _pub_qos1(b, "exd/t", b"x", props(message_expiry_interval=10))
        time.sleep(1.2)
        s = _resume(b, "exd")
        d = expect_type(s, PUBLISH, "PUBLISH", proto=V5)
        left = d["props"].get("message_expiry_interval")
        assert left is not None and 7 <= left <= 9, d


def test_v5_message_expiry_forwarded_live():
    """MQTT-3.3.2-6: a live subscriber gets the Message Expiry Interval (about the value sent)."""
    with Broker() as b:
        s = b.subscriber("s", [("exl/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("exl/t", b"x", proto=V5, props=props(message_expiry_interval=60)))
        d = expect_type(s, PUBLISH, "PUBLISH", proto=V5)
        assert d["props"].get("message_expiry_interval") in (59, 60), d


def test_v5_retained_message_expires():
    """MQTT-3.3.2-5 with 3.3.1.3: a retained message with expiry 1 s is not sent after it expired."""
    with Broker() as b:
        _pub_qos1(b, "exr/t", b"x", props(message_expiry_interval=1), retain=True)
        time.sleep(2.2)
        s = b.subscriber("s", [("exr/t", 0)], proto=V5)
        expect_nothing(s)


def test_v5_retained_message_expiry_decremented():
    """MQTT-3.3.2-6: a retained message keeps counting down its expiry (10 s, ~1.2 s later <= 9)."""
    with Broker() as b:
        _pub_qos1(b, "exr2/t", b"x", props(message_expiry_interval=10), retain=True)
        time.sleep(1.2)
        s = b.subscriber("s", [("exr2/t", 0)], proto=V5)
        d = expect_type(s, PUBLISH, "PUBLISH", proto=V5)
        assert d["retain"] and 7 <= d["props"].get("message_expiry_interval", -1) <= 9, d


# -- Maximum Packet Size ----------------------------------------------------------------------

def _publish_of_size(total, topic="mp/t", qos=0, proto=V5):
    """A PUBLISH exactly `total` bytes long on the wire (for total < 130)."""
    overhead = len(publish(topic, b"", qos=qos, mid=1, proto=proto))
    return publish(topic, b"p" * (total - overhead), qos=qos, mid=1, proto=proto)


def test_v5_maximum_packet_size_announced():
    """MQTT 5.0 3.2.2.3.6: max_packet_size 100 is sent as Maximum Packet Size 100 in CONNACK."""
    with Broker(DEFAULT + "max_packet_size 100\n") as b:
        b.client("c", proto=V5)
        assert b.last_connack_props.get("maximum_packet_size") == 100, b.last_connack_props


def test_v5_packet_at_limit_accepted_over_limit_0x95():
    """MQTT 5.0 3.2.2.3.6 / 4.13: max_packet_size 100: a 100-byte PUBLISH passes, a 120-byte one
    -> DISCONNECT 0x95 (Packet too large) and is not delivered."""
    with Broker(DEFAULT + "max_packet_size 100\n") as b:
        s = b.subscriber("s", [("mp/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        pkt = _publish_of_size(100)
        assert len(pkt) == 100
        p.sendall(pkt)
        expect_packet(s, pkt, "PUBLISH of 100 bytes", proto=V5)
        p.sendall(_publish_of_size(120))
        expect_disconnect(p, 0x95)
        expect_nothing(s)


@known_mosquitto_difference("does not count the Remaining Length bytes: a 101-byte packet passes a limit of 100")
def test_v5_packet_size_limit_counts_whole_packet():
    """MQTT 5.0 3.1.2.11.4: the size is the whole packet, fixed header included: 101 bytes over a
    limit of 100 -> DISCONNECT 0x95."""
    with Broker(DEFAULT + "max_packet_size 100\n") as b:
        s = b.subscriber("s", [("mp/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        big = _publish_of_size(101)
        assert len(big) == 101
        p.sendall(big)
        expect_disconnect(p, 0x95, timeout=1.5)
        expect_nothing(s)


def test_v311_packet_over_max_packet_size_closes():
    """max_packet_size applies to 3.1.1 clients too: a larger packet closes the connection."""
    with Broker(DEFAULT + "max_packet_size 100\n") as b:
        p = b.client("p")
        p.sendall(_publish_of_size(120, proto=V311))
        expect_closed(p)


def test_v5_huge_remaining_length_rejected_before_body():
    """MQTT 5.0 3.2.2.3.6: a Remaining Length far over max_packet_size is refused from the fixed
    header alone (DISCONNECT 0x95), without waiting for the body."""
    with Broker(DEFAULT + "max_packet_size 1000\n") as b:
        p = b.client("p", proto=V5)
        p.sendall(b"\x30" + varint(10_000_000) + b"\x00\x04mp/t")
        expect_disconnect(p, 0x95, timeout=2)


def test_v5_server_respects_client_maximum_packet_size():
    """MQTT-3.1.2-24/25: the Server must not send a packet larger than the client's Maximum
    Packet Size; it discards it as if sent (no redelivery) and goes on with the next ones."""
    with Broker() as b:
        s = b.subscriber("s", [("mps/t", 1)], proto=V5, props=props(maximum_packet_size=60))
        p = b.client("p", proto=V5)
        for mid, payload in ((1, b"small1"), (2, b"B" * 100), (3, b"small2")):
            p.sendall(publish("mps/t", payload, qos=1, mid=mid, proto=V5))
            expect_type(p, PUBACK, "PUBACK", proto=V5)
        d = expect_publish(s, "mps/t", b"small1", qos=1, proto=V5)
        s.sendall(puback(d["mid"], proto=V5))
        d = expect_publish(s, "mps/t", b"small2", qos=1, proto=V5)
        s.sendall(puback(d["mid"], proto=V5))
        expect_nothing(s)


# -- properties carried through ---------------------------------------------------------------

def test_v5_request_response_properties_carried():
    """MQTT-3.3.2-15/16: Response Topic and Correlation Data reach subscribers unaltered."""
    with Broker() as b:
        s = b.subscriber("s", [("req/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("req/t", b"q", proto=V5,
                          props=props(response_topic="resp/abc", correlation_data=b"\x00\xffcorr")))
        expect_publish(s, "req/t", b"q", proto=V5,
                       props={"response_topic": "resp/abc", "correlation_data": b"\x00\xffcorr"})


def test_v5_request_response_round_trip():
    """MQTT 5.0 4.10: a responder answers on the Response Topic with the Correlation Data; the
    requester subscribed to it gets the answer."""
    with Broker() as b:
        responder = b.subscriber("responder", [("svc/req", 1)], proto=V5)
        requester = b.subscriber("requester", [("svc/resp/1", 1)], proto=V5)
        requester.sendall(publish("svc/req", b"ping", qos=1, mid=1, proto=V5,
                                  props=props(response_topic="svc/resp/1", correlation_data=b"42")))
        expect_type(requester, PUBACK, "PUBACK", proto=V5)
        d = expect_publish(responder, "svc/req", b"ping", qos=1, proto=V5,
                           props={"response_topic": "svc/resp/1", "correlation_data": b"42"})
        responder.sendall(puback(d["mid"], proto=V5))
        responder.sendall(publish(d["props"]["response_topic"], b"pong", qos=1, mid=1, proto=V5,
                                  props=props(correlation_data=d["props"]["correlation_data"])))
        expect_type(responder, PUBACK, "PUBACK", proto=V5)
        expect_publish(requester, "svc/resp/1", b"pong", qos=1, proto=V5,
                       props={"correlation_data": b"42"})


@known_mosquitto_difference("accepts and forwards a Response Topic with wildcards")
def test_v5_response_topic_with_wildcard_is_protocol_error():
    """MQTT-3.3.2-14: the Response Topic must not contain wildcards -> DISCONNECT 0x82 (or 0x90)."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("rt/t", b"x", proto=V5, props=props(response_topic="resp/#")))
        d = expect_type(p, DISCONNECT, "DISCONNECT", proto=V5, timeout=1.5)
        assert d.get("rc") in (0x82, 0x90), d
        expect_closed(p)


def test_v5_user_properties_carried_in_order():
    """MQTT-3.3.2-17/18: all User Properties are forwarded, in order, repeated keys included."""
    ups = [("z", "1"), ("a", "2"), ("z", "3"), ("", ""), ("k", "é")]
    with Broker() as b:
        s = b.subscriber("s", [("up/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("up/t", b"x", proto=V5, props=props(user_property=ups)))
        expect_publish(s, "up/t", b"x", proto=V5, props={"user_property": ups})


def test_v5_payload_format_and_content_type_carried():
    """MQTT-3.3.2-4 and MQTT-3.3.2-20: Payload Format Indicator and Content Type are sent on
    unaltered."""
    with Broker() as b:
        s = b.subscriber("s", [("pf/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("pf/t", "ünïcode", proto=V5,
                          props=props(payload_format_indicator=1, content_type="text/plain; charset=utf-8")))
        expect_publish(s, "pf/t", "ünïcode", proto=V5, props={
            "payload_format_indicator": 1, "content_type": "text/plain; charset=utf-8"})


def test_v5_properties_not_sent_to_v311_subscriber():
    """MQTT 3.1.1 has no properties: a 5.0 message arrives at a 3.1.1 subscriber as plain bytes."""
    with Broker() as b:
        s = b.subscriber("s311", [("mix/t", 0)], proto=V311)
        p = b.client("p", proto=V5)
        p.sendall(publish("mix/t", b"x", proto=V5, props=props(
            content_type="a/b", user_property=[("k", "v")], message_expiry_interval=100)))
        expect_packet(s, publish("mix/t", b"x", proto=V311), "plain 3.1.1 PUBLISH")


def test_v311_message_to_v5_subscriber_has_empty_properties():
    """A 3.1.1 message reaches a 5.0 subscriber with an empty property block."""
    with Broker() as b:
        s = b.subscriber("s5", [("mix/u", 0)], proto=V5)
        p = b.client("p", proto=V311)
        p.sendall(publish("mix/u", b"x"))
        expect_packet(s, publish("mix/u", b"x", proto=V5), "5.0 PUBLISH, no properties", proto=V5)


# -- reason codes on acknowledgements ---------------------------------------------------------

def test_v5_puback_no_matching_subscribers_0x10_or_success():
    """MQTT 5.0 3.4.2.1: with nobody subscribed, PUBACK carries 0x10 (No matching subscribers)
    or 0x00: 0x10 is a MAY. moted sends 0x00 (with one subscription tree per worker it cannot
    know at PUBACK time); mosquitto sends 0x10. Either is correct, nothing else is."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("nobody/t", b"x", qos=1, mid=5, proto=V5))
        d = expect_type(p, PUBACK, "PUBACK", proto=V5)
        assert d["mid"] == 5 and d["rc"] in (0x00, 0x10), d


def test_v5_pubrec_no_matching_subscribers_0x10_or_success():
    """MQTT 5.0 3.5.2.1: PUBREC with nobody subscribed carries 0x10 or 0x00 (a MAY); the flow
    then completes."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("nobody/t", b"x", qos=2, mid=6, proto=V5))
        d = expect_type(p, PUBREC, "PUBREC", proto=V5)
        assert d["mid"] == 6 and d["rc"] in (0x00, 0x10), d
        p.sendall(pubrel(6, proto=V5))
        d = expect_type(p, PUBCOMP, "PUBCOMP", proto=V5)
        assert (d["mid"], d["rc"]) == (6, 0), d


def test_v5_puback_success_exact_bytes():
    """MQTT 5.0 3.4.2.1: success with no properties may be the short form 40 02 id (or 40 03 id 00)."""
    with Broker() as b:
        b.subscriber("s", [("ok/t", 1)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("ok/t", b"x", qos=1, mid=0x0102, proto=V5))
        got = recv_packet(p)
        assert got in (b"\x40\x02\x01\x02", b"\x40\x03\x01\x02\x00", b"\x40\x04\x01\x02\x00\x00"), hexdump(got)


def test_v5_qos2_packet_id_reusable_after_pubcomp():
    """MQTT 5.0 2.2.1 / 4.3.3: after PUBCOMP the packet id is free; the next QoS 2 PUBLISH with it
    is a new message and is delivered again."""
    with Broker() as b:
        s = b.subscriber("s", [("pr/t", 2)], proto=V5)
        p = b.client("p", proto=V5)
        for payload in (b"a", b"b"):
            p.sendall(publish("pr/t", payload, qos=2, mid=9, proto=V5))
            expect_type(p, PUBREC, "PUBREC", proto=V5)
            p.sendall(pubrel(9, proto=V5))
            expect_type(p, PUBCOMP, "PUBCOMP", proto=V5)
            d = expect_publish(s, "pr/t", payload, qos=2, proto=V5)
            s.sendall(pubrec(d["mid"], proto=V5))
            expect_type(s, PUBREL, "PUBREL", proto=V5)
            s.sendall(pubcomp(d["mid"], proto=V5))


def test_v5_client_puback_with_reason_code_accepted():
    """MQTT 5.0 3.4.2.1: a client PUBACK may carry a reason code and properties; the message is
    then complete (no redelivery)."""
    with Broker() as b:
        s = b.subscriber("s", [("cr/t", 1)], proto=V5, clean=False,
                         props=props(session_expiry_interval=60))
        p = b.client("p", proto=V5)
        p.sendall(publish("cr/t", b"x", qos=1, mid=1, proto=V5))
        d = expect_publish(s, "cr/t", b"x", qos=1, proto=V5)
        s.sendall(puback(d["mid"], 0x80, proto=V5, props=props(reason_string="app refused")))
        s.sendall(pingreq())
        expect_packet(s, pingresp(), "PINGRESP")
        s.close()
        s = _resume(b, "s")
        expect_nothing(s)


# -- server DISCONNECT reason codes -----------------------------------------------------------

def test_v5_client_disconnect_closes_quietly():
    """MQTT 5.0 3.14.4: after a client DISCONNECT the Server closes without sending anything."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        s.sendall(disconnect(0, proto=V5))
        expect_closed(s)


def test_v5_property_length_past_end_malformed_0x81():
    """MQTT 5.0 2.2.2.1 / 4.13: a property length beyond the packet is a Malformed Packet ->
    DISCONNECT 0x81."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        s.sendall(packet(0x30, string("mf/t") + varint(20) + b"\x01\x01"))
        expect_disconnect(s, 0x81)


def test_v5_unknown_property_in_publish_malformed_0x81():
    """MQTT 5.0 2.2.2.2: an unknown property identifier -> DISCONNECT 0x81."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        s.sendall(publish("mf/t", b"x", proto=V5, props=raw_props(b"\x7f\x00\x01")))
        expect_disconnect(s, 0x81)


@known_mosquitto_difference("closes without sending DISCONNECT 0x82")
def test_v5_duplicate_property_in_publish_protocol_error_0x82():
    """MQTT 5.0 3.3.2.3.2: Payload Format Indicator twice is a Protocol Error -> DISCONNECT 0x82."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        dup = raw_props(prop("payload_format_indicator", 1) + prop("payload_format_indicator", 1))
        s.sendall(publish("mf/t", b"x", proto=V5, props=dup))
        expect_disconnect(s, 0x82)


@known_mosquitto_difference("closes without sending DISCONNECT")
def test_v5_auth_without_authentication_method_protocol_error():
    """MQTT 5.0 4.12: AUTH from a client that did not start enhanced authentication ->
    DISCONNECT 0x82 (Protocol Error)."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        s.sendall(auth(0x18, props(authentication_method="SCRAM-SHA-1")))
        d = expect_type(s, DISCONNECT, "DISCONNECT", proto=V5)
        assert d.get("rc") in (0x82, 0x8C), d
        expect_closed(s)


@known_mosquitto_difference("closes without sending DISCONNECT 0x81")
def test_v5_puback_invalid_reason_length_malformed():
    """MQTT 5.0 3.4.2.2: a PUBACK whose property length runs past the packet -> DISCONNECT 0x81."""
    with Broker() as b:
        s = b.client("c", proto=V5)
        s.sendall(packet(0x40, u16(1) + b"\x00\x09"))
        expect_disconnect(s, 0x81)
