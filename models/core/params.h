// params.h: every trainable number lives in one flat buffer, addressed through named views.
//
// Modules declare parameters at construction (name, shape, how to initialise, whether weight decay
// applies); the arena then allocates one contiguous value buffer and one gradient buffer of the
// same layout. The optimiser, gradient clipping, the gradient checker and the checkpoint writer all
// walk that one span (as llm.c's ParameterTensors). Names are flash-linear-attention's Hugging Face
// names (`model.layers.0.attn.q_proj.weight`), so they double as safetensors keys; Linear weights
// are stored [out, in].
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/rng.h"
#include "models/core/types.h"

namespace db {

// how a parameter is initialised; `custom` fills `n` numbers from the rng
struct ParamInit {
  enum class Kind { normal, constant, custom } kind = Kind::normal;
  double value = 0.02;  // std for normal, the value for constant
  std::function<void(real* data, size_t n, Rng& rng)> fill;

  static ParamInit normal(double std) { return {Kind::normal, std, {}}; }
  static ParamInit constant(double v) { return {Kind::constant, v, {}}; }
  static ParamInit ones() { return constant(1.0); }
  static ParamInit zeros() { return constant(0.0); }
  static ParamInit custom(std::function<void(real*, size_t, Rng&)> f) { return {Kind::custom, 0.0, std::move(f)}; }
  // U(-bound, bound), drawn in order (PyTorch's Conv1d default, with bound 1/sqrt(fan_in))
  static ParamInit uniform(double bound) {
    return custom([bound](real* p, size_t n, Rng& rng) {
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<real>(rng.uniform(-bound, bound));
    });
  }
};

struct ParamInfo {
  std::string name;            // full dotted name, e.g. model.layers.0.attn.q_proj.weight
  std::vector<int64_t> shape;  // row-major
  size_t offset = 0;           // into the flat buffers
  size_t size = 0;             // product of shape
  bool weight_decay = true;    // false for norms, biases, A_log, dt_bias
  ParamInit init;
};

class ParamArena;

// A handle to one declared parameter; valid for the arena's lifetime. data()/grad() are usable
// only after ParamArena::allocate().
class Param {
 public:
  Param() = default;
  real* data() const;
  real* grad() const;
  const ParamInfo& info() const;
  size_t size() const { return info().size; }
  bool valid() const { return arena_ != nullptr; }

 private:
  friend class ParamArena;
  Param(ParamArena* a, size_t i) : arena_(a), index_(i) {}
  ParamArena* arena_ = nullptr;
  size_t index_ = 0;
};

class ParamArena {
 public:
  ParamArena() = default;
  ParamArena(const ParamArena&) = delete;
  ParamArena& operator=(const ParamArena&) = delete;

  // declare a parameter named <current scope>.<name>
  Param add(const std::string& name, std::vector<int64_t> shape, ParamInit init, bool weight_decay = true);

  // RAII scope: names declared inside get "<prefix>." in front
  class Scope {
   public:
    Scope(ParamArena& a, const std::string& name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ParamArena& arena_;
  };
  std::string scoped(const std::string& name) const;

  // allocate values (zero) and gradients (zero); after this, no more add()
  void allocate();
  // initialise every parameter in declaration order from one generator (deterministic)
  void initialize(Rng& rng);
  bool allocated() const { return allocated_; }

  void zero_grad();
  size_t size() const { return total_; }
  real* data() { return values_.data(); }
  const real* data() const { return values_.data(); }
  real* grad() { return grads_.data(); }
  const real* grad() const { return grads_.data(); }
  const std::vector<ParamInfo>& params() const { return params_; }
  // index by full name, or -1
  int find(const std::string& name) const;

 private:
  friend class Param;
  std::vector<ParamInfo> params_;
  std::vector<std::string> scope_;
  RealVector values_, grads_;
  size_t total_ = 0;
  bool allocated_ = false;
};

}  // namespace db
