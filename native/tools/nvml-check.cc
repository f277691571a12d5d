// A Node-free driver of the sampler, for GPU machines (they have no Node): runs a command, samples its process
// tree and every NVML device, and writes the raw rows (trace.csv) and what was unavailable (info.json) to a folder,
// plus the sampler thread's own CPU time. The rows are analysed back here with src/measure/sampler-metrics.ts.
//   nvml-check OUT_DIR HZ -- command args...
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "../src/sampler.h"

using namespace effbench;

static std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

static double schedNs(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  double ns = NAN;
  f >> ns;
  return ns;
}

// Mean wall time of each NVML call the sampler makes (NVML's cost decides which calls run on every row).
static int timeCalls() {
  Nvml& nvml = Nvml::instance();
  std::string reason;
  if (!nvml.acquire("", &reason)) {
    std::printf("%s\n", reason.c_str());
    return 1;
  }
  const NvmlApi& api = nvml.api();
  nvmlDevice_t d;
  api.deviceGetHandleByIndex(0, &d);
  unsigned v;
  unsigned long long v64;
  NvmlMemory mem;
  NvmlUtilization util;
  std::vector<NvmlProcessInfoV2> procs(64);
  auto time = [](const char* name, auto call) {
    const int n = 30;
    double t0 = monotonicNowMs();
    int rc = 0;
    for (int i = 0; i < n; i++) rc = call();
    std::printf("%-40s %9.1f us  rc=%d\n", name, (monotonicNowMs() - t0) * 1e3 / n, rc);
  };
  time("nvmlDeviceGetMemoryInfo", [&] { return api.deviceGetMemoryInfo(d, &mem); });
  time("nvmlDeviceGetUtilizationRates", [&] { return api.deviceGetUtilizationRates(d, &util); });
  time("nvmlDeviceGetPowerUsage", [&] { return api.deviceGetPowerUsage(d, &v); });
  time("nvmlDeviceGetTotalEnergyConsumption", [&] { return api.deviceGetTotalEnergyConsumption(d, &v64); });
  time("nvmlDeviceGetClockInfo(SM)", [&] { return api.deviceGetClockInfo(d, NVML_CLOCK_SM, &v); });
  time("nvmlDeviceGetClockInfo(MEM)", [&] { return api.deviceGetClockInfo(d, NVML_CLOCK_MEM, &v); });
  time("nvmlDeviceGetEnforcedPowerLimit", [&] { return api.deviceGetEnforcedPowerLimit(d, &v); });
  time("nvmlDeviceGetTemperature", [&] { return api.deviceGetTemperature(d, NVML_TEMPERATURE_GPU, &v); });
  time("nvmlDeviceGetCurrentClocksEventReasons", [&] { return api.deviceGetClocksEventReasons(d, &v64); });
  time("nvmlDeviceGetComputeRunningProcesses_v3", [&] {
    unsigned count = 64;
    return api.deviceGetProcessesV3(d, &count, procs.data());
  });
  nvml.release();
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--time-calls") return timeCalls();
  if (argc < 5 || std::string(argv[3]) != "--") {
    std::fprintf(stderr, "usage: nvml-check OUT_DIR HZ -- command args...\n");
    return 2;
  }
  std::string outDir = argv[1];
  double hz = std::atof(argv[2]);
  pid_t child = fork();
  if (child == 0) {
    execvp(argv[4], argv + 4);
    std::perror("exec");
    _exit(127);
  }
  Sampler sampler;
  SamplerOptions options;
  options.pids = {child};
  options.hz = hz;
  options.nvml = true;
  if (const char* full = std::getenv("FULL_HZ")) options.fullHz = std::atof(full);
  if (const char* energy = std::getenv("ENERGY_HZ")) options.energyHz = std::atof(energy);
  StartInfo info = sampler.start(options);
  double cpu0 = schedNs(info.samplerTid);
  double wall0 = monotonicNowMs();
  std::vector<Batch> batches;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    usleep(200000);
    batches.push_back(sampler.read());
  }
  double cpu1 = schedNs(info.samplerTid);
  double wall1 = monotonicNowMs();
  sampler.stop();
  batches.push_back(sampler.read());

  std::ofstream csv(outDir + "/trace.csv");
  csv.precision(17);
  csv << "t_ms";
  for (const std::string& c : info.columns) csv << "," << c;
  csv << "\n";
  size_t rows = 0;
  for (const Batch& b : batches) {
    for (size_t i = 0; i < b.timestampsMs.size(); i++, rows++) {
      csv << b.timestampsMs[i];
      for (const auto& col : b.columns) {
        csv << ",";
        if (std::isfinite(col[i])) csv << col[i];
      }
      csv << "\n";
    }
  }
  std::ofstream json(outDir + "/info.json");
  json << "{\"hz\":" << hz << ",\"rows\":" << rows << ",\"driverVersion\":" << quoted(info.driverVersion)
       << ",\"nvmlLibPath\":" << quoted(info.nvmlLibPath) << ",\"processMemoryFunction\":" << quoted(info.processMemoryFunction)
       << ",\"samplerTid\":" << info.samplerTid << ",\"samplerCpuMs\":" << (cpu1 - cpu0) / 1e6
       << ",\"wallMs\":" << (wall1 - wall0) << ",\"childPid\":" << child << ",\"childStatus\":" << status << ",\"devices\":[";
  for (size_t i = 0; i < info.devices.size(); i++)
    json << (i ? "," : "") << "{\"index\":" << info.devices[i].index << ",\"uuid\":" << quoted(info.devices[i].uuid)
         << ",\"name\":" << quoted(info.devices[i].name) << "}";
  json << "],\"unavailable\":{";
  for (size_t i = 0; i < info.unavailable.size(); i++)
    json << (i ? "," : "") << quoted(info.unavailable[i].name) << ":" << quoted(info.unavailable[i].reason);
  json << "},\"raplDomains\":[";
  for (size_t i = 0; i < info.raplDomains.size(); i++) json << (i ? "," : "") << quoted(info.raplDomains[i]);
  json << "]}\n";
  std::printf("rows %zu, sampler thread %.1f ms CPU over %.0f ms wall (%.3f%% of one core, %.1f us per row)\n", rows,
              (cpu1 - cpu0) / 1e6, wall1 - wall0, (cpu1 - cpu0) / 1e4 / (wall1 - wall0), (cpu1 - cpu0) / 1e3 / rows);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
