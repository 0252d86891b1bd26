#include "bettensor/cli/options.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace bettensor::cli {

std::optional<po::variables_map> parse(int argc, const char* const* argv, const program_info& info,
                                       const po::options_description& options) {
  po::options_description general("General");
  general.add_options()("help,h", "show this help and exit")(
      "config", po::value<std::string>()->value_name("FILE"),
      "read options from an INI file (keys as the long flags without '--'; the command line wins)");
  po::options_description all;
  all.add(general).add(options);

  po::variables_map vm;
  try {
    const po::positional_options_description no_positionals;
    po::store(po::command_line_parser(argc, argv).options(all).positional(no_positionals).run(),
              vm);
    if (vm.count("help") != 0) {
      std::cout << "Usage: " << info.name << " [options]\n\n"
                << info.summary << "\n\n"
                << all << '\n';
      return std::nullopt;
    }
    if (vm.count("config") != 0) {
      const std::string file = vm["config"].as<std::string>();
      std::ifstream in(file);
      if (!in) throw usage_error("--config: cannot read " + file);
      po::store(po::parse_config_file(in, options, false), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  return vm;
}

po::options_description bittensor_logging_options() {
  po::options_description o("Logging, as the Bittensor SDK spells it");
  o.add_options()("logging.trace", po::bool_switch(), "log at trace level (every frame)")(
      "logging.debug", po::bool_switch(), "log at debug level")("logging.info", po::bool_switch(),
                                                                "log at info level (the default)");
  return o;
}

std::string bittensor_log_level(const po::variables_map& vm, std::string fallback) {
  for (const char* level : {"trace", "debug", "info"}) {
    const std::string flag = std::string("logging.") + level;
    if (vm.count(flag) != 0 && vm[flag].as<bool>()) return level;
  }
  return fallback;
}

int positive_int(const po::variables_map& vm, const std::string& flag) {
  const int v = vm[flag].as<int>();
  if (v <= 0)
    throw usage_error("--" + flag + " must be a positive number (got " + std::to_string(v) + ")");
  return v;
}

std::uint16_t port(const po::variables_map& vm, const std::string& flag) {
  const int v = vm[flag].as<int>();
  if (v < 0 || v > 65535)
    throw usage_error("--" + flag + " must be between 0 and 65535 (got " + std::to_string(v) + ")");
  return static_cast<std::uint16_t>(v);
}

double positive_seconds(const po::variables_map& vm, const std::string& flag) {
  const double v = vm[flag].as<double>();
  if (!(v > 0) || v > 1e7)
    throw usage_error("--" + flag + " must be a positive number of seconds (got " +
                      std::to_string(v) + ")");
  return v;
}

std::string log_level_name(const std::string& flag, const std::string& name) {
  static constexpr std::string_view names[] = {"trace", "debug",    "info", "warn",
                                               "error", "critical", "off"};
  for (const auto n : names)
    if (name == n) return name;
  if (name == "warning") return "warn";
  throw usage_error("--" + flag + ": unknown level '" + name +
                    "' (trace, debug, info, warn, error, critical, off)");
}

std::filesystem::path expand_user(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return path;
  if (path == "~") return home;
  if (path.starts_with("~/")) return std::filesystem::path(home) / path.substr(2);
  return path;
}

}  // namespace bettensor::cli
