#pragma once
/// safetensors: a memory-mapped reader with every check of the reference implementation, a
/// writer with its layout, and sharded checkpoints (model.safetensors.index.json).
/// Torch-free: tensors are byte views; the runtime turns them into tensors.
///
/// Format: u64 little-endian header length N; N bytes of JSON {"name": {"dtype", "shape",
/// "data_offsets": [begin, end)}, "__metadata__": {str: str}}; then the data buffer, offsets
/// relative to its start. Checks (each failure is a ParseError naming the file and the problem):
/// file >= 8 bytes; N <= 100,000,000 and 8 + N <= file size; the header is a JSON object with
/// no duplicate keys; every entry has a known dtype, a shape of non-negative integers and
/// begin <= end; sorted by offset the entries tile the buffer exactly from 0 (no gap, no overlap)
/// to its end; end - begin == prod(shape) * sizeof(dtype) without overflow.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ttsearch::torch {

enum class DType : std::uint8_t { kBool, kU8, kI8, kF8E5M2, kF8E4M3, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kI64, kU64, kF64 };

/// Bytes per element.
std::size_t dtype_size(DType d) noexcept;
/// The safetensors spelling ("BF16", "F32", ...).
std::string_view dtype_name(DType d) noexcept;
/// Parses a safetensors dtype; throws ParseError naming unknown ones.
DType parse_dtype(std::string_view name);

/// A tensor inside a mapped file: valid while the file object lives.
struct TensorView {
  std::string_view name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
  /// True when the data's address is a multiple of the element size (safe to use in place);
  /// files from other writers may not be aligned: copy then.
  bool aligned = true;
  [[nodiscard]] std::int64_t numel() const noexcept;
};

/// One .safetensors file, memory-mapped read-only.
class SafetensorsFile {
 public:
  /// Opens and validates `path`; throws ParseError / InvalidArgument naming the file.
  static SafetensorsFile open(const std::string& path);
  /// Validates a file already in memory (`name` is used in messages). The buffer must outlive the object.
  static SafetensorsFile from_buffer(std::span<const std::byte> data, std::string name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  [[nodiscard]] const std::string& path() const noexcept;
  [[nodiscard]] std::vector<std::string> names() const;  ///< sorted
  [[nodiscard]] bool contains(std::string_view name) const;
  /// The tensor `name`; throws InvalidArgument naming the file when absent.
  [[nodiscard]] TensorView get(std::string_view name) const;
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;  ///< number of tensors

  struct Impl;  ///< opaque

 private:
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Builds a safetensors file: tensors laid out like the reference writer (largest element size
/// first, then by name, so every tensor is aligned when the file is mapped), header padded with
/// spaces to a multiple of 8.
class SafetensorsWriter {
 public:
  /// Adds a tensor (bytes copied). Throws InvalidArgument on a duplicate name or a byte count
  /// that does not match shape x dtype.
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::span<const std::byte> bytes);
  template <class T>
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::span<const T> values) {
    add(std::move(name), dtype, std::move(shape), std::as_bytes(values));
  }
  void set_metadata(std::map<std::string, std::string> m) { metadata_ = std::move(m); }
  /// The whole file as bytes.
  [[nodiscard]] std::vector<std::byte> serialize() const;
  /// Writes the file; throws InvalidArgument when it cannot.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// A checkpoint folder: `model.safetensors`, or shards listed by `model.safetensors.index.json`.
class Checkpoint {
 public:
  /// Opens `dir`; throws naming the missing or broken file. Every name in the index's weight_map
  /// must be in the shard it names.
  static Checkpoint open(const std::string& dir);
  [[nodiscard]] bool contains(std::string_view name) const;
  [[nodiscard]] TensorView get(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;  ///< sorted

 private:
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::size_t, std::less<>> where_;
};

}  // namespace ttsearch::torch
