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
  std::size_t ok = 0;
  for (const auto& o : outcomes) {
    ok += o.match ? 1 : 0;
    if (!o.match || a.verbose) {
      std::cout << fmt::format("search {} ({}): {}{}\n", o.search, o.strategy, o.match ? "match" : "MISMATCH",
                               o.detail.empty() ? "" : " - " + o.detail);
    }
  }
  std::cout << fmt::format("replayed {} searches from {}: {} match, {} differ or could not be replayed\n", outcomes.size(),
                           a.trace, ok, outcomes.size() - ok);
  return ok == outcomes.size() && !outcomes.empty() ? 0 : 1;
}

}  // namespace ttsearch::cli
