// Predictions: accepting them (the strategy's and the model's), the local API and the status.
#include "miner_impl.hpp"

namespace bettensor::miner {

std::string miner_service::impl::miner_uid() const {
  if (const auto uid = directory.own_uid()) return std::to_string(*uid);
  return uid_ ? std::to_string(*uid_) : std::string("unknown");
}

net::awaitable<protocol::result<team_game_prediction>> miner_service::impl::accept(
    team_game_prediction pred, origin from, bool only_if_unpredicted) {
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

void miner_service::impl::run_strategy() {
  if (opts.strat == strategy::none) return;
  strategy_due = false;
  if (strategy_running) {
    strategy_again = true;
    return;
  }
  strategy_running = true;
  spawn(strategy_runs(), "run the built-in strategy");
}

net::awaitable<void> miner_service::impl::strategy_runs() {
  for (;;) {
    strategy_again = false;
    const bool ok = co_await predict_upcoming();
    if (!ok) strategy_due = true;
    if (!strategy_again || stopping) break;
  }
  strategy_running = false;
}

net::awaitable<bool> miner_service::impl::predict_upcoming() {
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

net::awaitable<protocol::result<json::object>> miner_service::impl::api_submit(std::string body) {
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

net::awaitable<miner_status> miner_service::impl::snapshot() {
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

json::object miner_service::impl::status_json(const miner_status& s) {
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

net::awaitable<json::object> miner_service::impl::page_json() {
  constexpr std::size_t shown_predictions = 50;
  struct stored {
    std::vector<protocol::team_game> games;
    std::vector<storage::outbox_entry> predictions;
  };
  auto read = [](storage::miner_store& s) {
    return stored{s.games(), s.recent_predictions(shown_predictions)};
  };
  const auto status = co_await snapshot();
  const stored st = co_await box.run(std::move(read), net::use_awaitable);
  const auto now = protocol::now_utc();
  json::array games;
  for (const auto& g : st.games) {
    const auto start = protocol::parse_timestamp(g.event_start_date);
    if (!start || *start <= now) continue;  // started: no longer open to predictions
    games.push_back(protocol::to_json(g));
  }
  json::array predictions;
  for (const auto& e : st.predictions) {
    const auto& p = e.prediction;
    json::array answers;
    for (const auto& v : status.validators) {
      json::object a{{"validator", v.endpoint.hotkey}, {"status", "pending"}, {"message", ""}};
      for (const auto& r : e.answers) {
        if (r.validator != v.endpoint.hotkey) continue;
        a["status"] = r.accepted ? "confirmed" : "rejected";
        a["message"] = r.message;
      }
      answers.push_back(std::move(a));
    }
    predictions.push_back(json::object{{"prediction_id", p.prediction_id},
                                       {"game_id", p.game_id},
                                       {"team_a", p.team_a},
                                       {"team_b", p.team_b},
                                       {"predicted_outcome", p.predicted_outcome},
                                       {"predicted_odds", p.predicted_odds},
                                       {"wager", p.wager},
                                       {"prediction_date", p.prediction_date},
                                       {"model_name", p.model_name.value_or("")},
                                       {"answers", std::move(answers)}});
  }
  json::array validators;
  for (const auto& v : status.validators) {
    validators.push_back(json::object{{"hotkey", v.endpoint.hotkey},
                                      {"address", to_string(v.endpoint)},
                                      {"connected", v.connected},
                                      {"pending", v.pending},
                                      {"consecutive_failures", v.consecutive_failures}});
  }
  co_return json::object{{"miner", identity.ss58},
                         {"uid", miner_uid()},
                         {"time", protocol::format_timestamp(now)},
                         {"validators", std::move(validators)},
                         {"games", std::move(games)},
                         {"predictions", std::move(predictions)},
                         {"prediction_count", status.predictions}};
}

net::awaitable<void> miner_service::impl::submitted(
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

net::awaitable<void> miner_service::impl::status_of(std::shared_ptr<impl> self,
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

}  // namespace bettensor::miner
