"""Topic names, filters and subscriptions: wildcards, $-topics, overlapping subscriptions,
SUBSCRIBE/UNSUBSCRIBE validation, and the 5.0 extras: shared subscriptions, No Local,
Subscription Identifiers, Topic Aliases."""

import socket

from broker import DEFAULT, Broker, known_mosquitto_difference
from mqtt_bytes import *


def _matches(b, flt, topics, proto=V311):
    """Subscribe to flt, publish every topic then a marker; return the topics that arrived."""
    sub = b.subscriber("m-sub", [(flt, 0), ("zz/marker", 0)], proto=proto)
    pub = b.client("m-pub", proto=proto)
    for t in topics:
        pub.sendall(publish(t, b"x", proto=proto))
    pub.sendall(publish("zz/marker", b"end", proto=proto))
    got = []
    for _ in range(len(topics) + 1):
        d = parse(recv_packet(sub), proto)
        if d["topic"] == "zz/marker":
            return got
        got.append(d["topic"])
    raise AssertionError("no marker after %s" % got)


# -- matching ---------------------------------------------------------------------------------

def test_v311_plus_matches_exactly_one_level():
    """MQTT 4.7.1.3: "sport/+/player" matches one level, including an empty one."""
    with Broker() as b:
        got = _matches(b, "sport/+/player", ["sport/tennis/player", "sport/tennis/x/player",
                                              "sport//player", "sport/player", "sport/tennis/player/x"])
        assert got == ["sport/tennis/player", "sport//player"], got


def test_v311_plus_alone_and_leading_slash():
    """4.7.1.3: "+" matches "finance" but not "/finance"; "+/+" and "/+" match "/finance"."""
    with Broker() as b:
        assert _matches(b, "+", ["finance", "/finance", "a/b"]) == ["finance"]
    with Broker() as b:
        assert _matches(b, "+/+", ["finance", "/finance"]) == ["/finance"]
    with Broker() as b:
        assert _matches(b, "/+", ["finance", "/finance"]) == ["/finance"]


def test_v311_hash_matches_parent_and_all_children():
    """MQTT 4.7.1.2: "sport/#" matches "sport", "sport/", "sport/a", "sport/a/b", not "sports"."""
    with Broker() as b:
        got = _matches(b, "sport/#", ["sport", "sport/", "sport/a", "sport/a/b", "sports", "x/sport"])
        assert got == ["sport", "sport/", "sport/a", "sport/a/b"], got


def test_v311_hash_alone_matches_everything_not_dollar():
    """4.7.1.2: "#" matches every topic except those starting with $ [MQTT-4.7.2-1]."""
    with Broker() as b:
        got = _matches(b, "#", ["a", "/a", "a/b/c", "$dollar/a"])
        assert got == ["a", "/a", "a/b/c"], got


def test_v311_dollar_topics_not_matched_by_leading_wildcards():
    """MQTT-4.7.2-1: "#" and "+/..." do not match topics starting with "$"; "$dl/#" does."""
    with Broker() as b:
        got = _matches(b, "+/x", ["$dl/x", "dl/x"])
        assert got == ["dl/x"], got
    with Broker() as b:
        got = _matches(b, "$dl/#", ["$dl/x", "dl/x"])
        assert got == ["$dl/x"], got
    with Broker() as b:
        got = _matches(b, "$dl/+", ["$dl/x"])
        assert got == ["$dl/x"], got


def test_v311_topics_are_case_sensitive():
    """MQTT 4.7.3: "ACCOUNTS" and "Accounts" are different topics."""
    with Broker() as b:
        assert _matches(b, "Accounts", ["ACCOUNTS", "Accounts", "accounts"]) == ["Accounts"]


def test_v311_topic_with_spaces_and_unicode():
    """MQTT 4.7.3: topic levels may contain spaces and any UTF-8 character."""
    with Broker() as b:
        assert _matches(b, "a b/+/é", ["a b/ü/é", "a b/ü/e"]) == ["a b/ü/é"]


def test_v311_message_carries_topic_name_not_filter():
    """MQTT-3.3.2-3: the PUBLISH to a subscriber carries the publisher's Topic Name."""
    with Broker() as b:
        s = b.subscriber("s", [("tn/#", 0)])
        p = b.client("p")
        p.sendall(publish("tn/x/y", b"v"))
        expect_packet(s, publish("tn/x/y", b"v"), "PUBLISH")


# -- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------------

def test_v311_suback_one_code_per_filter():
    """MQTT-3.8.4-1/5: SUBACK with the same packet id and one granted QoS per filter, in order."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(subscribe(0x0102, [("f/0", 0), ("f/1", 1), ("f/2", 2)]))
        expect_packet(s, b"\x90\x05\x01\x02\x00\x01\x02", "SUBACK")


def test_v5_suback_reason_codes():
    """MQTT 5.0 3.9.3: SUBACK reason codes are the granted QoS 0x00/0x01/0x02."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(7, [("f/0", 0), ("f/1", 1), ("f/2", 2)], proto=V5))
        expect_packet(s, suback(7, [0, 1, 2], proto=V5), "SUBACK", proto=V5)


def test_v5_max_qos_downgrades_granted_qos():
    """MQTT 5.0 3.2.2.3.4: with max_qos 1 a QoS 2 subscription is granted QoS 1 and CONNACK
    carries Maximum QoS 1."""
    with Broker(DEFAULT + "max_qos 1\n") as b:
        s = b.client("s", proto=V5)
        assert b.last_connack_props.get("maximum_qos") == 1, b.last_connack_props
        s.sendall(subscribe(1, [("mq/t", 2)], proto=V5))
        expect_packet(s, suback(1, [1], proto=V5), "SUBACK", proto=V5)


def test_v5_publish_above_maximum_qos_0x9b():
    """MQTT-3.2.2-11: a PUBLISH with QoS above the Server's Maximum QoS -> DISCONNECT 0x9B."""
    with Broker(DEFAULT + "max_qos 1\n") as b:
        s = b.client("s", proto=V5)
        s.sendall(publish("mq/t", b"x", qos=2, mid=1, proto=V5))
        expect_disconnect(s, 0x9B)


def test_v311_resubscribe_replaces_subscription():
    """MQTT-3.8.4-3: a SUBSCRIBE with an existing filter replaces it: new QoS, one copy only."""
    with Broker() as b:
        s = b.subscriber("s", [("re/t", 0)])
        s.sendall(subscribe(2, [("re/t", 1)]))
        expect_packet(s, suback(2, [1]), "SUBACK")
        p = b.client("p")
        p.sendall(publish("re/t", b"x", qos=1, mid=1) + publish("re/t", b"end"))
        expect_publish(s, "re/t", b"x", qos=1)
        expect_publish(s, "re/t", b"end")
        expect_nothing(s)


def test_v311_unsubscribe_stops_delivery():
    """MQTT-3.10.4-1/4: UNSUBSCRIBE removes the subscription; UNSUBACK b0 02 with the same id."""
    with Broker() as b:
        s = b.subscriber("s", [("un/t", 0), ("un/marker", 0)])
        s.sendall(unsubscribe(0x0A0B, ["un/t"]))
        expect_packet(s, b"\xb0\x02\x0a\x0b", "UNSUBACK")
        p = b.client("p")
        p.sendall(publish("un/t", b"x") + publish("un/marker", b"end"))
        expect_packet(s, publish("un/marker", b"end"), "only the marker")


def test_v311_unsubscribe_unknown_filter_still_acked():
    """MQTT-3.10.4-5: UNSUBACK even if no filter matched."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(unsubscribe(3, ["never/subscribed"]))
        expect_packet(s, unsuback(3), "UNSUBACK")


def test_v311_unsubscribe_filter_compared_literally():
    """MQTT-3.10.4-1: filters are compared character by character; "a/+" does not remove "a/b"."""
    with Broker() as b:
        s = b.subscriber("s", [("lit/b", 0)])
        s.sendall(unsubscribe(2, ["lit/+"]))
        expect_packet(s, unsuback(2), "UNSUBACK")
        p = b.client("p")
        p.sendall(publish("lit/b", b"x"))
        expect_publish(s, "lit/b", b"x")


def test_v5_unsuback_reason_codes():
    """MQTT 5.0 3.11.3: UNSUBACK has one reason code per filter: 0x00 removed, 0x11 No
    subscription existed."""
    with Broker() as b:
        s = b.subscriber("s", [("u5/a", 0)], proto=V5)
        s.sendall(unsubscribe(2, ["u5/a", "u5/none"], proto=V5))
        expect_packet(s, unsuback(2, [0x00, 0x11], proto=V5), "UNSUBACK", proto=V5)


@known_mosquitto_difference("closes the connection on an invalid filter (3.1.1 allows that; mote answers 0x80 per filter)")
def test_v311_invalid_filters_get_0x80():
    """MQTT 3.1.1 3.9.3 and MQTT-4.7.1-1/2/3, MQTT-4.7.3-1: an invalid filter ("a/#/b", "a/b#",
    "a+/b", "") fails on its own with SUBACK 0x80; the valid filter beside it is granted."""
    with Broker() as b:
        s = b.client("s")
        for mid, bad in enumerate(["a/#/b", "a/b#", "a+/b", ""], 1):
            s.sendall(subscribe(mid, [("ok/t", 1), (bad, 0)]))
            expect_packet(s, suback(mid, [1, 0x80]), "SUBACK for %r" % bad)


def test_v311_invalid_filter_refused_or_closed():
    """MQTT-4.7.1-1 and 3.1.1 section 4.8: an invalid filter is never granted: either SUBACK
    0x80 for it, or the connection is closed."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(subscribe(1, [("a/#/b", 0)]))
        try:
            got = recv_packet(s)
        except Closed:
            return
        assert got == suback(1, [0x80]), hexdump(got)


@known_mosquitto_difference("sends DISCONNECT 0x81 and closes instead of SUBACK 0x8F")
def test_v5_invalid_filters_get_0x8f():
    """MQTT 5.0 3.9.3 and MQTT-4.7.1-1/2: invalid filters ("a/#/b", "a/b#", "a+/b") each get
    SUBACK 0x8F (Topic Filter invalid); the valid filter beside them is granted."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        for mid, bad in enumerate(["a/#/b", "a/b#", "a+/b"], 1):
            s.sendall(subscribe(mid, [("ok/t", 1), (bad, 0)], proto=V5))
            expect_packet(s, suback(mid, [1, 0x8F], proto=V5), "SUBACK for %r" % bad, proto=V5)


def test_v311_subscribe_without_filters_closes():
    """MQTT-3.8.3-3: a SUBSCRIBE must contain at least one filter -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(packet(0x82, u16(1)))
        expect_closed(s)


def test_v311_unsubscribe_without_filters_closes():
    """MQTT-3.10.3-2: an UNSUBSCRIBE must contain at least one filter -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(packet(0xA2, u16(1)))
        expect_closed(s)


def test_v311_subscribe_wrong_fixed_header_flags_closes():
    """MQTT-3.8.1-1: SUBSCRIBE flags must be 0010; 0000 -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(packet(0x80, u16(1) + string("a") + b"\x00"))
        expect_closed(s)


def test_v311_unsubscribe_wrong_fixed_header_flags_closes():
    """MQTT-3.10.1-1: UNSUBSCRIBE flags must be 0010; 0000 -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(packet(0xA0, u16(1) + string("a")))
        expect_closed(s)


def test_v311_subscribe_qos3_closes():
    """MQTT-3.8.3-4: requested QoS 3 is malformed -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(subscribe(1, [("q/3", 3)]))
        expect_closed(s)


def test_v311_subscribe_reserved_bits_closes():
    """MQTT-3.8.3-4: the upper 6 bits of the requested QoS byte are reserved (0) -> close."""
    with Broker() as b:
        s = b.client("s")
        s.sendall(subscribe(1, [("q/r", 0x40)]))
        expect_closed(s)


def test_v5_subscribe_reserved_option_bits_malformed():
    """MQTT-3.8.3-5: reserved bits 6-7 of Subscription Options set -> DISCONNECT 0x81 (Malformed)."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("q/r", 0xC0)], proto=V5))
        expect_disconnect(s, 0x81)


# -- overlapping subscriptions ----------------------------------------------------------------

def test_v311_overlapping_subscriptions_max_qos():
    """MQTT-3.3.5-1: a message matching "ov/#" (QoS 1) and "ov/t" (QoS 2) is delivered respecting
    the maximum QoS of the matching subscriptions: some copy arrives with QoS 2."""
    with Broker() as b:
        s = b.subscriber("s", [("ov/#", 1), ("ov/t", 2), ("zz/marker", 0)])
        p = b.client("p")
        p.sendall(publish("ov/t", b"x", qos=2, mid=1))
        expect_packet(p, pubrec(1), "PUBREC")
        p.sendall(pubrel(1))
        expect_packet(p, pubcomp(1), "PUBCOMP")
        p.sendall(publish("zz/marker", b"end"))
        qos = []
        for _ in range(6):
            d = parse(recv_packet(s))
            if d["type"] == "PUBREL":
                s.sendall(pubcomp(d["mid"]))
                continue
            if d["topic"] == "zz/marker":
                break
            qos.append(d["qos"])
            if d["qos"] == 1:
                s.sendall(puback(d["mid"]))
            elif d["qos"] == 2:
                s.sendall(pubrec(d["mid"]))
        assert 2 in qos and len(qos) <= 2, qos


def test_v311_overlapping_subscriptions_single_copy():
    """MQTT-3.3.5-1: overlapping subscriptions -> one delivery, with the maximum QoS (2)."""
    with Broker() as b:
        s = b.subscriber("s", [("ov/#", 1), ("ov/t", 2), ("+/t", 0), ("zz/marker", 0)])
        p = b.client("p")
        p.sendall(publish("ov/t", b"x", qos=2, mid=1))
        expect_packet(p, pubrec(1), "PUBREC")
        p.sendall(pubrel(1))
        expect_packet(p, pubcomp(1), "PUBCOMP")
        p.sendall(publish("zz/marker", b"end"))
        expect_publish(s, "ov/t", b"x", qos=2)
        expect_publish(s, "zz/marker", b"end", name="marker (no second copy)")


@known_mosquitto_difference("sends one copy per matching subscription, each with its own identifier")
def test_v5_overlapping_subscriptions_single_copy_with_all_identifiers():
    """MQTT-3.3.4-2/3: overlapping subscriptions -> one PUBLISH with the maximum QoS, carrying the
    Subscription Identifiers of all matching subscriptions."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("ov/#", 1)], proto=V5, props=props(subscription_identifier=11)))
        expect_packet(s, suback(1, [1], proto=V5), "SUBACK", proto=V5)
        s.sendall(subscribe(2, [("ov/t", 2)], proto=V5, props=props(subscription_identifier=22)))
        expect_packet(s, suback(2, [2], proto=V5), "SUBACK", proto=V5)
        s.sendall(subscribe(3, [("zz/marker", 0)], proto=V5))
        expect_packet(s, suback(3, [0], proto=V5), "SUBACK", proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("ov/t", b"x", qos=1, mid=1, proto=V5))
        expect_type(p, PUBACK, "PUBACK", proto=V5)
        p.sendall(publish("zz/marker", b"end", proto=V5))
        d = expect_type(s, PUBLISH, "PUBLISH", proto=V5)
        assert d["qos"] == 1, d
        assert sorted(d["props"].get("subscription_identifier", [])) == [11, 22], d
        expect_publish(s, "zz/marker", b"end", proto=V5, name="marker (no second copy)")


def test_v5_overlapping_subscriptions_identifiers_per_copy():
    """MQTT-3.3.4-3/4: one copy carries all matching identifiers; if the Server sends several
    copies, each carries the identifier of its own subscription. Either way 11 and 22 both appear,
    and some copy has the maximum QoS [MQTT-3.3.4-2]."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("ov/#", 1)], proto=V5, props=props(subscription_identifier=11)))
        expect_packet(s, suback(1, [1], proto=V5), "SUBACK", proto=V5)
        s.sendall(subscribe(2, [("ov/t", 0)], proto=V5, props=props(subscription_identifier=22)))
        expect_packet(s, suback(2, [0], proto=V5), "SUBACK", proto=V5)
        s.sendall(subscribe(3, [("zz/marker", 0)], proto=V5))
        expect_packet(s, suback(3, [0], proto=V5), "SUBACK", proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("ov/t", b"x", qos=1, mid=1, proto=V5))
        expect_type(p, PUBACK, "PUBACK", proto=V5)
        p.sendall(publish("zz/marker", b"end", proto=V5))
        copies = []
        for _ in range(3):
            d = parse(recv_packet(s), V5)
            if d["topic"] == "zz/marker":
                break
            copies.append(d)
        ids = [sorted(c["props"].get("subscription_identifier", [])) for c in copies]
        if len(copies) == 1:
            assert ids == [[11, 22]] and copies[0]["qos"] == 1, copies
        else:
            assert sorted(ids) == [[11], [22]], copies
            assert max(c["qos"] for c in copies) == 1, copies
            for c in copies:
                want = 1 if c["props"]["subscription_identifier"] == [11] else 0
                assert c["qos"] == want, c


# -- shared subscriptions (5.0) ---------------------------------------------------------------

def _share_members(b, n, flt="$share/g/sh/t"):
    return [b.subscriber("m%d" % i, [(flt, 1)], proto=V5) for i in range(n)]


def _drain_payloads(s, proto=V5, timeout=0.5):
    got = []
    for _ in range(100):
        try:
            d = parse(recv_packet(s, timeout), proto)
        except socket.timeout:
            return got
        got.append(d["payload"])
        if d["qos"] == 1:
            s.sendall(puback(d["mid"], proto=proto))
    return got


def test_v5_shared_subscription_each_message_to_one_member():
    """MQTT 5.0 4.8.2: each message to a share group goes to exactly one member; with two
    members both get some of 10 messages."""
    with Broker() as b:
        members = _share_members(b, 2)
        p = b.client("p", proto=V5)
        for i in range(10):
            p.sendall(publish("sh/t", b"%d" % i, qos=1, mid=i + 1, proto=V5))
            expect_type(p, PUBACK, "PUBACK", proto=V5)
        got = [_drain_payloads(m) for m in members]
        assert sorted(got[0] + got[1]) == sorted(b"%d" % i for i in range(10)), got
        assert got[0] and got[1], got


def test_v5_shared_and_normal_subscriptions_both_served():
    """MQTT 5.0 4.8.2: a normal subscription on the same topic gets every message; the group
    gets each message once; two groups each get every message."""
    with Broker() as b:
        g1 = _share_members(b, 2, "$share/g1/sh/t")
        g2 = b.subscriber("g2", [("$share/g2/sh/t", 1)], proto=V5)
        plain = b.subscriber("plain", [("sh/t", 1)], proto=V5)
        p = b.client("p", proto=V5)
        for i in range(6):
            p.sendall(publish("sh/t", b"%d" % i, qos=1, mid=i + 1, proto=V5))
            expect_type(p, PUBACK, "PUBACK", proto=V5)
        want = [b"%d" % i for i in range(6)]
        assert _drain_payloads(plain) == want
        assert _drain_payloads(g2) == want
        got = _drain_payloads(g1[0]) + _drain_payloads(g1[1])
        assert sorted(got) == want, got


def test_v5_shared_subscription_with_wildcard_filter():
    """MQTT 5.0 4.8.2: the filter part of $share/{name}/{filter} may use wildcards."""
    with Broker() as b:
        m = b.subscriber("m", [("$share/g/shw/#", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("shw/a/b", b"x", proto=V5))
        expect_publish(m, "shw/a/b", b"x", proto=V5)


@known_mosquitto_difference("accepts No Local on a shared subscription (SUBACK 0x00)")
def test_v5_shared_subscription_no_local_is_protocol_error():
    """MQTT-3.8.3-4: No Local 1 on a shared subscription is a Protocol Error -> DISCONNECT 0x82."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("$share/g/nl/t", sub_opts(0, no_local=True))], proto=V5))
        expect_disconnect(s, 0x82)


@known_mosquitto_difference("grants '$share/g' (SUBACK 0x00)")
def test_v5_invalid_share_names_get_0x8f():
    """MQTT-4.8.2-1/2: "$share/g" (no filter), "$share/g+/t" (wildcard in ShareName) and
    "$share//t" (empty ShareName) are invalid -> SUBACK 0x8F (Topic Filter invalid) for that
    filter; the connection stays usable."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        for mid, bad in enumerate(["$share/g", "$share/g+/t", "$share//t"], 1):
            s.sendall(subscribe(mid, [(bad, 0)], proto=V5))
            expect_packet(s, suback(mid, [0x8F], proto=V5), "SUBACK for %r" % bad, proto=V5)


# -- No Local (5.0) ---------------------------------------------------------------------------

def test_v5_no_local_suppresses_own_messages():
    """MQTT-3.8.3-3: No Local 1 -> the client's own messages are not sent back to it."""
    with Broker() as b:
        s = b.subscriber("s", [("nl/t", sub_opts(0, no_local=True)), ("nl/marker", 0)], proto=V5)
        other = b.subscriber("o", [("nl/t", 0)], proto=V5)
        s.sendall(publish("nl/t", b"mine", proto=V5) + publish("nl/marker", b"end", proto=V5))
        expect_publish(s, "nl/marker", b"end", proto=V5, name="only the marker")
        expect_publish(other, "nl/t", b"mine", proto=V5)


def test_v5_no_local_0_gets_own_messages():
    """MQTT 5.0 3.8.3.1: No Local 0 (the default) -> own messages are delivered too."""
    with Broker() as b:
        s = b.subscriber("s", [("nl0/t", 0)], proto=V5)
        s.sendall(publish("nl0/t", b"mine", proto=V5))
        expect_publish(s, "nl0/t", b"mine", proto=V5)


# -- Subscription Identifiers (5.0) -----------------------------------------------------------

def test_v5_subscription_identifier_in_publish():
    """MQTT-3.3.4-3 / 3.8.2.1.2: the Subscription Identifier given in SUBSCRIBE comes back in each
    matching PUBLISH; other subscribers do not see it."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("si/t", 0)], proto=V5, props=props(subscription_identifier=268435455)))
        expect_packet(s, suback(1, [0], proto=V5), "SUBACK", proto=V5)
        o = b.subscriber("o", [("si/t", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("si/t", b"x", proto=V5))
        expect_publish(s, "si/t", b"x", proto=V5, props={"subscription_identifier": [268435455]})
        expect_publish(o, "si/t", b"x", proto=V5)


def test_v5_subscription_identifier_replaced_on_resubscribe():
    """MQTT 5.0 3.8.4: a new SUBSCRIBE for the same filter replaces its Subscription Identifier;
    without one, the identifier is removed."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("si/r", 0)], proto=V5, props=props(subscription_identifier=1)))
        expect_packet(s, suback(1, [0], proto=V5), "SUBACK", proto=V5)
        s.sendall(subscribe(2, [("si/r", 0)], proto=V5, props=props(subscription_identifier=2)))
        expect_packet(s, suback(2, [0], proto=V5), "SUBACK", proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("si/r", b"x", proto=V5))
        expect_publish(s, "si/r", b"x", proto=V5, props={"subscription_identifier": [2]})
        s.sendall(subscribe(3, [("si/r", 0)], proto=V5))
        expect_packet(s, suback(3, [0], proto=V5), "SUBACK", proto=V5)
        p.sendall(publish("si/r", b"y", proto=V5))
        expect_publish(s, "si/r", b"y", proto=V5)


def test_v5_subscription_identifier_zero_is_protocol_error():
    """MQTT 5.0 3.8.2.1.2: Subscription Identifier 0 is a Protocol Error -> DISCONNECT 0x82 (or 0x81)."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(subscribe(1, [("si/0", 0)], proto=V5, props=props(subscription_identifier=0)))
        d = expect_type(s, DISCONNECT, "DISCONNECT", proto=V5)
        assert d.get("rc") in (0x81, 0x82), d
        expect_closed(s)


@known_mosquitto_difference("ignores a Subscription Identifier in a client PUBLISH")
def test_v5_client_publish_with_subscription_identifier_is_protocol_error():
    """MQTT-3.3.4-6: a PUBLISH from a client must not carry a Subscription Identifier ->
    DISCONNECT 0x82."""
    with Broker() as b:
        s = b.client("s", proto=V5)
        s.sendall(publish("si/p", b"x", proto=V5, props=props(subscription_identifier=3)))
        expect_disconnect(s, 0x82, timeout=1.5)


def test_v5_subscription_identifiers_available():
    """MQTT 5.0 3.2.2.3.12: the Server supports Subscription Identifiers (absent or 1 in CONNACK)."""
    with Broker() as b:
        b.client("s", proto=V5)
        assert b.last_connack_props.get("subscription_identifier_available", 1) == 1


# -- Topic Aliases from the client (5.0) ------------------------------------------------------

def test_v5_topic_alias_set_then_used():
    """MQTT 5.0 3.3.2.3.4: PUBLISH "al/t" with alias 1 sets it; PUBLISH "" with alias 1 uses it.
    Subscribers get the full topic and no Topic Alias (they did not allow any)."""
    with Broker() as b:
        s = b.subscriber("s", [("al/#", 0)], proto=V5)
        assert b.last_connack_props.get("topic_alias_maximum", 0) >= 1, b.last_connack_props
        p = b.client("p", proto=V5)
        p.sendall(publish("al/t", b"1", proto=V5, props=props(topic_alias=1)))
        p.sendall(publish("", b"2", proto=V5, props=props(topic_alias=1)))
        expect_publish(s, "al/t", b"1", proto=V5)
        expect_publish(s, "al/t", b"2", proto=V5)


def test_v5_topic_alias_remapped():
    """MQTT 5.0 3.3.2.3.4: a PUBLISH with a topic and an alias already in use remaps the alias."""
    with Broker() as b:
        s = b.subscriber("s", [("al/#", 0)], proto=V5)
        p = b.client("p", proto=V5)
        p.sendall(publish("al/a", b"1", proto=V5, props=props(topic_alias=1)))
        p.sendall(publish("al/b", b"2", proto=V5, props=props(topic_alias=1)))
        p.sendall(publish("", b"3", proto=V5, props=props(topic_alias=1)))
        expect_publish(s, "al/a", b"1", proto=V5)
        expect_publish(s, "al/b", b"2", proto=V5)
        expect_publish(s, "al/b", b"3", proto=V5)


@known_mosquitto_difference("sends DISCONNECT 0x81 (Malformed) instead of 0x94")
def test_v5_topic_alias_zero_0x94():
    """MQTT-3.3.2-8: Topic Alias 0 -> DISCONNECT 0x94 (Topic Alias invalid)."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("al/z", b"x", proto=V5, props=props(topic_alias=0)))
        expect_disconnect(p, 0x94)


def test_v5_topic_alias_above_maximum_0x94():
    """MQTT-3.3.2-9: Topic Alias above the Server's Topic Alias Maximum -> DISCONNECT 0x94."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        top = b.last_connack_props.get("topic_alias_maximum", 0)
        p.sendall(publish("al/big", b"x", proto=V5, props=props(topic_alias=top + 1)))
        expect_disconnect(p, 0x94)


def test_v5_unknown_topic_alias_is_protocol_error():
    """MQTT 5.0 3.3.2.3.4: an empty Topic Name with an alias that has no mapping is a Protocol
    Error -> DISCONNECT 0x82."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("", b"x", proto=V5, props=props(topic_alias=2)))
        expect_disconnect(p, 0x82)


def test_v5_empty_topic_without_alias_is_protocol_error():
    """MQTT 5.0 3.3.2.1: an empty Topic Name without a Topic Alias -> DISCONNECT 0x82."""
    with Broker() as b:
        p = b.client("p", proto=V5)
        p.sendall(publish("", b"x", proto=V5))
        expect_disconnect(p, 0x82)


def test_v5_topic_aliases_do_not_survive_reconnect():
    """MQTT-3.3.2-7: alias mappings last for one Network Connection only."""
    with Broker() as b:
        p = b.client("p", proto=V5, clean=False, props=props(session_expiry_interval=60))
        p.sendall(publish("al/t", b"1", proto=V5, props=props(topic_alias=1)))
        p.sendall(pingreq())
        expect_packet(p, pingresp(), "PINGRESP")
        p.close()
        p = b.client("p", proto=V5, clean=False, session_present=True,
                     props=props(session_expiry_interval=60))
        p.sendall(publish("", b"2", proto=V5, props=props(topic_alias=1)))
        expect_disconnect(p, 0x82)
