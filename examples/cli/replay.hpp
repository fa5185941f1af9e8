#pragma once
// `ttsearch replay`: recompute every search's choice from an audit trace and compare.
#include <iostream>

#include <ttsearch/strategies/replay.hpp>

namespace ttsearch::cli {

struct ReplayArgs {
  std::string trace;
  bool verbose = false;
};

inline int run_replay(const ReplayArgs& a) {
  const auto outcomes = replay_file(a.trace);
  std::size_t ok = 0, failed = 0;
  for (const auto& o : outcomes) {
    ok += o.match ? 1 : 0;
    failed += o.failed ? 1 : 0;
    if (!o.match || a.verbose) {
      std::cout << fmt::format("search {} ({}): {}{}\n", o.search, o.strategy, o.match ? "match" : o.failed ? "FAILED" : "MISMATCH",
                               o.detail.empty() ? "" : " - " + o.detail);
    }
  }
  const std::size_t differ = outcomes.size() - ok - failed;
  std::cout << fmt::format("replayed {} searches from {}: {} match, {} differ or could not be replayed, {} failed when run "
                           "(error recorded, nothing to replay)\n",
                           outcomes.size(), a.trace, ok, differ, failed);
  // 0: every search that ran to its end replays exactly; failed searches are reported, not mismatches
  return differ == 0 && !outcomes.empty() ? 0 : 1;
}

}  // namespace ttsearch::cli
