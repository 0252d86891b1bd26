// The throughput and latency modes: signed predictions over WebSocket.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "fleet.hpp"

namespace bettensor::bench {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct shared_state : tally {
  std::atomic<int> ready{0};
  std::mutex first_rejection_mutex;
  std::string first_rejection;  // the first non-success confirmation, shown in the table
  steady::time_point t0;        // written before `measuring` is set
  // Latency mode, touched on the io thread only: confirmation received - intended time, and its
  // two parts: the frame handed to the socket - intended time (the load generator's own delay),
  // and confirmation received - frame handed to the socket.
  std::vector<double> latencies;
  std::vector<double> send_delays;
  std::vector<double> round_trips;
};

// Latency mode: the n-th prediction of connection `index` is due at t0 + (n*C + index) / rate,
// whatever happened before (open loop), and its latency is measured from that intended time,
// so a stall shows up in the latencies instead of lowering the offered rate.
struct paced {
  std::vector<steady::time_point> intended;
  std::vector<steady::time_point> sent;
};

net::awaitable<void> paced_writer(std::shared_ptr<ws_stream> ws, std::shared_ptr<paced> pace,
                                  std::vector<std::string> frames, int index, const settings& s,
                                  shared_state& st, const crypto::hotkey& key,
                                  const protocol::team_game& g) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  const double period = static_cast<double>(s.connections) / s.rate;
  const auto end = st.t0 + std::chrono::duration_cast<steady::duration>(
                               std::chrono::duration<double>(s.duration));
  for (std::size_t n = 0;; ++n) {
    const auto due =
        st.t0 +
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(
            (static_cast<double>(n) + static_cast<double>(index) / s.connections) * period));
    if (due >= end || st.done) co_return;
    timer.expires_at(due);
    co_await timer.async_wait(net::use_awaitable);
    std::string frame = n < frames.size() ? std::move(frames[n]) : prediction_frame(key, n, g);
    pace->intended.resize(n + 1);
    pace->intended[n] = due;
    pace->sent.resize(n + 1);
    pace->sent[n] = steady::now();
    co_await ws->async_write(net::buffer(frame), net::use_awaitable);
  }
}

// One miner: authenticate, then keep `inflight` predictions outstanding (throughput) or send on
// a schedule (latency) until told to stop.
net::awaitable<void> miner(target to, const crypto::hotkey& key, const validator_key& validator,
                           std::vector<std::string> frames, const settings& s, shared_state& st,
                           const protocol::team_game& g, int index) {
  auto ex = co_await net::this_coro::executor;
  auto wsp = std::make_shared<ws_stream>(ex);
  auto& ws = *wsp;
  co_await connect_miner(ws, to, key);
  ++st.ready;
  net::steady_timer wait(ex);
  while (!st.measuring) {
    wait.expires_after(1ms);
    co_await wait.async_wait(net::use_awaitable);
  }
  std::uint64_t next = 0;
  const auto send_next = [&]() -> std::string {
    if (next < frames.size()) return std::move(frames[next++]);
    return prediction_frame(key, 1'000'000 + next++, g);  // the pool ran out: sign now
  };
  const bool open_loop = s.mode == "latency";
  auto pace = std::make_shared<paced>();
  if (open_loop) {
    net::co_spawn(ex, paced_writer(wsp, pace, std::move(frames), index, s, st, key, g),
                  net::detached);
  } else {
    for (int i = 0; i < s.inflight; ++i)
      co_await ws.async_write(net::buffer(send_next()), net::use_awaitable);
  }
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> coin(0, 1);
  protocol::replay_guard nonces;
  beast::flat_buffer buf;
  for (;;) {
    buf.clear();
    co_await ws.async_read(buf, net::use_awaitable);
    const std::string_view text(static_cast<const char*>(buf.cdata().data()), buf.size());
    if (text.find("\"confirmation\"") == std::string_view::npos) continue;
    if (coin(rng) < s.verify_sample) verify_confirmation(text, validator, nonces, st);
    if (text.find("\"success\"") == std::string_view::npos) {
      std::lock_guard lock(st.first_rejection_mutex);
      if (st.first_rejection.empty()) st.first_rejection = std::string(text.substr(0, 300));
    }
    if (st.measuring) {
      (text.find("\"success\"") != std::string_view::npos ? st.confirmed : st.rejected)++;
    }
    if (open_loop) {
      const auto now = steady::now();
      constexpr std::string_view key_text = "\"prediction_id\": \"";
      const auto at = text.find(key_text);
      const auto end = at == std::string_view::npos ? at : text.find('"', at + key_text.size());
      const auto dash = at == std::string_view::npos ? at : text.rfind('-', end);
      if (dash != std::string_view::npos) {
        const auto n = std::stoull(std::string(text.substr(dash + 1, end - dash - 1)));
        if (n < pace->intended.size()) {
          st.latencies.push_back(seconds_between(pace->intended[n], now));
          st.send_delays.push_back(seconds_between(pace->intended[n], pace->sent[n]));
          st.round_trips.push_back(seconds_between(pace->sent[n], now));
        }
      }
      if (st.done) break;
      continue;
    }
    if (st.done) break;
    co_await ws.async_write(net::buffer(send_next()), net::use_awaitable);
  }
  beast::error_code ignored;
  beast::get_lowest_layer(ws).socket().close(ignored);
}

void print_first_rejection(shared_state& st) {
  std::lock_guard lock(st.first_rejection_mutex);
  if (!st.first_rejection.empty())
    std::printf("  first rejection: %s\n", st.first_rejection.c_str());
}

constexpr std::array<const char*, 6> stage_names{"parse",  "verify", "rules",
                                                 "commit", "sign",   "write"};

// The validator's storage and stage counters, from its /metrics.
struct storage_counters {
  double commits = 0;
  double predictions = 0;
  double commit_seconds = 0;
  std::array<double, stage_names.size()> stage_seconds{};
  double batched_signatures = 0;
};

storage_counters read_storage(const target& to) {
  const std::string m = http_get(to, "/metrics");
  storage_counters c{metric_value(m, "bettensor_storage_batch_predictions_count"),
                     metric_value(m, "bettensor_storage_batch_predictions_sum"),
                     metric_value(m, "bettensor_storage_commit_duration_seconds_sum")};
  for (std::size_t i = 0; i < stage_names.size(); ++i) {
    c.stage_seconds[i] = metric_value(
        m, std::string("bettensor_stage_seconds_total{stage=\"") + stage_names[i] + "\"}");
  }
  c.batched_signatures = metric_value(m, "bettensor_verify_batch_signatures_total");
  return c;
}

// Storage batching and the stages during the run, as the validator's own metrics report them.
struct storage_figures {
  double predictions_per_commit = 0;
  double commit_ms = 0;
  std::array<double, stage_names.size()> stage_us{};  // per prediction
  double batched_share = 0;  // of the predictions' signatures, verified in a batch
};

storage_figures storage_between(const storage_counters& a, const storage_counters& b) {
  const double commits = b.commits - a.commits;
  const double predictions = b.predictions - a.predictions;
  if (commits <= 0 || predictions <= 0) return {};
  storage_figures f{predictions / commits, (b.commit_seconds - a.commit_seconds) / commits * 1e3};
  for (std::size_t i = 0; i < stage_names.size(); ++i)
    f.stage_us[i] = (b.stage_seconds[i] - a.stage_seconds[i]) / predictions * 1e6;
  f.batched_share = (b.batched_signatures - a.batched_signatures) / predictions;
  return f;
}

// The rows both tables end with: storage batching, the verified sample, the first rejection.
void print_storage_and_sample(const storage_figures& storage, shared_state& st) {
  row("predictions per commit (mean)", figure(storage.predictions_per_commit, 1));
  row("commit ms (mean, fsync incl.)", figure(storage.commit_ms, 2));
  row("confirmations verified (sample)", sample_text(st));
  print_first_rejection(st);
}

void print_throughput(const settings& s, shared_state& st, double elapsed, double presign,
                      const crypto_costs& crypto, double server_cpu, double client_cpu,
                      const storage_figures& storage) {
  const auto n = static_cast<double>(st.confirmed + st.rejected);
  const double per = n > 0 ? server_cpu / n : 0;
  const double floor = crypto.floor;
  const double ratio = floor > 0 ? per / floor : 0;
  const double yardsticks = crypto.yardstick > 0 ? per / crypto.yardstick : 0;
  const double cores = server_cpu / elapsed;
  std::printf(
      "\nthroughput: %d connections, %d in flight each, %.1f s (method: predictions signed "
      "beforehand, %.1f s;\nconfirmations counted while measuring; CPU from /proc; crypto "
      "floor = one sr25519 sign + verify\nhere, the mean of a measurement before and one after "
      "the run; yardstick = libsodium Ed25519 verify, measured alike;\nstages from the "
      "validator's bettensor_stage_seconds_total)\n",
      s.connections, s.inflight, elapsed, presign);
  row("confirmed predictions/s", figure(n / elapsed, 0));
  row("accepted", std::to_string(st.confirmed.load()));
  row("rejected", std::to_string(st.rejected.load()));
  row("server CPU µs per prediction", figure(per * 1e6, 1));
  row("crypto floor µs (sign+verify)", figure(floor * 1e6, 1));
  row("crypto floor ratio", figure(ratio, 2));
  row("yardstick µs (Ed25519 verify)", figure(crypto.yardstick * 1e6, 1));
  row("server CPU per prediction, yardsticks", figure(yardsticks, 2));
  row("server cores busy", figure(cores, 2));
  row("load generator cores busy", figure(client_cpu / elapsed, 2));
  double staged = 0;
  json::object stages;
  for (std::size_t i = 0; i < stage_names.size(); ++i) {
    row((std::string("  stage µs per prediction: ") + stage_names[i]).c_str(),
        figure(storage.stage_us[i], 1));
    staged += storage.stage_us[i];
    stages[stage_names[i]] = storage.stage_us[i];
  }
  row("  the rest (TCP, Beast, hand-offs)", figure(per * 1e6 - staged, 1));
  row("signatures verified in batches", figure(storage.batched_share * 100, 0) + " %");
  print_storage_and_sample(storage, st);
  write_json(s, json::object{{"mode", "throughput"},
                             {"connections", s.connections},
                             {"inflight", s.inflight},
                             {"seconds", elapsed},
                             {"rate", n / elapsed},
                             {"accepted", st.confirmed.load()},
                             {"rejected", st.rejected.load()},
                             {"server_cpu_us_per_prediction", json_figure(per * 1e6)},
                             {"crypto_floor_us", floor * 1e6},
                             {"crypto_floor_ratio", json_figure(ratio)},
                             {"yardstick_us", crypto.yardstick * 1e6},
                             {"server_cpu_yardsticks", json_figure(yardsticks)},
                             {"stage_us", stages},
                             {"batched_share", storage.batched_share},
                             {"server_cores", json_figure(cores)},
                             {"client_cores", client_cpu / elapsed},
                             {"predictions_per_commit", storage.predictions_per_commit},
                             {"commit_ms", storage.commit_ms},
                             {"verified_sample", st.verified.load()},
                             {"bad_sample", st.bad.load()}});
}

void print_latency(const settings& s, shared_state& st, const std::vector<double>& broadcasts,
                   const storage_figures& storage) {
  auto& l = st.latencies;
  std::sort(l.begin(), l.end());
  std::printf(
      "\nlatency: %.0f predictions/s offered open loop over %d connections for %.1f s (method: "
      "each\nprediction has an intended send time; latency = confirmation received - intended "
      "time;\nits parts: the frame handed to the socket - intended time, and confirmation received "
      "- that)\n",
      s.rate, s.connections, s.duration);
  if (s.idle > 0) {
    std::printf(
        "  while %d more miners listen and a %d-game update is posted every %.1f s (%zu "
        "broadcasts,\n  slowest reached every listener in %.1f ms)\n",
        s.idle, s.games, s.broadcast_every, broadcasts.size(),
        broadcasts.empty() ? 0.0 : *std::max_element(broadcasts.begin(), broadcasts.end()));
  }
  row("offered", figure(s.rate * s.duration, 0));
  row("confirmed", std::to_string(l.size()));
  percentile_rows(l);
  // Where the p99 comes from: the load generator's timers fire late on an idle virtual CPU.
  std::sort(st.send_delays.begin(), st.send_delays.end());
  std::sort(st.round_trips.begin(), st.round_trips.end());
  const double send_p99 = percentile(st.send_delays, 99) * 1e3;
  const double trip_p99 = percentile(st.round_trips, 99) * 1e3;
  row("p99 ms: sent late by", figure(send_p99, 3));
  row("p99 ms: round trip from the send", figure(trip_p99, 3));
  print_storage_and_sample(storage, st);
  json::object result{{"mode", "latency"},
                      {"rate", s.rate},
                      {"connections", s.connections},
                      {"idle", s.idle},
                      {"broadcasts", broadcasts.size()},
                      {"seconds", s.duration},
                      {"confirmed", l.size()}};
  add_percentiles(result, l);
  result["send_delay_p99_ms"] = send_p99;
  result["round_trip_p99_ms"] = trip_p99;
  result["predictions_per_commit"] = storage.predictions_per_commit;
  result["commit_ms"] = storage.commit_ms;
  write_json(s, result);
}

}  // namespace

int run_stream(const settings& s) {
  const bool latency = s.mode == "latency";
  world w(s, s.connections + s.idle);
  const std::vector<crypto::hotkey> senders(w.miners().begin(), w.miners().begin() + s.connections);
  const std::vector<crypto::hotkey> listeners(w.miners().begin() + s.connections, w.miners().end());

  // Sign the predictions before the clock starts, so the load generator measures the server.
  const double offered = latency ? s.rate : 20000;
  const auto per_conn = static_cast<std::size_t>(offered * s.duration / s.connections) + 64;
  std::vector<std::vector<std::string>> pools(senders.size());
  const auto sign0 = steady::now();
  for (std::size_t i = 0; i < senders.size(); ++i)
    for (std::size_t n = 0; n < per_conn; ++n)
      pools[i].push_back(prediction_frame(senders[i], n, w.game()));
  const double presign = std::chrono::duration<double>(steady::now() - sign0).count();
  const crypto_costs crypto_before = measure_crypto();

  // Listeners (latency mode with --idle) run on their own thread.
  net::io_context listen_ioc(1);
  auto listen_guard = net::make_work_guard(listen_ioc);
  std::thread listen_thread([&] { listen_ioc.run(); });
  fleet idle(listen_ioc, w.where(), listeners);
  if (s.idle > 0) {
    idle.grow(listeners.size());
    if (!idle.wait_ready(listeners.size(), std::chrono::seconds(120)))
      throw std::runtime_error("the idle miners could not all connect");
  }

  shared_state st;  // outlives the io_context and the coroutine frames it destroys
  std::vector<double> broadcasts;
  storage_figures storage;
  storage_counters storage0;
  double elapsed = 0;
  double server_cpu = 0;
  double client_cpu = 0;
  net::io_context ioc(1);
  for (std::size_t i = 0; i < senders.size(); ++i)
    net::co_spawn(ioc,
                  miner(w.where(), senders[i], w.validator(), std::move(pools[i]), s, st, w.game(),
                        static_cast<int>(i)),
                  [&st](const std::exception_ptr& e) {
                    if (e && !st.done) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& x) {
                        std::cerr << "bettensor-bench: connection failed: " << x.what() << '\n';
                      }
                    }
                  });
  std::thread driver([&] {
    while (st.ready < s.connections) std::this_thread::sleep_for(5ms);
    storage0 = read_storage(w.where());
    const double server0 = w.server_cpu_seconds();
    const double client0 = own_cpu_seconds();
    const auto t0 = steady::now();
    st.t0 = t0;
    st.measuring = true;
    const auto end = t0 + std::chrono::duration_cast<steady::duration>(
                              std::chrono::duration<double>(s.duration));
    if (s.idle > 0 && s.broadcast_every > 0) {
      int round = 0;
      for (auto next = t0 + std::chrono::duration_cast<steady::duration>(
                                std::chrono::duration<double>(s.broadcast_every / 2));
           next < end; next += std::chrono::duration_cast<steady::duration>(
                           std::chrono::duration<double>(s.broadcast_every))) {
        std::this_thread::sleep_until(next);
        idle.expect_round(++round);
        const auto b0 = steady::now();
        post_games(w.where(), w.admin_token(), games_body(round, s.games, w.game()));
        if (const auto last = idle.wait_round(listeners.size(), std::chrono::seconds(30)))
          broadcasts.push_back(std::chrono::duration<double>(*last - b0).count() * 1e3);
      }
    }
    std::this_thread::sleep_until(end);
    if (latency) {
      // The writers stop at the end by themselves; give the last answers time to arrive, then
      // end every connection (a reader may be waiting for nothing).
      std::this_thread::sleep_for(1s);
      storage = storage_between(storage0, read_storage(w.where()));
      st.done = true;
      ioc.stop();
      return;
    }
    st.done = true;
    elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    server_cpu = w.server_cpu_seconds() - server0;
    client_cpu = own_cpu_seconds() - client0;
  });
  ioc.run();
  driver.join();
  idle.stop();
  listen_ioc.stop();
  listen_thread.join();
  if (latency) {
    print_latency(s, st, broadcasts, storage);
  } else {
    // The floor again, with the connections closed and the server idle: this machine's speed
    // drifts, so the mean of the two measurements is used.
    const crypto_costs crypto_after = measure_crypto();
    const crypto_costs crypto{(crypto_before.floor + crypto_after.floor) / 2,
                              (crypto_before.yardstick + crypto_after.yardstick) / 2};
    print_throughput(s, st, elapsed, presign, crypto, server_cpu, client_cpu,
                     storage_between(storage0, read_storage(w.where())));
  }
  return st.bad == 0 && st.rejected == 0 && st.confirmed > 0 ? 0 : 1;
}

}  // namespace bettensor::bench
