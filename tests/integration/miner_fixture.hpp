// Miners against real validators on loopback: in-process services on the fixture's io_context,
// or the real binaries as child processes when a test kills them.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>

#include <algorithm>
#include <functional>
#include <regex>
#include <set>
#include <thread>

#include "bettensor/crypto/wallet.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/test/child_process.hpp"
#include "validator_fixture.hpp"

namespace bettensor::test {

/// What a miner reports, as text, for the test thread to wait on with a bound.
class miner_log {
 public:
  miner::miner_events events() {
    miner::miner_events ev;
    ev.connected = [this](const std::string& v, std::optional<std::int64_t> uid) {
      push("connected:" + v + ":" + (uid ? std::to_string(*uid) : std::string("none")));
    };
    ev.disconnected = [this](const std::string& v, const std::string& why) {
      push("disconnected:" + v + ":" + why);
    };
    ev.refused = [this](const std::string& v, const std::string& why) {
      push("refused:" + v + ":" + why);
    };
    ev.game_update = [this](const std::string& v, std::size_t games, std::size_t changed) {
      push("game_update:" + v + ":" + std::to_string(games) + ":" + std::to_string(changed));
    };
    ev.prediction_stored = [this](const protocol::team_game_prediction& p) {
      push("stored:" + p.prediction_id + ":" + p.game_id);
    };
    ev.answered = [this](const std::string& v, const std::string& id, bool ok,
                         const std::string& message, auto, std::string_view via) {
      push("answered:" + v + ":" + id + ":" + (ok ? "success" : "error:" + message) + ":" +
           std::string(via));
    };
    return ev;
  }

  /// The next event starting with `prefix` (others are skipped); fails after `timeout`.
  std::string wait_for(const std::string& prefix, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!queue_.empty()) {
        std::string e = std::move(queue_.front());
        queue_.pop_front();
        if (e.starts_with(prefix)) return e;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        ADD_FAILURE() << "no event '" << prefix << "' within " << timeout.count() << " ms";
        return {};
      }
    }
  }

  /// Waits until `count` events (ever) start with `prefix`.
  bool wait_count(const std::string& prefix, std::size_t count,
                  std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    const bool ok = cv_.wait_for(lock, timeout, [&] { return count_locked(prefix) >= count; });
    if (!ok)
      ADD_FAILURE() << "only " << count_locked(prefix) << " of " << count << " events '" << prefix
                    << "'";
    return ok;
  }

  std::size_t count(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    return count_locked(prefix);
  }

 private:
  std::size_t count_locked(const std::string& prefix) const {
    return static_cast<std::size_t>(std::count_if(
        history_.begin(), history_.end(), [&](const auto& e) { return e.starts_with(prefix); }));
  }
  void push(std::string e) {
    {
      std::lock_guard lock(mutex_);
      history_.push_back(e);
      queue_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::vector<std::string> history_;
};

/// A validator test double on loopback, scripted by the test: it accepts one WebSocket, reads
/// the miner's authentication and runs `script` on its own thread, then reads until the miner
/// leaves. An exception in the script fails the test.
class scripted_validator {
 public:
  using stream = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;

  explicit scripted_validator(std::function<void(stream&)> script)
      : thread_([this, script = std::move(script)] { run(script); }) {}
  ~scripted_validator() { join(); }
  scripted_validator(const scripted_validator&) = delete;
  scripted_validator& operator=(const scripted_validator&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Waits for the script to end and the miner to leave (stop the miner first).
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  static void send(stream& ws, const std::string& text) { ws.write(boost::asio::buffer(text)); }

 private:
  void run(const std::function<void(stream&)>& script) {
    try {
      stream ws(acceptor_.accept());
      ws.accept();
      boost::beast::flat_buffer buf;
      ws.read(buf);  // the miner's authentication
      script(ws);
      boost::beast::error_code ec;
      while (!ec) ws.read(buf, ec);  // until the miner leaves
    } catch (const std::exception& e) {
      ADD_FAILURE() << "scripted validator: " << e.what();
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::thread thread_;  // last: it starts once the acceptor listens
};

/// A program started with bad flags, and what its one line of error must mention.
struct bad_start {
  std::vector<std::string> argv;
  std::string mentions;
};

/// Each start stops with exit code 2 and one line naming the problem.
inline void expect_usage_errors(const std::vector<bad_start>& cases) {
  for (const auto& c : cases) {
    child_process p(c.argv);
    const int rc = p.wait();
    const auto out = p.output();
    EXPECT_EQ(rc, 2) << c.argv.back() << ": " << out;
    EXPECT_NE(out.find(c.mentions), std::string::npos) << c.argv.back() << ": " << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << c.argv.back() << ": " << out;
  }
}

class MinerTest : public ValidatorTest {
 protected:
  void TearDown() override {
    for (auto& m : running_miners_) stop_miner(*m);
    running_miners_.clear();
    for (auto& v : extra_) stop_extra(v);
    if (service_) stop();
    work_.reset();
    ioc_.stop();  // tests that ran the io_context without an in-process validator
    for (auto& t : threads_) t.join();
    threads_.clear();
    fs::remove_all(dir_);
  }

  /// The fixture's validator, with the io_context kept running even while no validator is.
  void start() {
    work_.emplace(ioc_.get_executor());
    ValidatorTest::start();
  }

  // --- validators --------------------------------------------------------------------------
  struct extra_validator {
    explicit extra_validator(crypto::hotkey k) : key(std::move(k)) {}
    crypto::hotkey key;
    validator::validator_options opts;
    std::optional<validator::validator_service> service;
  };

  /// Starts `n` more validators on the fixture's io_context (same metagraph and games files).
  void add_validators(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto& v = extra_.emplace_back(make_hotkey());
      v.opts = opts_;
      v.opts.db =
          storage::db_url::sqlite(dir_ / ("validator-" + std::to_string(extra_.size()) + ".db"));
    }
    write_metagraph_with_ports();  // register them before they read the file
    for (auto& v : extra_) {
      v.service.emplace(ioc_, v.opts, v.key);
      v.service->start();
    }
    write_metagraph_with_ports();
  }

  void stop_extra(extra_validator& v) {
    if (!v.service) return;
    std::promise<void> stopped;
    v.service->stop([&stopped] { stopped.set_value(); });
    EXPECT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
    v.service.reset();
  }

  /// Stops the fixture's own validator but keeps the io_context (and miners) running.
  void stop_validator_only() {
    std::promise<void> stopped;
    service_->stop([&stopped] { stopped.set_value(); });
    ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
    service_.reset();
    opts_.server.port = port_;  // a restart comes back on the same port
  }

  void restart_validator_only() {
    service_.emplace(ioc_, opts_, validator_);
    service_->start();
    ASSERT_EQ(service_->port(), port_);
  }

  /// The metagraph: every validator with a permit and its real port, then the miners.
  void write_metagraph_with_ports(std::optional<std::size_t> without_extra = std::nullopt) {
    std::vector<test::neuron> neurons{test::validator_neuron(0, validator_.ss58, port_)};
    for (std::size_t i = 0; i < miners_.size(); ++i)
      neurons.push_back(test::miner_neuron(static_cast<std::int64_t>(i + 1), miners_[i].ss58));
    for (std::size_t i = 0; i < extra_.size(); ++i) {
      if (without_extra == i) continue;
      neurons.push_back(test::validator_neuron(static_cast<std::int64_t>(100 + i),
                                               extra_[i].key.ss58,
                                               extra_[i].service ? extra_[i].service->port() : 0));
    }
    test::write_metagraph(dir_ / "metagraph.json", neurons, ++block_);
  }

  /// Runs the io_context on two threads for tests without an in-process validator.
  void run_io_threads() {
    work_.emplace(ioc_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  /// An event log that outlives the miners (they are stopped in TearDown).
  miner_log& new_log() { return logs_.emplace_back(); }

  // --- in-process miners -------------------------------------------------------------------
  miner::miner_options miner_options(const std::string& name) const {
    miner::miner_options o;
    o.db_path = dir_ / (name + ".db");
    o.link.reconnect_base = 50ms;
    o.link.reconnect_max = 400ms;
    o.link.connect_timeout = 5s;
    o.strat = miner::strategy::none;
    o.http_fallback_grace = 1h;
    o.file_poll_interval = 50ms;
    return o;
  }

  miner::validator_endpoint endpoint(const crypto::hotkey& v, std::uint16_t port) const {
    return {"127.0.0.1", port, "/ws", v.ss58};
  }

  miner::miner_service& start_miner(const crypto::hotkey& key, miner::miner_options o,
                                    miner_log& log) {
    auto& m = running_miners_.emplace_back(
        std::make_unique<miner::miner_service>(ioc_, std::move(o), key, log.events()));
    m->start();
    return *m;
  }

  void stop_miner(miner::miner_service& m) {
    std::promise<void> stopped;
    m.stop([&stopped] { stopped.set_value(); });
    EXPECT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  }

  miner::miner_status status(miner::miner_service& m) {
    std::promise<miner::miner_status> p;
    m.status([&p](miner::miner_status s) { p.set_value(std::move(s)); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  }

  protocol::result<protocol::team_game_prediction> submit(miner::miner_service& m,
                                                          protocol::team_game_prediction p) {
    std::promise<protocol::result<protocol::team_game_prediction>> done;
    m.submit(std::move(p), [&done](auto r) { done.set_value(std::move(r)); });
    auto f = done.get_future();
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  }

  /// Rows the validator stored for a prediction (opens its database; the service must be
  /// stopped or idle).
  std::size_t stored_rows(const fs::path& db, const std::string& prediction_id) {
    storage::validator_store store({storage::db_url::sqlite(db)});
    return store.prediction_rows(prediction_id);
  }

  // --- child processes ---------------------------------------------------------------------
  /// A new hotkey file under dir_/wallets/<name>/hotkeys/default; returns its key.
  crypto::hotkey make_wallet(const std::string& name) {
    const crypto::wallet_location where{dir_ / "wallets", name, "default"};
    auto h = crypto::create_hotkey(where.hotkey_file(), true);
    EXPECT_TRUE(h) << h.error().message;
    return h ? std::move(*h) : make_hotkey();
  }

  std::vector<std::string> wallet_flags(const std::string& name) const {
    return {"--wallet.path=" + (dir_ / "wallets").string(), "--wallet.name=" + name,
            "--wallet.hotkey=default"};
  }

  std::uint16_t port_from(child_process& p, const std::string& what) {
    const auto m = p.wait_for_line(std::regex(what + R"(.*127\.0\.0\.1:(\d+))"), 20s);
    if (!m) {
      ADD_FAILURE() << "no '" << what << "' line:\n" << p.output();
      return 0;
    }
    return static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
  }

  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::deque<extra_validator> extra_;
  std::deque<miner_log> logs_;  // stable addresses
  std::vector<std::unique_ptr<miner::miner_service>> running_miners_;
  std::int64_t block_ = 10;
};

}  // namespace bettensor::test
