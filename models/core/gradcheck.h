// gradcheck.h: finite-difference gradient checker for every Module and Mixer (double build).
//
// For a module with random input x [B,T,in] and random upstream gradient dy [B,T,out] (for a
// mixer with a state also a random initial state state_in [B,S] and a random dstate_out [B,S]),
// the scalar checked is
//   L = sum(y * dy) + sum(state_out * dstate_out),
// so backward(dy, dstate_out) must give dL/dx, dL/dstate_in and dL/dparams. Analytic gradients come
// from one backward after zero_grad(); numeric ones from central differences
// (L(v+h) - L(v-h)) / 2h on a random sample of at most max_elements entries of x, of state_in and
// of EVERY parameter tensor (all entries when the tensor is that small).
//
// Error of one tensor (over its checked entries a_i analytic, n_i numeric):
//   error = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, floor)
// i.e. the worst absolute difference relative to the size of that tensor's gradient. Entries whose
// true gradient is near zero then cannot blow the measure up (unlike a per-entry |a-n|/|a+n|), and a
// wrong term of any size in the tensor still shows at its relative size. With h = 1e-5 in double,
// the truncation error is ~1e-10 relative and rounding ~1e-16 |L| / h, so a correct gradient
// scores ~1e-9 and a test tolerance of 1e-6 leaves room.
//
// Before checking, parameters are made generic (prepare_params_for_check): constant-initialised
// ones (norm weights 1, biases 0) get N(0, 0.25) added so their gradient paths matter, normal ones
// are redrawn with std max(init std, 0.5/sqrt(fan_in)) so activations are O(1) and non-linearities
// are exercised, custom ones (A_log, dt_bias) get a 10% relative jitter.
//
// The checker also tests the Module contract ("violations"): backward must write every entry of
// dx and dstate_in (they are prefilled with NaN), a second forward/backward without zero_grad must
// give the same dx and exactly add the same parameter gradients again (backward accumulates), and
// forward must not depend on an earlier call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/module.h"
#include "models/core/params.h"
#include "models/core/registry.h"

namespace db {

struct GradCheckOptions {
  int B = 2;
  int T = 7;                   // odd, so chunked mixers see a partial chunk
  int d_model = 8;             // width of mixers built from the registry
  double h = 1e-5;             // central-difference step
  int max_elements = 24;       // sampled entries per tensor
  double floor = 1e-6;         // smallest denominator of the error
  uint64_t seed = 20240611;    // inputs, upstream gradients, sampling and parameter values
  bool prepare_params = true;  // see prepare_params_for_check
  bool check_contract = true;  // NaN prefill, accumulation and repeatability checks
};

struct TensorGradCheck {
  std::string name;          // "x", "state_in" or the parameter's full name
  int64_t size = 0;          // entries in the tensor
  int64_t checked = 0;       // entries compared
  double error = 0;          // max|a-n| / max(max|a|, max|n|, floor)
  double max_abs_diff = 0;   // max|a-n|
  double scale = 0;          // max(max|a|, max|n|)
  int64_t worst_index = -1;  // flat index of the entry with the largest |a-n|
  double worst_analytic = 0, worst_numeric = 0;
};

struct GradCheckReport {
  std::string subject;                   // e.g. "rmsnorm" or "deltanet(mode=chunk)"
  std::vector<TensorGradCheck> tensors;  // x, state_in (if any), then parameters in declaration order
  std::vector<std::string> violations;   // Module-contract problems; empty when fine
  double max_error() const;
  // one line per tensor: name, size, checked, error, worst entry
  std::string to_string() const;
};

// make parameter values generic for a check (see the header comment); rng drives all draws
void prepare_params_for_check(ParamArena& arena, Rng& rng);

// check `module` (a Mixer's state path too, when it is one with state_size() > 0) whose
// parameters live in `arena`. The arena is allocated and initialised here if it is not yet, and
// prepared when opt.prepare_params. Parameters are left as they were checked.
GradCheckReport gradcheck(Module& module, ParamArena& arena, const GradCheckOptions& opt = {},
                          const std::string& subject = "");

// build the entry's test instance in a fresh arena and check it
GradCheckReport gradcheck_module_entry(const ModuleEntry& entry, const GradCheckOptions& opt = {});
// build the mixer with width opt.d_model and the variant's options, and check it
GradCheckReport gradcheck_mixer_entry(const MixerEntry& entry, const OptionOverrides& variant,
                                      const GradCheckOptions& opt = {});

// "deltanet(mode=chunk,num_heads=2)": a readable label for an entry and variant
std::string describe_variant(const std::string& name, const OptionOverrides& variant);

}  // namespace db
