// The watched process tree from /proc: RSS (VmRSS), peak RSS (VmHWM) and CPU time, summed over the
// given roots and their descendants. File descriptors stay open and are re-read with pread, because
// procfs regenerates a file on a read from offset 0 and open/close would dominate the sampler's cost.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace effbench {

struct ProcTotals {
  double rssBytes = 0;   // from statm (the same counter as VmRSS), cheap enough for every row
  double hwmBytes = 0;   // sum of VmHWM of the live processes (full reads only)
  double cpuTimeMs = 0;  // utime+stime+cutime+cstime of the live processes (full reads only; reaped children land in cutime)
  int processCount = 0;
};

class ProcTree {
 public:
  explicit ProcTree(std::vector<pid_t> roots);
  ~ProcTree();
  ProcTree(const ProcTree&) = delete;
  ProcTree& operator=(const ProcTree&) = delete;

  // Finds descendants (children files, else a /proc scan by ppid) and drops exited processes.
  void rescan();
  // `full` also reads status (VmHWM) and stat (CPU time), which cost several times more than statm.
  ProcTotals read(bool full);
  // Thread ids of every watched process, as of the last rescan.
  const std::vector<pid_t>& tids() const { return tids_; }

 private:
  struct Proc {
    int statmFd = -1;
    int statusFd = -1;
    int statFd = -1;
  };
  std::vector<pid_t> roots_;
  std::map<pid_t, Proc> procs_;
  std::vector<pid_t> tids_;
  bool childrenFilesWork_ = true;
  char buffer_[4096];

  std::vector<pid_t> descendants();
  void closeProc(Proc& p);
};

// Writes "5" to /proc/<pid>/clear_refs, which resets VmHWM to the current RSS (Linux >= 4.0).
bool resetPeakRss(pid_t pid, std::string* reason);

std::vector<pid_t> listTids(pid_t pid);

}  // namespace effbench
