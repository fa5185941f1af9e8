// The libtorch decoder on tiny random models in Hugging Face layout (config.json +
// model.safetensors written by our writer): logits against an independent naive reference
// written here in double precision, KV cache against full recompute, bf16, the PRM head, errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/model.hpp>
#include <ttsearch/torch/safetensors.hpp>

using namespace ttsearch::torch;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Tiny {
  json config;
  std::map<std::string, std::vector<float>> w;
  std::map<std::string, std::vector<std::int64_t>> shape;
};

Tiny make_tiny(const std::string& family, bool tie, bool prm = false, std::uint64_t seed = 1) {
  Tiny m;
  const int H = 32, I = 48, L = 2, nh = 4, nkv = family == "qwen2" ? 2 : 4, V = 61, hd = H / nh;
  m.config = {{"architectures", {prm ? "Qwen2ForProcessRewardModel" : (family == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM")}},
              {"model_type", family}, {"hidden_size", H}, {"intermediate_size", I}, {"num_hidden_layers", L},
              {"num_attention_heads", nh}, {"num_key_value_heads", nkv}, {"vocab_size", V}, {"rms_norm_eps", 1e-6},
              {"rope_theta", family == "qwen2" ? 1000000.0 : 10000.0}, {"max_position_embeddings", 128},
              {"tie_word_embeddings", tie}, {"eos_token_id", 3}, {"torch_dtype", "float32"}};
  if (family == "llama") m.config["attention_bias"] = true;  // exercise q/k/v/o biases
  ttsearch::Rng rng(seed);
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, double scale, double offset = 0.0) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = static_cast<float>(offset + scale * rng.normal());
    m.w[name] = std::move(v);
    m.shape[name] = std::move(shape);
  };
  const bool bias = family == "qwen2" || family == "llama";
  add("model.embed_tokens.weight", {V, H}, 0.5);
  for (int l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {H}, 0.1, 1.0);
    add(p + "post_attention_layernorm.weight", {H}, 0.1, 1.0);
    add(p + "self_attn.q_proj.weight", {nh * hd, H}, 0.2);
    add(p + "self_attn.k_proj.weight", {nkv * hd, H}, 0.2);
    add(p + "self_attn.v_proj.weight", {nkv * hd, H}, 0.2);
    add(p + "self_attn.o_proj.weight", {H, nh * hd}, 0.2);
    if (bias) {
      add(p + "self_attn.q_proj.bias", {nh * hd}, 0.1);
      add(p + "self_attn.k_proj.bias", {nkv * hd}, 0.1);
      add(p + "self_attn.v_proj.bias", {nkv * hd}, 0.1);
    }
    if (family == "llama") add(p + "self_attn.o_proj.bias", {H}, 0.1);
    add(p + "mlp.gate_proj.weight", {I, H}, 0.2);
    add(p + "mlp.up_proj.weight", {I, H}, 0.2);
    add(p + "mlp.down_proj.weight", {H, I}, 0.2);
  }
  add("model.norm.weight", {H}, 0.1, 1.0);
  if (prm) {
    add("score.0.weight", {H, H}, 0.2);
    add("score.0.bias", {H}, 0.1);
    add("score.2.weight", {2, H}, 0.2);
    add("score.2.bias", {2}, 0.1);
  } else if (!tie) {
    add("lm_head.weight", {V, H}, 0.3);
  }
  return m;
}

fs::path write_tiny(const Tiny& m, const std::string& name, const std::string& skip = "") {
  const fs::path dir = fs::temp_directory_path() / ("ttsearch_model_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << m.config.dump();
  SafetensorsWriter w;
  for (const auto& [n, v] : m.w) {
    if (n != skip) w.add(n, DType::kF32, m.shape.at(n), std::span<const float>(v));
  }
  w.write((dir / "model.safetensors").string());
  return dir;
}

// ------------------------------------------------------------------ naive reference (double)
using Vec = std::vector<double>;

Vec matvec(const std::vector<float>& W, std::int64_t rows, std::int64_t cols, const Vec& x, const std::vector<float>* b = nullptr) {
  Vec y(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = b ? (*b)[static_cast<std::size_t>(r)] : 0.0;
    for (std::int64_t c = 0; c < cols; ++c) s += W[static_cast<std::size_t>(r * cols + c)] * x[static_cast<std::size_t>(c)];
    y[static_cast<std::size_t>(r)] = s;
  }
  return y;
}

Vec rmsnorm(const Vec& x, const std::vector<float>& w, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= static_cast<double>(x.size());
  Vec y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + eps) * w[i];
  return y;
}

/// Logits [T][V] (or score logits for a PRM) computed the slow, obvious way.
std::vector<Vec> reference(const Tiny& m, const std::vector<std::int32_t>& ids, bool prm = false) {
  const auto& c = m.config;
  const std::int64_t H = c["hidden_size"], I = c["intermediate_size"], nh = c["num_attention_heads"], nkv = c["num_key_value_heads"],
                     V = c["vocab_size"], L = c["num_hidden_layers"], hd = H / nh;
  const double theta = c["rope_theta"], eps = c["rms_norm_eps"];
  const bool llama = c["model_type"] == "llama";
  auto W = [&](const std::string& n) -> const std::vector<float>& { return m.w.at(n); };
  auto has = [&](const std::string& n) { return m.w.count(n) > 0; };
  const std::size_t T = ids.size();
  std::vector<Vec> x(T);
  for (std::size_t t = 0; t < T; ++t) {
    x[t].assign(W("model.embed_tokens.weight").begin() + ids[t] * H, W("model.embed_tokens.weight").begin() + (ids[t] + 1) * H);
  }
  auto rope = [&](Vec& v, std::int64_t heads, std::size_t pos) {
    for (std::int64_t h = 0; h < heads; ++h) {
      for (std::int64_t i = 0; i < hd / 2; ++i) {
        const double ang = static_cast<double>(pos) / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(hd));
        double& a = v[static_cast<std::size_t>(h * hd + i)];
        double& b = v[static_cast<std::size_t>(h * hd + i + hd / 2)];
        const double na = a * std::cos(ang) - b * std::sin(ang), nb = b * std::cos(ang) + a * std::sin(ang);
        a = na;
        b = nb;
      }
    }
  };
  for (std::int64_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    std::vector<Vec> q(T), k(T), v(T);
    for (std::size_t t = 0; t < T; ++t) {
      const Vec h = rmsnorm(x[t], W(p + "input_layernorm.weight"), eps);
      q[t] = matvec(W(p + "self_attn.q_proj.weight"), nh * hd, H, h, has(p + "self_attn.q_proj.bias") ? &W(p + "self_attn.q_proj.bias") : nullptr);
      k[t] = matvec(W(p + "self_attn.k_proj.weight"), nkv * hd, H, h, has(p + "self_attn.k_proj.bias") ? &W(p + "self_attn.k_proj.bias") : nullptr);
      v[t] = matvec(W(p + "self_attn.v_proj.weight"), nkv * hd, H, h, has(p + "self_attn.v_proj.bias") ? &W(p + "self_attn.v_proj.bias") : nullptr);
      rope(q[t], nh, t);
      rope(k[t], nkv, t);
    }
    for (std::size_t t = 0; t < T; ++t) {
      Vec att(static_cast<std::size_t>(nh * hd), 0.0);
      for (std::int64_t h = 0; h < nh; ++h) {
        const std::int64_t g = h / (nh / nkv);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (std::size_t j = 0; j <= t; ++j) {
          double d = 0;
          for (std::int64_t i = 0; i < hd; ++i) d += q[t][static_cast<std::size_t>(h * hd + i)] * k[j][static_cast<std::size_t>(g * hd + i)];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (auto& e : s) z += (e = std::exp(e - mx));
        for (std::size_t j = 0; j <= t; ++j) {
          for (std::int64_t i = 0; i < hd; ++i) att[static_cast<std::size_t>(h * hd + i)] += s[j] / z * v[j][static_cast<std::size_t>(g * hd + i)];
        }
      }
      const Vec o = matvec(W(p + "self_attn.o_proj.weight"), H, nh * hd, att, llama ? &W(p + "self_attn.o_proj.bias") : nullptr);
      for (std::int64_t i = 0; i < H; ++i) x[t][static_cast<std::size_t>(i)] += o[static_cast<std::size_t>(i)];
      const Vec h2 = rmsnorm(x[t], W(p + "post_attention_layernorm.weight"), eps);
      const Vec gte = matvec(W(p + "mlp.gate_proj.weight"), I, H, h2), up = matvec(W(p + "mlp.up_proj.weight"), I, H, h2);
      Vec act(static_cast<std::size_t>(I));
      for (std::size_t i = 0; i < act.size(); ++i) act[i] = gte[i] / (1.0 + std::exp(-gte[i])) * up[i];
      const Vec d = matvec(W(p + "mlp.down_proj.weight"), H, I, act);
      for (std::int64_t i = 0; i < H; ++i) x[t][static_cast<std::size_t>(i)] += d[static_cast<std::size_t>(i)];
    }
  }
  std::vector<Vec> out(T);
  for (std::size_t t = 0; t < T; ++t) {
    const Vec h = rmsnorm(x[t], W("model.norm.weight"), eps);
    if (prm) {
      Vec a = matvec(W("score.0.weight"), H, H, h, &W("score.0.bias"));
      for (auto& e : a) e = std::max(0.0, e);
      out[t] = matvec(W("score.2.weight"), 2, H, a, &W("score.2.bias"));
    } else {
      out[t] = matvec(has("lm_head.weight") ? W("lm_head.weight") : W("model.embed_tokens.weight"), V, H, h);
    }
  }
  return out;
}

double max_abs_diff(const std::vector<float>& ours, const std::vector<Vec>& ref) {
  double d = 0;
  std::size_t k = 0;
  for (const auto& row : ref) for (double r : row) d = std::max(d, std::fabs(static_cast<double>(ours[k++]) - r));
  return d;
}

}  // namespace

TEST_CASE("model: Qwen2 and Llama logits equal a naive reference - the KV cache equals recompute", "[torch][model]") {
  const std::vector<std::int32_t> ids = {5, 17, 42, 8, 60, 0, 33, 21, 9};
  for (const auto& [family, tie] : std::vector<std::pair<std::string, bool>>{{"qwen2", true}, {"llama", false}}) {
    INFO(family << (tie ? " (tied embeddings)" : ""));
    const Tiny m = make_tiny(family, tie);
    const fs::path dir = write_tiny(m, family);
    const CausalLM lm = CausalLM::load(dir.string());
    CHECK(lm.config().model_type == family);
    const auto logits = lm.logits(ids);
    const auto ref = reference(m, ids);
    REQUIRE(logits.size() == ids.size() * 61);
    CHECK(max_abs_diff(logits, ref) < 1e-4);
    // the cache: feeding one token at a time gives the same logits as one full pass (fp32, 1e-5)
    const auto inc = lm.logits_incremental(ids);
    double d = 0;
    for (std::size_t i = 0; i < inc.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(inc[i] - logits[i])));
    CHECK(d < 1e-5);
    // greedy decoding follows the argmax of the full-recompute logits
    const auto gen = lm.greedy(std::vector<std::int32_t>(ids.begin(), ids.begin() + 3), 4);
    std::vector<std::int32_t> seq(ids.begin(), ids.begin() + 3);
    for (auto tok : gen) {
      const auto l = lm.logits(seq);
      const auto last = l.end() - 61;
      REQUIRE(tok == static_cast<std::int32_t>(std::max_element(last, l.end()) - last));
      seq.push_back(tok);
      if (tok == 3) break;  // eos
    }
    // bf16 weights: close to fp32 (2 bf16 roundings per matmul over 2 layers)
    const CausalLM bf = CausalLM::load(dir.string(), {.device = "cpu", .dtype = "bfloat16"});
    const auto lb = bf.logits(ids);
    double db = 0, scale = 0;
    for (std::size_t i = 0; i < lb.size(); ++i) {
      db = std::max(db, static_cast<double>(std::fabs(lb[i] - logits[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(logits[i])));
    }
    CHECK(db < 0.05 * scale);
    fs::remove_all(dir);
  }
}

TEST_CASE("model: the Qwen2.5-Math-PRM head - broken folders are named", "[torch][model]") {
  const Tiny m = make_tiny("qwen2", true, /*prm=*/true, 7);
  const fs::path dir = write_tiny(m, "prm");
  const CausalLM prm = CausalLM::load(dir.string());
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6};
  CHECK(max_abs_diff(prm.score_logits(ids), reference(m, ids, true)) < 1e-4);
  CHECK_THROWS_WITH(prm.logits(ids), Catch::Contains("has no language-model head"));
  fs::remove_all(dir);

  const Tiny q = make_tiny("qwen2", false);
  const fs::path missing = write_tiny(q, "missing", "model.layers.1.mlp.up_proj.weight");
  CHECK_THROWS_WITH(CausalLM::load(missing.string()), Catch::Contains("the checkpoint has no tensor \"model.layers.1.mlp.up_proj.weight\""));
  fs::remove_all(missing);
  Tiny wrong = q;
  wrong.config["intermediate_size"] = 40;  // the weights say 48
  const fs::path bad = write_tiny(wrong, "shape");
  CHECK_THROWS_WITH(CausalLM::load(bad.string()), Catch::Contains("has shape [48, 32] but the config implies [40, 32]"));
  CHECK_THROWS_WITH(CausalLM::load(bad.string(), {.device = "cpu", .dtype = "int8"}), Catch::Contains("unknown dtype 'int8'"));
  CHECK_THROWS_WITH(CausalLM::load(bad.string(), {.device = "tpu", .dtype = "float32"}), Catch::Contains("bad device 'tpu'"));
  fs::remove_all(bad);
  const fs::path ok = write_tiny(q, "ok");
  CHECK_THROWS_WITH(CausalLM::load(ok.string(), {.device = "cpu", .dtype = "float16"}), Catch::Contains("float16 is not supported on CPU"));
  const CausalLM lm = CausalLM::load(ok.string());
  const std::vector<std::int32_t> out_of_vocab = {1, 99};
  CHECK_THROWS_WITH(lm.logits(out_of_vocab), Catch::Contains("token id 99 is outside the model's vocabulary (size 61)"));
  fs::remove_all(ok);
}
