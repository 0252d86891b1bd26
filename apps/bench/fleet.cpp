#include "fleet.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <thread>

namespace bettensor::bench {

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);
constexpr std::string_view game_update_suffix = "\"type\": \"game_update\"}";

void note_arrival(fleet::state& st, steady::time_point t) {
  const auto now = t.time_since_epoch().count();
  auto last = st.last_arrival.load();
  while (now > last && !st.last_arrival.compare_exchange_weak(last, now)) {
  }
  ++st.arrived;
}

net::awaitable<void> idle_miner(target to, const crypto::hotkey& key,
                                std::shared_ptr<fleet::state> st) {
  ws_stream ws(co_await net::this_coro::executor);
  try {
    co_await connect_miner(ws, to, key);
  } catch (const std::exception& x) {
    {
      std::lock_guard lock(st->failure_mutex);
      if (st->first_failure.empty()) st->first_failure = x.what();
    }
    ++st->failed;
    co_return;
  }
  ++st->ready;
  beast::flat_buffer buf;
  std::uint64_t heartbeat_epoch = 0;
  int seen_round = -1;
  for (;;) {
    buf.clear();
    auto [ec, n] = co_await ws.async_read(buf, use_nothrow);
    if (ec) {
      if (!st->stopping) ++st->closed;
      co_return;
    }
    const std::string_view text(static_cast<const char*>(buf.cdata().data()), buf.size());
    if (is_heartbeat(text)) {
      ++st->heartbeats;
      if (const auto epoch = st->hb_epoch.load(); epoch != heartbeat_epoch) {
        heartbeat_epoch = epoch;
        ++st->hb_connections;
      }
      const auto reply = heartbeat_response(key);
      if (auto [wec, wn] = co_await ws.async_write(net::buffer(reply), use_nothrow); wec) {
        if (!st->stopping) ++st->closed;
        co_return;
      }
      continue;
    }
    // Envelope keys are sorted, so the type ends the frame, and the watched game is among the
    // first (games go out in id order). Searching all 20 KB for a string that starts with a
    // quote would cost the load generator more than the server's send.
    const int round = st->round;
    if (round < 0 || round == seen_round || !text.ends_with(game_update_suffix)) continue;
    if (text.substr(0, 4096).find("\"r" + std::to_string(round) + "-g0\"") !=
        std::string_view::npos) {
      seen_round = round;
      st->update_bytes = n;
      note_arrival(*st, steady::now());
    }
  }
}

net::awaitable<void> spawner(target where, const std::vector<crypto::hotkey>& keys,
                             std::size_t from, std::size_t to, int parallel,
                             std::shared_ptr<fleet::state> st) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer pause(ex);
  for (std::size_t i = from; i < to; ++i) {
    while (st->started - st->ready - st->failed >= static_cast<std::size_t>(parallel)) {
      pause.expires_after(std::chrono::milliseconds(1));
      co_await pause.async_wait(use_nothrow);
    }
    ++st->started;
    net::co_spawn(ex, idle_miner(where, keys[i], st), net::detached);
  }
}

template <class Pred>
bool poll_until(Pred done, std::chrono::duration<double> timeout) {
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(timeout);
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

fleet::fleet(net::io_context& ioc, target to, const std::vector<crypto::hotkey>& keys)
    : ioc_(ioc), to_(std::move(to)), keys_(keys) {}

void fleet::grow(std::size_t n, int parallel) {
  std::lock_guard lock(grow_mutex_);
  const std::size_t from = st_->started;
  if (n > keys_.size()) throw std::runtime_error("fleet: more connections than keys");
  if (n <= from) return;
  net::co_spawn(ioc_, spawner(to_, keys_, from, n, parallel, st_), net::detached);
  // `started` is advanced by the spawner; wait until it has taken the whole range so that a
  // second grow() continues after it.
  poll_until([&] { return st_->started >= n || st_->failed > 0; }, std::chrono::minutes(5));
}

bool fleet::wait_ready(std::size_t n, std::chrono::duration<double> timeout) const {
  return poll_until([&] { return st_->ready >= n || st_->failed > 0; }, timeout) &&
         st_->failed == 0;
}

void fleet::expect_round(int round) {
  st_->arrived = 0;
  st_->last_arrival = 0;
  st_->round = round;
}

std::optional<steady::time_point> fleet::wait_round(std::size_t n,
                                                    std::chrono::duration<double> timeout) const {
  if (!poll_until([&] { return st_->arrived >= n; }, timeout)) return std::nullopt;
  return steady::time_point(steady::duration(st_->last_arrival.load()));
}

std::string fleet::first_failure() const {
  std::lock_guard lock(st_->failure_mutex);
  return st_->first_failure;
}

void fleet::reset_heartbeats() {
  st_->hb_connections = 0;
  ++st_->hb_epoch;
}

}  // namespace bettensor::bench
