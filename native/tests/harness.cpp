// gatewise native tests — runner. Exit status 0 when nothing failed; skips are printed.
// After each case that compared values, a line `maxerr <case> <max abs err> <tol used> <what>
// (<n> checks)` says how close it came, not only whether it passed: the largest |got - want|
// over its expect_close checks, the largest |got - want| / (atol + rtol*|want|) (1 = at the
// tolerance) and the check that had it (native/scripts/gpu-report.js reads these lines).
#include "harness.h"

#include <cstring>

namespace gwtest {

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

/// The running case's closest approach to its tolerances, for its maxerr line.
struct CaseError {
  int checks = 0;
  double abs_err = 0, used = 0;
  std::string what;
};
static CaseError g_case_error;

template <typename W>
static void close_impl(const std::vector<float>& got, const std::vector<W>& want, double rtol, double atol,
                       const char* what) {
  GW_EXPECT(got.size() == want.size(), what, ": size ", got.size(), " vs ", want.size());
  size_t bad = 0, first = 0;
  double worst = 0, used = 0;  // max |got - want|, and max of it over its tolerance
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], w = static_cast<double>(want[i]);
    double err = std::fabs(g - w);
    bool ok = std::isfinite(g) == std::isfinite(w) && (!std::isfinite(w) || err <= atol + rtol * std::fabs(w));
    if (!ok) {
      if (!bad) first = i;
      ++bad;
    }
    if (std::isfinite(err) && err > worst) worst = err;
    if (std::isfinite(err) && std::isfinite(w)) used = std::fmax(used, err / (atol + rtol * std::fabs(w)));
  }
  if (bad && used <= 1) used = INFINITY;  // a non-finite mismatch
  CaseError& ce = g_case_error;
  ce.abs_err = std::fmax(ce.abs_err, worst);
  if (ce.checks++ == 0 || used > ce.used) {
    ce.used = used;
    ce.what = what;
  }
  GW_EXPECT(bad == 0, what, ": ", bad, " of ", got.size(), " elements differ; first at ", first, " got ",
            got[first], " want ", static_cast<double>(want[first]), " (max abs err ", worst, ")");
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol, double atol,
                  const char* what) {
  close_impl(got, want, rtol, atol, what);
}
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol,
                  const char* what) {
  close_impl(got, want, rtol, atol, what);
}

}  // namespace gwtest

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0, skipped = 0;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // into a pipe too: a crash keeps the lines before it
  if (!gwtest::has_cuda()) std::printf("note: CUDA parity cases skip: %s\n", gw::cudart::unavailable_reason().c_str());
  for (const auto& c : gwtest::registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    gwtest::g_case_error = {};
    try {
      c.fn();
      ++passed;
      std::printf("ok    %s\n", c.name);
    } catch (const gwtest::Skip& s) {
      ++skipped;
      std::printf("skip  %s (%s)\n", c.name, s.what());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL  %s: %s\n", c.name, e.what());
    }
    const gwtest::CaseError& ce = gwtest::g_case_error;
    if (ce.checks > 0)
      std::printf("maxerr %s %.3e %.3f %s (%d checks)\n", c.name, ce.abs_err, ce.used, ce.what.c_str(), ce.checks);
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
