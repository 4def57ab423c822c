"""Redis 7's own test suite (external mode) against the reference SSDB 1.9.8 and ssdbpy, side by side.

The tests are a local copy of redis/redis's ``tests/`` folder and ``runtest`` (no network at run
time). The copy used for the recorded results is tag **7.2.6** (commit
ae6a2aa95cd094b032e7a69b8b59f64dd1ed085f); to make it::

    git clone --bare https://github.com/redis/redis.git redis.git
    mkdir redis-7.2.6 && git -C redis.git archive 7.2.6 runtest tests | tar -x -C redis-7.2.6

and pass ``--tests redis-7.2.6`` (or set ``REDIS_TESTS``). Needs ``tclsh8.6`` (Debian: ``tcl``).

For every unit and every server this starts a fresh server on a free 127.0.0.1 port in its own
directory, runs::

    tclsh8.6 tests/test_helper.tcl --host 127.0.0.1 --port N --single UNIT --singledb --durable
        --ignore-encoding --ignore-digest --timeout T --tags "-needs:repl -needs:debug ... -resp3"

in a private copy of the tests, stops the server, and parses the ``[ok]``/``[err]``/``[exception]``
lines. These are the runner's own options for servers that are not Redis: ``--singledb`` (no
``SELECT 9``), ``--durable`` (an error reply to a command the server does not have fails that test
instead of ending the unit), the ``-needs:*`` tags (DEBUG, CONFIG SET maxmemory, SYNC, SAVE, RESET,
…; ``large-memory``) and ``-resp3``, which skips the ``foreach resp {3 2}`` iterations that say
``HELLO 3`` outside a test: SSDB has no HELLO, and the error would end the rest of the
``start_server`` block (a ``HELLO 3`` inside a test still runs, and fails that test on SSDB).
``--seed N`` seeds Tcl's ``rand()`` before each unit (patch below), so both servers get the same
random data; without it each run draws its own. ``--resp3 ssdbpy`` lifts ``-resp3`` for ssdbpy only (it speaks RESP3 after ``HELLO 3``): SSDB keeps
skipping those iterations, so the two servers are compared on the tests both run, by name.

The copy is patched as follows (``HARNESS_PATCHES``, the same for both servers; each patch must
match exactly once or the script stops), because otherwise SSDB 1.9.8 ends every unit, or the whole
rest of a ``start_server`` block, with ``-ERR Unknown Command`` in code outside any test:

* ``support/server.tcl``: the external-mode setup of each ``start_server`` block sends ``FLUSHALL``
  and ``FUNCTION FLUSH``; it sends ``FLUSHDB`` (an SSDB command that empties the database) and
  ``FUNCTION FLUSH`` inside ``catch``;
* ``test_helper.tcl``, ``proc r``: a ``CONFIG …`` request answered with an error returns ``{}``
  (the units read and set encoding limits with CONFIG GET/SET around their tests);
* ``support/util.tcl``, ``proc memory_usage``: 1 when ``MEMORY USAGE`` fails (it already returns 1
  for allocators other than jemalloc);
* ``support/redis.tcl``: ``HELLO 2`` (the units' "back to RESP2" after a RESP3 section) is sent as
  ``PING`` by a client that has not said ``HELLO 3`` (a no-op on Redis; SSDB does not know HELLO,
  and its error would end the ``start_server`` block); after ``HELLO 3`` it is sent as is;
* ``support/test.tcl``, ``proc test``: a test that fails puts the client's ``readraw`` mode back as
  it was before the test (a test that fails between its ``r readraw 1`` and ``r readraw 0``, such
  as "ZPOPMIN/ZPOPMAX readraw in RESP2" on a server without ZPOPMIN, otherwise leaves every later
  test of the unit reading raw lines), and one that said ``HELLO 3`` and failed before its
  ``HELLO 2`` sends ``HELLO 2`` (errors ignored): "ZINTER RESP3" fails on ZINTER, which neither
  server has, and otherwise leaves ssdbpy's connection in RESP3 for the rest of the unit, where
  "ZSET skiplist order consistency when elements are moved" reads its ``[member, score]`` pairs
  as a flat list and fails.

Prints passed/failed/ignored per unit for each server and the names of the tests that pass on SSDB
but fail on ssdbpy. ``--json FILE`` saves every test's outcome; ``--logs DIR`` keeps the runner's
output. Usage::

    python benchmarks/redis_suite.py --tests /path/to/redis-7.2.6 [--units unit/type/incr ...]
        [--servers ssdb,ssdbpy] [--seed N] [--resp3 ssdbpy] [--unit-timeout 900] [--json out.json] [--logs DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import reference  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402

UNITS = ["unit/type/string", "unit/type/incr", "unit/type/hash", "unit/type/zset", "unit/type/list",
         "unit/keyspace", "unit/expire", "unit/bitops"]

#: tags denied on both servers: capabilities neither SSDB nor ssdbpy has (tests/README.md of redis)
DENY_TAGS = ["needs:repl", "needs:debug", "needs:pfdebug", "needs:config-maxmemory", "needs:config-resetstat",
             "needs:reset", "needs:save", "large-memory"]
#: denied too, except on the servers named by ``--resp3``: the ``foreach resp {3 2}`` iterations
RESP3_TAG = "resp3"

#: (file, exact text, replacement): applied to the private copy of the tests, for both servers
HARNESS_PATCHES = [
    ("tests/support/server.tcl",
     "    r flushall\n    r function flush\n",
     "    r flushdb\n    catch {r function flush}\n"),
    ("tests/test_helper.tcl",
     "        set args [lrange $args 1 end]\n    }\n    [srv $level \"client\"] {*}$args\n}\n",
     "        set args [lrange $args 1 end]\n    }\n"
     "    if {[string tolower [lindex $args 0]] eq \"config\"} {\n"
     "        if {[catch {[srv $level \"client\"] {*}$args} reply]} { return {} }\n"
     "        return $reply\n"
     "    }\n"
     "    [srv $level \"client\"] {*}$args\n}\n"),
    ("tests/support/util.tcl",
     "proc memory_usage {key} {\n    set usage [r memory usage $key]\n",
     "proc memory_usage {key} {\n    if {[catch {r memory usage $key} usage]} { return 1 }\n"),
    ("tests/support/redis.tcl",
     "    # Transform HELLO 2 to HELLO 3 if force_resp3\n",
     "    if {[string compare -nocase $method \"HELLO\"] == 0 && $argv eq {2} && !$::redis::testing_resp3($id)} {\n"
     "        set method PING\n        set argv {}\n    }\n"
     "    # Transform HELLO 2 to HELLO 3 if force_resp3\n"),
    ("tests/support/test.tcl",
     "    send_data_packet $::test_server_fd testing $name\n",
     "    send_data_packet $::test_server_fd testing $name\n"
     "    set raw_id {}\n"
     "    catch {set raw_id [string range [srv 0 client] [string length ::redis::redisHandle] end]}\n"
     "    set raw_before [expr {[info exists ::redis::readraw($raw_id)] ? $::redis::readraw($raw_id) : 0}]\n"
     "    set resp3_before [expr {[info exists ::redis::testing_resp3($raw_id)] ? $::redis::testing_resp3($raw_id) : 0}]\n"),
    ("tests/support/test.tcl",
     "    if {[catch {set retval [uplevel 1 $code]} error]} {\n",
     "    if {[catch {set retval [uplevel 1 $code]} error]} {\n"
     "        if {[info exists ::redis::readraw($raw_id)]} { set ::redis::readraw($raw_id) $raw_before }\n"
     "        if {[info exists ::redis::testing_resp3($raw_id)] && $::redis::testing_resp3($raw_id) && !$resp3_before} {\n"
     "            catch {[srv 0 client] hello 2}\n"
     "        }\n"),
]

LINE = re.compile(r"^\[(ok|err|exception|ignore|skip|timeout)\]: (.*?)(?: \(\d+ ms\))?$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def seed_patch(seed: int) -> tuple[str, str, str]:
    """The patch that seeds Tcl's ``rand()`` with ``seed`` before each unit runs (``--seed``)."""
    return ("tests/test_helper.tcl",
            "    set ::curfile $path\n    source $path\n",
            f"    set ::curfile $path\n    expr {{srand({int(seed)})}}\n    source $path\n")


def prepare(src: Path, dest: Path, seed: int | None = None) -> Path:
    """Copy ``runtest`` and ``tests/`` of ``src`` into ``dest`` and apply :data:`HARNESS_PATCHES`.

    With ``seed``, also :func:`seed_patch`: the randomized tests then send the same requests
    to every server (as long as the replies agree).
    """
    if not (src / "tests" / "test_helper.tcl").is_file():
        raise SystemExit(f"{src} has no tests/test_helper.tcl (see the docstring for how to make the copy)")
    shutil.copytree(src / "tests", dest / "tests", ignore=shutil.ignore_patterns("tmp"))
    (dest / "tests" / "tmp").mkdir()
    for rel, old, new in HARNESS_PATCHES + ([] if seed is None else [seed_patch(seed)]):
        path = dest / rel
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"harness patch does not apply to {rel}: expected text found {text.count(old)} times")
        path.write_text(text.replace(old, new))
    return dest


def parse(output: str) -> list[tuple[str, str]]:
    """``[(outcome, name)]`` in order; a name seen again gets `` #2``, `` #3``… (loops reuse names)."""
    seen: Counter[str] = Counter()
    results = []
    for raw in output.splitlines():
        m = LINE.match(ANSI.sub("", raw).strip())
        if not m:
            continue
        outcome, name = m.groups()
        if outcome in ("err", "exception"):
            name = re.sub(r" in tests/\S+\.tcl$", "", name)
        seen[name] += 1
        results.append((outcome, name if seen[name] == 1 else f"{name} #{seen[name]}"))
    return results


def run_unit(tests: Path, unit: str, kind: str, root: Path, timeout: float,
             resp3: bool = False) -> tuple[list[tuple[str, str]], str]:
    cls = reference.ReferenceServer if kind == "ssdb" else ServerProcess
    server = cls(root, name=f"{kind}-{unit.replace('/', '_')}")
    server.start()
    cmd = ["tclsh8.6", "tests/test_helper.tcl", "--host", "127.0.0.1", "--port", str(server.port),
           "--single", unit, "--singledb", "--durable", "--ignore-encoding", "--ignore-digest",
           "--timeout", str(int(timeout)),
           "--tags", " ".join("-" + t for t in DENY_TAGS + ([] if resp3 else [RESP3_TAG]))]
    # its own process group: the runner starts a second tclsh (the test client), ended with it
    proc = subprocess.Popen(cmd, cwd=tests, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        output = out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        output = out.decode(errors="replace") + f"\n[timeout]: whole unit after {timeout}s\n"
    finally:
        alive = server.running
        server.kill() if kind == "ssdb" else server.stop()
    if not alive:
        output += "\n[exception]: server process died during the unit\n"
    return parse(output), output


def counts(results: list[tuple[str, str]]) -> dict[str, int]:
    c = Counter(o for o, _ in results)
    return {"ok": c["ok"], "err": c["err"] + c["exception"] + c["timeout"], "ignore": c["ignore"] + c["skip"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tests", default=os.environ.get("REDIS_TESTS"), help="redis source copy with tests/ (or $REDIS_TESTS)")
    ap.add_argument("--units", nargs="+", default=UNITS)
    ap.add_argument("--servers", default="ssdb,ssdbpy", help="comma list of ssdb, ssdbpy")
    ap.add_argument("--unit-timeout", type=float, default=900.0)
    ap.add_argument("--json", help="write every test's outcome to this file")
    ap.add_argument("--logs", help="keep the runner output of each run in this directory")
    ap.add_argument("--seed", type=int, help="seed Tcl's rand() before each unit: the same random data on "
                    "every server (default: the runner's own, from the clock)")
    ap.add_argument("--resp3", default="", help="comma list of servers that run the resp3-tagged iterations "
                    "(default: none; SSDB, which has no HELLO, would end the start_server block at HELLO 3)")
    args = ap.parse_args(argv)
    if not args.tests:
        ap.error("--tests (or REDIS_TESTS) is required")
    if not shutil.which("tclsh8.6"):
        ap.error("tclsh8.6 not found (apt-get install tcl)")
    kinds = [k for k in args.servers.split(",") if k]
    if "ssdb" in kinds and not reference.available():
        print(f"skipping ssdb: {reference.SKIP_REASON}", file=sys.stderr)
        kinds.remove("ssdb")
    results: dict[str, dict[str, list[tuple[str, str]]]] = {}
    with tempfile.TemporaryDirectory(prefix="redis-suite-") as tmp:
        tests = prepare(Path(args.tests).resolve(), Path(tmp) / "redis", args.seed)
        for unit in args.units:
            results[unit] = {}
            for kind in kinds:
                t0 = time.monotonic()
                res, output = run_unit(tests, unit, kind, Path(tmp) / "servers", args.unit_timeout,
                                       kind in args.resp3.split(","))
                results[unit][kind] = res
                c = counts(res)
                print(f"# {unit} on {kind}: {c['ok']} ok, {c['err']} failed, {c['ignore']} ignored "
                      f"({time.monotonic() - t0:.0f} s)", flush=True)
                if args.logs:
                    Path(args.logs).mkdir(parents=True, exist_ok=True)
                    Path(args.logs, f"{kind}-{unit.replace('/', '_')}.txt").write_text(output)
    header = f"{'unit':<18}" + "".join(f"{k + ' ok/failed/ignored':>28}" for k in kinds)
    print("\n" + header)
    regressions: dict[str, list[str]] = {}
    for unit, by_kind in results.items():
        row = f"{unit:<18}"
        for kind in kinds:
            c = counts(by_kind[kind])
            row += f"{'%d / %d / %d' % (c['ok'], c['err'], c['ignore']):>28}"
        print(row)
        if "ssdb" in by_kind and "ssdbpy" in by_kind:
            ours = dict((n, o) for o, n in by_kind["ssdbpy"])
            regressions[unit] = [n for o, n in by_kind["ssdb"] if o == "ok" and ours.get(n) != "ok"]
    if regressions:
        total = sum(len(v) for v in regressions.values())
        print(f"\npass on SSDB 1.9.8, fail on ssdbpy: {total}")
        for unit, names in regressions.items():
            for n in names:
                print(f"  {unit}: {n}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if any(regressions.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
