// The game set and its broadcasts; predictions to verdicts.
#include "validator_impl.hpp"

namespace bettensor::validator {

std::shared_ptr<const game_book> validator_service::impl::current_games() const {
  std::lock_guard lock(mutex);
  return games;
}

void validator_service::impl::apply_games(std::shared_ptr<const game_book> book,
                                          std::function<void(games_outcome)> done) {
  {
    std::lock_guard lock(apply_mutex);
    if (applied_fingerprint == book->fingerprint()) {
      spdlog::debug("Game set unchanged: not broadcast");
      if (done) done({});
      return;
    }
    applied_fingerprint = book->fingerprint();
    ++games_given;
  }
  std::weak_ptr<impl> weak = shared_from_this();
  auto games_list = book->games();
  store->save_games(std::move(games_list), [weak, book = std::move(book), done = std::move(done)](
                                               std::optional<std::string> error) mutable {
    auto self = weak.lock();
    if (!self) return;
    net::post(self->games_strand, [self, book = std::move(book), done = std::move(done),
                                   error = std::move(error)]() mutable {
      auto outcome = self->install_games(book, std::move(error));
      if (done) done(std::move(outcome));
    });
  });
}

void validator_service::impl::adopt_stored_games(std::shared_ptr<const game_book> book,
                                                 std::uint64_t given_before) {
  {
    std::lock_guard lock(apply_mutex);
    if (given_before != games_given) {
      spdlog::debug("Stored game set read before a newer one was stored here: not applied");
      return;
    }
    if (applied_fingerprint == book->fingerprint()) {
      spdlog::debug("Game set unchanged: not broadcast");
      return;
    }
    applied_fingerprint = book->fingerprint();
  }
  net::post(games_strand, [self = shared_from_this(), book = std::move(book)] {
    self->install_games(book, std::nullopt);
  });
}

validator_service::impl::games_outcome validator_service::impl::install_games(
    const std::shared_ptr<const game_book>& book, std::optional<std::string> error) {
  if (error) {
    spdlog::error("Games not stored, keeping the previous set: {}", *error);
    std::lock_guard lock(apply_mutex);
    // The same set given again is tried again.
    const auto installed = current_games();
    applied_fingerprint = installed ? installed->fingerprint() : std::string();
    return {false, 0, std::move(error)};
  }
  auto frame = games_frame(*book);
  {
    std::lock_guard lock(mutex);
    games = book;
  }
  const std::size_t n = server->broadcast(frame);
  m->broadcasts->Increment();
  m->broadcast_recipients->Increment(static_cast<double>(n));
  spdlog::info("Broadcasting game updates to connected miners ({}): {} games", n,
               book->games().size());
  return {true, n, std::nullopt};
}

void validator_service::impl::apply_initial_games(const std::shared_ptr<const game_book>& book) {
  std::promise<std::optional<std::string>> saved;
  auto result = saved.get_future();
  store->save_games(book->games(),
                    [&saved](const std::optional<std::string>& error) { saved.set_value(error); });
  if (auto error = result.get())
    throw startup_error("--db.path: cannot store the games: " + *error);
  std::lock_guard lock(apply_mutex);
  applied_fingerprint = book->fingerprint();
  ++games_given;
  install_games(book, std::nullopt);
}

transport::frame_ptr validator_service::impl::games_frame(const game_book& book) const {
  protocol::game_update u{book.games(), protocol::format_timestamp(protocol::now_utc())};
  return server->make_frame(protocol::message_type::game_update, protocol::to_json(u));
}

void validator_service::impl::submit(storage::miner_ref miner, protocol::team_game_prediction p,
                                     std::function<void(storage::verdict)> done) {
  auto book = current_games();
  const auto now = protocol::now_utc();
  store->submit(
      std::move(miner), std::move(p), now,
      [book = std::move(book), now, m = m](const protocol::team_game_prediction& pred) {
        if (!metrics::stage_sampled(metrics::stage::rules))
          return check_prediction(pred, *book, now);
        const double t0 = metrics::thread_cpu_seconds();
        auto broken = check_prediction(pred, *book, now);
        const double spent = (metrics::thread_cpu_seconds() - t0) * metrics::stage_sample_every;
        metrics::at(m->stage_seconds, metrics::stage::rules).Increment(spent);
        rules_seconds_in_batch += spent;
        return broken;
      },
      std::move(done));
}

transport::frame_ptr validator_service::impl::confirmation_frame(const std::string& prediction_id,
                                                                 const storage::verdict& v) const {
  const bool timed = metrics::stage_sampled(metrics::stage::sign);
  const double t0 = timed ? metrics::thread_cpu_seconds() : 0;
  // The data's text in a buffer kept by the thread, written from the verdict's parts.
  thread_local std::string data;
  thread_local std::string now;
  data.clear();
  now.clear();
  protocol::append_timestamp(now, protocol::now_utc());
  protocol::append_confirmation(data, prediction_id, v.accepted() ? "success" : "error", v.message,
                                now, v.miner_stats ? &*v.miner_stats : nullptr);
  auto frame = server->make_frame_from_text(protocol::message_type::confirmation, data);
  if (timed) {
    metrics::at(m->stage_seconds, metrics::stage::sign)
        .Increment((metrics::thread_cpu_seconds() - t0) * metrics::stage_sample_every);
  }
  return frame;
}

void validator_service::impl::handle_prediction(const std::shared_ptr<peer_connection>& peer,
                                                protocol::envelope&& e) {
  auto p = protocol::parse_prediction(e.data);
  if (!p) {
    spdlog::info("Invalid prediction from miner {} (UID: {}): {}", peer->hotkey(), peer->uid(),
                 p.error().message);
    peer->send(server->make_frame(protocol::message_type::error,
                                  protocol::to_json(protocol::error_data{p.error().message})));
    return;
  }
  std::string id = p->prediction_id;
  const auto t0 = std::chrono::steady_clock::now();
  // The store runs `done` once: the id and the service move on into the confirmation's hand-off
  // instead of being copied there.
  submit(
      {peer->hotkey(), peer->uid()}, std::move(*p),
      [self = shared_from_this(), peer, id = std::move(id), t0](const storage::verdict& v) mutable {
        metrics::at(self->m->handler_seconds, protocol::frame_kind::prediction)
            .Observe(seconds_since(t0));
        self->count_verdict(v, metrics::channel::websocket);
        self->record_verdict(peer, peer->hotkey(), peer->uid(), id, v, metrics::channel::websocket);
        // Signed where the connection writes (an I/O thread, not the storage thread), in
        // one hand-off.
        peer->send_built([self = std::move(self), id = std::move(id), v] {
          auto frame = self->confirmation_frame(id, v);
          spdlog::info("Sent confirmation for prediction {} via WebSocket ({}{})", id,
                       v.accepted() ? "success" : v.message, v.duplicate ? ", duplicate" : "");
          return frame;
        });
      });
}

}  // namespace bettensor::validator
