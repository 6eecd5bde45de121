#pragma once
// Text a third party's program wrote (its stderr, a case's error file) made safe for every report
// writer: the table, JSON and JUnit XML must not choke on what a crashing program leaves behind.
#include <string>

namespace path::adapters {

// Control characters (but newline and tab) and bytes that are not well-formed UTF-8 (no overlong
// forms, no surrogates; a cut inside a character counts) become '?'; CR LF becomes LF.
std::string printable_text(const std::string& raw);

}  // namespace path::adapters
