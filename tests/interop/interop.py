"""Shared by the Python interop groups (clients_test.py, paho_test.py): start a fresh broker per
test on 127.0.0.1 and a free port, run the tests a few at a time, print one line per test.

BROKER=mosquitto runs Debian's /usr/sbin/mosquitto instead of moted (MOTED=path, default
build/broker/moted), as a check of the tests themselves. Both get `-c FILE` with the same keys.
"""

import argparse
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

BASE_CONFIG = "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
START_TIMEOUT = 5.0
TEST_TIMEOUT = 30.0  # one test, broker start and stop included


def broker_command():
    """(name, path) of the broker under test."""
    if os.environ.get("BROKER", "moted") == "mosquitto":
        return "mosquitto", os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
    return "moted", os.environ.get("MOTED", os.path.join(ROOT, "build", "broker", "moted"))


def is_mosquitto():
    return broker_command()[0] == "mosquitto"


def die_with_parent():
    """preexec_fn for children: SIGKILL them when this runner dies, whatever the cause."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, extra_config=""):
        self.name, self.path = broker_command()
        self.extra = extra_config
        self.dir = tempfile.mkdtemp(prefix="mote-interop-")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.proc = None
        self.port = None

    def start(self):
        # The port found free may be taken before the broker binds it: try again then.
        for _ in range(3):
            self.port = free_port()
            conf = os.path.join(self.dir, "broker.conf")
            with open(conf, "w") as f:
                f.write(BASE_CONFIG.format(port=self.port) + self.extra)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([self.path, "-c", conf], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             preexec_fn=die_with_parent)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return
                except OSError:
                    time.sleep(0.02)
            self.stop()
        raise AssertionError("%s did not start on 127.0.0.1:%s (exit status %s): %s" % (
            self.path, self.port, self.proc.poll() if self.proc else None, self.log_tail(5)))

    def stop(self):
        """SIGTERM, then SIGKILL after 3 s. Returns a complaint, or None if it exited with 0."""
        if not self.proc or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return "broker still running 3 s after SIGTERM (killed)"
        # A sanitizer report (leaks at exit, say) shows as a nonzero status.
        return "broker exited with status %d on SIGTERM" % status if status else None

    def crashed(self):
        """The exit status if the broker died by itself (a signal shows as negative), else None."""
        return self.proc.poll() if self.proc else None

    def log_tail(self, lines=12):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def remove(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


class Context:
    """What a test gets: the running broker, its port, and cleanups run when the test ends."""

    def __init__(self, broker):
        self.broker = broker
        self.port = broker.port
        self.cleanups = []

    def on_exit(self, fn):
        self.cleanups.append(fn)

    def close(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                pass


class LineReader:
    """Reads a child's output lines in a thread so every wait can be bounded."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.lines = []
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            self.q.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.q.put(None)

    def next(self, deadline):
        """The next line, None at end of output, or raise TimeoutError at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            line = self.q.get(timeout=left)
        except queue.Empty:
            raise TimeoutError
        if line is not None:
            self.lines.append(line)
        return line


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


# -- tests and the runner -----------------------------------------------------------------

_tests = []


def case(name, config="", mosquitto_differs=None):
    """Register a test `fn(ctx)` run against a fresh broker started with `config` appended.

    mosquitto_differs="why": the test checks what the spec asks where mosquitto 2.0.11 does
    otherwise; against mosquitto a failure is reported as SKIP with that reason."""
    def add(fn):
        _tests.append((name, config, fn, mosquitto_differs))
        return fn
    return add


def _run_one(name, config, fn, results):
    b = Broker(config)
    ctx = None
    try:
        b.start()
        ctx = Context(b)
        fn(ctx)
        results[name] = (True, "")
    except Exception as e:
        if isinstance(e, AssertionError) and str(e):
            msg = str(e)
        else:
            msg = "".join(traceback.format_exception_only(type(e), e)).strip()
            tb = traceback.extract_tb(e.__traceback__)
            if tb:
                msg += " (at %s:%d)" % (os.path.basename(tb[-1].filename), tb[-1].lineno)
        results[name] = (False, msg)
    finally:
        if ctx:
            ctx.close()
        status = b.crashed()
        if status is not None and status != 0 and name in results and results[name][0]:
            results[name] = (False, "broker exited with status %d during the test" % status)
        complaint = b.stop()
        if complaint and name in results and results[name][0]:
            results[name] = (False, complaint)
        if name in results and not results[name][0]:
            results[name] = (False, results[name][1] + "\n--- %s log (port %s):\n%s"
                             % (b.name, b.port, b.log_tail()))
        b.remove()


def main(group):
    ap = argparse.ArgumentParser(description="%s interop tests" % group)
    ap.add_argument("-k", action="append", default=[], help="run only tests whose name has this")
    ap.add_argument("-j", type=int, default=int(os.environ.get("INTEROP_JOBS", "4")))
    args = ap.parse_args()
    tests = [t for t in _tests if not args.k or any(k in t[0] for k in args.k)]
    results = {}
    passed = failed = skipped = 0
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        futures = [(name, differs, pool.submit(_run_one, name, config, fn, results))
                   for name, config, fn, differs in tests]
        for name, differs, fut in futures:
            try:
                fut.result(timeout=TEST_TIMEOUT)
            except Exception:
                results.setdefault(name, (False, "did not finish within %.0fs" % TEST_TIMEOUT))
            ok, msg = results.get(name, (False, "no result"))
            full = "%s.%s" % (group, name)
            if ok:
                passed += 1
                print("PASS %s" % full, flush=True)
            elif differs and is_mosquitto():
                skipped += 1
                print("SKIP %s: known mosquitto 2.0.11 difference: %s" % (full, differs), flush=True)
            else:
                failed += 1
                lines = msg.splitlines() or ["?"]
                print("FAIL %s: %s" % (full, lines[0]), flush=True)
                for line in lines[1:]:
                    print("    " + line, flush=True)
        print("%s: %d passed, %d failed%s" % (group, passed, failed,
                                                ", %d skipped" % skipped if skipped else ""), flush=True)
        sys.stdout.flush()
        # A test stuck past its time holds a pool thread: do not wait for it.
        os._exit(1 if failed else 0)
