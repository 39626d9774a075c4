#!/usr/bin/env python3
"""bench/net/file_bench.py: one page-cached file served to wrk, server CPU per request.

usage: file_bench.py --servers NAME=CMD ... [--size 1M] [--conns 16] [--duration 5s]
                     [--repeat 5] [--json FILE] [--prefix file]
                     [--server-cpu 1] [--client-cpu 0]

A file of --size random bytes is written to a temporary directory and read
once (so it is in the page cache); every server serves that directory and
wrk fetches /file.bin over and over (-t1 -cCONNS, keep-alive). CMD gets the
directory where it says {dir}, and {port} and {host} (else `PORT HOST` are
appended, as in http_bench.py). CMD `nginx:N` is nginx with N workers
serving the directory with `sendfile on` (http_bench.py's configuration
otherwise: pinned workers, no access log, unlimited keep-alive).

Servers, pinning and CPU accounting are http_bench.py's (its Server and
run_wrk): server CPU is utime+stime of the server's process group (threads
included: io_uring's io-wq workers count) over the requests wrk completed.
Rounds interleave the servers (start, check the bytes once, 1 s warm-up, one
wrk run, stop), so a noisy machine hits them alike; the table gives each
server's median CPU per request and the median over rounds of its ratio to
the first server's in the same round.

--json: {"benchmarks": [...]} rows "<prefix>/c<CONNS>/<server>" as
http_bench.py writes them (cpu_time = server CPU ns per request), plus
"file": the figures. Exit 0 when every server ran and answered right.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as hb  # noqa: E402

NAME = "file.bin"


def parse_size(text):
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib")
    if not t or t[-1].isdigit():
        return int(t)
    return int(float(t[:-1]) * units[t[-1]])


def check(port, want):
    """The whole file and one range, byte for byte: (ok, detail)."""
    try:
        c = http.client.HTTPConnection(hb.HOST, port, timeout=10)
        c.request("GET", "/" + NAME)
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or body != want:
            return False, "GET: status %d, %d bytes" % (r.status, len(body))
        c.request("GET", "/" + NAME, headers={"Range": "bytes=1000-1999"})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 206 or body != want[1000:2000]:
            return False, "Range: status %d, %d bytes" % (r.status, len(body))
        return True, "GET and a Range request byte-exact"
    except (OSError, http.client.HTTPException) as e:
        return False, str(e)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", nargs="+", metavar="NAME=CMD", required=True)
    ap.add_argument("--size", type=parse_size, default=1 << 20, help="file size (1M)")
    ap.add_argument("--conns", type=int, default=16, help="wrk connections (16)")
    ap.add_argument("--duration", type=hb.parse_duration, default=5, help="per wrk run (5s)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (5)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--prefix", default="file")
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--wrk", default="wrk")
    args = ap.parse_args(argv)
    args.tls = None
    if not shutil.which(args.wrk):
        print("file_bench: wrk not found", file=sys.stderr)
        return 2
    pins = [hb.cpu_list(args.server_cpu), hb.cpu_list(args.client_cpu)]
    if any(p is not None and (p is False or not p <= os.sched_getaffinity(0)) for p in pins):
        print("file_bench: CPUs %s/%s not available: not pinning"
              % (args.server_cpu, args.client_cpu), file=sys.stderr)
        args.server_cpu = args.client_cpu = None
    servers = []
    for spec in args.servers:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or not cmd.strip():
            ap.error("--servers wants NAME=CMD, got %r" % spec)
        servers.append((name, cmd))

    root = tempfile.mkdtemp(prefix="file_bench-")
    os.chmod(root, 0o755)   # nginx's workers run as another user
    data = os.urandom(args.size)
    with open(os.path.join(root, NAME), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(root, NAME), 0o644)
    with open(os.path.join(root, NAME), "rb") as f:
        f.read()   # in the page cache
    location = "location / { root %s; sendfile on; }" % root
    runs, errors, checks = {}, {}, {}
    try:
        for rnd in range(args.repeat):
            for name, cmd in servers:
                print("file_bench: round %d/%d, %s" % (rnd + 1, args.repeat, name),
                      file=sys.stderr, flush=True)
                try:
                    server = hb.Server(name, cmd.replace("{dir}", root), args.server_cpu, 10,
                                       nginx_location=location)
                except (OSError, RuntimeError) as e:
                    errors[name] = "failed to start: %s" % e
                    continue
                try:
                    if name not in checks:
                        checks[name] = check(server.port, data)
                        print("  check %s: %s" % ("ok" if checks[name][0] else "FAIL",
                                                  checks[name][1]), file=sys.stderr)
                    hb.run_wrk(args, server.port, args.conns, 1, 1, None, server, "/" + NAME)
                    res = hb.run_wrk(args, server.port, args.conns, 1, args.duration, None,
                                     server, "/" + NAME)
                    res["round"] = rnd
                    # Loopback does the receiver's TCP work in whichever
                    # context runs it: with wrk's CPU too, the pair's total.
                    res["total_cpu_us_per_req"] = ((res["server_busy_pct"] + res["wrk_busy_pct"])
                                                   * 1e4 / res["rps"]) if res["rps"] else None
                    runs.setdefault(name, []).append(res)
                except (OSError, RuntimeError, hb.subprocess.TimeoutExpired) as e:
                    errors[name] = str(e)
                finally:
                    server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    base = servers[0][0]
    base_by_round = {r["round"]: r["cpu_us_per_req"] for r in runs.get(base, [])}
    print("%-22s %9s %11s %12s %13s %11s  %s" % ("server", "req/s", "CPU us/req", "vs " + base,
                                                  "busy srv/wrk", "+wrk us/req", "notes"))
    summary = []
    for name, _ in servers:
        r = runs.get(name, [])
        if not r:
            print("%-22s FAILED  %s" % (name, errors.get(name, "")[:100]))
            summary.append({"server": name, "runs": [], "error": errors.get(name)})
            continue
        ratios = [x["cpu_us_per_req"] / base_by_round[x["round"]] for x in r
                  if base_by_round.get(x["round"]) and x["cpu_us_per_req"]]
        med = {k: hb.median_of(r, k) for k in ("rps", "cpu_us_per_req", "server_busy_pct",
                                               "wrk_busy_pct", "total_cpu_us_per_req")}
        ratio = statistics.median(ratios) if ratios else None
        bad = sum(x["socket_errors"] + x["non_2xx"] for x in r)
        note = "errors/non-2xx %d" % bad if bad else ""
        print("%-22s %9.0f %11.1f %12s %6.0f%%/%3.0f%% %11s  %s" % (
            name, med["rps"], med["cpu_us_per_req"], hb.fmt(ratio, "%.2fx"),
            med["server_busy_pct"], med["wrk_busy_pct"],
            hb.fmt(med["total_cpu_us_per_req"], "%.0f"), note))
        summary.append(dict(med, server=name, runs=r, cpu_ratio_median_of_rounds=ratio,
                            error=errors.get(name)))
    print("a %d-byte page-cached file, wrk -t1 -c%d, %ds per run, %d interleaved round(s); "
          "server on CPU %s, wrk on CPU %s; ratio = median over rounds of CPU/req over %s's"
          % (args.size, args.conns, args.duration, args.repeat, args.server_cpu or "any",
             args.client_cpu or "any", base))
    if args.json:
        rows = []
        for e in summary:
            run_name = "%s/c%d/%s" % (args.prefix, args.conns, e["server"])
            if not e["runs"]:
                rows.append({"name": run_name, "run_name": run_name, "run_type": "iteration",
                             "error_occurred": True, "error_message": e["error"]})
            for r in e["runs"]:
                rows.append({"name": run_name, "run_name": run_name, "run_type": "iteration",
                             "real_time": 1e9 / r["rps"] if r["rps"] else float("nan"),
                             "cpu_time": (r["cpu_us_per_req"] or float("nan")) * 1e3,
                             "time_unit": "ns", "ops_per_iter": 1, "iterations": r["requests"]})
        with open(args.json, "w") as f:
            json.dump({"benchmarks": rows,
                       "file": {"size": args.size, "conns": args.conns, "repeat": args.repeat,
                                "servers": [{"name": n, "command": c} for n, c in servers],
                                "checks": checks, "results": summary}}, f, indent=1)
    failed = any(not e["runs"] for e in summary) or any(not ok for ok, _ in checks.values())
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
