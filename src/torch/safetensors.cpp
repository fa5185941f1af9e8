#include "ttsearch/torch/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "json_file.hpp"
#include "ttsearch/core/error.hpp"

namespace ttsearch::torch {

using Json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxHeader = 100'000'000;

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},   {DType::kF8E5M2, "F8_E5M2", 1},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kI16, "I16", 2}, {DType::kU16, "U16", 2}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI32, "I32", 4}, {DType::kU32, "U32", 4}, {DType::kF32, "F32", 4},
    {DType::kI64, "I64", 8},   {DType::kU64, "U64", 8}, {DType::kF64, "F64", 8},
};

struct Entry {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

}  // namespace

std::size_t dtype_size(DType d) noexcept {
  for (const auto& i : kDTypes) if (i.dtype == d) return i.size;
  return 0;
}
std::string_view dtype_name(DType d) noexcept {
  for (const auto& i : kDTypes) if (i.dtype == d) return i.name;
  return "?";
}
DType parse_dtype(std::string_view name) {
  for (const auto& i : kDTypes) if (i.name == name) return i.dtype;
  throw ParseError(fmt::format("unknown dtype \"{}\" (known: BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 BF16 I32 U32 F32 I64 U64 F64)", name));
}

std::int64_t TensorView::numel() const noexcept {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

struct SafetensorsFile::Impl {
  std::string path;
  void* map = nullptr;  // owned mmap, or null for from_buffer
  std::size_t map_size = 0;
  std::span<const std::byte> file;
  std::size_t data_start = 0;
  std::map<std::string, Entry, std::less<>> entries;
  std::map<std::string, std::string> metadata;
  ~Impl() {
    if (map) munmap(map, map_size);
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

namespace {

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw ParseError(fmt::format("{}: invalid safetensors file: {}", file, what));
}

void parse_header(SafetensorsFile::Impl& f);

}  // namespace

SafetensorsFile SafetensorsFile::from_buffer(std::span<const std::byte> data, std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(name);
  impl->file = data;
  parse_header(*impl);
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InvalidArgument(fmt::format("cannot open safetensors file '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InvalidArgument(fmt::format("'{}' is not a regular file", path));
  }
  impl->map_size = static_cast<std::size_t>(st.st_size);
  if (impl->map_size > 0) {
    impl->map = mmap(nullptr, impl->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (impl->map == MAP_FAILED) {
      impl->map = nullptr;
      ::close(fd);
      throw InvalidArgument(fmt::format("cannot map '{}': {}", path, std::strerror(errno)));
    }
  }
  ::close(fd);
  impl->file = std::span<const std::byte>(static_cast<const std::byte*>(impl->map), impl->map_size);
  parse_header(*impl);
  return SafetensorsFile(std::move(impl));
}

namespace {

void parse_header(SafetensorsFile::Impl& f) {
  const auto& file = f.file;
  if (file.size() < 8) bad(f.path, fmt::format("{} bytes, shorter than the 8-byte header length", file.size()));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(file[static_cast<std::size_t>(i)]);
  if (n > kMaxHeader) bad(f.path, fmt::format("header length {} exceeds the 100,000,000-byte limit", n));
  if (8 + n > file.size()) bad(f.path, fmt::format("header length {} runs past the end of the {}-byte file", n, file.size()));
  f.data_start = static_cast<std::size_t>(8 + n);
  const std::string_view header(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));

  std::set<std::string> seen;
  Json j;
  try {
    j = Json::parse(header, [&](int depth, Json::parse_event_t ev, Json& parsed) {
      if (depth == 1 && ev == Json::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second) {
        bad(f.path, fmt::format("duplicate tensor name \"{}\" in the header", parsed.get<std::string>()));
      }
      return true;
    });
  } catch (const Json::exception& e) {
    bad(f.path, fmt::format("header is not valid JSON ({})", e.what()));
  }
  if (!j.is_object()) bad(f.path, "header is not a JSON object");

  const std::uint64_t data_size = file.size() - f.data_start;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) bad(f.path, "__metadata__ is not an object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) bad(f.path, fmt::format("__metadata__ value of \"{}\" is not a string", k));
        f.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) bad(f.path, fmt::format("entry \"{}\" is not an object", name));
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad(f.path, fmt::format("tensor \"{}\" has no string dtype", name));
    Entry e{};
    try {
      e.dtype = parse_dtype(v["dtype"].get<std::string>());
    } catch (const ParseError& err) {
      bad(f.path, fmt::format("tensor \"{}\": {}", name, err.what()));
    }
    if (!v.contains("shape") || !v["shape"].is_array()) bad(f.path, fmt::format("tensor \"{}\" has no shape array", name));
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0) {
        bad(f.path, fmt::format("tensor \"{}\" has a shape entry that is not a non-negative integer: {}", name, d.dump()));
      }
      e.shape.push_back(d.get<std::int64_t>());
    }
    const Json* offs = v.contains("data_offsets") ? &v["data_offsets"] : nullptr;
    if (!offs || !offs->is_array() || offs->size() != 2 || !(*offs)[0].is_number_unsigned() || !(*offs)[1].is_number_unsigned()) {
      bad(f.path, fmt::format("tensor \"{}\" needs data_offsets [begin, end] of non-negative integers", name));
    }
    e.begin = (*offs)[0].get<std::uint64_t>();
    e.end = (*offs)[1].get<std::uint64_t>();
    if (e.begin > e.end) bad(f.path, fmt::format("tensor \"{}\" has begin {} > end {}", name, e.begin, e.end));
    std::uint64_t bytes = dtype_size(e.dtype);
    for (auto d : e.shape) {
      if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes)) {
        bad(f.path, fmt::format("tensor \"{}\": shape x dtype size overflows 64 bits", name));
      }
    }
    if (bytes != e.end - e.begin) {
      bad(f.path, fmt::format("tensor \"{}\" ({} {}) needs {} bytes but data_offsets [{}, {}) hold {}", name,
                              dtype_name(e.dtype), Json(e.shape).dump(), bytes, e.begin, e.end, e.end - e.begin));
    }
    f.entries.emplace(name, std::move(e));
  }
  // The entries must tile the data buffer exactly.
  std::vector<std::pair<std::uint64_t, const std::string*>> order;
  for (const auto& [name, e] : f.entries) order.emplace_back(e.begin, &name);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    const Entry &ea = f.entries.find(*a.second)->second, &eb = f.entries.find(*b.second)->second;
    return ea.begin != eb.begin ? ea.begin < eb.begin : ea.end < eb.end;
  });
  std::uint64_t pos = 0;
  for (const auto& [begin, name] : order) {
    const Entry& e = f.entries.find(*name)->second;
    if (e.begin != pos) {
      bad(f.path, fmt::format("tensor \"{}\" starts at {} but the previous tensor ends at {} ({})", *name, e.begin, pos,
                              e.begin > pos ? "a gap" : "an overlap"));
    }
    pos = e.end;
  }
  if (pos != data_size) {
    bad(f.path, fmt::format("the tensors cover {} bytes but the data buffer holds {} (truncated or trailing bytes)", pos, data_size));
  }
}

}  // namespace

const std::string& SafetensorsFile::path() const noexcept { return impl_->path; }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : impl_->entries) out.push_back(n);
  return out;
}

bool SafetensorsFile::contains(std::string_view name) const { return impl_->entries.find(name) != impl_->entries.end(); }

TensorView SafetensorsFile::get(std::string_view name) const {
  const auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) throw InvalidArgument(fmt::format("{}: no tensor named \"{}\"", impl_->path, name));
  const Entry& e = it->second;
  TensorView v;
  v.name = it->first;
  v.dtype = e.dtype;
  v.shape = e.shape;
  v.bytes = impl_->file.subspan(impl_->data_start + e.begin, e.end - e.begin);
  v.aligned = reinterpret_cast<std::uintptr_t>(v.bytes.data()) % dtype_size(e.dtype) == 0;
  return v;
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const noexcept { return impl_->metadata; }
std::size_t SafetensorsFile::size() const noexcept { return impl_->entries.size(); }

// ------------------------------------------------------------------------------------------ writer

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::span<const std::byte> bytes) {
  TTSEARCH_REQUIRE(name != "__metadata__", "safetensors: \"__metadata__\" is not a tensor name");
  for (const auto& e : entries_) TTSEARCH_REQUIRE(e.name != name, "safetensors: duplicate tensor name \"{}\"", name);
  std::uint64_t expect = dtype_size(dtype);
  for (auto d : shape) {
    TTSEARCH_REQUIRE(d >= 0, "safetensors: tensor \"{}\" has a negative dimension {}", name, d);
    expect *= static_cast<std::uint64_t>(d);
  }
  TTSEARCH_REQUIRE(expect == bytes.size(), "safetensors: tensor \"{}\" ({} {}) needs {} bytes, got {}", name, dtype_name(dtype),
                   Json(shape).dump(), expect, bytes.size());
  entries_.push_back(Entry{std::move(name), dtype, std::move(shape), std::vector<std::byte>(bytes.begin(), bytes.end())});
}

std::vector<std::byte> SafetensorsWriter::serialize() const {
  std::vector<const Entry*> order;
  for (const auto& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    const auto sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  Json header = Json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t offset = 0;
  for (const Entry* e : order) {
    header[e->name] = Json{{"dtype", dtype_name(e->dtype)}, {"shape", e->shape}, {"data_offsets", {offset, offset + e->bytes.size()}}};
    offset += e->bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::vector<std::byte> out(8 + text.size() + offset);
  const std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::size_t pos = 8 + text.size();
  for (const Entry* e : order) {
    if (!e->bytes.empty()) std::memcpy(out.data() + pos, e->bytes.data(), e->bytes.size());
    pos += e->bytes.size();
  }
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  const auto bytes = serialize();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InvalidArgument(fmt::format("cannot write safetensors file '{}'", path));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw InvalidArgument(fmt::format("error while writing '{}'", path));
}

// ------------------------------------------------------------------------------------------ checkpoint

Checkpoint Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  Checkpoint c;
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index)) {
    const Json j = detail::read_json_file(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      throw ParseError(fmt::format("{}: missing the \"weight_map\" object", index.string()));
    }
    std::map<std::string, std::size_t> shard_index;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) throw ParseError(fmt::format("{}: weight_map[\"{}\"] is not a file name", index.string(), name));
      const std::string shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos) {
        throw ParseError(fmt::format("{}: shard name \"{}\" must be a plain file name in the folder", index.string(), shard));
      }
      auto it = shard_index.find(shard);
      if (it == shard_index.end()) {
        it = shard_index.emplace(shard, c.shards_.size()).first;
        c.shards_.push_back(SafetensorsFile::open((fs::path(dir) / shard).string()));
      }
      if (!c.shards_[it->second].contains(name)) {
        throw ParseError(fmt::format("{}: \"{}\" is mapped to {} which does not contain it", index.string(), name, shard));
      }
      c.where_[name] = it->second;
    }
    return c;
  }
  if (!fs::exists(single)) {
    throw InvalidArgument(fmt::format("'{}' has neither model.safetensors nor model.safetensors.index.json", dir));
  }
  c.shards_.push_back(SafetensorsFile::open(single.string()));
  for (const auto& n : c.shards_[0].names()) c.where_[n] = 0;
  return c;
}

bool Checkpoint::contains(std::string_view name) const { return where_.find(name) != where_.end(); }

TensorView Checkpoint::get(std::string_view name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw InvalidArgument(fmt::format("the checkpoint has no tensor named \"{}\"", name));
  return shards_[it->second].get(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : where_) out.push_back(n);
  return out;
}

}  // namespace ttsearch::torch
