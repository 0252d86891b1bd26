#include "ws_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <array>
#include <optional>

#include "batch_arena.hpp"
#include "bettensor/protocol/json.hpp"

namespace bettensor::transport::detail {

namespace {

// A close reason is limited to 123 bytes by the protocol.
std::string fit_reason(std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  return reason;
}

}  // namespace

ws_shared::ws_shared(server_config c, crypto::hotkey id, std::shared_ptr<protocol::replay_guard> n,
                     server::callbacks cbs)
    : cfg(std::move(c)),
      identity(std::move(id)),
      nonces(std::move(n)),
      cb(std::move(cbs)),
      hub(cfg.max_connections),
      key_cache(cfg.key_cache_bytes) {
  if (!cfg.metrics) {
    own_registry = std::make_shared<metrics::registry>();
    cfg.metrics = std::make_shared<metrics::validator_metrics>(own_registry->get());
  }
  m = cfg.metrics.get();
  cfg.max_frame_batch = std::clamp<std::size_t>(cfg.max_frame_batch, 1, max_frame_batch);
}

session_limits ws_shared::limits() const {
  session_limits l;
  l.auth_timeout = cfg.handshake_timeout;
  l.silence_timeout = cfg.connection_timeout;
  l.close_grace = cfg.close_grace;
  l.rate_per_second = cfg.rate_limit_per_second;
  l.burst = cfg.rate_limit_burst;
  l.max_invalid_frames = cfg.max_invalid_frames;
  return l;
}

ws_session::ws_session(std::shared_ptr<ws_shared> shared, std::unique_ptr<ws_channel> ws,
                       std::string remote)
    : shared_(std::move(shared)),
      ws_(std::move(ws)),
      watchdog_(ws_->executor()),
      remote_(std::move(remote)),
      connected_since_(std::chrono::system_clock::now()),
      opened_(steady::now()),
      policy_(shared_->limits(), opened_),
      writer_(ws_->executor(), shared_->cfg.send_queue_frames),
      last_activity_(opened_.time_since_epoch().count()) {}

void ws_session::send(frame_ptr frame) {
  net::post(ws_->executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
    self->enqueue(std::move(frame));
  });
}

void ws_session::send_built(std::function<frame_ptr()>&& make) {
  net::post(ws_->executor(),
            [self = shared_from_this(), make = std::move(make)] { self->enqueue(make()); });
}

void ws_session::close(protocol::close_reason why, std::string text) {
  net::post(ws_->executor(), [self = shared_from_this(), why, text = std::move(text)]() mutable {
    self->request_close(why, std::move(text));
  });
}

session_info ws_session::info() const {
  session_info s;
  s.authenticated = is_authenticated();
  if (s.authenticated) {
    s.hotkey = hotkey_;
    s.uid = uid_;
  }
  s.remote_address = remote_;
  s.connected_since = connected_since_;
  const steady::time_point last{steady::duration(last_activity_.load(std::memory_order_relaxed))};
  s.last_activity = connected_since_ +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(last - opened_);
  s.queue_depth = depth_.load(std::memory_order_relaxed);
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.refused = refused_.load(std::memory_order_relaxed);
  return s;
}

void ws_session::touch(steady::time_point now) {
  last_activity_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

void ws_session::enqueue(frame_ptr frame) {
  if (dead_) return;
  switch (writer_.push(std::move(frame))) {
    case frame_writer::pushed::queued:
      shared_->m->send_queue_frames->Increment();
      depth_.store(writer_.depth(), std::memory_order_relaxed);
      return;
    case frame_writer::pushed::full:
      spdlog::warn("Closing slow consumer {} (UID: {}): {} frames queued", hotkey_, uid_,
                   writer_.depth());
      shared_->m->slow_consumer_drops->Increment();
      request_close(protocol::close_reason::slow_consumer);
      return;
    case frame_writer::pushed::closed:
      return;
  }
}

// Sends a close frame with `why`'s code and text (or `text`, when given) after the urgent frames
// queued; the first reason given is the one the connection is counted under.
void ws_session::request_close(protocol::close_reason why, std::string text) {
  if (dead_) return;
  if (policy_.on_close(why, steady::now()).what != session_action::kind::close) return;
  websocket::close_reason close_frame;
  close_frame.code = protocol::close_code(why);
  close_frame.reason =
      fit_reason(text.empty() ? std::string(protocol::text(why)) : std::move(text));
  writer_.close_after_urgent(std::move(close_frame));
  watchdog_.cancel_one();  // re-arm for the close grace period
}

// Answers a handshake refusal: a plain {"status":"error"} frame, then close 1008.
void ws_session::refuse(const protocol::error& refusal) {
  spdlog::info("Refused connection from {}: {}", remote_, refusal.message);
  metrics::at(shared_->m->auth_failures, metrics::auth_failure_of(refusal.code)).Increment();
  enqueue(std::make_shared<const frame>(
      frame{json_error(0, refusal.message).body, protocol::frame_kind::refusal}));
  request_close(protocol::close_reason::auth_failed, refusal.message);
}

void ws_session::reply_error(const std::string& message) {
  enqueue(shared_->make_frame(protocol::message_type::error,
                              protocol::to_json(protocol::error_data{message})));
}

namespace {

// A lingering close, as nginx does it: the peer may still be sending (the rest of an oversized
// message, or frames sent before our close frame reached it). Closing a socket with unread
// bytes answers them with a reset, and the peer's kernel then discards the close frame it had
// not read yet; so what still comes is read and dropped until the peer closes or `grace` ends.
net::awaitable<void> linger(beast::tcp_stream& stream, std::chrono::seconds grace) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(grace);
  std::array<char, 4096> sink{};
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_nothrow);
    if (ec) break;
  }
  stream.socket().close(ignored);
}

}  // namespace

net::awaitable<void> ws_session::run(std::shared_ptr<ws_session> self, http_request_message req) {
  auto& ws = *self->ws_;
  ws.tcp().expires_never();  // the websocket timeouts take over
  if (auto [ec] = co_await ws.accept(req); ec) {
    spdlog::debug("WebSocket upgrade from {} failed: {}", self->remote_, ec.message());
    co_return;
  }
  req = {};  // this frame lives as long as the connection: do not keep the headers
  auto& shared = *self->shared_;
  self->membership_ = shared.hub.admit(self);
  auto* m = shared.m;
  m->connections_opened->Increment();
  m->connections_open->Increment();
  auto ex = ws.executor();
  net::co_spawn(ex, write_loop(self),
                [](const std::exception_ptr& e) { log_failure("writer", e); });
  watch(self);
  if (!self->membership_) {
    spdlog::warn("Refused connection from {}: max connections reached", self->remote_);
    self->request_close(protocol::close_reason::full);
  } else if (shared.stopping) {
    self->request_close(protocol::close_reason::shutdown);
  }
  co_await self->read_loop();
  // The read side has seen the close handshake (or an error). A close of ours still waiting for
  // the peer's close frame would wait in vain (the read consumed it), so end the socket here.
  self->dead_ = true;
  co_await linger(ws.tcp(), shared.cfg.close_grace);
  self->writer_.stop();
  self->watchdog_.cancel();
  self->membership_.reset();
  m->connections_open->Decrement();
  m->send_queue_frames->Decrement(static_cast<double>(self->writer_.depth()));
  metrics::at(m->connections_closed,
              self->policy_.end_reason().value_or(protocol::close_reason::peer_closed))
      .Increment();
  if (self->is_authenticated()) {
    spdlog::info("WebSocket connection closed with miner {} (UID: {})", self->hotkey_, self->uid_);
  }
}

// The writer, with the queue gauge and the output metrics.
net::awaitable<void> ws_session::write_loop(std::shared_ptr<ws_session> self) {
  auto* m = self->shared_->m;
  co_await self->writer_.run(
      *self->ws_,
      [&self, m] {
        m->send_queue_frames->Decrement();
        self->depth_.store(self->writer_.depth(), std::memory_order_relaxed);
      },
      [&self, m](std::span<const frame_ptr> frames, double write_cpu) {
        m->ws_writes->Increment();
        for (const auto& f : frames) {
          spdlog::trace("-> {} {}", self->remote_, f->text);
          metrics::at(m->messages_out, f->kind).Increment();
          m->bytes_out->Increment(static_cast<double>(f->text.size()));
          if (write_cpu > 0)
            metrics::at(m->stage_seconds, metrics::stage::write).Increment(write_cpu);
        }
      });
}

namespace {

std::string_view text_of(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.cdata().data()), b.size()};
}

}  // namespace

net::awaitable<void> ws_session::read_loop() {
  const auto& cfg = shared_->cfg;
  buffers_.resize(1);
  // A ping or pong between two frames must not keep the first one waiting for the next.
  ws_->on_control([this] { handle_pending(); });
  for (;;) {
    if (pending_ == buffers_.size()) buffers_.emplace_back();
    const std::size_t slot = pending_;
    buffers_[slot].clear();
    auto [ec, n] = co_await ws_->read(buffers_[slot]);
    // A control frame may have handled the frames before this one meanwhile.
    if (slot != pending_) std::swap(buffers_[slot], buffers_[pending_]);
    if (ec) {
      handle_pending();
      if (ec == websocket::error::message_too_big) {
        spdlog::warn("Closed {} ({}): frame over {} bytes", remote_, hotkey_,
                     cfg.max_message_bytes);
        policy_.on_close(protocol::close_reason::oversized, steady::now());
      } else if (ec != websocket::error::closed && ec != net::error::operation_aborted &&
                 ec != net::error::eof && ec != beast::error::timeout) {
        spdlog::debug("Read from {} ended: {}", remote_, ec.message());
      }
      co_return;
    }
    const auto now = steady::now();
    const auto action = policy_.on_frame(now);
    // Closing: drain what the peer still sends until its close frame.
    if (action.what == session_action::kind::ignore) {
      handle_pending();
      continue;
    }
    touch(now);
    shared_->m->bytes_in->Increment(static_cast<double>(n));
    const std::string_view text = text_of(buffers_[pending_]);
    spdlog::trace("<- {} {}", remote_, text);
    if (action.what == session_action::kind::close) {
      handle_pending();
      spdlog::warn("Closing {} (UID: {}): message rate limit exceeded", hotkey_, uid_);
      request_close(action.reason);
    } else if (!is_authenticated()) {
      authenticate(text);
    } else if (!ws_->got_text()) {
      handle_pending();
      refuse_frame("Invalid message format: binary frames are not supported");
    } else {
      ++pending_;
      // More bytes already here: most likely the next frame of a burst, read before these are
      // handled so that their signatures are verified together.
      if (pending_ < cfg.max_frame_batch && ws_->readable_now() > 0) continue;
      handle_pending();
    }
  }
}

void ws_session::authenticate(std::string_view text) {
  auto& shared = *shared_;
  metrics::at(shared.m->messages_in, protocol::frame_kind::auth).Increment();
  auto ok =
      check_handshake(text, protocol::now_utc(), shared.cfg.timestamp_window, shared.cb.authorize);
  if (!ok) return refuse(ok.error());
  hotkey_ = ok->peer.hotkey;
  key_ = ok->peer.key;
  uid_ = ok->decision.uid;
  authenticated_.store(true, std::memory_order_release);
  policy_.on_authenticated(steady::now());
  watchdog_.cancel_one();  // re-arm: from now on the deadline is the heartbeat timeout
  if (auto old = shared.hub.join(shared_from_this())) {
    spdlog::info("Miner {} reconnected: replacing its previous connection", hotkey_);
    old->close(protocol::close_reason::replaced, {});
  }
  spdlog::info("WebSocket connection established with miner {} (UID: {})", hotkey_, uid_);
  enqueue(shared.make_frame(
      protocol::message_type::welcome,
      protocol::to_json(protocol::welcome{"Connection established", "success", uid_})));
  if (shared.cb.on_authenticated) shared.cb.on_authenticated(shared_from_this());
}

// The prepared key of this miner, for its predictions: a connection that only keeps alive
// (most of them, on a big subnet) never costs the tables' memory.
std::shared_ptr<const crypto::verifying_key> ws_session::prepared_key() {
  crypto::verifying_key_cache::lookup what;
  auto key = shared_->key_cache.get(key_, &what);
  auto* m = shared_->m;
  if (what.built) {
    m->key_cache_builds->Increment();
    m->key_cache_keys->Increment();
  }
  if (what.evicted > 0) {
    m->key_cache_evictions->Increment(static_cast<double>(what.evicted));
    m->key_cache_keys->Decrement(static_cast<double>(what.evicted));
  }
  return key;
}

void ws_session::handle_pending() {
  const std::size_t n = std::exchange(pending_, 0);
  if (n == 0) return;
  auto& shared = *shared_;
  auto* m = shared.m;
  const protocol::frame_expectations expect{hotkey_, &key_, protocol::now_utc(),
                                            shared.cfg.timestamp_window, shared.nonces.get()};
  batch_.resize(n);
  // Parse and verify timed together, on one batch in stage_sample_every.
  const bool timed = metrics::stage_sampled(metrics::stage::parse);
  const double t0 = timed ? metrics::thread_cpu_seconds() : 0;
  // The batch's parsed frames share one arena, released with the last value made from it (the
  // handlers read the data and keep none): one allocation for a batch of a frame or two instead
  // of one per key and long string of every frame.
  const auto arena = boost::json::make_shared_resource<batch_arena>();
  for (std::size_t i = 0; i < n; ++i) {
    auto& f = batch_[i];
    f = {};
    auto doc = protocol::parse_json(text_of(buffers_[i]), {}, arena);
    auto env = doc ? protocol::parse_envelope(std::move(*doc)) : doc.error();
    if (!env) {
      f.refusal = std::move(env.error().message);
    } else {
      f.envelope = std::move(*env);
    }
  }
  const double t1 = timed ? metrics::thread_cpu_seconds() : 0;

  // The checks before the signature, then the signatures: predictions with the miner's
  // prepared key, together when there are several; anything else (heartbeats and their answers)
  // alone with the key bytes.
  std::shared_ptr<const crypto::verifying_key> prepared;
  std::array<crypto::signed_message, max_frame_batch> together{};
  std::array<std::size_t, max_frame_batch> owners{};
  std::size_t batched = 0;
  // The texts the signatures cover are written into buffers kept by the thread, lent to the
  // batch's frames until the signatures are verified: no allocation per frame for them.
  thread_local std::array<std::string, max_frame_batch> text_buffers;
  for (std::size_t i = 0; i < n; ++i) {
    auto& f = batch_[i];
    if (!f.envelope) continue;
    std::swap(f.signed_text.text, text_buffers[i]);
    auto checked = protocol::check_unsigned(*f.envelope, expect, f.signed_text);
    if (!checked) {
      f.refusal = std::move(checked.error().message);
      continue;
    }
    const auto text = crypto::as_bytes(f.signed_text.text);
    if (f.envelope->type != protocol::message_type::prediction) {
      f.verified = crypto::verify_bittensor(text, f.signed_text.sig, key_);
      continue;
    }
    if (!prepared) prepared = prepared_key();
    if (!prepared) {
      f.verified = crypto::verify_bittensor(text, f.signed_text.sig, key_);
      continue;
    }
    together[batched] = {text, f.signed_text.sig};
    owners[batched++] = i;
  }
  if (batched == 1) {
    batch_[owners[0]].verified =
        crypto::verify_bittensor(together[0].message, together[0].sig, *prepared);
  } else if (batched > 1) {
    std::array<bool, max_frame_batch> verdicts{};
    const bool held = crypto::verify_bittensor_batch(std::span(together).first(batched), *prepared,
                                                     std::span(verdicts).first(batched));
    m->verify_batches->Increment();
    m->verify_batch_signatures->Increment(static_cast<double>(batched));
    if (!held) m->verify_batches_failed->Increment();
    for (std::size_t j = 0; j < batched; ++j) batch_[owners[j]].verified = verdicts[j];
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (batch_[i].envelope) std::swap(batch_[i].signed_text.text, text_buffers[i]);  // lent back
  }
  if (timed) {
    const double t2 = metrics::thread_cpu_seconds();
    metrics::at(m->stage_seconds, metrics::stage::parse)
        .Increment((t1 - t0) * metrics::stage_sample_every);
    metrics::at(m->stage_seconds, metrics::stage::verify)
        .Increment((t2 - t1) * metrics::stage_sample_every);
  }

  // In the order received: each frame handed on, or refused.
  for (std::size_t i = 0; i < n; ++i) {
    auto& f = batch_[i];
    if (f.refusal.empty() && !f.verified) {
      f.refusal = protocol::frame_error(protocol::errc::invalid_signature).message;
    }
    if (f.refusal.empty()) {
      if (auto fresh = protocol::accept_signed(*f.envelope, f.signed_text, expect); !fresh) {
        f.refusal = std::move(fresh.error().message);
      }
    }
    if (f.refusal.empty()) {  // counted by type where it is handled (the handler registry)
      shared.cb.on_message(shared_from_this(), std::move(*f.envelope));
      continue;
    }
    m->invalid_frames->Increment();
    spdlog::info("Invalid frame from miner {} (UID: {}): {}", hotkey_, uid_, f.refusal);
    refuse_frame(f.refusal);
  }
  batch_.clear();
}

void ws_session::refuse_frame(const std::string& message) {
  reply_error(message);
  if (const auto action = policy_.on_invalid_frame(); action.what == session_action::kind::close) {
    spdlog::warn("Closing {} (UID: {}): too many invalid messages", hotkey_, uid_);
    request_close(action.reason);
  }
}

// Ends a connection that does not authenticate in time, goes silent for connection_timeout, or
// does not finish a requested close within close_grace: the policy says which. Runs on the
// strand, at each deadline and whenever the timer is cancelled to re-evaluate early. A handler
// rather than a coroutine: an idle connection then holds no frame and no spawned thread for it.
void ws_session::watch(std::shared_ptr<ws_session> self) {
  const auto& cfg = self->shared_->cfg;
  for (;;) {
    if (self->dead_) return;
    const auto action = self->policy_.on_deadline(steady::now());
    if (action.what == session_action::kind::abort) {
      beast::error_code ignored;
      self->ws_->tcp().socket().close(ignored);
      return;
    }
    if (action.what != session_action::kind::close) break;
    if (action.reason == protocol::close_reason::auth_timeout) {
      spdlog::info("Closing {}: no authentication within {}s", self->remote_,
                   cfg.handshake_timeout.count());
      metrics::at(self->shared_->m->auth_failures, metrics::auth_failure::timeout).Increment();
    } else {
      spdlog::info("Closing miner {} (UID: {}): heartbeat timeout", self->hotkey_, self->uid_);
    }
    self->request_close(action.reason);
  }
  auto& timer = self->watchdog_;
  timer.expires_at(self->policy_.next_deadline());
  timer.async_wait([self = std::move(self)](beast::error_code /*expired or cancelled*/) mutable {
    try {
      watch(std::move(self));
    } catch (...) {  // a bug: logged, as a coroutine's spawn handler would, not out of run()
      log_failure("watchdog", std::current_exception());
    }
  });
}

}  // namespace bettensor::transport::detail
