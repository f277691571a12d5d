// N-API surface of the profiling addon: a Sampler class and a few one-shot helpers.
#include <napi.h>

#include <cstdlib>
#include <cstring>

#include "nvml.h"
#include "proc.h"
#include "sampler.h"

namespace effbench {

static constexpr const char* kAddonVersion = "1";

class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Sampler",
                       {InstanceMethod("start", &SamplerWrap::Start), InstanceMethod("stop", &SamplerWrap::Stop),
                        InstanceMethod("mark", &SamplerWrap::Mark),
                        InstanceMethod("read", &SamplerWrap::Read),
                        InstanceAccessor("running", &SamplerWrap::Running, nullptr),
                        InstanceAccessor("threadId", &SamplerWrap::ThreadId, nullptr)});
  }
  explicit SamplerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerWrap>(info) {}

 private:
  Sampler sampler_;

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "start(options) needs an options object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    SamplerOptions options;
    if (o.Has("pids")) {
      Napi::Array pids = o.Get("pids").As<Napi::Array>();
      for (uint32_t i = 0; i < pids.Length(); i++) options.pids.push_back(pids.Get(i).As<Napi::Number>().Int32Value());
    }
    if (o.Has("hz")) options.hz = o.Get("hz").As<Napi::Number>().DoubleValue();
    if (o.Has("fullHz")) options.fullHz = o.Get("fullHz").As<Napi::Number>().DoubleValue();
    if (o.Has("energyHz")) options.energyHz = o.Get("energyHz").As<Napi::Number>().DoubleValue();
    if (o.Has("capacityRows")) options.capacityRows = o.Get("capacityRows").As<Napi::Number>().Uint32Value();
    if (o.Has("perf")) options.perf = o.Get("perf").ToBoolean();
    if (o.Has("rapl")) options.rapl = o.Get("rapl").ToBoolean();
    if (o.Has("nvml")) options.nvml = o.Get("nvml").ToBoolean();
    if (o.Has("nvmlLibPath") && o.Get("nvmlLibPath").IsString())
      options.nvmlLibPath = o.Get("nvmlLibPath").As<Napi::String>().Utf8Value();
    if (o.Has("deviceUuids") && o.Get("deviceUuids").IsArray()) {
      Napi::Array uuids = o.Get("deviceUuids").As<Napi::Array>();
      for (uint32_t i = 0; i < uuids.Length(); i++) options.deviceUuids.push_back(uuids.Get(i).ToString().Utf8Value());
    }
    StartInfo started;
    try {
      started = sampler_.start(options);
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("samplerTid", started.samplerTid);
    Napi::Array columns = Napi::Array::New(env, started.columns.size());
    for (size_t i = 0; i < started.columns.size(); i++) columns.Set(i, started.columns[i]);
    out.Set("columns", columns);
    Napi::Array unavailable = Napi::Array::New(env, started.unavailable.size());
    for (size_t i = 0; i < started.unavailable.size(); i++) {
      Napi::Object u = Napi::Object::New(env);
      u.Set("name", started.unavailable[i].name);
      u.Set("reason", started.unavailable[i].reason);
      unavailable.Set(i, u);
    }
    out.Set("unavailable", unavailable);
    Napi::Array devices = Napi::Array::New(env, started.devices.size());
    for (size_t i = 0; i < started.devices.size(); i++) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", started.devices[i].index);
      d.Set("uuid", started.devices[i].uuid);
      d.Set("name", started.devices[i].name);
      devices.Set(i, d);
    }
    out.Set("devices", devices);
    Napi::Array domains = Napi::Array::New(env, started.raplDomains.size());
    for (size_t i = 0; i < started.raplDomains.size(); i++) domains.Set(i, started.raplDomains[i]);
    out.Set("raplDomains", domains);
    if (!started.driverVersion.empty()) out.Set("driverVersion", started.driverVersion);
    if (!started.nvmlLibPath.empty()) out.Set("nvmlLibPath", started.nvmlLibPath);
    if (!started.processMemoryFunction.empty()) out.Set("processMemoryFunction", started.processMemoryFunction);
    return out;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    sampler_.stop();
    return info.Env().Undefined();
  }

  Napi::Value Mark(const Napi::CallbackInfo& info) {
    sampler_.mark();
    return info.Env().Undefined();
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Batch batch = sampler_.read();
    auto toArray = [&](const std::vector<double>& values) {
      Napi::Float64Array a = Napi::Float64Array::New(env, values.size());
      if (!values.empty()) std::memcpy(a.Data(), values.data(), values.size() * sizeof(double));
      return a;
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("timestampsMs", toArray(batch.timestampsMs));
    Napi::Array columns = Napi::Array::New(env, batch.columns.size());
    for (size_t i = 0; i < batch.columns.size(); i++) columns.Set(i, toArray(batch.columns[i]));
    out.Set("columns", columns);
    out.Set("dropped", static_cast<double>(batch.dropped));
    return out;
  }

  Napi::Value Running(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), sampler_.running()); }
  Napi::Value ThreadId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), sampler_.threadId()); }
};

static Napi::Value MonotonicNowMs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), monotonicNowMs());
}

static Napi::Value ResetPeakRss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  std::string reason;
  bool ok = resetPeakRss(info[0].As<Napi::Number>().Int32Value(), &reason);
  out.Set("ok", ok);
  if (!ok) out.Set("reason", reason);
  return out;
}

// Loads NVML once and lists its devices, without sampling (for probes and UUID mapping).
static Napi::Value NvmlProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string libPath;
  if (info.Length() > 0 && info[0].IsString()) libPath = info[0].As<Napi::String>().Utf8Value();
  Napi::Object out = Napi::Object::New(env);
  Nvml& nvml = Nvml::instance();
  std::string reason;
  if (!nvml.acquire(libPath, &reason)) {
    out.Set("ok", false);
    out.Set("reason", reason);
    return out;
  }
  const NvmlApi& api = nvml.api();
  out.Set("ok", true);
  out.Set("libPath", nvml.libPath());
  char text[256];
  if (api.systemGetDriverVersion != nullptr && api.systemGetDriverVersion(text, sizeof text) == NVML_SUCCESS)
    out.Set("driverVersion", std::string(text));
  unsigned count = 0;
  Napi::Array devices = Napi::Array::New(env);
  if (api.deviceGetCount(&count) == NVML_SUCCESS) {
    for (unsigned i = 0; i < count; i++) {
      nvmlDevice_t handle;
      if (api.deviceGetHandleByIndex(i, &handle) != NVML_SUCCESS) continue;
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", i);
      if (api.deviceGetUUID(handle, text, sizeof text) == NVML_SUCCESS) d.Set("uuid", std::string(text));
      if (api.deviceGetName != nullptr && api.deviceGetName(handle, text, sizeof text) == NVML_SUCCESS)
        d.Set("name", std::string(text));
      NvmlMemory mem;
      if (api.deviceGetMemoryInfo != nullptr && api.deviceGetMemoryInfo(handle, &mem) == NVML_SUCCESS)
        d.Set("memoryTotalBytes", static_cast<double>(mem.total));
      devices.Set(devices.Length(), d);
    }
  }
  out.Set("devices", devices);
  nvml.release();
  return out;
}

static void StopAllAtTeardown(void*) { Sampler::stopAll(); }
static void StopAllAtExit() { Sampler::stopAll(); }

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Samplers are joined when the environment is torn down, and again at exit() (process.exit skips some teardown).
  napi_add_env_cleanup_hook(env, StopAllAtTeardown, nullptr);
  static bool atexitRegistered = false;
  if (!atexitRegistered) {
    std::atexit(StopAllAtExit);
    atexitRegistered = true;
  }
  exports.Set("version", kAddonVersion);
  exports.Set("Sampler", SamplerWrap::Define(env));
  exports.Set("monotonicNowMs", Napi::Function::New(env, MonotonicNowMs));
  exports.Set("resetPeakRss", Napi::Function::New(env, ResetPeakRss));
  exports.Set("nvmlProbe", Napi::Function::New(env, NvmlProbe));
  return exports;
}

}  // namespace effbench

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return effbench::Init(env, exports); }

NODE_API_MODULE(effbench_native, InitModule)
