/*
 * pub.c - `mote pub`: publishes a message with mosquitto_pub's flags, through libmote (the device's
 * client engine, the POSIX port and lib/tls), so every failure is explained as a device would
 * explain it. Connection options and certificates: conn.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"

#define PROG "mote pub"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mote pub -t TOPIC (-m MESSAGE | -f FILE | -s | -n) [OPTIONS]\n"
            "       mote pub -L mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC -m MESSAGE "
            "[OPTIONS]\n"
            "\n"
            "Publishes one message, as mosquitto_pub does, with libmote: the client engine,\n"
            "the POSIX port and lib/tls that a device runs. A failure prints libmote's\n"
            "explanation (the layer, the cause, what to do) and exits 1.\n"
            "\n"
            "Message:\n"
            "  -t TOPIC        the topic\n"
            "  -m MESSAGE      the payload, as given\n"
            "  -f FILE         the payload is the content of FILE\n"
            "  -s              the payload is all of standard input\n"
            "  -n              an empty payload (to clear a retained message, with -r)\n"
            "  -q 0|1|2        QoS (default 0); with 1 and 2, waits for the acknowledgement\n"
            "  -r              retain the message\n"
            "  -D publish PROPERTY VALUE\n"
            "                  an MQTT 5 property of the PUBLISH: user-property KEY VALUE,\n"
            "                  content-type, response-topic, correlation-data,\n"
            "                  message-expiry-interval, payload-format-indicator\n"
            "  -W SECONDS      give up after this long (default 10 per step)\n"
            "\n"
            "%s"
            "\n"
            "Exit status: 0 published (acknowledged for QoS 1 and 2), 1 failed, 2 usage error.\n"
            "Examples:\n"
            "  mote pub -t sensors/t1 -m 21.5\n"
            "  mote pub -L mqtts://device@broker.lan/sensors/t1 --cafile ca.crt -P secret -q 1 "
            "-m 21.5\n"
            "  mote pub -V 5 -t cmd -m on -D publish user-property source cli\n",
            cli_opts_help);
}

struct pub_state {
    const struct cli_opts *o;
    uint16_t id;
    int done;
    uint8_t reason;
};

static void on_event(void *ctx, const struct mote_event *e)
{
    struct pub_state *s = ctx;

    cli_debug_event(s->o, e);
    if (e->type == MOTE_EV_PUBLISHED && e->packet_id == s->id) {
        s->done = 1;
        s->reason = e->reason;
    }
}

static int fail(const char *msg)
{
    fprintf(stderr, PROG ": %s\n", msg);
    return 1;
}

/* see cli.h */
int mote_cmd_pub(int argc, char **argv)
{
    struct cli_opts o;
    struct cli_props props = {0};
    const char *topic = NULL, *message = NULL, *file = NULL;
    int from_stdin = 0, null_msg = 0, retain = 0, sources;
    unsigned long qos = 0, wait_s = 0;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    int rc;

    cli_opts_init(&o, PROG);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;

        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        rc = cli_opts_parse(&o, argc, argv, &i, &props);
        if (rc == 2)
            return 2;
        if (rc == 1)
            continue;
        if (a[0] != '-' || !a[1])
            return cli_usage_error(PROG, "unexpected argument '%s'", a);
        if (!strcmp(a, "-r") || !strcmp(a, "--retain")) {
            retain = 1;
            continue;
        }
        if (!strcmp(a, "-s") || !strcmp(a, "--stdin-file")) {
            from_stdin = 1;
            continue;
        }
        if (!strcmp(a, "-n") || !strcmp(a, "--null-message")) {
            null_msg = 1;
            continue;
        }
        if (strcmp(a, "-t") && strcmp(a, "--topic") && strcmp(a, "-m") && strcmp(a, "--message") &&
            strcmp(a, "-f") && strcmp(a, "--file") && strcmp(a, "-q") && strcmp(a, "--qos") &&
            strcmp(a, "-W"))
            return cli_usage_error(PROG, "unknown option '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error(PROG, "%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "-t") || !strcmp(a, "--topic")) {
            topic = v;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--message")) {
            message = v;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            file = v;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--qos")) {
            errno = 0;
            qos = strtoul(v, &end, 10);
            if (errno || end == v || *end || qos > 2)
                return cli_usage_error(PROG, "-q wants 0, 1 or 2, not '%s'", v);
        } else {
            errno = 0;
            wait_s = strtoul(v, &end, 10);
            if (errno || end == v || *end || wait_s == 0 || wait_s > 86400)
                return cli_usage_error(PROG, "-W wants seconds from 1 to 86400, not '%s'", v);
        }
    }
    if (!topic)
        topic = o.url_topic;
    if (!topic)
        return cli_usage_error(PROG, "which topic? give -t TOPIC (or a URL with a topic: -L)");
    sources = (message != NULL) + (file != NULL) + from_stdin + null_msg;
    if (sources != 1)
        return cli_usage_error(PROG, sources ? "give only one of -m, -f, -s and -n"
                                             : "what message? give -m, -f, -s or -n");
    if (props.count && o.version != MOTE_V5)
        return cli_usage_error(PROG, "-D publish is MQTT 5: add -V 5");
    if (wait_s)
        o.timeout_ms = (uint32_t)wait_s * 1000;
    if (cli_opts_finish(&o))
        return 2;
    rc = mote_topic_check_name((const uint8_t *)topic, strlen(topic));
    if (rc == MOTE_OK)
        rc = mote_utf8_check((const uint8_t *)topic, strlen(topic));
    if (rc != MOTE_OK)
        return cli_usage_error(PROG, "-t '%s': %s", topic, mote_strerror(rc));

    if (message) {
        payload = (uint8_t *)strdup(message);
        payload_len = strlen(message);
    } else if (file || from_stdin) {
        payload = cli_read_file(file ? file : "-", &payload_len);
        if (!payload) {
            fprintf(stderr, PROG ": %s: %s\n", file ? file : "standard input", strerror(errno));
            return 1;
        }
    } else {
        payload = malloc(1);
    }
    if (!payload)
        return fail("out of memory");

    struct mote_publish msg = {.qos = (uint8_t)qos, .retain = (uint8_t)retain};
    struct mote_packet p = {.type = MOTE_PUBLISH};
    size_t size = 0;
    msg.topic = (struct mote_slice){(const uint8_t *)topic, strlen(topic)};
    msg.payload = (struct mote_slice){payload, payload_len};
    msg.props.list = props.list;
    msg.props.count = props.count;
    p.u.publish = msg;
    p.u.publish.packet_id = qos ? 1 : 0;
    rc = mote_codec_size(&p, o.version, &size);
    if (rc != MOTE_OK) {
        free(payload);
        fprintf(stderr, PROG ": the message cannot be sent: %s (%s)\n", mote_strerror(rc),
                mote_err_name(rc));
        return 1;
    }

    struct pub_state st = {.o = &o};
    struct mote_client_callbacks cb = {NULL, on_event, &st};
    struct cli_mem mem = {.rx = 65536, .tx = size + 1024, .store = qos ? size + 64 : 0, .slots = 4};
    struct cli_conn c;

    if (cli_connect(&c, &o, &mem, &cb)) {
        free(payload);
        return 1;
    }
    rc = mote_client_publish(&c.client, &msg, &st.id);
    if (rc != MOTE_OK) {
        fail(cli_explain(&c, mote_client_error(&c.client)));
        cli_close(&c);
        free(payload);
        return 1;
    }
    if (qos == 0) {
        cli_flush(&c, o.timeout_ms);
    } else {
        rc = cli_run(&c, o.timeout_ms, cli_flag_set, &st.done);
        if (rc < 0 || rc == MOTE_NEED_MORE) {
            if (rc < 0)
                fail(c.error);
            else
                fprintf(stderr,
                        PROG ": the broker did not acknowledge the message within %u ms "
                             "(QoS %lu): see the broker's log\n",
                        o.timeout_ms, qos);
            cli_close(&c);
            free(payload);
            return 1;
        }
    }
    cli_close(&c);
    free(payload);
    if (st.done && st.reason >= 0x80) {
        fprintf(stderr, PROG ": the broker refused the message: %s (0x%02x)%s\n",
                mote_reason_name(o.version, MOTE_PUBACK, st.reason), st.reason,
                st.reason == MOTE_RC_NOT_AUTHORIZED ? ": check the broker's ACL for this topic"
                                                    : "");
        return 1;
    }
    return 0;
}
