// RFC 5424 syslog messages for log records:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [ks@32473 seq="N" id="UUID"] MSG
// PRI = facility * 8 + severity, where severity is the record's Falco priority (the two scales
// match: Emergency 0 ... Debug 7). The header fields are PRINTUSASCII within their RFC lengths
// (anything else becomes '_'); structured-data values escape '"', '\' and ']'. 32473 is the
// enterprise number RFC 5612 reserves for documentation: the SD-ID names kata-sentry's fields
// without claiming a registered number.
#pragma once

#include <string>
#include <string_view>

#include "exporters/export_record.h"

namespace kata_sentry::exporters {

// "local0" -> 16; -1 for an unknown name.
int syslog_facility(std::string_view name);
std::string syslog_header_field(std::string_view text, size_t max_len);
std::string syslog_sd_value(std::string_view text);
std::string rfc5424(const ExportRecord& record, int facility, std::string_view hostname, std::string_view app_name, int pid,
                    std::string_view message);
// RFC 6587 octet counting: "<length> <message>".
std::string octet_counted(std::string_view message);

}  // namespace kata_sentry::exporters
