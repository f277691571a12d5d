// The sampler: a thread that reads every source at a fixed rate into a ring buffer of rows
// (timestamp + one double per available column). The addon reads counters; TypeScript decides what they mean.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nvml.h"
#include "perf.h"
#include "proc.h"
#include "rapl.h"

namespace effbench {

struct SamplerOptions {
  std::vector<pid_t> pids;
  double hz = 100;
  // Rates of the costlier sources (capped at hz). On a loaded H200 (driver 580) one NVML utilisation read took
  // ~270 us, the process list ~160 us and the total-energy counter ~4 ms of CPU, while the counter itself only
  // changes every ~100 ms: reading everything at 100 Hz cost 40% of a core.
  double fullHz = 10;   // VmHWM, CPU time, perf, RAPL, NVML utilisation/power/clocks/limits/temperature/processes
  double energyHz = 2;  // NVML's energy counter (plus every full row during the first second, and start/stop/mark)
  size_t capacityRows = 1 << 16;
  bool perf = true;
  bool rapl = true;
  bool nvml = false;
  std::vector<std::string> deviceUuids;  // empty with nvml: every device
  std::string nvmlLibPath;               // empty: $EFFBENCH_NVML_LIB or libnvidia-ml.so.1
};

struct Unavailable {
  std::string name;  // a column name or a group ("perf", "rapl", "nvml")
  std::string reason;
};

struct DeviceInfo {
  unsigned index = 0;
  std::string uuid;
  std::string name;
};

struct StartInfo {
  pid_t samplerTid = 0;
  std::vector<std::string> columns;  // row layout after the timestamp
  std::vector<Unavailable> unavailable;
  std::vector<DeviceInfo> devices;
  std::vector<std::string> raplDomains;
  std::string driverVersion;
  std::string nvmlLibPath;
  std::string processMemoryFunction;
};

struct Batch {
  std::vector<double> timestampsMs;
  std::vector<std::vector<double>> columns;  // same order as StartInfo::columns
  uint64_t dropped = 0;
};

double monotonicNowMs();

class Sampler {
 public:
  Sampler();
  ~Sampler();
  // Throws std::runtime_error when already running or the options are invalid.
  StartInfo start(const SamplerOptions& options);
  void stop();
  // Takes a full row with the energy counter now (at a measure window's start or end), off the schedule.
  void mark();
  Batch read();
  bool running() const { return thread_.joinable(); }
  pid_t threadId() const { return tid_.load(); }

  // Joins every running sampler; called at environment teardown and at exit.
  static void stopAll();

 private:
  struct Device {
    nvmlDevice_t handle = nullptr;
    DeviceInfo info;
    int memUsed = -1, memTotal = -1, procMem = -1, foreignProcs = -1, utilGpu = -1, utilMem = -1, power = -1,
        energy = -1, smClock = -1, memClock = -1, powerLimit = -1, temperature = -1, reasons = -1;
    bool energyStarted = false;
    unsigned long long lastEnergyMj = 0;
    double cumulativeEnergyMj = 0;
  };

  void loop();
  void pushRow();
  // `full` rows also read the slow sources (VmHWM, CPU time, perf, NVML's process list, clocks, limits,
  // temperature, event reasons); other rows hold NaN there. Full rows come at ~10 Hz and at start and stop.
  void sampleInto(double* row, bool full, bool energy);
  void sampleDevice(Device& d, double* row, bool full, bool energy);
  int addColumn(const std::string& name);
  void setupNvml(const SamplerOptions& options, StartInfo* info);
  void probeDevice(Device& d, const std::string& prefix, StartInfo* info);

  SamplerOptions options_;
  std::unique_ptr<ProcTree> tree_;
  std::unique_ptr<PerfCounters> perf_;
  std::unique_ptr<Rapl> rapl_;
  std::vector<Device> devices_;
  bool nvmlHeld_ = false;
  int processFunction_ = 0;  // 3, 2, 1: which nvmlDeviceGetComputeRunningProcesses variant
  std::vector<NvmlProcessInfoV2> procBuffer_;
  std::vector<NvmlProcessInfoV1> procBufferV1_;

  int colRss_ = -1, colHwm_ = -1, colCpu_ = -1, colProcs_ = -1, colTaskClock_ = -1, colCtxSw_ = -1, colFaults_ = -1,
      colRapl_ = -1;
  std::vector<std::string> columns_;
  size_t stride_ = 1;
  uint64_t sampleCount_ = 0;
  uint64_t fullEvery_ = 10;
  uint64_t energyEvery_ = 50;
  uint64_t denseEnergyRows_ = 100;  // the first second: energy on every full row, to see the counter's update period

  std::mutex ringMutex_;
  std::vector<double> ring_;
  size_t capacity_ = 0, head_ = 0, count_ = 0;
  uint64_t dropped_ = 0;
  std::vector<double> scratch_;

  std::thread thread_;
  // stop() writes to this eventfd; the thread sleeps in ppoll on it. (Not a condition variable: its
  // wait_until needs pthread_cond_clockwait, glibc 2.30+, and the addon is carried to older GPU machines.)
  int stopFd_ = -1;
  std::atomic<bool> stopRequested_{false};
  std::atomic<bool> markRequested_{false};
  std::atomic<pid_t> tid_{0};
};

}  // namespace effbench
