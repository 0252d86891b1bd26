#include "bettensor/storage/validator_store.hpp"

#include <boost/circular_buffer.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>

namespace bettensor::storage {

namespace {

struct request {
  miner_ref miner;
  protocol::team_game_prediction prediction;
  protocol::timestamp received;
  prediction_rules rules;
  std::function<void(verdict)> done;
};

// Anything else the storage thread does with the ledger, in order with the predictions.
using task = std::function<void(prediction_ledger&)>;

using job = std::variant<request, task>;

}  // namespace

struct validator_store::impl {
  impl(std::unique_ptr<prediction_ledger> l, options o, commit_observer committed,
       retry_observer retried)
      : ledger(std::move(l)),
        opts(std::move(o)),
        on_commit(std::move(committed)),
        on_retry(std::move(retried)) {
    worker = std::thread([this] { run(); });
  }

  void run() {
    std::vector<request> batch;
    for (;;) {
      std::optional<task> next_task;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything is done
        if (auto* t = std::get_if<task>(&queue.front())) {
          next_task = std::move(*t);
          queue.pop_front();
        } else {
          while (!queue.empty() && batch.size() < opts.max_batch &&
                 std::holds_alternative<request>(queue.front())) {
            batch.push_back(std::get<request>(std::move(queue.front())));
            queue.pop_front();
          }
        }
        // A backlog's worth of slots is given back once it has drained.
        if (queue.empty() && queue.capacity() > max_idle_queue_slots) {
          queue.set_capacity(initial_queue_slots);
        }
        in_flight = true;
      }
      if (next_task) {
        (*next_task)(*ledger);
      } else {
        commit(batch);
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(verdicts[i]);
        batch.clear();
      }
      {
        std::lock_guard lock(mutex);
        in_flight = false;
      }
      idle.notify_all();
    }
  }

  // Decides a batch in order and records it in one transaction. A conflict with another
  // instance decides it again at once; an unavailable database is waited for (with backoff, up
  // to opts.retry_for); on any other failure, or when the wait is over, nothing of the batch is
  // kept and every request gets the storage failure verdict. The verdicts are left in
  // `verdicts`, in the batch's order.
  void commit(std::vector<request>& batch) {
    using clock = std::chrono::steady_clock;
    std::optional<clock::time_point> down_since;
    auto backoff = opts.retry_base;
    for (int conflicts = 0;;) {
      try {
        try_commit(batch);
        // The first commit after the database was unavailable (in this batch or an earlier
        // one that gave up waiting) reports it back.
        if (database_down && on_retry) on_retry(std::nullopt, {});
        database_down = false;
        return;
      } catch (const storage_conflict& e) {
        ledger->discard();
        if (on_retry) on_retry(retry_reason::conflict, e.what());
        if (++conflicts <= max_conflict_retries) continue;
        return refuse_all(batch, e.what());
      } catch (const storage_unavailable& e) {
        ledger->discard();
        const auto now = clock::now();
        if (!down_since) down_since = now;
        database_down = true;
        if (now - *down_since >= opts.retry_for) return refuse_all(batch, e.what());
        if (on_retry) on_retry(retry_reason::unavailable, e.what());
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, opts.retry_max);
      } catch (const std::exception& e) {
        ledger->discard();
        if (batch.size() > 1) return one_by_one(batch);
        return refuse_all(batch, e.what());
      }
    }
  }

  // A batch the database refused for a reason other than availability: each prediction is tried
  // alone, so one the database cannot take (a NUL byte PostgreSQL refuses) is refused alone and
  // the others of its batch are still decided.
  void one_by_one(std::vector<request>& batch) {
    std::vector<verdict> out;
    out.reserve(batch.size());
    for (auto& r : batch) {
      std::vector<request> single;
      single.push_back(std::move(r));
      commit(single);
      out.push_back(std::move(verdicts.front()));
      r = std::move(single.front());
    }
    verdicts = std::move(out);
  }

  void try_commit(const std::vector<request>& batch) {
    const auto t0 = std::chrono::steady_clock::now();
    verdicts.clear();
    hotkeys.clear();
    for (const auto& r : batch) hotkeys.emplace_back(r.miner.hotkey);
    std::sort(hotkeys.begin(), hotkeys.end());
    hotkeys.erase(std::unique(hotkeys.begin(), hotkeys.end()), hotkeys.end());
    ledger->begin_batch(hotkeys);
    entries.clear();
    seen.clear();
    for (const auto& r : batch) verdicts.push_back(decide(r));
    attach_miner_stats(batch);
    ledger->record(entries);
    batches.fetch_add(1, std::memory_order_relaxed);
    if (on_commit) {
      on_commit(batch.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }

  // The scoring database's row of each miner, read once per uid in the batch's transaction.
  void attach_miner_stats(const std::vector<request>& batch) {
    stats.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto uid = batch[i].miner.uid;
      if (!uid) continue;
      auto it = stats.find(*uid);
      if (it == stats.end()) it = stats.emplace(*uid, ledger->miner_stats(*uid)).first;
      if (it->second) verdicts[i].miner_stats = it->second;
    }
  }

  void refuse_all(const std::vector<request>& batch, const char* why) {
    std::fprintf(stderr, "storage: batch of %zu predictions not stored: %s\n", batch.size(), why);
    verdicts.assign(batch.size(), verdict::refused(protocol::rejection::storage_failure));
  }

  // What a batch already decided: an id seen twice, and the wagers it accepted per hotkey and
  // day. The keys view the batch's requests, which outlive it. Open addressing: cleared for
  // each batch without giving back its capacity.
  struct batch_state {
    using miner_day = std::pair<std::string_view, std::int64_t>;  // hotkey, days since 1970
    struct miner_day_hash {
      std::size_t operator()(const miner_day& k) const noexcept {
        return std::hash<std::string_view>()(k.first) ^ (std::hash<std::int64_t>()(k.second) * 31U);
      }
    };
    void clear() {
      decided.clear();
      added.clear();
    }
    boost::unordered_flat_map<std::string_view, std::size_t> decided;    // prediction_id → entry
    boost::unordered_flat_map<miner_day, double, miner_day_hash> added;  // wagers accepted
  };

  // The pipeline's order: a known id gets its original verdict; otherwise the rules, then the
  // daily limit over what is stored plus what this batch accepted.
  // The entry refers to the request, which stays as it is: a batch may be decided more than once.
  verdict decide(const request& r) {
    const auto& p = r.prediction;
    if (const auto it = seen.decided.find(p.prediction_id); it != seen.decided.end()) {
      verdict v = entries[it->second].decision;
      v.duplicate = true;
      return v;
    }
    if (auto stored = ledger->find_verdict(p.prediction_id)) return std::move(*stored);
    verdict v;
    if (r.rules) {
      if (const auto broken = r.rules(p)) v = verdict::refused(*broken);
    }
    std::string day = utc_day(r.received);  // "2026-11-29": within std::string's own buffer
    if (v.accepted()) {
      const auto day_number =
          std::chrono::floor<std::chrono::days>(r.received).time_since_epoch().count();
      auto& in_batch = seen.added[{r.miner.hotkey, day_number}];
      if (ledger->daily_total(r.miner.hotkey, day) + in_batch + p.wager > opts.daily_wager_limit) {
        v = verdict::refused(protocol::rejection::daily_limit);
      } else {
        in_batch += p.wager;
      }
    }
    seen.decided.emplace(p.prediction_id, entries.size());
    entries.push_back({r.miner.hotkey, r.miner.uid, p, r.received, std::move(day), v});
    return v;
  }

  void push(job j) {
    {
      std::lock_guard lock(mutex);
      if (queue.full()) queue.set_capacity(std::max(initial_queue_slots, 2 * queue.capacity()));
      queue.push_back(std::move(j));
    }
    wake.notify_one();
  }

  // Runs `f` on the storage thread and waits for its result (or its exception).
  template <class F>
  auto ask(F f) -> decltype(f(std::declval<prediction_ledger&>())) {
    using result = decltype(f(std::declval<prediction_ledger&>()));
    auto promise = std::make_shared<std::promise<result>>();
    auto answer = promise->get_future();
    push(task([promise, f = std::move(f)](prediction_ledger& l) {
      try {
        if constexpr (std::is_void_v<result>) {
          f(l);
          promise->set_value();
        } else {
          promise->set_value(f(l));
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    }));
    return answer.get();
  }

  std::unique_ptr<prediction_ledger> ledger;  // the storage thread's only
  options opts;
  commit_observer on_commit;
  retry_observer on_retry;
  static constexpr int max_conflict_retries = 8;
  bool database_down = false;  // the storage thread's: unavailable since the last commit
  // The storage thread's, kept from one batch to the next so that a batch allocates none of
  // them once they have grown to the largest batch: its verdicts, its distinct hotkeys (views of
  // its requests), its ledger entries, what it decided and the miners' statistics it read.
  std::vector<verdict> verdicts;
  std::vector<std::string_view> hotkeys;
  std::vector<ledger_entry> entries;
  batch_state seen;
  boost::unordered_flat_map<std::int64_t, std::optional<boost::json::object>> stats;

  std::mutex mutex;  // guards queue, in_flight and stopping
  std::condition_variable wake;
  std::condition_variable idle;
  // A ring of slots that grows when full: a request is large, and std::deque allocates a node
  // for each one that size.
  static constexpr std::size_t initial_queue_slots = 64;
  static constexpr std::size_t max_idle_queue_slots = 4096;
  boost::circular_buffer<job> queue{initial_queue_slots};
  bool in_flight = false;
  bool stopping = false;
  std::atomic<std::size_t> batches{0};
  std::thread worker;
};

validator_store::validator_store(const options& opts, commit_observer on_commit,
                                 retry_observer on_retry)
    : validator_store(open_ledger(opts.url), opts, std::move(on_commit), std::move(on_retry)) {}

validator_store::validator_store(std::unique_ptr<prediction_ledger> ledger, options opts,
                                 commit_observer on_commit, retry_observer on_retry)
    : impl_(std::make_unique<impl>(std::move(ledger), std::move(opts), std::move(on_commit),
                                   std::move(on_retry))) {}

validator_store::~validator_store() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->worker.join();
}

void validator_store::submit(miner_ref miner, protocol::team_game_prediction prediction,
                             protocol::timestamp received, prediction_rules rules,
                             std::function<void(verdict)> done) {
  impl_->push(request{std::move(miner), std::move(prediction), received, std::move(rules),
                      std::move(done)});
}

void validator_store::flush() {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->queue.empty() && !impl_->in_flight; });
}

void validator_store::save_games(std::vector<protocol::team_game> games,
                                 std::function<void(std::optional<std::string>)> done) {
  impl_->push(task([games = std::move(games), done = std::move(done)](prediction_ledger& l) {
    std::optional<std::string> error;
    try {
      l.replace_games(games);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (done) done(std::move(error));
  }));
}

std::vector<protocol::team_game> validator_store::load_games() {
  return impl_->ask([](prediction_ledger& l) { return l.load_games(); });
}

namespace {

// A task that reads a game set on the storage thread and hands it to `done` (nullopt when the
// read fails, which is logged with `what`).
template <class Read>
task games_task(Read read, const char* what,
                std::function<void(std::optional<std::vector<protocol::team_game>>)> done) {
  return [read, what, done = std::move(done)](prediction_ledger& l) {
    std::optional<std::vector<protocol::team_game>> games;
    try {
      games = read(l);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "storage: games not %s: %s\n", what, e.what());
    }
    done(std::move(games));
  };
}

}  // namespace

void validator_store::poll_games(
    std::function<void(std::optional<std::vector<protocol::team_game>>)> done) {
  impl_->push(games_task([](prediction_ledger& l) { return l.games_changed(); }, "re-read",
                         std::move(done)));
}

void validator_store::read_games(
    std::function<void(std::optional<std::vector<protocol::team_game>>)> done) {
  impl_->push(games_task([](prediction_ledger& l) { return std::optional(l.load_games()); }, "read",
                         std::move(done)));
}

std::size_t validator_store::accepted_count() {
  return impl_->ask([](prediction_ledger& l) { return l.accepted_count(); });
}

std::size_t validator_store::prediction_rows(const std::string& prediction_id) {
  return impl_->ask([&](prediction_ledger& l) { return l.prediction_rows(prediction_id); });
}

double validator_store::daily_total(const std::string& hotkey, protocol::timestamp day) {
  return impl_->ask([&](prediction_ledger& l) { return l.daily_total(hotkey, utc_day(day)); });
}

std::size_t validator_store::batches_committed() const {
  return impl_->batches.load(std::memory_order_relaxed);
}

}  // namespace bettensor::storage
