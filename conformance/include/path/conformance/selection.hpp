#pragma once
// What part of a suite a command works on: which outputs are judged (--outputs o,lse: a
// forward-only or decode-only implementation is judged on what it claims, and the report says
// what was not judged) and which cases this job takes (--shard K/N: a big suite split over a job
// array, docs/sharding.md).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "path/conformance/implementation.hpp"

namespace path::conformance {

// Every output name a case can have, in output_names' order.
const std::vector<std::string>& all_output_names();

class OutputSelection {
 public:
  OutputSelection() = default;  // every output
  // "o,lse,k_cache": throws std::invalid_argument naming an unknown or repeated output, or an empty list.
  static OutputSelection parse(std::string_view list);
  explicit OutputSelection(std::vector<std::string> names);

  bool all() const { return names_.empty(); }
  bool selects(std::string_view output) const;
  // The selected outputs of the case, and the others (not judged).
  std::vector<std::string> judged(const CaseSpec& spec) const;
  std::vector<std::string> not_judged(const CaseSpec& spec) const;
  // Whether any gradient (dq ... dg) is selected: without one, a gradient case is run as a forward
  // case (no `do`), so a forward-only implementation can take it.
  bool any_gradient() const;
  const std::vector<std::string>& names() const { return names_; }  // empty: all
  std::string text() const;  // "o,lse" or "all"

 private:
  std::vector<std::string> names_;
};

// Case i (0-based, in suite order) belongs to shard i mod N + 1: round robin, so that every shard
// gets its share of the long cases at the end of a suite.
struct Shard {
  std::size_t index = 1;  // K, 1-based
  std::size_t count = 1;  // N
  // "K/N" with 1 <= K <= N; throws std::invalid_argument otherwise.
  static Shard parse(std::string_view text);
  bool whole() const { return count == 1; }
  bool holds(std::size_t case_index) const { return case_index % count == index - 1; }
  std::string text() const;  // "K/N"
  bool operator==(const Shard&) const = default;
};

// The items of `all` that the shard holds, in order.
template <class T>
std::vector<T> shard_of(const std::vector<T>& all, const Shard& shard) {
  std::vector<T> out;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (shard.holds(i)) out.push_back(all[i]);
  return out;
}

// Names that contain any of the comma-separated parts of `filter` (--only "q000,q017"), in order.
std::vector<std::string> filter_names(const std::vector<std::string>& names, std::string_view filter);

}  // namespace path::conformance
