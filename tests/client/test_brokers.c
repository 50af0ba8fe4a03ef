/*
 * test_brokers.c - the device client (lib/client over lib/port/posix.c) against a real broker:
 * Debian's mosquitto or our moted, started here on 127.0.0.1 and a free port, one fresh broker
 * per test. Round trips at QoS 0/1/2 in 3.1.1 and 5.0, a persistent session resent after the
 * socket is cut, the offline queue and its limit, keep alive, a refused CONNACK, and the TCP
 * and DNS failures a device meets. Every wait is bounded.
 *
 *   client_brokers moted|mosquitto PATH-TO-BROKER
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mote/mote.h"
#include "mote/posix.h"

#define WAIT_MS 5000u /* the longest any single expectation may take */

static const char *broker_name, *broker_path;

static void explain_fail(const char *what, int rc);

#define assert_rc_ok(call)                                                                         \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MOTE_OK)                                                                        \
            explain_fail(#call, rc_);                                                              \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * The broker
 * ------------------------------------------------------------------------------------------- */

struct broker {
    pid_t pid;
    uint16_t port;
    char dir[64], log[96];
};

static struct broker B;

static uint16_t free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("free_port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static int port_accepts(uint16_t port)
{
    struct mote_posix_tcp tcp;
    int ok = mote_posix_connect("127.0.0.1", port, 500, &tcp, NULL) == MOTE_OK;

    mote_posix_close(&tcp);
    return ok;
}

static void print_log(void)
{
    char line[256];
    FILE *f = fopen(B.log, "r");

    if (!f)
        return;
    fprintf(stderr, "--- %s log (%s)\n", broker_name, B.log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* Removes the broker's configuration, log and directory (failures printed the log already). */
static void broker_cleanup(void)
{
    char path[128];

    if (!B.dir[0])
        return;
    snprintf(path, sizeof path, "%s/broker.conf", B.dir);
    unlink(path);
    unlink(B.log);
    rmdir(B.dir);
    B.dir[0] = 0;
}

static void broker_stop(void)
{
    int status;

    if (B.pid <= 0) {
        broker_cleanup();
        return;
    }
    kill(B.pid, SIGTERM);
    for (int i = 0; i < 100 && B.pid; i++) {
        if (waitpid(B.pid, &status, WNOHANG) == B.pid)
            B.pid = 0;
        else
            usleep(20000);
    }
    if (B.pid) {
        kill(B.pid, SIGKILL);
        waitpid(B.pid, &status, 0);
        B.pid = 0;
    }
    broker_cleanup();
}

/* Starts the broker with the common keys and @p extra, and waits until it accepts. */
static void broker_start(const char *extra)
{
    char conf[128];

    broker_stop();
    memset(&B, 0, sizeof B);
    snprintf(B.dir, sizeof B.dir, "/tmp/mote-client-XXXXXX");
    if (!mkdtemp(B.dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    snprintf(B.log, sizeof B.log, "%s/broker.log", B.dir);
    snprintf(conf, sizeof conf, "%s/broker.conf", B.dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        FILE *f = fopen(conf, "w");

        B.port = free_port();
        if (!f)
            fail_msg("fopen %s: %s", conf, strerror(errno));
        fprintf(f, "listener %u 127.0.0.1\npersistence false\n%s", B.port,
                extra ? extra : "allow_anonymous true\n");
        fclose(f);
        B.pid = fork();
        if (B.pid == 0) {
            int fd = open(B.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(broker_path, broker_path, "-c", conf, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 100; i++) {
            int status;

            if (port_accepts(B.port))
                return;
            if (waitpid(B.pid, &status, WNOHANG) == B.pid) {
                B.pid = 0;
                break; /* the port was taken, or the broker failed: try again */
            }
            usleep(50000);
        }
        broker_stop();
    }
    print_log();
    broker_cleanup();
    fail_msg("%s did not start", broker_path);
}

static int with_broker(void **state)
{
    (void)state;
    broker_start(NULL);
    return 0;
}

static int stop_broker(void **state)
{
    (void)state;
    broker_stop();
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * A client with a capturing transport
 * ------------------------------------------------------------------------------------------- */

struct seen_msg {
    char topic[96];
    char payload[64];
    uint8_t qos, dup;
};

struct device {
    struct mote_client c;
    struct mote_posix_tcp tcp;
    struct mote_transport capture;
    uint8_t sent[16384]; /* everything sent on the current connection */
    size_t sent_len;
    uint8_t rx[1024], tx[1024], store[2048];
    struct mote_inflight slots[8];
    char client_id[48], topic[64];
    struct mote_client_config cfg;
    struct seen_msg msgs[32];
    size_t nmsg;
    size_t connected, published, subscribed, disconnected;
    uint8_t last_reason, session_present;
    uint8_t pub_reasons[32];
    int cut; /* the connection is cut: the transport fails, the socket is never read again */
};

static struct device D;

static int32_t capture_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct device *d = ctx;
    int32_t n = d->cut ? MOTE_ERR_CLOSED : d->tcp.transport.send(d->tcp.transport.ctx, buf, len);

    if (n > 0 && d->sent_len + (size_t)n <= sizeof d->sent) {
        memcpy(d->sent + d->sent_len, buf, (size_t)n);
        d->sent_len += (size_t)n;
    }
    return n;
}

static int32_t capture_recv(void *ctx, uint8_t *buf, size_t len)
{
    struct device *d = ctx;
    return d->cut ? MOTE_ERR_CLOSED : d->tcp.transport.recv(d->tcp.transport.ctx, buf, len);
}

static void on_message(void *ctx, const struct mote_message *m)
{
    struct device *d = ctx;
    struct seen_msg *s;

    if (d->nmsg == sizeof d->msgs / sizeof d->msgs[0])
        return;
    s = &d->msgs[d->nmsg++];
    memset(s, 0, sizeof *s);
    memcpy(s->topic, m->topic.ptr, m->topic.len < sizeof s->topic ? m->topic.len : 0);
    memcpy(s->payload, m->payload.ptr, m->payload.len < sizeof s->payload ? m->payload.len : 0);
    s->qos = m->qos;
    s->dup = m->dup;
}

static void on_event(void *ctx, const struct mote_event *e)
{
    struct device *d = ctx;

    switch (e->type) {
    case MOTE_EV_CONNECTED:
        d->connected++;
        d->session_present = e->session_present;
        break;
    case MOTE_EV_PUBLISHED:
        if (d->published < sizeof d->pub_reasons)
            d->pub_reasons[d->published] = e->reason;
        d->published++;
        break;
    case MOTE_EV_SUBSCRIBED:
        d->subscribed++;
        d->last_reason = e->count ? e->codes[0] : 0xFF;
        break;
    case MOTE_EV_DISCONNECTED:
        d->disconnected++;
        break;
    default:
        break;
    }
}

static unsigned test_counter;

/* A fresh device: its own client id and topic, @p store bytes and @p slots slots. */
static void device_init(uint8_t version, uint8_t clean, uint16_t keep_alive, size_t store,
                        size_t slots)
{
    struct mote_client_mem mem;
    struct mote_client_callbacks cb = {on_message, on_event, &D};

    memset(&D, 0, sizeof D);
    D.tcp.fd = -1;
    test_counter++;
    snprintf(D.client_id, sizeof D.client_id, "mote-%d-%u", (int)getpid(), test_counter);
    snprintf(D.topic, sizeof D.topic, "mote/test/%d/%u", (int)getpid(), test_counter);
    D.cfg.version = version;
    D.cfg.client_id.ptr = (const uint8_t *)D.client_id;
    D.cfg.client_id.len = strlen(D.client_id);
    D.cfg.clean_start = clean;
    D.cfg.keep_alive_s = keep_alive;
    D.cfg.session_expiry_s = clean ? 0 : 300;
    D.cfg.connack_timeout_ms = WAIT_MS;
    mem.rx = D.rx;
    mem.rx_len = sizeof D.rx;
    mem.tx = D.tx;
    mem.tx_len = sizeof D.tx;
    mem.store = store ? D.store : NULL;
    mem.store_len = store;
    mem.slots = D.slots;
    mem.slot_count = slots;
    D.capture.ctx = &D;
    D.capture.send = capture_send;
    D.capture.recv = capture_recv;
    if (mote_client_init(&D.c, &D.cfg, &mem, &cb) != MOTE_OK)
        fail_msg("mote_client_init: %s", mote_err_name(mote_client_error(&D.c)->code));
}

static void explain_fail(const char *what, int rc)
{
    char line[256];

    print_log();
    fail_msg("%s: %s: %s", what, mote_err_name(rc),
             mote_error_explain(mote_client_error(&D.c), line, sizeof line));
}

/* Steps the client until *@p counter reaches @p want (or the connection ends, or WAIT_MS). */
static int step_until(const size_t *counter, size_t want)
{
    uint32_t start = mote_posix_now_ms();

    while (*counter < want) {
        int rc;

        if (mote_posix_now_ms() - start > WAIT_MS)
            return MOTE_ERR_TCP_TIMEOUT;
        rc = mote_posix_step(&D.c, &D.tcp, 50);
        if (rc != MOTE_OK)
            return rc;
    }
    return MOTE_OK;
}

/* Steps for @p ms whatever happens; returns the first failure. */
static int step_for(uint32_t ms)
{
    uint32_t start = mote_posix_now_ms();

    while (mote_posix_now_ms() - start < ms) {
        int rc = mote_posix_step(&D.c, &D.tcp, 50);
        if (rc != MOTE_OK)
            return rc;
    }
    return MOTE_OK;
}

/* TCP, then MQTT over the capturing transport, up to the CONNACK. */
static int device_open(void)
{
    struct mote_error err;
    size_t want = D.connected + 1;
    int rc = mote_posix_connect("127.0.0.1", B.port, WAIT_MS, &D.tcp, &err);

    if (rc != MOTE_OK)
        return rc;
    D.sent_len = 0;
    D.cut = 0;
    rc = mote_client_connect(&D.c, &D.capture, mote_posix_now_ms());
    if (rc == MOTE_OK)
        rc = step_until(&D.connected, want);
    return rc;
}

static void device_open_ok(void)
{
    int rc = device_open();

    if (rc != MOTE_OK)
        explain_fail("connect", rc);
}

static void device_close(void)
{
    if (mote_client_state(&D.c) == MOTE_STATE_CONNECTED)
        mote_client_disconnect(&D.c, mote_posix_now_ms());
    mote_posix_close(&D.tcp);
}

static void subscribe_own_topic(uint8_t qos)
{
    char filter[80];
    struct mote_subscription sub;
    size_t want = D.subscribed + 1;
    int rc;

    snprintf(filter, sizeof filter, "%s/#", D.topic);
    memset(&sub, 0, sizeof sub);
    sub.filter.ptr = (const uint8_t *)filter;
    sub.filter.len = strlen(filter);
    sub.qos = qos;
    rc = mote_client_subscribe(&D.c, &sub, 1, 0, NULL);
    if (rc == MOTE_OK)
        rc = step_until(&D.subscribed, want);
    if (rc != MOTE_OK)
        explain_fail("subscribe", rc);
    assert_int_equal(D.last_reason, qos);
}

static int publish(const char *sub_topic, const char *payload, uint8_t qos)
{
    char topic[96];
    struct mote_publish m;

    snprintf(topic, sizeof topic, "%s/%s", D.topic, sub_topic);
    memset(&m, 0, sizeof m);
    m.topic.ptr = (const uint8_t *)topic;
    m.topic.len = strlen(topic);
    m.payload.ptr = (const uint8_t *)payload;
    m.payload.len = strlen(payload);
    m.qos = qos;
    return mote_client_publish(&D.c, &m, NULL);
}

static size_t count_payload(const char *payload)
{
    size_t n = 0;

    for (size_t i = 0; i < D.nmsg; i++)
        n += strcmp(D.msgs[i].payload, payload) == 0;
    return n;
}

/* Counts the packets of @p type (and, for PUBLISH, with DUP set if @p dup) sent so far. */
static size_t count_sent(uint8_t type, int dup)
{
    size_t pos = 0, n = 0;
    struct mote_frame f;

    while (mote_codec_frame(D.sent + pos, D.sent_len - pos, 0, &f) == MOTE_OK) {
        if (f.type == type && (!dup || (f.flags & 0x08)))
            n++;
        pos += f.total;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

static void connect_v311_and_v5(void **state)
{
    static const uint8_t versions[] = {MOTE_V311, MOTE_V5};

    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        device_init(versions[i], 1, 30, 256, 4);
        device_open_ok();
        assert_int_equal(mote_client_state(&D.c), MOTE_STATE_CONNECTED);
        assert_int_equal(D.session_present, 0);
        assert_int_equal(count_sent(MOTE_CONNECT, 0), 1);
        device_close();
        assert_int_equal(D.disconnected, 1);
        assert_int_equal(mote_client_error(&D.c)->code, MOTE_OK);
    }
}

static void qos_round_trips_through_the_broker(void **state)
{
    static const uint8_t versions[] = {MOTE_V311, MOTE_V5};

    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        int rc;

        device_init(versions[i], 1, 30, 1024, 8);
        device_open_ok();
        subscribe_own_topic(2);
        assert_rc_ok(publish("q0", "zero", 0));
        assert_rc_ok(publish("q1", "one", 1));
        assert_rc_ok(publish("q2", "two", 2));
        rc = step_until(&D.nmsg, 3);
        if (rc == MOTE_OK)
            rc = step_until(&D.published, 2);
        if (rc != MOTE_OK)
            explain_fail("round trip", rc);
        rc = step_for(200); /* nothing more may arrive */
        assert_int_equal(rc, MOTE_OK);
        assert_int_equal(D.nmsg, 3);
        for (size_t m = 0; m < 3; m++) {
            uint8_t qos = (uint8_t)(strcmp(D.msgs[m].payload, "zero") == 0  ? 0
                                    : strcmp(D.msgs[m].payload, "one") == 0 ? 1
                                                                            : 2);
            assert_int_equal(D.msgs[m].qos, qos);
        }
        assert_int_equal(count_payload("zero"), 1);
        assert_int_equal(count_payload("one"), 1);
        assert_int_equal(count_payload("two"), 1);
        assert_int_equal(D.pub_reasons[0], 0);
        assert_int_equal(D.pub_reasons[1], 0);
        assert_int_equal(count_sent(MOTE_PUBREL, 0), 1);
        device_close();
    }
}

/*
 * A QoS 1 and a QoS 2 message are written, then the socket is cut before any acknowledgement is
 * read. After the reconnect the broker still has the session: both go out again with DUP, the
 * QoS 2 one arrives exactly once, the QoS 1 one at least once, and both are acknowledged.
 */
static void persistent_session_resends_after_a_cut(void **state)
{
    static const uint8_t versions[] = {MOTE_V311, MOTE_V5};

    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint32_t wait;
        int rc;

        device_init(versions[i], 0, 30, 1024, 8);
        device_open_ok();
        subscribe_own_topic(2);
        assert_rc_ok(publish("a", "m1", 1));
        assert_rc_ok(publish("b", "m2", 2));
        assert_false(mote_client_wants_write(&D.c)); /* both written to the socket */
        D.cut = 1; /* cut under the client: no acknowledgement will be read */
        mote_posix_close(&D.tcp);
        rc = mote_client_poll(&D.c, mote_posix_now_ms(), &wait);
        assert_int_equal(rc, MOTE_ERR_CLOSED);
        assert_int_equal(D.disconnected, 1);
        assert_int_equal(D.published, 0);

        device_open_ok();
        assert_int_equal(D.session_present, 1);
        assert_int_equal(count_sent(MOTE_PUBLISH, 1), 2); /* both resent with DUP */
        rc = step_until(&D.published, 2);
        if (rc == MOTE_OK)
            rc = step_until(&D.nmsg, 2);
        if (rc == MOTE_OK)
            rc = step_for(300);
        if (rc != MOTE_OK)
            explain_fail("resend", rc);
        assert_true(count_payload("m1") >= 1);
        assert_int_equal(count_payload("m2"), 1);
        assert_int_equal(D.published, 2);
        device_close();
    }
}

/*
 * Offline: QoS 1 messages are stored until the slots (4) are used up, then refused with
 * MOTE_ERR_QUEUE_FULL; after the reconnect every stored one is delivered.
 */
static void offline_queue_and_its_limit(void **state)
{
    char payload[16];
    size_t stored = 0;
    int rc;

    (void)state;
    device_init(MOTE_V311, 0, 30, 2048, 4);
    device_open_ok();
    subscribe_own_topic(1);
    device_close();

    for (int i = 0; i < 10; i++) {
        snprintf(payload, sizeof payload, "off%d", i);
        rc = publish("q", payload, 1);
        if (rc == MOTE_ERR_QUEUE_FULL)
            break;
        assert_int_equal(rc, MOTE_OK);
        stored++;
    }
    assert_int_equal(stored, 4);
    assert_int_equal(publish("q", "late", 0), MOTE_ERR_NOT_CONNECTED);

    device_open_ok();
    assert_int_equal(D.session_present, 1);
    rc = step_until(&D.published, 4);
    if (rc == MOTE_OK)
        rc = step_until(&D.nmsg, 4);
    if (rc != MOTE_OK)
        explain_fail("offline queue", rc);
    for (size_t i = 0; i < stored; i++) {
        snprintf(payload, sizeof payload, "off%u", (unsigned)i);
        assert_int_equal(count_payload(payload), 1);
    }
    /* room again */
    assert_int_equal(publish("q", "again", 1), MOTE_OK);
    device_close();
}

static void keep_alive_pings(void **state)
{
    int rc;

    (void)state;
    device_init(MOTE_V5, 1, 1, 256, 4);
    device_open_ok();
    rc = step_for(2600);
    if (rc != MOTE_OK)
        explain_fail("keep alive", rc);
    assert_true(count_sent(MOTE_PINGREQ, 0) >= 2);
    assert_int_equal(mote_client_state(&D.c), MOTE_STATE_CONNECTED);
    device_close();
}

static void connack_refused_without_credentials(void **state)
{
    (void)state;
    broker_start("allow_anonymous false\n");
    device_init(MOTE_V311, 1, 30, 256, 4);
    assert_int_equal(device_open(), MOTE_ERR_CONNECT_REFUSED);
    assert_int_equal(mote_client_error(&D.c)->reason, MOTE_V3_REFUSED_NOT_AUTHORIZED);
    assert_int_equal(mote_client_error(&D.c)->layer, MOTE_LAYER_MQTT);
    mote_posix_close(&D.tcp);

    device_init(MOTE_V5, 1, 30, 256, 4);
    assert_int_equal(device_open(), MOTE_ERR_CONNECT_REFUSED);
    assert_int_equal(mote_client_error(&D.c)->reason, MOTE_RC_NOT_AUTHORIZED);
    mote_posix_close(&D.tcp);
}

static void tcp_refused_on_a_closed_port(void **state)
{
    char line[256];
    int rc;

    (void)state;
    device_init(MOTE_V311, 1, 30, 256, 4);
    rc = mote_posix_open(&D.c, &D.tcp, "127.0.0.1", free_port(), WAIT_MS);
    assert_int_equal(rc, MOTE_ERR_TCP_REFUSED);
    assert_int_equal(mote_client_error(&D.c)->layer, MOTE_LAYER_TCP);
    assert_int_equal(mote_client_error(&D.c)->raw, ECONNREFUSED);
    assert_int_equal(D.tcp.fd, -1);
    mote_error_explain(mote_client_error(&D.c), line, sizeof line);
    assert_non_null(strstr(line, "tcp: connection refused"));
}

static void dns_failure_on_an_invalid_name(void **state)
{
    char line[256];
    int rc;

    (void)state;
    device_init(MOTE_V311, 1, 30, 256, 4);
    rc = mote_posix_open(&D.c, &D.tcp, "nonexistent.invalid", 1883, WAIT_MS);
    assert_int_equal(rc, MOTE_ERR_DNS);
    assert_int_equal(mote_client_error(&D.c)->layer, MOTE_LAYER_DNS);
    assert_int_not_equal(mote_client_error(&D.c)->raw, 0);
    mote_error_explain(mote_client_error(&D.c), line, sizeof line);
    assert_non_null(strstr(line, "dns: the broker's host name could not be resolved"));
}

/* mote_posix_run keeps the session up across a broker restart, then stops on request. */
static volatile int run_stop;

static void on_run_error(void *ctx, const struct mote_error *e)
{
    (void)ctx;
    (void)e;
    run_stop = 1; /* one failure is enough for this test */
}

static void posix_run_connects_and_stops(void **state)
{
    struct mote_posix_run run;

    (void)state;
    device_init(MOTE_V311, 1, 30, 256, 4);
    memset(&run, 0, sizeof run);
    run.host = "127.0.0.1";
    run.port = B.port;
    run.run_ms = 600;
    run.stop = &run_stop;
    run.on_error = on_run_error;
    run_stop = 0;
    assert_int_equal(mote_posix_run(&D.c, &D.tcp, &run), MOTE_OK);
    assert_int_equal(D.connected, 1);
    assert_int_equal(run_stop, 0);
    assert_int_equal(mote_client_state(&D.c), MOTE_STATE_DISCONNECTED);
    assert_int_equal(D.tcp.fd, -1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(connect_v311_and_v5, with_broker, stop_broker),
        cmocka_unit_test_setup_teardown(qos_round_trips_through_the_broker, with_broker,
                                        stop_broker),
        cmocka_unit_test_setup_teardown(persistent_session_resends_after_a_cut, with_broker,
                                        stop_broker),
        cmocka_unit_test_setup_teardown(offline_queue_and_its_limit, with_broker, stop_broker),
        cmocka_unit_test_setup_teardown(keep_alive_pings, with_broker, stop_broker),
        cmocka_unit_test_teardown(connack_refused_without_credentials, stop_broker),
        cmocka_unit_test(tcp_refused_on_a_closed_port),
        cmocka_unit_test(dns_failure_on_an_invalid_name),
        cmocka_unit_test_setup_teardown(posix_run_connects_and_stops, with_broker, stop_broker),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s moted|mosquitto PATH-TO-BROKER\n", argv[0]);
        return 2;
    }
    broker_name = argv[1];
    broker_path = argv[2];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name(broker_name, tests, NULL, NULL);
}
