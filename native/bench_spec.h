// The JavaScript side of the benchmark loop (bench.h): the spec object built by
// bench/measure/native-loop.ts read into a BenchSpec, and a BenchOutcome turned into the
// object the loop's Promise resolves with. binding.cc's benchLoop export is these two around
// RunBench.
#pragma once

#include <napi.h>

#include "bench.h"

namespace hs {

// Reads and checks every field of the spec object (a second line behind bench/'s own checks:
// no spec, however wrong, reaches RunBench). On anything it cannot use it throws a TypeError
// (ERR_INVALID_ARG_TYPE) or RangeError (ERR_OUT_OF_RANGE), or lets a getter's exception
// propagate, and returns false.
bool ParseBenchSpec(Napi::Env env, Napi::Value value, BenchSpec* spec);

// {samplesNs: Float64Array, ops, busyNs, wallNs[, depthVia, depthViaReason]} (see BenchOutcome).
Napi::Value BenchResult(Napi::Env env, const BenchOutcome& outcome);

}  // namespace hs
