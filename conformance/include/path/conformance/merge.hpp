#pragma once
// Merging the JSON reports of the shards of one suite (pathcheck merge, docs/sharding.md) into the
// report one job over the whole suite would have written.
#include <string>
#include <vector>

namespace path::conformance {

struct ReportText {
  std::string source;  // the file, for messages
  std::string text;    // its contents (report_json's format)
};

struct MergedReport {
  std::string json;                   // the merged report, report_json's format
  bool complete = false;              // every case of the suite is in some report
  std::size_t covered = 0, suite_cases = 0;
  std::vector<std::string> shards;    // the shards merged ("1/4", ...)
};

// io::FileError naming the file when a report is malformed, when reports come from different
// suites (suite identity, dtype), commands, outputs or (for run) implementations, or when two
// reports hold the same case. Case entries are copied as they are, fields pathcheck does not
// know included.
MergedReport merge_reports(const std::vector<ReportText>& reports);

}  // namespace path::conformance
