// bettensor-demo: the whole channel on one machine. It generates throwaway wallets, a metagraph
// and a schedule of upcoming games, starts a validator and miners on loopback, changes odds
// half-way, prints what happens and a summary, and exits by itself (see --help).
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "bettensor/cli/options.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/test/metagraph_file.hpp"
#include "bettensor/transport/http_client.hpp"
#include "bettensor/validator/validator_service.hpp"

namespace po = boost::program_options;
namespace net = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace bettensor;
using namespace std::chrono_literals;

namespace {

enum class mode { both, validator, miner };

struct settings {
  mode run = mode::both;
  double duration = 20;
  int miners = 3;
  int games = 6;
  std::uint16_t port = 0;
  std::optional<fs::path> workdir;
  bool keep = false;
  std::optional<std::uint16_t> metrics_port;  // validator; miner i on metrics_port + i
};

// --- output ----------------------------------------------------------------------------------

class console {
 public:
  void line(const std::string& who, const std::string& what) {
    const auto t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::lock_guard lock(mutex_);
    std::printf("[%6.2fs] %-10s %s\n", t, who.c_str(), what.c_str());
    std::fflush(stdout);
  }
  void raw(const std::string& text) {
    std::lock_guard lock(mutex_);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

std::string short_key(const std::string& ss58) {
  return ss58.substr(0, 6) + "…";
}

// --- generated files -------------------------------------------------------------------------

void write_file(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << '\n';
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, p);
}

crypto::hotkey wallet(const fs::path& wallets, const std::string& name) {
  const crypto::wallet_location where{wallets, name, "default"};
  if (fs::exists(where.hotkey_file())) {
    auto h = crypto::load_hotkey(where.hotkey_file());
    if (!h) throw std::runtime_error(h.error().message);
    return std::move(*h);
  }
  auto h = crypto::create_hotkey(where.hotkey_file(), false);
  if (!h) throw std::runtime_error(h.error().message);
  return std::move(*h);
}

struct neuron_entry {
  std::string hotkey;
  bool validator = false;
  std::uint16_t port = 0;
};

void write_metagraph(const fs::path& file, const std::vector<neuron_entry>& neurons,
                     std::int64_t block) {
  std::vector<test::neuron> list;
  for (std::size_t uid = 0; uid < neurons.size(); ++uid) {
    const auto& n = neurons[uid];
    const auto id = static_cast<std::int64_t>(uid);
    list.push_back(n.validator ? test::validator_neuron(id, n.hotkey, n.port, 50000.0)
                               : test::miner_neuron(id, n.hotkey, 10.0));
  }
  test::write_metagraph(file, list, block);
}

struct fixture_team {
  const char* a;
  const char* b;
  const char* sport;
  const char* league;
  double odds_a;
  double odds_b;
  std::optional<double> tie;
};

constexpr fixture_team schedule[] = {
    {"Arsenal", "Chelsea", "soccer", "EPL", 2.10, 3.40, 3.25},
    {"Lakers", "Celtics", "basketball", "NBA", 1.85, 2.00, std::nullopt},
    {"Chiefs", "Bills", "football", "NFL", 1.70, 2.20, std::nullopt},
    {"Real Madrid", "Barcelona", "soccer", "La Liga", 2.40, 2.80, 3.30},
    {"Yankees", "Red Sox", "baseball", "MLB", 1.95, 1.90, std::nullopt},
    {"Bayern", "Dortmund", "soccer", "Bundesliga", 1.55, 5.00, 4.20},
    {"Warriors", "Suns", "basketball", "NBA", 1.60, 2.45, std::nullopt},
    {"Packers", "Bears", "football", "NFL", 1.45, 2.90, std::nullopt},
};

std::vector<protocol::team_game> make_games(int count) {
  const auto now = protocol::now_utc();
  const auto created = protocol::format_timestamp(now);
  std::vector<protocol::team_game> games;
  for (int i = 0; i < count; ++i) {
    const auto& f = schedule[static_cast<std::size_t>(i) % std::size(schedule)];
    protocol::team_game g;
    g.game_id = "demo-game-" + std::to_string(i + 1);
    g.team_a = f.a;
    g.team_b = f.b;
    g.sport = f.sport;
    g.league = f.league;
    g.create_date = created;
    g.last_update_date = created;
    g.event_start_date = protocol::format_timestamp(now + std::chrono::hours(2 + i));
    g.team_a_odds = f.odds_a;
    g.team_b_odds = f.odds_b;
    g.tie_odds = f.tie;
    g.can_tie = f.tie.has_value();
    games.push_back(std::move(g));
  }
  return games;
}

void write_games(const fs::path& file, const std::vector<protocol::team_game>& games) {
  json::array list;
  for (const auto& g : games) list.push_back(protocol::to_json(g));
  write_file(file, protocol::to_canonical(list));
}

// A new admin token (32 hex digits) in `file`, readable by its owner only.
std::string write_admin_token(const fs::path& file) {
  std::random_device rd;  // the kernel's generator
  std::string token;
  for (int i = 0; i < 4; ++i) token += fmt::format("{:08x}", rd());
  write_file(file, token);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return token;
}

// --- per-miner tallies -----------------------------------------------------------------------

struct tally {
  std::string name;
  std::string strategy;
  std::string hotkey;
  std::set<std::string> predictions;
  std::set<std::string> confirmed;
  std::set<std::string> rejected;
  std::size_t game_updates = 0;
  std::size_t via_http = 0;
  std::vector<double> rtt_ms;
};

// --- the demo --------------------------------------------------------------------------------

class demo {
 public:
  demo(settings s, console& out) : s_(std::move(s)), out_(out) {}

  int run() {
    prepare_workdir();
    const fs::path wallets = dir_ / "wallets";
    auto validator_key = wallet(wallets, "demo-validator");
    std::vector<crypto::hotkey> miner_keys;
    for (int i = 1; i <= s_.miners; ++i)
      miner_keys.push_back(wallet(wallets, "demo-miner-" + std::to_string(i)));

    std::vector<neuron_entry> neurons{{validator_key.ss58, true, s_.port}};
    for (const auto& m : miner_keys) neurons.push_back({m.ss58, false, 0});
    metagraph_file_ = dir_ / "metagraph.json";
    games_file_ = dir_ / "games.json";

    net::io_context ioc(2);
    ioc_ = &ioc;
    std::unique_ptr<validator::validator_service> validator;
    if (s_.run != mode::miner) {
      games_ = make_games(s_.games);
      write_games(games_file_, games_);
      write_metagraph(metagraph_file_, neurons, 1);
      validator::validator_options o;
      o.server.address = "127.0.0.1";
      o.server.port = s_.port;
      o.metagraph_file = metagraph_file_;
      o.games_file = games_file_;
      o.db = storage::db_url::sqlite(dir_ / "validator.db");
      o.file_poll_interval = 200ms;
      o.metrics = std::make_shared<metrics::registry>();
      const auto token_file = dir_ / "admin.token";
      const auto token = write_admin_token(token_file);
      o.admin_token_file = token_file;
      validator = std::make_unique<validator::validator_service>(ioc, std::move(o), validator_key);
      validator->start();
      expose(validator->metrics(), "validator", 0);
      neurons[0].port = validator->port();
      write_metagraph(metagraph_file_, neurons, 2);  // the axon now lists the real port
      out_.line("validator", "hotkey " + validator_key.ss58 + " listening on ws://127.0.0.1:" +
                                 std::to_string(validator->port()) + "/ws, " +
                                 std::to_string(games_.size()) + " upcoming games");
      out_.line("validator", "live page http://127.0.0.1:" + std::to_string(validator->port()) +
                                 "/admin (admin token " + token + ", in " + token_file.string() +
                                 ")");
    } else if (!fs::exists(metagraph_file_)) {
      throw cli::usage_error("--mode=miner needs --workdir of a running --mode=validator demo");
    }
    if (s_.run == mode::validator) print_miner_instructions(neurons, miner_keys);

    std::vector<std::unique_ptr<miner::miner_service>> miners;
    tallies_.resize(miner_keys.size());
    if (s_.run != mode::validator) {
      for (std::size_t i = 0; i < miner_keys.size(); ++i)
        miners.push_back(make_miner(ioc, i, miner_keys[i]));
      for (auto& m : miners) miner_ptrs_.push_back(m.get());
      for (auto& m : miners) m->start();
      for (std::size_t i = 0; i < miners.size(); ++i)
        out_.line(tallies_[i].name,
                  "page http://127.0.0.1:" + std::to_string(miners[i]->api_port()) + "/");
      for (std::size_t i = 0; i < miners.size(); ++i)
        expose(miners[i]->metrics(), tallies_[i].name, static_cast<std::uint16_t>(i + 1));
    }

    net::steady_timer change(ioc), end(ioc);
    if (s_.run != mode::miner) {
      change.expires_after(to_duration(s_.duration / 2));
      change.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) change_odds();
      });
    }
    bool interrupted = false;
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    std::function<void()> finish = [&] {
      change.cancel();
      drain(ioc, miners, [&] { shut_down(ioc, validator, miners); });
    };
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      interrupted = true;
      out_.line("demo", "interrupted: finishing early");
      end.cancel();
    });
    end.expires_after(to_duration(s_.duration));
    end.async_wait([&](const boost::system::error_code&) {
      signals.cancel();
      finish();
    });

    std::thread worker([&] { ioc.run(); });
    ioc.run();
    worker.join();
    miners.clear();
    validator.reset();
    drain_timer_.reset();  // it belongs to this io_context
    miner_ptrs_.clear();
    const int rc = summary(interrupted);
    cleanup();
    return rc;
  }

 private:
  static std::chrono::milliseconds to_duration(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }

  // With --metrics_port: GET /metrics of this service on metrics_port + offset.
  void expose(metrics::registry& r, const std::string& who, std::uint16_t offset) {
    if (!s_.metrics_port) return;
    const auto port = static_cast<std::uint16_t>(*s_.metrics_port + offset);
    r.expose("127.0.0.1", port);
    out_.line(who, "metrics on http://127.0.0.1:" + std::to_string(port) + "/metrics");
  }

  void prepare_workdir() {
    if (s_.workdir) {
      dir_ = *s_.workdir;
      fs::create_directories(dir_);
      return;
    }
    std::string pattern = (fs::temp_directory_path() / "bettensor-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary directory");
    dir_ = pattern;
    remove_at_exit_ = !s_.keep && s_.run == mode::both;
  }

  void cleanup() {
    if (remove_at_exit_) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      out_.line("demo", "files kept in " + dir_.string());
    }
  }

  void print_miner_instructions(const std::vector<neuron_entry>& neurons,
                                const std::vector<crypto::hotkey>& miners) {
    std::string text =
        "\nStart miners against this validator in another terminal, either all at "
        "once:\n  bettensor-demo --mode=miner --workdir=" +
        dir_.string() + "\nor one by one:\n";
    for (std::size_t i = 0; i < miners.size(); ++i) {
      text += "  bettensor-miner --wallet.path=" + (dir_ / "wallets").string() +
              " --wallet.name=demo-miner-" + std::to_string(i + 1) +
              " --validator=ws://127.0.0.1:" + std::to_string(neurons[0].port) + "@" +
              neurons[0].hotkey +
              " --db.path=" + (dir_ / ("miner-" + std::to_string(i + 1))).string() + ".db\n";
    }
    out_.raw(text + "\n");
  }

  std::unique_ptr<miner::miner_service> make_miner(net::io_context& ioc, std::size_t i,
                                                   const crypto::hotkey& key) {
    auto& t = tallies_[i];
    t.name = "miner-" + std::to_string(i + 1);
    t.hotkey = key.ss58;
    miner::miner_options o;
    o.metagraph_file = metagraph_file_;
    o.file_poll_interval = 200ms;
    o.db_path = dir_ / (t.name + ".db");
    o.link.reconnect_base = 500ms;
    o.link.reconnect_max = 5s;
    o.link.heartbeat_interval = 5s;
    o.http_fallback_grace = 3s;
    o.api_port = 0;
    // Two built-in strategies and one external model that uses the miner's local API.
    static constexpr const char* strategies[] = {"favorite", "underdog", "model API"};
    t.strategy = strategies[i % 3];
    o.strat = i % 3 == 0   ? miner::strategy::favorite
              : i % 3 == 1 ? miner::strategy::underdog
                           : miner::strategy::none;
    o.wager = 10.0 + static_cast<double>(i) * 5;
    o.model_name = "demo-" + t.strategy;
    o.metrics = std::make_shared<metrics::registry>();

    miner::miner_events ev;
    ev.connected = [this, &t](const std::string& v, std::optional<std::int64_t> uid) {
      out_.line(t.name, "connected to validator " + short_key(v) + " (UID " +
                            (uid ? std::to_string(*uid) : std::string("unknown")) + ")");
    };
    ev.disconnected = [this, &t](const std::string& v, const std::string& why) {
      out_.line(t.name, "lost validator " + short_key(v) + ": " + why);
    };
    ev.refused = [this, &t](const std::string& v, const std::string& why) {
      out_.line(t.name, "refused by validator " + short_key(v) + ": " + why);
    };
    ev.prediction_stored = [this, &t](const protocol::team_game_prediction& p) {
      std::lock_guard lock(mutex_);
      t.predictions.insert(p.prediction_id);
      out_.line(t.name, "predicts " + p.predicted_outcome + " @ " +
                            fmt::format("{:.2f}", p.predicted_odds) + " in " + p.team_a + " vs " +
                            p.team_b + " (wager " + fmt::format("{:g}", p.wager) + ", id " +
                            p.prediction_id.substr(0, 8) + ")");
    };
    ev.answered = [this, &t](const std::string&, const std::string& id, bool ok,
                             const std::string& message,
                             std::optional<std::chrono::microseconds> rtt, std::string_view via) {
      std::lock_guard lock(mutex_);
      (ok ? t.confirmed : t.rejected).insert(id);
      if (via == "HTTP") ++t.via_http;
      std::string what =
          (ok ? "confirmed " : "rejected ") + id.substr(0, 8) + " via " + std::string(via);
      if (rtt) {
        const double ms = static_cast<double>(rtt->count()) / 1000.0;
        t.rtt_ms.push_back(ms);
        what += fmt::format(" (round trip {:.2f} ms)", ms);
      }
      if (!ok) what += ": " + message;
      out_.line(t.name, what);
    };
    const bool external_model = o.strat == miner::strategy::none;
    ev.game_update = [this, &t, external_model, &ioc, i](const std::string& v, std::size_t games,
                                                         std::size_t changed) {
      {
        std::lock_guard lock(mutex_);
        ++t.game_updates;
      }
      out_.line(t.name, "game update from validator " + short_key(v) + ": " +
                            std::to_string(games) + " games, " + std::to_string(changed) +
                            " new or changed");
      if (external_model && changed > 0) net::post(ioc, [this, i] { model_predicts(i); });
    };
    return std::make_unique<miner::miner_service>(ioc, std::move(o), key, std::move(ev));
  }

  // The "external model": posts a prediction for each game it has not predicted yet to the
  // miner's POST /predictions (only game_id and the outcome; the miner fills in the rest).
  void model_predicts(std::size_t i) {
    auto& m = *miner_ptrs_.at(i);
    for (const auto& g : current_games()) {
      {
        std::lock_guard lock(mutex_);
        if (!model_posted_.insert(g.game_id).second) continue;
      }
      const std::string pick = g.can_tie ? "Tie" : g.team_b;
      transport::http_post_request req;
      req.host = "127.0.0.1";
      req.port = m.api_port();
      req.target = "/predictions";
      req.body = json::serialize(json::object{
          {"game_id", g.game_id}, {"predicted_outcome", pick}, {"confidence_score", 0.4}});
      transport::async_http_post(
          ioc_->get_executor(), std::move(req),
          [this, i, game = g.game_id](const transport::http_post_result& r) {
            out_.line("model",
                      "POST /predictions to " + tallies_[i].name + " for " + game + ": " +
                          (r.error.empty() ? std::to_string(r.status) + " " + r.body : r.error));
          });
    }
  }

  // The schedule as the validator sees it (also when it runs in another process).
  std::vector<protocol::team_game> current_games() {
    auto book = domain::game_book::load(games_file_);
    if (!book) {
      out_.line("model", "cannot read the games: " + book.error().message);
      return {};
    }
    return (*book)->games();
  }

  // Half-way: two games' odds move and a new game is scheduled; the validator sees the games
  // file change and broadcasts the new set once.
  void change_odds() {
    std::vector<protocol::team_game> games;
    {
      std::lock_guard lock(mutex_);
      const auto now = protocol::format_timestamp(protocol::now_utc());
      for (std::size_t k = 0; k < games_.size() && k < 2; ++k) {
        auto& g = games_[k];
        g.team_a_odds = std::round((g.team_a_odds + 0.15) * 100) / 100;
        g.team_b_odds = std::round((g.team_b_odds - 0.10) * 100) / 100;
        g.last_update_date = now;
      }
      auto extra = make_games(s_.games + 1).back();
      games_.push_back(extra);
      games = games_;
    }
    write_games(games_file_, games);
    out_.line("validator", "games file changed: odds moved for " + games[0].game_id + " and " +
                               games[1].game_id + ", new game " + games.back().game_id + " (" +
                               games.back().team_a + " vs " + games.back().team_b +
                               "); broadcasting the update");
  }

  // Waits (bounded) until no miner has anything pending, then calls `done`.
  void drain(net::io_context& ioc, std::vector<std::unique_ptr<miner::miner_service>>& miners,
             std::function<void()> done) {
    if (miners.empty()) return done();
    out_.line("demo", "time is up: waiting for the last confirmations");
    drain_timer_ = std::make_unique<net::steady_timer>(ioc);
    drain_deadline_ = std::chrono::steady_clock::now() + 10s;
    drain_done_ = std::move(done);
    poll_pending(miners);
  }

  void poll_pending(std::vector<std::unique_ptr<miner::miner_service>>& miners) {
    auto remaining = std::make_shared<std::atomic<std::size_t>>(miners.size());
    auto pending = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto& m : miners) {
      m->status([this, &miners, remaining, pending](const miner::miner_status& st) {
        for (const auto& v : st.validators) *pending += v.pending;
        if (--*remaining != 0) return;
        if (*pending == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
          if (*pending != 0)
            out_.line("demo", std::to_string(pending->load()) + " answers still pending");
          net::post(drain_timer_->get_executor(), std::move(drain_done_));
          return;
        }
        drain_timer_->expires_after(100ms);
        drain_timer_->async_wait([this, &miners](const boost::system::error_code& ec) {
          if (!ec) poll_pending(miners);
        });
      });
    }
  }

  void shut_down(net::io_context& ioc, std::unique_ptr<validator::validator_service>& validator,
                 std::vector<std::unique_ptr<miner::miner_service>>& miners) {
    auto left = std::make_shared<std::atomic<std::size_t>>(miners.size() + (validator ? 1 : 0));
    auto one_done = [&ioc, left] {
      if (--*left == 0) ioc.stop();
    };
    if (left->load() == 0) return ioc.stop();
    // Miners first, so the validator's shutdown is not reported as lost connections.
    auto miners_left = std::make_shared<std::atomic<std::size_t>>(miners.size());
    auto stop_validator = [&validator, one_done] {
      if (validator) validator->stop(one_done);
    };
    if (miners.empty()) return stop_validator();
    for (auto& m : miners) {
      m->stop([one_done, miners_left, stop_validator] {
        one_done();
        if (--*miners_left == 0) stop_validator();
      });
    }
  }

  int summary(bool interrupted) {
    std::string t = "\nSummary";
    t += interrupted ? " (interrupted)\n" : "\n";
    if (s_.run != mode::validator)
      t += fmt::format("{:<9} {:<10} {:>11} {:>10} {:>9} {:>8} {:>13} {:>9} {:>9} {:>9}\n", "miner",
                       "strategy", "predictions", "confirmed", "rejected", "pending",
                       "game updates", "via HTTP", "rtt avg", "rtt max");
    std::size_t total = 0, confirmed = 0, pending = 0;
    for (const auto& m : tallies_) {
      if (m.name.empty()) continue;
      const std::size_t answered = m.confirmed.size() + m.rejected.size();
      const std::size_t open =
          m.predictions.size() > answered ? m.predictions.size() - answered : 0;
      double sum = 0, max = 0;
      for (double x : m.rtt_ms) {
        sum += x;
        max = std::max(max, x);
      }
      const auto ms = [](double x) { return fmt::format("{:.2f} ms", x); };
      t += fmt::format("{:<9} {:<10} {:>11} {:>10} {:>9} {:>8} {:>13} {:>9} {:>9} {:>9}\n", m.name,
                       m.strategy, m.predictions.size(), m.confirmed.size(), m.rejected.size(),
                       open, m.game_updates, m.via_http,
                       m.rtt_ms.empty() ? "-" : ms(sum / static_cast<double>(m.rtt_ms.size())),
                       m.rtt_ms.empty() ? "-" : ms(max));
      total += m.predictions.size();
      confirmed += m.confirmed.size();
      pending += open;
    }
    if (s_.run != mode::miner) {
      storage::validator_store store({storage::db_url::sqlite(dir_ / "validator.db")});
      t += fmt::format("validator: {} accepted predictions stored in SQLite ({})\n",
                       store.accepted_count(),
                       remove_at_exit_ ? std::string("a temporary file; --keep keeps it")
                                       : (dir_ / "validator.db").string());
    }
    if (s_.run != mode::validator) {
      if (pending == 0 && total > 0 && confirmed == total) {
        t += fmt::format("Every prediction confirmed: {} of {}.\n", confirmed, total);
      } else {
        t += fmt::format("NOT every prediction confirmed: {} of {} ({} pending).\n", confirmed,
                         total, pending);
      }
    }
    out_.raw(t);
    if (s_.run == mode::validator) return 0;
    return pending == 0 && total > 0 ? 0 : 1;
  }

  settings s_;
  console& out_;
  fs::path dir_;
  bool remove_at_exit_ = false;
  fs::path metagraph_file_;
  fs::path games_file_;
  std::mutex mutex_;  // guards games_, tallies' contents, model_posted_
  std::vector<protocol::team_game> games_;
  std::vector<tally> tallies_;
  std::set<std::string> model_posted_;
  std::vector<miner::miner_service*> miner_ptrs_;
  net::io_context* ioc_ = nullptr;
  std::unique_ptr<net::steady_timer> drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::function<void()> drain_done_;
};

}  // namespace

int main(int argc, char** argv) try {
  po::options_description flags("Demo");
  flags.add_options()("mode", po::value<std::string>()->default_value("both"),
                      "both: a validator and the miners in this process; validator: only the "
                      "validator (prints how to start miners); miner: only the miners, against "
                      "the validator of a --mode=validator demo (same --workdir)")(
      "duration", po::value<double>()->default_value(20),
      "seconds to run before the summary (odds change half-way)")(
      "miners", po::value<int>()->default_value(3), "miners to run (1 to 16)")(
      "games", po::value<int>()->default_value(6), "upcoming games in the schedule (1 to 50)")(
      "port", po::value<int>()->default_value(0), "validator port (0: any free port)")(
      "workdir", po::value<std::string>(),
      "where wallets, metagraph, games and databases go (default: a new temporary directory, "
      "removed at the end unless --keep)")("keep", po::bool_switch(),
                                           "keep the temporary directory")(
      "metrics_port", po::value<int>(),
      "serve each program's GET /metrics on loopback: the validator on this port, miner i on "
      "this port + i")(
      "log_level", po::value<std::string>()->default_value("warn"),
      "level of the validator's and miners' own log lines (info shows every frame event)");
  const auto vm_opt = cli::parse(
      argc, argv,
      {"bettensor-demo",
       "Runs the Bettensor channel locally on loopback with generated keys and games: a\n"
       "validator and miners connect, predictions are pushed and confirmed, odds change\n"
       "half-way and are broadcast. Prints what happens, then a summary. Exit code 0 when\n"
       "every prediction was answered, 1 otherwise, 2 for bad flags."},
      flags);
  if (!vm_opt) return 0;
  const auto& vm = *vm_opt;
  settings s;
  const auto m = vm["mode"].as<std::string>();
  if (m == "both")
    s.run = mode::both;
  else if (m == "validator")
    s.run = mode::validator;
  else if (m == "miner")
    s.run = mode::miner;
  else
    throw cli::usage_error("--mode must be both, validator or miner (got '" + m + "')");
  s.duration = cli::positive_seconds(vm, "duration");
  s.miners = vm["miners"].as<int>();
  if (s.miners < 1 || s.miners > 16) throw cli::usage_error("--miners must be between 1 and 16");
  s.games = vm["games"].as<int>();
  if (s.games < 1 || s.games > 50) throw cli::usage_error("--games must be between 1 and 50");
  s.port = cli::port(vm, "port");
  if (vm.count("workdir") != 0) s.workdir = cli::expand_user(vm["workdir"].as<std::string>());
  if (s.run == mode::miner && !s.workdir)
    throw cli::usage_error("--mode=miner needs --workdir of a running --mode=validator demo");
  s.keep = vm["keep"].as<bool>();
  if (vm.count("metrics_port") != 0) {
    const int mp = vm["metrics_port"].as<int>();
    if (mp < 1 || mp + s.miners > 65535)
      throw cli::usage_error("--metrics_port must leave room for the miners' ports below 65536");
    s.metrics_port = static_cast<std::uint16_t>(mp);
  }
  spdlog::set_level(
      spdlog::level::from_str(cli::log_level_name("log_level", vm["log_level"].as<std::string>())));

  console out;
  demo d(std::move(s), out);
  return d.run();
} catch (const cli::usage_error& e) {
  std::cerr << "bettensor-demo: " << e.what() << " (see --help)\n";
  return cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-demo: " << e.what() << '\n';
  return 1;
}
