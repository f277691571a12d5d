// Software perf counters (task-clock, context switches, page faults) per thread of the watched tree,
// read as one group per thread. Where perf_event_open is refused, the counters are unavailable with the reason.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace effbench {

struct PerfTotals {
  double taskClockNs = 0;
  double contextSwitches = 0;
  double pageFaults = 0;
};

class PerfCounters {
 public:
  // Opens a probe group on `probeTid`; false with `reason` when perf_event_open is not permitted.
  bool init(pid_t probeTid, std::string* reason);
  ~PerfCounters();
  // Opens groups on threads not seen before (new threads are counted from when they are first seen).
  void track(const std::vector<pid_t>& tids);
  // Totals over every thread ever tracked (an exited thread keeps its final count).
  PerfTotals read();

 private:
  static constexpr size_t kMaxThreads = 1024;
  int openGroup(pid_t tid, std::string* reason);
  std::map<pid_t, int> leaders_;  // tid -> group leader fd, -1 when it could not be opened
  std::vector<int> allFds_;
  bool excludeKernel_ = false;
};

}  // namespace effbench
