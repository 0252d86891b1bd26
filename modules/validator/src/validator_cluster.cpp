// Instances sharing one PostgreSQL database act as one: a game set stored by any of them is
// announced (the ledger NOTIFYs in the transaction that stores it) and installed and broadcast
// by every other; a hotkey's new connection is announced, and the instance holding an older one
// closes it. Predictions need nothing here: idempotency and the daily limit live in the
// database (postgres_ledger.hpp).
#include <boost/json/parse.hpp>

#include "bettensor/storage/postgres_ledger.hpp"
#include "validator_impl.hpp"

namespace bettensor::validator {

namespace {

constexpr const char* sessions_channel = "bettensor_sessions";

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out;
  out.reserve(bytes * 2);
  constexpr std::string_view digits = "0123456789abcdef";
  for (const unsigned char c : raw) {
    out += digits[c >> 4U];
    out += digits[c & 15U];
  }
  return out;
}

}  // namespace

void validator_service::impl::open_cluster() {
  if (opts.db.kind != storage::db_url::backend::postgresql) return;
  instance_id = random_hex(8);
  std::weak_ptr<impl> weak = shared_from_this();
  auto ex = watch_timer.get_executor();
  // Both run on the listener's thread: each hands its work to the service's executor.
  auto on_event = [weak, ex](const std::string& channel, const std::string& payload) {
    net::post(ex, [weak, channel, payload] {
      if (auto self = weak.lock(); self && !self->stopping)
        self->on_cluster_event(channel, payload);
    });
  };
  auto on_state = [weak, ex, m = m](bool listening, const std::string& reason) {
    m->cluster_listening->Set(listening ? 1 : 0);
    if (!listening) {
      spdlog::warn("Not listening to the other instances: {}", reason);
      return;
    }
    spdlog::info("Listening to the other instances sharing the database");
    // Announcements sent while we were not listening are lost: read the stored set again.
    net::post(ex, [weak] {
      if (auto self = weak.lock(); self && !self->stopping) self->reload_stored_games();
    });
  };
  cluster = std::make_unique<storage::postgres_events>(
      opts.db, std::vector<std::string>{storage::games_channel, sessions_channel}, on_event,
      on_state);
}

void validator_service::impl::on_cluster_event(const std::string& channel,
                                               const std::string& payload) {
  if (channel == storage::games_channel) return reload_stored_games();
  if (channel == sessions_channel) return on_session_announced(payload);
}

void validator_service::impl::reload_stored_games() {
  std::uint64_t given = 0;
  {
    std::lock_guard lock(apply_mutex);
    given = games_given;
  }
  store->read_games(game_set_reader("the database", given));
}

void validator_service::impl::announce_session(const std::string& hotkey) {
  std::string token = random_hex(8);
  {
    std::lock_guard lock(sessions_mutex);
    local_sessions[hotkey] = session_mark{token, false};
  }
  boost::json::object o{{"hotkey", hotkey}, {"instance", instance_id}, {"token", token}};
  if (!cluster->notify(sessions_channel, boost::json::serialize(o))) {
    // Not announced: a newer connection elsewhere may close this one.
    std::lock_guard lock(sessions_mutex);
    if (auto it = local_sessions.find(hotkey);
        it != local_sessions.end() && it->second.token == token)
      it->second.announced = true;
  }
}

void validator_service::impl::on_session_announced(const std::string& payload) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(payload, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto field = [&](const char* k) -> std::string {
    const auto* f = o != nullptr ? o->if_contains(k) : nullptr;
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  const std::string hotkey = field("hotkey");
  const std::string instance = field("instance");
  const std::string token = field("token");
  if (hotkey.empty() || instance.empty()) {
    return spdlog::warn("Ignored a malformed session announcement: {}", payload.substr(0, 200));
  }
  bool close = false;
  bool ours = false;
  {
    std::lock_guard lock(sessions_mutex);
    auto it = local_sessions.find(hotkey);
    if (it == local_sessions.end()) return;
    if (instance == instance_id) {
      if (it->second.token != token) return;
      it->second.announced = true;
      ours = true;
    } else if (it->second.announced) {
      // Another instance's connection, announced after ours: ours is the older one.
      close = true;
      local_sessions.erase(it);
    }
  }
  if (ours) {
    // From here on, a connection of this hotkey announced by another instance is the newer one.
    return spdlog::debug("Miner {}: this connection is announced to the other instances", hotkey);
  }
  if (!close) return;
  m->cluster_takeovers->Increment();
  spdlog::info("Miner {} connected to another instance: closing its connection here", hotkey);
  server->disconnect_if([hotkey](const std::string& hk) { return hk == hotkey; },
                        protocol::close_reason::replaced,
                        std::string(protocol::text(protocol::close_reason::replaced)));
}

}  // namespace bettensor::validator
