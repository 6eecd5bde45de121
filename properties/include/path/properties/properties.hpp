#pragma once
// The properties an implementation is fuzzed with (docs/fuzzing.md). Each property names the
// cases it needs (the generated one and, for a metamorphic property, its transforms), and then
// judges the implementation's outputs on them through the conformance judge (run_case):
//
//   oracle               the implementation against the oracle within the tolerance model: o, lse,
//                        and the gradients or the decode cache the case asks for.
//   decode-vs-forward    decode steps (prefill P, then one step per token) against the same
//                        implementation's forward pass on the same tokens.
//   append-tokens        appending tokens leaves the earlier o and lse unchanged.
//   varlen-vs-separate   a varlen batch equals its sequences run one by one (a dense batch equals
//                        the same rows packed with cu_seqlens).
//   gqa-vs-repeated      GQA equals the kv heads repeated once per query head (kv-head
//                        gradients: the sum over the group).
//   scale-v              scaling v by 2 scales o and every gradient but dv by 2, leaves lse, dv and
//                        the cache alone.
//   beta0-vs-orthogonal-w  beta = 0 and w orthogonal to every q and k are both plain attention.
//
// A metamorphic property compares the implementation with itself: the outputs it returns on the
// transformed case, mapped through the relation, become the expected values of a case with the
// generated inputs, and the judge compares what it returns there. The tolerance of each related
// output is the sum of the two cases' tolerance-model tolerances (times the relation's factor:
// 2 for scale-v, the group size for summed kv-head gradients): if the implementation passed the
// oracle property on both cases it would pass this one (triangle inequality), so a metamorphic
// failure always means a conformance failure on one of the two cases -- or an oracle that breaks
// the relation itself, which the report then says.
//
// Only the outputs the implementation claims (--outputs) are asked for and judged; a relation
// compares the claimed ones among those it relates, and a property that can say nothing with
// the claimed outputs (decode-vs-forward without k_cache) names why in cannot_judge().
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/selection.hpp"

namespace path::properties {

enum class Outcome { pass, fail, discard };

struct PropertyResult {
  Outcome outcome = Outcome::pass;
  std::string summary;                            // a failure or a discard, in words
  std::vector<conformance::CaseVerdict> verdicts;  // the judge's verdicts
};

class Property {
 public:
  virtual ~Property() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // The inputs the property needs for the generated case `base`: base first, then its transforms
  // (names derived from base's). nullopt: the property says nothing about this case (discarded).
  virtual std::optional<std::vector<conformance::CaseInput>> inputs(const conformance::CaseInput& base) const = 0;
  // Judges the implementation on the cases built from inputs() (same order), on the claimed outputs.
  virtual PropertyResult check(conformance::Implementation& impl, const std::vector<conformance::Case>& cases,
                               const conformance::OutputSelection& claimed) const = 0;
  // Why the property can judge nothing when only `claimed` is computed ("": it can).
  virtual std::string cannot_judge(const conformance::OutputSelection& claimed) const {
    (void)claimed;
    return "";
  }
};

// Every property, "oracle" first.
std::vector<std::unique_ptr<Property>> all_properties();
std::vector<std::string> property_names();
// The properties of a comma-separated list ("all": every one); std::invalid_argument naming an
// unknown one.
std::vector<std::unique_ptr<Property>> select_properties(const std::string& list);

}  // namespace path::properties
