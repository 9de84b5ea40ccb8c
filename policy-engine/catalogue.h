// The field catalogue for people (`kata-sentry rules fields`) and as JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kata_sentry::policy {

std::string field_catalogue_text();
nlohmann::json field_catalogue_json();

}  // namespace kata_sentry::policy
