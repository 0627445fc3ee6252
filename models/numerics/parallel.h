// parallel.h: OpenMP loops whose results do not depend on the number of threads.
//
// Work is cut into blocks by a rule that looks only at the problem size (never at the thread
// count), blocks are independent, and reductions across blocks (parameter gradients summed over
// rows) are done by giving every block its own partial and adding the partials in block order
// afterwards. Any thread count therefore yields the same bits; threads only decide who computes
// which block.
#pragma once

#include <omp.h>

#include <algorithm>
#include <vector>

#include "models/core/types.h"

namespace db {

// blocks of `block` items: [k*block, min(n, (k+1)*block)) for k = 0..ceil(n/block)-1
inline Index num_blocks(Index n, Index block) { return n <= 0 ? 0 : (n + block - 1) / block; }

// below this many (rough) operations a parallel region costs more than it saves
constexpr Index kMinParallelWork = Index(1) << 15;

// Whether a loop of `blocks` blocks and `work` operations should open a parallel region. Decided
// before the pragma, not in its `if` clause: an `if (false)` region still enters libgomp, and inside
// another region (l2norm of one row per token inside the mixers' loop over sequences) that cost a
// futex call per token, a fifth of a small model's step.
inline bool worth_a_parallel_region(Index blocks, Index work) {
  return blocks > 1 && work >= kMinParallelWork && !omp_in_parallel() && omp_get_max_threads() > 1;
}

// f(begin, end) for every block, blocks spread statically over threads; `work` (a rough operation
// count of the whole loop) keeps small loops on the calling thread
template <class F>
void parallel_blocks(Index n, Index block, Index work, F&& f) {
  const Index nb = num_blocks(n, block);
  if (!worth_a_parallel_region(nb, work)) {
    for (Index k = 0; k < nb; ++k) f(k * block, std::min(n, (k + 1) * block));
    return;
  }
#pragma omp parallel for schedule(static)
  for (Index k = 0; k < nb; ++k) f(k * block, std::min(n, (k + 1) * block));
}

// A partition of n rows into at most max_parts blocks of at least min_block rows, a function of n
// only; used for reductions, where each block owns a partial of the reduced vector.
inline Index reduction_block(Index n, Index min_block = 64, Index max_parts = 64) {
  if (n <= 0) return 1;
  const Index parts = std::clamp<Index>(n / min_block, 1, max_parts);
  return (n + parts - 1) / parts;
}

// out[width] += sum over blocks of partial, where f(begin, end, partial) adds the rows
// [begin, end) into partial[width] (zeroed on entry); partials are summed in block order.
// `scratch` is reused between calls to avoid allocating.
// `work` as in parallel_blocks.
template <class F>
void parallel_reduce_rows(Index n, Index width, real* out, RealVector& scratch, Index work, F&& f) {
  const Index block = reduction_block(n);
  const Index nb = num_blocks(n, block);
  if (nb == 0) return;
  scratch.assign(static_cast<size_t>(nb * width), real(0));
  auto block_k = [&](Index k) { f(k * block, std::min(n, (k + 1) * block), scratch.data() + k * width); };
  if (worth_a_parallel_region(nb, work)) {
#pragma omp parallel for schedule(static)
    for (Index k = 0; k < nb; ++k) block_k(k);
  } else {
    for (Index k = 0; k < nb; ++k) block_k(k);
  }
  for (Index k = 0; k < nb; ++k) {
    const real* p = scratch.data() + k * width;
    for (Index j = 0; j < width; ++j) out[j] += p[j];
  }
}

}  // namespace db
