// permutation_group.h: the finite permutation groups behind the word-problem task (S3, S4, A5, S5).
//
// Protocol: task-protocols.md sections C.6 and D (automl/DeltaProduct src/generate_data.py builds
// S_n with abstract_algebra's generate_symmetric_group and A_n as its commutator subgroup). We
// build them ourselves:
//   * A permutation of {0 .. n-1} is stored in one-line notation: p[i] is the image of i.
//   * Elements are numbered in lexicographic order of their one-line notation; for A_n only the
//     even permutations are kept, in the same order. The identity [0 1 .. n-1] is lexicographically
//     first, so it is element 0 in every group (as in Grazzi et al., where the identity of S5 is 0).
//   * The product is "apply left to right": (a . b)(i) = b(a(i)), i.e. first a, then b (in
//     function-composition notation a . b = b o a). The word problem's running product is
//     state_t = state_{t-1} . x_t = x_1 . x_2 . ... . x_t.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace db::state_tracking {

using Permutation = std::vector<int>;

// first a, then b: result[i] = b[a[i]]
Permutation apply_then(const Permutation& a, const Permutation& b);
// true for permutations with an even number of inversions
bool is_even_permutation(const Permutation& p);

class PermutationGroup {
 public:
  // "S3", "S4", "A5", "S5"; throws std::invalid_argument for any other name
  static PermutationGroup by_name(const std::string& name);
  static const std::vector<std::string>& known_names();
  static PermutationGroup symmetric(int degree);
  static PermutationGroup alternating(int degree);

  const std::string& name() const { return name_; }
  int degree() const { return degree_; }
  int order() const { return static_cast<int>(elements_.size()); }
  const Permutation& element(int id) const { return elements_.at(static_cast<size_t>(id)); }
  const std::vector<Permutation>& elements() const { return elements_; }
  // id of a permutation, or -1 when it is not in the group
  int id_of(const Permutation& p) const;
  // id of element(a) . element(b) (first a, then b), from a precomputed table
  int multiply(int a, int b) const { return table_[static_cast<size_t>(a) * elements_.size() + static_cast<size_t>(b)]; }
  static constexpr int identity() { return 0; }

 private:
  PermutationGroup(std::string name, int degree, bool even_only);
  // index of a permutation among all n! in lexicographic order (Lehmer code)
  int64_t lexicographic_rank(const Permutation& p) const;

  std::string name_;
  int degree_ = 0;
  std::vector<Permutation> elements_;
  std::vector<int> id_by_rank_;  // lexicographic rank among all n! -> id, or -1
  std::vector<int> table_;       // order x order multiplication table
};

}  // namespace db::state_tracking
