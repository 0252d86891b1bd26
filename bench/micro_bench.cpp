// Micro benchmarks of the per-message costs: sr25519 sign/verify, the canonical writer on a
// 50-game update, opening (parse + checks + verify) one signed prediction envelope, and what
// permessage-deflate costs and saves on both.
// Run: build/bench/bettensor-microbench   (see README "Micro benchmarks")
#include <benchmark/benchmark.h>

#include <sodium.h>

#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>

#include "bettensor/crypto/ristretto_vartime.hpp"
#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/signing.hpp"

using namespace bettensor;

namespace {

crypto::hotkey make_hotkey() {
  const crypto::keypair kp = crypto::keypair::generate();
  return {kp, crypto::ss58_encode(kp.public_key_bytes())};
}

protocol::game_update fifty_games() {
  protocol::game_update u;
  u.timestamp = protocol::format_timestamp(protocol::now_utc());
  for (int i = 0; i < 50; ++i) {
    protocol::team_game g;
    g.game_id = "game-" + std::to_string(1000 + i);
    g.team_a = "Home Team " + std::to_string(i);
    g.team_b = "Away Team " + std::to_string(i);
    g.sport = i % 2 == 0 ? "football" : "soccer";
    g.league = i % 2 == 0 ? "NFL" : "EPL";
    g.create_date = "2026-11-20T10:00:00+00:00";
    g.last_update_date = "2026-11-29T19:50:00.500000+00:00";
    g.event_start_date = "2026-11-30T17:30:00+00:00";
    g.team_a_odds = 1.45 + i / 100.0;
    g.team_b_odds = 2.8 - i / 100.0;
    g.tie_odds = i % 2 == 0 ? std::optional<double>(0.0) : std::optional<double>(3.25);
    g.can_tie = i % 2 != 0;
    u.games.push_back(g);
  }
  return u;
}

protocol::team_game_prediction sample_prediction() {
  protocol::team_game_prediction p;
  p.prediction_id = "8b2f4e0a-6c1d-4e7b-9f3a-2d5c7e9b1a04";
  p.game_id = "nfl-2026-w13-kc-lv";
  p.miner_uid = "7";
  p.prediction_date = "2026-11-29T19:59:58.765432+00:00";
  p.team_a = "Kansas City Chiefs";
  p.predicted_outcome = p.team_a;
  p.team_b = "Las Vegas Raiders";
  p.predicted_odds = p.team_a_odds = 1.45;
  p.team_b_odds = 2.8;
  p.tie_odds = 0.0;
  p.wager = 25.0;
  p.model_name = "default";
  p.confidence_score = 0.5;
  return p;
}

void BM_Sr25519Sign(benchmark::State& state) {
  const auto key = make_hotkey();
  const std::string msg(400, 'x');  // about the size of a signed prediction
  for (auto _ : state) benchmark::DoNotOptimize(key.keypair.sign(crypto::as_bytes(msg)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sr25519Sign);

void BM_Sr25519Verify(benchmark::State& state) {
  const auto key = make_hotkey();
  const std::string msg(400, 'x');
  const auto sig = key.keypair.sign(crypto::as_bytes(msg));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        crypto::verify(crypto::as_bytes(msg), sig, key.keypair.public_key_bytes()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sr25519Verify);

// The yardstick every crypto row is also given against: libsodium's Ed25519 verify of a
// 400-byte message, a fixed and widely measured cost.
void BM_Ed25519VerifyYardstick(benchmark::State& state) {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  const std::string msg(400, 'x');
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size(), sk.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto_sign_verify_detached(
        sig.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), pk.data()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519VerifyYardstick);

// Verification with the key's tables, as the validator does for an authenticated miner.
void BM_Sr25519VerifyPreparedKey(benchmark::State& state) {
  const auto key = make_hotkey();
  const auto vk = crypto::verifying_key::make(key.keypair.public_key_bytes());
  const std::string msg(400, 'x');
  const auto sig = key.keypair.sign(crypto::as_bytes(msg));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::verify_bittensor(crypto::as_bytes(msg), sig, *vk));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sr25519VerifyPreparedKey);

// Building those tables (once per key, after its first prediction).
void BM_Sr25519PrepareKey(benchmark::State& state) {
  const auto key = make_hotkey();
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::verifying_key::make(key.keypair.public_key_bytes()));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(crypto::verifying_key::memory_bytes());
}
BENCHMARK(BM_Sr25519PrepareKey);

// A batch of signatures by one key, per signature (items = signatures).
void BM_Sr25519VerifyBatchSameKey(benchmark::State& state) {
  const auto key = make_hotkey();
  const auto vk = crypto::verifying_key::make(key.keypair.public_key_bytes());
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::string> msgs;
  std::vector<crypto::signature> sigs;
  for (std::size_t i = 0; i < n; ++i) {
    msgs.push_back(std::string(400, 'x') + std::to_string(i));
    sigs.push_back(key.keypair.sign(crypto::as_bytes(msgs.back())));
  }
  std::vector<crypto::signed_message> items;
  for (std::size_t i = 0; i < n; ++i) items.push_back({crypto::as_bytes(msgs[i]), sigs[i]});
  auto verdicts = std::make_unique<bool[]>(n);
  for (auto _ : state) {
    if (!crypto::verify_bittensor_batch(items, *vk, std::span(verdicts.get(), n))) {
      state.SkipWithError("batch refused valid signatures");
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sr25519VerifyBatchSameKey)->Arg(4)->Arg(16)->Arg(64);

// The group operation inside verification, s*B - k*A: the variable-time double-base pass that
// verify uses, against the same result from libsodium's constant-time operations.
struct group_inputs {
  std::array<std::uint8_t, 32> s{}, k{}, a{};
  group_inputs() {
    crypto_core_ristretto255_scalar_random(s.data());
    crypto_core_ristretto255_scalar_random(k.data());
    crypto_core_ristretto255_random(a.data());
  }
};

void BM_VerifyGroupOpVartime(benchmark::State& state) {
  const group_inputs in;
  for (auto _ : state) benchmark::DoNotOptimize(crypto::vartime::base_mul_sub(in.s, in.k, in.a));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyGroupOpVartime);

void BM_VerifyGroupOpLibsodium(benchmark::State& state) {
  const group_inputs in;
  std::array<std::uint8_t, 32> sb{}, ka{}, out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto_core_ristretto255_is_valid_point(in.a.data()));
    crypto_scalarmult_ristretto255_base(sb.data(), in.s.data());
    benchmark::DoNotOptimize(crypto_scalarmult_ristretto255(ka.data(), in.k.data(), in.a.data()));
    crypto_core_ristretto255_sub(out.data(), sb.data(), ka.data());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyGroupOpLibsodium);

void BM_CanonicalGameUpdate50(benchmark::State& state) {
  const boost::json::value data = protocol::to_json(fifty_games());
  std::string out;
  for (auto _ : state) {
    out.clear();
    protocol::append_canonical(out, data);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_CanonicalGameUpdate50);

void BM_ParseGameUpdate50(benchmark::State& state) {
  const std::string text = protocol::to_canonical(protocol::to_json(fifty_games()));
  for (auto _ : state) benchmark::DoNotOptimize(protocol::parse_json(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ParseGameUpdate50);

// One received prediction: parse, field checks, timestamp window, nonce, signature verify.
void BM_EnvelopeOpenPrediction(benchmark::State& state) {
  const auto miner = make_hotkey();
  const auto env = protocol::sign_envelope(miner, protocol::message_type::prediction,
                                           protocol::to_json(sample_prediction()));
  const std::string wire = protocol::serialize(env);
  const protocol::frame_expectations expect{miner.ss58, &miner.keypair.public_key_bytes(),
                                            protocol::now_utc(), std::chrono::seconds(300),
                                            nullptr};
  for (auto _ : state) {
    auto opened = protocol::open_envelope(wire, expect);
    if (!opened) state.SkipWithError(opened.error().message.c_str());
    benchmark::DoNotOptimize(protocol::parse_prediction(opened->data));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_EnvelopeOpenPrediction);

// The validator's answer: build and sign one confirmation envelope, then serialise it.
void BM_EnvelopeSignConfirmation(benchmark::State& state) {
  const auto validator = make_hotkey();
  protocol::confirmation c{"8b2f4e0a-6c1d-4e7b-9f3a-2d5c7e9b1a04", "success", "",
                           protocol::format_timestamp(protocol::now_utc()), std::nullopt};
  for (auto _ : state) {
    const auto env = protocol::sign_envelope(validator, protocol::message_type::confirmation,
                                             protocol::to_json(c));
    benchmark::DoNotOptimize(protocol::serialize(env));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeSignConfirmation);

// permessage-deflate as Beast does it with the validator's settings (level 8, 15-bit window,
// memory level 4), one message per compressor reset: the ratio without context takeover, the
// least a connection gets.
namespace zlib = boost::beast::zlib;

std::string signed_update_text() {
  return protocol::serialize(protocol::sign_envelope(
      make_hotkey(), protocol::message_type::game_update, protocol::to_json(fifty_games())));
}

std::string signed_prediction_text() {
  return protocol::serialize(protocol::sign_envelope(
      make_hotkey(), protocol::message_type::prediction, protocol::to_json(sample_prediction())));
}

// Runs one zlib stream (deflate or inflate) over `in` into `out` with a sync flush, as
// permessage-deflate does per message; returns the bytes written.
template <class Stream>
std::size_t zlib_once(Stream& stream, const std::string& in, std::string& out) {
  zlib::z_params zs;
  zs.next_in = in.data();
  zs.avail_in = in.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  boost::system::error_code ec;
  stream.write(zs, zlib::Flush::sync, ec);
  return zs.total_out;
}

std::string deflate_once(zlib::deflate_stream& ds, const std::string& text) {
  ds.reset(8, 15, 4, zlib::Strategy::normal);
  std::string out(text.size() + 64, '\0');
  out.resize(zlib_once(ds, text, out));
  return out;
}

void deflate_bench(benchmark::State& state, const std::string& text) {
  zlib::deflate_stream ds;
  std::string out;
  for (auto _ : state) {
    out = deflate_once(ds, text);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["bytes_in"] = static_cast<double>(text.size());
  state.counters["bytes_out"] = static_cast<double>(out.size());
}

void BM_DeflateGameUpdate50(benchmark::State& state) {
  deflate_bench(state, signed_update_text());
}
BENCHMARK(BM_DeflateGameUpdate50);

void BM_DeflatePrediction(benchmark::State& state) {
  deflate_bench(state, signed_prediction_text());
}
BENCHMARK(BM_DeflatePrediction);

// The receiving miner's side of the same 50-game update.
void BM_InflateGameUpdate50(benchmark::State& state) {
  const std::string text = signed_update_text();
  zlib::deflate_stream ds;
  const std::string packed = deflate_once(ds, text);
  zlib::inflate_stream is;
  std::string out(text.size() + 64, '\0');
  for (auto _ : state) {
    is.reset(15);
    if (zlib_once(is, packed, out) != text.size())
      state.SkipWithError("inflate gave a different size");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_InflateGameUpdate50);

// The console table as usual, then every crypto row again as a multiple of the yardstick
// measured in the same run (time per item: per signature for the batch rows).
class yardstick_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      const std::string name = run.benchmark_name();
      if (!is_crypto(name)) continue;
      double ns = run.GetAdjustedCPUTime() * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      if (const auto it = run.counters.find("items_per_second");
          it != run.counters.end() && it->second.value > 0) {
        ns = 1e9 / it->second.value;
      }
      rows_.emplace_back(name, ns);
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    double yardstick = 0;
    for (const auto& [name, ns] : rows_) {
      if (name.starts_with("BM_Ed25519VerifyYardstick")) yardstick = ns;
    }
    if (yardstick <= 0) return;
    std::printf("\nCrypto rows in yardsticks (libsodium Ed25519 verify, 400 bytes = %.1f us):\n",
                yardstick / 1000);
    for (const auto& [name, ns] : rows_) {
      std::printf("  %-44s %9.1f us  %6.3f\n", name.c_str(), ns / 1000, ns / yardstick);
    }
  }

 private:
  static bool is_crypto(const std::string& name) {
    return name.starts_with("BM_Sr25519") || name.starts_with("BM_Ed25519") ||
           name.starts_with("BM_VerifyGroupOp") || name.starts_with("BM_Envelope") ||
           name.starts_with("BM_RandomDraw");
  }
  std::vector<std::pair<std::string, double>> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  yardstick_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
