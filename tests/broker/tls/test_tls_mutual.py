"""Mutual TLS: require_certificate with a cafile; the device's certificate is its identity
(use_identity_as_username); no certificate, an expired one, or one from another CA is refused
with one log line that says which and what to do."""

import ssl

import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys

MUTUAL = dict(require_certificate=True, use_identity_as_username=True)
DEVICE = dict(cert="device.crt", key="device.key")


def test_device_certificate_round_trip():
    with TLSBroker(keys(**MUTUAL)) as b:
        sub = t.MosquittoSub(b.tls_port, "dev/1", **DEVICE)
        try:
            t.mosquitto_pub(b.tls_port, "dev/1", "signed", version="mqttv5", **DEVICE)
            assert sub.wait_for(lambda l: l.startswith("MSG "), "message") == "MSG dev/1 signed"
        finally:
            sub.close()
        s = t.tls_client(b, "py-device", ctx=t.context(version=ssl.TLSVersion.TLSv1_2, **DEVICE))
        s.sendall(m.pingreq())
        m.expect_packet(s, m.pingresp(), "PINGRESP")


def test_identity_admits_device_without_anonymous():
    # use_identity_as_username: the certificate's CN (device-1) is the username, so the device
    # is not anonymous and allow_anonymous false must let it in (Mosquitto does).
    with TLSBroker(keys(**MUTUAL), anonymous=False) as b:
        pos = t.mark(b)
        rc, out = t.run(["mosquitto_pub"] + t.mosq_args(b.tls_port, **DEVICE) + ["-t", "dev/1", "-m", "x"])
        assert rc == 0, "the device with a valid certificate was refused (status %d: %s); log:\n%s" % (
            rc, out.strip(), "\n".join(t.lines_since(b, pos)))


def test_connect_username_does_not_replace_identity():
    # The CONNECT's username must not override the certificate's identity (and the identity
    # must not leak when a client sends one: the sanitizer at stop would say so).
    with TLSBroker(keys(**MUTUAL)) as b:
        t.mosquitto_pub(b.tls_port, "dev/1", "spoof", args=["-u", "someone-else"], **DEVICE)
        s = t.tls_client(b, "py-device", ctx=t.context(**DEVICE), username="someone-else")
        s.sendall(m.disconnect())


def test_no_client_certificate():
    with TLSBroker(keys(**MUTUAL)) as b:
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "dev/1", "anon", ok=False)
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "TLS handshake failed", "the client sent no certificate",
                      "require_certificate true", "give the device a certificate signed by the "
                      "listener's cafile")
        # TLS 1.2 from Python, where we know the peer address ourselves.
        pos = t.mark(b)
        hs = t.MemoryHandshake(b, version=ssl.TLSVersion.TLSv1_2)
        hs.sock.sendall(hs.hello())
        hs.flight()
        hs.sock.sendall(hs.step())  # our (empty) Certificate, key exchange, Finished
        t.wait_closed(hs.sock)
        t.expect_line(b, pos, t.peer_of(hs.sock), "the client sent no certificate")


def test_expired_client_certificate():
    with TLSBroker(keys(**MUTUAL)) as b:
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "dev/1", "old", ok=False, cert="expired.crt", key="expired.key")
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "TLS handshake failed",
                      "the client's certificate was not accepted: certificate has expired",
                      "check the clocks")


def test_client_certificate_from_another_ca():
    with TLSBroker(keys(**MUTUAL)) as b:
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "dev/1", "stranger", ok=False, cert="stranger.crt", key="stranger.key")
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "the client's certificate was not accepted",
                      "unable to get local issuer certificate",
                      "issue the device a certificate from the CA in this listener's cafile")
