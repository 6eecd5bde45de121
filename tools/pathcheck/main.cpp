// pathcheck: the command-line front of the PaTH reference library.
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "check_command.hpp"
#include "eval_command.hpp"
#include "refresh_command.hpp"
#if PATH_HAVE_PROPERTIES
#include "fuzz_command.hpp"
#endif
#include "gen_command.hpp"
#include "merge_command.hpp"
#include "run_command.hpp"
#include "validate_command.hpp"
#include "path/io/safetensors.hpp"
#include "path/validate.hpp"

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const std::vector<std::string>&)> run;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"check", "check this installation: the built-in quick suite on every implementation here", pathcheck::run_check},
      {"gen", "generate a conformance suite (case files and their manifest)", pathcheck::run_gen},
      {"run", "run an implementation (built in, or an external program) through a suite", pathcheck::run_run},
      {"validate", "judge a third party's result files against a suite", pathcheck::run_validate},
      {"merge", "merge the JSON reports of a sharded run into one", pathcheck::run_merge},
      {"eval", "evaluate an oracle on a case file", pathcheck::run_eval},
      {"refresh", "re-derive a suite's tolerances under this pathcheck's tolerance model", pathcheck::run_refresh},
#if PATH_HAVE_PROPERTIES
      {"fuzz", "property-based fuzzing of an implementation against the oracles", pathcheck::run_fuzz},
#endif
  };
  return list;
}

void print_usage(std::ostream& os) {
  os << "usage: pathcheck <command> [options]      pathcheck <command> --help      pathcheck --version\n\n"
     << "Reference numerics and verification for PaTH attention. New here? Run `pathcheck check`.\n\ncommands:\n";
  for (const Command& c : commands()) os << "  " << c.name << std::string(10 - std::string(c.name).size(), ' ') << c.summary << "\n";
  os << "\nExit status: 0 success (every judged case passed), 1 a failure or an error (named), 2 a bad command line.\n";
}

int dispatch(const Command& command, const std::vector<std::string>& args) {
  const std::string name = command.name;
  try {
    return command.run(args);
  } catch (const pathcheck::HelpRequested& help) {
    std::cout << help.what();
    return 0;
  } catch (const pathcheck::UsageError& e) {
    std::cerr << "pathcheck " << name << ": " << e.what() << "\n(pathcheck " << name << " --help lists the options)\n";
    return 2;
  } catch (const path::io::FileError& e) {
    std::cerr << "pathcheck " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const pathcheck::RunError& e) {
    std::cerr << "pathcheck " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const path::InvalidProblem& e) {
    std::cerr << "pathcheck " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pathcheck " << name << ": internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || (args[0] == "help" && args.size() == 1)) {
    print_usage(std::cout);
    return 0;
  }
  if (args[0] == "--version" || args[0] == "-V") {
    std::cout << "pathcheck " << pathcheck::version() << "\n";
    return 0;
  }
  if (args[0] == "help") args = {args[1], "--help"};  // pathcheck help gen
  for (const Command& c : commands())
    if (args[0] == c.name) return dispatch(c, std::vector<std::string>(args.begin() + 1, args.end()));
  std::cerr << "pathcheck: unknown command '" << args[0] << "'\n";
  print_usage(std::cerr);
  return 2;
}
