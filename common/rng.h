// rng.h: the project's own seeded random generator.
//
// Every random number in deltabench (data, initialisation, shuffles) comes from here, never from
// std::*_distribution, whose output differs between standard libraries. xoshiro256** seeded through
// splitmix64; integer draws are unbiased (rejection), normals use Box-Muller. The same seed gives the
// same stream on every machine and compiler. The state is four words, so checkpoints can save it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace db {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);

  uint64_t next_u64();
  // uniform integer in [0, n); n > 0
  uint64_t below(uint64_t n);
  // uniform integer in [lo, hi] inclusive
  int64_t between(int64_t lo, int64_t hi);
  // uniform double in [0, 1) with 53 random bits
  double uniform();
  // uniform double in [lo, hi)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // standard normal (Box-Muller; caches the second value)
  double normal();
  bool bernoulli(double p) { return uniform() < p; }

  // Fisher-Yates shuffle
  template <class T>
  void shuffle(std::span<T> v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  template <class T>
  void shuffle(std::vector<T>& v) { shuffle(std::span<T>(v)); }

  // k distinct integers from [0, n), in draw order
  std::vector<int64_t> sample_without_replacement(int64_t n, int64_t k);
  // k distinct indices drawn sequentially with probability proportional to weights (numpy's
  // choice(replace=False, p=w) semantics: renormalise over what is left after each draw)
  std::vector<int64_t> weighted_sample_without_replacement(std::span<const double> weights, int64_t k);

  // the full state, for checkpoints
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; has_spare_ = false; }

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// splitmix64 step: good for deriving independent seeds from (seed, index) pairs
uint64_t splitmix64(uint64_t x);
// derive a child seed from a parent seed and a label (e.g. "train", "init"), stable across machines
uint64_t derive_seed(uint64_t parent, std::string_view label);
// 64-bit FNV-1a of bytes, used for config hashes and cache keys
uint64_t fnv1a64(std::string_view bytes);

}  // namespace db
