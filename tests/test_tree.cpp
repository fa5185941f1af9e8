#include <catch2/catch.hpp>

#include <cmath>

#include <ttsearch/core/aggregate.hpp>
#include <ttsearch/core/any.hpp>
#include <ttsearch/core/tree.hpp>

using namespace ttsearch;

static Step step(std::string text, std::int64_t tokens, FinishReason f = FinishReason::kStop) {
  Step s;
  s.text = std::move(text);
  s.num_tokens = tokens;
  s.finish = f;
  return s;
}

TEST_CASE("SearchTree builds paths root to leaf", "[core][tree]") {
  SearchTree t;
  REQUIRE(t.size() == 1);
  const NodeId a = t.add_child(SearchTree::root(), step("A\n\n", 3));
  const NodeId b = t.add_child(a, step("B\n\n", 4));
  const NodeId c = t.add_child(a, step("C", 5, FinishReason::kEos));
  const NodeId d = t.add_child(b, step("D", 6, FinishReason::kEos));
  REQUIRE(t.node(d).depth == 3);
  REQUIRE(t.node(d).parent == b);
  REQUIRE(t.children(a) == std::vector<NodeId>{b, c});
  REQUIRE(t.children(SearchTree::root()) == std::vector<NodeId>{a});

  const PathView p = t.path(d);
  REQUIRE(p.size() == 3);
  REQUIRE(p.text() == "A\n\nB\n\nD");
  REQUIRE(p.num_tokens() == 13);
  REQUIRE(p.is_complete());
  REQUIRE(std::vector<NodeId>(p.node_ids().begin(), p.node_ids().end()) == std::vector<NodeId>{a, b, d});
  std::string joined;
  for (const Step& s : p) joined += s.text;  // iterates by reference, root to leaf
  REQUIRE(joined == p.text());
  REQUIRE(&p[0] == &t.node(a).step);  // no copy of the step
  REQUIRE_FALSE(t.path(b).is_complete());
  REQUIRE(t.path(SearchTree::root()).empty());
  REQUIRE(t.path_tokens(d) == 13);
  // a path deeper than the inline buffer of PathView
  NodeId deep = d;
  for (int i = 0; i < 40; ++i) deep = t.add_child(deep, step("x", 1));
  const PathView long_path = t.path(deep);
  REQUIRE(long_path.size() == 43);
  REQUIRE(long_path.num_tokens() == 53);
  REQUIRE(long_path.text() == "A\n\nB\n\nD" + std::string(40, 'x'));
  const PathView copy = long_path;  // copies keep their own ids
  REQUIRE(copy[2].text == "D");
  REQUIRE(copy.node_ids().back() == deep);
}

TEST_CASE("SearchTree rejects unknown node ids with a clear error", "[core][tree]") {
  SearchTree t;
  REQUIRE_THROWS_WITH(t.add_child(5, Step{}), Catch::Contains("node id 5 is not in the search tree"));
  REQUIRE_THROWS_AS(t.node(-1), InvalidArgument);
}

TEST_CASE("score aggregation: last / min / prod / mean", "[core][aggregate]") {
  const std::vector<double> s = {0.9, 0.5, 0.8};
  CHECK(aggregate(s, Aggregation::kLast) == Approx(0.8));
  CHECK(aggregate(s, Aggregation::kMin) == Approx(0.5));
  CHECK(aggregate(s, Aggregation::kProd) == Approx(0.36));
  CHECK(aggregate(s, Aggregation::kMean) == Approx(2.2 / 3));
  REQUIRE_THROWS_AS(aggregate(std::vector<double>{}, Aggregation::kLast), InvalidArgument);
  for (auto a : {Aggregation::kLast, Aggregation::kMin, Aggregation::kProd, Aggregation::kMean}) {
    REQUIRE(parse_aggregation(to_string(a)) == a);
  }
  REQUIRE_THROWS_WITH(parse_aggregation("median"), Catch::Contains("unknown aggregation 'median'"));
}

namespace {
struct CountingGenerator {
  int calls = 0;
  Generation generate(std::span<const GenerateRequest> r) {
    ++calls;
    Generation g;
    for (const auto& req : r) g.outputs.emplace_back(static_cast<std::size_t>(req.num_samples), step("x", 1));
    return g;
  }
};
struct HalfVerifier {
  Scoring score(std::span<const ScoreRequest> r) {
    Scoring s;
    for (std::size_t i = 0; i < r.size(); ++i) s.scores.push_back({0.5});
    return s;
  }
};
}  // namespace

TEST_CASE("AnyGenerator and AnyVerifier erase owned and borrowed backends", "[core][any]") {
  CountingGenerator owned_src;
  AnyGenerator owned(owned_src);  // copied in
  CountingGenerator borrowed;
  AnyGenerator by_ref(std::ref(borrowed));
  SearchTree t;
  GenerateRequest req;
  req.prefix = t.path(SearchTree::root());
  req.num_samples = 3;
  const std::vector<GenerateRequest> reqs{req};
  REQUIRE(owned.generate(reqs).outputs.at(0).size() == 3);
  REQUIRE(owned_src.calls == 0);
  REQUIRE(by_ref.generate(reqs).outputs.size() == 1);
  REQUIRE(borrowed.calls == 1);
  AnyVerifier v{HalfVerifier{}};
  const std::vector<ScoreRequest> sreq{ScoreRequest{nullptr, t.path(SearchTree::root())}};
  REQUIRE(v.score(sreq).scores.at(0).at(0) == 0.5);
  STATIC_REQUIRE(Generator<AnyGenerator>);
  STATIC_REQUIRE_FALSE(Generator<HalfVerifier>);
  STATIC_REQUIRE_FALSE(Verifier<CountingGenerator>);
}

TEST_CASE("SamplingParams validation names the bad field", "[core][options]") {
  SamplingParams p;
  REQUIRE_NOTHROW(p.validate());
  p.temperature = -1;
  REQUIRE_THROWS_WITH(p.validate(), Catch::Contains("sampling.temperature"));
  p = {};
  p.top_p = 0;
  REQUIRE_THROWS_WITH(p.validate(), Catch::Contains("sampling.top_p"));
  p = {};
  p.max_tokens = 0;
  REQUIRE_THROWS_WITH(p.validate(), Catch::Contains("sampling.max_tokens"));
  p = {};
  p.temperature = std::nan("");
  REQUIRE_THROWS_WITH(p.validate(), Catch::Contains("sampling.temperature"));
  p = {};
  p.stop = {""};
  REQUIRE_THROWS_WITH(p.validate(), Catch::Contains("sampling.stop"));
}
