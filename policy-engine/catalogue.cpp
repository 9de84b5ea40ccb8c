#include "policy-engine/catalogue.h"

#include "policy-engine/fields.h"

namespace kata_sentry::policy {
namespace {

std::string display_name(const FieldInfo& f) {
  std::string n(f.name);
  if (f.arg == ArgKind::index) n += "[N]";
  if (f.arg == ArgKind::key) n += "[KEY]";
  if (f.arg == ArgKind::event_arg) n += f.name == "evt.rawarg" ? ".NAME" : ".NAME | evt.arg[N]";
  return n;
}

}  // namespace

std::string field_catalogue_text() {
  std::string out = "Field catalogue (Falco names; kata-sentry additions are marked). An absent value makes\n"
                    "every comparison false, so `not <check>` is true, exactly as Falco on a field it cannot extract.\n\n";
  for (const auto& f : field_catalogue()) {
    std::string name = display_name(f);
    out += name;
    out += std::string(name.size() < 40 ? 40 - name.size() : 1, ' ');
    out += std::string(field_type_name(f.type)) + "\n    " + std::string(f.desc) + "\n";
    if (!f.absent.empty()) out += "    when absent: " + std::string(f.absent) + "\n";
  }
  return out;
}

nlohmann::json field_catalogue_json() {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : field_catalogue())
    a.push_back({{"name", display_name(f)}, {"type", field_type_name(f.type)}, {"desc", f.desc},
                 {"absent", f.absent.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.absent)}});
  return a;
}

}  // namespace kata_sentry::policy
