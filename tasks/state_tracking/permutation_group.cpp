// permutation_group.cpp: enumeration and multiplication of S_n and A_n for the word-problem task
// (see permutation_group.h for the element order and the product convention; protocol:
// task-protocols.md section D, automl/DeltaProduct src/generate_data.py).
#include "tasks/state_tracking/permutation_group.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace db::state_tracking {

Permutation apply_then(const Permutation& a, const Permutation& b) {
  Permutation result(a.size());
  for (size_t i = 0; i < a.size(); ++i) result[i] = b[static_cast<size_t>(a[i])];
  return result;
}

bool is_even_permutation(const Permutation& p) {
  int inversions = 0;
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = i + 1; j < p.size(); ++j) inversions += p[i] > p[j];
  return inversions % 2 == 0;
}

const std::vector<std::string>& PermutationGroup::known_names() {
  static const std::vector<std::string> names = {"S3", "S4", "A5", "S5"};
  return names;
}

PermutationGroup PermutationGroup::by_name(const std::string& name) {
  if (name == "S3") return symmetric(3);
  if (name == "S4") return symmetric(4);
  if (name == "A5") return alternating(5);
  if (name == "S5") return symmetric(5);
  throw std::invalid_argument(fmt::format("unknown permutation group '{}'", name));
}

PermutationGroup PermutationGroup::symmetric(int degree) {
  return PermutationGroup(fmt::format("S{}", degree), degree, false);
}

PermutationGroup PermutationGroup::alternating(int degree) {
  return PermutationGroup(fmt::format("A{}", degree), degree, true);
}

PermutationGroup::PermutationGroup(std::string name, int degree, bool even_only)
    : name_(std::move(name)), degree_(degree) {
  // degrees above 8 would make the n! rank table and the multiplication table needlessly large
  if (degree < 1 || degree > 8) throw std::invalid_argument("permutation degree must lie in [1, 8]");
  int64_t factorial = 1;
  for (int k = 2; k <= degree; ++k) factorial *= k;
  id_by_rank_.assign(static_cast<size_t>(factorial), -1);

  // lexicographic enumeration by repeated "next permutation" steps written out by hand: find the
  // last ascent i, swap p[i] with the last element above it, reverse the tail
  Permutation p(static_cast<size_t>(degree));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t rank = 0; rank < factorial; ++rank) {
    if (!even_only || is_even_permutation(p)) {
      id_by_rank_[static_cast<size_t>(rank)] = static_cast<int>(elements_.size());
      elements_.push_back(p);
    }
    int i = degree - 2;
    while (i >= 0 && p[static_cast<size_t>(i)] > p[static_cast<size_t>(i + 1)]) --i;
    if (i < 0) break;
    int j = degree - 1;
    while (p[static_cast<size_t>(j)] < p[static_cast<size_t>(i)]) --j;
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
    std::reverse(p.begin() + i + 1, p.end());
  }

  const size_t n = elements_.size();
  table_.assign(n * n, -1);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      const int c = id_of(apply_then(elements_[a], elements_[b]));
      if (c < 0) throw std::logic_error(name_ + " is not closed under composition");
      table_[a * n + b] = c;
    }
}

int64_t PermutationGroup::lexicographic_rank(const Permutation& p) const {
  // Lehmer code: rank = sum_i (number of later entries smaller than p[i]) * (n-1-i)!
  int64_t rank = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    int64_t smaller_later = 0;
    for (size_t j = i + 1; j < p.size(); ++j) smaller_later += p[j] < p[i];
    rank = rank * static_cast<int64_t>(p.size() - i) + smaller_later;
  }
  return rank;
}

int PermutationGroup::id_of(const Permutation& p) const {
  if (p.size() != static_cast<size_t>(degree_)) return -1;
  std::vector<bool> seen(p.size(), false);
  for (int v : p) {
    if (v < 0 || v >= degree_ || seen[static_cast<size_t>(v)]) return -1;
    seen[static_cast<size_t>(v)] = true;
  }
  return id_by_rank_[static_cast<size_t>(lexicographic_rank(p))];
}

}  // namespace db::state_tracking
