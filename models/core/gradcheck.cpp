// gradcheck.cpp: finite-difference gradient checks (see gradcheck.h).
#include "models/core/gradcheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace db {
namespace {

RealVector normal_vector(size_t n, double std, Rng& rng) {
  RealVector v(n);
  for (auto& e : v) e = static_cast<real>(rng.normal() * std);
  return v;
}

bool has_nan(const RealVector& v) {
  return std::any_of(v.begin(), v.end(), [](real e) { return std::isnan(e); });
}

// entries to perturb: all when the tensor is small enough, else a random sample (sorted)
std::vector<int64_t> sample_indices(int64_t n, int cap, Rng& rng) {
  std::vector<int64_t> idx;
  if (n <= cap) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    idx = rng.sample_without_replacement(n, cap);
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

// max |a - b| relative to max(max|a|, max|b|, floor), for the contract comparisons
double rel_diff(const real* a, const real* b, size_t n, double floor) {
  double d = 0, s = 0;
  for (size_t i = 0; i < n; ++i) {
    d = std::max(d, std::abs(double(a[i]) - double(b[i])));
    s = std::max({s, std::abs(double(a[i])), std::abs(double(b[i]))});
  }
  return d / std::max(s, floor);
}

}  // namespace

double GradCheckReport::max_error() const {
  double m = 0;
  for (const auto& t : tensors) m = std::max(m, t.error);
  return m;
}

std::string GradCheckReport::to_string() const {
  std::ostringstream os;
  os << fmt::format("gradcheck {}\n", subject);
  os << fmt::format("  {:<44} {:>7} {:>7} {:>10} {:>10} {:>8} {:>13} {:>13}\n", "tensor", "size", "checked", "error",
                    "scale", "worst", "analytic", "numeric");
  for (const auto& t : tensors)
    os << fmt::format("  {:<44} {:>7} {:>7} {:>10.3e} {:>10.3e} {:>8} {:>13.6e} {:>13.6e}\n", t.name, t.size, t.checked,
                      t.error, t.scale, t.worst_index, t.worst_analytic, t.worst_numeric);
  for (const auto& v : violations) os << "  contract: " << v << "\n";
  return os.str();
}

void prepare_params_for_check(ParamArena& arena, Rng& rng) {
  for (const auto& p : arena.params()) {
    real* d = arena.data() + p.offset;
    switch (p.init.kind) {
      case ParamInit::Kind::constant:
        for (size_t i = 0; i < p.size; ++i) d[i] = static_cast<real>(p.init.value + 0.25 * rng.normal());
        break;
      case ParamInit::Kind::normal: {
        int64_t fan_in = 1;
        for (size_t k = 1; k < p.shape.size(); ++k) fan_in *= p.shape[k];
        const double std = std::max(p.init.value, 0.5 / std::sqrt(double(fan_in)));
        for (size_t i = 0; i < p.size; ++i) d[i] = static_cast<real>(std * rng.normal());
        break;
      }
      case ParamInit::Kind::custom:
        for (size_t i = 0; i < p.size; ++i)
          d[i] = static_cast<real>(d[i] + 0.1 * std::max(std::abs(double(d[i])), 0.1) * rng.normal());
        break;
    }
  }
}

GradCheckReport gradcheck(Module& module, ParamArena& arena, const GradCheckOptions& opt, const std::string& subject) {
  GradCheckReport report;
  report.subject = subject;
  Rng rng(opt.seed);
  if (!arena.allocated()) arena.initialize(rng);
  if (opt.prepare_params) prepare_params_for_check(arena, rng);

  Mixer* mixer = dynamic_cast<Mixer*>(&module);
  const int B = opt.B, T = opt.T;
  const int64_t S = mixer ? mixer->state_size() : 0;
  const size_t nx = size_t(B) * T * module.in_dim(), ny = size_t(B) * T * module.out_dim(), ns = size_t(B) * S;

  RealVector x = normal_vector(nx, 1.0, rng);           // [B,T,in]
  RealVector dy = normal_vector(ny, 1.0, rng);          // [B,T,out]
  RealVector state_in = normal_vector(ns, 0.5, rng);    // [B,S]
  RealVector dstate_out = normal_vector(ns, 1.0, rng);  // [B,S]
  RealVector y(ny), state_out(ns);                      // forward outputs

  auto run_forward = [&]() {
    if (S > 0)
      mixer->forward_stateful(x.data(), y.data(), B, T, state_in.data(), state_out.data());
    else
      module.forward(x.data(), y.data(), B, T);
  };
  auto loss = [&]() {
    run_forward();
    double L = 0;
    for (size_t i = 0; i < ny; ++i) L += double(y[i]) * double(dy[i]);
    for (size_t i = 0; i < ns; ++i) L += double(state_out[i]) * double(dstate_out[i]);
    return L;
  };
  const real nan = std::numeric_limits<real>::quiet_NaN();
  RealVector dx(nx), dstate_in(ns);  // [B,T,in], [B,S]
  auto run_backward = [&]() {
    std::fill(dx.begin(), dx.end(), nan);
    std::fill(dstate_in.begin(), dstate_in.end(), nan);
    if (S > 0)
      mixer->backward_stateful(dy.data(), dstate_out.data(), dx.data(), dstate_in.data());
    else
      module.backward(dy.data(), dx.data());
  };

  // analytic gradients
  arena.zero_grad();
  const double L0 = loss();
  RealVector y0 = y, state_out0 = state_out;
  run_backward();
  const RealVector dx_a = dx, dstate_in_a = dstate_in;
  const RealVector grads_a(arena.grad(), arena.grad() + arena.size());

  if (opt.check_contract) {
    if (has_nan(dx_a)) report.violations.push_back("backward left entries of dx unwritten (or produced NaN)");
    if (has_nan(dstate_in_a))
      report.violations.push_back("backward_stateful left entries of dstate_in unwritten (or produced NaN)");
    // a second pair without zero_grad: same outputs, same dx, parameter gradients doubled
    const double L1 = loss();
    if (rel_diff(y.data(), y0.data(), ny, opt.floor) > 1e-12 ||
        rel_diff(state_out.data(), state_out0.data(), ns, opt.floor) > 1e-12 || std::isnan(L1) != std::isnan(L0))
      report.violations.push_back("a repeated forward gives different outputs (hidden state kept between calls?)");
    run_backward();
    if (rel_diff(dx.data(), dx_a.data(), nx, opt.floor) > 1e-10)
      report.violations.push_back("a repeated backward gives a different dx (dx accumulated instead of overwritten?)");
    if (rel_diff(dstate_in.data(), dstate_in_a.data(), ns, opt.floor) > 1e-10)
      report.violations.push_back("a repeated backward gives a different dstate_in");
    for (const auto& p : arena.params()) {
      RealVector twice(p.size);
      for (size_t i = 0; i < p.size; ++i) twice[i] = 2 * grads_a[p.offset + i];
      if (rel_diff(arena.grad() + p.offset, twice.data(), p.size, opt.floor) > 1e-10)
        report.violations.push_back("gradient of " + p.name +
                                    " does not accumulate over two backward calls (overwritten instead of added?)");
    }
  }

  // numeric gradients, one tensor at a time
  auto check_tensor = [&](const std::string& name, real* values, const real* analytic, int64_t n) {
    TensorGradCheck t;
    t.name = name;
    t.size = n;
    if (n == 0) return;
    double amax = 0, nmax = 0;
    for (int64_t i : sample_indices(n, opt.max_elements, rng)) {
      const real v = values[i];
      values[i] = static_cast<real>(v + opt.h);
      const double lp = loss();
      values[i] = static_cast<real>(v - opt.h);
      const double lm = loss();
      values[i] = v;
      const double num = (lp - lm) / (2 * opt.h);
      const double a = analytic[i];
      const double diff =
          std::isnan(a) || std::isnan(num) ? std::numeric_limits<double>::infinity() : std::abs(a - num);
      amax = std::max(amax, std::abs(a));
      nmax = std::max(nmax, std::abs(num));
      if (t.worst_index < 0 || diff > t.max_abs_diff) {
        t.max_abs_diff = diff;
        t.worst_index = i;
        t.worst_analytic = a;
        t.worst_numeric = num;
      }
      ++t.checked;
    }
    t.scale = std::max(amax, nmax);
    t.error = t.max_abs_diff / std::max(t.scale, opt.floor);
    report.tensors.push_back(t);
  };

  check_tensor("x", x.data(), dx_a.data(), static_cast<int64_t>(nx));
  if (S > 0) check_tensor("state_in", state_in.data(), dstate_in_a.data(), static_cast<int64_t>(ns));
  for (const auto& p : arena.params())
    check_tensor(p.name, arena.data() + p.offset, grads_a.data() + p.offset, static_cast<int64_t>(p.size));
  return report;
}

GradCheckReport gradcheck_module_entry(const ModuleEntry& entry, const GradCheckOptions& opt) {
  ParamArena arena;
  auto module = entry.create_for_test(arena);
  return gradcheck(*module, arena, opt, entry.name);
}

GradCheckReport gradcheck_mixer_entry(const MixerEntry& entry, const OptionOverrides& variant,
                                      const GradCheckOptions& opt) {
  ParamArena arena;
  auto mixer = entry.create(opt.d_model, Options::resolve(entry.options, variant), arena);
  return gradcheck(*mixer, arena, opt, describe_variant(entry.name, variant));
}

std::string describe_variant(const std::string& name, const OptionOverrides& variant) {
  std::string s = name + "(";
  bool first = true;
  for (const auto& [k, v] : variant) {
    s += (first ? "" : ",") + k + "=" + option_to_string(v);
    first = false;
  }
  return s + ")";
}

}  // namespace db
