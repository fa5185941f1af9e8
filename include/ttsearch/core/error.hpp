#pragma once
/// Error hierarchy. Every exception ttsearch throws derives from ttsearch::Error.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ttsearch {

/// Base of every ttsearch exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed a bad value (an option, a budget, a config). The message names it.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// Malformed input data: a JSON line, a trace file, a model file. The message says where.
class ParseError : public Error {
 public:
  using Error::Error;
};

/// A Generator or Verifier failed or broke its contract (wrong output count, NaN score, ...).
class BackendError : public Error {
 public:
  using Error::Error;
};

/// A fixed-size resource (a cache, a batch) cannot hold what was asked of it.
class CapacityExceeded : public Error {
 public:
  using Error::Error;
};

/// An internal invariant failed: a bug in ttsearch, never the caller's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace ttsearch

/// Checks an internal invariant in every build type; throws ttsearch::InternalError.
/// Usage: TTSEARCH_CHECK(a < b, "index {} out of range {}", a, b);
#define TTSEARCH_CHECK(cond, ...)                                                          \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      throw ::ttsearch::InternalError(::fmt::format("{}:{}: check `{}` failed: {}", __FILE__, \
                                                    __LINE__, #cond, ::fmt::format(__VA_ARGS__))); \
    }                                                                                      \
  } while (false)

/// Validates a caller-supplied value; throws ttsearch::InvalidArgument with the message.
#define TTSEARCH_REQUIRE(cond, ...)                                          \
  do {                                                                       \
    if (!(cond)) [[unlikely]] {                                              \
      throw ::ttsearch::InvalidArgument(::fmt::format(__VA_ARGS__));         \
    }                                                                        \
  } while (false)
