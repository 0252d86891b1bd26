// Command-line handling shared by every program: --help, --config <ini>, and one clear line plus
// exit code 2 for anything wrong with the flags.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bettensor::cli {

namespace po = boost::program_options;

/// Exit code for a bad flag, value or config file.
inline constexpr int usage_exit_code = 2;

/// A problem with the flags, worded for the operator (names the flag).
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct program_info {
  std::string_view name;     // "bettensor-keygen"
  std::string_view summary;  // one paragraph shown by --help
};

/// Parses argv, then the INI file named by --config (command line wins). Returns nullopt after
/// printing --help to stdout. Throws usage_error for an unknown flag, a bad value, a positional
/// argument or an unreadable config file.
std::optional<po::variables_map> parse(int argc, const char* const* argv, const program_info& info,
                                       const po::options_description& options);

/// The value of an int flag that must be > 0; usage_error naming the flag otherwise.
int positive_int(const po::variables_map& vm, const std::string& flag);

/// The value of a port flag (0 to 65535; 0 lets the kernel pick); usage_error naming the flag.
std::uint16_t port(const po::variables_map& vm, const std::string& flag);

/// The value of a seconds flag (a number, fractions allowed) that must be > 0.
double positive_seconds(const po::variables_map& vm, const std::string& flag);

/// Checks a log level name (trace, debug, info, warn, error, critical, off) and returns it as
/// spdlog spells it; usage_error naming the flag otherwise.
std::string log_level_name(const std::string& flag, const std::string& name);

/// The Bittensor SDK's logging switches: --logging.trace, --logging.debug, --logging.info.
po::options_description bittensor_logging_options();

/// The level a --logging.* switch asks for (the most verbose one given), else `fallback` (the
/// program's own --log.level or --log_level).
std::string bittensor_log_level(const po::variables_map& vm, std::string fallback);

/// "~" or "~/x" expanded with $HOME, as Bittensor does for wallet paths.
std::filesystem::path expand_user(const std::string& path);

}  // namespace bettensor::cli
