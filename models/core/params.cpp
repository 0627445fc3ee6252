// params.cpp: the flat parameter arena (see params.h).
#include "models/core/params.h"

#include <stdexcept>

namespace db {

real* Param::data() const { return arena_->values_.data() + arena_->params_[index_].offset; }
real* Param::grad() const { return arena_->grads_.data() + arena_->params_[index_].offset; }
const ParamInfo& Param::info() const { return arena_->params_[index_]; }

ParamArena::Scope::Scope(ParamArena& a, const std::string& name) : arena_(a) { arena_.scope_.push_back(name); }
ParamArena::Scope::~Scope() { arena_.scope_.pop_back(); }

std::string ParamArena::scoped(const std::string& name) const {
  std::string full;
  for (const auto& s : scope_) full += s + ".";
  return full + name;
}

Param ParamArena::add(const std::string& name, std::vector<int64_t> shape, ParamInit init, bool weight_decay) {
  if (allocated_) throw std::logic_error("ParamArena::add after allocate: " + name);
  ParamInfo info;
  info.name = scoped(name);
  if (find(info.name) >= 0) throw std::logic_error("duplicate parameter name " + info.name);
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  info.shape = std::move(shape);
  // keep every tensor 64-byte aligned inside the buffer
  const size_t align = 64 / sizeof(real);
  total_ = (total_ + align - 1) / align * align;
  info.offset = total_;
  info.size = n;
  info.weight_decay = weight_decay;
  info.init = std::move(init);
  total_ += n;
  params_.push_back(std::move(info));
  return Param(this, params_.size() - 1);
}

void ParamArena::allocate() {
  values_.assign(total_, real(0));
  grads_.assign(total_, real(0));
  allocated_ = true;
}

void ParamArena::initialize(Rng& rng) {
  if (!allocated_) allocate();
  for (auto& p : params_) {
    real* d = values_.data() + p.offset;
    switch (p.init.kind) {
      case ParamInit::Kind::normal:
        for (size_t i = 0; i < p.size; ++i) d[i] = static_cast<real>(rng.normal() * p.init.value);
        break;
      case ParamInit::Kind::constant:
        for (size_t i = 0; i < p.size; ++i) d[i] = static_cast<real>(p.init.value);
        break;
      case ParamInit::Kind::custom:
        p.init.fill(d, p.size, rng);
        break;
    }
  }
}

void ParamArena::zero_grad() { std::fill(grads_.begin(), grads_.end(), real(0)); }

int ParamArena::find(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace db
