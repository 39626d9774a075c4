// bench/bench_file.cc: 4 KiB random reads from a page-cached 256 MiB file,
// reported per read (the counter ops_per_iter, as bench_core.cc).
//
//   BM_file_read_4k_random/ringo/<n>  n tasks each looping ringo_read at
//                                     random 4 KiB-aligned offsets, per read
//   BM_file_read_4k_random/pread      one thread looping pread(2) over the
//                                     same offsets, per read (the baseline)
// (each name gets /process_time/real_time: see the registrations below)
//
// The file is $RINGO_BENCH_FILE (default /tmp/ringo-bench-file.dat): made
// once, kept for the next run, read fully before timing so every read is a
// page-cache hit. The offsets are one fixed pseudo-random table for both.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ringo.h>

#include "bench_util.h"

namespace {

constexpr size_t kFileSize = 256u << 20;
constexpr size_t kBlock = 4096;
constexpr size_t kOffsets = 1u << 16;   // a power of two: index with a mask

struct Fixture {
    int fd = -1;
    std::vector<int64_t> offsets;
    std::string error;
};

std::string file_path()
{
    const char *p = std::getenv("RINGO_BENCH_FILE");
    return p && *p ? p : "/tmp/ringo-bench-file.dat";
}

// Make the file unless it is already there with the right size, then read
// it all once so the benchmark measures page-cache hits, not the disk.
bool prepare(Fixture &fx)
{
    std::string path = file_path();
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || static_cast<size_t>(st.st_size) != kFileSize) {
        std::string tmp = path + ".part";
        int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return fx.error = "cannot create " + tmp + ": " + std::strerror(errno), false;
        std::vector<unsigned char> chunk(1u << 20);
        for (size_t off = 0; off < kFileSize; off += chunk.size()) {
            for (size_t i = 0; i < chunk.size(); i++)
                chunk[i] = static_cast<unsigned char>((off + i) * 2654435761u >> 24);
            if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
                close(fd);
                unlink(tmp.c_str());
                return fx.error = "cannot write " + tmp, false;
            }
        }
        close(fd);
        if (rename(tmp.c_str(), path.c_str()) != 0)
            return fx.error = "cannot rename " + tmp, false;
    }
    fx.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fx.fd < 0)
        return fx.error = "cannot open " + path, false;
    std::vector<char> buf(1u << 20);
    for (off_t off = 0; pread(fx.fd, buf.data(), buf.size(), off) > 0; off += buf.size()) {
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    fx.offsets.resize(kOffsets);
    for (auto &o : fx.offsets) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;   // xorshift64
        o = static_cast<int64_t>(x % (kFileSize / kBlock) * kBlock);
    }
    return true;
}

Fixture &fixture()
{
    static Fixture fx;
    static bool ready = prepare(fx);
    (void)ready;
    return fx;
}

// ---- ringo: n tasks in flight ----------------------------------------------

struct Readers {
    Fixture *fx;
    size_t next = 0;   // index into the offsets; tasks share one thread
    uint64_t ops = 0;
    bool stop = false, failed = false;
};

bool read_one(Readers &r)
{
    alignas(64) char buf[kBlock];
    int64_t off = r.fx->offsets[r.next++ & (kOffsets - 1)];
    if (ringo_read(r.fx->fd, buf, kBlock, off) != static_cast<ssize_t>(kBlock))
        return r.failed = true, false;
    benchmark::DoNotOptimize(buf);
    r.ops++;
    return true;
}

int reader(void *arg)
{
    auto *r = static_cast<Readers *>(arg);
    while (!r->stop && read_one(*r)) {
    }
    return 0;
}

// As BM_nop in bench_core.cc: the helpers run while this task waits on its
// own reads; the count is taken as the state loop ends (the helpers' reads
// in flight then, at most n-1, are left out).
int ringo_main(void *arg)
{
    auto &state = *static_cast<benchmark::State *>(arg);
    Readers r;
    r.fx = &fixture();
    std::vector<ringo_task *> helpers;
    for (int64_t i = 1; i < state.range(0); i++) {
        ringo_task *t;
        if (ringo_spawn(&t, reader, &r) < 0)
            break;
        helpers.push_back(t);
    }
    if (static_cast<int64_t>(helpers.size()) + 1 != state.range(0))
        state.SkipWithError("spawn failed");
    for (auto _ : state) {
        if (!read_one(r)) {
            state.SkipWithError("ringo_read failed");
            break;
        }
    }
    double ops = static_cast<double>(r.ops);
    r.stop = true;
    for (ringo_task *t : helpers)
        ringo_await(t);
    if (r.failed && !state.error_occurred())
        state.SkipWithError("ringo_read failed");
    report_ops(state, ops);
    return 0;
}

void BM_file_read_4k_random_ringo(benchmark::State &state)
{
    if (!fixture().error.empty()) {
        state.SkipWithError(fixture().error.c_str());
        return;
    }
    run_in_loop(state, ringo_main);
}

// ---- the baseline: pread in one thread ---------------------------------------

void BM_file_read_4k_random_pread(benchmark::State &state)
{
    Fixture &fx = fixture();
    if (!fx.error.empty()) {
        state.SkipWithError(fx.error.c_str());
        return;
    }
    alignas(64) char buf[kBlock];
    size_t i = 0;
    for (auto _ : state) {
        if (pread(fx.fd, buf, kBlock, fx.offsets[i++ & (kOffsets - 1)]) !=
            static_cast<ssize_t>(kBlock)) {
            state.SkipWithError("pread failed");
            break;
        }
        benchmark::DoNotOptimize(buf);
    }
    report_ops(state, static_cast<double>(state.iterations()));
}

}  // namespace

// Real time is what the report judges. CPU time is the whole process's:
// with 64 tasks io_uring's worker thread copies some of the reads, and its
// CPU counts as ringo's.
BENCHMARK(BM_file_read_4k_random_ringo)->Name("BM_file_read_4k_random/ringo")->Arg(1)->Arg(64)
    ->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_file_read_4k_random_pread)->Name("BM_file_read_4k_random/pread")
    ->MeasureProcessCPUTime()->UseRealTime();

BENCHMARK_MAIN();
