#!/usr/bin/env python3
"""fuzz/make_corpus.py - writes the seed corpus of the fuzz harnesses (fuzz/corpus/{frame,decode,topic}).

Every MQTT 3.1, 3.1.1 and 5.0 control packet, with and without properties, the examples of the
two specs, and a few packets that break one rule each (bad_*), so the fuzzers start next to every
branch of the decoder. Deterministic: the same files, names and bytes on every run. It writes only
its own files and leaves others (such as inputs merged by `FUZZ_MERGE=1 fuzz/run.sh`) alone.

Usage: python3 fuzz/make_corpus.py [OUTDIR]   (OUTDIR defaults to fuzz/corpus beside this script)
"""

import os
import struct
import sys

# --- encoding helpers ---------------------------------------------------------------------------


def vbi(n):
    """Variable byte integer, minimal."""
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def s(x):
    """UTF-8 string or binary data with its 2-byte length."""
    if isinstance(x, str):
        x = x.encode("utf-8")
    return u16(len(x)) + x


def packet(ptype, flags, body):
    return bytes([ptype << 4 | flags]) + vbi(len(body)) + body


CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

# MQTT 5 properties: each helper returns one encoded property; props() adds the length.


def p_byte(pid, v):
    return bytes([pid, v])


def p_u16(pid, v):
    return bytes([pid]) + u16(v)


def p_u32(pid, v):
    return bytes([pid]) + u32(v)


def p_vbi(pid, v):
    return bytes([pid]) + vbi(v)


def p_str(pid, v):
    return bytes([pid]) + s(v)


def p_pair(k, v):
    return bytes([0x26]) + s(k) + s(v)


def props(*items):
    body = b"".join(items)
    return vbi(len(body)) + body


SESSION_EXPIRY, RECEIVE_MAX, MAX_PACKET, TOPIC_ALIAS_MAX = 0x11, 0x21, 0x27, 0x22
REQ_RESPONSE, REQ_PROBLEM, AUTH_METHOD, AUTH_DATA = 0x19, 0x17, 0x15, 0x16
WILL_DELAY, PAYLOAD_FORMAT, MSG_EXPIRY, CONTENT_TYPE = 0x18, 0x01, 0x02, 0x03
RESPONSE_TOPIC, CORRELATION, SUB_ID, TOPIC_ALIAS = 0x08, 0x09, 0x0B, 0x23
ASSIGNED_ID, SERVER_KEEP_ALIVE, RESPONSE_INFO, SERVER_REF = 0x12, 0x13, 0x1A, 0x1C
REASON_STRING, MAX_QOS, RETAIN_AVAIL, WILDCARD_AVAIL = 0x1F, 0x24, 0x25, 0x28
SUB_ID_AVAIL, SHARED_AVAIL = 0x29, 0x2A


def connect(version, flags, keep_alive, payload, prop_bytes=b""):
    name = b"MQIsdp" if version == 3 else b"MQTT"
    body = s(name) + bytes([version, flags]) + u16(keep_alive)
    if version == 5:
        body += prop_bytes or props()
    return packet(CONNECT, 0, body + payload)


def publish(version, topic, payload, qos=0, packet_id=0, dup=0, retain=0, prop_bytes=b""):
    body = s(topic)
    if qos:
        body += u16(packet_id)
    if version == 5:
        body += prop_bytes or props()
    return packet(PUBLISH, dup << 3 | qos << 1 | retain, body + payload)


def ack(ptype, packet_id, version=4, reason=None, prop_bytes=None):
    """PUBACK..PUBCOMP; in 5.0 the reason and properties are optional, as given."""
    body = u16(packet_id)
    if reason is not None:
        body += bytes([reason])
    if prop_bytes is not None:
        body += prop_bytes
    return packet(ptype, 2 if ptype == PUBREL else 0, body)


def subscribe(version, packet_id, subs, prop_bytes=b""):
    body = u16(packet_id)
    if version == 5:
        body += prop_bytes or props()
    for topic, options in subs:
        body += s(topic) + bytes([options])
    return packet(SUBSCRIBE, 2, body)


def unsubscribe(version, packet_id, filters, prop_bytes=b""):
    body = u16(packet_id)
    if version == 5:
        body += prop_bytes or props()
    for topic in filters:
        body += s(topic)
    return packet(UNSUBSCRIBE, 2, body)


def suback(ptype, version, packet_id, codes, prop_bytes=b""):
    body = u16(packet_id)
    if version == 5:
        body += prop_bytes or props()
    return packet(ptype, 0, body + bytes(codes))


# --- the packets ----------------------------------------------------------------------------------

# Connect flags
USER, PASS, WILL_RETAIN, WILL, CLEAN = 0x80, 0x40, 0x20, 0x04, 0x02


def will_qos(q):
    return q << 3


WILL_PROPS_ALL = props(
    p_u32(WILL_DELAY, 30),
    p_byte(PAYLOAD_FORMAT, 1),
    p_u32(MSG_EXPIRY, 3600),
    p_str(CONTENT_TYPE, "text/plain"),
    p_str(RESPONSE_TOPIC, "reply/mote-1"),
    p_str(CORRELATION, b"\x00\x01\xfe\xff"),
    p_pair("why", "power lost"),
)

PACKETS = {
    # CONNECT ------------------------------------------------------------------------------------
    "connect_v311_min": (4, connect(4, CLEAN, 60, s("mote-1"))),
    # MQTT 3.1.1 3.1.2.10, figure 3.6: flags 0xCE (user, password, will QoS 1, will, clean), keep alive 10
    "connect_v311_spec_example": (4, connect(4, 0xCE, 10, s("mote-1") + s("last/will") + s(b"gone") + s("alice") + s(b"secret"))),
    "connect_v311_empty_client_id": (4, connect(4, CLEAN, 0, s(""))),
    "connect_v311_will_qos2_retain": (4, connect(4, WILL | will_qos(2) | WILL_RETAIN, 30, s("c") + s("w/t") + s(b"bye"))),
    "connect_v311_user_only": (4, connect(4, USER, 120, s("dev-42") + s("alice"))),
    "connect_v31": (3, connect(3, CLEAN, 60, s("mote-31"))),
    "connect_v31_user_pass": (3, connect(3, USER | PASS | CLEAN, 60, s("mote-31") + s("bob") + s(b"pw"))),
    "connect_v5_min": (5, connect(5, CLEAN, 60, s("mote-5"))),
    # MQTT 5.0 3.1.2.12, figure 3-7: flags 0xCE, keep alive 10, Session Expiry Interval 10
    "connect_v5_spec_example": (5, connect(5, 0xCE, 10, s("mote-5") + props() + s("last/will") + s(b"gone") + s("alice") + s(b"secret"), props(p_u32(SESSION_EXPIRY, 10)))),
    "connect_v5_props": (5, connect(5, CLEAN | USER, 30, s("mote-5") + s("alice"), props(
        p_u32(SESSION_EXPIRY, 0xFFFFFFFF), p_u16(RECEIVE_MAX, 20), p_u32(MAX_PACKET, 4096),
        p_u16(TOPIC_ALIAS_MAX, 10), p_byte(REQ_RESPONSE, 1), p_byte(REQ_PROBLEM, 0),
        p_pair("region", "eu"), p_pair("region", "fr"), p_str(AUTH_METHOD, "SCRAM-SHA-1"),
        p_str(AUTH_DATA, b"\x01\x02\x03")))),
    "connect_v5_will_props": (5, connect(5, WILL | will_qos(1) | CLEAN, 60, s("mote-5") + WILL_PROPS_ALL + s("status/mote-5") + s(b"offline"))),
    "connect_v5_password_only": (5, connect(5, PASS, 60, s("") + s(b"token"))),
    # CONNACK ------------------------------------------------------------------------------------
    "connack_v311_accepted": (4, packet(CONNACK, 0, b"\x00\x00")),
    "connack_v311_session_present": (4, packet(CONNACK, 0, b"\x01\x00")),
    "connack_v311_not_authorized": (4, packet(CONNACK, 0, b"\x00\x05")),
    "connack_v5_min": (5, packet(CONNACK, 0, b"\x00\x00" + props())),
    "connack_v5_props": (5, packet(CONNACK, 0, b"\x01\x00" + props(
        p_u32(SESSION_EXPIRY, 300), p_u16(RECEIVE_MAX, 100), p_byte(MAX_QOS, 1), p_byte(RETAIN_AVAIL, 0),
        p_u32(MAX_PACKET, 65536), p_str(ASSIGNED_ID, "auto-7F3A"), p_u16(TOPIC_ALIAS_MAX, 16),
        p_byte(WILDCARD_AVAIL, 1), p_byte(SUB_ID_AVAIL, 1), p_byte(SHARED_AVAIL, 0),
        p_u16(SERVER_KEEP_ALIVE, 120), p_str(RESPONSE_INFO, "resp/"), p_pair("k", "v")))),
    "connack_v5_refused": (5, packet(CONNACK, 0, b"\x00\x87" + props(p_str(REASON_STRING, "not authorized"), p_str(SERVER_REF, "other:8883")))),
    # PUBLISH ------------------------------------------------------------------------------------
    "publish_v311_qos0": (4, publish(4, "sensors/t1", b"21.5")),
    # MQTT 3.1.1 3.3.2.3, figure 3.11: topic "a/b", packet identifier 10
    "publish_v311_spec_example": (4, publish(4, "a/b", b"hello", qos=1, packet_id=10)),
    "publish_v311_qos2_dup_retain": (4, publish(4, "x/y/z", b"\x00\xff", qos=2, packet_id=0xFFFF, dup=1, retain=1)),
    "publish_v311_empty_payload": (4, publish(4, "retained/clear", b"", retain=1)),
    "publish_v311_utf8_topic": (4, publish(4, "caf\u00e9/\u6e29\u5ea6/\U0001F600", b"ok", qos=1, packet_id=1)),
    "publish_v31_qos1": (3, publish(3, "legacy/t", b"1", qos=1, packet_id=3)),
    "publish_v5_qos0": (5, publish(5, "sensors/t1", b"21.5")),
    "publish_v5_props": (5, publish(5, "a/b", b"{}", qos=1, packet_id=7, prop_bytes=props(
        p_byte(PAYLOAD_FORMAT, 1), p_u32(MSG_EXPIRY, 60), p_u16(TOPIC_ALIAS, 3),
        p_str(RESPONSE_TOPIC, "reply/here"), p_str(CORRELATION, b"\xde\xad"), p_pair("a", "b"),
        p_vbi(SUB_ID, 1), p_vbi(SUB_ID, 268435455), p_str(CONTENT_TYPE, "application/json")))),
    "publish_v5_alias_only": (5, publish(5, "", b"data", prop_bytes=props(p_u16(TOPIC_ALIAS, 3)))),
    "publish_v5_qos2": (5, publish(5, "q/2", b"two", qos=2, packet_id=512)),
    # PUBACK, PUBREC, PUBREL, PUBCOMP --------------------------------------------------------------
    "puback_v311": (4, ack(PUBACK, 10)),
    "pubrec_v311": (4, ack(PUBREC, 11)),
    "pubrel_v311": (4, ack(PUBREL, 11)),
    "pubcomp_v311": (4, ack(PUBCOMP, 11)),
    "puback_v5_short": (5, ack(PUBACK, 1)),
    "puback_v5_reason": (5, ack(PUBACK, 2, reason=0x10)),
    "puback_v5_reason0": (5, ack(PUBACK, 3, reason=0x00)),
    "puback_v5_empty_props": (5, ack(PUBACK, 4, reason=0x00, prop_bytes=props())),
    "puback_v5_props": (5, ack(PUBACK, 5, reason=0x87, prop_bytes=props(p_str(REASON_STRING, "denied"), p_pair("k", "v")))),
    "pubrec_v5_props": (5, ack(PUBREC, 6, reason=0x97, prop_bytes=props(p_str(REASON_STRING, "quota")))),
    "pubrel_v5_not_found": (5, ack(PUBREL, 7, reason=0x92)),
    "pubcomp_v5_props": (5, ack(PUBCOMP, 8, reason=0x00, prop_bytes=props(p_pair("trace", "1")))),
    # SUBSCRIBE, SUBACK ----------------------------------------------------------------------------
    # MQTT 3.1.1 3.8.3, figure 3.21: "a/b" QoS 1, "c/d" QoS 2 (packet identifier 10 as in 3.8.2)
    "subscribe_v311_spec_example": (4, subscribe(4, 10, [("a/b", 1), ("c/d", 2)])),
    "subscribe_v311_wildcards": (4, subscribe(4, 1, [("sport/tennis/+", 0), ("sport/#", 1), ("#", 2), ("+", 0), ("+/+/x", 1), ("$SYS/#", 0)])),
    "subscribe_v5_options": (5, subscribe(5, 2, [("a/b", 0x04 | 0x01), ("c/#", 0x08 | 0x02), ("d", 0x10), ("e/+", 0x20 | 0x0C | 0x01)],
                                           props(p_vbi(SUB_ID, 42), p_pair("k", "v")))),
    "subscribe_v5_shared": (5, subscribe(5, 3, [("$share/group/sensors/+", 0x01), ("$share/g2/#", 0x02)])),
    # MQTT 3.1.1 3.9.3, figure 3.26: return codes 0, 1, 2 and failure
    "suback_v311_spec_example": (4, suback(SUBACK, 4, 10, [0x00, 0x01, 0x02, 0x80])),
    "suback_v5_props": (5, suback(SUBACK, 5, 2, [0x00, 0x01, 0x02, 0x80, 0x8F, 0x97, 0x9E, 0xA1, 0xA2], props(p_str(REASON_STRING, "mixed")))),
    # UNSUBSCRIBE, UNSUBACK ------------------------------------------------------------------------
    # MQTT 3.1.1 3.10.3, figure 3.30: "a/b", "c/d"
    "unsubscribe_v311_spec_example": (4, unsubscribe(4, 10, ["a/b", "c/d"])),
    "unsubscribe_v5_props": (5, unsubscribe(5, 4, ["a/+", "$share/g/x"], props(p_pair("k", "v")))),
    "unsuback_v311": (4, packet(UNSUBACK, 0, u16(10))),
    "unsuback_v5": (5, suback(UNSUBACK, 5, 4, [0x00, 0x11, 0x8F], props(p_str(REASON_STRING, "partly")))),
    # PINGREQ, PINGRESP, DISCONNECT, AUTH ----------------------------------------------------------
    "pingreq_v311": (4, packet(PINGREQ, 0, b"")),
    "pingresp_v311": (4, packet(PINGRESP, 0, b"")),
    "pingreq_v5": (5, packet(PINGREQ, 0, b"")),
    "disconnect_v311": (4, packet(DISCONNECT, 0, b"")),
    "disconnect_v5_short": (5, packet(DISCONNECT, 0, b"")),
    "disconnect_v5_with_will": (5, packet(DISCONNECT, 0, b"\x04")),
    "disconnect_v5_props": (5, packet(DISCONNECT, 0, b"\x9c" + props(p_u32(SESSION_EXPIRY, 0), p_str(REASON_STRING, "moved"), p_str(SERVER_REF, "b.example:8883")))),
    "auth_v5_short": (5, packet(AUTH, 0, b"")),
    "auth_v5_continue": (5, packet(AUTH, 0, b"\x18" + props(p_str(AUTH_METHOD, "SCRAM-SHA-1"), p_str(AUTH_DATA, b"c=biws,r=abc")))),
    "auth_v5_reauth": (5, packet(AUTH, 0, b"\x19" + props(p_str(AUTH_METHOD, "SCRAM-SHA-1"), p_str(REASON_STRING, "again")))),
}

# Packets that break exactly one rule, so the fuzzers start beside each error path.
BAD = {
    "bad_connect_reserved_flag": (4, connect(4, CLEAN | 0x01, 60, s("c"))),
    "bad_connect_protocol_name": (4, packet(CONNECT, 0, s("MQTX") + b"\x04\x02\x00\x3c" + s("c"))),
    "bad_connect_level": (4, packet(CONNECT, 0, s("MQTT") + b"\x06\x02\x00\x3c" + s("c"))),
    "bad_connect_password_without_user": (4, connect(4, PASS, 60, s("c") + s(b"pw"))),
    "bad_connect_will_qos_without_will": (4, connect(4, will_qos(1), 60, s("c"))),
    "bad_connect_v5_prop_not_allowed": (5, connect(5, CLEAN, 60, s("c"), props(p_u16(TOPIC_ALIAS, 1)))),
    "bad_connect_v5_prop_duplicate": (5, connect(5, CLEAN, 60, s("c"), props(p_u32(SESSION_EXPIRY, 1), p_u32(SESSION_EXPIRY, 2)))),
    "bad_connect_v5_receive_max_zero": (5, connect(5, CLEAN, 60, s("c"), props(p_u16(RECEIVE_MAX, 0)))),
    "bad_connack_session_present_refused": (4, packet(CONNACK, 0, b"\x01\x05")),
    "bad_connack_v5_reason": (5, packet(CONNACK, 0, b"\x00\x04" + props())),
    "bad_publish_qos3": (4, packet(PUBLISH, 0x06, s("a") + u16(1))),
    "bad_publish_dup_qos0": (4, packet(PUBLISH, 0x08, s("a") + b"x")),
    "bad_publish_wildcard_topic": (4, publish(4, "a/+", b"x")),
    "bad_publish_packet_id_zero": (4, publish(4, "a", b"x", qos=1, packet_id=0)),
    "bad_publish_surrogate_topic": (4, packet(PUBLISH, 0, s(b"a\xed\xa0\x80") + b"x")),
    "bad_publish_nul_topic": (4, packet(PUBLISH, 0, s(b"a\x00b"))),
    "bad_publish_v5_empty_topic_no_alias": (5, publish(5, "", b"x")),
    "bad_publish_v5_unknown_prop": (5, publish(5, "a", b"x", prop_bytes=props(b"\x7f\x00"))),
    "bad_puback_v311_trailing": (4, packet(PUBACK, 0, u16(1) + b"\x00")),
    "bad_puback_v5_reason": (5, ack(PUBACK, 1, reason=0x05)),
    "bad_pubrel_flags": (4, packet(PUBREL, 0, u16(1))),
    "bad_subscribe_flags": (4, packet(SUBSCRIBE, 0, u16(1) + s("a") + b"\x00")),
    "bad_subscribe_no_topics": (4, packet(SUBSCRIBE, 2, u16(1))),
    "bad_subscribe_hash_not_last": (4, subscribe(4, 1, [("a/#/b", 0)])),
    "bad_subscribe_plus_partial": (4, subscribe(4, 1, [("a/b+", 0)])),
    "bad_subscribe_v311_options": (4, subscribe(4, 1, [("a", 0x04)])),
    "bad_subscribe_v5_retain_handling3": (5, subscribe(5, 1, [("a", 0x30)])),
    "bad_subscribe_v5_shared_no_local": (5, subscribe(5, 1, [("$share/g/a", 0x04)])),
    "bad_subscribe_v5_share_syntax": (5, subscribe(5, 1, [("$share/g", 0x00)])),
    "bad_unsubscribe_no_topics": (4, packet(UNSUBSCRIBE, 2, u16(1))),
    "bad_suback_v311_code": (4, suback(SUBACK, 4, 1, [0x03])),
    "bad_auth_v311": (4, packet(AUTH, 0, b"")),
    "bad_disconnect_v311_body": (4, packet(DISCONNECT, 0, b"\x00")),
    "bad_varint_not_minimal": (4, b"\xc0\x80\x00"),
    "bad_prop_length_past_end": (5, packet(PUBACK, 0, u16(1) + b"\x00\x05\x1f\x00")),
    "bad_string_past_end": (4, packet(PUBLISH, 0, b"\x00\x10ab")),
    "bad_type_zero": (4, b"\x00\x00"),
}

# Packets that only a decode with MOTE_DECODE_LENIENT_FILTERS accepts: each filter breaks a rule.
LENIENT = {
    "lenient_subscribe_bad_filters": (4, subscribe(4, 5, [("a/#/b", 0), ("sport+", 1), ("ok/+", 2)])),
    "lenient_subscribe_v5_bad_share": (5, subscribe(5, 6, [("$share/g", 0x01), ("$share//x", 0x02), ("", 0x00)])),
    "lenient_unsubscribe_bad_filters": (5, unsubscribe(5, 7, ["a/b#", "", "$share/+/x"])),
}

# Two packets back to back: the harness decodes the first and checks the rest is trailing.
STREAMS = {
    "stream_pingreq_publish": (4, packet(PINGREQ, 0, b"") + publish(4, "a", b"x")),
    "stream_partial_publish": (5, publish(5, "sensors/t1", b"21.5", qos=1, packet_id=9)[:9]),
}

# Fixed headers and variable byte integers for the framer (MQTT 3.1.1 table 2.4 boundaries).
FRAMES = {
    "header_only_publish": b"\x30",
    "remaining_0": b"\xc0\x00",
    "remaining_127": b"\x30\x7f" + bytes(range(127)),
    "remaining_128": b"\x30\x80\x01" + bytes(128),
    "remaining_16383_partial": b"\x30\xff\x7f\x00\x01a",
    "remaining_16384_partial": b"\x30\x80\x80\x01",
    "remaining_2097151_partial": b"\x30\xff\xff\x7f",
    "remaining_2097152_partial": b"\x30\x80\x80\x80\x01",
    "remaining_268435455_partial": b"\x30\xff\xff\xff\x7f",
    "varint_too_long": b"\x30\xff\xff\xff\xff\x7f",
    "varint_not_minimal_2": b"\x30\x80\x00",
    "varint_not_minimal_4": b"\x30\x80\x80\x80\x00",
    "varint_max": b"\xff\xff\xff\x7f",
    "varint_zero": b"\x00",
    "type_zero": b"\x00\x00",
    "flags_reserved_connect": b"\x11\x00",
    "flags_pubrel_ok": b"\x62\x02\x00\x01",
    "flags_pubrel_bad": b"\x60\x02\x00\x01",
    "flags_publish_qos3": b"\x36\x03\x00\x01a",
    "flags_publish_dup_qos0": b"\x38\x03\x00\x01a",
    "auth_header": b"\xf0\x00",
    "empty": b"",
}

# Topic filter and name pairs, "FILTER\0NAME" (MQTT 3.1.1 4.7 and 5.0 4.7, 4.8.2 examples).
TOPICS = {
    "spec_hash_parent": ("sport/tennis/player1/#", "sport/tennis/player1"),
    "spec_hash_child": ("sport/tennis/player1/#", "sport/tennis/player1/ranking"),
    "spec_hash_grandchild": ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"),
    "spec_hash_sport": ("sport/#", "sport"),
    "spec_plus_one_level": ("sport/tennis/+", "sport/tennis/player1"),
    "spec_plus_not_two": ("sport/tennis/+", "sport/tennis/player1/ranking"),
    "spec_plus_not_parent": ("sport/+", "sport"),
    "spec_plus_empty_level": ("sport/+", "sport/"),
    "spec_plus_plus": ("+/+", "/finance"),
    "spec_slash_plus": ("/+", "/finance"),
    "spec_plus_not_slash": ("+", "/finance"),
    "spec_dollar_hash": ("#", "$SYS/broker/clients"),
    "spec_dollar_plus": ("+/monitor/Clients", "$SYS/monitor/Clients"),
    "spec_dollar_sys": ("$SYS/#", "$SYS/monitor/Clients"),
    "spec_dollar_sys_plus": ("$SYS/monitor/+", "$SYS/monitor/Clients"),
    "shared_plus": ("$share/consumer1/sport/tennis/+", "sport/tennis/player1"),
    "shared_hash": ("$share/g/#", "a/b"),
    "shared_bad_no_filter": ("$share/g/", "a"),
    "shared_bad_no_group": ("$share//a", "a"),
    "shared_bad_wildcard_group": ("$share/+/a", "a"),
    "shared_bare": ("$share", "$share"),
    "bad_hash_middle": ("sport/tennis/#/ranking", "sport/tennis/x/ranking"),
    "bad_hash_partial": ("sport/tennis#", "sport/tennis"),
    "bad_plus_partial": ("sport+", "sport"),
    "bad_empty_filter": ("", "a"),
    "case_sensitive": ("ACCOUNTS", "Accounts"),
    "spaces": ("Accounts payable/+", "Accounts payable/x"),
    "levels_empty": ("//", "//"),
    "utf8_multibyte": ("caf\u00e9/+/\U0001F600", "caf\u00e9/\u6e29\u5ea6/\U0001F600"),
    "utf8_max": ("a/#", "a/\U0010FFFF"),
    "no_separator_self": ("a/b/c",),
}
# Byte strings the UTF-8 check must refuse, as names under "#".
TOPICS_RAW = {
    "utf8_overlong_nul": b"#\x00a/\xc0\x80",
    "utf8_surrogate": b"#\x00a/\xed\xa0\x80",
    "utf8_above_max": b"#\x00a/\xf4\x90\x80\x80",
    "utf8_truncated": b"#\x00a/\xe6\xb8",
    "utf8_lone_continuation": b"#\x00\x80",
    "utf8_nul_in_name": b"a/+\x00a/b\x00c",
}


def write(outdir, sub, name, data):
    assert len(data) < 300, (name, len(data))
    d = os.path.join(outdir, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".bin"), "wb") as fp:
        fp.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    counts = {"frame": 0, "decode": 0, "topic": 0}

    for name, (version, data) in list(PACKETS.items()) + list(BAD.items()) + list(LENIENT.items()) + list(STREAMS.items()):
        write(outdir, "decode", name, bytes([version]) + data)
        counts["decode"] += 1
    # The framer sees one packet of each type, each header shape, and the bad headers.
    seen = set()
    for name, (version, data) in list(PACKETS.items()) + list(BAD.items()):
        kind = (data[0], len(data) > 2)
        if kind in seen and not name.startswith("bad_varint"):
            continue
        seen.add(kind)
        write(outdir, "frame", "packet_" + name, data)
        counts["frame"] += 1
    for name, data in FRAMES.items():
        write(outdir, "frame", name, data)
        counts["frame"] += 1
    for name, pair in TOPICS.items():
        write(outdir, "topic", name, "\0".join(pair).encode("utf-8"))
        counts["topic"] += 1
    for name, data in TOPICS_RAW.items():
        write(outdir, "topic", name, data)
        counts["topic"] += 1
    print(" ".join("%s: %d" % kv for kv in counts.items()))


if __name__ == "__main__":
    main()
