#!/usr/bin/env bash
# bench/run.sh - compares brokers side by side in one run (`make bench`): Debian's mosquitto always,
# moted when MOTED=path is given. Each run gets a fresh broker pinned to one core and the load
# generator pinned to another (BENCH_ALL_CORES=1: nothing pinned, moted on every core); the broker
# order alternates; ratios are paired run by run and their median reported, because these machines
# drift 20-50% between identical runs. TLS workloads use one ECDSA P-256 certificate made for the
# run, the same for both brokers. See bench/README.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=${BENCH_QUICK:-0}
reps=${BENCH_REPS:-3}
out=${BENCH_OUT:-$root/build/bench}
mqtt=${BENCH_MQTT:-311}
mosquitto_bin=${MOSQUITTO:-/usr/sbin/mosquitto}
moted_bin=${MOTED:-}
broker_cpu=${BENCH_BROKER_CPU:-0}
loadgen_cpu=${BENCH_LOADGEN_CPU:-1}
if [[ $quick == 1 ]]; then
    duration=${BENCH_DURATION:-2}
    fleet_duration=${BENCH_FLEET_DURATION:-3}
else
    duration=${BENCH_DURATION:-10}
    fleet_duration=${BENCH_FLEET_DURATION:-20}
fi
idle=${BENCH_IDLE:-5000}
fleet=${BENCH_FLEET:-1000}
tls_idle=${BENCH_TLS_IDLE:-2000}
all_cores=${BENCH_ALL_CORES:-0}
ncpu=$(nproc)

die() { echo "bench: $*" >&2; exit 2; }

[[ $reps =~ ^[1-9][0-9]?$ ]] || die "BENCH_REPS must be 1 to 99, not '$reps'"
[[ $mqtt == 311 || $mqtt == 5 ]] || die "BENCH_MQTT must be 311 or 5, not '$mqtt'"
[[ $all_cores == 0 || $all_cores == 1 ]] || die "BENCH_ALL_CORES must be 0 or 1, not '$all_cores'"
[[ -x $mosquitto_bin ]] || die "no mosquitto at $mosquitto_bin (apt-get install mosquitto, or MOSQUITTO=path)"
if [[ -n $moted_bin && ! -x $moted_bin ]]; then
    die "MOTED=$moted_bin is not an executable file"
fi
for tool in taskset timeout ss; do
    command -v "$tool" >/dev/null || die "needs $tool (util-linux, coreutils, iproute2)"
done

# Workloads: name | title | loadgen arguments | metrics (key:+ higher is better, key:- lower is
# better; the first is the headline of the summary table). Unpaced runs keep up to --window
# messages per publisher in flight: deep enough that the broker has work whenever it gets its CPU
# on a busy machine, and 4 x 200 stays below mosquitto's default queue limit of 1000.
workloads=(
    "qos0-fanin|QoS 0 fan-in 4 to 1|--pubs 4 --subs 1 --qos 0 --topic-mode fanin --size 64 --rate 0 --window 200 --duration $duration|delivered_per_s:+ msgs_per_cpu_s:+ lost:-"
    "fanout-100|QoS 0 fan-out 1 to 100|--pubs 1 --subs 100 --qos 0 --topic-mode fanout --size 64 --rate 0 --window 100 --duration $duration|delivered_per_s:+ msgs_per_cpu_s:+ lost:-"
    "qos1-fanin|QoS 1 fan-in 4 to 1|--pubs 4 --subs 1 --qos 1 --topic-mode fanin --size 64 --rate 0 --window 200 --duration $duration|delivered_per_s:+ msgs_per_cpu_s:+ lost:- duplicates:-"
    # Durability: the same fan-in to a persistent session, persistence on in both brokers. moted
    # writes every message and its delivery before the PUBACK (fsync every commit, its default);
    # mosquitto keeps them in memory until its autosave (every 1800 s by default).
    "qos1-durable|QoS 1 fan-in 4 to 1, persistent subscriber, persistence on|--pubs 4 --subs 1 --qos 1 --topic-mode fanin --size 64 --rate 0 --window 200 --persistent-subs --duration $duration|delivered_per_s:+ msgs_per_cpu_s:+ lost:- duplicates:-"
    "latency-10k|latency at 10k msgs/s (QoS 0, 4 to 1)|--pubs 4 --subs 1 --qos 0 --topic-mode fanin --size 64 --rate 10000 --duration $duration|lat_p99_us:- lat_p50_us:- msgs_per_cpu_s:+ delivered_per_s:+"
    "idle-$idle|$idle idle connections|--idle $idle --duration 2|rss_per_idle_conn_bytes:- broker_cpu_per_connect_us:- idle_connects_per_s:+"
    "fleet-$fleet|fleet: $fleet clients x 1 msg/s (QoS 1, 32 B)|--pubs $fleet --subs 1 --qos 1 --topic-mode fleet --size 32 --duration $fleet_duration|msgs_per_cpu_s:+ lat_p99_us:- lost:-"
    # TLS (ECDSA P-256, made for this run): handshakes per second, each one TCP connect, TLS
    # handshake, CONNECT/CONNACK, DISCONNECT and close, 64 at a time per load generator process;
    # and the memory an idle TLS connection costs. --tls-pin: the load generator verifies the chain
    # in full once, then accepts that same leaf, so its CPU goes to the handshake itself.
    "tls-full-12|TLS 1.2 full handshakes (no resumption), then CONNECT/CONNACK and close|--tls --tls-version 1.2 --tls-pin --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:-"
    "tls-full-13|TLS 1.3 full handshakes (no resumption), then CONNECT/CONNACK and close|--tls --tls-version 1.3 --tls-pin --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:-"
    # The same with an RSA-2048 certificate (ECDHE-RSA): signing is the server's heavy part and
    # verifying is cheap for the client, so here the broker, not the load generator, is the limit.
    "tls-full-rsa-12|TLS 1.2 full handshakes, RSA-2048 certificate (ECDHE-RSA), then CONNECT/CONNACK and close|--tls --tls-version 1.2 --tls-pin --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:-"
    "tls-full-rsa4096-12|TLS 1.2 full handshakes, RSA-4096 certificate (ECDHE-RSA), then CONNECT/CONNACK and close|--tls --tls-version 1.2 --tls-pin --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:-"
    "tls-resume-12|TLS 1.2 resumed handshakes (session ticket), then CONNECT/CONNACK and close|--tls --tls-version 1.2 --tls-resume --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:- tls_resumed_pct:+"
    "tls-resume-id|TLS 1.2 resumed handshakes (session id, no tickets), then CONNECT/CONNACK and close|--tls --tls-version 1.2 --tls-resume --tls-no-ticket --connect-rate --duration $duration|connects_per_s:+ churn_broker_cpu_per_connect_us:- tls_resumed_pct:+"
    "tls-idle-$tls_idle|$tls_idle idle TLS connections (TLS 1.3, the brokers' choice)|--tls --idle $tls_idle --duration 2|rss_per_idle_conn_bytes:- broker_cpu_per_connect_us:- idle_connects_per_s:+"
    "tls12-idle-$tls_idle|$tls_idle idle TLS 1.2 connections|--tls --tls-version 1.2 --idle $tls_idle --duration 2|rss_per_idle_conn_bytes:- broker_cpu_per_connect_us:- idle_connects_per_s:+"
)

metric_label() {
    case $1 in
    delivered_per_s) echo "delivered msgs/s" ;;
    msgs_per_cpu_s) echo "msgs per broker CPU-second" ;;
    lost) echo "messages lost" ;;
    duplicates) echo "duplicates" ;;
    lat_p50_us) echo "p50 latency (us)" ;;
    lat_p99_us) echo "p99 latency (us)" ;;
    rss_per_idle_conn_bytes) echo "broker RSS per idle connection (bytes)" ;;
    broker_cpu_per_connect_us) echo "broker CPU per connect (us)" ;;
    idle_connects_per_s) echo "connects/s" ;;
    connects_per_s) echo "handshakes/s (connect to close)" ;;
    churn_broker_cpu_per_connect_us) echo "broker CPU per handshake (us)" ;;
    tls_resumed_pct) echo "handshakes resumed (%)" ;;
    *) echo "$1" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Build the load generator (-O2, warnings as errors), with TLS when OpenSSL is there.
# ---------------------------------------------------------------------------------------------
mkdir -p "$out"
runs=$out/runs
rm -rf "$runs"
mkdir -p "$runs"
chmod 755 "$out" "$runs" # mosquitto started as root reads its config as user mosquitto

if [[ -z ${LOADGEN:-} ]]; then
    LOADGEN=$out/loadgen
    # The codec's source list, as firmware builds read it; a glob if make cannot tell.
    # shellcheck disable=SC2016 # $(MOTE_CODEC_SOURCES) is for make to expand
    codec_sources=$(make --no-print-directory -s -f "$root/lib/mote_files.mk" \
        -f <(printf 'bench-print-sources:\n\t@echo $(MOTE_CODEC_SOURCES)\n') bench-print-sources \
        2>/dev/null) || codec_sources=$(echo "$root"/lib/codec/*.c)
    tls_cflags=() tls_libs=()
    if pkg-config --exists openssl 2>/dev/null; then
        read -ra tls_cflags <<<"-DBENCH_TLS $(pkg-config --cflags openssl)"
        read -ra tls_libs <<<"$(pkg-config --libs openssl)"
    fi
    # shellcheck disable=SC2086 # the source list is split on purpose
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$root/include" "${tls_cflags[@]}" \
        "$root"/bench/loadgen.c "$root"/bench/hist.c "$root"/bench/transport_tcp.c \
        "$root"/bench/transport_tls.c $codec_sources -o "$LOADGEN" "${tls_libs[@]}" ||
        die "building the load generator failed"
fi
[[ -x $LOADGEN ]] || die "no load generator at $LOADGEN"

# Both sides need a file descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < idle + 200)); then
    echo "bench: warning: open file limit $(ulimit -n) is below $idle idle connections" >&2
fi

# Pinned (default): the broker on one CPU (moted then starts one worker), the load generator on
# another. All cores: nothing pinned, moted starts one worker per core, and the handshake
# workloads run one load generator process per core so that the client side is not the limit.
pin_broker=(taskset -c "$broker_cpu")
pin_loadgen=(taskset -c "$loadgen_cpu")
churn_procs=1
if [[ $all_cores == 1 ]]; then
    pin_broker=() pin_loadgen=()
    churn_procs=$ncpu
elif ((ncpu < 2)); then
    echo "bench: warning: one CPU only: broker and load generator share it" >&2
    pin_broker=() pin_loadgen=()
fi

# One ECDSA P-256 CA and server certificate (SAN IP:127.0.0.1) per bench run, for both brokers.
certs=$out/certs
make_certs() {
    local ext
    rm -rf "$certs"
    mkdir -p "$certs"
    ext=$certs/server.ext
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
    {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$certs/ca.key" &&
            openssl req -new -x509 -key "$certs/ca.key" -out "$certs/ca.pem" -days 7 \
                -subj "/O=mote bench/CN=mote bench CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$certs/server.key" &&
            openssl req -new -key "$certs/server.key" -out "$certs/server.csr" \
                -subj "/O=mote bench/CN=127.0.0.1" &&
            openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
                -CAcreateserial -days 7 -sha256 -extfile "$ext" -out "$certs/server.pem" &&
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$certs/server-rsa.key" &&
            openssl req -new -key "$certs/server-rsa.key" -out "$certs/server-rsa.csr" \
                -subj "/O=mote bench/CN=127.0.0.1" &&
            openssl x509 -req -in "$certs/server-rsa.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
                -CAcreateserial -days 7 -sha256 -extfile "$ext" -out "$certs/server-rsa.pem" &&
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$certs/server-rsa4096.key" &&
            openssl req -new -key "$certs/server-rsa4096.key" -out "$certs/server-rsa4096.csr" \
                -subj "/O=mote bench/CN=127.0.0.1" &&
            openssl x509 -req -in "$certs/server-rsa4096.csr" -CA "$certs/ca.pem" \
                -CAkey "$certs/ca.key" -CAcreateserial -days 7 -sha256 -extfile "$ext" \
                -out "$certs/server-rsa4096.pem"
    } >"$certs/openssl.log" 2>&1 || die "making the bench certificates failed: see $certs/openssl.log"
    # A throw-away key for 127.0.0.1: readable by all, because mosquitto started as root reads
    # its files as user mosquitto.
    chmod 755 "$certs"
    chmod 644 "$certs"/*
}

brokers=(mosquitto)
[[ -n $moted_bin ]] && brokers+=(moted)

broker_pid=
stop_broker() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_broker "$broker_pid"
    broker_pid=
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Starts broker $1 with config $2, log $3; sets broker_pid. Returns 1 if it does not listen.
start_broker() {
    local name=$1 conf=$2 log=$3 port=$4 bin
    case $name in
    mosquitto) bin=$mosquitto_bin ;;
    moted) bin=$moted_bin ;;
    esac
    "${pin_broker[@]}" "$bin" -c "$conf" >"$log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 100); do
        kill -0 "$broker_pid" 2>/dev/null || break
        if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.05
    done
    cleanup
    return 1
}

# Runs workload $2 (arguments $3) against broker $1, repetition $4; writes $runs/W.B.R.json.
run_one() {
    local name=$1 wl=$2 args=$3 rep=$4 base port conf budget started=0 tls=0
    base=$runs/$wl.$name.$rep
    if [[ " $args " == *" --tls "* ]]; then
        tls=1
        args="-h 127.0.0.1 --cafile $certs/ca.pem $args"
    fi
    if [[ " $args " == *" --connect-rate "* ]] && ((churn_procs > 1)); then
        args="$args --procs $churn_procs"
    fi
    for _ in 1 2 3; do
        port=$("$LOADGEN" --free-port)
        {
            printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port"
            # Mosquitto's default: persistence false. The durable workloads turn it on, with a
            # fresh store per run (mosquitto started as root runs as root to write it).
            if [[ $wl == *durable* ]]; then
                rm -rf "$base.store" && mkdir -p "$base.store"
                printf 'persistence true\npersistence_location %s/\n' "$base.store"
                [[ $name == mosquitto && $(id -u) == 0 ]] && printf 'user root\n'
            else
                printf 'persistence false\n'
            fi
            if ((tls)) && [[ $wl == *rsa4096* ]]; then
                printf 'certfile %s\nkeyfile %s\n' "$certs/server-rsa4096.pem" "$certs/server-rsa4096.key"
            elif ((tls)) && [[ $wl == *rsa* ]]; then
                printf 'certfile %s\nkeyfile %s\n' "$certs/server-rsa.pem" "$certs/server-rsa.key"
            elif ((tls)); then
                printf 'certfile %s\nkeyfile %s\n' "$certs/server.pem" "$certs/server.key"
            fi
            [[ -n ${BENCH_CONF_EXTRA:-} ]] && printf '%b\n' "$BENCH_CONF_EXTRA"
            [[ $name == mosquitto && -n ${MOSQUITTO_CONF_EXTRA:-} ]] && printf '%b\n' "$MOSQUITTO_CONF_EXTRA"
            [[ $name == moted && -n ${MOTED_CONF_EXTRA:-} ]] && printf '%b\n' "$MOTED_CONF_EXTRA"
        } >"$base.conf"
        chmod 644 "$base.conf"
        if start_broker "$name" "$base.conf" "$base.log" "$port"; then
            started=1
            break
        fi
    done
    if ((started == 0)); then
        echo "bench: $name did not start listening: see $base.log" >&2
        : >"$base.json"
        return 1
    fi
    budget=$(( ${duration%.*} + ${fleet_duration%.*} + 120 + idle / 100 ))
    # shellcheck disable=SC2086 # $args holds several options
    if ! timeout -k 5 "$budget" "${pin_loadgen[@]}" "$LOADGEN" -p "$port" --broker-pid "$broker_pid" \
        -V "$mqtt" --json $args >"$base.json" 2>"$base.err"; then
        echo "bench: $wl against $name (run $rep) failed: $(tail -n 3 "$base.err" | tr '\n' ' ')" >&2
        failures=$((failures + 1))
    fi
    cleanup
}

jget() { # file key -> number, or nothing
    sed -n "s/.*\"$2\": *\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p" "$1" 2>/dev/null | head -n 1
}
jstr() { # file key -> string, or nothing
    sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" 2>/dev/null | head -n 1
}
median() {
    printf '%s\n' "$@" | { grep -v '^$' || true; } | sort -g |
        awk '{ a[NR] = $1 } END { if (!NR) exit; if (NR % 2) print a[(NR + 1) / 2];
             else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { # moted mosquitto
    [[ -n $1 && -n $2 ]] || return 0
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 != 0) printf "%.3f", a / b }'
}
fmt() {
    [[ -n $1 ]] || { echo "n/a"; return; }
    awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v;
        if (a >= 1000 || v == int(v)) printf "%.0f", v; else if (a >= 10) printf "%.1f", v; else printf "%.2f", v }'
}

# Percent of all CPUs busy over one second (other work on the machine, before we start).
cpu_busy() {
    local a b
    a=$(head -n 1 /proc/stat)
    sleep 1
    b=$(head -n 1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { n = split(a, x); split(b, y); t = 0;
        for (i = 2; i <= n; i++) t += y[i] - x[i];
        idle = (y[5] - x[5]) + (y[6] - x[6]);
        if (t > 0) printf "%.0f", 100 * (t - idle) / t; else print 0 }'
}

# Whether workload $1 is in BENCH_WORKLOADS (names or prefixes, e.g. "qos1 idle"); all if unset.
wanted() {
    local w
    [[ -n ${BENCH_WORKLOADS:-} ]] || return 0
    for w in ${BENCH_WORKLOADS//,/ }; do
        [[ $1 == "$w"* ]] && return 0
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------
failures=0
summary_rows=()
detail_rows=()
notes=()

mosq_version=$({ "$mosquitto_bin" -h 2>/dev/null || true; } | sed -n 's/^mosquitto version \(.*\)/\1/p' | head -n 1)
echo "# mote bench: $(date -u +%Y-%m-%dT%H:%MZ)"
echo
busy=$(cpu_busy)
echo "- machine: $(nproc) CPUs, $(uname -sr), load average at start: $(cut -d' ' -f1-3 /proc/loadavg), CPU busy before the bench: ${busy}%"
if ((busy > 15)); then
    notes+=("the machine was ${busy}% busy with other work before the bench: the brokers got only part of their CPU, so delivered msgs/s understates both; msgs per broker CPU-second and the paired ratios hold up better")
fi
if [[ $all_cores == 1 ]]; then
    mode_tag=" (all cores)"
    echo "- mode: **all cores** (BENCH_ALL_CORES=1): nothing pinned; moted starts one worker per core ($ncpu), mosquitto is single-threaded; the handshake workloads run $churn_procs load generator processes; brokers and load generator share the $ncpu CPUs"
else
    mode_tag=""
    echo "- mode: **pinned** (the default): broker on CPU $broker_cpu (moted starts 1 worker), load generator on CPU $loadgen_cpu (BENCH_ALL_CORES=1 for the other mode)"
fi
echo "- brokers: mosquitto ${mosq_version:-?} ($mosquitto_bin)"
need_certs=0
for spec in "${workloads[@]}"; do
    IFS='|' read -r wl _ args _ <<<"$spec"
    wanted "$wl" && [[ " $args " == *" --tls "* ]] && need_certs=1
done
if ((need_certs)); then
    command -v openssl >/dev/null || die "the TLS workloads need the openssl command (or BENCH_WORKLOADS without tls)"
    make_certs
    echo "- TLS: an ECDSA P-256 CA and server certificate made for this run ($certs), the same certfile/keyfile for both brokers (their default TLS settings otherwise); the load generator (OpenSSL $(openssl version | cut -d' ' -f2)) verifies the chain against the CA"
fi
if [[ -n $moted_bin ]]; then
    echo "- moted: $moted_bin"
else
    echo "- moted: not given (MOTED=path/to/moted): mosquitto runs alone, no ratios"
fi
echo "- MQTT $([[ $mqtt == 5 ]] && echo 5.0 || echo 3.1.1), $reps runs per workload and broker, ${duration} s per run$([[ $quick == 1 ]] && echo ' (quick mode)')"
echo

for spec in "${workloads[@]}"; do
    IFS='|' read -r wl title args metrics <<<"$spec"
    wanted "$wl" || continue
    echo "## $wl$mode_tag: $title"
    for rep in $(seq "$reps"); do
        order=("${brokers[@]}")
        if ((rep % 2 == 0)) && ((${#brokers[@]} == 2)); then
            order=("${brokers[1]}" "${brokers[0]}")
        fi
        for b in "${order[@]}"; do
            run_one "$b" "$wl" "$args" "$rep" || failures=$((failures + 1))
        done
    done
    if [[ " $args " == *" --tls "* ]]; then
        for b in "${brokers[@]}"; do
            f=$runs/$wl.$b.1.json
            line="- TLS with $b: $(jstr "$f" tls_version) $(jstr "$f" tls_cipher)"
            [[ $(jstr "$f" tls_resume) != none ]] && line+=", resumption offered: $(jstr "$f" tls_resume)"
            if [[ " $args " == *" --connect-rate "* ]]; then
                line+="; broker CPU $(fmt "$(jget "$f" churn_broker_cpu_pct)")% busy, load generator $(fmt "$(jget "$f" churn_loadgen_cpu_pct)")% per process ($(jget "$f" procs) process(es)) in run 1"
            fi
            echo "$line"
        done
    fi

    first=1
    for m in $metrics; do
        key=${m%:*} dir=${m#*:}
        mv=() tv=() rv=() lines=()
        for rep in $(seq "$reps"); do
            a=$(jget "$runs/$wl.mosquitto.$rep.json" "$key")
            t='' r=''
            if [[ -n $moted_bin ]]; then
                t=$(jget "$runs/$wl.moted.$rep.json" "$key")
                r=$(ratio "$t" "$a")
            fi
            mv+=("$a") tv+=("$t") rv+=("$r")
            if [[ -n $moted_bin ]]; then
                lines+=("run $rep: mosquitto $(fmt "$a"), moted $(fmt "$t"), ratio ${r:-n/a}")
            else
                lines+=("run $rep: mosquitto $(fmt "$a")")
            fi
        done
        m_med=$(median "${mv[@]}")
        t_med='' r_med=''
        if [[ -n $moted_bin ]]; then
            t_med=$(median "${tv[@]}")
            r_med=$(median "${rv[@]}")
        fi
        label=$(metric_label "$key")
        better=$([[ $dir == + ]] && echo higher || echo lower)
        echo "- $label ($better is better)"
        for l in "${lines[@]}"; do echo "  - $l"; done
        if [[ -n $moted_bin ]]; then
            echo "  - median: mosquitto $(fmt "$m_med"), moted $(fmt "$t_med"), median of paired ratios ${r_med:-n/a}"
        else
            echo "  - median: mosquitto $(fmt "$m_med")"
        fi
        moted_cell=$([[ -n $moted_bin ]] && fmt "$t_med" || echo "—")
        ratio_cell=$([[ -n $moted_bin && -n $r_med ]] && printf '%.2f' "$r_med" || echo "—")
        row="| $wl$mode_tag | $label | $(fmt "$m_med") | $moted_cell | $ratio_cell | $better |"
        detail_rows+=("$row")
        if ((first)); then
            summary_rows+=("$row")
            first=0
        fi
        if [[ $key == delivered_per_s || $key == connects_per_s ]]; then
            lkey=$([[ $key == connects_per_s ]] && echo churn_loadgen_cpu_pct || echo loadgen_cpu_pct)
            for b in "${brokers[@]}"; do
                for rep in $(seq "$reps"); do
                    l=$(jget "$runs/$wl.$b.$rep.json" "$lkey")
                    if [[ -n $l ]] && awk -v v="$l" 'BEGIN { exit !(v > 85) }'; then
                        notes+=("$wl: the load generator used ${l}% of its CPU against $b in run $rep: it may be the limit there")
                    fi
                done
            done
        fi
        if [[ $key == tls_resumed_pct ]]; then
            for b in "${brokers[@]}"; do
                for rep in $(seq "$reps"); do
                    l=$(jget "$runs/$wl.$b.$rep.json" tls_resumed_pct)
                    if [[ -n $l ]] && awk -v v="$l" 'BEGIN { exit !(v < 99) }'; then
                        notes+=("$wl: $b resumed only ${l}% of the handshakes in run $rep: the rest were full handshakes")
                    fi
                done
            done
        fi
        if [[ $key == lost && $args == *"--qos 1"* ]]; then
            for b in "${brokers[@]}"; do
                for rep in $(seq "$reps"); do
                    l=$(jget "$runs/$wl.$b.$rep.json" lost)
                    if [[ -n $l && $l != 0 ]]; then
                        notes+=("$wl: $b lost $l QoS 1 messages in run $rep (see bench/README.md, 'QoS 1 loss')")
                        [[ $b == moted ]] && failures=$((failures + 1))
                    fi
                done
            done
        fi
    done
    echo
done

{
    echo "## Summary (median of $reps runs; ratio = moted / mosquitto, median of paired runs; mode: $([[ $all_cores == 1 ]] && echo "all cores" || echo pinned))"
    echo
    echo "| workload | metric | mosquitto | moted | ratio | better |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    printf '%s\n' "${summary_rows[@]}"
    echo
    echo "## All metrics"
    echo
    echo "| workload | metric | mosquitto | moted | ratio | better |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    printf '%s\n' "${detail_rows[@]}"
    echo
    [[ -z $moted_bin ]] && echo "moted was not given (MOTED=path/to/moted): mosquitto ran alone."
    for n in "${notes[@]}"; do echo "- note: $n"; done
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; ratios are paired to cancel it)"
    echo "- raw results: $runs/*.json"
} | tee "$out/results.md"

if ((failures)); then
    echo "bench: $failures problem(s): see above" >&2
    exit 1
fi
