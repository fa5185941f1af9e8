#pragma once
// A stderr progress bar: redrawn in place on a terminal, a line every 10% otherwise.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace ttsearch::cli {

class Progress {
 public:
  Progress(std::string label, std::size_t total) : label_(std::move(label)), total_(total), tty_(isatty(2) != 0) {}
  void tick(std::size_t n = 1) {
    done_ += n;
    const std::size_t pct = total_ ? done_ * 100 / total_ : 100;
    if (tty_) {
      const std::size_t width = 30, fill = total_ ? done_ * width / total_ : width;
      fmt::print(stderr, "\r{:<28} [{}{}] {:>3}% ({}/{})", label_, std::string(fill, '#'), std::string(width - fill, ' '),
                 pct, done_, total_);
      if (done_ >= total_) fmt::print(stderr, "\n");
    } else if (pct / 10 > last_decile_ || done_ >= total_) {
      last_decile_ = pct / 10;
      fmt::print(stderr, "{}: {}% ({}/{})\n", label_, pct, done_, total_);
    }
  }

 private:
  std::string label_;
  std::size_t total_, done_ = 0, last_decile_ = 0;
  bool tty_;
};

}  // namespace ttsearch::cli
