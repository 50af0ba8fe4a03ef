/*
 * device.h - the seed device: the program of the founding story. It connects to the broker over
 * verified TLS, registers itself (a retained "online" on devices/<ID>/status, with a will that
 * sets it "offline"), publishes a ping every second on devices/<ID>/ping and prints every error
 * with the library's explanation. Portable: it needs only libmote and a struct seed_port.
 */
#ifndef SEED_DEVICE_H
#define SEED_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mote/tls.h"
#include "port.h"

/* Longest client id: the topics are kept in fixed buffers (MQTT 3.1.1 guarantees 23). */
#define SEED_ID_MAX 32u

/* The memory of one session, all of it static in device.c (docs/seed-device.md). */
#define SEED_RX 64u     /* the broker sends CONNACK, PUBACK and PINGRESP only: 2..4 bytes */
#define SEED_TX 192u    /* the CONNECT with its will, a user name and a password */
#define SEED_STORE 192u /* QoS 1 messages until their PUBACK: status, a ping or two, offline */
#define SEED_SLOTS 4u   /* QoS 1 messages in flight at once */

struct seed_settings {
    const char *host;     /* the broker: DNS name or IP, as its certificate names it */
    uint16_t port;        /* 8883 */
    const char *id;       /* client id, 1..SEED_ID_MAX bytes: devices/<id>/... */
    const char *username; /* NULL: none */
    const char *password; /* NULL: none */

    /* Trust: either CA anchors (full chain, name and date check) or one pinned key. */
    const br_x509_trust_anchor *anchors;
    size_t anchor_count;
    const br_x509_pkey *pin;

    uint32_t pings;       /* return MOTE_OK after this many acknowledged pings; 0: until stopped */
    uint32_t interval_ms; /* between pings; 0 = 1000 */
    /*
     * 0: a connection that fails before the broker accepted the device ends the run with its
     * error (a command on a desk). 1: every failure is retried after a backoff (a device).
     * Once connected, a lost connection is always retried.
     */
    uint8_t keep_trying;
};

/*
 * Runs the device: connect, register, ping, reconnect, until the pings are done or *port->stop
 * is set (then it publishes "offline", disconnects and returns MOTE_OK). Each failure is printed
 * through port->print with the library's explanation.
 * @return MOTE_OK, or the error that ended the run (the line explaining it was printed).
 */
int seed_device_run(const struct seed_settings *s, const struct seed_port *port);

#endif /* SEED_DEVICE_H */
