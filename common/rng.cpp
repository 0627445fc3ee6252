// rng.cpp: xoshiro256** with splitmix64 seeding; see rng.h for why we own the generator.
#include "common/rng.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

namespace db {

namespace {
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t derive_seed(uint64_t parent, std::string_view label) {
  return splitmix64(parent ^ splitmix64(fnv1a64(label)));
}

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    w = z ^ (z >> 31);
  }
  has_spare_ = false;
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::below(0)");
  // rejection on the top of the range keeps every residue equally likely
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

int64_t Rng::between(int64_t lo, int64_t hi) {
  if (hi < lo) throw std::invalid_argument("Rng::between: hi < lo");
  return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1;
  do u1 = uniform();
  while (u1 <= 0.0);
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

std::vector<int64_t> Rng::sample_without_replacement(int64_t n, int64_t k) {
  if (k < 0 || k > n) throw std::invalid_argument("sample_without_replacement: need 0 <= k <= n");
  std::vector<int64_t> out;
  out.reserve(k);
  if (k * 4 < n) {
    // sparse case: rejection against what was drawn (k is small)
    std::vector<int64_t> seen;
    while (static_cast<int64_t>(out.size()) < k) {
      const int64_t x = static_cast<int64_t>(below(n));
      bool dup = false;
      for (int64_t y : out) dup |= (y == x);
      if (!dup) out.push_back(x);
    }
    return out;
  }
  // dense case: partial Fisher-Yates
  std::vector<int64_t> pool(n);
  std::iota(pool.begin(), pool.end(), 0);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(below(n - i));
    std::swap(pool[i], pool[j]);
    out.push_back(pool[i]);
  }
  return out;
}

std::vector<int64_t> Rng::weighted_sample_without_replacement(std::span<const double> weights, int64_t k) {
  const int64_t n = static_cast<int64_t>(weights.size());
  if (k < 0 || k > n) throw std::invalid_argument("weighted_sample_without_replacement: need 0 <= k <= n");
  std::vector<double> w(weights.begin(), weights.end());
  double total = 0.0;
  for (double x : w) {
    if (!(x >= 0.0)) throw std::invalid_argument("weighted_sample_without_replacement: negative weight");
    total += x;
  }
  std::vector<int64_t> out;
  out.reserve(k);
  for (int64_t draw = 0; draw < k; ++draw) {
    double r = uniform() * total;
    int64_t pick = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (w[i] <= 0.0) continue;
      pick = i;
      if (r < w[i]) break;
      r -= w[i];
    }
    if (pick < 0) throw std::invalid_argument("weighted_sample_without_replacement: not enough positive weights");
    out.push_back(pick);
    total -= w[pick];
    w[pick] = 0.0;
  }
  return out;
}

}  // namespace db
