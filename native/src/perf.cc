#include "perf.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

namespace effbench {

static int perfOpen(pid_t tid, uint64_t config, int groupFd, bool excludeKernel) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = config;
  attr.read_format = PERF_FORMAT_GROUP;
  attr.exclude_kernel = excludeKernel ? 1 : 0;
  attr.exclude_hv = excludeKernel ? 1 : 0;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, tid, -1, groupFd, PERF_FLAG_FD_CLOEXEC));
}

int PerfCounters::openGroup(pid_t tid, std::string* reason) {
  int leader = perfOpen(tid, PERF_COUNT_SW_TASK_CLOCK, -1, excludeKernel_);
  if (leader < 0) {
    if (reason != nullptr) {
      int err = errno;
      std::string paranoid;
      std::ifstream("/proc/sys/kernel/perf_event_paranoid") >> paranoid;
      *reason = std::string("perf_event_open refused: ") + std::strerror(err) +
                (paranoid.empty() ? "" : " (kernel.perf_event_paranoid=" + paranoid + ")");
    }
    return -1;
  }
  int cs = perfOpen(tid, PERF_COUNT_SW_CONTEXT_SWITCHES, leader, excludeKernel_);
  int pf = perfOpen(tid, PERF_COUNT_SW_PAGE_FAULTS, leader, excludeKernel_);
  if (cs < 0 || pf < 0) {
    if (reason != nullptr) *reason = std::string("perf_event_open refused for a sibling counter: ") + std::strerror(errno);
    if (cs >= 0) close(cs);
    if (pf >= 0) close(pf);
    close(leader);
    return -1;
  }
  allFds_.push_back(cs);
  allFds_.push_back(pf);
  allFds_.push_back(leader);
  return leader;
}

bool PerfCounters::init(pid_t probeTid, std::string* reason) {
  int fd = openGroup(probeTid, reason);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    // A stricter perf_event_paranoid may still allow user-space-only counting.
    excludeKernel_ = true;
    fd = openGroup(probeTid, reason);
  }
  if (fd < 0) return false;
  leaders_[probeTid] = fd;
  return true;
}

PerfCounters::~PerfCounters() {
  for (int fd : allFds_) close(fd);
}

void PerfCounters::track(const std::vector<pid_t>& tids) {
  for (pid_t tid : tids) {
    if (leaders_.size() >= kMaxThreads) return;
    if (leaders_.count(tid) != 0) continue;
    int fd = openGroup(tid, nullptr);
    // A thread that exited since the rescan is simply not counted; remember it to avoid retrying.
    leaders_[tid] = fd;
  }
}

PerfTotals PerfCounters::read() {
  PerfTotals totals;
  uint64_t values[4];  // nr, then the three counters in group order
  for (auto& [tid, fd] : leaders_) {
    if (fd < 0) continue;
    if (::read(fd, values, sizeof values) != static_cast<ssize_t>(sizeof values) || values[0] != 3) continue;
    totals.taskClockNs += static_cast<double>(values[1]);
    totals.contextSwitches += static_cast<double>(values[2]);
    totals.pageFaults += static_cast<double>(values[3]);
  }
  return totals;
}

}  // namespace effbench
