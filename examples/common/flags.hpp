#pragma once
// A small command-line parser for the examples: `--name value`, `--name=value` and bare boolean
// `--name`; `--help` lists every flag with its default. Unknown flags and bad values are errors
// that name the flag, raised while the flags are read, before the program does any work:
// numbers have ranges (`at_least`, `positive`), so `--epochs -1` or `--threads 0` cannot start
// a run that then does nothing, or crashes.

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace examples {

class Flags {
 public:
  Flags(int argc, char** argv, std::string summary) : program_(argv[0]), summary_(std::move(summary)) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0)
        throw std::invalid_argument("unexpected argument '" + arg + "' (flags start with --)");
      arg = arg.substr(2);
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        given_[arg.substr(0, eq)] = arg.substr(eq + 1);
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        given_[arg] = argv[++i];
      } else {
        given_[arg] = "true";
      }
    }
  }

  /// The value of --name, or `fallback`; `help` is shown by --help.
  template <class T>
  T get(const std::string& name, T fallback, const std::string& help) {
    std::ostringstream def;
    def << std::boolalpha << fallback;
    known_.push_back({name, def.str(), help});
    const auto it = given_.find(name);
    if (it == given_.end()) return fallback;
    const std::string text = it->second;
    given_.erase(it);
    return parse<T>(name, text);
  }

  /// The value of --name, which must be >= `min` (and <= `max`).
  template <class T>
  T at_least(const std::string& name, T fallback, T min, const std::string& help,
             T max = std::numeric_limits<T>::max()) {
    const T value = get(name, fallback, help);
    if (value < min || value > max) {
      std::ostringstream msg;
      msg << "--" << name << " must be at least " << min;
      if (max != std::numeric_limits<T>::max()) msg << " and at most " << max;
      msg << ", got " << value;
      throw std::invalid_argument(msg.str());
    }
    return value;
  }

  /// The value of --name, which must be > 0 (a learning rate, a step size).
  double positive(const std::string& name, double fallback, const std::string& help) {
    const double value = get(name, fallback, help);
    if (!(value > 0)) throw std::invalid_argument("--" + name + " must be positive, got " + text_of(value));
    return value;
  }

  /// A comma-separated list of positive integers, e.g. --hidden 512,256.
  std::vector<long> get_list(const std::string& name, const std::string& fallback, const std::string& help) {
    const std::string text = get<std::string>(name, fallback, help);
    std::vector<long> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) {
      out.push_back(parse<long>(name, item));
      if (out.back() < 1) throw std::invalid_argument("--" + name + " widths must be at least 1, got " + item);
    }
    return out;
  }

  /// Prints the usage and exits for --help; throws for flags nobody asked for.
  void finish() {
    if (given_.count("help")) {
      std::cout << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
      for (const auto& f : known_)
        std::cout << "  --" << f.name << " (default " << f.fallback << ")\n      " << f.help << "\n";
      std::exit(0);
    }
    if (!given_.empty()) throw std::invalid_argument("unknown flag --" + given_.begin()->first + " (see --help)");
  }

 private:
  template <class T>
  static T parse(const std::string& name, const std::string& text) {
    if constexpr (std::is_same_v<T, std::string>) {
      return text;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      throw std::invalid_argument("--" + name + " expects true or false, got '" + text + "'");
    } else {
      std::istringstream in(text);
      T value{};
      in >> value;
      // An unsigned read wraps "-1" around to 2^64 - 1; a float read may give inf or nan.
      const bool wrapped = std::is_unsigned_v<T> && text.find('-') != std::string::npos;
      bool finite = true;
      if constexpr (std::is_floating_point_v<T>) finite = std::isfinite(value);
      if (!in || !in.eof() || wrapped || !finite)
        throw std::invalid_argument("--" + name + " expects a " + (std::is_unsigned_v<T> ? "non-negative " : "") +
                                    (std::is_integral_v<T> ? "whole" : "finite") + " number, got '" + text + "'");
      return value;
    }
  }
  template <class T>
  static std::string text_of(T value) {
    std::ostringstream out;
    out << value;
    return out.str();
  }

  struct Known {
    std::string name, fallback, help;
  };
  std::string program_, summary_;
  std::map<std::string, std::string> given_;
  std::vector<Known> known_;
};

/// Runs an example's `run()` and turns any exception into "program: message" on stderr and
/// exit status 1, so every error a user can cause reads as a sentence, not an abort.
template <class Run>
int guarded_main(const char* program, Run&& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace examples
