/* A fake libnvidia-ml for tests: every value comes from a script named by $EFFBENCH_FAKE_NVML_SCRIPT,
 * read at nvmlInit. Built twice: the full library, and with -DFAKE_NVML_OLD_DRIVER a pre-Volta-style
 * driver that lacks the energy counter, ClocksEventReasons and the _v2/_v3 process queries.
 *
 * Script: one setting per line, '#' starts a comment.
 *   driver_version 550.54.15
 *   device_count 2
 *   init_error 9                       nvmlInit fails with this code
 *   <d>.uuid GPU-...    <d>.name Fake H100
 *   <d>.<metric> <value> [@<call> <value>]...   the value from the <call>-th call (0-based) of its getter on
 *       metrics: memory_total memory_used utilization_gpu utilization_memory power_mw sm_clock mem_clock
 *                power_limit_mw temperature clock_event_reasons
 *   <d>.<metric> not_supported         the getter returns NVML_ERROR_NOT_SUPPORTED
 *   <d>.energy_start_mj <u64>          the energy counter's first value (may sit just below 2^64 to test wraparound)
 *   <d>.energy_step_mj <u64>           added on every call of nvmlDeviceGetTotalEnergyConsumption
 *   <d>.energy_rate_mw <u64>           added per second since nvmlInit (a steady power draw)
 *   <d>.energy_period_ms <u64>         the counter moves only every this many ms (real ones: ~100 ms), with energy_rate_mw
 *   <d>.energy not_supported
 *   <d>.process <pid> <usedBytes>      one line per process NVML lists on the device
 *   <d>.processes_children_of <ppid>   NVML lists every child process of <ppid>, its used memory being its host RSS
 *                                      (so a CPU worker's memory stands in for device memory in tests)
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#define MAX_DEVICES 8
#define MAX_STEPS 16
#define MAX_PROCS 32

enum { M_MEMORY_TOTAL, M_MEMORY_USED, M_UTIL_GPU, M_UTIL_MEM, M_POWER, M_SM_CLOCK, M_MEM_CLOCK, M_POWER_LIMIT,
       M_TEMPERATURE, M_REASONS, M_COUNT };
static const char* metricNames[M_COUNT] = {"memory_total", "memory_used", "utilization_gpu", "utilization_memory",
                                           "power_mw", "sm_clock", "mem_clock", "power_limit_mw", "temperature",
                                           "clock_event_reasons"};

typedef struct {
  int notSupported;
  int steps;
  unsigned long long fromCall[MAX_STEPS];
  unsigned long long value[MAX_STEPS];
  unsigned long long calls;
} Metric;

typedef struct {
  char uuid[96];
  char name[96];
  Metric metrics[M_COUNT];
  int energyNotSupported;
  unsigned long long energyStart, energyStep, energyRateMw, energyCalls, energyPeriodMs;
  int childrenOf;
  int procCount;
  unsigned int procPid[MAX_PROCS];
  unsigned long long procUsed[MAX_PROCS];
} Device;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialised = 0;
static int deviceCount = 1;
static int initError = 0;
static char driverVersion[64] = "999.99.99-fake";
static Device devices[MAX_DEVICES];
static struct timespec initTime;
static int initTimeSet = 0;

static void setDefaults(void) {
  memset(devices, 0, sizeof devices);
  deviceCount = 1;
  initError = 0;
  strcpy(driverVersion, "999.99.99-fake");
  for (int d = 0; d < MAX_DEVICES; d++) {
    snprintf(devices[d].uuid, sizeof devices[d].uuid, "GPU-fake0000-0000-0000-0000-00000000000%d", d);
    snprintf(devices[d].name, sizeof devices[d].name, "Fake GPU %d", d);
    unsigned long long defaults[M_COUNT] = {80ULL << 30, 1ULL << 30, 0, 0, 100000, 1980, 2619, 700000, 40, 0};
    for (int m = 0; m < M_COUNT; m++) {
      devices[d].metrics[m].steps = 1;
      devices[d].metrics[m].value[0] = defaults[m];
    }
  }
}

static char* trim(char* s) {
  while (isspace((unsigned char)*s)) s++;
  char* end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

static void parseLine(char* line) {
  char* hash = strchr(line, '#');
  if (hash) *hash = '\0';
  line = trim(line);
  if (!*line) return;
  char* rest = line;
  while (*rest && !isspace((unsigned char)*rest)) rest++;
  if (*rest) *rest++ = '\0';
  rest = trim(rest);
  const char* key = line;
  if (strcmp(key, "driver_version") == 0) { snprintf(driverVersion, sizeof driverVersion, "%s", rest); return; }
  if (strcmp(key, "device_count") == 0) { deviceCount = atoi(rest); return; }
  if (strcmp(key, "init_error") == 0) { initError = atoi(rest); return; }
  char* dot = strchr(key, '.');
  if (!dot) return;
  int d = atoi(key);
  if (d < 0 || d >= MAX_DEVICES) return;
  Device* dev = &devices[d];
  const char* field = dot + 1;
  if (strcmp(field, "uuid") == 0) { snprintf(dev->uuid, sizeof dev->uuid, "%s", rest); return; }
  if (strcmp(field, "name") == 0) { snprintf(dev->name, sizeof dev->name, "%s", rest); return; }
  if (strcmp(field, "energy") == 0) { dev->energyNotSupported = strcmp(rest, "not_supported") == 0; return; }
  if (strcmp(field, "energy_start_mj") == 0) { dev->energyStart = strtoull(rest, NULL, 0); return; }
  if (strcmp(field, "energy_step_mj") == 0) { dev->energyStep = strtoull(rest, NULL, 0); return; }
  if (strcmp(field, "energy_rate_mw") == 0) { dev->energyRateMw = strtoull(rest, NULL, 0); return; }
  if (strcmp(field, "energy_period_ms") == 0) { dev->energyPeriodMs = strtoull(rest, NULL, 0); return; }
  if (strcmp(field, "processes_children_of") == 0) { dev->childrenOf = atoi(rest); return; }
  if (strcmp(field, "process") == 0) {
    if (dev->procCount < MAX_PROCS) {
      char* end;
      dev->procPid[dev->procCount] = (unsigned int)strtoul(rest, &end, 10);
      dev->procUsed[dev->procCount] = strtoull(end, NULL, 0);
      dev->procCount++;
    }
    return;
  }
  for (int m = 0; m < M_COUNT; m++) {
    if (strcmp(field, metricNames[m]) != 0) continue;
    Metric* metric = &dev->metrics[m];
    if (strcmp(rest, "not_supported") == 0) { metric->notSupported = 1; return; }
    char* s = rest;
    char* end;
    metric->steps = 1;
    metric->fromCall[0] = 0;
    metric->value[0] = strtoull(s, &end, 0);
    s = end;
    while (metric->steps < MAX_STEPS) {
      while (isspace((unsigned char)*s)) s++;
      if (*s != '@') break;
      metric->fromCall[metric->steps] = strtoull(s + 1, &end, 0);
      metric->value[metric->steps] = strtoull(end, &end, 0);
      s = end;
      metric->steps++;
    }
    return;
  }
}

static void loadScript(void) {
  setDefaults();
  const char* path = getenv("EFFBENCH_FAKE_NVML_SCRIPT");
  if (!path || !*path) return;
  FILE* f = fopen(path, "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) parseLine(line);
  fclose(f);
}

typedef struct Device* nvmlDevice_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; } nvmlProcessInfo_v1_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_v2_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7

static int deviceIndex(nvmlDevice_t device) {
  int d = (int)((Device*)device - devices);
  return d >= 0 && d < deviceCount ? d : -1;
}

/* Returns the metric's scripted value for this call and counts the call. */
static int metricValue(nvmlDevice_t device, int m, unsigned long long* out) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  int d = deviceIndex(device);
  if (d < 0 || !out) return NVML_ERROR_INVALID_ARGUMENT;
  pthread_mutex_lock(&lock);
  Metric* metric = &devices[d].metrics[m];
  int rc = NVML_SUCCESS;
  if (metric->notSupported) {
    rc = NVML_ERROR_NOT_SUPPORTED;
  } else {
    unsigned long long value = metric->value[0];
    for (int i = 1; i < metric->steps; i++)
      if (metric->calls >= metric->fromCall[i]) value = metric->value[i];
    *out = value;
  }
  metric->calls++;
  pthread_mutex_unlock(&lock);
  return rc;
}

static int metricValue32(nvmlDevice_t device, int m, unsigned int* out) {
  unsigned long long value = 0;
  int rc = metricValue(device, m, &value);
  if (rc == NVML_SUCCESS) *out = (unsigned int)value;
  return rc;
}

int nvmlInit_v2(void) {
  pthread_mutex_lock(&lock);
  loadScript();
  int rc = initError;
  initialised = rc == 0;
  /* A real energy counter counts since the driver loaded: a second nvmlInit (another probe in the same process)
   * must not restart it, or the counter's update period would look as short as the time between inits. */
  if (!initTimeSet) {
    clock_gettime(CLOCK_MONOTONIC, &initTime);
    initTimeSet = 1;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
int nvmlInit(void) { return nvmlInit_v2(); }
int nvmlShutdown(void) { initialised = 0; return NVML_SUCCESS; }

const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

int nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  snprintf(version, length, "%s", driverVersion);
  return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  *count = (unsigned int)deviceCount;
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (index >= (unsigned int)deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
  *device = (nvmlDevice_t)&devices[index];
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  for (int d = 0; d < deviceCount; d++)
    if (strcmp(devices[d].uuid, uuid) == 0) { *device = (nvmlDevice_t)&devices[d]; return NVML_SUCCESS; }
  return NVML_ERROR_NOT_FOUND;
}

int nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  int d = deviceIndex(device);
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (d < 0) return NVML_ERROR_INVALID_ARGUMENT;
  snprintf(uuid, length, "%s", devices[d].uuid);
  return NVML_SUCCESS;
}

int nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  int d = deviceIndex(device);
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (d < 0) return NVML_ERROR_INVALID_ARGUMENT;
  snprintf(name, length, "%s", devices[d].name);
  return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  unsigned long long total = 0, used = 0;
  int rc = metricValue(device, M_MEMORY_TOTAL, &total);
  if (rc == NVML_SUCCESS) rc = metricValue(device, M_MEMORY_USED, &used);
  if (rc != NVML_SUCCESS) return rc;
  memory->total = total;
  memory->used = used;
  memory->free = total > used ? total - used : 0;
  return NVML_SUCCESS;
}

int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  unsigned int gpu = 0, mem = 0;
  int rc = metricValue32(device, M_UTIL_GPU, &gpu);
  if (rc == NVML_SUCCESS) rc = metricValue32(device, M_UTIL_MEM, &mem);
  if (rc != NVML_SUCCESS) return rc;
  utilization->gpu = gpu;
  utilization->memory = mem;
  return NVML_SUCCESS;
}

int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* mw) { return metricValue32(device, M_POWER, mw); }
int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int* mw) { return metricValue32(device, M_POWER_LIMIT, mw); }
int nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int* c) {
  if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
  return metricValue32(device, M_TEMPERATURE, c);
}
int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int* mhz) {
  if (type == 1) return metricValue32(device, M_SM_CLOCK, mhz);
  if (type == 2) return metricValue32(device, M_MEM_CLOCK, mhz);
  return NVML_ERROR_NOT_SUPPORTED;
}

int nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long* reasons) {
  return metricValue(device, M_REASONS, reasons);
}

/* Children of ppid from /proc, each with its RSS in bytes, into the device's process list. */
static void refreshChildren(Device* dev) {
  DIR* proc = opendir("/proc");
  if (!proc) return;
  long page = sysconf(_SC_PAGESIZE);
  dev->procCount = 0;
  struct dirent* entry;
  while ((entry = readdir(proc)) != NULL && dev->procCount < MAX_PROCS) {
    if (!isdigit((unsigned char)entry->d_name[0])) continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char* close = strrchr(buf, ')');
    int ppid = 0;
    if (!close || sscanf(close + 1, " %*c %d", &ppid) != 1 || ppid != dev->childrenOf) continue;
    snprintf(path, sizeof path, "/proc/%s/statm", entry->d_name);
    f = fopen(path, "r");
    if (!f) continue;
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    if (!ok) continue;
    dev->procPid[dev->procCount] = (unsigned int)atoi(entry->d_name);
    dev->procUsed[dev->procCount] = (unsigned long long)resident * (unsigned long long)page;
    dev->procCount++;
  }
  closedir(proc);
}

static int listProcesses(nvmlDevice_t device, unsigned int* count, void* infos, int v2) {
  int d = deviceIndex(device);
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (d < 0 || !count) return NVML_ERROR_INVALID_ARGUMENT;
  if (devices[d].childrenOf > 0) refreshChildren(&devices[d]);
  unsigned int n = (unsigned int)devices[d].procCount;
  if (*count < n) { *count = n; return NVML_ERROR_INSUFFICIENT_SIZE; }
  for (unsigned int i = 0; i < n; i++) {
    if (v2) {
      nvmlProcessInfo_v2_t* p = (nvmlProcessInfo_v2_t*)infos + i;
      p->pid = devices[d].procPid[i];
      p->usedGpuMemory = devices[d].procUsed[i];
      p->gpuInstanceId = p->computeInstanceId = 0xFFFFFFFFu;
    } else {
      nvmlProcessInfo_v1_t* p = (nvmlProcessInfo_v1_t*)infos + i;
      p->pid = devices[d].procPid[i];
      p->usedGpuMemory = devices[d].procUsed[i];
    }
  }
  *count = n;
  return NVML_SUCCESS;
}

int nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int* count, nvmlProcessInfo_v1_t* infos) {
  return listProcesses(device, count, infos, 0);
}

#ifndef FAKE_NVML_OLD_DRIVER
int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return listProcesses(device, count, infos, 1);
}
int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* count, nvmlProcessInfo_v2_t* infos) {
  return listProcesses(device, count, infos, 1);
}

int nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long* reasons) {
  return metricValue(device, M_REASONS, reasons);
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energyMj) {
  int d = deviceIndex(device);
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (d < 0 || !energyMj) return NVML_ERROR_INVALID_ARGUMENT;
  if (devices[d].energyNotSupported) return NVML_ERROR_NOT_SUPPORTED;
  pthread_mutex_lock(&lock);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double elapsedS = (double)(now.tv_sec - initTime.tv_sec) + (double)(now.tv_nsec - initTime.tv_nsec) / 1e9;
  if (devices[d].energyPeriodMs > 0) {
    double period = (double)devices[d].energyPeriodMs / 1000.0;
    elapsedS = period * (double)(unsigned long long)(elapsedS / period);
  }
  /* Unsigned arithmetic: the counter wraps at 2^64 like the real one would. */
  *energyMj = devices[d].energyStart + devices[d].energyCalls * devices[d].energyStep +
              (unsigned long long)(elapsedS * (double)devices[d].energyRateMw);
  devices[d].energyCalls++;
  pthread_mutex_unlock(&lock);
  return NVML_SUCCESS;
}
#endif
