#include "sampler.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

namespace effbench {

double monotonicNowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Leaked on purpose: at exit the registry must outlive every sampler thread.
static std::mutex* registryMutex = new std::mutex();
static std::set<Sampler*>* registry = new std::set<Sampler*>();

void Sampler::stopAll() {
  std::vector<Sampler*> all;
  {
    std::lock_guard<std::mutex> lock(*registryMutex);
    all.assign(registry->begin(), registry->end());
  }
  for (Sampler* s : all) s->stop();
}

Sampler::Sampler() {
  std::lock_guard<std::mutex> lock(*registryMutex);
  registry->insert(this);
}

Sampler::~Sampler() {
  stop();
  if (stopFd_ >= 0) close(stopFd_);
  std::lock_guard<std::mutex> lock(*registryMutex);
  registry->erase(this);
}

int Sampler::addColumn(const std::string& name) {
  columns_.push_back(name);
  return static_cast<int>(columns_.size()) - 1;
}

void Sampler::probeDevice(Device& d, const std::string& prefix, StartInfo* info) {
  Nvml& nvml = Nvml::instance();
  const NvmlApi& api = nvml.api();
  // Each metric is probed once: a missing symbol or an error here makes it unavailable with the reason.
  auto check = [&](const char* symbol, bool present, const std::string& column, auto call) -> int {
    if (!present) {
      info->unavailable.push_back({prefix + column, nvml.missingSymbolReason(symbol)});
      return -1;
    }
    nvmlReturn_t rc = call();
    if (rc != NVML_SUCCESS) {
      info->unavailable.push_back({prefix + column, std::string(symbol) + ": " + nvml.errorText(rc)});
      return -1;
    }
    return addColumn(prefix + column);
  };
  NvmlMemory mem;
  d.memUsed = check("nvmlDeviceGetMemoryInfo", api.deviceGetMemoryInfo != nullptr, "memory_used_bytes",
                    [&] { return api.deviceGetMemoryInfo(d.handle, &mem); });
  if (d.memUsed >= 0) d.memTotal = addColumn(prefix + "memory_total_bytes");
  if (processFunction_ != 0) {
    d.procMem = addColumn(prefix + "process_memory_bytes");
    d.foreignProcs = addColumn(prefix + "foreign_process_count");
  } else {
    info->unavailable.push_back(
        {prefix + "process_memory_bytes", nvml.missingSymbolReason("nvmlDeviceGetComputeRunningProcesses(_v3/_v2)")});
  }
  NvmlUtilization util;
  d.utilGpu = check("nvmlDeviceGetUtilizationRates", api.deviceGetUtilizationRates != nullptr, "utilization_gpu_pct",
                    [&] { return api.deviceGetUtilizationRates(d.handle, &util); });
  if (d.utilGpu >= 0) d.utilMem = addColumn(prefix + "utilization_memory_pct");
  unsigned value;
  unsigned long long value64;
  d.power = check("nvmlDeviceGetPowerUsage", api.deviceGetPowerUsage != nullptr, "power_mw",
                  [&] { return api.deviceGetPowerUsage(d.handle, &value); });
  d.energy = check("nvmlDeviceGetTotalEnergyConsumption", api.deviceGetTotalEnergyConsumption != nullptr, "energy_mj",
                   [&] { return api.deviceGetTotalEnergyConsumption(d.handle, &value64); });
  d.smClock = check("nvmlDeviceGetClockInfo", api.deviceGetClockInfo != nullptr, "sm_clock_mhz",
                    [&] { return api.deviceGetClockInfo(d.handle, NVML_CLOCK_SM, &value); });
  d.memClock = check("nvmlDeviceGetClockInfo", api.deviceGetClockInfo != nullptr, "memory_clock_mhz",
                     [&] { return api.deviceGetClockInfo(d.handle, NVML_CLOCK_MEM, &value); });
  d.powerLimit = check("nvmlDeviceGetEnforcedPowerLimit", api.deviceGetEnforcedPowerLimit != nullptr, "power_limit_mw",
                       [&] { return api.deviceGetEnforcedPowerLimit(d.handle, &value); });
  d.temperature = check("nvmlDeviceGetTemperature", api.deviceGetTemperature != nullptr, "temperature_c",
                        [&] { return api.deviceGetTemperature(d.handle, NVML_TEMPERATURE_GPU, &value); });
  if (api.deviceGetClocksEventReasons != nullptr) {
    d.reasons = check("nvmlDeviceGetCurrentClocksEventReasons", true, "clock_event_reasons",
                      [&] { return api.deviceGetClocksEventReasons(d.handle, &value64); });
  } else {
    // Drivers before 535 only have the older name of the same bit mask.
    d.reasons = check("nvmlDeviceGetCurrentClocksThrottleReasons", api.deviceGetClocksThrottleReasons != nullptr,
                      "clock_event_reasons", [&] { return api.deviceGetClocksThrottleReasons(d.handle, &value64); });
  }
}

void Sampler::setupNvml(const SamplerOptions& options, StartInfo* info) {
  Nvml& nvml = Nvml::instance();
  std::string reason;
  if (!nvml.acquire(options.nvmlLibPath, &reason)) {
    info->unavailable.push_back({"nvml", reason});
    return;
  }
  nvmlHeld_ = true;
  const NvmlApi& api = nvml.api();
  info->nvmlLibPath = nvml.libPath();
  char text[256];
  if (api.systemGetDriverVersion != nullptr && api.systemGetDriverVersion(text, sizeof text) == NVML_SUCCESS)
    info->driverVersion = text;
  if (api.deviceGetProcessesV3 != nullptr) {
    processFunction_ = 3;
    info->processMemoryFunction = "nvmlDeviceGetComputeRunningProcesses_v3";
  } else if (api.deviceGetProcessesV2 != nullptr) {
    processFunction_ = 2;
    info->processMemoryFunction = "nvmlDeviceGetComputeRunningProcesses_v2";
  } else if (api.deviceGetProcessesV1 != nullptr) {
    processFunction_ = 1;
    info->processMemoryFunction = "nvmlDeviceGetComputeRunningProcesses";
  }
  unsigned count = 0;
  nvmlReturn_t rc = api.deviceGetCount(&count);
  if (rc != NVML_SUCCESS) {
    info->unavailable.push_back({"nvml", "nvmlDeviceGetCount: " + nvml.errorText(rc)});
    return;
  }
  // Devices are matched by UUID: NVML's indices follow PCI order and ignore CUDA_VISIBLE_DEVICES.
  std::vector<Device> all;
  for (unsigned i = 0; i < count; i++) {
    Device d;
    d.info.index = i;
    if (api.deviceGetHandleByIndex(i, &d.handle) != NVML_SUCCESS) continue;
    if (api.deviceGetUUID(d.handle, text, sizeof text) == NVML_SUCCESS) d.info.uuid = text;
    if (api.deviceGetName != nullptr && api.deviceGetName(d.handle, text, sizeof text) == NVML_SUCCESS) d.info.name = text;
    all.push_back(d);
  }
  if (options.deviceUuids.empty()) {
    devices_ = all;
  } else {
    for (const std::string& wanted : options.deviceUuids) {
      bool found = false;
      for (const Device& d : all) {
        if (d.info.uuid == wanted) {
          devices_.push_back(d);
          found = true;
          break;
        }
      }
      if (!found) info->unavailable.push_back({"nvml:" + wanted, "no NVML device has UUID " + wanted});
    }
  }
  for (size_t k = 0; k < devices_.size(); k++) {
    info->devices.push_back(devices_[k].info);
    probeDevice(devices_[k], "gpu" + std::to_string(k) + ".", info);
  }
}

StartInfo Sampler::start(const SamplerOptions& options) {
  if (running()) throw std::runtime_error("the sampler is already running; stop() it first");
  if (!(options.hz > 0 && options.hz <= 10000)) throw std::runtime_error("hz must be in (0, 10000]");
  options_ = options;
  columns_.clear();
  devices_.clear();
  perf_.reset();
  rapl_.reset();
  processFunction_ = 0;
  colRss_ = colHwm_ = colCpu_ = colProcs_ = colTaskClock_ = colCtxSw_ = colFaults_ = colRapl_ = -1;
  StartInfo info;

  if (!options.pids.empty()) {
    tree_ = std::make_unique<ProcTree>(options.pids);
    colRss_ = addColumn("rss_bytes");
    colHwm_ = addColumn("hwm_bytes");
    colCpu_ = addColumn("cpu_time_ms");
    colProcs_ = addColumn("process_count");
    if (options.perf) {
      std::string reason;
      auto perf = std::make_unique<PerfCounters>();
      if (perf->init(options.pids.front(), &reason)) {
        perf->track(tree_->tids());
        perf_ = std::move(perf);
        colTaskClock_ = addColumn("perf_task_clock_ns");
        colCtxSw_ = addColumn("perf_context_switches");
        colFaults_ = addColumn("perf_page_faults");
      } else {
        info.unavailable.push_back({"perf", reason});
      }
    }
  } else {
    tree_.reset();
    info.unavailable.push_back({"proc", "no pids given to watch"});
  }
  if (options.rapl) {
    std::string reason;
    auto rapl = std::make_unique<Rapl>();
    if (rapl->init(&reason)) {
      info.raplDomains = rapl->domainNames();
      rapl_ = std::move(rapl);
      colRapl_ = addColumn("rapl_energy_uj");
    } else {
      info.unavailable.push_back({"rapl", reason});
    }
  }
  if (options.nvml) setupNvml(options, &info);

  stride_ = columns_.size() + 1;
  capacity_ = options.capacityRows > 0 ? options.capacityRows : 1;
  ring_.assign(capacity_ * stride_, 0.0);
  scratch_.assign(stride_, 0.0);
  head_ = count_ = 0;
  dropped_ = 0;
  sampleCount_ = 0;
  auto every = [&](double rate) { return static_cast<uint64_t>(std::max(1.0, std::round(options.hz / std::max(rate, 1e-3)))); };
  fullEvery_ = every(options.fullHz);
  energyEvery_ = every(options.energyHz);
  denseEnergyRows_ = static_cast<uint64_t>(std::ceil(options.hz));
  stopRequested_ = false;
  markRequested_ = false;
  tid_ = 0;
  if (stopFd_ < 0) stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
  thread_ = std::thread(&Sampler::loop, this);
  // The thread publishes its tid first thing (for the overhead check, which reads /proc/self/task/<tid>/stat).
  while (tid_.load() == 0) {
    timespec pause = {0, 50000};
    nanosleep(&pause, nullptr);
  }
  info.samplerTid = tid_.load();
  info.columns = columns_;
  return info;
}

void Sampler::stop() {
  if (!thread_.joinable()) return;
  stopRequested_ = true;
  uint64_t one = 1;
  if (write(stopFd_, &one, sizeof one) != sizeof one) {
    // An eventfd write only fails on counter overflow, which cannot happen here.
  }
  thread_.join();
  perf_.reset();
  rapl_.reset();
  tree_.reset();
  if (nvmlHeld_) {
    Nvml::instance().release();
    nvmlHeld_ = false;
  }
}

void Sampler::mark() {
  if (!thread_.joinable()) return;
  markRequested_ = true;
  uint64_t one = 1;
  if (write(stopFd_, &one, sizeof one) != sizeof one) {
    // Only fails on counter overflow.
  }
}

void Sampler::pushRow() {
  std::lock_guard<std::mutex> lock(ringMutex_);
  std::memcpy(&ring_[head_ * stride_], scratch_.data(), stride_ * sizeof(double));
  head_ = (head_ + 1) % capacity_;
  if (count_ < capacity_) {
    count_++;
  } else {
    dropped_++;  // the reader fell behind: the oldest row is overwritten
  }
}

void Sampler::loop() {
  prctl(PR_SET_NAME, "effbench-sample", 0, 0, 0);
  tid_ = static_cast<pid_t>(syscall(SYS_gettid));
  const double periodMs = 1e3 / options_.hz;
  double next = monotonicNowMs();
  pollfd wake = {stopFd_, POLLIN, 0};
  while (true) {
    bool full = sampleCount_ % fullEvery_ == 0;
    bool energy = sampleCount_ % energyEvery_ == 0 || (full && sampleCount_ < denseEnergyRows_);
    sampleInto(scratch_.data(), full, energy);
    pushRow();
    next += periodMs;
    double now = monotonicNowMs();
    if (next < now) next = now;  // fell behind: skip rather than burst
    double waitMs = next - now;
    timespec timeout = {static_cast<time_t>(waitMs / 1e3), static_cast<long>(std::fmod(waitMs, 1e3) * 1e6)};
    while (ppoll(&wake, 1, &timeout, nullptr) > 0) {
      uint64_t drained;
      if (::read(stopFd_, &drained, sizeof drained) < 0) {
        // Raced with another reader: nothing to drain.
      }
      // A last row on stop, so that the window's end is covered; a marked row at a window's edge.
      bool stopping = stopRequested_.load();
      if (stopping || markRequested_.exchange(false)) {
        sampleInto(scratch_.data(), true, true);
        pushRow();
      }
      if (stopping) return;
      double left = next - monotonicNowMs();
      if (left <= 0) break;
      timeout = {static_cast<time_t>(left / 1e3), static_cast<long>(std::fmod(left, 1e3) * 1e6)};
    }
  }
}

void Sampler::sampleInto(double* row, bool full, bool energy) {
  double* values = row + 1;
  row[0] = monotonicNowMs();
  if (tree_) {
    if (full && sampleCount_ > 0) {
      tree_->rescan();
      if (perf_) perf_->track(tree_->tids());
    }
    ProcTotals t = tree_->read(full);
    bool alive = t.processCount > 0;
    values[colRss_] = alive ? t.rssBytes : NAN;
    values[colHwm_] = full && alive ? t.hwmBytes : NAN;
    values[colCpu_] = full && alive ? t.cpuTimeMs : NAN;
    values[colProcs_] = t.processCount;
  }
  if (perf_) {
    PerfTotals p = full ? perf_->read() : PerfTotals{NAN, NAN, NAN};
    values[colTaskClock_] = p.taskClockNs;
    values[colCtxSw_] = p.contextSwitches;
    values[colFaults_] = p.pageFaults;
  }
  if (rapl_) values[colRapl_] = full ? rapl_->readCumulativeUj() : NAN;
  for (Device& d : devices_) sampleDevice(d, values, full, energy);
  sampleCount_++;
}

void Sampler::sampleDevice(Device& d, double* values, bool full, bool energy) {
  const NvmlApi& api = Nvml::instance().api();
  unsigned value;
  unsigned long long value64;
  if (d.memUsed >= 0) {
    NvmlMemory mem;
    bool ok = api.deviceGetMemoryInfo(d.handle, &mem) == NVML_SUCCESS;
    values[d.memUsed] = ok ? static_cast<double>(mem.used) : NAN;
    values[d.memTotal] = ok ? static_cast<double>(mem.total) : NAN;
  }
  if (!full) {
    for (int c : {d.procMem, d.foreignProcs, d.utilGpu, d.utilMem, d.power, d.smClock, d.memClock, d.powerLimit,
                  d.temperature, d.reasons})
      if (c >= 0) values[c] = NAN;
  }
  if (d.procMem >= 0 && full) {
    // NVML lists host PIDs: in another PID namespace none of ours match, and TypeScript falls back to device memory.
    std::set<pid_t> ours(options_.pids.begin(), options_.pids.end());
    if (tree_)
      for (pid_t tid : tree_->tids()) ours.insert(tid);
    unsigned count = 0;
    double matched = 0;
    int matches = 0, foreign = 0;
    nvmlReturn_t rc;
    auto tally = [&](unsigned pid, unsigned long long used) {
      if (ours.count(static_cast<pid_t>(pid)) != 0) {
        matches++;
        if (used != NVML_VALUE_NOT_AVAILABLE) matched += static_cast<double>(used);
      } else {
        foreign++;
      }
    };
    if (processFunction_ == 1) {
      if (procBufferV1_.size() < 64) procBufferV1_.resize(64);
      count = static_cast<unsigned>(procBufferV1_.size());
      rc = api.deviceGetProcessesV1(d.handle, &count, procBufferV1_.data());
      if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
        procBufferV1_.resize(count + 16);
        count = static_cast<unsigned>(procBufferV1_.size());
        rc = api.deviceGetProcessesV1(d.handle, &count, procBufferV1_.data());
      }
      if (rc == NVML_SUCCESS)
        for (unsigned i = 0; i < count; i++) tally(procBufferV1_[i].pid, procBufferV1_[i].usedGpuMemory);
    } else {
      auto fn = processFunction_ == 3 ? api.deviceGetProcessesV3 : api.deviceGetProcessesV2;
      if (procBuffer_.size() < 64) procBuffer_.resize(64);
      count = static_cast<unsigned>(procBuffer_.size());
      rc = fn(d.handle, &count, procBuffer_.data());
      if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
        procBuffer_.resize(count + 16);
        count = static_cast<unsigned>(procBuffer_.size());
        rc = fn(d.handle, &count, procBuffer_.data());
      }
      if (rc == NVML_SUCCESS)
        for (unsigned i = 0; i < count; i++) tally(procBuffer_[i].pid, procBuffer_[i].usedGpuMemory);
    }
    values[d.procMem] = rc == NVML_SUCCESS && matches > 0 ? matched : NAN;
    values[d.foreignProcs] = rc == NVML_SUCCESS ? foreign : NAN;
  }
  if (d.utilGpu >= 0 && full) {
    NvmlUtilization util;
    bool ok = api.deviceGetUtilizationRates(d.handle, &util) == NVML_SUCCESS;
    values[d.utilGpu] = ok ? util.gpu : NAN;
    values[d.utilMem] = ok ? util.memory : NAN;
  }
  if (d.power >= 0 && full) values[d.power] = api.deviceGetPowerUsage(d.handle, &value) == NVML_SUCCESS ? value : NAN;
  if (d.energy >= 0 && !energy) values[d.energy] = NAN;
  if (d.energy >= 0 && energy) {
    if (api.deviceGetTotalEnergyConsumption(d.handle, &value64) == NVML_SUCCESS) {
      // Unsigned difference: exact across a wrap of the 64-bit counter.
      if (d.energyStarted) d.cumulativeEnergyMj += static_cast<double>(value64 - d.lastEnergyMj);
      d.energyStarted = true;
      d.lastEnergyMj = value64;
      values[d.energy] = d.cumulativeEnergyMj;
    } else {
      values[d.energy] = NAN;
    }
  }
  if (d.smClock >= 0 && full)
    values[d.smClock] = api.deviceGetClockInfo(d.handle, NVML_CLOCK_SM, &value) == NVML_SUCCESS ? value : NAN;
  if (d.memClock >= 0 && full)
    values[d.memClock] = api.deviceGetClockInfo(d.handle, NVML_CLOCK_MEM, &value) == NVML_SUCCESS ? value : NAN;
  if (d.powerLimit >= 0 && full)
    values[d.powerLimit] = api.deviceGetEnforcedPowerLimit(d.handle, &value) == NVML_SUCCESS ? value : NAN;
  if (d.temperature >= 0 && full)
    values[d.temperature] =
        api.deviceGetTemperature(d.handle, NVML_TEMPERATURE_GPU, &value) == NVML_SUCCESS ? value : NAN;
  if (d.reasons >= 0 && full) {
    auto fn = api.deviceGetClocksEventReasons != nullptr ? api.deviceGetClocksEventReasons
                                                         : api.deviceGetClocksThrottleReasons;
    values[d.reasons] = fn(d.handle, &value64) == NVML_SUCCESS ? static_cast<double>(value64) : NAN;
  }
}

Batch Sampler::read() {
  Batch batch;
  std::lock_guard<std::mutex> lock(ringMutex_);
  size_t ncols = stride_ - 1;
  batch.timestampsMs.resize(count_);
  batch.columns.assign(ncols, std::vector<double>(count_));
  size_t first = (head_ + capacity_ - count_) % capacity_;
  for (size_t i = 0; i < count_; i++) {
    const double* row = &ring_[((first + i) % capacity_) * stride_];
    batch.timestampsMs[i] = row[0];
    for (size_t c = 0; c < ncols; c++) batch.columns[c][i] = row[c + 1];
  }
  batch.dropped = dropped_;
  count_ = 0;
  dropped_ = 0;
  return batch;
}

}  // namespace effbench
