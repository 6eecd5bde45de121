#include "arguments.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace pathcheck {

namespace {

// CLI11 words its errors for its own option names ("--seed: 1 required ..."); ours keep the
// wording the messages had before (and that the tests check): the option and what is wrong.
std::string usage_message(const CLI::ParseError& e) {
  const std::string what = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    // "The following arguments were not expected: --frob"
    const auto colon = what.find(": ");
    return "unknown argument '" + (colon == std::string::npos ? what : what.substr(colon + 2)) + "'";
  }
  return what;
}

// Lines of at most `width` characters, broken at spaces.
std::string wrapped(const std::string& text, std::size_t width) {
  std::string out, line, word;
  std::istringstream words(text);
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line + (line.empty() ? "" : "\n");
}

// CLI11 prints the description, then "Usage: NAME [OPTIONS]"; ours starts with the command's
// synopsis (which says which options are required), then says what the command does.
class SynopsisFormatter : public CLI::Formatter {
 public:
  SynopsisFormatter(std::string synopsis, std::string description)
      : synopsis_(std::move(synopsis)), description_(std::move(description)) {
    column_width(26);
  }
  std::string make_description(const CLI::App*) const override {
    return "usage: " + synopsis_ + "\n\n" + wrapped(description_, 100);
  }
  std::string make_usage(const CLI::App*, std::string) const override { return ""; }
  std::string make_footer(const CLI::App* app) const override {
    std::string out;
    std::istringstream paragraphs(app->get_footer());
    for (std::string p; std::getline(paragraphs, p);) out += wrapped(p, 100);
    return out;
  }

 private:
  std::string synopsis_, description_;
};

}  // namespace

CommandLine::CommandLine(std::string synopsis, std::string description)
    : synopsis_(std::move(synopsis)), description_(std::move(description)) {}

CommandLine& CommandLine::option(const std::string& name, const std::string& value_name, const std::string& help) {
  specs_.push_back({name, value_name, help, true});
  return *this;
}

CommandLine& CommandLine::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, false});
  return *this;
}

CommandLine& CommandLine::footer(const std::string& text) {
  footer_ = text;
  return *this;
}

CommandLine& CommandLine::positionals(const std::string& value_name, const std::string& help) {
  positionals_ = Spec{value_name, value_name, help, true};
  return *this;
}

void CommandLine::declare(CLI::App& app, std::map<std::string, std::string>& values, std::vector<std::string>& positionals,
                          std::map<std::string, CLI::Option*>& options) const {
  app.formatter(std::make_shared<SynopsisFormatter>(synopsis_, description_));
  app.footer(footer_);
  app.set_help_flag("-h,--help", "print this help and exit");
  for (const Spec& s : specs_) {
    if (s.takes_value)
      options[s.name] = app.add_option(s.name, values[s.name], s.help)
                            ->type_name(s.value_name)
                            ->multi_option_policy(CLI::MultiOptionPolicy::Throw)
                            ->allow_extra_args(false);
    else
      options[s.name] = app.add_flag(s.name, s.help)->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  }
  if (positionals_) app.add_option(positionals_->name, positionals, positionals_->help)->type_name("");
}

Arguments CommandLine::parse(const std::vector<std::string>& args) const {
  CLI::App app(description_, synopsis_);
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> options;
  Arguments a;
  declare(app, values, a.positionals_, options);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    throw HelpRequested(help());
  } catch (const CLI::ArgumentMismatch& e) {
    throw UsageError(std::string(e.what()) + " (an option is given at most once)");
  } catch (const CLI::ParseError& e) {
    throw UsageError(usage_message(e));
  }
  for (const Spec& s : specs_) {
    if (options[s.name]->count() == 0) continue;
    if (s.takes_value) a.values_[s.name] = values[s.name];
    else a.flags_.insert(s.name);
  }
  return a;
}

std::string CommandLine::help() const {
  CLI::App app(description_, synopsis_);
  std::map<std::string, std::string> values;
  std::vector<std::string> positionals;
  std::map<std::string, CLI::Option*> options;
  declare(app, values, positionals, options);
  return app.help();
}

Arguments::Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_options,
                     const std::set<std::string>& flags) {
  CommandLine line("pathcheck [options]", "");
  for (const std::string& o : value_options) line.option(o, "VALUE", "");
  for (const std::string& f : flags) line.flag(f, "");
  *this = line.parse(args);
}

std::string Arguments::required(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("missing required option " + name);
  return it->second;
}

std::string Arguments::value_or(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

long long Arguments::integer_or(const std::string& name, long long fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("option " + name + ": '" + it->second + "' is not an integer");
  return x;
}

double Arguments::positive_or(const std::string& name, double fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(x > 0) || !std::isfinite(x))
    throw UsageError(name + ": '" + text + "' is not a positive number");
  return x;
}

const char* version() { return PATHCHECK_VERSION; }

}  // namespace pathcheck
