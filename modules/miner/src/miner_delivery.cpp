// The miner's validators: their links, what they send, their answers and the HTTP fallback.
#include "miner_impl.hpp"

namespace bettensor::miner {

void miner_service::impl::sync_peers() {
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
  if (const auto& g = directory.graph()) {
    graph_metrics->block->Set(static_cast<double>(g->block()));
    graph_metrics->neurons->Set(static_cast<double>(g->neurons().size()));
  }
  count_connected();
  if (peers.empty())
    spdlog::warn(
        "No validators to connect to (give --validator or a metagraph with permitted, "
        "reachable validators)");
}

void miner_service::impl::add_peer(const validator_endpoint& endpoint) {
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
  cb.on_connected = [on_strand](std::optional<std::int64_t> uid) {
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
  p->link =
      std::make_unique<transport::validator_link>(ioc.get_executor(), cfg, identity, std::move(cb));
  peers.emplace(endpoint.hotkey, p);
  spdlog::info("Connecting to validator {}", to_string(endpoint));
  p->link->start();
}

bool miner_service::impl::current(const std::shared_ptr<peer>& p) const {
  const auto it = peers.find(p->endpoint.hotkey);
  return it != peers.end() && it->second == p;
}

void miner_service::impl::on_connected(const std::shared_ptr<peer>& p,
                                       std::optional<std::int64_t> uid) {
  if (!current(p)) return;
  p->connected = true;
  if (p->ever_connected) mm->reconnects->Increment();
  p->ever_connected = true;
  count_connected();
  if (!uid_ && uid) uid_ = uid;
  if (!uid) uid = directory.own_uid();
  if (events.connected) events.connected(p->endpoint.hotkey, uid);
  spawn(resend_pending(p), "re-send");
}

net::awaitable<void> miner_service::impl::resend_pending(std::shared_ptr<peer> p) {
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

void miner_service::impl::on_disconnected(const std::shared_ptr<peer>& p, const std::string& why) {
  if (!current(p)) return;
  if (p->connected) p->down_since = steady::now();
  p->connected = false;
  count_connected();
  if (events.disconnected) events.disconnected(p->endpoint.hotkey, why);
}

void miner_service::impl::send_ws(const std::shared_ptr<peer>& p,
                                  const protocol::team_game_prediction& pred) {
  auto frame = std::make_shared<const transport::frame>(
      transport::frame{protocol::serialize(protocol::sign_envelope(
                           identity, protocol::message_type::prediction, to_json(pred))),
                       protocol::frame_kind::prediction});
  if (!p->link->send(std::move(frame))) return;  // delivered after the next connect
  p->sent_at[pred.prediction_id] = steady::now();
  spdlog::info("Pushed prediction {} via WebSocket to validator {}", pred.prediction_id,
               p->endpoint.hotkey);
}

void miner_service::impl::on_message(const std::shared_ptr<peer>& p, const protocol::envelope& e) {
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

net::awaitable<void> miner_service::impl::on_games(std::shared_ptr<peer> p,
                                                   std::vector<team_game> games) {
  const std::size_t changed = co_await store_games(games);
  spdlog::info("Received game update from validator {}: {} games, {} new or changed",
               p->endpoint.hotkey, games.size(), changed);
  if (events.game_update) events.game_update(p->endpoint.hotkey, games.size(), changed);
  if (changed > 0) run_strategy();
}

net::awaitable<std::size_t> miner_service::impl::store_games(std::vector<team_game> games) {
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

net::awaitable<void> miner_service::impl::record(std::shared_ptr<peer> p, std::string prediction_id,
                                                 bool accepted, std::string message,
                                                 std::optional<std::chrono::microseconds> rtt,
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

void miner_service::impl::check_fallbacks() {
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

net::awaitable<void> miner_service::impl::fallback(std::shared_ptr<impl> self,
                                                   std::shared_ptr<peer> p) {
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
    (ok_status ? self->mm->fallback_requests_ok : self->mm->fallback_requests_failed)->Increment();
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

}  // namespace bettensor::miner
