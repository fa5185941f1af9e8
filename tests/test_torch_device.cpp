#include <catch2/catch.hpp>

#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/device.hpp>

using namespace ttsearch::torch;

TEST_CASE("device specs parse and bad ones are named", "[torch]") {
  CHECK(parse_device("cpu").str() == "cpu");
  CHECK(parse_device("cuda").str() == "cuda:0");
  CHECK(parse_device("cuda:3").index == 3);
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU", ""}) {
    CHECK_THROWS_WITH(parse_device(bad), Catch::Contains("expected cpu, cuda or cuda:N"));
  }
  CHECK(resolve_device("cpu").kind == DeviceSpec::Kind::kCpu);
  CHECK_FALSE(torch_version().empty());
}

TEST_CASE("cuda devices resolve only when present", "[torch][cuda]") {
  if (!cuda_available()) {
    CHECK_THROWS_WITH(resolve_device("cuda"), Catch::Contains("sees no CUDA device"));
    WARN("SKIPPED: no CUDA device here (libtorch " << torch_version() << ")");
    return;
  }
  CHECK(resolve_device("cuda:0").kind == DeviceSpec::Kind::kCuda);
  CHECK_THROWS_WITH(resolve_device(fmt::format("cuda:{}", cuda_device_count())), Catch::Contains("CUDA device(s)"));
}

#if defined(__GLIBC__)
#include <malloc.h>

TEST_CASE("keep_freed_memory: a 20 MiB block comes from the reusable heap - not a fresh mmap", "[torch]") {
  REQUIRE(keep_freed_memory());
  const auto before = mallinfo2().hblks;  // blocks currently served by mmap
  void* p = std::malloc(20u << 20);
  REQUIRE(p != nullptr);
  CHECK(mallinfo2().hblks == before);
  std::free(p);
}
#endif
