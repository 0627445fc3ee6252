// shard.cpp: --shard and Slurm array parsing (see shard.h).
#include "harness/sweep/shard.h"

#include <cstdlib>
#include <fmt/format.h>

#include "harness/config/experiment_error.h"

namespace db {

namespace {
std::optional<size_t> parse_count(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return std::nullopt;
  return static_cast<size_t>(std::stoul(s));
}
}  // namespace

std::string Shard::describe() const { return fmt::format("{}/{}", index, count); }

Shard parse_shard(const std::string& text) {
  const Origin origin = Origin::from_cli("--shard " + text);
  const size_t slash = text.find('/');
  const auto index = slash == std::string::npos ? std::nullopt : parse_count(text.substr(0, slash));
  const auto count = slash == std::string::npos ? std::nullopt : parse_count(text.substr(slash + 1));
  if (!index || !count) throw ExperimentError(origin, "", "expected i/n with 0 <= i < n, e.g. --shard 0/4");
  if (*count == 0 || *index >= *count)
    throw ExperimentError(origin, "", fmt::format("shard index must be in [0, {}), got {}", *count, *index));
  return Shard{*index, *count};
}

std::optional<Shard> shard_from_slurm(const std::map<std::string, std::string>& env) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() || it->second.empty() ? std::nullopt : std::optional<std::string>(it->second);
  };
  const auto id = get("SLURM_ARRAY_TASK_ID");
  const auto count = get("SLURM_ARRAY_TASK_COUNT");
  if (!id || !count) return std::nullopt;
  const Origin origin = Origin::from_cli("SLURM_ARRAY_TASK_ID=" + *id + " SLURM_ARRAY_TASK_COUNT=" + *count);
  const auto i = parse_count(*id), n = parse_count(*count);
  const auto min = get("SLURM_ARRAY_TASK_MIN") ? parse_count(*get("SLURM_ARRAY_TASK_MIN")) : std::optional<size_t>(0);
  if (!i || !n || !min || *n == 0 || *i < *min || *i - *min >= *n)
    throw ExperimentError(origin, "", "cannot derive a shard from these Slurm array variables (pass --shard i/n)");
  return Shard{*i - *min, *n};
}

std::map<std::string, std::string> slurm_environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"})
    if (const char* v = std::getenv(name)) env[name] = v;
  return env;
}

Shard choose_shard(const std::string& shard_flag, const std::map<std::string, std::string>& env) {
  if (!shard_flag.empty()) return parse_shard(shard_flag);
  if (auto s = shard_from_slurm(env)) return *s;
  return Shard{};
}

}  // namespace db
