// libFuzzer: the audit-trace reader and replay on arbitrary text. Every input is read and
// replayed (match or a reason) or refused with a ttsearch::Error naming the line.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include <ttsearch/strategies/replay.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto log = ttsearch::read_audit(in, "fuzz.trace.jsonl");
    (void)ttsearch::replay_log(log);  // every search, and each ledger against the trace
  } catch (const ttsearch::Error&) {
  }
  return 0;
}
