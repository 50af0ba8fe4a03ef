#!/usr/bin/python3
"""Run the TLS tests (tests/broker/tls/test_*.py) against moted with the black-box runner of
tests/broker/run.py: each test in its own process with a fresh broker, two at a time.

    tests/broker/tls/run.py [FILE.py ...] [-k PATTERN ...] [-j N] [-v]

The certificates are made once per run (certs.py) and removed at the end. MOTE_TEST_BROKER is
the moted to test (default: a copy of build/broker/moted, so a rebuild during the run changes
nothing). The last line is "N passed, N failed"; the exit status is 1 if any test failed.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BLACKBOX = os.path.join(ROOT, "tests", "broker")


def problems():
    out = []
    for tool, pkg in (("openssl", "openssl"), ("mosquitto_pub", "mosquitto-clients"),
                      ("mosquitto_sub", "mosquitto-clients"), ("stdbuf", "coreutils")):
        if not shutil.which(tool):
            out.append("%s missing: apt-get install %s (scripts/deps.sh)" % (tool, pkg))
    if subprocess.run([sys.executable, "-c", "import paho.mqtt.client"], stderr=subprocess.DEVNULL).returncode:
        out.append("%s cannot import paho.mqtt: apt-get install python3-paho-mqtt" % sys.executable)
    return out


def main():
    # The test processes are started by tests/broker/run.py: they find these modules (and the
    # test files) through PYTHONPATH.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [HERE, BLACKBOX] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    sys.path[:0] = [HERE, BLACKBOX]
    spec = importlib.util.spec_from_file_location("blackbox_run", os.path.join(BLACKBOX, "run.py"))
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.HERE = HERE  # discover tests/broker/tls/test_*.py and run them from here

    bad = problems()
    work = tempfile.mkdtemp(prefix="mote-tls-run-")
    try:
        choice = os.environ.get("MOTE_TEST_BROKER", os.path.join(ROOT, "build", "broker", "moted"))
        if os.path.basename(choice) == "mosquitto":
            bad.append("MOTE_TEST_BROKER=%s: these tests read moted's log lines; set it to a moted" % choice)
        elif not os.access(choice, os.X_OK):
            bad.append("no moted at %s: build it with make, or set MOTE_TEST_BROKER=path" % choice)
        else:
            os.environ["MOTE_TEST_BROKER"] = shutil.copy(choice, os.path.join(work, "moted"))
        if not bad:
            import certs
            try:
                os.mkdir(os.path.join(work, "certs"))
                certs.make(os.path.join(work, "certs"))
                os.environ[certs.ENV] = os.path.join(work, "certs")
            except (OSError, RuntimeError) as e:
                bad.append("cannot make the test certificates: %s" % e)
        if bad:
            for p in bad:
                print("FAIL tls setup: " + p)
            print("0 passed, %d failed" % len(bad))
            return 1
        return runner.main()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
