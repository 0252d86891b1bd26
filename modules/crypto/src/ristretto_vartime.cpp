// Field arithmetic mod 2^255-19 in five 51-bit limbs, twisted Edwards points (a = -1) in
// extended coordinates, and the ristretto255 encoding (RFC 9496, sections 4.3.1 and 4.3.2).
// Formulas follow "Twisted Edwards Curves Revisited" (Hisil, Wong, Carter, Dawson, 2008).
#include "bettensor/crypto/ristretto_vartime.hpp"

#include <cstring>
#include <memory>
#include <new>

namespace bettensor::crypto::vartime {

namespace {

using u64 = std::uint64_t;
__extension__ using u128 = unsigned __int128;  // GCC and Clang on 64-bit targets
constexpr u64 mask51 = (u64{1} << 51) - 1;

struct fe {
  u64 v[5];
};

constexpr fe fe_zero{{0, 0, 0, 0, 0}};
constexpr fe fe_one{{1, 0, 0, 0, 0}};
constexpr fe fe_d{{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL, 0x739c663a03cbbULL,
                   0x52036cee2b6ffULL}};
constexpr fe fe_d2{{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL, 0x6738cc7407977ULL,
                    0x2406d9dc56dffULL}};
constexpr fe fe_sqrt_m1{{0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                         0x78595a6804c9eULL, 0x2b8324804fc1dULL}};
constexpr fe fe_invsqrt_a_minus_d{{0xfdaa805d40eaULL, 0x2eb482e57d339ULL, 0x7610274bc58ULL,
                                   0x6510b613dc8ffULL, 0x786c8905cfaffULL}};

// Carries every limb into the next; the result's limbs are below 2^51 + 2^13.
inline fe weak_reduce(fe h) {
  u64 c = h.v[0] >> 51;
  h.v[0] &= mask51;
  h.v[1] += c;
  c = h.v[1] >> 51;
  h.v[1] &= mask51;
  h.v[2] += c;
  c = h.v[2] >> 51;
  h.v[2] &= mask51;
  h.v[3] += c;
  c = h.v[3] >> 51;
  h.v[3] &= mask51;
  h.v[4] += c;
  c = h.v[4] >> 51;
  h.v[4] &= mask51;
  h.v[0] += c * 19;
  return h;
}

inline fe add(const fe& f, const fe& g) {
  return weak_reduce(
      {{f.v[0] + g.v[0], f.v[1] + g.v[1], f.v[2] + g.v[2], f.v[3] + g.v[3], f.v[4] + g.v[4]}});
}

// f - g + 4p, so no limb goes below zero for weakly reduced inputs.
inline fe sub(const fe& f, const fe& g) {
  constexpr u64 four_p0 = 0x1fffffffffffb4ULL;  // 4 * (2^51 - 19)
  constexpr u64 four_pi = 0x1ffffffffffffcULL;  // 4 * (2^51 - 1)
  return weak_reduce(
      {{f.v[0] + four_p0 - g.v[0], f.v[1] + four_pi - g.v[1], f.v[2] + four_pi - g.v[2],
        f.v[3] + four_pi - g.v[3], f.v[4] + four_pi - g.v[4]}});
}

inline fe neg(const fe& f) {
  return sub(fe_zero, f);
}

// The 128-bit column sums of a product brought back to 51-bit limbs (2^255 = 19 mod p).
inline fe carry(u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
  fe h;
  h.v[0] = static_cast<u64>(r0) & mask51;
  r1 += static_cast<u64>(r0 >> 51);
  h.v[1] = static_cast<u64>(r1) & mask51;
  r2 += static_cast<u64>(r1 >> 51);
  h.v[2] = static_cast<u64>(r2) & mask51;
  r3 += static_cast<u64>(r2 >> 51);
  h.v[3] = static_cast<u64>(r3) & mask51;
  r4 += static_cast<u64>(r3 >> 51);
  h.v[4] = static_cast<u64>(r4) & mask51;
  h.v[0] += static_cast<u64>(r4 >> 51) * 19;
  h.v[1] += h.v[0] >> 51;
  h.v[0] &= mask51;
  return h;
}

inline fe mul(const fe& f, const fe& g) {
  const u64 g1_19 = g.v[1] * 19;
  const u64 g2_19 = g.v[2] * 19;
  const u64 g3_19 = g.v[3] * 19;
  const u64 g4_19 = g.v[4] * 19;
  const u128 r0 = u128{f.v[0]} * g.v[0] + u128{f.v[1]} * g4_19 + u128{f.v[2]} * g3_19 +
                  u128{f.v[3]} * g2_19 + u128{f.v[4]} * g1_19;
  const u128 r1 = u128{f.v[0]} * g.v[1] + u128{f.v[1]} * g.v[0] + u128{f.v[2]} * g4_19 +
                  u128{f.v[3]} * g3_19 + u128{f.v[4]} * g2_19;
  const u128 r2 = u128{f.v[0]} * g.v[2] + u128{f.v[1]} * g.v[1] + u128{f.v[2]} * g.v[0] +
                  u128{f.v[3]} * g4_19 + u128{f.v[4]} * g3_19;
  const u128 r3 = u128{f.v[0]} * g.v[3] + u128{f.v[1]} * g.v[2] + u128{f.v[2]} * g.v[1] +
                  u128{f.v[3]} * g.v[0] + u128{f.v[4]} * g4_19;
  const u128 r4 = u128{f.v[0]} * g.v[4] + u128{f.v[1]} * g.v[3] + u128{f.v[2]} * g.v[2] +
                  u128{f.v[3]} * g.v[1] + u128{f.v[4]} * g.v[0];
  return carry(r0, r1, r2, r3, r4);
}

// Squaring: the symmetric products computed once (15 multiplications instead of 25).
inline fe sq(const fe& f) {
  const u64 f0_2 = f.v[0] * 2;
  const u64 f1_2 = f.v[1] * 2;
  const u64 f1_38 = f.v[1] * 38;
  const u64 f2_38 = f.v[2] * 38;
  const u64 f3_38 = f.v[3] * 38;
  const u64 f3_19 = f.v[3] * 19;
  const u64 f4_19 = f.v[4] * 19;
  const u128 r0 = u128{f.v[0]} * f.v[0] + u128{f1_38} * f.v[4] + u128{f2_38} * f.v[3];
  const u128 r1 = u128{f0_2} * f.v[1] + u128{f2_38} * f.v[4] + u128{f3_19} * f.v[3];
  const u128 r2 = u128{f0_2} * f.v[2] + u128{f.v[1]} * f.v[1] + u128{f3_38} * f.v[4];
  const u128 r3 = u128{f0_2} * f.v[3] + u128{f1_2} * f.v[2] + u128{f4_19} * f.v[4];
  const u128 r4 = u128{f0_2} * f.v[4] + u128{f1_2} * f.v[3] + u128{f.v[2]} * f.v[2];
  return carry(r0, r1, r2, r3, r4);
}

fe sq_n(fe f, int n) {
  for (int i = 0; i < n; ++i) f = sq(f);
  return f;
}

// z^((p-5)/8) = z^(2^252 - 3).
fe pow22523(const fe& z) {
  fe t0 = sq(z);                // 2
  fe t1 = mul(z, sq_n(t0, 2));  // 9
  t0 = mul(t0, t1);             // 11
  t0 = mul(t1, sq(t0));         // 31 = 2^5 - 1
  t0 = mul(sq_n(t0, 5), t0);    // 2^10 - 1
  t1 = mul(sq_n(t0, 10), t0);   // 2^20 - 1
  t1 = mul(sq_n(t1, 20), t1);   // 2^40 - 1
  t0 = mul(sq_n(t1, 10), t0);   // 2^50 - 1
  t1 = mul(sq_n(t0, 50), t0);   // 2^100 - 1
  t1 = mul(sq_n(t1, 100), t1);  // 2^200 - 1
  t0 = mul(sq_n(t1, 50), t0);   // 2^250 - 1
  return mul(sq_n(t0, 2), z);   // 2^252 - 3
}

point_bytes to_bytes(const fe& f) {
  fe t = weak_reduce(weak_reduce(f));
  // t < 2^255 + 2^13 now; subtract p once if t >= p.
  u64 q = (t.v[0] + 19) >> 51;
  q = (t.v[1] + q) >> 51;
  q = (t.v[2] + q) >> 51;
  q = (t.v[3] + q) >> 51;
  q = (t.v[4] + q) >> 51;
  t.v[0] += 19 * q;
  t.v[1] += t.v[0] >> 51;
  t.v[0] &= mask51;
  t.v[2] += t.v[1] >> 51;
  t.v[1] &= mask51;
  t.v[3] += t.v[2] >> 51;
  t.v[2] &= mask51;
  t.v[4] += t.v[3] >> 51;
  t.v[3] &= mask51;
  t.v[4] &= mask51;
  const u64 w[4] = {t.v[0] | (t.v[1] << 51), (t.v[1] >> 13) | (t.v[2] << 38),
                    (t.v[2] >> 26) | (t.v[3] << 25), (t.v[3] >> 39) | (t.v[4] << 12)};
  point_bytes out{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) out[i * 8 + j] = static_cast<std::uint8_t>(w[i] >> (8 * j));
  return out;
}

fe from_bytes(std::span<const std::uint8_t, 32> b) {
  u64 w[4];
  for (int i = 0; i < 4; ++i) {
    w[i] = 0;
    for (int j = 0; j < 8; ++j) w[i] |= u64{b[i * 8 + j]} << (8 * j);
  }
  return {{w[0] & mask51, ((w[0] >> 51) | (w[1] << 13)) & mask51,
           ((w[1] >> 38) | (w[2] << 26)) & mask51, ((w[2] >> 25) | (w[3] << 39)) & mask51,
           (w[3] >> 12) & mask51}};
}

bool is_negative(const fe& f) {
  return (to_bytes(f)[0] & 1) != 0;
}
bool is_zero(const fe& f) {
  return to_bytes(f) == point_bytes{};
}
bool equal(const fe& f, const fe& g) {
  return to_bytes(f) == to_bytes(g);
}
fe abs(const fe& f) {
  return is_negative(f) ? neg(f) : f;
}

// SQRT_RATIO_M1(u, v) of RFC 9496: (was_square, the non-negative root of u/v or of i*u/v).
std::pair<bool, fe> sqrt_ratio_m1(const fe& u, const fe& v) {
  const fe v3 = mul(sq(v), v);
  const fe v7 = mul(sq(v3), v);
  fe r = mul(mul(u, v3), pow22523(mul(u, v7)));
  const fe check = mul(v, sq(r));
  const bool correct = equal(check, u);
  const bool flipped = equal(check, neg(u));
  const bool flipped_i = equal(check, neg(mul(u, fe_sqrt_m1)));
  if (flipped || flipped_i) r = mul(r, fe_sqrt_m1);
  return {correct || flipped, abs(r)};
}

struct point {  // extended coordinates: x = X/Z, y = Y/Z, x*y = T/Z
  fe x, y, z, t;
};
struct completed {  // ((X:Z), (Y:T))
  fe x, y, z, t;
};
struct cached {  // a point ready to be added
  fe y_plus_x, y_minus_x, z, t2d;
};

point to_extended(const completed& c) {
  return {mul(c.x, c.t), mul(c.y, c.z), mul(c.z, c.t), mul(c.x, c.y)};
}

// Only X, Y, Z: enough for a doubling, one multiplication cheaper.
point to_projective(const completed& c) {
  return {mul(c.x, c.t), mul(c.y, c.z), mul(c.z, c.t), fe_zero};
}

cached to_cached(const point& p) {
  return {add(p.y, p.x), sub(p.y, p.x), p.z, mul(p.t, fe_d2)};
}

completed dbl(const point& p) {  // uses X, Y, Z only
  const fe xx = sq(p.x);
  const fe yy = sq(p.y);
  const fe zz2 = add(sq(p.z), sq(p.z));
  const fe xy2 = sq(add(p.x, p.y));
  const fe yy_plus_xx = add(yy, xx);
  const fe yy_minus_xx = sub(yy, xx);
  return {sub(xy2, yy_plus_xx), yy_plus_xx, yy_minus_xx, sub(zz2, yy_minus_xx)};
}

completed add(const point& p, const cached& q) {
  const fe pp = mul(add(p.y, p.x), q.y_plus_x);
  const fe mm = mul(sub(p.y, p.x), q.y_minus_x);
  const fe tt2d = mul(p.t, q.t2d);
  const fe zz = mul(p.z, q.z);
  const fe zz2 = add(zz, zz);
  return {sub(pp, mm), add(pp, mm), add(zz2, tt2d), sub(zz2, tt2d)};
}

completed sub(const point& p, const cached& q) {
  const fe pm = mul(add(p.y, p.x), q.y_minus_x);
  const fe mp = mul(sub(p.y, p.x), q.y_plus_x);
  const fe tt2d = mul(p.t, q.t2d);
  const fe zz = mul(p.z, q.z);
  const fe zz2 = add(zz, zz);
  return {sub(pm, mp), add(pm, mp), sub(zz2, tt2d), add(zz2, tt2d)};
}

std::optional<point> decode(std::span<const std::uint8_t, 32> bytes) {
  const fe s = from_bytes(bytes);
  if (std::memcmp(to_bytes(s).data(), bytes.data(), bytes.size()) != 0)
    return std::nullopt;  // not canonical (>= p or the top bit set)
  if (is_negative(s)) return std::nullopt;
  const fe ss = sq(s);
  const fe u1 = sub(fe_one, ss);
  const fe u2 = add(fe_one, ss);
  const fe u2_sqr = sq(u2);
  const fe v = sub(neg(mul(fe_d, sq(u1))), u2_sqr);
  const auto [was_square, invsqrt] = sqrt_ratio_m1(fe_one, mul(v, u2_sqr));
  const fe den_x = mul(invsqrt, u2);
  const fe den_y = mul(mul(invsqrt, den_x), v);
  const fe x = abs(mul(add(s, s), den_x));
  const fe y = mul(u1, den_y);
  const fe t = mul(x, y);
  if (!was_square || is_negative(t) || is_zero(y)) return std::nullopt;
  return point{x, y, fe_one, t};
}

point_bytes encode(const point& p) {
  const fe u1 = mul(add(p.z, p.y), sub(p.z, p.y));
  const fe u2 = mul(p.x, p.y);
  const auto [ignored, invsqrt] = sqrt_ratio_m1(fe_one, mul(u1, sq(u2)));
  const fe den1 = mul(invsqrt, u1);
  const fe den2 = mul(invsqrt, u2);
  const fe z_inv = mul(mul(den1, den2), p.t);
  const bool rotate = is_negative(mul(p.t, z_inv));
  fe x = rotate ? mul(p.y, fe_sqrt_m1) : p.x;
  fe y = rotate ? mul(p.x, fe_sqrt_m1) : p.y;
  const fe den_inv = rotate ? mul(den1, fe_invsqrt_a_minus_d) : den2;
  if (is_negative(mul(x, z_inv))) y = neg(y);
  return to_bytes(abs(mul(den_inv, sub(p.z, y))));
}

// Width-w non-adjacent form: odd digits in (-2^(w-1), 2^(w-1)), any w consecutive digits hold
// at most one non-zero. The scalar must be below 2^255.
std::array<std::int8_t, 256> naf(std::span<const std::uint8_t, 32> scalar, int w) {
  u64 x[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) x[i] |= u64{scalar[i * 8 + j]} << (8 * j);
  std::array<std::int8_t, 256> out{};
  const u64 width = u64{1} << w;
  const u64 window_mask = width - 1;
  int pos = 0;
  u64 carry = 0;
  while (pos < 256) {
    const int idx = pos / 64;
    const int bit = pos % 64;
    const u64 buf = bit < 64 - w ? x[idx] >> bit : (x[idx] >> bit) | (x[idx + 1] << (64 - bit));
    const u64 window = carry + (buf & window_mask);
    if ((window & 1) == 0) {
      ++pos;
      continue;
    }
    if (window < width / 2) {
      carry = 0;
      out[pos] = static_cast<std::int8_t>(window);
    } else {
      carry = 1;
      out[pos] = static_cast<std::int8_t>(static_cast<int>(window) - static_cast<int>(width));
    }
    pos += w;
  }
  return out;
}

// Odd multiples P, 3P, 5P, ... of a point, (2^(w-2)) of them.
template <std::size_t N>
std::array<cached, N> odd_multiples(const point& p) {
  std::array<cached, N> table{};
  const cached p_cached = to_cached(p);
  const cached two_p = to_cached(to_extended(dbl(p)));
  table[0] = p_cached;
  point acc = p;
  for (std::size_t i = 1; i < N; ++i) {
    acc = to_extended(add(acc, two_p));
    table[i] = to_cached(acc);
  }
  return table;
}

constexpr point_bytes base_encoding = {
    0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
    0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76};

const std::array<cached, 64>& base_table() {  // B, 3B, ..., 127B for width-8 digits
  static const std::array<cached, 64> table = odd_multiples<64>(*decode(base_encoding));
  return table;
}

}  // namespace

bool is_valid_point(std::span<const std::uint8_t, 32> p) noexcept {
  return decode(p).has_value();
}

namespace {

// Miners sign with the same key for a whole connection, so the decoded key and its multiples are
// kept per thread (direct-mapped by a key byte; a collision only costs a recomputation).
struct key_entry {
  point_bytes key{};
  bool used = false;
  std::array<cached, 8> minus_multiples{};  // -A, -3A, ..., -15A for width-5 digits
};
constexpr std::size_t key_cache_slots = 256;

const std::array<cached, 8>* minus_multiples_of(std::span<const std::uint8_t, 32> a) {
  thread_local std::unique_ptr<std::array<key_entry, key_cache_slots>> cache;
  thread_local key_entry fallback;  // when the cache cannot be allocated
  if (!cache) cache.reset(new (std::nothrow) std::array<key_entry, key_cache_slots>());
  key_entry& e = cache ? (*cache)[a[1]] : fallback;  // a[1] is uniform (a[0]'s low bit is 0)
  if (e.used && std::memcmp(e.key.data(), a.data(), a.size()) == 0) return &e.minus_multiples;
  const auto p = decode(a);
  if (!p) return nullptr;
  const point minus_a{neg(p->x), p->y, p->z, neg(p->t)};
  e.minus_multiples = odd_multiples<8>(minus_a);
  std::memcpy(e.key.data(), a.data(), a.size());
  e.used = true;
  return &e.minus_multiples;
}

}  // namespace

std::optional<point_bytes> base_mul_sub(std::span<const std::uint8_t, 32> s,
                                        std::span<const std::uint8_t, 32> k,
                                        std::span<const std::uint8_t, 32> a) noexcept {
  if ((s[31] & 0x80) != 0 || (k[31] & 0x80) != 0) return std::nullopt;
  const auto* minus_a = minus_multiples_of(a);
  if (minus_a == nullptr) return std::nullopt;
  const auto& a_table = *minus_a;
  const auto& b_table = base_table();
  const auto k_naf = naf(k, 5);
  const auto s_naf = naf(s, 8);

  int i = 255;
  while (i >= 0 && k_naf[i] == 0 && s_naf[i] == 0) --i;
  if (i < 0) return encode(point{fe_zero, fe_one, fe_one, fe_zero});
  point r{fe_zero, fe_one, fe_one, fe_zero};
  completed c{};
  for (; i >= 0; --i) {
    c = dbl(r);
    if (k_naf[i] > 0) {
      c = add(to_extended(c), a_table[k_naf[i] / 2]);
    } else if (k_naf[i] < 0) {
      c = sub(to_extended(c), a_table[-k_naf[i] / 2]);
    }
    if (s_naf[i] > 0) {
      c = add(to_extended(c), b_table[s_naf[i] / 2]);
    } else if (s_naf[i] < 0) {
      c = sub(to_extended(c), b_table[-s_naf[i] / 2]);
    }
    r = to_projective(c);
  }
  return encode(to_extended(c));
}

namespace {

// Chunked tables: entry j of a table set holds the odd multiples 1, 3, ..., 127 of 2^(64j)*P.
using chunk_tables = std::array<std::array<cached, 64>, 4>;

void fill_chunk_tables(point p, chunk_tables& out) {
  for (std::size_t j = 0; j < out.size(); ++j) {
    out[j] = odd_multiples<64>(p);
    if (j + 1 == out.size()) break;
    for (int i = 0; i < 64; ++i) p = i == 63 ? to_extended(dbl(p)) : to_projective(dbl(p));
  }
}

const chunk_tables& base_chunks() {
  static const auto* tables = [] {
    auto* t = new chunk_tables();  // lives for the program; 40 KB
    fill_chunk_tables(*decode(base_encoding), *t);
    return t;
  }();
  return *tables;
}

inline completed add_digit(const completed& c, const std::array<cached, 64>& table,
                           std::int8_t digit) {
  return digit > 0 ? add(to_extended(c), table[digit / 2]) : sub(to_extended(c), table[-digit / 2]);
}

inline completed add_digit8(const completed& c, const std::array<cached, 8>& table,
                            std::int8_t digit) {
  return digit > 0 ? add(to_extended(c), table[digit / 2]) : sub(to_extended(c), table[-digit / 2]);
}

// The s*B - k*A part of a pass at position i (0..63): digits i, i+64, i+128 and i+192.
inline completed add_chunk_digits(completed c, const std::array<std::int8_t, 256>& s_naf,
                                  const std::array<std::int8_t, 256>& k_naf, const chunk_tables& b,
                                  const chunk_tables& minus_a, std::size_t i) {
  for (std::size_t j = 0; j < 4; ++j) {
    const std::int8_t ds = s_naf[64 * j + i];
    if (ds != 0) c = add_digit(c, b[j], ds);
    const std::int8_t dk = k_naf[64 * j + i];
    if (dk != 0) c = add_digit(c, minus_a[j], dk);
  }
  return c;
}

bool chunk_digit_at(const std::array<std::int8_t, 256>& naf_digits, std::size_t i) {
  for (std::size_t j = 0; j < 4; ++j) {
    if (naf_digits[64 * j + i] != 0) return true;
  }
  return false;
}

constexpr point identity_point{fe_zero, fe_one, fe_one, fe_zero};

}  // namespace

struct key_tables {
  chunk_tables minus_a;
};

void key_tables_deleter::operator()(key_tables* t) const noexcept {
  delete t;
}

std::size_t key_tables_bytes() noexcept {
  return sizeof(key_tables);
}

key_tables_ptr make_key_tables(std::span<const std::uint8_t, 32> a) noexcept {
  const auto p = decode(a);
  if (!p) return nullptr;
  key_tables_ptr t(new (std::nothrow) key_tables());
  if (!t) return nullptr;
  fill_chunk_tables(point{neg(p->x), p->y, p->z, neg(p->t)}, t->minus_a);
  return t;
}

point_bytes base_mul_sub(std::span<const std::uint8_t, 32> s, std::span<const std::uint8_t, 32> k,
                         const key_tables& a) noexcept {
  const auto& b = base_chunks();
  const auto s_naf = naf(s, 8);
  const auto k_naf = naf(k, 8);
  std::size_t top = 64;  // one past the highest position with a digit
  while (top > 0 && !chunk_digit_at(s_naf, top - 1) && !chunk_digit_at(k_naf, top - 1)) --top;
  if (top == 0) return encode(identity_point);
  point r = identity_point;
  completed c{};
  for (std::size_t i = top; i-- > 0;) {
    c = add_chunk_digits(dbl(r), s_naf, k_naf, b, a.minus_a, i);
    r = to_projective(c);
  }
  return encode(to_extended(c));
}

bool batch_is_identity(std::span<const std::uint8_t, 32> s, std::span<const std::uint8_t, 32> k,
                       const key_tables& a, std::span<const batch_term> terms) noexcept {
  if (terms.size() > max_batch_terms) return false;
  // -R_i, -3R_i, ..., -15R_i for each term's width-5 digits of z_i (z_i < 2^128: 129 digits).
  std::array<std::array<cached, 8>, max_batch_terms> minus_r;
  std::array<std::array<std::int8_t, 256>, max_batch_terms> z_naf;
  std::size_t top = 64;  // one past the highest position with a digit
  for (std::size_t n = 0; n < terms.size(); ++n) {
    if ((terms[n].z[31] & 0x80) != 0) return false;
    const auto p = decode(terms[n].r);
    if (!p) return false;
    minus_r[n] = odd_multiples<8>(point{neg(p->x), p->y, p->z, neg(p->t)});
    z_naf[n] = naf(terms[n].z, 5);
    for (std::size_t i = 256; i > top; --i) {
      if (z_naf[n][i - 1] != 0) {
        top = i;
        break;
      }
    }
  }
  const auto& b = base_chunks();
  const auto s_naf = naf(s, 8);
  const auto k_naf = naf(k, 8);
  point r = identity_point;
  completed c{};
  for (std::size_t i = top; i-- > 0;) {
    c = dbl(r);
    if (i < 64) c = add_chunk_digits(c, s_naf, k_naf, b, a.minus_a, i);
    for (std::size_t n = 0; n < terms.size(); ++n) {
      const std::int8_t d = z_naf[n][i];
      if (d != 0) c = add_digit8(c, minus_r[n], d);
    }
    r = to_projective(c);
  }
  // The identity of ristretto255 is the class of the 4-torsion: X = 0 or Y = 0.
  const point sum = to_extended(c);
  return is_zero(sum.x) || is_zero(sum.y);
}

}  // namespace bettensor::crypto::vartime
