// pathcheck: the command-line front of the PaTH reference library.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "eval_command.hpp"
#if PATH_HAVE_PROPERTIES
#include "fuzz_command.hpp"
#endif
#include "gen_command.hpp"
#include "run_command.hpp"
#include "validate_command.hpp"
#include "path/io/safetensors.hpp"
#include "path/validate.hpp"

namespace {

void print_usage(std::ostream& os) {
  os << "usage: pathcheck <command> [options]\n\ncommands:\n  eval      evaluate an oracle on a case file\n"
     << "  gen       generate a conformance suite\n"
     << "  run       run an in-process implementation or an external program through a suite\n"
     << "  validate  judge a third party's result files against a suite\n"
#if PATH_HAVE_PROPERTIES
     << "  fuzz      property-based fuzzing of an implementation against the oracles\n"
#endif
     << "\n"
     << pathcheck::eval_usage << "\n" << pathcheck::gen_usage << "\n" << pathcheck::run_usage << "\n"
     << pathcheck::validate_usage;
#if PATH_HAVE_PROPERTIES
  os << "\n" << pathcheck::fuzz_usage;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "eval") return pathcheck::run_eval(args);
    if (command == "gen") return pathcheck::run_gen(args);
    if (command == "run") return pathcheck::run_run(args);
    if (command == "validate") return pathcheck::run_validate(args);
#if PATH_HAVE_PROPERTIES
    if (command == "fuzz") return pathcheck::run_fuzz(args);
#endif
    std::cerr << "pathcheck: unknown command '" << command << "'\n";
    print_usage(std::cerr);
    return 2;
  } catch (const pathcheck::UsageError& e) {
    std::cerr << "pathcheck " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const path::io::FileError& e) {
    std::cerr << "pathcheck " << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const pathcheck::RunError& e) {
    std::cerr << "pathcheck " << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const path::InvalidProblem& e) {
    std::cerr << "pathcheck " << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pathcheck " << command << ": internal error: " << e.what() << "\n";
    return 3;
  }
}
