#include "bettensor/chain/metagraph_sync.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <charconv>
#include <fstream>
#include <random>
#include <unordered_set>

#include "bettensor/chain/neurons.hpp"
#include "bettensor/metrics/metrics.hpp"
#include "bettensor/transport/backoff.hpp"

namespace bettensor::chain {

namespace net = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

std::string network_endpoint(std::string_view network) {
  if (network == "finney") return "wss://entrypoint-finney.opentensor.ai:443";
  if (network == "test") return "wss://test.finney.opentensor.ai:443";
  if (network == "local") return "ws://127.0.0.1:9944";
  return {};
}

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// What one sync attempt gave: a snapshot, or the metric label and the reason.
struct attempt {
  std::shared_ptr<const domain::metagraph> snapshot;
  metrics::metagraph_sync outcome = metrics::metagraph_sync::ok;
  std::string why;
};

attempt failed(metrics::metagraph_sync outcome, std::string why) {
  return {nullptr, outcome, std::move(why)};
}

// The outcome of a failed call.
metrics::metagraph_sync outcome_of(transport::rpc_failure f) {
  switch (f) {
    case transport::rpc_failure::unreachable:
      return metrics::metagraph_sync::unreachable;
    case transport::rpc_failure::timeout:
      return metrics::metagraph_sync::timeout;
    case transport::rpc_failure::rpc_error:
      return metrics::metagraph_sync::rpc_error;
    case transport::rpc_failure::malformed:
    case transport::rpc_failure::count_:
      break;
  }
  return metrics::metagraph_sync::malformed;
}

// "0x1a2b" (a header's number) to an integer.
std::optional<std::int64_t> hex_number(const json::value& v) {
  const auto* s = v.if_string();
  if (s == nullptr || !s->starts_with("0x") || s->size() < 3 || s->size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s->data() + 2, s->data() + s->size(), n, 16);
  if (ec != std::errc{} || end != s->data() + s->size() || n > INT64_MAX) return std::nullopt;
  return static_cast<std::int64_t>(n);
}

}  // namespace

struct metagraph_sync::impl : std::enable_shared_from_this<impl> {
  impl(const net::any_io_executor& ex, sync_config c, prometheus::Registry& r, listener l)
      : strand(net::make_strand(ex)),
        cfg(std::move(c)),
        client(strand, cfg.rpc),
        retry(cfg.retry_base, std::max(cfg.retry_base, std::min(cfg.retry_max, cfg.interval))),
        timer(strand),
        on_snapshot(std::move(l)),
        rng(std::random_device{}()),
        m(r) {
    read_cache();
  }

  void count(metrics::metagraph_sync outcome) { metrics::at(m.syncs, outcome).Increment(); }

  void read_cache() {
    if (!cfg.cache_file) return;
    std::error_code ec;
    if (!std::filesystem::exists(*cfg.cache_file, ec)) {
      spdlog::info("No metagraph cache at {} yet", cfg.cache_file->string());
      return;
    }
    auto loaded = domain::metagraph::load(*cfg.cache_file);
    if (!loaded) {
      spdlog::error("Ignoring the metagraph cache: {}", loaded.error().message);
      return;
    }
    if ((*loaded)->netuid() != cfg.netuid) {
      spdlog::error("Ignoring the metagraph cache {}: it is of netuid {}, not {}",
                    cfg.cache_file->string(), (*loaded)->netuid(), cfg.netuid);
      return;
    }
    cache = *loaded;
    m.block->Set(static_cast<double>(cache->block()));
    m.neurons->Set(static_cast<double>(cache->neurons().size()));
    spdlog::info("Metagraph from the cache {}: block {}, {} neurons", cfg.cache_file->string(),
                 cache->block(), cache->neurons().size());
  }

  void write_cache(const domain::metagraph& m) const {
    if (!cfg.cache_file) return;
    auto tmp = *cfg.cache_file;
    tmp += ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << m.to_json() << '\n';
      out.flush();
      if (!out) {
        spdlog::error("Cannot write the metagraph cache {}", tmp.string());
        return;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, *cfg.cache_file, ec);
    if (ec)
      spdlog::error("Cannot replace the metagraph cache {}: {}", cfg.cache_file->string(),
                    ec.message());
  }

  net::awaitable<attempt> sync_once() {
    auto header = co_await client.call("chain_getHeader", {});
    if (!header) co_return failed(outcome_of(header.error().kind), header.error().message);
    const auto* h = header->if_object();
    const auto block =
        h != nullptr && h->contains("number") ? hex_number(h->at("number")) : std::nullopt;
    if (!block)
      co_return failed(metrics::metagraph_sync::malformed,
                       "chain_getHeader: no block number in the answer");
    json::array params{"NeuronInfoRuntimeApi_get_neurons_lite", neurons_lite_params(cfg.netuid)};
    auto answer = co_await client.call("state_call", std::move(params));
    if (!answer) co_return failed(outcome_of(answer.error().kind), answer.error().message);
    if (!answer->is_string())
      co_return failed(metrics::metagraph_sync::malformed,
                       "state_call: the result is not a hex string");
    std::vector<neuron_lite> neurons;
    try {
      neurons = decode_neurons_lite(from_hex(answer->get_string()));
    } catch (const scale_error& e) {
      co_return failed(metrics::metagraph_sync::malformed,
                       std::string("NeuronInfoLite list: ") + e.what());
    }
    if (neurons.empty()) {
      co_return failed(metrics::metagraph_sync::empty, "the chain lists no neurons for netuid " +
                                                           std::to_string(cfg.netuid) +
                                                           " (does the subnet exist?)");
    }
    std::unordered_set<std::uint16_t> uids;
    for (const auto& n : neurons) {
      if (n.netuid != cfg.netuid)
        co_return failed(metrics::metagraph_sync::malformed,
                         "uid " + std::to_string(n.uid) + " is of netuid " +
                             std::to_string(n.netuid) + ", not " + std::to_string(cfg.netuid));
      if (!uids.insert(n.uid).second)
        co_return failed(metrics::metagraph_sync::malformed,
                         "uid " + std::to_string(n.uid) + " is listed twice");
    }
    co_return attempt{to_metagraph(cfg.netuid, *block, neurons), metrics::metagraph_sync::ok, {}};
  }

  static net::awaitable<void> run(std::shared_ptr<impl> self) {
    unsigned failures = 0;
    while (!self->stopping) {
      auto a = co_await self->sync_once();
      if (self->stopping) break;
      std::chrono::milliseconds wait = self->cfg.interval;
      if (a.snapshot) {
        failures = 0;
        const auto& g = *a.snapshot;
        self->m.last_success->Set(
            static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()));
        self->m.block->Set(static_cast<double>(g.block()));
        self->m.neurons->Set(static_cast<double>(g.neurons().size()));
        spdlog::debug("Metagraph synced from {}: block {}, {} neurons",
                      transport::to_string(self->cfg.rpc.url), g.block(), g.neurons().size());
        self->write_cache(g);
        self->on_snapshot(a.snapshot);
        self->count(a.outcome);
      } else {
        ++failures;
        wait = self->retry.delay(failures - 1, self->rng);
        spdlog::warn("Metagraph sync failed ({}): {}; keeping the last good one; retry {} in {} ms",
                     metrics::to_label(a.outcome), a.why, failures, wait.count());
        self->count(a.outcome);  // after the log line: a test waiting on one finds the other
      }
      self->m.consecutive_failures->Set(failures);
      self->timer.expires_after(wait);
      co_await self->timer.async_wait(use_nothrow);
    }
    self->client.close();
  }

  net::strand<net::any_io_executor> strand;
  sync_config cfg;
  transport::json_rpc_client client;
  transport::backoff retry;
  net::steady_timer timer;
  listener on_snapshot;
  std::mt19937_64 rng;
  std::shared_ptr<const domain::metagraph> cache;
  metrics::metagraph_metrics m;
  bool stopping = false;
};

metagraph_sync::metagraph_sync(const net::any_io_executor& ex, sync_config cfg,
                               prometheus::Registry& r, listener on_snapshot)
    : impl_(std::make_shared<impl>(ex, std::move(cfg), r, std::move(on_snapshot))) {}

metagraph_sync::~metagraph_sync() {
  try {
    stop();
  } catch (const std::exception& e) {  // posting can fail only for want of memory
    spdlog::error("Metagraph sync not stopped cleanly: {}", e.what());
  }
}

std::shared_ptr<const domain::metagraph> metagraph_sync::cached() const {
  return impl_->cache;
}

void metagraph_sync::start() {
  net::co_spawn(impl_->strand, impl::run(impl_), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("Metagraph sync stopped: {}", x.what());
    }
  });
}

void metagraph_sync::stop() {
  net::post(impl_->strand, [self = impl_] {
    self->stopping = true;
    self->timer.cancel();
    self->client.close();
  });
}

}  // namespace bettensor::chain
