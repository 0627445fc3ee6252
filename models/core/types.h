// types.h: the scalar type and Eigen views used by all numerics.
//
// Training builds in float; the same sources build in double (DELTABENCH_DOUBLE) for gradient
// checks and reference-vector tests. Buffers are plain contiguous row-major arrays; Eigen maps give
// them matrix shape without copying. Dimension legend used in shape comments across models/:
//   B batch, T time, D model width, H heads, K key dim per head, V value dim per head,
//   C chunk length, N vocabulary, S state numbers per sequence.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace db {

#ifdef DELTABENCH_DOUBLE
using real = double;
#else
using real = float;
#endif

using Index = Eigen::Index;

// Every buffer of reals starts on a 64-byte boundary. Eigen's vectorised reductions peel scalars
// until the first aligned address, so with malloc's 16-byte alignment the summation order (and the
// last bits of a result) would depend on where the heap put a buffer, and two identical runs would
// differ. Aligned storage makes results a function of the inputs alone.
using RealVector = std::vector<real, Eigen::aligned_allocator<real>>;
using MatrixR = Eigen::Matrix<real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorR = Eigen::Matrix<real, Eigen::Dynamic, 1>;
using MatMap = Eigen::Map<MatrixR>;
using ConstMatMap = Eigen::Map<const MatrixR>;
// a strided row-major view, e.g. one head's columns inside a [T, H*K] buffer
using StridedMatMap = Eigen::Map<MatrixR, 0, Eigen::OuterStride<>>;
using ConstStridedMatMap = Eigen::Map<const MatrixR, 0, Eigen::OuterStride<>>;
using VecMap = Eigen::Map<VectorR>;
using ConstVecMap = Eigen::Map<const VectorR>;

inline MatMap as_matrix(real* p, Index rows, Index cols) { return MatMap(p, rows, cols); }
inline ConstMatMap as_matrix(const real* p, Index rows, Index cols) { return ConstMatMap(p, rows, cols); }
inline StridedMatMap as_matrix(real* p, Index rows, Index cols, Index row_stride) {
  return StridedMatMap(p, rows, cols, Eigen::OuterStride<>(row_stride));
}
inline ConstStridedMatMap as_matrix(const real* p, Index rows, Index cols, Index row_stride) {
  return ConstStridedMatMap(p, rows, cols, Eigen::OuterStride<>(row_stride));
}

}  // namespace db
