#pragma once
// An SVG line plot of accuracy against generated tokens per problem (log scale), one line per
// strategy, with an optional horizontal reference line. No plotting library is packaged here.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <ttsearch/core/error.hpp>

namespace ttsearch::cli {

inline constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                         "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd", "#e6550d"};

struct PlotPoint {
  std::string series;
  double x, y;  // x > 0 (log scale), y in [0, 1]
};

/// Draws one line per series (points sorted by x, in first-seen series order) and its legend entry
/// right of `legend_x`; returns the y of the next legend line.
template <class FX, class FY>
double draw_series(std::string& s, const std::vector<PlotPoint>& points, FX X, FY Y, double legend_x, double top) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const auto& p : points) {
    if (!series.contains(p.series)) order.push_back(p.series);
    series[p.series].emplace_back(p.x, p.y);
  }
  std::size_t c = 0;
  double ly = top + 10;
  for (const auto& name : order) {
    auto pts = series[name];
    std::sort(pts.begin(), pts.end());
    const char* color = kColors[c++ % std::size(kColors)];
    std::string poly;
    for (const auto& [x, y] : pts) poly += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
    s += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>)", poly, color);
    for (const auto& [x, y] : pts) s += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>)", X(x), Y(y), color);
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>)", legend_x + 12, ly,
                     legend_x + 32, ly, color, legend_x + 38, ly + 4, name);
    ly += 18;
  }
  return ly;
}

inline void write_svg_plot(const std::string& path, const std::string& title, const std::vector<PlotPoint>& points,
                           const std::vector<std::pair<std::string, double>>& references = {}) {
  const double W = 760, H = 480, left = 70, right = 190, top = 40, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  double xmin = 1e300, xmax = 0;
  for (const auto& p : points) {
    TTSEARCH_REQUIRE(p.x > 0, "plot: x must be > 0 (got {})", p.x);
    xmin = std::min(xmin, p.x);
    xmax = std::max(xmax, p.x);
  }
  if (points.empty()) xmin = 1, xmax = 10;
  const double lo = std::floor(std::log2(xmin)), hi = std::max(lo + 1, std::ceil(std::log2(xmax)));
  auto X = [&](double x) { return left + (std::log2(x) - lo) / (hi - lo) * pw; };
  auto Y = [&](double y) { return top + (1.0 - y) * ph; };
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)", W, H);
  s += fmt::format(R"(<rect width="{}" height="{}" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>)", W, H,
                   left + pw / 2, title);
  for (int k = 0; k <= 10; k += 2) {  // y grid
    const double y = Y(k / 10.0);
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}%</text>)", left, y,
                     left + pw, y, left - 6, y + 4, k * 10);
  }
  for (double e = lo; e <= hi; e += 1) {  // x grid at powers of two
    const double x = X(std::exp2(e));
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#eee"/><text x="{}" y="{}" text-anchor="middle">{}</text>)", x, top, x,
                     top + ph, x, top + ph + 16, static_cast<long long>(std::exp2(e)));
  }
  s += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333"/>)", left, top, pw, ph);
  s += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">generated tokens per problem (log scale)</text>)", left + pw / 2, H - 18);
  s += fmt::format(R"svg(<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">accuracy</text>)svg", top + ph / 2);
  double ly = draw_series(s, points, X, Y, left + pw, top);
  for (const auto& [name, y] : references) {
    s += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#000" stroke-dasharray="5,4"/>)", left, Y(y), left + pw, Y(y));
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#000" stroke-dasharray="5,4"/><text x="{}" y="{}">{}</text>)", left + pw + 12,
                     ly, left + pw + 32, ly, left + pw + 38, ly + 4, name);
    ly += 18;
  }
  s += "</svg>\n";
  std::ofstream out(path);
  out << s;
  TTSEARCH_REQUIRE(out.good(), "cannot write '{}'", path);
}

/// Tokens per problem (log scale) against the problem level, one line per strategy.
inline void write_svg_level_plot(const std::string& path, const std::string& title, const std::vector<PlotPoint>& points) {
  const double W = 760, H = 480, left = 70, right = 190, top = 40, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = 0;
  for (const auto& p : points) {
    TTSEARCH_REQUIRE(p.y > 0, "plot: y must be > 0 (got {})", p.y);
    xmin = std::min(xmin, p.x), xmax = std::max(xmax, p.x), ymin = std::min(ymin, p.y), ymax = std::max(ymax, p.y);
  }
  if (points.empty()) xmin = 0, xmax = 1, ymin = 1, ymax = 2;
  if (xmax == xmin) xmax = xmin + 1;
  const double lo = std::floor(std::log2(ymin)), hi = std::max(lo + 1, std::ceil(std::log2(ymax)));
  auto X = [&](double x) { return left + (x - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return top + (1.0 - (std::log2(y) - lo) / (hi - lo)) * ph; };
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)", W, H);
  s += fmt::format(R"(<rect width="{}" height="{}" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>)", W, H,
                   left + pw / 2, title);
  for (double e = lo; e <= hi; e += 1) {
    const double y = Y(std::exp2(e));
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>)", left, y, left + pw,
                     y, left - 6, y + 4, static_cast<long long>(std::exp2(e)));
  }
  for (double x = std::ceil(xmin); x <= xmax; x += 1) {
    s += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#eee"/><text x="{}" y="{}" text-anchor="middle">{}</text>)", X(x), top, X(x),
                     top + ph, X(x), top + ph + 16, static_cast<long long>(x));
  }
  s += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333"/>)", left, top, pw, ph);
  s += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">level (operations per problem)</text>)", left + pw / 2, H - 18);
  s += fmt::format(R"svg(<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">generated tokens per problem (log scale)</text>)svg",
                   top + ph / 2);
  draw_series(s, points, X, Y, left + pw, top);
  s += "</svg>\n";
  std::ofstream out(path);
  out << s;
  TTSEARCH_REQUIRE(out.good(), "cannot write '{}'", path);
}

}  // namespace ttsearch::cli
