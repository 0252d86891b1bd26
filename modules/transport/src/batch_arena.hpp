// The memory one batch of a session's parsed frames shares (ws_session::handle_pending).
#pragma once

#include <boost/json/memory_resource.hpp>
#include <boost/json/monotonic_resource.hpp>

#include <array>
#include <cstddef>

namespace bettensor::transport::detail {

// The memory a batch's parsed frames share: a monotonic arena whose first block is inside it, so
// that the arena and the memory of a batch of one or two frames are one allocation. A larger
// batch goes on in blocks from the heap.
class batch_arena final : public boost::json::memory_resource {
 public:
  batch_arena() = default;
  batch_arena(const batch_arena&) = delete;
  batch_arena& operator=(const batch_arena&) = delete;
  ~batch_arena() override = default;

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    return values_.allocate(bytes, align);
  }
  void do_deallocate(void* /*p*/, std::size_t /*bytes*/, std::size_t /*align*/) override {}
  [[nodiscard]] bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }

  // Not zeroed: every byte handed out is written before it is read.
  alignas(std::max_align_t) std::array<unsigned char, 4096> first_block_;
  boost::json::monotonic_resource values_{first_block_.data(), first_block_.size()};
};

}  // namespace bettensor::transport::detail
