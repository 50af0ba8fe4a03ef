"""Clients that do everything right: mosquitto_pub/sub, paho and raw MQTT over TLS, MQTT 3.1.1 and
5.0, a plain and a TLS listener side by side, and a connection handed to another worker while
TLS carries it."""

import queue
import ssl

import paho.mqtt.client as mqtt

import certs
import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys


def _mosquitto_round_trip(version):
    with TLSBroker(keys()) as b:
        sub = t.MosquittoSub(b.tls_port, "tls/cli", version=version)
        try:
            t.mosquitto_pub(b.tls_port, "tls/cli", "over TLS " + version, version=version)
            line = sub.wait_for(lambda l: l.startswith("MSG "), "message")
            assert line == "MSG tls/cli over TLS " + version, line
        finally:
            sub.close()
        # Both clients shook hands with TLS 1.3 and nobody's handshake failed.
        log = t.lines_since(b, 0)
        assert len([l for l in log if ": TLS TLSv1.3 " in l]) == 2, b.log_tail()
        assert not [l for l in log if "TLS handshake failed" in l], b.log_tail()


def test_mosquitto_pub_sub_v311():
    _mosquitto_round_trip("mqttv311")


def test_mosquitto_pub_sub_v5():
    _mosquitto_round_trip("mqttv5")


def _paho_round_trip(protocol):
    with TLSBroker(keys()) as b:
        got, connacks = queue.Queue(), queue.Queue()
        c = mqtt.Client(client_id="paho-tls", protocol=protocol)
        c.tls_set(ca_certs=certs.path("ca.crt"))
        c.on_connect = lambda c_, u, flags, rc, props=None: connacks.put(rc)
        c.on_subscribe = lambda c_, u, mid, granted, props=None: connacks.put("suback")
        c.on_message = lambda c_, u, msg: got.put((msg.topic, msg.payload))
        c.connect("127.0.0.1", b.tls_port, keepalive=30)
        c.loop_start()
        try:
            assert connacks.get(timeout=t.WAIT) == 0
            c.subscribe("tls/paho", qos=1)
            assert connacks.get(timeout=t.WAIT) == "suback"
            c.publish("tls/paho", b"paho over TLS", qos=1)
            assert got.get(timeout=t.WAIT) == ("tls/paho", b"paho over TLS")
            assert c._ssl and c.socket().version() == "TLSv1.3", "paho did not use TLS 1.3"
        finally:
            c.disconnect()
            c.loop_stop()


def test_paho_v311():
    _paho_round_trip(mqtt.MQTTv311)


def test_paho_v5():
    _paho_round_trip(mqtt.MQTTv5)


def test_plain_and_tls_listeners_deliver_to_each_other():
    with TLSBroker(keys(), plain=True) as b:
        plain_sub = b.subscriber("plain-sub", [("x/#", 1)])
        tls_sub = t.tls_client(b, "tls-sub")
        tls_sub.sendall(m.subscribe(1, [("x/#", 1)]))
        m.expect_packet(tls_sub, m.suback(1, [1]), "SUBACK over TLS")
        plain_pub = b.client("plain-pub")
        tls_pub = t.tls_client(b, "tls-pub", proto=m.V5)

        tls_pub.sendall(m.publish("x/from-tls", b"a" * 3000, qos=1, mid=7, proto=m.V5))
        m.expect_packet(tls_pub, m.puback(7, proto=m.V5), "PUBACK over TLS", proto=m.V5)
        plain_pub.sendall(m.publish("x/from-plain", b"b" * 20000, qos=1, mid=8))
        m.expect_packet(plain_pub, m.puback(8), "PUBACK")
        for s in (plain_sub, tls_sub):
            for topic, payload in (("x/from-tls", b"a" * 3000), ("x/from-plain", b"b" * 20000)):
                d = m.expect_publish(s, topic, payload, qos=1)
                s.sendall(m.puback(d["mid"]))


def test_connect_handed_to_another_worker_keeps_tls():
    # A client id hashes to a home worker; a CONNECT that arrives elsewhere is handed over with
    # its unread bytes. Over TLS those bytes are already decrypted: CONNECT, SUBSCRIBE and
    # PUBLISH in one record must all be answered, whichever worker the id belongs to.
    with TLSBroker(keys()) as b:
        for i in range(12):
            cid = "handover-%d" % i
            s = t.tls_sock(b)
            s.sendall(m.connect(cid) + m.subscribe(1, [("h/%d" % i, 0)]) + m.publish("h/%d" % i, b"self"))
            m.expect_connack(s)
            m.expect_packet(s, m.suback(1, [0]), "SUBACK for " + cid)
            m.expect_publish(s, "h/%d" % i, b"self")


def test_rsa_chain_listener_serves_whole_chain():
    # certfile holds the server certificate and its intermediate: a client that trusts only
    # the root must still verify it.
    with TLSBroker(keys("server-rsa-chain.crt", "server-rsa.key")) as b:
        sub = t.MosquittoSub(b.tls_port, "tls/rsa")
        try:
            t.mosquitto_pub(b.tls_port, "tls/rsa", "chain")
            assert sub.wait_for(lambda l: l.startswith("MSG "), "message") == "MSG tls/rsa chain"
        finally:
            sub.close()
        s = t.tls_client(b, "rsa-raw", ctx=t.context(version=ssl.TLSVersion.TLSv1_2))
        assert "RSA" in s.cipher()[0], s.cipher()
        assert any("listening on 127.0.0.1:%d (TLS, RSA 2048 certificate)" % b.tls_port in l
                   for l in t.lines_since(b, 0)), b.log_tail()
