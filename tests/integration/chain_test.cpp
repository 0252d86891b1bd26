// The metagraph from the chain: an in-process validator reading a loopback subtensor stand-in
// (tests/interop/subtensor_standin.mjs, Node `ws`), whose neuron lists are SCALE-encoded by
// @polkadot/types from subtensor's type definitions: an encoder we did not write.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <regex>

#include "bettensor/test/child_process.hpp"
#include "miner_fixture.hpp"

namespace bettensor::test {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

// The stand-in node, steered over HTTP on its RPC port.
class subtensor_standin {
 public:
  subtensor_standin() : node_({BETTENSOR_NODE, BETTENSOR_STANDIN_SCRIPT}) {
    const auto m = node_.wait_for_line(std::regex(R"(listening (\d+))"), 30s);
    if (!m) throw std::runtime_error("the subtensor stand-in did not start: " + node_.output());
    port_ = static_cast<std::uint16_t>(std::stoi((*m)[1].str()));
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }

  void control(const json::object& change) {
    const auto r = http_request(port_, http::verb::post, "/control", json::serialize(change));
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  // A neuron as the stand-in takes it.
  static json::object neuron(std::int64_t uid, const std::string& hotkey, bool permit = false,
                             std::uint64_t stake_rao = 0, const std::string& ip = "",
                             std::uint16_t port = 0) {
    return {{"uid", uid},   {"hotkey", hotkey}, {"validator_permit", permit},        {"ip", ip},
            {"port", port}, {"ip_type", 4},     {"stake", std::to_string(stake_rao)}};
  }

 private:
  child_process node_;
  std::uint16_t port_ = 0;
};

class ChainTest : public MinerTest {
 protected:
  void SetUp() override {
    MinerTest::SetUp();
    ring_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512);
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("capture", ring_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
    node_.emplace();
    list({miners_[0], miners_[1]});
    opts_.metagraph_file.clear();
    chain::sync_config c;
    c.rpc.url = *transport::parse_rpc_url("ws://127.0.0.1:" + std::to_string(node_->port()));
    c.rpc.timeout = 1s;  // "a node that stops answering" is one that misses this
    c.netuid = 30;
    c.interval = 100ms;
    c.retry_base = 50ms;
    c.retry_max = 100ms;
    c.cache_file = dir_ / "metagraph-30.json";
    opts_.chain = c;
  }

  void TearDown() override {
    MinerTest::TearDown();
    spdlog::set_default_logger(previous_);
  }

  // The chain lists the validator (uid 0) and these miners, each under its fixture uid.
  void list(const std::vector<crypto::hotkey>& miners) {
    node_->control({{"neurons", neurons_of(miners)}, {"block", ++block_}});
  }

  json::array neurons_of(const std::vector<crypto::hotkey>& miners) const {
    // The validator's axon: its real port once it listens.
    json::array neurons{subtensor_standin::neuron(0, validator_.ss58, true, 5'000'000'000'000,
                                                  "127.0.0.1", port_ != 0 ? port_ : 10401)};
    for (const auto& m : miners)
      neurons.push_back(subtensor_standin::neuron(static_cast<std::int64_t>(uid_of(m)), m.ss58));
    return neurons;
  }

  double metric(const std::string& series) {
    const auto text = http_request(port_, http::verb::get, "/metrics").body;
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }

  static std::string syncs(const std::string& outcome) {
    return "bettensor_metagraph_syncs_total{outcome=\"" + outcome + "\"}";
  }

  // Waits (bounded) until the series has grown by `n` from `from`; false at the deadline.
  bool grows(const std::string& series, double from, double n = 1) {
    return eventually([&] { return metric(series) >= from + n; });
  }

  // Polls `done` (bounded); false at the deadline.
  template <class Predicate>
  static bool eventually(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);  // polling interval
    }
    return false;
  }

  // Two good syncs after now: the second one began after any change made before this call.
  void wait_for_fresh_sync() {
    ASSERT_TRUE(grows(syncs("ok"), metric(syncs("ok")), 2)) << "no good sync";
  }

  bool logged(const std::string& text) const {
    for (const auto& line : ring_->last_formatted())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

  std::string last_log() const {
    std::string out;
    for (const auto& line : ring_->last_formatted(20)) out += line;
    return out;
  }

  void refused(const crypto::hotkey& miner) {
    ws_client c(port_);
    c.send(auth_frame(miner));
    const auto text = c.read();
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("Not authorized: hotkey not registered"), std::string::npos) << *text;
    EXPECT_FALSE(c.read());
  }

  void served(ws_client& c, const crypto::hotkey& miner, const std::string& id) {
    c.send(prediction_frame(miner, prediction(miner, id)));
    EXPECT_EQ(confirm(c).status, "success") << id;
  }

  std::optional<subtensor_standin> node_;
  std::int64_t block_ = 1000;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(ChainTest, AdmitsTheMinersTheChainListsAndRefusesOthers) {
  start();
  wait_for_fresh_sync();
  auto a = connect(miners_[0]);  // the welcome carries uid 1 from the chain
  auto b = connect(miners_[1]);
  served(*a, miners_[0], "from-chain-1");
  refused(miners_[2]);
  EXPECT_EQ(metric("bettensor_metagraph_neurons"), 3);
  EXPECT_GE(metric("bettensor_metagraph_block"), 1001);
  EXPECT_GT(metric("bettensor_metagraph_last_success_timestamp_seconds"), 1.7e9);
  EXPECT_EQ(metric("bettensor_metagraph_consecutive_failures"), 0);
}

TEST_F(ChainTest, AMinerAddedOrRemovedBetweenSyncsIsAdmittedOrDisconnected) {
  start();
  wait_for_fresh_sync();
  auto a = connect(miners_[0]);
  refused(miners_[2]);
  list({miners_[1], miners_[2]});  // miners_[0] deregistered, miners_[2] registered
  wait_for_fresh_sync();
  EXPECT_EQ(a->read_until_closed().reason, "Not authorized: hotkey not registered");
  auto c = connect(miners_[2]);
  served(*c, miners_[2], "registered-later");
  refused(miners_[0]);
}

TEST_F(ChainTest, BadAnswersAndASilentNodeKeepTheLastGoodMetagraph) {
  start();
  wait_for_fresh_sync();
  auto a = connect(miners_[0]);
  const struct {
    const char* mode;
    const char* outcome;
    const char* log;
  } cases[] = {
      {"truncated", "malformed", "Metagraph sync failed (malformed): NeuronInfoLite list: neuron"},
      {"garbage", "malformed", "Metagraph sync failed (malformed): NeuronInfoLite list: not hex"},
      {"rpc_error", "rpc_error", "Verification Error: Runtime error: Execution failed"},
      {"silent", "timeout", "Metagraph sync failed (timeout)"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const double before = metric(syncs(c.outcome));
    // Behind the bad answer the node's list drops miners_[1]: were it taken for a metagraph,
    // miners_[1] would be refused.
    node_->control({{"mode", c.mode}, {"neurons", neurons_of({miners_[0]})}});
    // The line names this case's failure (the previous case's may still be retried meanwhile).
    ASSERT_TRUE(eventually([&] { return logged(c.log); })) << c.mode << "\n" << last_log();
    EXPECT_TRUE(grows(syncs(c.outcome), before)) << c.mode;
    EXPECT_GE(metric("bettensor_metagraph_consecutive_failures"), 1) << c.mode;
    // Still in force: the connected miner is served, and a new connection is admitted.
    served(*a, miners_[0], std::string("during-") + c.mode);
    auto again = connect(miners_[1]);
    refused(miners_[2]);
    EXPECT_EQ(metric("bettensor_metagraph_neurons"), 3) << c.mode;
    ++n;
  }
  EXPECT_EQ(n, 4);
  // The node comes back, with an empty list: refused as well (a chain without the subnet).
  const double empty = metric(syncs("empty"));
  node_->control({{"mode", "ok"}, {"neurons", json::array{}}});
  ASSERT_TRUE(eventually([&] { return logged("the chain lists no neurons for netuid 30"); }));
  EXPECT_TRUE(grows(syncs("empty"), empty));
  served(*a, miners_[0], "after-empty");
  // And with the subnet again: a good sync, and the failures are over.
  list({miners_[0], miners_[2]});
  wait_for_fresh_sync();
  EXPECT_EQ(metric("bettensor_metagraph_consecutive_failures"), 0);
  auto c = connect(miners_[2]);
  served(*c, miners_[2], "node-back");
}

TEST_F(ChainTest, ARestartWithTheNodeDownUsesTheCachedSnapshot) {
  start();
  wait_for_fresh_sync();
  stop();
  ASSERT_TRUE(fs::exists(dir_ / "metagraph-30.json"));
  node_.reset();  // the node is gone: its port refuses connections
  start();
  EXPECT_TRUE(logged("Metagraph from the cache"));
  auto a = connect(miners_[0]);
  served(*a, miners_[0], "from-cache");
  refused(miners_[2]);
  EXPECT_TRUE(grows(syncs("unreachable"), 0));
  EXPECT_TRUE(logged("Metagraph sync failed (unreachable)"));
}

// The miner reads the same chain: it dials the validators with a permit, a served axon and at
// least the stake floor, and no one else.
TEST_F(ChainTest, TheMinerDialsTheValidatorsWithAPermitAnAxonAndTheStake) {
  start();
  const auto rich_no_axon = make_hotkey();
  const auto poor = make_hotkey();
  const auto no_permit = make_hotkey();
  auto neurons = neurons_of({miners_[0]});
  neurons.push_back(subtensor_standin::neuron(10, rich_no_axon.ss58, true, 9'000'000'000'000));
  neurons.push_back(subtensor_standin::neuron(11, poor.ss58, true, 10'000'000'000, "127.0.0.1",
                                              port_));  // 10 units: below the floor
  neurons.push_back(
      subtensor_standin::neuron(12, no_permit.ss58, false, 9'000'000'000'000, "127.0.0.1", port_));
  node_->control({{"neurons", std::move(neurons)}, {"block", ++block_}});
  wait_for_fresh_sync();

  auto o = miner_options("chain-miner");
  o.chain = opts_.chain;
  o.chain->cache_file = dir_ / "miner-metagraph-30.json";
  o.validator_min_stake = 1000;
  auto& log = new_log();
  auto& m = start_miner(miners_[0], o, log);
  EXPECT_EQ(log.wait_for("connected:"), "connected:" + validator_.ss58 + ":1");
  log.wait_for("game_update:" + validator_.ss58);  // the games, before predicting one
  auto p = prediction(miners_[0], "via-chain");
  ASSERT_TRUE(submit(m, p));
  EXPECT_EQ(log.wait_for("answered:"),
            "answered:" + validator_.ss58 + ":via-chain:success:WebSocket");
  const auto text = m.metrics().render();
  EXPECT_NE(text.find("\nbettensor_miner_validators 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nbettensor_metagraph_syncs_total{outcome=\"ok\"} "), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "miner-metagraph-30.json"));
}

// Every new flag is in --help, --check-config shows what would be read, and a bad value stops
// the program with one line naming the flag (exit code 2).
TEST_F(ChainTest, TheChainFlagsAreDocumentedCheckedAndNamedWhenWrong) {
  make_wallet("operator");
  const auto wallet = wallet_flags("operator");
  const std::vector<std::string> shared{
      "--subtensor.network", "--subtensor.chain_endpoint", "--netuid",
      "--subtensor.timeout", "--metagraph.sync_interval",  "--metagraph.cache"};
  for (const char* bin : {BETTENSOR_VALIDATOR_BIN, BETTENSOR_MINER_BIN}) {
    child_process help({bin, "--help"});
    EXPECT_EQ(help.wait(), 0);
    const auto text = help.output();
    for (const auto& flag : shared) EXPECT_NE(text.find(flag), std::string::npos) << bin << flag;
    if (std::string(bin) == BETTENSOR_MINER_BIN) {
      EXPECT_NE(text.find("--validator_min_stake"), std::string::npos);
    }

    std::vector<std::string> argv{bin,
                                  wallet[0],
                                  wallet[1],
                                  wallet[2],
                                  "--netuid=30",
                                  "--subtensor.network=finney",
                                  "--axon.port=8091",
                                  "--logging.debug",
                                  "--db.path=" + (dir_ / "x.db").string(),
                                  "--check-config"};
    child_process check(argv);
    EXPECT_EQ(check.wait(), 0) << check.output();
    EXPECT_NE(check.output().find("wss://entrypoint-finney.opentensor.ai:443/ (netuid 30, every "
                                  "300 s, cache " +
                                  (dir_ / "metagraph-30.json").string() + ")"),
              std::string::npos)
        << check.output();
    if (std::string(bin) == BETTENSOR_VALIDATOR_BIN) {
      EXPECT_NE(check.output().find(", port 8091,"), std::string::npos) << check.output();
    }
  }
  const std::string endpoint = "--subtensor.chain_endpoint=ws://127.0.0.1:9944";
  const std::vector<bad_start> cases = {
      {{BETTENSOR_VALIDATOR_BIN, "--subtensor.network=mainnet"}, "--subtensor.network"},
      {{BETTENSOR_VALIDATOR_BIN, "--subtensor.chain_endpoint=http://127.0.0.1:9944"},
       "--subtensor.chain_endpoint"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--netuid=70000"}, "--netuid"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--metagraph.sync_interval=0"},
       "--metagraph.sync_interval"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--subtensor.timeout=-1"}, "--subtensor.timeout"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--metagraph.file=m.json"},
       "--metagraph.file and --subtensor.*"},
      {{BETTENSOR_VALIDATOR_BIN}, "--metagraph.file is required"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--axon.port=70000"}, "--axon.port"},
      {{BETTENSOR_VALIDATOR_BIN, endpoint, "--axon.port=8091", "--websocket.port=8092"},
       "--axon.port and --websocket.port"},
      {{BETTENSOR_MINER_BIN, endpoint, "--axon.port=-1"}, "--axon.port"},
      {{BETTENSOR_MINER_BIN, "--subtensor.network=devnet"}, "--subtensor.network"},
      {{BETTENSOR_MINER_BIN, endpoint, "--validator_min_stake=-5"}, "--validator_min_stake"},
      {{BETTENSOR_MINER_BIN, endpoint, "--metagraph.file=m.json"},
       "--metagraph.file and --subtensor.*"},
  };
  expect_usage_errors(cases);
}

}  // namespace
}  // namespace bettensor::test
