/*
 * sub.c - `mote sub`: subscribes and prints messages with mosquitto_sub's flags (and JSON lines),
 * through libmote: the device's client engine, the POSIX port and lib/tls. Connection options
 * and certificates: conn.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"

#define PROG "mote sub"
#define MAX_FILTERS 64
#define RX_BYTES (1u << 20) /* the largest message printed; told to 5.0 brokers */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mote sub -t FILTER [-t FILTER]... [OPTIONS]\n"
            "       mote sub -L mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/FILTER [OPTIONS]\n"
            "\n"
            "Subscribes and prints each message on a line, as mosquitto_sub does, with libmote:\n"
            "the client engine, the POSIX port and lib/tls that a device runs. A failure prints\n"
            "libmote's explanation (the layer, the cause, what to do) and exits 1.\n"
            "\n"
            "Subscription and output:\n"
            "  -t FILTER       a topic filter (repeatable, up to %d)\n"
            "  -q 0|1|2        the QoS asked for (default 0)\n"
            "  -C COUNT        exit after COUNT messages\n"
            "  -W SECONDS      exit after this long (status 1 and \"timed out\" on stderr, as\n"
            "                  mosquitto_sub, unless -C's count was reached)\n"
            "  -R              do not print retained (stale) messages\n"
            "  -v              print \"TOPIC PAYLOAD\" instead of the payload alone\n"
            "  -N              no newline after the payload\n"
            "  --json          one JSON object per line: topic, qos, retain, payload (UTF-8)\n"
            "                  or payload_base64, and MQTT 5 user_properties as [[KEY, VALUE]...]\n"
            "  --nl, --rap, --rh 0|1|2\n"
            "                  MQTT 5 subscription options: no local, retain as published,\n"
            "                  retain handling\n"
            "\n"
            "%s"
            "\n"
            "Exit status: 0 done (-C reached, or SIGINT/SIGTERM), 1 failed or timed out,\n"
            "2 usage error. Examples:\n"
            "  mote sub -t 'sensors/#' -v\n"
            "  mote sub -L mqtts://broker.lan/sensors/t1 --cafile ca.crt -C 1 -W 10\n"
            "  mote sub -V 5 -t cmd --json\n",
            MAX_FILTERS, cli_opts_help);
}

struct sub_state {
    const struct cli_opts *o;
    int verbose, json, skip_retained, no_newline;
    unsigned long count, received;
    int subscribed, refused;
    uint8_t refused_code;
    int write_failed;
};

static void print_json(struct sub_state *s, const struct mote_message *m)
{
    FILE *f = stdout;

    fputs("{\"topic\":", f);
    cli_json_string(f, m->topic.ptr, m->topic.len);
    fprintf(f, ",\"qos\":%u,\"retain\":%s,", m->qos, m->retain ? "true" : "false");
    if (mote_utf8_check(m->payload.ptr, m->payload.len) == MOTE_OK) {
        fputs("\"payload\":", f);
        cli_json_string(f, m->payload.ptr, m->payload.len);
    } else {
        fputs("\"payload_base64\":\"", f);
        cli_base64(f, m->payload.ptr, m->payload.len);
        fputc('"', f);
    }
    if (m->props) {
        struct mote_prop_iter it;
        struct mote_prop p;
        int n = 0;

        mote_props_iter(m->props, &it);
        while (mote_props_next(&it, &p)) {
            if (p.id != MOTE_PROP_USER_PROPERTY)
                continue;
            fputs(n++ ? ",[" : ",\"user_properties\":[[", f);
            cli_json_string(f, p.v.pair.key.ptr, p.v.pair.key.len);
            fputc(',', f);
            cli_json_string(f, p.v.pair.value.ptr, p.v.pair.value.len);
            fputc(']', f);
        }
        if (n)
            fputc(']', f);
    }
    fputs("}\n", f);
    (void)s;
}

static void on_message(void *ctx, const struct mote_message *m)
{
    struct sub_state *s = ctx;

    if (s->skip_retained && m->retain)
        return;
    if (s->count && s->received >= s->count)
        return; /* already done: the rest of this read is not printed */
    if (s->json) {
        print_json(s, m);
    } else {
        if (s->verbose) {
            fwrite(m->topic.ptr, 1, m->topic.len, stdout);
            fputc(' ', stdout);
        }
        fwrite(m->payload.ptr, 1, m->payload.len, stdout);
        if (!s->no_newline)
            fputc('\n', stdout);
    }
    if (fflush(stdout) != 0)
        s->write_failed = 1;
    s->received++;
}

static void on_event(void *ctx, const struct mote_event *e)
{
    struct sub_state *s = ctx;

    cli_debug_event(s->o, e);
    if (e->type != MOTE_EV_SUBSCRIBED)
        return;
    s->subscribed = 1;
    for (size_t i = 0; i < e->count; i++)
        if (e->codes[i] >= 0x80 && !s->refused) {
            s->refused = (int)i + 1;
            s->refused_code = e->codes[i];
        }
}

static int sub_done(void *ctx)
{
    const struct sub_state *s = ctx;

    return stop || s->refused || s->write_failed || (s->count && s->received >= s->count);
}

static int number(const char *opt, const char *v, unsigned long min, unsigned long max,
                  unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || *out < min || *out > max)
        return cli_usage_error(PROG, "%s wants a number from %lu to %lu, not '%s'", opt, min, max,
                               v);
    return 0;
}

/* see cli.h */
int mote_cmd_sub(int argc, char **argv)
{
    struct cli_opts o;
    struct mote_subscription subs[MAX_FILTERS];
    size_t nsubs = 0, filter_bytes = 0;
    unsigned long qos = 0, wait_s = 0, rh = 0;
    int no_local = 0, rap = 0, rc;
    struct sub_state st = {.o = &o};

    cli_opts_init(&o, PROG);
    memset(subs, 0, sizeof subs);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;

        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        rc = cli_opts_parse(&o, argc, argv, &i, NULL);
        if (rc == 2)
            return 2;
        if (rc == 1)
            continue;
        if (a[0] != '-' || !a[1])
            return cli_usage_error(PROG, "unexpected argument '%s'", a);
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            st.verbose = 1;
        } else if (!strcmp(a, "--json")) {
            st.json = 1;
        } else if (!strcmp(a, "-R") || !strcmp(a, "--no-retained")) {
            st.skip_retained = 1;
        } else if (!strcmp(a, "-N")) {
            st.no_newline = 1;
        } else if (!strcmp(a, "--nl")) {
            no_local = 1;
        } else if (!strcmp(a, "--rap")) {
            rap = 1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--topic") || !strcmp(a, "-q") ||
                   !strcmp(a, "--qos") || !strcmp(a, "-C") || !strcmp(a, "-W") ||
                   !strcmp(a, "--rh")) {
            if (i + 1 >= argc)
                return cli_usage_error(PROG, "%s needs a value", a);
            v = argv[++i];
            if (!strcmp(a, "-t") || !strcmp(a, "--topic")) {
                if (nsubs == MAX_FILTERS)
                    return cli_usage_error(PROG, "at most %d filters", MAX_FILTERS);
                subs[nsubs].filter = (struct mote_slice){(const uint8_t *)v, strlen(v)};
                filter_bytes += strlen(v) + 3;
                nsubs++;
            } else if (!strcmp(a, "-q") || !strcmp(a, "--qos")) {
                if (number("-q", v, 0, 2, &qos))
                    return 2;
            } else if (!strcmp(a, "-C")) {
                if (number("-C", v, 1, 1000000000, &st.count))
                    return 2;
            } else if (!strcmp(a, "-W")) {
                if (number("-W", v, 1, 86400, &wait_s))
                    return 2;
            } else if (number("--rh", v, 0, 2, &rh)) {
                return 2;
            }
        } else {
            return cli_usage_error(PROG, "unknown option '%s'", a);
        }
    }
    if (nsubs == 0 && o.url_topic) {
        subs[0].filter = (struct mote_slice){(const uint8_t *)o.url_topic, strlen(o.url_topic)};
        filter_bytes += strlen(o.url_topic) + 3;
        nsubs = 1;
    }
    if (nsubs == 0)
        return cli_usage_error(PROG, "what to subscribe to? give -t FILTER");
    if ((no_local || rap || rh) && o.version != MOTE_V5)
        return cli_usage_error(PROG, "--nl, --rap and --rh are MQTT 5: add -V 5");
    if (cli_opts_finish(&o))
        return 2;
    for (size_t k = 0; k < nsubs; k++) {
        rc = mote_topic_check_filter(subs[k].filter.ptr, subs[k].filter.len);
        if (rc == MOTE_OK)
            rc = mote_utf8_check(subs[k].filter.ptr, subs[k].filter.len);
        if (rc != MOTE_OK)
            return cli_usage_error(PROG, "-t '%.*s': %s", (int)subs[k].filter.len,
                                   (const char *)subs[k].filter.ptr, mote_strerror(rc));
        subs[k].qos = (uint8_t)qos;
        subs[k].no_local = (uint8_t)no_local;
        subs[k].retain_as_published = (uint8_t)rap;
        subs[k].retain_handling = (uint8_t)rh;
    }

    struct mote_client_callbacks cb = {on_message, on_event, &st};
    struct cli_mem mem = {.rx = RX_BYTES, .tx = 4096 + filter_bytes, .store = 0, .slots = 64};
    struct cli_conn c;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cli_connect(&c, &o, &mem, &cb))
        return 1;
    double start = cli_now_ms();
    rc = mote_client_subscribe(&c.client, subs, nsubs, 0, NULL);
    if (rc != MOTE_OK) {
        fprintf(stderr, PROG ": %s\n", cli_explain(&c, mote_client_error(&c.client)));
        cli_close(&c);
        return 1;
    }
    int status = 0;
    for (;;) {
        if (stop)
            break;
        if (st.refused) {
            size_t k = (size_t)st.refused - 1;
            fprintf(stderr, PROG ": the broker refused the subscription to '%.*s': %s (0x%02x)%s\n",
                    (int)subs[k].filter.len, (const char *)subs[k].filter.ptr,
                    mote_reason_name(o.version, MOTE_SUBACK, st.refused_code), st.refused_code,
                    o.version == MOTE_V311 || st.refused_code == MOTE_RC_NOT_AUTHORIZED
                        ? ": check the broker's ACL for this filter"
                        : "");
            status = 1;
            break;
        }
        if (st.write_failed) {
            fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (st.count && st.received >= st.count)
            break;
        if (wait_s && cli_now_ms() - start >= (double)wait_s * 1000 - 1) {
            if (st.count)
                fprintf(stderr, PROG ": timed out after %lu s: %lu of %lu messages\n", wait_s,
                        st.received, st.count);
            else
                fprintf(stderr, PROG ": timed out after %lu s (%lu messages)\n", wait_s,
                        st.received);
            status = 1;
            break;
        }
        double slice = 1000;
        if (wait_s && (double)wait_s * 1000 - (cli_now_ms() - start) < slice)
            slice = (double)wait_s * 1000 - (cli_now_ms() - start);
        if (cli_run(&c, slice > 1 ? (uint32_t)slice : 1, sub_done, &st) < 0) {
            fprintf(stderr, PROG ": %s\n", c.error);
            status = 1;
            break;
        }
    }
    cli_flush(&c, 1000); /* the acknowledgements of the last messages */
    cli_close(&c);
    return status;
}
