// ArcSight Common Event Format for a log record:
//   CEF:0|kata-sentry|kata-sentry|<version>|<signature id>|<name>|<severity 0-10>|<extensions>
// Escaped per the CEF rules: in the header `\` and `|` get a backslash (line breaks, which the
// header may not hold, become spaces); in extension values `\` and `=` get a backslash and line
// breaks become `\n` / `\r`. Guest strings (file names, command lines) are hostile: every field
// goes through these rules, so none can add a header field or an extension of its own.
#pragma once

#include <string>
#include <string_view>

#include "exporters/export_record.h"

namespace kata_sentry::exporters {

std::string cef_escape_header(std::string_view text);
std::string cef_escape_value(std::string_view text);
// An extension key must be [A-Za-z0-9_.]: others are dropped, never escaped into a key.
bool cef_valid_key(std::string_view key);

// Falco priority rank (0 Emergency ... 7 Debug) to CEF severity 0-10.
int cef_severity(int priority_rank);

std::string to_cef(const ExportRecord& record, std::string_view product_version);

}  // namespace kata_sentry::exporters
