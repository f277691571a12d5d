// RAPL package energy from /sys/class/powercap (root overridable with $EFFBENCH_POWERCAP_ROOT for tests),
// accumulated across counter wraparound using each domain's max_energy_range_uj.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace effbench {

class Rapl {
 public:
  // False with `reason` when no top-level intel-rapl domain is readable.
  bool init(std::string* reason);
  Rapl() = default;
  ~Rapl();
  Rapl(const Rapl&) = delete;
  Rapl& operator=(const Rapl&) = delete;
  // Energy since init, in microjoules, summed over package domains.
  double readCumulativeUj();
  std::vector<std::string> domainNames() const;

 private:
  struct Domain {
    std::string path;
    std::string name;
    uint64_t maxRangeUj = 0;
    uint64_t last = 0;
    double cumulativeUj = 0;
    int fd = -1;
  };
  std::vector<Domain> domains_;
  bool readCounter(Domain& d, uint64_t* value);
};

}  // namespace effbench
