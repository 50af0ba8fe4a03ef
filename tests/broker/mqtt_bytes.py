"""Build and check MQTT 3.1, 3.1.1 and 5.0 packets as raw bytes, for black-box broker tests.

No MQTT library on purpose: each builder writes the bytes the spec describes, field by field,
so that a test reads like the spec and a broker cannot hide behind a shared codec bug.
"""

import errno
import socket
import struct
import time

# Protocol levels as they appear in CONNECT.
V31, V311, V5 = 3, 4, 5

# Fixed-header type nibble.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)
TYPE_NAMES = {0: "RESERVED(0)", 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
              6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
              11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

DEFAULT_TIMEOUT = 3.0


# ---------------------------------------------------------------------------------------------
# Data representations (MQTT 5.0 section 1.5, MQTT 3.1.1 section 1.5)

def u8(n):
    return struct.pack("!B", n)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def varint(n):
    """Variable Byte Integer: 7 bits per byte, low bits first, top bit = more follow."""
    assert 0 <= n <= 268435455, n
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s):
    """UTF-8 Encoded String: 2-byte length, then the bytes (str is encoded, bytes kept as is)."""
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return u16(len(b)) + b


binary = string  # Binary Data has the same layout.


# ---------------------------------------------------------------------------------------------
# MQTT 5.0 properties (section 2.2.2.2). Name -> (identifier, encoder kind).

PROPERTIES = {
    "payload_format_indicator": (0x01, "byte"),
    "message_expiry_interval": (0x02, "u32"),
    "content_type": (0x03, "str"),
    "response_topic": (0x08, "str"),
    "correlation_data": (0x09, "bin"),
    "subscription_identifier": (0x0B, "varint"),
    "session_expiry_interval": (0x11, "u32"),
    "assigned_client_identifier": (0x12, "str"),
    "server_keep_alive": (0x13, "u16"),
    "authentication_method": (0x15, "str"),
    "authentication_data": (0x16, "bin"),
    "request_problem_information": (0x17, "byte"),
    "will_delay_interval": (0x18, "u32"),
    "request_response_information": (0x19, "byte"),
    "response_information": (0x1A, "str"),
    "server_reference": (0x1C, "str"),
    "reason_string": (0x1F, "str"),
    "receive_maximum": (0x21, "u16"),
    "topic_alias_maximum": (0x22, "u16"),
    "topic_alias": (0x23, "u16"),
    "maximum_qos": (0x24, "byte"),
    "retain_available": (0x25, "byte"),
    "user_property": (0x26, "pair"),
    "maximum_packet_size": (0x27, "u32"),
    "wildcard_subscription_available": (0x28, "byte"),
    "subscription_identifier_available": (0x29, "byte"),
    "shared_subscription_available": (0x2A, "byte"),
}
PROPERTY_BY_ID = {pid: (name, kind) for name, (pid, kind) in PROPERTIES.items()}
REPEATABLE = ("user_property", "subscription_identifier")

_ENCODERS = {"byte": u8, "u16": u16, "u32": u32, "varint": varint, "str": string, "bin": binary,
             "pair": lambda kv: string(kv[0]) + string(kv[1])}


def prop(name, value):
    """One property: identifier then value. Use it to hand-build duplicate or invalid blocks."""
    pid, kind = PROPERTIES[name]
    return varint(pid) + _ENCODERS[kind](value)


def props(**kw):
    """A whole property block (length + properties), in keyword order.
    A list value repeats the property: user_property=[("k", "v"), ("k2", "v2")]."""
    body = b""
    for name, value in kw.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            body += prop(name, v)
    return varint(len(body)) + body


def raw_props(body):
    """A property block from hand-made property bytes."""
    return varint(len(body)) + body


# ---------------------------------------------------------------------------------------------
# Packet builders. `proto` is the protocol level of the connection (V31, V311 or V5); properties
# are only written for V5, and `props` is a block made by props() (default: empty block).

def packet(first_byte, body):
    """Any packet: first byte (type << 4 | flags), Remaining Length, body."""
    return u8(first_byte) + varint(len(body)) + body


def _props(proto, block):
    if proto != V5:
        assert block is None, "properties only exist in MQTT 5.0"
        return b""
    return block if block is not None else b"\x00"


def connect(client_id="", proto=V311, clean=True, keepalive=60, will=None, username=None,
            password=None, props=None, proto_name=None, flags=None):
    """CONNECT. will = dict(topic=, payload=, qos=0, retain=False, props=None).
    proto_name / flags override the computed values, to build invalid packets."""
    if proto_name is None:
        proto_name = "MQIsdp" if proto == V31 else "MQTT"
    f = 0x02 if clean else 0
    payload = string(client_id)
    if will is not None:
        f |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        if proto == V5:
            payload += will.get("props") or b"\x00"
        payload += string(will["topic"]) + binary(will["payload"])
    if username is not None:
        f |= 0x80
        payload += string(username)
    if password is not None:
        f |= 0x40
        payload += binary(password)
    if flags is not None:
        f = flags
    body = string(proto_name) + u8(proto) + u8(f) + u16(keepalive) + _props(proto, props) + payload
    return packet(0x10, body)


def connack(rc=0, session_present=False, proto=V311, props=None):
    return packet(0x20, u8(1 if session_present else 0) + u8(rc) + _props(proto, props))


def publish(topic, payload=b"", qos=0, mid=None, retain=False, dup=False, proto=V311, props=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = string(topic)
    if qos > 0:
        body += u16(mid if mid is not None else 1)
    body += _props(proto, props) + payload
    return packet(first, body)


def _ack(first, mid, rc, proto, props):
    """PUBACK/PUBREC/PUBREL/PUBCOMP. In 5.0 the reason code and properties may be left out when
    the reason is 0x00 and there are no properties (MQTT 5.0 section 3.4.2.1): rc=None does that."""
    body = u16(mid)
    if proto == V5 and (rc is not None or props is not None):
        body += u8(rc or 0)
        if props is not None:
            body += props
    return packet(first, body)


def puback(mid, rc=None, proto=V311, props=None):
    return _ack(0x40, mid, rc, proto, props)


def pubrec(mid, rc=None, proto=V311, props=None):
    return _ack(0x50, mid, rc, proto, props)


def pubrel(mid, rc=None, proto=V311, props=None):
    return _ack(0x62, mid, rc, proto, props)


def pubcomp(mid, rc=None, proto=V311, props=None):
    return _ack(0x70, mid, rc, proto, props)


def subscribe(mid, topics, proto=V311, props=None):
    """topics: list of (filter, options). options is the requested QoS in 3.1.1; in 5.0 it is the
    whole Subscription Options byte: qos | no_local<<2 | retain_as_published<<3 | retain_handling<<4
    (see sub_opts())."""
    if isinstance(topics, str):
        topics = [(topics, 0)]
    body = u16(mid) + _props(proto, props)
    for flt, opts in topics:
        body += string(flt) + u8(opts)
    return packet(0x82, body)


def sub_opts(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | (retain_handling << 4)


def suback(mid, codes, proto=V311, props=None):
    if isinstance(codes, int):
        codes = [codes]
    return packet(0x90, u16(mid) + _props(proto, props) + bytes(codes))


def unsubscribe(mid, topics, proto=V311, props=None):
    if isinstance(topics, str):
        topics = [topics]
    return packet(0xA2, u16(mid) + _props(proto, props) + b"".join(string(t) for t in topics))


def unsuback(mid, codes=(), proto=V311, props=None):
    """In 3.1.1 UNSUBACK has no payload; in 5.0 one reason code per filter."""
    if isinstance(codes, int):
        codes = [codes]
    if proto != V5:
        return packet(0xB0, u16(mid))
    return packet(0xB0, u16(mid) + _props(proto, props) + bytes(codes))


def pingreq():
    return b"\xc0\x00"


def pingresp():
    return b"\xd0\x00"


def disconnect(rc=None, proto=V311, props=None):
    """In 5.0 a DISCONNECT with reason 0x00 and no properties may be 2 bytes (rc=None)."""
    if proto != V5 or (rc is None and props is None):
        return b"\xe0\x00"
    return packet(0xE0, u8(rc or 0) + (props if props is not None else b""))


def auth(rc=0, props=None):
    return packet(0xF0, u8(rc) + (props if props is not None else b"\x00"))


# ---------------------------------------------------------------------------------------------
# Parsing, for fields the broker is free to choose (packet ids, property order, CONNACK props).

class Malformed(Exception):
    pass


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Malformed("need %d more bytes at offset %d" % (n, self.pos))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def left(self):
        return len(self.data) - self.pos

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        n, mult = 0, 1
        for _ in range(4):
            b = self.u8()
            n += (b & 0x7F) * mult
            if not b & 0x80:
                return n
            mult *= 128
        raise Malformed("variable byte integer longer than 4 bytes")

    def string(self):
        return self.take(self.u16()).decode("utf-8")

    def binary(self):
        return self.take(self.u16())

    def props(self):
        r = _Reader(self.take(self.varint()))
        out = {}
        while r.left():
            pid = r.varint()
            if pid not in PROPERTY_BY_ID:
                raise Malformed("unknown property id 0x%02x" % pid)
            name, kind = PROPERTY_BY_ID[pid]
            value = {"byte": r.u8, "u16": r.u16, "u32": r.u32, "varint": r.varint, "str": r.string,
                     "bin": r.binary, "pair": lambda: (r.string(), r.string())}[kind]()
            if name in REPEATABLE:
                out.setdefault(name, []).append(value)
            elif name in out:
                raise Malformed("property %s appears twice" % name)
            else:
                out[name] = value
        return out


def split_packet(data):
    """-> (type, flags, body) of one whole packet."""
    r = _Reader(data)
    first = r.u8()
    length = r.varint()
    body = r.take(length)
    if r.left():
        raise Malformed("%d bytes after the packet" % r.left())
    return first >> 4, first & 0x0F, body


def parse(data, proto=V311):
    """Decode one packet sent by a broker into a dict (for checks and for readable diffs)."""
    ptype, flags, body = split_packet(data)
    r = _Reader(body)
    d = {"type": TYPE_NAMES[ptype], "flags": flags}
    if ptype == CONNACK:
        d["session_present"] = r.u8()
        d["rc"] = r.u8()
        if proto == V5 and r.left():
            d["props"] = r.props()
    elif ptype == PUBLISH:
        d["dup"], d["qos"], d["retain"] = bool(flags & 8), (flags >> 1) & 3, bool(flags & 1)
        d["topic"] = r.string()
        if d["qos"]:
            d["mid"] = r.u16()
        if proto == V5:
            d["props"] = r.props()
        d["payload"] = r.take(r.left())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        d["mid"] = r.u16()
        if proto == V5:
            d["rc"] = r.u8() if r.left() else 0
            if r.left():
                d["props"] = r.props()
    elif ptype in (SUBACK, UNSUBACK):
        d["mid"] = r.u16()
        if proto == V5:
            d["props"] = r.props()
        d["codes"] = list(r.take(r.left()))
    elif ptype in (DISCONNECT, AUTH):
        if r.left():
            d["rc"] = r.u8()
        if r.left():
            d["props"] = r.props()
    if r.left():
        d["trailing"] = r.take(r.left())
    return d


def describe(data, proto=None):
    """parse() as text; with proto None, the 3.1.1 reading unless only the 5.0 one fits."""
    readings = []
    for p in ([proto] if proto else [V311, V5]):
        try:
            d = parse(data, p)
        except Exception as e:  # a broker bug should still print something readable
            readings.append("(unparseable: %s)" % e)
            continue
        if proto or "trailing" not in d:
            return str(d)
        readings.append(str(d))
    return readings[0]


def hexdump(data):
    return " ".join("%02x" % b for b in data)


# ---------------------------------------------------------------------------------------------
# Socket helpers. Every wait has a deadline; nothing loops forever.

class Closed(AssertionError):
    pass


def _recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise Closed("connection closed by broker" + (" mid-packet" if buf else ""))
        buf += chunk
    return buf


def recv_packet(sock, timeout=DEFAULT_TIMEOUT):
    """One whole packet as bytes. Raises socket.timeout or Closed."""
    deadline = time.monotonic() + timeout
    head = _recv_exact(sock, 1, deadline)
    length, mult = 0, 1
    for _ in range(4):
        b = _recv_exact(sock, 1, deadline)
        head += b
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    else:
        raise AssertionError("broker sent a Remaining Length longer than 4 bytes: " + hexdump(head))
    return head + _recv_exact(sock, length, deadline)


def expect_packet(sock, expected, name, timeout=DEFAULT_TIMEOUT, proto=None):
    """Receive one packet and assert it is exactly `expected`; returns it."""
    got = _expect_any(sock, name, timeout)
    if got != expected:
        raise AssertionError("%s: wrong packet\n  expected: %s\n            %s\n  received: %s\n  "
                             "          %s" % (name, hexdump(expected), describe(expected, proto),
                                               hexdump(got), describe(got, proto)))
    return got


def _expect_any(sock, name, timeout):
    try:
        return recv_packet(sock, timeout)
    except socket.timeout:
        raise AssertionError("%s: nothing received within %.1f s" % (name, timeout)) from None
    except Closed as e:
        raise AssertionError("%s: %s instead" % (name, e)) from None


def expect_type(sock, ptype, name, timeout=DEFAULT_TIMEOUT, proto=V311):
    """Receive one packet of the given type and return it parsed (for broker-chosen fields)."""
    got = _expect_any(sock, name, timeout)
    try:
        d = parse(got, proto)
    except Malformed as e:
        raise AssertionError("%s: broker sent a malformed packet (%s): %s" % (name, e, hexdump(got))) from None
    if got[0] >> 4 != ptype:
        raise AssertionError("%s: expected a %s, received %s\n  %s" % (
            name, TYPE_NAMES[ptype], hexdump(got), d))
    d["raw"] = got
    return d


def expect_connack(sock, rc=0, session_present=False, proto=V311, name="CONNACK"):
    """3.1/3.1.1: exact bytes. 5.0: exact flags and reason code; returns the properties, which the
    broker may choose (checked to be well formed and not repeated)."""
    if proto != V5:
        expect_packet(sock, connack(rc, session_present), name)
        return {}
    d = expect_type(sock, CONNACK, name, proto=V5)
    if (d["session_present"], d["rc"], d["flags"]) != (int(session_present), rc, 0):
        raise AssertionError("%s: expected session_present=%d rc=0x%02x, received %s" % (
            name, session_present, rc, d))
    return d.get("props", {})


def expect_publish(sock, topic, payload=b"", qos=0, retain=False, dup=False, proto=V311,
                   props=None, name="PUBLISH", timeout=DEFAULT_TIMEOUT):
    """Receive a PUBLISH and check every field; the packet id is the broker's choice and is
    returned in the result. props (5.0): dict as parse() gives; property order is free except
    among user properties, so 5.0 packets are compared as parsed values."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    d = expect_type(sock, PUBLISH, name, timeout, proto)
    want = {"type": "PUBLISH", "flags": d["flags"], "dup": dup, "qos": qos, "retain": retain,
            "topic": topic, "payload": payload}
    if qos:
        want["mid"] = d.get("mid")
        if not d.get("mid"):
            raise AssertionError("%s: QoS %d PUBLISH with packet id 0 [MQTT-2.3.1-1]: %s" % (
                name, qos, hexdump(d["raw"])))
    if proto == V5:
        want["props"] = props or {}
    got = {k: v for k, v in d.items() if k != "raw"}
    if got != want:
        raise AssertionError("%s: wrong packet\n  expected: %s\n  received: %s\n  raw: %s" % (
            name, want, got, hexdump(d["raw"])))
    return d


def expect_disconnect(sock, rc, name="DISCONNECT", timeout=DEFAULT_TIMEOUT):
    """5.0 server DISCONNECT with this reason code (a reason string may follow), then close."""
    d = expect_type(sock, DISCONNECT, name, timeout, V5)
    if d.get("rc", 0) != rc:
        raise AssertionError("%s: expected reason 0x%02x, received %s" % (name, rc, d))
    expect_closed(sock, timeout, name + " then close")
    return d


def expect_closed(sock, timeout=DEFAULT_TIMEOUT, name="connection close"):
    """Assert the broker closes the connection within timeout and sends nothing before."""
    try:
        got = recv_packet(sock, timeout)
    except Closed:
        return
    except socket.timeout:
        raise AssertionError("%s: still open after %.1f s" % (name, timeout)) from None
    raise AssertionError("%s: expected close, received %s %s" % (name, hexdump(got), describe(got)))


def expect_nothing(sock, timeout=0.3, name="silence", proto=None):
    """Assert that nothing arrives for `timeout` seconds and the connection stays open."""
    try:
        got = recv_packet(sock, timeout)
    except socket.timeout:
        return
    except Closed:
        raise AssertionError("%s: connection closed" % name) from None
    raise AssertionError("%s: expected nothing, received %s %s" % (
        name, hexdump(got), describe(got, proto)))


def send(sock, data):
    """sendall that tolerates the broker having closed already (the close is checked later)."""
    try:
        sock.sendall(data)
    except OSError as e:
        if e.errno not in (errno.EPIPE, errno.ECONNRESET):
            raise
