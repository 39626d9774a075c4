#!/usr/bin/env python3
"""bench/tls_bulk.py: 1 GiB through one TLS stream against `openssl speed`.

usage: tls_bulk.py --bin BUILD/bench/tls_bulk [--reps N] [--bytes N]
                   [--speed-seconds S] [--json FILE]

Runs bench/tls_bulk.c (one ringo_run: a server task reading and discarding,
a client writing 64 KiB at a time over loopback) over TLS and over a plain
stream, N times each in shuffled order, with a throwaway ECDSA P-256
certificate made by the openssl command (bench/net/http_bench.py's
make_cert, in a temporary directory). Which cipher ringo's client gets is
asked of `openssl s_server` (tls_bulk probe; ringo's server context is
OpenSSL's defaults too, so a ringo pair agrees on the same one), and
`openssl speed -evp` of that cipher (aes-256-gcm for TLS_AES_256_GCM_SHA384,
OpenSSL's first choice) is timed encrypting and decrypting 16 KiB blocks
(one full TLS record each).

The target base: encrypt + decrypt (both ends are in the process) + the
plain stream's cost, CPU per byte. --json writes google-benchmark shaped
rows for bench/report.py, per KiB (1024 bytes) so the table's one decimal
shows: BM_tls_bulk_1GiB/{tls,plain} (real = wall, cpu = process CPU),
BM_tls_bulk_1GiB/speed_{enc,dec} and BM_tls_bulk_1GiB/speed+plain (the
base, from the median plain run), and "context": {"ringo_tls_bulk_cipher"}.
Exit status 0 when every run worked, 1 otherwise, 2 without openssl.
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "net"))
import http_bench  # noqa: E402  (make_cert, free_port)

SPEED_OF = {"TLS_AES_256_GCM_SHA384": "aes-256-gcm", "TLS_AES_128_GCM_SHA256": "aes-128-gcm",
            "TLS_CHACHA20_POLY1305_SHA256": "chacha20-poly1305"}
DEFAULT_CIPHER = "TLS_AES_256_GCM_SHA384"   # OpenSSL 3's first TLS 1.3 suite
KIB = 1024


def probe_cipher(binary, cert, key):
    """The suite ringo's client agrees with `openssl s_server`, or None."""
    port = http_bench.free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", cert,
                            "-key", key, "-naccept", "1"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    guard = threading.Timer(60, srv.kill)   # nothing here waits longer
    guard.start()
    try:
        # "ACCEPT" once it listens (a test connection would be its one accept)
        for line in iter(srv.stdout.readline, b""):
            if line.startswith(b"ACCEPT"):
                break
        else:
            return None
        r = subprocess.run([binary, "probe", str(port)], capture_output=True, timeout=30)
        if r.returncode != 0:
            return None
        out = srv.communicate(timeout=10)[0]
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        guard.cancel()
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    m = re.search(rb"CIPHER is (\S+)", out)
    return m.group(1).decode() if m else None


def speed(alg, seconds, decrypt):
    """openssl speed -evp ALG on 16 KiB blocks: CPU ns per byte, or None."""
    cmd = ["openssl", "speed", "-mr", "-evp", alg, "-bytes", "16384", "-seconds", str(seconds)]
    if decrypt:
        cmd.append("-decrypt")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 60)
    # "+F:25:AES-256-GCM:3173092154.39": bytes per second (of user CPU time)
    m = re.search(r"^\+F:\d+:[^:]+:([\d.]+)\s*$", r.stdout, re.M)
    if r.returncode != 0 or not m or float(m.group(1)) <= 0:
        return None, " ".join(cmd)
    return 1e9 / float(m.group(1)), " ".join(cmd)


def run_once(binary, mode, cert, key, nbytes, extra=(), prefix=()):
    cmd = list(prefix) + [binary, mode, "--bytes", str(nbytes)] + list(extra)
    if mode == "tls":
        cmd += ["--cert", cert, "--key", key]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    fields = dict(re.findall(r"(\w+)=([\d.]+)", r.stdout))
    if r.returncode != 0 or "cpu_s" not in fields:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                   (r.stdout + r.stderr).strip()[-300:]))
    return {"bytes": int(fields["bytes"]), "wall_s": float(fields["wall_s"]),
            "cpu_s": float(fields["cpu_s"]), "user_s": float(fields["user_s"]),
            "sys_s": float(fields["sys_s"])}


def row(name, real_ns, cpu_ns, ops, **extra):
    r = {"name": name, "run_name": name, "run_type": "iteration", "real_time": real_ns,
         "cpu_time": cpu_ns, "time_unit": "ns", "ops_per_iter": ops, "iterations": 1}
    r.update(extra)
    return r


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the tls_bulk binary")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--speed-seconds", type=int, default=3)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if not shutil.which("openssl"):
        print("tls_bulk: openssl not found; run:  sudo apt-get install openssl", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="tls_bulk-")
    runs, failed, benchmarks = {"tls": [], "plain": []}, False, []
    try:
        try:
            cert, key, _ = http_bench.make_cert(tmp)
        except RuntimeError as e:
            print("tls_bulk: %s" % e, file=sys.stderr)
            return 2
        cipher = probe_cipher(args.bin, cert, key)
        alg = SPEED_OF.get(cipher or DEFAULT_CIPHER)
        note = "%s (openssl speed -evp %s)" % (cipher, alg) if cipher else \
            "unknown (the probe failed; assumed %s: openssl speed -evp %s)" % (DEFAULT_CIPHER, alg)
        if alg is None:
            print("tls_bulk: no openssl speed cipher for %s" % cipher, file=sys.stderr)
            alg, failed = "aes-256-gcm", True
        for rep in range(args.reps):
            order = list(runs)
            random.shuffle(order)
            for mode in order:
                try:
                    runs[mode].append(run_once(args.bin, mode, cert, key, args.bytes))
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print("tls_bulk: %s" % e, file=sys.stderr)
                    failed = True
        enc, enc_cmd = speed(alg, args.speed_seconds, False)
        dec, dec_cmd = speed(alg, args.speed_seconds, True)
        if dec is None and enc is not None:   # no AEAD -decrypt here: decrypt ~ encrypt
            dec, dec_cmd = enc, enc_cmd + " (its -decrypt failed: counted as encrypt)"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ns_per_byte = {m: [r["cpu_s"] * 1e9 / r["bytes"] for r in rs] for m, rs in runs.items()}
    print("tls_bulk: %d bytes per run, %d run(s) each; cipher %s" % (args.bytes, args.reps, note))
    for mode, rs in runs.items():
        for r in rs:
            print("  %-5s wall %.3fs  cpu %.3fs (user %.3f sys %.3f)  %.3f ns/byte  %.2f GB/s"
                  % (mode, r["wall_s"], r["cpu_s"], r["user_s"], r["sys_s"],
                     r["cpu_s"] * 1e9 / r["bytes"], r["bytes"] / r["wall_s"] / 1e9))
            benchmarks.append(row("BM_tls_bulk_1GiB/" + mode, r["wall_s"] * 1e9, r["cpu_s"] * 1e9,
                                  r["bytes"] / KIB, bytes=r["bytes"], user_s=r["user_s"],
                                  sys_s=r["sys_s"]))
        if not rs:
            name = "BM_tls_bulk_1GiB/" + mode
            benchmarks.append({"name": name, "run_name": name, "run_type": "iteration",
                               "error_occurred": True, "error_message": "tls_bulk failed"})
    for what, v, cmd in (("enc", enc, enc_cmd), ("dec", dec, dec_cmd)):
        print("  openssl speed %s: %s ns/byte  (%s)" % (what, "-" if v is None else "%.3f" % v, cmd))
        name = "BM_tls_bulk_1GiB/speed_" + what
        benchmarks.append(row(name, v * KIB, v * KIB, 1, command=cmd) if v is not None else
                          {"name": name, "run_name": name, "run_type": "iteration",
                           "error_occurred": True, "error_message": "openssl speed failed"})
    base = "BM_tls_bulk_1GiB/speed+plain"
    if enc is not None and dec is not None and ns_per_byte["plain"]:
        b = enc + dec + statistics.median(ns_per_byte["plain"])
        print("  base = enc + dec + plain = %.3f ns/byte" % b)
        if ns_per_byte["tls"]:
            t = statistics.median(ns_per_byte["tls"])
            print("  tls = %.3f ns/byte = %.2fx the base (target <= 1.1x)" % (t, t / b))
        benchmarks.append(row(base, b * KIB, b * KIB, 1))
    else:
        failed = True
        benchmarks.append({"name": base, "run_name": base, "run_type": "iteration",
                           "error_occurred": True, "error_message": "no openssl speed or plain run"})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"context": {"ringo_tls_bulk_cipher": note},
                       "benchmarks": benchmarks}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
