#include "nvml.h"

#include <dlfcn.h>

#include <cstdlib>

namespace effbench {

Nvml& Nvml::instance() {
  static Nvml* nvml = new Nvml();  // never destroyed: the sampler thread may still use it during exit
  return *nvml;
}

template <typename Fn>
static void bind(void* handle, Fn*& slot, const char* name, const char* fallback = nullptr) {
  slot = reinterpret_cast<Fn*>(dlsym(handle, name));
  if (slot == nullptr && fallback != nullptr) slot = reinterpret_cast<Fn*>(dlsym(handle, fallback));
}

bool Nvml::acquire(const std::string& requestedPath, std::string* reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string path = requestedPath;
  if (path.empty()) {
    const char* env = std::getenv("EFFBENCH_NVML_LIB");
    path = env != nullptr && *env != '\0' ? env : "libnvidia-ml.so.1";
  }
  if (refs_ > 0) {
    if (path != loadedPath_) {
      *reason = "NVML is already in use from " + loadedPath_ + " in this process; cannot also load " + path;
      return false;
    }
    refs_++;
    return true;
  }
  if (handle_ != nullptr && path != loadedPath_) {
    // Only tests switch libraries (fake variants); the real driver library is never unloaded.
    dlclose(handle_);
    handle_ = nullptr;
  }
  if (handle_ == nullptr) {
    dlerror();
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* err = dlerror();
      *reason = "no NVML: dlopen(" + path + ") failed: " + (err != nullptr ? err : "unknown error");
      return false;
    }
    loadedPath_ = path;
    api_ = NvmlApi();
    bind(handle_, api_.init, "nvmlInit_v2", "nvmlInit");
    bind(handle_, api_.shutdown, "nvmlShutdown");
    bind(handle_, api_.errorString, "nvmlErrorString");
    bind(handle_, api_.systemGetDriverVersion, "nvmlSystemGetDriverVersion");
    bind(handle_, api_.deviceGetCount, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    bind(handle_, api_.deviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    bind(handle_, api_.deviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID");
    bind(handle_, api_.deviceGetUUID, "nvmlDeviceGetUUID");
    bind(handle_, api_.deviceGetName, "nvmlDeviceGetName");
    bind(handle_, api_.deviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo");
    bind(handle_, api_.deviceGetProcessesV3, "nvmlDeviceGetComputeRunningProcesses_v3");
    bind(handle_, api_.deviceGetProcessesV2, "nvmlDeviceGetComputeRunningProcesses_v2");
    bind(handle_, api_.deviceGetProcessesV1, "nvmlDeviceGetComputeRunningProcesses");
    bind(handle_, api_.deviceGetUtilizationRates, "nvmlDeviceGetUtilizationRates");
    bind(handle_, api_.deviceGetPowerUsage, "nvmlDeviceGetPowerUsage");
    bind(handle_, api_.deviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption");
    bind(handle_, api_.deviceGetClockInfo, "nvmlDeviceGetClockInfo");
    bind(handle_, api_.deviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit");
    bind(handle_, api_.deviceGetTemperature, "nvmlDeviceGetTemperature");
    bind(handle_, api_.deviceGetClocksEventReasons, "nvmlDeviceGetCurrentClocksEventReasons");
    bind(handle_, api_.deviceGetClocksThrottleReasons, "nvmlDeviceGetCurrentClocksThrottleReasons");
  }
  if (api_.init == nullptr || api_.deviceGetCount == nullptr || api_.deviceGetHandleByIndex == nullptr ||
      api_.deviceGetUUID == nullptr) {
    *reason = "no NVML: " + loadedPath_ + " lacks nvmlInit/nvmlDeviceGetCount/nvmlDeviceGetHandleByIndex/nvmlDeviceGetUUID";
    return false;
  }
  nvmlReturn_t rc = api_.init();
  if (rc != NVML_SUCCESS) {
    *reason = "no NVML: nvmlInit failed: " + errorText(rc);
    return false;
  }
  refs_ = 1;
  return true;
}

void Nvml::release() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (refs_ == 0) return;
  if (--refs_ == 0 && api_.shutdown != nullptr) api_.shutdown();
}

std::string Nvml::errorText(nvmlReturn_t code) const {
  std::string text = api_.errorString != nullptr ? api_.errorString(code) : "error";
  return text + " (NVML return code " + std::to_string(code) + ")";
}

std::string Nvml::missingSymbolReason(const char* symbol) const {
  return std::string(symbol) + " is missing from " + loadedPath_ + " (driver too old for it)";
}

}  // namespace effbench
