// The connections and broadcast modes: many idle authenticated miners.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "fleet.hpp"

namespace bettensor::bench {

namespace json = boost::json;

namespace {

// Runs an io_context on its own thread for the lifetime of this object.
class io_thread {
 public:
  io_thread() : guard_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  ~io_thread() {
    ioc_.stop();
    thread_.join();
  }
  net::io_context& ioc() { return ioc_; }

 private:
  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::thread thread_;
};

// Why a step stopped before all its connections were authenticated.
std::string stop_reason(const fleet& f) {
  return f.failed() > 0 ? f.first_failure() : "time ran out";
}

void sleep_for_seconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

}  // namespace

int run_connections(const settings& s) {
  const int interval = s.heartbeat_interval > 0 ? s.heartbeat_interval : 5;
  const double hold = s.hold > 0 ? s.hold : interval + 1.5;
  const int most = *std::max_element(s.steps.begin(), s.steps.end());
  world w(s, most, heartbeat_flags(interval));
  sleep_for_seconds(0.5);  // let the validator finish starting before the baseline
  const double rss0 = w.server_rss_bytes();
  const auto mib = [](double b) { return figure(b / 1048576.0, 1); };
  io_thread io;
  fleet f(io.ioc(), w.where(), w.miners());

  std::printf(
      "\nconnections: idle authenticated miners opened in steps; each step held %.1f s with the\n"
      "validator sending a heartbeat every %d s and closing connections silent for %d s (method:\n"
      "server RSS from /proc/<pid>/status; RSS per connection = (RSS - RSS before the first\n"
      "connection) / connections; a connection counts as heartbeat-live when it received a\n"
      "heartbeat during the hold and answered it)\n",
      hold, interval, 3 * interval);
  std::printf("  %12s %10s %12s %14s %14s %8s\n", "connections", "open s", "server MiB",
              "KiB/connection", "heartbeat-live", "closed");
  std::printf("  %12s %10s %12s %14s %14s %8s\n", "0", "-", mib(rss0).c_str(), "-", "-", "-");
  json::array rows;
  bool ok = true;
  for (const int n : s.steps) {
    const auto t0 = steady::now();
    f.grow(static_cast<std::size_t>(n));
    if (!f.wait_ready(static_cast<std::size_t>(n), std::chrono::seconds(120))) {
      std::printf("  %12d  stopped: %zu of %d connected, %zu failed (%s)\n", n, f.ready(), n,
                  f.failed(), stop_reason(f).c_str());
      ok = false;
      break;
    }
    const double open_s = seconds_between(t0, steady::now());
    f.reset_heartbeats();
    sleep_for_seconds(hold);
    const double rss = w.server_rss_bytes();
    const double per = (rss - rss0) / n;
    const std::size_t live = std::min<std::size_t>(f.heartbeat_connections(), n);
    std::printf("  %12d %10.2f %12s %14s %14zu %8zu\n", n, open_s, mib(rss).c_str(),
                figure(per / 1024, 1).c_str(), live, f.closed());
    rows.push_back(json::object{{"connections", n},
                                {"open_seconds", open_s},
                                {"server_rss_bytes", json_figure(rss)},
                                {"rss_per_connection_bytes", json_figure(per)},
                                {"heartbeat_live", live},
                                {"closed", f.closed()}});
    if (live < static_cast<std::size_t>(n) || f.closed() > 0) ok = false;
  }
  f.stop();
  std::printf("  server RSS before any connection: %s MiB\n", mib(rss0).c_str());
  write_json(s, json::object{{"mode", "connections"},
                             {"heartbeat_interval", interval},
                             {"baseline_rss_bytes", json_figure(rss0)},
                             {"steps", rows}});
  return ok ? 0 : 1;
}

int run_broadcast(const settings& s) {
  const int most = *std::max_element(s.steps.begin(), s.steps.end());
  world w(s, most);
  io_thread io;
  fleet f(io.ioc(), w.where(), w.miners());
  std::printf(
      "\nbroadcast: a %d-game update posted to POST /games with N miners connected, %d rounds "
      "per N\n(method: time from just before the POST is sent to the moment the last miner has "
      "read the\nwhole update frame; the load generator reads every frame on one thread)\n",
      s.games, s.rounds);
  std::printf("  %10s %12s %12s %12s %12s %14s\n", "miners", "update bytes", "median ms", "max ms",
              "server CPU s", "client cores");
  json::array rows;
  bool ok = true;
  int round = 0;
  for (const int n : s.steps) {
    f.grow(static_cast<std::size_t>(n));
    if (!f.wait_ready(static_cast<std::size_t>(n), std::chrono::seconds(120))) {
      std::printf("  %10d  stopped: %zu of %d connected, %zu failed (%s)\n", n, f.ready(), n,
                  f.failed(), stop_reason(f).c_str());
      ok = false;
      break;
    }
    std::vector<double> times;
    const double server0 = w.server_cpu_seconds();
    const double client0 = own_cpu_seconds();
    double busy = 0;
    for (int r = 0; r < s.rounds; ++r) {
      const std::string body = games_body(++round, s.games, w.game());
      f.expect_round(round);
      const auto t0 = steady::now();
      if (const int status = post_games(w.where(), w.admin_token(), body); status != 200)
        throw std::runtime_error("POST /games answered " + std::to_string(status));
      const auto last = f.wait_round(static_cast<std::size_t>(n), std::chrono::seconds(60));
      if (!last) {
        std::printf("  %10d  round %d: only %zu miners received the update\n", n, r, f.ready());
        ok = false;
        break;
      }
      times.push_back(seconds_between(t0, *last) * 1e3);
      busy += seconds_between(t0, *last);
    }
    if (!ok) break;
    const double server_cpu = (w.server_cpu_seconds() - server0) / s.rounds;
    const double client_cores = busy > 0 ? (own_cpu_seconds() - client0) / busy : 0;
    std::sort(times.begin(), times.end());
    std::printf("  %10d %12zu %12.2f %12.2f %12s %14.2f\n", n, f.update_bytes(),
                percentile(times, 50), times.back(), figure(server_cpu, 3).c_str(), client_cores);
    rows.push_back(json::object{{"miners", n},
                                {"update_bytes", f.update_bytes()},
                                {"median_ms", percentile(times, 50)},
                                {"max_ms", times.back()},
                                {"server_cpu_seconds", json_figure(server_cpu)},
                                {"client_cores", client_cores}});
  }
  f.stop();
  write_json(s, json::object{{"mode", "broadcast"}, {"games", s.games}, {"steps", rows}});
  return ok ? 0 : 1;
}

}  // namespace bettensor::bench
