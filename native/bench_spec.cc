// Reading the benchmark spec and writing its result (see bench_spec.h).
#include "bench_spec.h"

#include <cstring>
#include <string>
#include <utility>

#include "errors.h"

namespace hs {
namespace {

bool OutOfRange(Napi::Env env, const char* name) {
  return ThrowOutOfRange(env, std::string("spec.") + name, "the benchmark loop");
}

bool Number(Napi::Object object, const char* name, double min, double max, bool integer, double* out) {
  Napi::Value value = object.Get(name);
  if (object.Env().IsExceptionPending()) return false;
  if (!value.IsNumber()) return ThrowInvalidArgType(object.Env(), name, "of type number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max) || (integer && number != static_cast<double>(static_cast<int64_t>(number)))) {
    return OutOfRange(object.Env(), name);
  }
  *out = number;
  return true;
}

bool Flag(Napi::Object object, const char* name, bool* out) {
  Napi::Value value = object.Get(name);
  if (object.Env().IsExceptionPending()) return false;
  if (!value.IsBoolean()) return ThrowInvalidArgType(object.Env(), name, "of type boolean");
  *out = value.As<Napi::Boolean>().Value();
  return true;
}

bool Text(Napi::Object object, const char* name, std::string* out) {
  Napi::Value value = object.Get(name);
  if (object.Env().IsExceptionPending()) return false;
  if (!value.IsString()) return ThrowInvalidArgType(object.Env(), name, "of type string");
  *out = value.As<Napi::String>().Utf8Value();
  if (out->empty() || std::memchr(out->data(), '\0', out->size()) != nullptr) {
    return ThrowInvalidArgType(object.Env(), name, "a non-empty string without null bytes");
  }
  return true;
}

}  // namespace

bool ParseBenchSpec(Napi::Env env, Napi::Value value, BenchSpec* spec) {
  if (!value.IsObject()) return ThrowInvalidArgType(env, "spec", "of type object");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Value files = object.Get("files");
  if (env.IsExceptionPending()) return false;
  if (!files.IsArray()) return ThrowInvalidArgType(env, "files", "an array of strings");
  Napi::Array list = files.As<Napi::Array>();
  if (list.Length() == 0 || list.Length() > kBenchMaxThreads) return OutOfRange(env, "files");
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object holder = Napi::Object::New(env);
    holder.Set("files[]", list.Get(i));
    if (env.IsExceptionPending()) return false;
    std::string file;
    if (!Text(holder, "files[]", &file)) return false;
    spec->files.push_back(std::move(file));
  }
  double sequence, flush, placement, sfr, size, writes, alignment, region, prefill, seconds, samples;
  if (!Text(object, "directory", &spec->directory) ||
      !Number(object, "sequence", 0, static_cast<double>(BenchSequence::kMapped), true, &sequence) ||
      !Number(object, "flush", 0, kFlushKindCount - 1, true, &flush) ||
      !Number(object, "placement", 0, static_cast<double>(BenchPlacement::kPreallocated), true, &placement) ||
      !Flag(object, "dsync", &spec->dsync) || !Flag(object, "sync", &spec->sync) ||
      !Flag(object, "direct", &spec->direct) || !Flag(object, "fsyncDirectory", &spec->fsyncDirectory) ||
      !Number(object, "syncFileRangeFlags", 0, 0xffff, true, &sfr) ||
      !Number(object, "size", 1, kBenchMaxSize, true, &size) ||
      !Number(object, "writesPerOp", 1, kBenchMaxWritesPerOp, true, &writes) ||
      !Number(object, "alignment", 1, 1 << 24, true, &alignment) ||
      !Number(object, "regionBytes", 0, static_cast<double>(kBenchMaxRegion), true, &region) ||
      !Number(object, "prefillBytes", 0, static_cast<double>(kBenchMaxRegion), true, &prefill) ||
      !Number(object, "seconds", 0, 86400, false, &seconds) ||
      !Number(object, "maxSamples", 1, static_cast<double>(kBenchMaxSamples), true, &samples)) {
    return false;
  }
  spec->sequence = static_cast<BenchSequence>(static_cast<int>(sequence));
  spec->flush = static_cast<FlushKind>(static_cast<int>(flush));
  spec->placement = static_cast<BenchPlacement>(static_cast<int>(placement));
  spec->syncFileRangeFlags = static_cast<unsigned>(sfr);
  spec->size = static_cast<uint32_t>(size);
  spec->writesPerOp = static_cast<uint32_t>(writes);
  spec->alignment = static_cast<uint32_t>(alignment);
  spec->regionBytes = static_cast<int64_t>(region);
  spec->prefillBytes = static_cast<int64_t>(prefill);
  spec->seconds = seconds;
  spec->maxSamples = static_cast<uint64_t>(samples);
  // sampleEvery is the one optional field (absent or undefined: 1, every operation timed);
  // when given it is checked like the others.
  Napi::Value every = object.Get("sampleEvery");
  if (env.IsExceptionPending()) return false;
  if (!every.IsUndefined()) {
    double sampleEvery;
    if (!Number(object, "sampleEvery", 1, kBenchMaxSampleEvery, true, &sampleEvery)) return false;
    spec->sampleEvery = static_cast<uint32_t>(sampleEvery);
  }
  if ((spec->alignment & (spec->alignment - 1)) != 0) return OutOfRange(env, "alignment");
  bool usesRegion = spec->sequence != BenchSequence::kNewFile && spec->sequence != BenchSequence::kAtomicReplace;
  if (usesRegion && spec->regionBytes < static_cast<int64_t>(spec->size) * spec->writesPerOp) {
    return OutOfRange(env, "regionBytes");
  }
  if (spec->sequence == BenchSequence::kMapped && spec->placement == BenchPlacement::kAppend) {
    return OutOfRange(env, "placement");
  }
  return true;
}

Napi::Value BenchResult(Napi::Env env, const BenchOutcome& outcome) {
  Napi::Object result = Napi::Object::New(env);
  size_t bytes = static_cast<size_t>(outcome.samples) * sizeof(double);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes != 0) std::memcpy(buffer.Data(), outcome.samplesNs.get(), bytes);
  result.Set("samplesNs", Napi::Float64Array::New(env, static_cast<size_t>(outcome.samples), buffer, 0));
  result.Set("ops", Napi::Number::New(env, static_cast<double>(outcome.ops)));
  result.Set("busyNs", Napi::Number::New(env, outcome.busyNs));
  result.Set("wallNs", Napi::Number::New(env, outcome.wallNs));
  return result;
}

}  // namespace hs
