// gatewise native tests — runner. Exit status 0 when nothing failed; skips are printed.
#include "harness.h"

#include <cstring>

namespace gwtest {

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

template <typename W>
static void close_impl(const std::vector<float>& got, const std::vector<W>& want, double rtol, double atol,
                       const char* what) {
  GW_EXPECT(got.size() == want.size(), what, ": size ", got.size(), " vs ", want.size());
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], w = static_cast<double>(want[i]);
    double err = std::fabs(g - w);
    bool ok = std::isfinite(g) == std::isfinite(w) && (!std::isfinite(w) || err <= atol + rtol * std::fabs(w));
    if (!ok) {
      if (!bad) first = i;
      ++bad;
    }
    if (std::isfinite(err) && err > worst) worst = err;
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
  if (!gwtest::has_cuda()) std::printf("note: CUDA parity cases skip: %s\n", gw::cudart::unavailable_reason().c_str());
  for (const auto& c : gwtest::registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
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
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
