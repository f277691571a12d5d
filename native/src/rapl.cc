#include "rapl.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace effbench {

bool Rapl::readCounter(Domain& d, uint64_t* value) {
  char buf[64];
  ssize_t n = pread(d.fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  *value = std::strtoull(buf, nullptr, 10);
  return true;
}

bool Rapl::init(std::string* reason) {
  const char* env = std::getenv("EFFBENCH_POWERCAP_ROOT");
  std::string root = env != nullptr && *env != '\0' ? env : "/sys/class/powercap";
  DIR* dir = opendir(root.c_str());
  if (dir == nullptr) {
    *reason = "no RAPL: " + root + " does not exist (" + std::strerror(errno) + ")";
    return false;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    // Top-level package domains only ("intel-rapl:0"); subdomains ("intel-rapl:0:0") are parts of them.
    if (name.rfind("intel-rapl:", 0) == 0 && std::count(name.begin(), name.end(), ':') == 1) names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    *reason = "no RAPL: " + root + " has no intel-rapl domain";
    return false;
  }
  std::string firstError;
  for (const std::string& name : names) {
    Domain d;
    d.path = root + "/" + name;
    std::ifstream(d.path + "/name") >> d.name;
    std::ifstream(d.path + "/max_energy_range_uj") >> d.maxRangeUj;
    d.fd = open((d.path + "/energy_uj").c_str(), O_RDONLY | O_CLOEXEC);
    if (d.fd < 0 || !readCounter(d, &d.last)) {
      if (firstError.empty())
        firstError = d.path + "/energy_uj is not readable: " + std::strerror(errno) +
                     (errno == EACCES ? " (root-only since Linux 5.10)" : "");
      if (d.fd >= 0) close(d.fd);
      continue;
    }
    domains_.push_back(d);
  }
  if (domains_.empty()) {
    *reason = "no RAPL: " + firstError;
    return false;
  }
  return true;
}

Rapl::~Rapl() {
  for (Domain& d : domains_) close(d.fd);
}

double Rapl::readCumulativeUj() {
  double total = 0;
  for (Domain& d : domains_) {
    uint64_t now;
    if (readCounter(d, &now)) {
      // The counter wraps to 0 after max_energy_range_uj.
      uint64_t delta = now >= d.last ? now - d.last : d.maxRangeUj - d.last + now;
      d.cumulativeUj += static_cast<double>(delta);
      d.last = now;
    }
    total += d.cumulativeUj;
  }
  return total;
}

std::vector<std::string> Rapl::domainNames() const {
  std::vector<std::string> out;
  for (const Domain& d : domains_) out.push_back(d.name.empty() ? d.path : d.name);
  return out;
}

}  // namespace effbench
