#include "bettensor/miner/miner_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/storage/miner_store.hpp"
#include "http_fallback.hpp"
#include "local_api.hpp"
#include "outbox.hpp"
#include "prediction_request.hpp"
#include "strategy.hpp"
#include "validator_directory.hpp"

namespace bettensor::miner {

namespace net = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;
using protocol::team_game;
using protocol::team_game_prediction;

// --- the service -----------------------------------------------------------------------------

namespace {

// One validator the miner delivers to. Touched on the miner's strand only.
struct peer {
  validator_endpoint endpoint;
  bool from_flag = false;
  crypto::public_key key{};
  std::unique_ptr<transport::validator_link> link;
  bool connected = false;
  steady::time_point down_since = steady::now();
  steady::time_point next_fallback{};
  bool fallback_running = false;
  bool ever_connected = false;
  bool resend_due = false;             // the outbox could not be read when it connected
  protocol::replay_guard http_nonces;  // confirmations received over HTTP
  std::unordered_map<std::string, steady::time_point> sent_at;  // WebSocket sends awaiting answers
};

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// What the outbox made of a new prediction (a copy of it went to the storage thread).
struct accept_outcome {
  std::optional<protocol::error> refusal;  // the rules or a duplicate id
  bool skipped = false;                    // only_if_unpredicted, and the game was predicted
};

// A game update as stored: how many were new or changed, how many were written, and why the
// rest were not.
struct games_stored {
  std::size_t changed = 0;
  std::size_t written = 0;
  std::optional<storage::storage_error> error;
};

// What the status needs from the database.
struct stored_counts {
  std::vector<std::size_t> pending;  // per validator asked for, in order
  std::size_t predictions = 0;
  std::size_t games = 0;
};

// How an answer came, for logs and miner_events::answered.
std::string_view via_text(metrics::channel c) {
  return c == metrics::channel::http ? "HTTP" : "WebSocket";
}

}  // namespace

struct miner_service::impl : std::enable_shared_from_this<miner_service::impl> {
  impl(net::io_context& io, miner_options o, crypto::hotkey id, miner_events ev)
      : ioc(io),
        opts(std::move(o)),
        identity(std::move(id)),
        events(std::move(ev)),
        strand(net::make_strand(io)),
        tick_timer(strand),
        box(opts.db_path),
        directory(opts, identity.ss58) {
    if (!opts.metrics) opts.metrics = std::make_shared<metrics::registry>();
    mm = std::make_unique<metrics::miner_metrics>(opts.metrics->get());
    if (!opts.websocket_enabled && !opts.http_fallback)
      throw std::runtime_error("with the WebSocket disabled the HTTP fallback must be enabled");
    if (opts.link.reconnect_base <= transport::backoff::duration::zero() ||
        opts.link.reconnect_max < opts.link.reconnect_base)
      throw std::runtime_error(
          "reconnect intervals: the base must be positive and not above the maximum");
    if (opts.api_port) {
      hooks.strand = strand;
      hooks.submit = [this](std::string body) { return api_submit(std::move(body)); };
      hooks.status = [this] { return status_json(); };
      hooks.metrics = [this] { return opts.metrics->render(); };
      hooks.storage_failed = [this](const storage::storage_error& e) {
        storage_failed("answer the local API", e);
      };
      // The hooks are reached while the service exists (an aliasing pointer keeps it alive).
      api = std::make_unique<detail::local_api>(
          ioc, opts.api_address, *opts.api_port,
          [ref = api_owner]() -> std::shared_ptr<detail::api_hooks> {
            auto self = ref->lock();
            return self ? std::shared_ptr<detail::api_hooks>(self, &self->hooks) : nullptr;
          });
    }
  }

  // --- validators --------------------------------------------------------------------------
  std::string short_key(const std::string& hotkey) const { return hotkey.substr(0, 8); }

  void sync_peers() {
    const auto want = directory.wanted();
    for (auto it = peers.begin(); it != peers.end();) {
      const auto w = want.find(it->first);
      if (w == want.end() || w->second != it->second->endpoint) {
        spdlog::info("Validator {} {}: dropping its connection", to_string(it->second->endpoint),
                     w == want.end() ? "left the metagraph" : "moved");
        if (it->second->link) it->second->link->stop();
        it = peers.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [hotkey, endpoint] : want) {
      if (peers.contains(hotkey)) continue;
      add_peer(endpoint);
    }
    mm->validators->Set(static_cast<double>(peers.size()));
    count_connected();
    if (peers.empty())
      spdlog::warn(
          "No validators to connect to (give --validator or a metagraph with permitted, "
          "reachable validators)");
  }

  void add_peer(const validator_endpoint& endpoint) {
    auto p = std::make_shared<peer>();
    p->endpoint = endpoint;
    const auto address = crypto::ss58_decode(endpoint.hotkey);
    if (!address) {
      spdlog::error("Validator hotkey {} is not an SS58 address; skipped", endpoint.hotkey);
      return;
    }
    p->key = address->key;
    if (!opts.websocket_enabled) {  // HTTP only: no grace to wait for
      p->down_since = steady::now() - opts.http_fallback_grace;
      peers.emplace(endpoint.hotkey, p);
      spdlog::info("Delivering to validator {} over HTTP only", to_string(endpoint));
      return;
    }
    auto cfg = opts.link;
    cfg.host = endpoint.host;
    cfg.port = endpoint.port;
    cfg.path = endpoint.path;
    cfg.validator_ss58 = endpoint.hotkey;
    cfg.tls = endpoint.tls;
    std::weak_ptr<impl> weak = shared_from_this();
    std::weak_ptr<peer> wp = p;
    // Link callbacks run on the link's strand; everything is handled on the miner's strand.
    auto on_strand = [weak, wp](auto f) {
      if (auto self = weak.lock()) {
        net::post(self->strand, [self, wp, f = std::move(f)] {
          if (auto q = wp.lock(); q && !self->stopping) f(*self, q);
        });
      }
    };
    transport::validator_link::callbacks cb;
    cb.on_connected = [on_strand](std::int64_t uid) {
      on_strand([uid](impl& s, const std::shared_ptr<peer>& q) { s.on_connected(q, uid); });
    };
    cb.on_message = [on_strand](const protocol::envelope& e) {
      on_strand([e](impl& s, const std::shared_ptr<peer>& q) { s.on_message(q, e); });
    };
    cb.on_disconnected = [on_strand](const std::string& why) {
      on_strand([why](impl& s, const std::shared_ptr<peer>& q) { s.on_disconnected(q, why); });
    };
    cb.on_refused = [on_strand](const std::string& refusal) {
      on_strand([refusal](impl& s, const std::shared_ptr<peer>& q) {
        s.mm->refusals->Increment();
        if (s.events.refused) s.events.refused(q->endpoint.hotkey, refusal);
      });
    };
    cb.on_dropped = [weak](const std::string&) {
      if (auto self = weak.lock()) self->mm->frames_dropped->Increment();
    };
    p->link = std::make_unique<transport::validator_link>(ioc.get_executor(), cfg, identity,
                                                          std::move(cb));
    peers.emplace(endpoint.hotkey, p);
    spdlog::info("Connecting to validator {}", to_string(endpoint));
    p->link->start();
  }

  bool current(const std::shared_ptr<peer>& p) const {
    const auto it = peers.find(p->endpoint.hotkey);
    return it != peers.end() && it->second == p;
  }

  void on_connected(const std::shared_ptr<peer>& p, std::int64_t uid) {
    if (!current(p)) return;
    p->connected = true;
    if (p->ever_connected) mm->reconnects->Increment();
    p->ever_connected = true;
    count_connected();
    if (!uid_) uid_ = uid;
    if (events.connected) events.connected(p->endpoint.hotkey, uid);
    spawn(resend_pending(p), "re-send");
  }

  // Sends what `p` has not answered; if the outbox cannot be read now, the next tick retries.
  net::awaitable<void> resend_pending(std::shared_ptr<peer> p) {
    auto job = [v = p->endpoint.hotkey](storage::miner_store& s) { return s.pending_for(v); };
    const auto pending = co_await stored("read the outbox", std::move(job));
    if (!pending) {
      p->resend_due = true;
      co_return;
    }
    p->resend_due = false;
    if (!current(p) || !p->connected) co_return;  // it went while the outbox was read
    if (!pending->empty())
      spdlog::info("Re-sending {} unanswered predictions to validator {}", pending->size(),
                   p->endpoint.hotkey);
    for (const auto& pred : *pending) send_ws(p, pred);
  }

  void on_disconnected(const std::shared_ptr<peer>& p, const std::string& why) {
    if (!current(p)) return;
    if (p->connected) p->down_since = steady::now();
    p->connected = false;
    count_connected();
    if (events.disconnected) events.disconnected(p->endpoint.hotkey, why);
  }

  void send_ws(const std::shared_ptr<peer>& p, const protocol::team_game_prediction& pred) {
    auto frame = std::make_shared<const transport::frame>(
        transport::frame{protocol::serialize(protocol::sign_envelope(
                             identity, protocol::message_type::prediction, to_json(pred))),
                         protocol::frame_kind::prediction});
    if (!p->link->send(std::move(frame))) return;  // delivered after the next connect
    p->sent_at[pred.prediction_id] = steady::now();
    spdlog::info("Pushed prediction {} via WebSocket to validator {}", pred.prediction_id,
                 p->endpoint.hotkey);
  }

  void on_message(const std::shared_ptr<peer>& p, const protocol::envelope& e) {
    if (!current(p)) return;
    namespace mt = protocol::message_type;
    if (e.type == mt::confirmation) {
      auto c = protocol::parse_confirmation(e.data);
      if (!c) {
        spdlog::warn("Dropped a confirmation from validator {}: {}", p->endpoint.hotkey,
                     c.error().message);
        return;
      }
      std::optional<std::chrono::microseconds> rtt;
      if (const auto it = p->sent_at.find(c->prediction_id); it != p->sent_at.end()) {
        rtt = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - it->second);
        p->sent_at.erase(it);
        mm->confirmation_seconds->Observe(static_cast<double>(rtt->count()) / 1e6);
      }
      spawn(record(p, c->prediction_id, c->status == "success", c->message, rtt,
                   metrics::channel::websocket),
            "record an answer");
    } else if (e.type == mt::game_update) {
      auto u = protocol::parse_game_update(e.data);
      if (!u) {
        spdlog::warn("Dropped a game update from validator {}: {}", p->endpoint.hotkey,
                     u.error().message);
        return;
      }
      mm->game_updates->Increment();
      if (const auto signed_at = protocol::parse_timestamp(e.timestamp)) {
        const auto age = std::chrono::duration<double>(protocol::now_utc() - *signed_at).count();
        mm->game_update_delivery_seconds->Observe(std::max(0.0, age));
      }
      spawn(on_games(p, std::move(u->games)), "store a game update");
    } else if (e.type == mt::error) {
      const auto d = protocol::parse_error_data(e.data);
      spdlog::warn("Validator {} reported an error: {}", p->endpoint.hotkey,
                   d ? d->message : std::string("(unreadable error frame)"));
    } else if (e.type != mt::heartbeat_ack && e.type != mt::heartbeat_response) {
      spdlog::debug("Ignored a '{}' frame from validator {}", e.type, p->endpoint.hotkey);
    }
  }

  net::awaitable<void> on_games(std::shared_ptr<peer> p, std::vector<team_game> games) {
    const std::size_t changed = co_await store_games(games);
    spdlog::info("Received game update from validator {}: {} games, {} new or changed",
                 p->endpoint.hotkey, games.size(), changed);
    if (events.game_update) events.game_update(p->endpoint.hotkey, games.size(), changed);
    if (changed > 0) run_strategy();
  }

  // Stores games (newest version wins); those the database refuses now wait for the next tick.
  // Returns how many were new or changed.
  net::awaitable<std::size_t> store_games(std::vector<team_game> games) {
    auto job = [games](storage::miner_store& s) {
      games_stored out;
      try {
        for (; out.written < games.size(); ++out.written)
          out.changed += s.upsert_game(games[out.written]) ? 1 : 0;
      } catch (const storage::storage_error& e) {
        out.error = e;
      }
      return out;
    };
    auto done = co_await stored("store a game update", std::move(job));
    const std::size_t written = done ? done->written : 0;
    if (done && done->error) storage_failed("store a game update", *done->error);
    for (std::size_t i = written; i < games.size(); ++i)
      unstored_games[games[i].game_id] = std::move(games[i]);
    co_return done ? done->changed : 0;
  }

  // Records a validator's answer once; a second answer (after a re-send) changes nothing. An
  // answer the database refuses is kept in memory and recorded by a later tick.
  net::awaitable<void> record(std::shared_ptr<peer> p, std::string prediction_id, bool accepted,
                              std::string message, std::optional<std::chrono::microseconds> rtt,
                              metrics::channel c) {
    const std::string v = p->endpoint.hotkey;
    auto job = [v, prediction_id, accepted, message](storage::miner_store& s) {
      const bool again = s.answer(v, prediction_id).has_value();
      if (!again) s.record_answer(v, prediction_id, accepted, message);
      return again;
    };
    const auto again = co_await stored("record an answer", std::move(job));
    if (!again) {
      unrecorded.push_back({p, prediction_id, accepted, message, c});
      co_return;
    }
    if (*again) {
      spdlog::debug("Validator {} answered prediction {} again", v, prediction_id);
      co_return;
    }
    const std::string_view via = via_text(c);
    metrics::at(accepted ? mm->answers_accepted : mm->answers_rejected, c).Increment();
    mm->outbox_pending->Decrement();
    if (accepted) {
      spdlog::info("Prediction {} confirmed by validator {} via {}{}", prediction_id, v, via,
                   rtt ? fmt::format(" in {:.1f} ms", static_cast<double>(rtt->count()) / 1000.0)
                       : std::string());
    } else {
      spdlog::warn("Prediction {} rejected by validator {}: {}", prediction_id, v, message);
    }
    if (events.answered) events.answered(v, prediction_id, accepted, message, rtt, via);
  }

  // --- predictions -------------------------------------------------------------------------
  std::string miner_uid() const {
    if (const auto uid = directory.own_uid()) return std::to_string(*uid);
    return uid_ ? std::to_string(*uid_) : std::string("unknown");
  }

  // A prediction the validator would refuse, refused here with the validator's text.
  static protocol::error rule_refusal(protocol::rejection r) {
    return protocol::error{protocol::errc::invalid_format, std::string(protocol::text(r))};
  }

  // The rules against the stored game, then the outbox, in one step on the storage thread; the
  // prediction is sent only once it is committed. Throws storage_error when the database fails.
  // `only_if_unpredicted`: skipped (and returned as is) when the game has a prediction.
  enum class origin { strategy, api };
  net::awaitable<protocol::result<team_game_prediction>> accept(team_game_prediction pred,
                                                                origin from,
                                                                bool only_if_unpredicted = false) {
    if (pred.prediction_id.empty()) pred.prediction_id = make_prediction_id();
    auto job = [pred, only_if_unpredicted](storage::miner_store& s) {
      accept_outcome out;
      if (only_if_unpredicted && s.has_prediction_for_game(pred.game_id)) {
        out.skipped = true;  // predicted meanwhile (by the model, through the API)
        return out;
      }
      const auto game = s.game(pred.game_id);
      if (!game) {
        out.refusal = rule_refusal(protocol::rejection::game_not_found);
        return out;
      }
      auto book = domain::game_book::make({*game});
      if (!book) {
        out.refusal = book.error();
      } else if (auto why = domain::check_prediction(pred, **book, protocol::now_utc())) {
        out.refusal = rule_refusal(*why);
      } else if (!s.add_prediction(pred)) {
        const auto dup = protocol::errc::duplicate_id;
        out.refusal = protocol::error{dup, protocol::make_error_code(dup).message()};
      }
      return out;
    };
    const accept_outcome out = co_await box.run(std::move(job), net::use_awaitable);
    if (out.skipped) co_return pred;
    if (out.refusal) co_return *out.refusal;
    spdlog::info("Stored prediction {} for game {}: {} at {} (wager {})", pred.prediction_id,
                 pred.game_id, pred.predicted_outcome, pred.predicted_odds, pred.wager);
    (from == origin::api ? mm->predictions_api : mm->predictions_strategy)->Increment();
    mm->outbox_pending->Increment(static_cast<double>(peers.size()));
    if (events.prediction_stored) events.prediction_stored(pred);
    if (!stopping) {
      for (const auto& [hotkey, p] : peers)
        if (p->connected) send_ws(p, pred);
    }
    co_return pred;
  }

  // Predicts every upcoming game not predicted yet, one run at a time (a request during a run
  // runs it again after). If the database fails, the next tick runs it again.
  void run_strategy() {
    if (opts.strat == strategy::none) return;
    strategy_due = false;
    if (strategy_running) {
      strategy_again = true;
      return;
    }
    strategy_running = true;
    spawn(strategy_runs(), "run the built-in strategy");
  }

  net::awaitable<void> strategy_runs() {
    for (;;) {
      strategy_again = false;
      const bool ok = co_await predict_upcoming();
      if (!ok) strategy_due = true;
      if (!strategy_again || stopping) break;
    }
    strategy_running = false;
  }

  // False when the database failed.
  net::awaitable<bool> predict_upcoming() {
    auto job = [](storage::miner_store& s) { return s.games(); };
    const auto games = co_await stored("run the built-in strategy", std::move(job));
    if (!games) co_return false;
    const auto now = protocol::now_utc();
    const detail::prediction_defaults defaults{miner_uid(), opts.wager, opts.model_name};
    for (const auto& g : *games) {
      auto p = detail::choose(opts.strat, g, now, defaults);
      if (!p || stopping) continue;
      std::optional<protocol::result<team_game_prediction>> r;
      try {
        r = co_await accept(std::move(*p), origin::strategy, true);
      } catch (const storage::storage_error& e) {
        storage_failed("run the built-in strategy", e);
        co_return false;
      }
      if (!*r) spdlog::warn("Strategy skipped game {}: {}", g.game_id, r->error().message);
    }
    co_return true;
  }

  // --- HTTP fallback -----------------------------------------------------------------------
  void check_fallbacks() {
    if (!opts.http_fallback) return;
    const auto now = steady::now();
    for (const auto& [hotkey, p] : peers) {
      if (p->connected || p->fallback_running || now < p->next_fallback ||
          now - p->down_since < opts.http_fallback_grace)
        continue;
      p->fallback_running = true;
      spawn(fallback(shared_from_this(), p), "HTTP fallback");
    }
  }

  // Posts what `p` has not answered, one by one, while the validator's WebSocket stays down;
  // stops at the first prediction without a final answer and tries again after the grace
  // period.
  static net::awaitable<void> fallback(std::shared_ptr<impl> self, std::shared_ptr<peer> p) {
    const std::string v = p->endpoint.hotkey;
    auto read = [v](storage::miner_store& s) { return s.pending_for(v); };
    auto todo = co_await self->stored("read the outbox", std::move(read));
    if (!todo || todo->empty()) {
      p->fallback_running = false;
      co_return;
    }
    spdlog::warn(
        "No WebSocket to validator {} for over {} ms: sending {} pending predictions "
        "to its POST /predictions",
        to_string(p->endpoint), self->opts.http_fallback_grace.count(), todo->size());
    bool retry_later = false;
    for (auto& pred : *todo) {
      if (self->stopping || !self->current(p) || p->connected) break;
      auto check = [v, id = pred.prediction_id](storage::miner_store& s) {
        return s.answer(v, id).has_value();
      };
      const auto answered = co_await self->stored("read an answer", std::move(check));
      if (!answered) {
        retry_later = true;
        break;
      }
      if (*answered) continue;
      const std::string id = pred.prediction_id;
      const detail::http_target to{p->endpoint,
                                   p->key,
                                   p->http_nonces,
                                   self->opts.http_timeout,
                                   self->opts.link.timestamp_window,
                                   self->opts.link.tls_ca_file};
      const auto a =
          co_await detail::post_prediction(self->strand, to, self->identity, std::move(pred));
      if (self->stopping) co_return;
      const bool ok_status = a.status && (*a.status == 200 || *a.status == 400);
      (ok_status ? self->mm->fallback_requests_ok : self->mm->fallback_requests_failed)
          ->Increment();
      if (!a.accepted) {
        spdlog::warn("HTTP fallback to validator {}: {}", v, a.failure);
        retry_later = true;
        break;
      }
      co_await self->record(p, id, *a.accepted, a.message, std::nullopt, metrics::channel::http);
    }
    p->fallback_running = false;
    if (retry_later) p->next_fallback = steady::now() + self->opts.http_fallback_grace;
  }

  // --- the local API -----------------------------------------------------------------------
  // Throws storage_error when the database fails.
  net::awaitable<protocol::result<json::object>> api_submit(std::string body) {
    auto complete = [body, defaults = detail::prediction_defaults{
                               miner_uid(), opts.wager, opts.model_name}](storage::miner_store& s) {
      return detail::complete_prediction(
          body, [&s](const std::string& id) { return s.game(id); }, defaults);
    };
    auto pred = co_await box.run(std::move(complete), net::use_awaitable);
    if (!pred) co_return pred.error();
    auto accepted = co_await accept(std::move(*pred), origin::api);
    if (!accepted) co_return accepted.error();
    std::size_t connected = 0;
    for (const auto& [k, p] : peers) connected += p->connected ? 1 : 0;
    co_return json::object{{"status", "accepted"},
                           {"prediction_id", accepted->prediction_id},
                           {"validators", peers.size()},
                           {"connected_validators", connected}};
  }

  // Throws storage_error when the database fails.
  net::awaitable<miner_status> snapshot() {
    std::vector<std::string> hotkeys;
    for (const auto& [hotkey, p] : peers) hotkeys.push_back(hotkey);
    auto job = [hotkeys](storage::miner_store& s) {
      stored_counts c;
      for (const auto& h : hotkeys) c.pending.push_back(s.pending_for(h).size());
      c.predictions = s.prediction_count();
      c.games = s.games().size();
      return c;
    };
    const stored_counts counts = co_await box.run(std::move(job), net::use_awaitable);
    miner_status s;
    for (std::size_t i = 0; i < hotkeys.size(); ++i) {
      const auto it = peers.find(hotkeys[i]);
      if (it == peers.end()) continue;  // it left while the database was read
      const auto& p = it->second;
      validator_status v{p->endpoint, p->connected, 0, counts.pending[i], {}};
      if (p->link) {
        v.consecutive_failures = p->link->consecutive_failures();
        v.reconnect_delays = p->link->reconnect_delays();
      }
      s.validators.push_back(std::move(v));
    }
    s.predictions = counts.predictions;
    s.games = counts.games;
    co_return s;
  }

  net::awaitable<json::object> status_json() { co_return status_json(co_await snapshot()); }

  static json::object status_json(const miner_status& s) {
    json::array validators;
    std::size_t pending = 0;
    for (const auto& v : s.validators) {
      pending += v.pending;
      validators.push_back(json::object{{"hotkey", v.endpoint.hotkey},
                                        {"address", to_string(v.endpoint)},
                                        {"connected", v.connected},
                                        {"consecutive_failures", v.consecutive_failures},
                                        {"pending", v.pending}});
    }
    return {{"validators", std::move(validators)},
            {"predictions", s.predictions},
            {"pending", pending},
            {"games", s.games}};
  }

  // miner_service::submit and status, on the strand.
  static net::awaitable<void> submitted(
      std::shared_ptr<impl> self, team_game_prediction p,
      std::function<void(protocol::result<team_game_prediction>)> done) {
    std::optional<std::string> failure;
    try {
      done(co_await self->accept(std::move(p), origin::strategy));
      co_return;
    } catch (const storage::storage_error& e) {
      self->storage_failed("store a prediction", e);
      failure = std::string("Miner database unavailable: ") + e.what();
    } catch (const detail::outbox_closed& e) {
      failure = std::string("Miner database unavailable: ") + e.what();
    }
    done(protocol::error{protocol::errc::invalid_format, *failure});
  }

  static net::awaitable<void> status_of(std::shared_ptr<impl> self,
                                        std::function<void(miner_status)> done) {
    miner_status s;
    try {
      s = co_await self->snapshot();
    } catch (const storage::storage_error& e) {
      self->storage_failed("read the status", e);  // an empty status; the log says why
    } catch (const detail::outbox_closed&) {
    }
    done(std::move(s));
  }

  // --- timers ------------------------------------------------------------------------------
  std::chrono::milliseconds tick_period() const {
    auto t = std::min(opts.file_poll_interval, opts.http_fallback_grace / 4);
    return std::clamp(t, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
  }

  void count_connected() {
    std::size_t n = 0;
    for (const auto& [k, p] : peers) n += p->connected ? 1 : 0;
    mm->validators_connected->Set(static_cast<double>(n));
  }

  // The outbox gauge from the database (the increments and decrements between recounts keep
  // it current; a recount corrects for validators that came or went).
  net::awaitable<void> recount_outbox() {
    std::vector<std::string> hotkeys;
    for (const auto& [hotkey, p] : peers) hotkeys.push_back(hotkey);
    auto job = [hotkeys](storage::miner_store& s) {
      std::size_t pending = 0;
      for (const auto& h : hotkeys) pending += s.pending_for(h).size();
      return pending;
    };
    if (const auto pending = co_await stored("count the outbox", std::move(job)))
      mm->outbox_pending->Set(static_cast<double>(*pending));
  }

  // --- database failures -------------------------------------------------------------------
  // Disk full, a read-only file or an I/O error must not stop the miner: the failed step is
  // logged and counted, what it was given is kept, and the tick retries it. Nothing accepted is
  // lost, and nothing is accepted that was not stored.
  // Runs `job` on the outbox's thread; nullopt when the database failed (logged and counted)
  // or is closed (the miner is stopping).
  template <class F>
  net::awaitable<std::optional<std::invoke_result_t<F&, storage::miner_store&>>> stored(
      std::string_view what, F job) {
    try {
      co_return co_await box.run(std::move(job), net::use_awaitable);
    } catch (const storage::storage_error& e) {
      storage_failed(what, e);
    } catch (const detail::outbox_closed&) {
    }
    co_return std::nullopt;
  }

  // Runs a task on the strand; the service lives until it ends.
  void spawn(net::awaitable<void> task, std::string_view what) {
    net::co_spawn(strand, std::move(task),
                  [self = shared_from_this(), what](const std::exception_ptr& e) {
                    if (!e) return;
                    try {
                      std::rethrow_exception(e);
                    } catch (const detail::outbox_closed&) {  // stopping
                    } catch (const std::exception& x) {
                      spdlog::error("Miner task '{}' ended by an exception: {}", what, x.what());
                    }
                  });
  }

  void storage_failed(std::string_view what, const storage::storage_error& e) {
    mm->storage_errors->Increment();
    spdlog::error("Could not {}: {} (kept in memory and retried)", what, e.what());
  }

  net::awaitable<void> retry_storage() {
    if (!unstored_games.empty()) {
      std::vector<team_game> games;
      for (auto& [id, g] : unstored_games) games.push_back(std::move(g));
      unstored_games.clear();
      const std::size_t changed = co_await store_games(std::move(games));
      if (changed > 0) strategy_due = true;
    }
    // Once one answer fails again the rest wait for the next tick untried: one error line per
    // tick, not one per waiting answer.
    auto answers = std::move(unrecorded);
    unrecorded.clear();
    for (auto& a : answers) {
      if (!current(a.p)) continue;
      if (unrecorded.empty()) {
        co_await record(a.p, a.prediction_id, a.accepted, a.message, std::nullopt, a.via);
      } else {
        unrecorded.push_back(std::move(a));
      }
    }
    if (strategy_due && unstored_games.empty()) run_strategy();
    std::vector<std::shared_ptr<peer>> resend;
    for (const auto& [hotkey, p] : peers)
      if (p->connected && p->resend_due) resend.push_back(p);
    for (auto& p : resend) co_await resend_pending(p);
  }

  // The periodic work, one tick after the other.
  net::awaitable<void> ticks_loop() {
    co_await recount_outbox();
    run_strategy();
    for (;;) {
      tick_timer.expires_after(tick_period());
      if (auto [ec] = co_await tick_timer.async_wait(use_nothrow); ec || stopping) co_return;
      check_metagraph(false);
      co_await retry_storage();
      check_fallbacks();
      if (++ticks % 8 == 0) co_await recount_outbox();
    }
  }

  void check_metagraph(bool force) {
    if (directory.refresh(force)) sync_peers();
  }

  net::io_context& ioc;
  miner_options opts;
  crypto::hotkey identity;
  miner_events events;
  net::strand<net::io_context::executor_type> strand;
  net::steady_timer tick_timer;
  detail::outbox box;  // the database, on its own thread
  // Set by start(): the API's callback reaches the service only while it exists.
  std::shared_ptr<std::weak_ptr<impl>> api_owner = std::make_shared<std::weak_ptr<impl>>();
  detail::api_hooks hooks;
  std::unique_ptr<detail::local_api> api;
  detail::validator_directory directory;
  std::map<std::string, std::shared_ptr<peer>> peers;  // by validator hotkey
  std::optional<std::int64_t> uid_;
  std::unique_ptr<metrics::miner_metrics> mm;
  std::uint64_t ticks = 0;
  bool stopping = false;
  // Waiting for the database (see storage_step).
  struct unrecorded_answer {
    std::shared_ptr<peer> p;
    std::string prediction_id;
    bool accepted;
    std::string message;
    metrics::channel via;
  };
  std::vector<unrecorded_answer> unrecorded;
  std::map<std::string, protocol::team_game> unstored_games;  // by game_id
  bool strategy_due = false;      // the last run failed on the database: the tick runs it again
  bool strategy_running = false;  // one run at a time
  bool strategy_again = false;    // asked for during a run
};

miner_service::miner_service(net::io_context& ioc, miner_options opts, crypto::hotkey identity,
                             miner_events events)
    : impl_(std::make_shared<impl>(ioc, std::move(opts), std::move(identity), std::move(events))) {}

// Closing the outbox here, not in the service's destructor: coroutines waiting for it hold the
// service, so after this every one of them resumes (with outbox_closed) and lets it go.
miner_service::~miner_service() {
  impl_->box.close();
}

void miner_service::start() {
  *impl_->api_owner = impl_;
  if (impl_->api) {
    impl_->api->start();
    spdlog::info("Miner API listening on {}:{} (POST /predictions, GET /status)",
                 impl_->opts.api_address, impl_->api->port());
  }
  net::post(impl_->strand, [self = impl_] {
    self->sync_peers();
    self->spawn(self->ticks_loop(), "tick");
  });
}

void miner_service::stop(std::function<void()> done) {
  net::post(impl_->strand, [self = impl_, done = std::move(done)]() mutable {
    if (self->stopping) return done();
    self->stopping = true;
    self->tick_timer.cancel();
    for (auto& [hotkey, p] : self->peers)
      if (p->link) p->link->stop();
    if (self->api) self->api->stop();
    done();
  });
}

void miner_service::reload() {
  net::post(impl_->strand, [self = impl_] { self->check_metagraph(true); });
}

std::uint16_t miner_service::api_port() const {
  return impl_->api ? impl_->api->port() : 0;
}

metrics::registry& miner_service::metrics() const {
  return *impl_->opts.metrics;
}

const std::string& miner_service::hotkey() const {
  return impl_->identity.ss58;
}

void miner_service::submit(
    protocol::team_game_prediction p,
    std::function<void(protocol::result<protocol::team_game_prediction>)> done) {
  net::co_spawn(impl_->strand, impl::submitted(impl_, std::move(p), std::move(done)),
                [](const std::exception_ptr&) {});
}

void miner_service::status(std::function<void(miner_status)> done) {
  net::co_spawn(impl_->strand, impl::status_of(impl_, std::move(done)),
                [](const std::exception_ptr&) {});
}

}  // namespace bettensor::miner
