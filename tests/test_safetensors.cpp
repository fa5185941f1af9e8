// safetensors reader, writer and checkpoints: real files written by our writer, hand-made
// malformed files, and a loop over randomly mutated headers (no crash, no hang).
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/safetensors.hpp>

using namespace ttsearch::torch;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> raw_file(const std::string& header, std::size_t data_bytes, bool pad = false) {
  std::string h = header;
  while (pad && h.size() % 8) h += ' ';
  std::vector<std::byte> out(8 + h.size() + data_bytes, std::byte{0});
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, h.data(), h.size());
  return out;
}

std::string parse_error(const std::vector<std::byte>& bytes) {
  try {
    SafetensorsFile::from_buffer(bytes, "t.safetensors");
  } catch (const ttsearch::ParseError& e) {
    return e.what();
  }
  return "no error";
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("ttsearch_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("safetensors: write / map and read back every dtype / shapes and metadata", "[torch][safetensors]") {
  SafetensorsWriter w;
  const std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1e30f};
  const std::vector<std::int64_t> i64 = {1, -2, 1LL << 40};
  const std::vector<std::uint16_t> bf16 = {0x3f80, 0xc000, 0x7f80, 0x0001};  // 1, -2, inf, tiny
  const std::vector<std::uint8_t> flags = {1, 0, 1};
  const float scalar = 42.0f;
  w.add("model.layers.0.w", DType::kF32, {2, 3}, std::span<const float>(f32));
  w.add("ids", DType::kI64, {3}, std::span<const std::int64_t>(i64));
  w.add("half", DType::kBF16, {2, 2}, std::span<const std::uint16_t>(bf16));
  w.add("mask", DType::kBool, {3}, std::span<const std::uint8_t>(flags));
  w.add("scalar", DType::kF32, {}, std::span<const float>(&scalar, 1));
  w.add("empty", DType::kF16, {0, 4}, std::span<const std::byte>());
  w.set_metadata({{"format", "pt"}});
  REQUIRE_THROWS_WITH(w.add("ids", DType::kI64, {0}, std::span<const std::byte>()), Catch::Contains("duplicate tensor name \"ids\""));
  REQUIRE_THROWS_WITH(w.add("x", DType::kF32, {4}, std::span<const float>(f32)), Catch::Contains("needs 16 bytes, got 24"));

  const auto bytes = w.serialize();
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  REQUIRE(n % 8 == 0);  // header padded so tensors stay aligned

  const fs::path dir = temp_dir("st");
  w.write((dir / "model.safetensors").string());
  for (int pass = 0; pass < 2; ++pass) {
    const SafetensorsFile f = pass == 0 ? SafetensorsFile::from_buffer(bytes, "mem") : SafetensorsFile::open((dir / "model.safetensors").string());
    REQUIRE(f.size() == 6);
    REQUIRE(f.names() == std::vector<std::string>{"empty", "half", "ids", "mask", "model.layers.0.w", "scalar"});
    REQUIRE(f.metadata().at("format") == "pt");
    const auto t = f.get("model.layers.0.w");
    REQUIRE(t.dtype == DType::kF32);
    REQUIRE(t.shape == std::vector<std::int64_t>{2, 3});
    REQUIRE(t.numel() == 6);
    REQUIRE(t.bytes.size() == 24);
    REQUIRE(std::memcmp(t.bytes.data(), f32.data(), 24) == 0);
    if (pass == 1) REQUIRE(t.aligned);  // a mapped file is page-aligned, so the layout aligns every tensor
    REQUIRE(std::memcmp(f.get("ids").bytes.data(), i64.data(), 24) == 0);
    REQUIRE(std::memcmp(f.get("half").bytes.data(), bf16.data(), 8) == 0);
    REQUIRE(f.get("scalar").shape.empty());
    REQUIRE(f.get("scalar").numel() == 1);
    REQUIRE(f.get("empty").bytes.empty());
    REQUIRE(f.get("mask").dtype == DType::kBool);
    REQUIRE_THROWS_WITH(f.get("nope"), Catch::Contains("no tensor named \"nope\""));
  }
  // a single-file checkpoint
  const Checkpoint c = Checkpoint::open(dir.string());
  REQUIRE(c.contains("ids"));
  REQUIRE(c.get("ids").shape == std::vector<std::int64_t>{3});
  fs::remove_all(dir);
}

TEST_CASE("safetensors: malformed files give an error naming the problem", "[torch][safetensors]") {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK(parse_error(raw_file("{" + ok_entry + "}", 8)) == "no error");
  CHECK_THAT(parse_error(std::vector<std::byte>(5)), Catch::Contains("5 bytes, shorter than the 8-byte header length"));
  auto huge = raw_file("{}", 0);
  huge[4] = std::byte{1};  // N = 2^32 + 2
  CHECK_THAT(parse_error(huge), Catch::Contains("exceeds the 100,000,000-byte limit"));
  auto past = raw_file("{}", 0);
  past[0] = std::byte{100};
  CHECK_THAT(parse_error(past), Catch::Contains("header length 100 runs past the end"));
  CHECK_THAT(parse_error(raw_file("{oops", 0)), Catch::Contains("header is not valid JSON"));
  CHECK_THAT(parse_error(raw_file("[1,2]", 0)), Catch::Contains("header is not a JSON object"));
  CHECK_THAT(parse_error(raw_file("{" + ok_entry + "," + ok_entry + "}", 8)), Catch::Contains("duplicate tensor name \"a\""));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor \"a\": unknown dtype \"Q4\""));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("not a non-negative integer: -2"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
             Catch::Contains("begin 8 > end 0"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)),
             Catch::Contains("needs data_offsets [begin, end]"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor \"a\" (F32 [3]) needs 12 bytes but data_offsets [0, 8) hold 8"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
             Catch::Contains("starts at 4 but the previous tensor ends at 0 (a gap)"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
             Catch::Contains("(an overlap)"));
  CHECK_THAT(parse_error(raw_file("{" + ok_entry + "}", 12)), Catch::Contains("cover 8 bytes but the data buffer holds 12"));
  CHECK_THAT(parse_error(raw_file("{" + ok_entry + "}", 4)), Catch::Contains("cover 8 bytes but the data buffer holds 4"));
  CHECK_THAT(parse_error(raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("overflows 64 bits"));
  CHECK_THAT(parse_error(raw_file(R"({"__metadata__":{"format":1}})", 0)), Catch::Contains("__metadata__ value of \"format\""));
  REQUIRE_THROWS_WITH(SafetensorsFile::open("/nonexistent/x.safetensors"), Catch::Contains("cannot open safetensors file"));
}

TEST_CASE("safetensors: unaligned files from other writers are detected - sharded checkpoints", "[torch][safetensors]") {
  // header of odd length, unpadded: the F32 tensor starts at an odd address
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} )";
  REQUIRE(header.size() % 2 == 1);
  const fs::path dir = temp_dir("shards");
  {
    auto bytes = raw_file(header, 4);
    std::ofstream(dir / "odd.safetensors", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const auto odd = SafetensorsFile::open((dir / "odd.safetensors").string());
  CHECK_FALSE(odd.get("a").aligned);

  const std::vector<float> v = {1, 2, 3, 4};
  SafetensorsWriter s1, s2;
  s1.add("model.embed_tokens.weight", DType::kF32, {2, 2}, std::span<const float>(v));
  s2.add("lm_head.weight", DType::kF32, {4}, std::span<const float>(v));
  s1.write((dir / "model-00001-of-00002.safetensors").string());
  s2.write((dir / "model-00002-of-00002.safetensors").string());
  auto write_index = [&](const nlohmann::json& j) { std::ofstream(dir / "model.safetensors.index.json") << j.dump(); };
  write_index({{"metadata", {{"total_size", 32}}},
               {"weight_map", {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
                               {"lm_head.weight", "model-00002-of-00002.safetensors"}}}});
  const Checkpoint c = Checkpoint::open(dir.string());
  CHECK(c.names() == std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight"});
  CHECK(c.get("lm_head.weight").shape == std::vector<std::int64_t>{4});
  CHECK_THROWS_WITH(c.get("model.norm.weight"), Catch::Contains("no tensor named \"model.norm.weight\""));
  write_index({{"weight_map", {{"model.norm.weight", "model-00001-of-00002.safetensors"}}}});
  CHECK_THROWS_WITH(Checkpoint::open(dir.string()), Catch::Contains("\"model.norm.weight\" is mapped to model-00001-of-00002.safetensors which does not contain it"));
  write_index({{"weight_map", {{"x", "../evil.safetensors"}}}});
  CHECK_THROWS_WITH(Checkpoint::open(dir.string()), Catch::Contains("must be a plain file name"));
  std::ofstream(dir / "model.safetensors.index.json") << "{not json";
  CHECK_THROWS_WITH(Checkpoint::open(dir.string()), Catch::Contains("model.safetensors.index.json: not valid JSON"));
  CHECK_THROWS_WITH(Checkpoint::open((dir / "missing").string()), Catch::Contains("has neither model.safetensors nor"));
  fs::remove_all(dir);
}

TEST_CASE("safetensors: randomly mutated files never crash or hang the reader", "[torch][safetensors][fuzz]") {
  SafetensorsWriter w;
  const std::vector<float> v(64, 0.5f);
  for (int i = 0; i < 6; ++i) w.add("t" + std::to_string(i), i % 2 ? DType::kF32 : DType::kBF16, {8, 2}, std::span<const float>(v.data(), i % 2 ? 16 : 8));
  const auto good = w.serialize();
  ttsearch::Rng rng(99);
  int accepted = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto bytes = good;
    const int edits = 1 + static_cast<int>(rng.below(3));
    for (int e = 0; e < edits; ++e) {
      if (bytes.empty()) break;
      const std::size_t limit = std::min<std::size_t>(bytes.size(), trial % 10 == 0 ? 8 : 8 + 400);
      const std::size_t pos = rng.below(limit);  // mostly the length and the JSON header
      switch (rng.below(4)) {
        case 0: bytes[pos] = static_cast<std::byte>(rng.below(256)); break;
        case 1: bytes[pos] = static_cast<std::byte>("0123456789[]{},:\"-"[rng.below(18)]); break;
        case 2: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos)); break;
        default: bytes.resize(rng.below(bytes.size() + 1)); break;
      }
    }
    try {
      const auto f = SafetensorsFile::from_buffer(bytes, "fuzz");
      for (const auto& name : f.names()) {
        const auto t = f.get(name);
        REQUIRE(t.bytes.data() >= reinterpret_cast<const std::byte*>(bytes.data()));
        REQUIRE(t.bytes.data() + t.bytes.size() <= reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
      }
      ++accepted;
    } catch (const ttsearch::ParseError&) {
      ++rejected;
    }
  }
  CHECK(accepted + rejected == 3000);
  CHECK(rejected > 1000);
}
