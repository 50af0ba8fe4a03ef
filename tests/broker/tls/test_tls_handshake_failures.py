"""Handshakes that fail, each with one log line naming the peer, the cause and what to do: the
client does not trust our CA, speaks plain MQTT or no TLS at all, shares no cipher suite or
protocol version with us, or closes the connection half-way."""

import os
import ssl

import certs
import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys

CA_NAME = "CN=mote test CA"


def test_client_does_not_trust_our_ca():
    with TLSBroker(keys()) as b:
        fp = certs.fingerprint("ca.crt")
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "t", "x", ok=False, ca="other-ca.crt")
        peer = t.only_peer(b, pos, b.tls_port)
        line = t.expect_line(b, pos, peer, "TLS handshake failed", "the client rejected our certificate",
                             "(alert unknown CA)", "give the device the CA that signed this broker's certificate",
                             CA_NAME, "SHA-256 " + fp)
        assert "SHA-256 %s;" % fp in line or line.endswith(fp), "fingerprint cut short: " + line
        # TLS 1.2, from Python, where we know the peer ourselves.
        pos = t.mark(b)
        try:
            t.tls_sock(b, t.context(ca="other-ca.crt", version=ssl.TLSVersion.TLSv1_2))
            raise AssertionError("a client trusting another CA completed the handshake")
        except ssl.SSLCertVerificationError:
            pass
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "the client rejected our certificate (alert unknown CA)", CA_NAME, fp)


def test_client_does_not_trust_our_ca_chain():
    # The RSA certificate comes with its intermediate; the CA a device needs is the root above
    # it, found in cafile.
    with TLSBroker(keys("server-rsa-chain.crt", "server-rsa.key")) as b:
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "t", "x", ok=False, ca="other-ca.crt")
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "the client rejected our certificate (alert unknown CA)",
                      CA_NAME, "SHA-256 " + certs.fingerprint("ca.crt"))


def test_plaintext_mqtt_to_tls_port():
    with TLSBroker(keys(), plain=True) as b:
        pos = t.mark(b)
        t.mosquitto_pub(b.tls_port, "t", "x", ok=False, ca=None)
        peer = t.only_peer(b, pos, b.tls_port)
        fix = ("plaintext MQTT sent to TLS port %d" % b.tls_port, "connect with TLS (mqtts://)",
               CA_NAME, "or use the plain MQTT port")
        t.expect_line(b, pos, peer, *fix)
        pos = t.mark(b)
        s = t.raw_sock(b)
        s.sendall(m.connect("plain-on-tls", proto=m.V5))
        m.expect_closed(s, name="plain CONNECT on the TLS port")
        t.expect_line(b, pos, t.peer_of(s), *fix)


def test_not_tls_at_all():
    with TLSBroker(keys()) as b:
        for data in (b"\xa5" + os.urandom(300), b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"):
            pos = t.mark(b)
            s = t.raw_sock(b)
            s.sendall(data)
            t.wait_closed(s)
            t.expect_line(b, pos, t.peer_of(s), "not TLS on TLS port %d (first byte 0x%02x)" % (b.tls_port, data[0]),
                          "the client must speak TLS here")


def test_no_cipher_suite_in_common():
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        rc, out = t.s_client(b.tls_port, "-tls1_2", "-cipher", "AES128-SHA")
        assert rc != 0, out
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "TLS handshake failed: no cipher suite in common",
                      "TLS_RSA_WITH_AES_128_CBC_SHA", "this listener allows ECDHE-ECDSA-AES128-GCM-SHA256",
                      "ECDSA 256 key", "enable one of the client's suites in `ciphers`")


def test_no_cipher_suite_in_common_with_configured_ciphers():
    with TLSBroker(keys(ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")) as b:
        ctx = t.context(version=ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")
        pos = t.mark(b)
        try:
            t.tls_sock(b, ctx)
            raise AssertionError("handshake completed without a common cipher suite")
        except ssl.SSLError:
            pass
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "no cipher suite in common", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                      "this listener allows ECDHE-ECDSA-AES128-GCM-SHA256 with", "enable one of the client's suites")


def test_protocol_version_mismatch():
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        rc, out = t.s_client(b.tls_port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        assert rc != 0, out
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "TLS handshake failed: protocol version mismatch",
                      "the client offers at most TLS 1.1", "this listener needs TLS 1.2 or later",
                      "update the client's TLS stack")


def test_protocol_version_mismatch_tls13_only():
    with TLSBroker(keys(tls_version="tlsv1.3")) as b:
        pos = t.mark(b)
        try:
            t.tls_sock(b, t.context(version=ssl.TLSVersion.TLSv1_2))
            raise AssertionError("a TLS 1.2 client completed a handshake with a tlsv1.3 listener")
        except ssl.SSLError:
            pass
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "protocol version mismatch", "the client offers at most TLS 1.2",
                      "this listener needs TLS 1.3 or later (tls_version)")
        t.tls_client(b, "tls13", ctx=t.context(version=ssl.TLSVersion.TLSv1_3))


def _closed_after_certificate(version):
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        hs = t.MemoryHandshake(b, version=version)
        hs.sock.sendall(hs.hello())
        flight = hs.flight()
        assert len(flight) > certs.der_size("server.crt"), "the server's flight is only %d bytes" % len(flight)
        hs.step()  # the client takes the flight in, and would answer now, but its device "dies"
        hs.sock.close()
        t.expect_line(b, pos, hs.peer,
                      "TLS handshake failed: the client closed the connection after we sent our "
                      "certificate chain (%d bytes, ECDSA 256)" % certs.der_size("server.crt"),
                      "did not ask for small records (max_fragment_length)",
                      # the certificate is already ECDSA: the advice is small records or memory
                      "make the device ask for small records, or give it more memory")


def test_closed_after_our_certificate_tls12():
    _closed_after_certificate(ssl.TLSVersion.TLSv1_2)


def test_closed_after_our_certificate_tls13():
    _closed_after_certificate(ssl.TLSVersion.TLSv1_3)


def test_closed_during_handshake():
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        hs = t.MemoryHandshake(b)
        hello = hs.hello()
        hs.sock.sendall(hello[:len(hello) // 2])  # half a ClientHello: we never sent anything
        peer = hs.peer
        t.wait_line(b, pos, "new connection from %s " % peer)
        hs.sock.close()
        line = t.expect_line(b, pos, peer, "TLS handshake failed: the client closed the connection "
                             "before its ClientHello was complete", "a port scanner, or a client "
                             "that gave up")
        assert "certificate chain" not in line, line
