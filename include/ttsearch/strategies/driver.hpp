#pragma once
/// The driver: runs many resumable searches in lockstep rounds.
///
/// Each round: (1) every search waiting on "generate" is budget-checked; the requests of those
/// allowed are merged into ONE Generator call; each search gets its own children and is resumed;
/// (2) the same for "score" with ONE Verifier call. Searches run until every one has returned.
/// Request seeds depend only on the search's seed, its own call count and the request's index,
/// so a search's result does not depend on what else shared the batch.
///
/// Errors end one search, never the run. A backend that breaks its contract for one search's
/// requests (wrong counts, NaN scores, too many tokens) fails that search; a merged call that
/// throws, or breaks the contract as a whole, is retried once per search alone, so only the
/// searches whose own call fails again fail. A strategy that throws fails its search. A failed
/// search ends with stop_reason kFailed and `error` naming the problem and the cause (observers
/// get on_error, then on_search_end), so an audit trace is complete up to the failure; the
/// others finish. solve() (one search) rethrows the failure: BackendError for a backend, the
/// strategy's own exception otherwise.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ttsearch/budget/budget.hpp"
#include "ttsearch/core/concepts.hpp"
#include "ttsearch/strategies/search.hpp"
#include "ttsearch/trace/observer.hpp"

namespace ttsearch {

/// One search to run: a problem, a strategy (as a coroutine factory), its options (for the
/// trace), a budget and a seed.
struct SearchSpec {
  const Problem* problem = nullptr;
  std::string strategy;
  Json options = Json::object();
  Budget budget;
  std::uint64_t seed = 0;
  std::function<SearchTask(SearchContext&)> start;
};

namespace detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct RunningSearch {
  const SearchSpec* spec;
  std::unique_ptr<SearchContext> ctx;
  SearchTask task;
  ComputeLedger ledger;
  Clock::time_point started;
  bool finished = false;
};

template <class O>
void emit_marks(O& obs, std::size_t s, RunningSearch& rs) {
  for (const auto& m : rs.ctx->take_marks()) {
    obs.on_node_marked(s, rs.ctx->tree(), m.id, m.flag, rs.ctx->tree().node(m.id).reason);
  }
  auto touched = rs.ctx->take_touched();
  if (!touched.empty()) {
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    obs.on_nodes_updated(s, rs.ctx->tree(), touched);
  }
}

/// The per-token confidence contract: asked for, one finite value per token each; never a
/// confidence stop that was not asked for.
inline std::optional<std::string> check_token_values(const Step& step, const SamplingParams& params) {
  const auto n = static_cast<std::size_t>(step.num_tokens);
  if (params.token_confidence && (step.token_logprobs.size() != n || step.token_confidences.size() != n)) {
    return fmt::format("generator returned {} token log-probs and {} token confidences for a step of {} tokens sampled with "
                       "token_confidence (it must return one of each per token)",
                       step.token_logprobs.size(), step.token_confidences.size(), n);
  }
  for (float v : step.token_logprobs) {
    if (!std::isfinite(v)) return fmt::format("generator returned a non-finite token log-prob ({})", v);
  }
  for (float v : step.token_confidences) {
    if (!std::isfinite(v)) return fmt::format("generator returned a non-finite token confidence ({})", v);
  }
  if (step.finish == FinishReason::kLowConfidence && !params.confidence_stop) {
    return std::string("generator ended a step with finish 'confidence' but the request set no confidence_stop");
  }
  return std::nullopt;
}

}  // namespace detail

/// Runs `specs` to completion; results[i] belongs to specs[i]. A search that fails comes back
/// with failed() set (see the errors paragraph above); the others are unaffected.
template <Generator G, Verifier V, SearchObserver O>
std::vector<SearchResult> run_searches(std::span<const SearchSpec> specs, G& generator, V& verifier, O& observer) {
  using detail::Clock;
  std::vector<detail::RunningSearch> runs;
  runs.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SearchSpec& spec = specs[i];
    TTSEARCH_REQUIRE(spec.problem != nullptr, "search {}: no problem given", i);
    TTSEARCH_REQUIRE(static_cast<bool>(spec.start), "search {}: no strategy given", i);
    spec.budget.validate();
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SearchSpec& spec = specs[i];
    auto& rs = runs.emplace_back();
    rs.spec = &spec;
    rs.ctx = std::make_unique<SearchContext>(*spec.problem, spec.seed);
    rs.started = Clock::now();
    Json described = nullptr;
    if constexpr (DescribedVerifier<V>) described = verifier.describe();
    observer.on_search_begin(SearchInfo{i, spec.strategy, spec.options, spec.seed, spec.problem, spec.budget, described});
    rs.task = spec.start(*rs.ctx);
  }

  std::vector<SearchResult> results(specs.size());
  // Ends search s as failed: `why` names its problem; `failure` is what solve() rethrows.
  auto fail = [&](std::size_t s, const std::string& why, std::exception_ptr failure = nullptr) {
    auto& rs = runs[s];
    if (rs.finished) return;
    rs.finished = true;
    const Problem& p = *rs.spec->problem;
    const std::string what = p.id.empty() ? fmt::format("search {}: {}", s, why) : fmt::format("problem '{}': {}", p.id, why);
    observer.on_error(s, what);
    SearchResult r;
    r.strategy = rs.spec->strategy;
    r.seed = rs.spec->seed;
    r.stop_reason = StopReason::kFailed;
    r.error = what;
    r.failure = failure ? failure : std::make_exception_ptr(BackendError(what));
    rs.ledger.total_seconds = detail::seconds_since(rs.started);
    r.ledger = rs.ledger;
    r.tree = rs.ctx->take_tree();
    rs.task = SearchTask{};  // the strategy's frame is not resumed again
    observer.on_search_end(s, r);
    results[s] = std::move(r);
  };
  // Resumes search s and, if it finished, collects its result.
  auto resume = [&](std::size_t s) {
    auto& rs = runs[s];
    rs.task.resume();
    detail::emit_marks(observer, s, rs);
    if (rs.task.done()) {
      if (auto err = rs.task.error()) {
        std::string what = "strategy failed";
        try {
          std::rethrow_exception(err);
        } catch (const std::exception& e) {
          what = fmt::format("strategy '{}' failed: {}", rs.spec->strategy, e.what());
        } catch (...) {
          what = fmt::format("strategy '{}' failed with a non-standard exception", rs.spec->strategy);
        }
        fail(s, what, err);
        return;
      }
      rs.finished = true;
      SearchResult r = rs.task.take_result();
      r.strategy = rs.spec->strategy;
      r.seed = rs.spec->seed;
      r.stop_reason = rs.ctx->final_stop_reason();
      rs.ledger.total_seconds = detail::seconds_since(rs.started);
      r.ledger = rs.ledger;
      r.tree = rs.ctx->take_tree();
      for (NodeId id = r.chosen; id > 0 && r.tree.contains(id); id = r.tree.node(id).parent) {
        r.tree.node(id).flags |= kFlagChosen;
      }
      observer.on_search_end(s, r);
      results[s] = std::move(r);
    }
  };
  auto stop = [&](std::size_t s, StopReason why) {
    runs[s].ctx->set_stopped(why);
    observer.on_budget_stop(s, why);
  };

  for (std::size_t s = 0; s < runs.size(); ++s) resume(s);

  // One search's part of a merged call: requests [first, first + count).
  struct Slice {
    std::size_t search;
    std::size_t first;
    std::size_t count;
    std::int64_t estimate = 0;  // verifier tokens the call may charge this search (score phase)
  };
  // Runs `call(first, count, out)` for all slices merged; if that call fails as a whole (it threw,
  // or its output does not fit the request count), once per slice alone, so that one search's bad
  // request fails only that search. `use(slice, out, offset, seconds)` takes a slice's output.
  // Returns the seconds spent in the backend, failed attempts included.
  auto merged_call = [&](const std::vector<Slice>& slices, std::size_t total, auto&& call, auto&& use) -> double {
    auto t0 = Clock::now();
    auto [out, err] = call(0, total);
    double spent = detail::seconds_since(t0);
    if (!err) {
      for (const auto& sl : slices) use(sl, out, sl.first, spent);
      return spent;
    }
    if (slices.size() == 1) {
      fail(slices.front().search, *err);
      return spent;
    }
    for (const auto& sl : slices) {  // the merged call failed: each search alone (charged its share of the failed call too)
      const double failed_share = spent / static_cast<double>(slices.size());
      t0 = Clock::now();
      auto [one, one_err] = call(sl.first, sl.count);
      const double secs = detail::seconds_since(t0);
      spent += secs;
      if (one_err) {
        fail(sl.search, *one_err);
      } else {
        use(sl, one, 0, failed_share + secs);
      }
    }
    return spent;
  };

  std::vector<GenerateRequest> gen_requests;
  std::vector<ScoreRequest> score_requests;
  while (true) {
    bool any_pending = false;
    // ---------------------------------------------------------------- generate phase
    {
      gen_requests.clear();
      std::vector<Slice> slices;
      std::vector<std::size_t> waiting;
      for (std::size_t s = 0; s < runs.size(); ++s) {
        auto& rs = runs[s];
        if (rs.finished || rs.ctx->pending() != SearchContext::Pending::kGenerate) continue;
        any_pending = true;
        waiting.push_back(s);
        const auto& ops = rs.ctx->generate_ops();
        std::int64_t total = 0, largest = 0;
        for (const auto& op : ops) {
          total += op.num_samples;
          largest = std::max(largest, op.params.max_tokens);
        }
        const auto grant = check_generate(rs.spec->budget, rs.ledger, detail::seconds_since(rs.started), total, largest);
        if (grant.stop) {
          stop(s, *grant.stop);
          continue;
        }
        const std::uint64_t call_index = rs.ctx->next_generate_index();
        slices.push_back({s, gen_requests.size(), ops.size()});
        for (std::size_t k = 0; k < ops.size(); ++k) {
          GenerateRequest req;
          req.problem = rs.spec->problem;
          req.prefix = rs.ctx->tree().path(ops[k].parent);
          req.num_samples = ops[k].num_samples;
          req.params = ops[k].params;
          req.params.max_tokens = std::min(req.params.max_tokens, grant.max_tokens_cap);
          req.seed = hash_combine(hash_combine(rs.spec->seed, call_index), k);
          gen_requests.push_back(std::move(req));
        }
      }
      if (!gen_requests.empty()) {
        // The generator on requests [first, first + count): its output, or why the call failed as a whole.
        auto call = [&](std::size_t first, std::size_t count) -> std::pair<Generation, std::optional<std::string>> {
          std::pair<Generation, std::optional<std::string>> res;
          auto& [out, err] = res;
          try {
            out = generator.generate(std::span<const GenerateRequest>(gen_requests).subspan(first, count));
          } catch (const std::exception& e) {
            err = fmt::format("generator threw: {}", e.what());
            return res;
          } catch (...) {
            err = "generator threw a non-standard exception";
            return res;
          }
          if (out.outputs.size() != count) {
            err = fmt::format("generator returned {} outputs for {} requests", out.outputs.size(), count);
          } else if (!out.usage.empty() && out.usage.size() != count) {
            err = fmt::format("generator returned {} usage entries for {} requests", out.usage.size(), count);
          }
          return res;
        };
        // Checks one search's continuations against its requests: the first broken promise, if any.
        auto check = [&](const Slice& sl, Generation& out, std::size_t offset) -> std::optional<std::string> {
          for (std::size_t k = 0; k < sl.count; ++k) {
            const auto& req = gen_requests[sl.first + k];
            auto& steps = out.outputs[offset + k];
            if (steps.size() != static_cast<std::size_t>(req.num_samples)) {
              return fmt::format("generator returned {} continuations for request {} (asked {})", steps.size(), k, req.num_samples);
            }
            for (auto& step : steps) {
              if (step.num_tokens == 0 && !step.token_ids.empty()) step.num_tokens = static_cast<std::int64_t>(step.token_ids.size());
              if (step.num_tokens < 0 || (!step.token_ids.empty() && step.num_tokens != static_cast<std::int64_t>(step.token_ids.size()))) {
                return fmt::format("generator returned a step with num_tokens {} but {} token ids", step.num_tokens, step.token_ids.size());
              }
              if (step.num_tokens > req.params.max_tokens) {
                return fmt::format("generator returned {} tokens for a request capped at {}", step.num_tokens, req.params.max_tokens);
              }
              if (std::isnan(step.logprob)) return std::string("generator returned a NaN log-probability");
              if (auto why = detail::check_token_values(step, req.params)) return why;
            }
          }
          return std::nullopt;
        };
        std::vector<std::size_t> involved;
        std::int64_t call_tokens = 0, samples = 0, min_cap = 0, served = 0;
        auto use = [&](const Slice& sl, Generation& out, std::size_t offset, double secs) {
          if (auto why = check(sl, out, offset)) {
            fail(sl.search, *why);
            return;
          }
          auto& rs = runs[sl.search];
          Expansion exp;
          exp.children.resize(sl.count);
          std::vector<NodeId> added;
          for (std::size_t k = 0; k < sl.count; ++k) {
            const auto& req = gen_requests[sl.first + k];
            samples += req.num_samples;
            min_cap = min_cap == 0 ? req.params.max_tokens : std::min(min_cap, req.params.max_tokens);
            for (auto& step : out.outputs[offset + k]) {
              if (step.finish == FinishReason::kLength && step.num_tokens == req.params.max_tokens &&
                  req.params.max_tokens < rs.ctx->generate_ops()[k].params.max_tokens) {
                rs.ctx->note_limit(StopReason::kGeneratedTokens);  // cut by the budget, not by the caller's limit
              }
              rs.ledger.generated_tokens += step.num_tokens;
              call_tokens += step.num_tokens;
              rs.ledger.generated_steps += 1;
              const NodeId id = rs.ctx->tree().add_child(req.prefix.leaf(), std::move(step));
              exp.children[k].push_back(id);
              added.push_back(id);
            }
            if (!out.usage.empty()) {
              rs.ledger.prompt_tokens += out.usage[offset + k].prompt_tokens;
              rs.ledger.cached_prompt_tokens += out.usage[offset + k].cached_prompt_tokens;
            }
          }
          rs.ledger.generator_calls += 1;
          rs.ledger.generate_seconds += secs;
          served += static_cast<std::int64_t>(sl.count);
          involved.push_back(sl.search);
          observer.on_nodes_added(sl.search, rs.ctx->tree(), added);
          rs.ctx->set_expansion(std::move(exp));
        };
        const double call_secs = merged_call(slices, gen_requests.size(), call, use);
        if (!involved.empty()) {  // the requests of the searches it served (a failed search's are not counted)
          observer.on_call(CallRecord{CallRecord::Kind::kGenerate, involved, served, samples, call_tokens, min_cap, call_secs});
        }
      }
      gen_requests.clear();
      for (std::size_t s : waiting) {
        if (!runs[s].finished) resume(s);
      }
    }
    // ---------------------------------------------------------------- score phase
    {
      score_requests.clear();
      std::vector<Slice> slices;
      std::vector<std::size_t> waiting;
      for (std::size_t s = 0; s < runs.size(); ++s) {
        auto& rs = runs[s];
        if (rs.finished || rs.ctx->pending() != SearchContext::Pending::kScore) continue;
        any_pending = true;
        waiting.push_back(s);
        const auto& leaves = rs.ctx->score_ops();
        const std::size_t first = score_requests.size();
        for (NodeId id : leaves) score_requests.push_back(ScoreRequest{rs.spec->problem, rs.ctx->tree().path(id)});
        std::int64_t estimate = 0;
        if constexpr (VerifierWithCost<V>) {  // the verifier states its cost (e.g. 0 for one that runs no model)
          try {
            estimate = verifier.estimate_tokens(std::span<const ScoreRequest>(score_requests).subspan(first));
          } catch (const std::exception& e) {
            score_requests.resize(first);
            fail(s, fmt::format("verifier could not estimate its cost: {}", e.what()));
            continue;
          } catch (...) {
            score_requests.resize(first);
            fail(s, "verifier could not estimate its cost (a non-standard exception)");
            continue;
          }
        } else {
          for (NodeId id : leaves) estimate += rs.ctx->tree().path_tokens(id);
        }
        if (auto why = check_verify(rs.spec->budget, rs.ledger, detail::seconds_since(rs.started), estimate)) {
          score_requests.resize(first);
          stop(s, *why);
          continue;
        }
        slices.push_back({s, first, leaves.size(), estimate});
      }
      if (!score_requests.empty()) {
        auto call = [&](std::size_t first, std::size_t count) -> std::pair<Scoring, std::optional<std::string>> {
          std::pair<Scoring, std::optional<std::string>> res;
          auto& [out, err] = res;
          try {
            out = verifier.score(std::span<const ScoreRequest>(score_requests).subspan(first, count));
          } catch (const std::exception& e) {
            err = fmt::format("verifier threw: {}", e.what());
            return res;
          } catch (...) {
            err = "verifier threw a non-standard exception";
            return res;
          }
          if (out.scores.size() != count) {
            err = fmt::format("verifier returned {} score lists for {} paths", out.scores.size(), count);
          } else if (!out.tokens.empty() && out.tokens.size() != count) {
            err = fmt::format("verifier returned {} token counts for {} paths", out.tokens.size(), count);
          }
          return res;
        };
        bool holds_cost = VerifierWithCost<V>;  // a stated cost is a promise the budget relies on
        if constexpr (requires { verifier.states_cost(); }) holds_cost = verifier.states_cost();  // AnyVerifier
        // This search's tokens in the call (path tokens when the verifier does not count).
        auto tokens_of = [&](const Slice& sl, const Scoring& out, std::size_t offset, std::size_t k) -> std::int64_t {
          return out.tokens.empty() ? runs[sl.search].ctx->tree().path_tokens(score_requests[sl.first + k].path.leaf())
                                    : out.tokens[offset + k];
        };
        auto check = [&](const Slice& sl, const Scoring& out, std::size_t offset) -> std::optional<std::string> {
          std::int64_t charged = 0;
          for (std::size_t k = 0; k < sl.count; ++k) {
            const auto& sc = out.scores[offset + k];
            const NodeId id = score_requests[sl.first + k].path.leaf();
            if (sc.empty()) return fmt::format("verifier returned no score for path {} (node {})", k, id);
            for (std::size_t j = 0; j < sc.size(); ++j) {
              if (!std::isfinite(sc[j])) return fmt::format("verifier returned a non-finite score ({}) for path {} step {}", sc[j], k, j);
            }
            const std::int64_t t = tokens_of(sl, out, offset, k);
            if (t < 0) return fmt::format("verifier returned a negative token count ({}) for path {}", t, k);
            charged += t;
          }
          if (holds_cost && charged > sl.estimate) {
            return fmt::format("verifier charged {} tokens for a call it estimated at {}", charged, sl.estimate);
          }
          return std::nullopt;
        };
        std::vector<std::size_t> involved;
        std::int64_t call_tokens = 0, paths = 0;
        auto use = [&](const Slice& sl, Scoring& out, std::size_t offset, double secs) {
          if (auto why = check(sl, out, offset)) {
            fail(sl.search, *why);
            return;
          }
          auto& rs = runs[sl.search];
          std::vector<NodeId> scored;
          for (std::size_t k = 0; k < sl.count; ++k) {
            const NodeId id = score_requests[sl.first + k].path.leaf();
            const std::int64_t tokens = tokens_of(sl, out, offset, k);
            rs.ledger.verifier_tokens += tokens;
            call_tokens += tokens;
            rs.ledger.scored_paths += 1;
            Node& n = rs.ctx->tree().node(id);
            n.scores = std::move(out.scores[offset + k]);
            n.flags |= kFlagScored;
            scored.push_back(id);
          }
          paths += static_cast<std::int64_t>(sl.count);
          rs.ledger.verifier_calls += 1;
          rs.ledger.verify_seconds += secs;
          involved.push_back(sl.search);
          observer.on_nodes_scored(sl.search, rs.ctx->tree(), scored);
        };
        const double call_secs = merged_call(slices, score_requests.size(), call, use);
        if (!involved.empty()) {
          observer.on_call(CallRecord{CallRecord::Kind::kVerify, involved, paths, paths, call_tokens, 0, call_secs});
        }
      }
      score_requests.clear();
      for (std::size_t s : waiting) {
        if (!runs[s].finished) resume(s);
      }
    }
    if (!any_pending) {
      bool all_done = true;
      for (std::size_t s = 0; s < runs.size(); ++s) {
        if (runs[s].finished) continue;
        // A search suspended without a pending request would hang: a strategy bug, for that search.
        fail(s, fmt::format("strategy '{}' suspended without a pending generate or score request", runs[s].spec->strategy),
             std::make_exception_ptr(InternalError("a search is suspended without a pending generate or score request")));
        all_done = false;
      }
      if (all_done) break;
    }
  }
  return results;
}

/// run_searches without an observer.
template <Generator G, Verifier V>
std::vector<SearchResult> run_searches(std::span<const SearchSpec> specs, G& generator, V& verifier) {
  NullObserver none;
  return run_searches(specs, generator, verifier, none);
}

/// Solves one problem with any strategy's options struct (found by make_search).
template <class Options, Generator G, Verifier V, class O = NullObserver>
  requires SearchObserver<std::remove_cvref_t<O>>
SearchResult solve(const Problem& problem, G& generator, V& verifier, const Options& opt, const Budget& budget = {},
                   O&& observer = O{}, std::uint64_t seed = 0) {
  const SearchSpec spec = make_search(problem, opt, budget, seed);
  SearchResult r = std::move(run_searches(std::span<const SearchSpec>(&spec, 1), generator, verifier, observer).front());
  if (r.failure) std::rethrow_exception(r.failure);  // one problem: its failure is the caller's error
  return r;
}

/// The seed of problem `index` in a batch run with `seed` (solve_batch uses it; pass it to a
/// one-problem run to reproduce that problem's result exactly).
constexpr std::uint64_t batch_seed(std::uint64_t seed, std::size_t index) noexcept { return hash_combine(seed, index); }

/// Solves many problems with one strategy in lockstep rounds: every round makes ONE generator
/// call and ONE verifier call for all problems. results[i] equals solving problems[i] alone with
/// seed batch_seed(seed, i). `Options` is any strategy's options struct (found by make_search).
template <class Options, Generator G, Verifier V, SearchObserver O>
std::vector<SearchResult> solve_batch(std::span<const Problem> problems, G& generator, V& verifier, const Options& opt,
                                      const Budget& budget, O& observer, std::uint64_t seed = 0) {
  std::vector<SearchSpec> specs;
  specs.reserve(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(make_search(problems[i], opt, budget, batch_seed(seed, i)));
  return run_searches(std::span<const SearchSpec>(specs), generator, verifier, observer);
}

template <class Options, Generator G, Verifier V>
std::vector<SearchResult> solve_batch(std::span<const Problem> problems, G& generator, V& verifier, const Options& opt,
                                      const Budget& budget = {}, std::uint64_t seed = 0) {
  NullObserver none;
  return solve_batch(problems, generator, verifier, opt, budget, none, seed);
}

}  // namespace ttsearch
