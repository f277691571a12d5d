#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

namespace effbench {

static const double kTicksPerSecond = static_cast<double>(sysconf(_SC_CLK_TCK));
static const double kPageBytes = static_cast<double>(sysconf(_SC_PAGESIZE));

static bool readWhole(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  out->clear();
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fd);
  return true;
}

std::vector<pid_t> listTids(pid_t pid) {
  std::vector<pid_t> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return tids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    tids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  closedir(d);
  return tids;
}

ProcTree::ProcTree(std::vector<pid_t> roots) : roots_(std::move(roots)) { rescan(); }

ProcTree::~ProcTree() {
  for (auto& [pid, p] : procs_) closeProc(p);
}

void ProcTree::closeProc(Proc& p) {
  for (int* fd : {&p.statmFd, &p.statusFd, &p.statFd}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

std::vector<pid_t> ProcTree::descendants() {
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  for (pid_t r : roots_)
    if (seen.insert(r).second) out.push_back(r);
  if (childrenFilesWork_) {
    bool anyChildrenFile = false;
    bool anyTask = false;
    std::string text;
    for (size_t i = 0; i < out.size(); i++) {
      pid_t pid = out[i];
      for (pid_t tid : listTids(pid)) {
        anyTask = true;
        if (!readWhole("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/children", &text)) continue;
        anyChildrenFile = true;
        const char* s = text.c_str();
        char* end;
        for (long child = std::strtol(s, &end, 10); end != s; child = std::strtol(s, &end, 10)) {
          s = end;
          if (seen.insert(static_cast<pid_t>(child)).second) out.push_back(static_cast<pid_t>(child));
        }
      }
    }
    // A kernel without CONFIG_PROC_CHILDREN has no children files: fall back to scanning /proc by ppid.
    if (anyChildrenFile || !anyTask) return out;
    childrenFilesWork_ = false;
  }
  std::map<pid_t, std::vector<pid_t>> childrenOf;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  std::string text;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (!readWhole(std::string("/proc/") + e->d_name + "/stat", &text)) continue;
    size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    // After "pid (comm) " come state and ppid.
    pid_t ppid = static_cast<pid_t>(std::atoi(text.c_str() + close + 4));
    childrenOf[ppid].push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  closedir(d);
  for (size_t i = 0; i < out.size(); i++)
    for (pid_t child : childrenOf[out[i]])
      if (seen.insert(child).second) out.push_back(child);
  return out;
}

void ProcTree::rescan() {
  std::vector<pid_t> now = descendants();
  std::set<pid_t> live(now.begin(), now.end());
  for (auto it = procs_.begin(); it != procs_.end();) {
    if (live.count(it->first) == 0) {
      closeProc(it->second);
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  tids_.clear();
  for (pid_t pid : now) {
    if (procs_.count(pid) == 0) {
      Proc p;
      std::string base = "/proc/" + std::to_string(pid);
      p.statmFd = open((base + "/statm").c_str(), O_RDONLY | O_CLOEXEC);
      p.statusFd = open((base + "/status").c_str(), O_RDONLY | O_CLOEXEC);
      p.statFd = open((base + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
      if (p.statmFd < 0) {
        closeProc(p);
        continue;
      }
      procs_[pid] = p;
    }
    for (pid_t tid : listTids(pid)) tids_.push_back(tid);
  }
}

static double fieldKb(const char* text, const char* key) {
  const char* at = std::strstr(text, key);
  if (at == nullptr) return -1;
  return std::strtod(at + std::strlen(key), nullptr) * 1024.0;
}

ProcTotals ProcTree::read(bool full) {
  ProcTotals totals;
  for (auto& [pid, p] : procs_) {
    // statm: "size resident shared text lib data dt" in pages; a process that exited reads nothing.
    ssize_t n = pread(p.statmFd, buffer_, sizeof buffer_ - 1, 0);
    if (n <= 0) continue;
    buffer_[n] = '\0';
    char* end;
    std::strtod(buffer_, &end);
    totals.rssBytes += std::strtod(end, nullptr) * kPageBytes;
    totals.processCount++;
    if (!full) continue;
    if (p.statusFd >= 0) {
      n = pread(p.statusFd, buffer_, sizeof buffer_ - 1, 0);
      if (n > 0) {
        buffer_[n] = '\0';
        double hwm = fieldKb(buffer_, "VmHWM:");
        if (hwm >= 0) totals.hwmBytes += hwm;
      }
    }
    if (p.statFd >= 0) {
      n = pread(p.statFd, buffer_, sizeof buffer_ - 1, 0);
      if (n > 0) {
        buffer_[n] = '\0';
        const char* s = std::strrchr(buffer_, ')');
        if (s != nullptr) {
          // Fields after ")" start at field 3 (state); utime, stime, cutime, cstime are fields 14..17.
          s += 2;
          for (int field = 3; field < 14 && s != nullptr; field++) {
            s = std::strchr(s, ' ');
            if (s != nullptr) s++;
          }
          if (s != nullptr) {
            char* end;
            double ticks = 0;
            for (int i = 0; i < 4; i++) {
              ticks += std::strtod(s, &end);
              s = end;
            }
            totals.cpuTimeMs += ticks * 1000.0 / kTicksPerSecond;
          }
        }
      }
    }
  }
  return totals;
}

bool resetPeakRss(pid_t pid, std::string* reason) {
  std::string path = "/proc/" + std::to_string(pid) + "/clear_refs";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *reason = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  ssize_t n = write(fd, "5", 1);
  int err = errno;
  close(fd);
  if (n != 1) {
    *reason = "cannot write 5 to " + path + ": " + std::strerror(err) + " (needs Linux >= 4.0)";
    return false;
  }
  return true;
}

}  // namespace effbench
