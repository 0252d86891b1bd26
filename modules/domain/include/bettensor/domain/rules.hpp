// The validator's prediction rules (SPEC.md section 6) that need no stored state, and the game
// set they are checked against.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::domain {

/// An immutable set of games, indexed by id, with the canonical text that identifies it.
class game_book {
 public:
  struct entry {
    protocol::team_game game;
    protocol::timestamp starts;
  };

  /// Checks every game (fields, dates, unique ids). The error names the game.
  static protocol::result<std::shared_ptr<const game_book>> make(
      std::vector<protocol::team_game> games);
  /// Parses a JSON array of TeamGame objects, or {"games": [...]}.
  static protocol::result<std::shared_ptr<const game_book>> parse(std::string_view text);
  /// Reads a games file (same format); errors name the file.
  static protocol::result<std::shared_ptr<const game_book>> load(const std::filesystem::path& file);

  [[nodiscard]] const entry* find(const std::string& game_id) const;
  [[nodiscard]] const std::vector<protocol::team_game>& games() const { return games_; }
  /// Canonical text of the games sorted by id: equal texts mean an unchanged set.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }

 private:
  std::vector<protocol::team_game> games_;
  std::unordered_map<std::string, entry> by_id_;
  std::string fingerprint_;
};

/// SPEC section 6 after the duplicate check and before the daily limit, in that order. Returns
/// the first rule the prediction breaks, or nullopt when it passes.
std::optional<protocol::rejection> check_prediction(const protocol::team_game_prediction& p,
                                                    const game_book& games,
                                                    protocol::timestamp now);

}  // namespace bettensor::domain
