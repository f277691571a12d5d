// NVML loaded with dlopen: nothing links against libnvidia-ml, so the addon loads on machines without a driver.
// Types are declared here (not from nvml.h) so that the addon builds with only Node's headers.
#pragma once
#include <mutex>
#include <string>

namespace effbench {

using nvmlReturn_t = int;
using nvmlDevice_t = void*;

constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr unsigned long long NVML_VALUE_NOT_AVAILABLE = ~0ULL;
constexpr int NVML_CLOCK_SM = 1;
constexpr int NVML_CLOCK_MEM = 2;
constexpr int NVML_TEMPERATURE_GPU = 0;

struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
// The unversioned process query takes the v1 layout; _v2 and _v3 take the v2 layout (nvmlProcessInfo_t).
struct NvmlProcessInfoV1 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
struct NvmlProcessInfoV2 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*errorString)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*systemGetDriverVersion)(char*, unsigned) = nullptr;
  nvmlReturn_t (*deviceGetCount)(unsigned*) = nullptr;
  nvmlReturn_t (*deviceGetHandleByIndex)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*deviceGetHandleByUUID)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*deviceGetUUID)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*deviceGetName)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*deviceGetMemoryInfo)(nvmlDevice_t, NvmlMemory*) = nullptr;
  nvmlReturn_t (*deviceGetProcessesV3)(nvmlDevice_t, unsigned*, NvmlProcessInfoV2*) = nullptr;
  nvmlReturn_t (*deviceGetProcessesV2)(nvmlDevice_t, unsigned*, NvmlProcessInfoV2*) = nullptr;
  nvmlReturn_t (*deviceGetProcessesV1)(nvmlDevice_t, unsigned*, NvmlProcessInfoV1*) = nullptr;
  nvmlReturn_t (*deviceGetUtilizationRates)(nvmlDevice_t, NvmlUtilization*) = nullptr;
  nvmlReturn_t (*deviceGetPowerUsage)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*deviceGetTotalEnergyConsumption)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*deviceGetClockInfo)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*deviceGetEnforcedPowerLimit)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*deviceGetTemperature)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*deviceGetClocksEventReasons)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*deviceGetClocksThrottleReasons)(nvmlDevice_t, unsigned long long*) = nullptr;
};

// One process-wide NVML session, reference-counted: the first acquire dlopens and initialises, the last
// release shuts NVML down (the fake re-reads its script on the next init, which the tests rely on).
class Nvml {
 public:
  static Nvml& instance();
  // libPath empty: $EFFBENCH_NVML_LIB, else "libnvidia-ml.so.1". False with `reason` when unusable.
  bool acquire(const std::string& libPath, std::string* reason);
  void release();
  const NvmlApi& api() const { return api_; }
  const std::string& libPath() const { return loadedPath_; }
  std::string errorText(nvmlReturn_t code) const;
  // Why a symbol is absent: the driver predates it.
  std::string missingSymbolReason(const char* symbol) const;

 private:
  std::mutex mutex_;
  void* handle_ = nullptr;
  std::string loadedPath_;
  int refs_ = 0;
  NvmlApi api_;
};

}  // namespace effbench
