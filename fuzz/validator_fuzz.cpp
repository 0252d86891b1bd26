// Fuzzes the validator's whole message path in-process, without sockets: a text frame from an
// authenticated miner is opened (strict JSON, envelope checks, signature, nonce) and handed to
// the real validator_service (message registry, prediction rules, SQLite storage, signed
// answer), and POST /predictions bodies go through its HTTP path.
//
// Input: the first byte picks the path; the rest is
//   0  a raw WebSocket text frame from the registered miner (mostly refused before a handler);
//   1  "TYPE\nDATA": an envelope of that type and JSON data, signed here by the registered
//      miner, so every input reaches the handlers;
//   2  a raw POST /predictions body;
//   3  DATA: a prediction envelope with that data, signed here, through POST /predictions.
//
// Invariants: every delivered message that the validator answers gets exactly one answer (one
// for a prediction, a heartbeat or an unknown type; none for a heartbeat_response), each a frame
// signed by the validator that opens under the miner's checks; a prediction's answer is a
// confirmation naming its id, or an error; HTTP answers a status with a body.
#include <condition_variable>
#include <mutex>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/signing.hpp"
#include "validator_harness.hpp"

using namespace bettensor;

namespace {

// An authenticated miner's connection as the handlers see it; records what they send.
class recording_peer final : public transport::peer_connection {
 public:
  explicit recording_peer(std::string hotkey) : hotkey_(std::move(hotkey)) {}
  [[nodiscard]] const std::string& hotkey() const override { return hotkey_; }
  [[nodiscard]] std::int64_t uid() const override { return 7; }
  [[nodiscard]] const std::string& remote_address() const override { return remote_; }
  void send(transport::frame_ptr frame) override {
    std::lock_guard lock(mutex_);
    frames_.push_back(frame->text);
    cv_.notify_all();
  }
  void close(protocol::close_reason, std::string) override {
    std::abort();  // handlers never close
  }

  // Waits (bounded) until `n` frames were sent; aborts if that takes 10 s: an unanswered
  // message is a lost message.
  std::vector<std::string> wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return frames_.size() >= n; }))
      std::abort();
    return frames_;
  }
  std::size_t sent() {
    std::lock_guard lock(mutex_);
    return frames_.size();
  }

 private:
  std::string hotkey_;
  std::string remote_ = "192.0.2.7:40000";
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
};

// Opens an answer as the miner would (validator's signature, window, its own replay guard).
protocol::envelope open_answer(const std::string& text) {
  static protocol::replay_guard seen;
  auto& h = fuzz::harness();
  const protocol::frame_expectations expect{h.validator.ss58,
                                            &h.validator.keypair.public_key_bytes(),
                                            protocol::now_utc(), std::chrono::seconds(300), &seen};
  auto e = protocol::open_envelope(text, expect);
  if (!e) std::abort();
  return std::move(*e);
}

void check_prediction_answer(const std::string& text, const protocol::envelope& sent) {
  const auto answer = open_answer(text);
  if (answer.type == protocol::message_type::error) return;
  if (answer.type != protocol::message_type::confirmation) std::abort();
  const auto c = protocol::parse_confirmation(answer.data);
  const auto p = protocol::parse_prediction(sent.data);
  if (!c || !p || c->prediction_id != p->prediction_id) std::abort();
  if (c->status != "success" && c->status != "error") std::abort();
}

void deliver(const protocol::envelope& e) {
  auto& h = fuzz::harness();
  auto peer = std::make_shared<recording_peer>(h.miner.ss58);
  h.service->deliver(peer, e);
  if (e.type == protocol::message_type::heartbeat_response) {
    if (peer->sent() != 0) std::abort();
    return;
  }
  const auto frames = peer->wait_for(1);
  if (frames.size() != 1) std::abort();
  if (e.type == protocol::message_type::prediction) {
    check_prediction_answer(frames[0], e);
  } else {
    (void)open_answer(frames[0]);
  }
}

void post(std::string body) {
  auto& h = fuzz::harness();
  transport::http_request req;
  req.method = "POST";
  req.path = "/predictions";
  req.body = std::move(body);
  req.remote_address = "192.0.2.7";
  std::mutex m;
  std::condition_variable cv;
  std::optional<transport::http_response> got;
  h.service->http(req, [&](transport::http_response r) {
    std::lock_guard lock(m);
    got = std::move(r);
    cv.notify_all();
  });
  std::unique_lock lock(m);
  if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); })) std::abort();
  if (got->status == 0 || got->body.empty()) std::abort();
  if (got->status == 200) (void)open_answer(got->body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& h = fuzz::harness();
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      static protocol::replay_guard nonces;
      const protocol::frame_expectations expect{h.miner.ss58, &h.miner.keypair.public_key_bytes(),
                                                protocol::now_utc(), std::chrono::seconds(300),
                                                &nonces};
      if (auto e = protocol::open_envelope(text, expect)) deliver(*e);
      break;
    }
    case 1: {
      const auto nl = text.find('\n');
      if (nl == std::string_view::npos) return 0;
      auto body = protocol::parse_json(text.substr(nl + 1));
      if (!body) return 0;
      // Signed here, then opened exactly as a received frame is.
      static protocol::replay_guard nonces;
      const protocol::frame_expectations expect{h.miner.ss58, &h.miner.keypair.public_key_bytes(),
                                                protocol::now_utc(), std::chrono::seconds(300),
                                                &nonces};
      const auto frame = protocol::serialize(
          protocol::sign_envelope(h.miner, text.substr(0, nl), std::move(*body)));
      if (auto e = protocol::open_envelope(frame, expect)) deliver(*e);
      break;
    }
    case 2:
      post(std::string(text));
      break;
    default: {
      auto body = protocol::parse_json(text);
      if (!body) return 0;
      post(protocol::serialize(
          protocol::sign_envelope(h.miner, protocol::message_type::prediction, std::move(*body))));
      break;
    }
  }
  return 0;
}
