#!/usr/bin/env python3
"""bench/net/http_bench.py: HTTP hello servers under wrk, server CPU per request.

usage: http_bench.py [--servers NAME=CMD ...] [--duration 10s] [--json FILE]
                     [--repeat N] [--no-check] [--build-dir DIR]
                     [--scenarios c100,...] [--server-cpu LIST] [--client-cpu LIST]
                     [--prefix net] [--tls]

Each server is any program that takes `PORT HOST` as its last two arguments
(or has `{port}` / `{host}` in CMD), serves the fixed 13-byte "Hello, world!"
on 127.0.0.1, and prints a line containing "listening" (flushed) once it
accepts connections. The first server is the baseline for the ratio column.
Default: epoll_http and uv_http (if built) from BUILD_DIR/bench/net/.
CMD `nginx:N` runs nginx (from PATH or /usr/sbin) with N workers on a minimal
configuration written to a temporary directory: `return 200` of the same
body, keep-alive without a request limit, no access log, `listen ...
reuseport` and each worker bound to a CPU of its own (as a ringo server of N
loops: one listener per worker), taken in turn from --server-cpu's list
(worker_cpu_affinity auto when not pinning: auto alone would ignore the
taskset and put a single worker on CPU 0, wrk's); it is ready once it
accepts a connection.

--tls: HTTPS. An ECDSA P-256 certificate and key (SAN IP:127.0.0.1) are made
with the openssl command in a temporary directory at run time (and removed);
CMD gets their paths where it says `{cert}` and `{key}`. nginx:N listens `ssl`
with ssl_protocols TLSv1.3, ssl_session_tickets off and ssl_session_cache off
(no resumption); `{notickets_conf}` in CMD is the path of an OpenSSL
configuration doing the same for a program whose TLS contexts take OpenSSL's
defaults (system_default: NumTickets = 0, Options = -SessionTicket), as
`env OPENSSL_CONF={notickets_conf} CMD`. wrk and the checks speak https (the
checks verify the certificate and say which protocol and cipher were agreed).
One more scenario, for TLS only:
  handshake     2 `openssl s_time -new` clients in parallel (on wrk's CPU):
                full TLS 1.3 handshakes, a new connection and no session
                reuse each time; a "request" is one handshake, so CPU us/req
                is server CPU per handshake (1e6 / it = handshakes/s per core)

For each server: start it pinned to CPU 1 (in its own process group), check
it answers (single GET, 16 pipelined GETs, curl and `h2load --h1` when
installed), warm it up, then run wrk pinned to CPU 0 (--server-cpu and
--client-cpu take taskset lists, e.g. 0,1 for a server of two loops, and
`none`; they may overlap, as on a machine of two CPUs):
  c100          wrk -t1 -c100 --latency           one request at a time per connection
  c100_pipe16   the same, 16 pipelined requests per connection (a Lua script)
  c1_pingpong   wrk -t1 -c1: one connection, round trip latency
Server CPU is utime+stime (+ reaped children) of every process in its group,
read from /proc/PID/stat before and after each wrk run; CPU us/req is that
delta over the requests wrk completed. Which side saturates first (server or
wrk, one core each) caps req/s, so CPU us/req is the figure to compare.

--json writes {"benchmarks": [...]} in google-benchmark's shape (run_name
"<prefix>/<scenario>/<server>", prefix "net" unless --prefix, real_time = wall ns per request = 1e9 / req/s,
cpu_time = server CPU ns per request, one "iteration" entry per repetition)
so bench/report.py can merge it, plus "net": every measured figure.
Exit status: 0 when every server ran, 1 when one failed (its rows say why),
2 on bad usage or missing tools.
"""
import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
BODY = b"Hello, world!"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PIPELINE_LUA = """-- wrk: send DEPTH requests at once on each connection, count each response
init = function(args)
   local r = {}
   local depth = tonumber(args[1]) or 1
   for i = 1, depth do r[i] = wrk.format() end
   req = table.concat(r)
end
request = function() return req end
"""
SCENARIOS = [  # name, connections, pipeline depth, label
    ("c100", 100, 1, "100 conns"),
    ("c100_pipe16", 100, 16, "100 conns x16 pipelined"),
    ("c1_pingpong", 1, 1, "1 conn ping-pong"),
    ("handshake", 2, 0, "TLS handshakes"),   # --tls only; 2 s_time clients, depth 0: none
]
TLS_ONLY = ("handshake",)


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("duration like 10s, 3, 1m: %r" % text)
    secs = float(m.group(1)) * (60 if m.group(2) == "m" else 1)
    return max(1, int(round(secs)))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def group_cpu_seconds(pgid):
    """utime+stime+cutime+cstime over the live processes of a process group."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()   # fields[0] is field 3, state
        if int(fields[2]) == pgid:
            ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


NGINX_CONF = """# written by bench/net/http_bench.py
worker_processes %(workers)d;
worker_cpu_affinity %(affinity)s;
daemon off;
master_process on;
pid %(dir)s/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen %(host)s:%(port)d reuseport%(ssl)s;
        %(location)s
    }
}
"""


NGINX_TLS = """ ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off"""


NGINX_LOCATION = 'location / { return 200 "%s"; }' % BODY.decode()


def nginx_argv(spec, port, tmpdir, cpus=None, tls=None, location=NGINX_LOCATION):
    """argv for CMD `nginx:N`, its configuration written to tmpdir; cpus: the
    taskset list the server runs on (a worker per CPU, in turn), or None;
    tls: (cert, key, conf) for https; location: what the server block serves
    (bench/net/file_bench.py: files)."""
    workers = spec.partition(":")[2].strip() or "1"
    if not workers.isdigit() or int(workers) < 1:
        raise RuntimeError("nginx:N wants a worker count, got %r" % spec)
    exe = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not exe:
        raise RuntimeError("nginx not found; run:  sudo apt-get install nginx")
    pinned = sorted(cpu_list(cpus) or ())
    affinity = " ".join(format(1 << pinned[i % len(pinned)], "b")
                        for i in range(int(workers))) if pinned else "auto"
    tls_conf = NGINX_TLS % {"cert": tls[0], "key": tls[1]} if tls else ""
    conf = os.path.join(tmpdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"workers": int(workers), "dir": tmpdir, "host": HOST, "port": port,
                              "location": location, "affinity": affinity, "ssl": tls_conf})
    return [exe, "-e", "stderr", "-p", tmpdir, "-c", conf]


def make_cert(tmpdir):
    """An ECDSA P-256 self-signed certificate and key in tmpdir, and an OpenSSL
    configuration without session tickets: (cert, key, conf)."""
    if not shutil.which("openssl"):
        raise RuntimeError("openssl not found; run:  sudo apt-get install openssl")
    cert, key = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + (r.stdout + r.stderr).strip()[-300:])
    conf = os.path.join(tmpdir, "openssl-notickets.cnf")
    with open(conf, "w") as f:
        f.write(NOTICKETS_CONF)
    return cert, key, conf


NOTICKETS_CONF = """# written by bench/net/http_bench.py: no session tickets, so no resumption
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = no_tickets
[no_tickets]
NumTickets = 0
Options = -SessionTicket
"""


def client_context(tls):
    """A client ssl.SSLContext that trusts our certificate and checks its IP name."""
    return ssl.create_default_context(cafile=tls[0])


def connect(port, tls, timeout=5):
    """A socket to the server, TLS-wrapped when tls is (cert, key, conf)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    if tls:
        try:
            s = client_context(tls).wrap_socket(s, server_hostname=HOST)
        except Exception:
            s.close()
            raise
    return s


def accepts(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def taskset(cpus):
    return ["taskset", "-c", cpus] if cpus is not None else []


class Server:
    """A server process in its own group, its output drained by a thread."""

    def __init__(self, name, cmd, cpu, ready_timeout, tls=None, nginx_location=NGINX_LOCATION):
        self.name, self.port = name, free_port()
        self.tmpdir, probe = None, False
        if cmd.startswith("nginx:"):
            self.tmpdir = tempfile.mkdtemp(prefix="http_bench-nginx-")
            argv = nginx_argv(cmd, self.port, self.tmpdir, cpu, tls, nginx_location)
            probe = True
        else:
            if tls:
                for k, v in zip(("{cert}", "{key}", "{notickets_conf}"), tls):
                    cmd = cmd.replace(k, shlex.quote(v))
            argv = shlex.split(cmd.replace("{port}", str(self.port)).replace("{host}", HOST))
            if "{port}" not in cmd:
                argv += [str(self.port), HOST]
        self.argv = taskset(cpu) + argv
        self.lines, self.ready = [], threading.Event()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + ready_timeout
        while not self.ready.wait(0.05):
            if probe and self.proc.poll() is None and accepts(self.port):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = ("exited with status %d" % self.proc.returncode
                       if self.proc.poll() is not None
                       else "no 'listening' line in %gs" % ready_timeout)
                self.stop()
                raise RuntimeError("%s: %s; output: %s" % (name, why, self.output()))

    def _drain(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines = (self.lines + [line])[-20:]
            if "listening" in line.lower():
                self.ready.set()

    def output(self):
        return " | ".join(self.lines) or "(none)"

    def cpu(self):
        return group_cpu_seconds(self.proc.pid)

    def stop(self, timeout=5.0):
        """SIGTERM to the group, SIGKILL after timeout; nothing is left behind."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            if sig == signal.SIGTERM:
                try:    # stragglers of the group (the leader is gone)
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            break
        self.proc.wait()
        self.reader.join(1)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return self.proc.returncode


def read_responses(sock, count, timeout=5.0):
    """Reads count HTTP responses (Content-Length framed); returns their bodies."""
    sock.settimeout(timeout)
    buf, bodies = b"", []
    while len(bodies) < count:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode(errors="replace")
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            if not head.startswith("HTTP/1.1 200") or not m:
                raise RuntimeError("bad response head %r" % head[:80])
            end = head_end + 4 + int(m.group(1))
            if len(buf) >= end:
                bodies.append(buf[head_end + 4:end])
                buf = buf[end:]
                continue
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed after %d of %d responses" % (len(bodies), count))
        buf += data
    if buf:
        raise RuntimeError("%d unexpected bytes after the responses" % len(buf))
    return bodies


def check_server(port, tls=None):
    """Correctness checks; returns a list of (check, ok, detail)."""
    results = []
    scheme = "https" if tls else "http"
    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: http_bench\r\n\r\n"
    if tls:
        try:
            with connect(port, tls) as s:
                ver, cipher = s.version(), s.cipher()[0]
            results.append(("TLS 1.3", ver == "TLSv1.3", "%s, %s" % (ver, cipher)))
        except (OSError, ValueError) as e:
            results.append(("TLS 1.3", False, str(e)))
    for name, n in (("GET", 1), ("16 pipelined GETs", 16), ("1000 pipelined GETs", 1000)):
        try:
            with connect(port, tls) as s:
                s.sendall(req * n)
                bodies = read_responses(s, n)
            ok = all(b == BODY for b in bodies)
            results.append((name, ok, "%d responses" % len(bodies) if ok else "wrong body"))
        except (OSError, RuntimeError, ValueError) as e:
            results.append((name, False, str(e)))
    if shutil.which("curl"):
        r = subprocess.run(["curl", "-s", "-m", "5"] + (["--cacert", tls[0]] if tls else []) +
                           ["%s://%s:%d/" % (scheme, HOST, port)], capture_output=True)
        results.append(("curl", r.stdout == BODY, repr(r.stdout[:40])))
    if shutil.which("h2load"):
        r = subprocess.run(["h2load", "--h1", "-n", "2000", "-c", "10", "-m", "4",
                            "%s://%s:%d/" % (scheme, HOST, port)], capture_output=True, text=True,
                           timeout=60)
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", r.stdout)
        ok = bool(m) and m.group(3) == "2000" and m.group(4) == m.group(5) == "0"
        results.append(("h2load --h1 -n2000 -c10 -m4", ok,
                        m.group(0) if m else (r.stdout + r.stderr).strip()[-200:]))
    return results


UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(out):
    def latency(pct):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$" % pct, out, re.M)
        # 0 is wrk's histogram bug under pipelining (wg/wrk#236): unknown, not 0.
        return float(m.group(1)) * UNITS_US[m.group(2)] if m and float(m.group(1)) else None
    m_req = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", out, re.M)
    m_rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if not m_req or not m_rps:
        raise RuntimeError("cannot parse wrk output: " + out.strip()[-300:])
    m_err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    m_bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(m_req.group(1)),
        "rps": float(m_rps.group(1)),
        "p50_us": latency(50), "p90_us": latency(90), "p99_us": latency(99),
        "socket_errors": sum(int(x) for x in m_err.groups()) if m_err else 0,
        "non_2xx": int(m_bad.group(1)) if m_bad else 0,
    }


def run_wrk(args, port, conns, depth, duration, lua_path, server, path="/"):
    cmd = taskset(args.client_cpu) + [args.wrk, "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency"]
    if depth > 1:
        cmd += ["-s", lua_path]
    cmd += ["%s://%s:%d%s" % ("https" if args.tls else "http", HOST, port, path)]
    if depth > 1:
        cmd += ["--", str(depth)]
    cpu0, t0, kids0 = server.cpu(), time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    kids1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    time.sleep(0.2)           # let the server finish closing the connections
    cpu1 = server.cpu()
    if r.returncode != 0:
        raise RuntimeError("wrk failed (%d): %s" % (r.returncode, (r.stdout + r.stderr)[-300:]))
    res = parse_wrk(r.stdout)
    if server.proc.poll() is not None:
        raise RuntimeError("server died during the run; output: " + server.output())
    res["cpu_s"] = cpu1 - cpu0
    res["cpu_us_per_req"] = (cpu1 - cpu0) * 1e6 / res["requests"] if res["requests"] else None
    # Which side is the bottleneck: a server under ~90% busy means wrk limits req/s.
    res["server_busy_pct"] = 100 * (cpu1 - cpu0) / (t1 - t0)
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    res["wrk_busy_pct"] = 100 * wrk_cpu / (t1 - t0)
    res["command"] = " ".join(cmd)
    return res


def run_handshakes(args, port, clients, duration, server):
    """clients parallel `openssl s_time -new` loops: full handshakes, server CPU each."""
    cmd = taskset(args.client_cpu) + ["openssl", "s_time", "-connect", "%s:%d" % (HOST, port),
                                      "-new", "-time", str(duration)]
    cpu0, t0, kids0 = server.cpu(), time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(clients)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=duration + 60)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    kids1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    time.sleep(0.2)
    cpu1 = server.cpu()
    count = 0
    for p, out in zip(procs, outs):
        # "1572 connections in 1.36s; 1155.88 connections/user sec, bytes read 0"
        m = re.search(r"^(\d+) connections in [\d.]+s;", out, re.M)
        if p.returncode != 0 or not m:
            raise RuntimeError("openssl s_time failed (%s): %s"
                               % (p.returncode, out.replace("*", "").strip()[-300:]))
        count += int(m.group(1))
    if server.proc.poll() is not None:
        raise RuntimeError("server died during the run; output: " + server.output())
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    return {"requests": count, "rps": count / (t1 - t0),
            "p50_us": None, "p90_us": None, "p99_us": None, "socket_errors": 0, "non_2xx": 0,
            "cpu_s": cpu1 - cpu0,
            "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / count if count else None,
            "server_busy_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
            "wrk_busy_pct": 100 * wrk_cpu / (t1 - t0),
            "command": "%d x %s" % (clients, " ".join(cmd))}


def cpu_list(text):
    """A taskset list as a set of CPUs; None for none; False when malformed."""
    if text is None or text.strip().lower() in ("", "none"):
        return None
    cpus = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            return False
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        cpus.update(range(lo, hi + 1))
    return cpus


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec):
    return "-" if v is None else spec % v


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", nargs="+", metavar="NAME=CMD")
    ap.add_argument("--build-dir", default=os.environ.get("RINGO_BENCH_DIR", "build/bench"),
                    help="where the default servers are built (default build/bench)")
    ap.add_argument("--duration", type=parse_duration, default=10, help="per wrk run (10s)")
    ap.add_argument("--warmup", type=parse_duration, default=1, help="per server (1s)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds over all servers; medians")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--no-check", action="store_true", help="skip the correctness checks")
    ap.add_argument("--server-cpu", default="1", help="taskset list, or none (1)")
    ap.add_argument("--client-cpu", default="0", help="taskset list, or none (0)")
    ap.add_argument("--scenarios", help="comma-separated subset of: " +
                    ",".join(sc[0] for sc in SCENARIOS))
    ap.add_argument("--prefix", default="net", help="run_name prefix in --json (net)")
    ap.add_argument("--tls", action="store_true",
                    help="https: a throwaway ECDSA P-256 certificate, {cert} {key} "
                    "{notickets_conf} in CMD")
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--ready-timeout", type=float, default=10.0)
    args = ap.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, through the finally that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if not shutil.which(args.wrk):
        print("http_bench: wrk not found; run:  sudo apt-get install wrk", file=sys.stderr)
        return 2
    scenarios = [sc for sc in SCENARIOS if args.tls or sc[0] not in TLS_ONLY]
    if args.scenarios:
        wanted = args.scenarios.split(",")
        scenarios = [sc for sc in scenarios if sc[0] in wanted]
        if len(scenarios) != len(wanted):
            ap.error("--scenarios: unknown in %r%s" % (args.scenarios,
                     "" if args.tls else " (handshake needs --tls)"))
    if args.tls and not shutil.which("openssl"):
        print("http_bench: openssl not found; run:  sudo apt-get install openssl", file=sys.stderr)
        return 2
    cpus = os.sched_getaffinity(0)
    pins = [cpu_list(args.server_cpu), cpu_list(args.client_cpu)]
    if any(p is False for p in pins):
        ap.error("--server-cpu/--client-cpu want a list like 1 or 0,1 or 2-3, or none")
    if (pins[0] is not None and pins[1] is not None and pins[0] == pins[1] and
            len(pins[0]) == 1) or \
            any(p is not None and not p <= cpus for p in pins) or not shutil.which("taskset"):
        print("http_bench: CPUs %s/%s not both available (have %s) or no taskset: not pinning"
              % (args.server_cpu, args.client_cpu, sorted(cpus)), file=sys.stderr)
        pins = [None, None]
    args.server_cpu, args.client_cpu = [None if p is None else
                                        ",".join(str(c) for c in sorted(p)) for p in pins]
    if args.servers:
        servers = []
        for spec in args.servers:
            name, sep, cmd = spec.partition("=")
            if not sep or not name or not cmd.strip():
                ap.error("--servers wants NAME=CMD, got %r" % spec)
            servers.append((name, cmd))
    else:
        servers = [(n, os.path.join(args.build_dir, "bench", "net", n + "_http"))
                   for n in ("epoll", "uv")]
        servers = [(n, c) for n, c in servers if os.access(c, os.X_OK)]
        if not servers:
            ap.error("no --servers and no epoll_http in %s/bench/net" % args.build_dir)

    # runs[(scenario, server)] = list of result dicts; errors[(scenario, server)] = text
    runs, errors, checks = {}, {}, {}
    lua = tempfile.NamedTemporaryFile("w", prefix="pipeline-", suffix=".lua", delete=False)
    lua.write(PIPELINE_LUA)
    lua.close()
    live = []
    certdir = tempfile.mkdtemp(prefix="http_bench-tls-") if args.tls else None
    try:
        args.tls = make_cert(certdir) if args.tls else None
        for rnd in range(args.repeat):
            for name, cmd in servers:
                print("http_bench: round %d/%d, %s: %s" % (rnd + 1, args.repeat, name, cmd),
                      file=sys.stderr, flush=True)
                try:
                    server = Server(name, cmd, args.server_cpu, args.ready_timeout, args.tls)
                except (OSError, RuntimeError) as e:
                    for sc in scenarios:
                        errors[(sc[0], name)] = "failed to start: %s" % e
                    continue
                live.append(server)
                try:
                    if not args.no_check and rnd == 0:
                        checks[name] = check_server(server.port, args.tls)
                        for check, ok, detail in checks[name]:
                            print("  check %-28s %s  %s" % (check, "ok  " if ok else "FAIL", detail),
                                  file=sys.stderr)
                    if args.warmup:
                        run_wrk(args, server.port, 100, 1, args.warmup, lua.name, server)
                    for sc, conns, depth, _ in scenarios:
                        try:
                            if sc == "handshake":
                                res = run_handshakes(args, server.port, conns, args.duration,
                                                     server)
                            else:
                                res = run_wrk(args, server.port, conns, depth, args.duration,
                                              lua.name, server)
                            runs.setdefault((sc, name), []).append(res)
                        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                            errors[(sc, name)] = str(e)
                            if server.proc.poll() is not None:
                                break
                except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                    for sc in scenarios:
                        errors.setdefault((sc[0], name), str(e))
                finally:
                    rc = server.stop()
                    live.remove(server)
                    if rc not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
                        print("  %s exited with status %s on SIGTERM" % (name, rc), file=sys.stderr)
    except RuntimeError as e:   # no certificate
        print("http_bench: %s" % e, file=sys.stderr)
        return 2
    finally:
        for server in live:
            server.stop()
        os.unlink(lua.name)
        if certdir:
            shutil.rmtree(certdir, ignore_errors=True)

    # The table: medians over the rounds.
    rows, summary = [], []
    header = ("scenario", "server", "req/s", "p50", "p99", "CPU us/req", "vs " + servers[0][0],
              "busy srv/wrk", "")
    for sc, conns, depth, label in scenarios:
        base = median_of(runs.get((sc, servers[0][0]), []), "cpu_us_per_req")
        for name, _ in servers:
            r = runs.get((sc, name), [])
            entry = {"scenario": sc, "label": label, "server": name, "connections": conns,
                     "pipeline": depth, "runs": r, "error": errors.get((sc, name))}
            if not r:
                rows.append((label, name, "FAILED", "", "", "", "", "", (entry["error"] or "")[:100]))
                summary.append(entry)
                continue
            med = {k: median_of(r, k) for k in ("rps", "p50_us", "p99_us", "cpu_us_per_req",
                                                "server_busy_pct", "wrk_busy_pct")}
            ratio = med["cpu_us_per_req"] / base if base and med["cpu_us_per_req"] else None
            entry.update(med, cpu_ratio_vs_baseline=ratio)
            bad = sum(x["socket_errors"] for x in r), sum(x["non_2xx"] for x in r)
            note = ("socket errors %d, non-2xx %d" % bad) if any(bad) else ""
            # (a server on several CPUs shares them with wrk: no such rule)
            if conns > 1 and max(med["server_busy_pct"], med["wrk_busy_pct"]) < 85 and \
                    "," not in (args.server_cpu or ""):
                note = (note + "; " if note else "") + "neither side saturated: machine busy?"
            if sc == "handshake" and med["cpu_us_per_req"]:
                note = (note + "; " if note else "") + "%.0f handshakes/s per core" % (
                    1e6 / med["cpu_us_per_req"])
            elif any(x["p99_us"] is None for x in r):
                note = (note + "; " if note else "") + "wrk gave no p99 (wg/wrk#236)"
            if entry["error"]:
                note = (note + "; " if note else "") + "a run failed: " + entry["error"][:80]
            rows.append((label, name, "%.0f" % med["rps"], fmt(med["p50_us"], "%.0fus"),
                         fmt(med["p99_us"], "%.0fus"), fmt(med["cpu_us_per_req"], "%.2f"),
                         fmt(ratio, "%.2fx"),
                         "%.0f%%/%.0f%%" % (med["server_busy_pct"], med["wrk_busy_pct"]), note))
            summary.append(entry)
    lines = [header] + rows
    widths = [max(len(l[i]) for l in lines) for i in range(len(header))]
    for i, l in enumerate(lines):
        print("  ".join(c.rjust(w) if 2 <= j <= 7 else c.ljust(w)
                        for j, (c, w) in enumerate(zip(l, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths).rstrip())
    print("wrk -t1%s, %ds per run, median of %d round(s); server CPU = utime+stime per request; "
          "server on CPU %s, wrk on CPU %s;\nbusy = CPU time / wall time: the side near 100%% "
          "limits req/s, so compare CPU us/req" % (" over https" if args.tls else "",
                                                    args.duration, args.repeat,
                                                    args.server_cpu or "any",
                                                    args.client_cpu or "any"))
    if any(sc[0] == "handshake" for sc in scenarios):
        print("handshake: a request is one full TLS 1.3 handshake, no resumption (2 x openssl "
              "s_time -new, on wrk's CPU)")

    if args.json:
        benchmarks = []
        for e in summary:
            run_name = "%s/%s/%s" % (args.prefix, e["scenario"], e["server"])
            if not e["runs"]:
                benchmarks.append({"name": run_name, "run_name": run_name, "run_type": "iteration",
                                   "error_occurred": True, "error_message": e["error"]})
            for r in e["runs"]:
                benchmarks.append({
                    "name": run_name, "run_name": run_name, "run_type": "iteration",
                    "real_time": 1e9 / r["rps"] if r["rps"] else float("nan"),
                    "cpu_time": r["cpu_us_per_req"] * 1e3 if r["cpu_us_per_req"] else float("nan"),
                    "time_unit": "ns", "ops_per_iter": 1, "iterations": r["requests"],
                    "rps": r["rps"], "p50_us": r["p50_us"], "p99_us": r["p99_us"]})
                if r["p50_us"]:   # the median latency as its own row, for latency targets
                    lat = "%s/%s_p50/%s" % (args.prefix, e["scenario"], e["server"])
                    benchmarks.append({
                        "name": lat, "run_name": lat, "run_type": "iteration",
                        "real_time": r["p50_us"] * 1e3, "cpu_time": r["p50_us"] * 1e3,
                        "time_unit": "ns", "ops_per_iter": 1})
        doc = {"benchmarks": benchmarks,
               "net": {"duration_s": args.duration, "repeat": args.repeat, "tls": bool(args.tls),
                       "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
                       "servers": [{"name": n, "command": c} for n, c in servers],
                       "checks": {n: [{"check": c, "ok": ok, "detail": d} for c, ok, d in v]
                                  for n, v in checks.items()},
                       "results": summary}}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    failed = any(not e["runs"] for e in summary) or \
        any(not ok for v in checks.values() for _, ok, _ in v)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
