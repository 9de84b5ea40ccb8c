// Independent parsers, written from the specs' grammars and sharing no code with the exporters:
// RFC 5424 (HEADER SP STRUCTURED-DATA [SP MSG]) and ArcSight CEF (header fields split on
// unescaped '|', extension pairs split before the next unescaped "key=").
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace kata_sentry::test_support {

struct Syslog5424 {
  int pri = -1;
  std::string timestamp, hostname, app_name, procid, msgid;
  std::map<std::string, std::map<std::string, std::string>> sd;  // SD-ID -> PARAM-NAME -> value (unescaped)
  std::string msg;
};

inline std::optional<Syslog5424> parse_5424(const std::string& line) {
  // PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
  static const std::regex header(R"(^<(\d{1,3})>1 (\S+) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) )");
  std::smatch m;
  if (!std::regex_search(line, m, header)) return std::nullopt;
  Syslog5424 s;
  s.pri = std::stoi(m[1]);
  s.timestamp = m[2];
  s.hostname = m[3];
  s.app_name = m[4];
  s.procid = m[5];
  s.msgid = m[6];
  std::string rest = m.suffix();
  // RFC 3339 with at most 6 fraction digits, in UTC or with an offset.
  static const std::regex ts(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$)");
  if (!std::regex_match(s.timestamp, ts)) return std::nullopt;
  if (rest.starts_with("-")) {
    rest = rest.substr(1);
  } else {
    // SD-ELEMENT = "[" SD-ID *(SP PARAM-NAME "=" %d34 PARAM-VALUE %d34) "]"
    static const std::regex element(R"(^\[([!#-<>-\\^-~]{1,32})((?: [!#-<>-\\^-~]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*)\])");
    static const std::regex param(R"( ([!#-<>-\\^-~]{1,32})="((?:[^"\\\]]|\\["\\\]])*)\")");
    std::smatch e;
    bool any = false;
    while (std::regex_search(rest, e, element)) {
      any = true;
      std::string params = e[2];
      auto& map = s.sd[e[1]];
      for (std::sregex_iterator it(params.begin(), params.end(), param), end; it != end; ++it) {
        std::string v = (*it)[2], out;
        for (size_t i = 0; i < v.size(); ++i) {
          if (v[i] == '\\' && i + 1 < v.size()) ++i;
          out.push_back(v[i]);
        }
        map[(*it)[1]] = out;
      }
      rest = e.suffix();
    }
    if (!any) return std::nullopt;
  }
  if (!rest.empty()) {
    if (rest[0] != ' ') return std::nullopt;
    s.msg = rest.substr(1);
  }
  return s;
}

struct Cef {
  std::vector<std::string> header;  // version ("CEF:0"), vendor, product, version, signature id, name, severity
  std::map<std::string, std::string> ext;
};

inline std::optional<Cef> parse_cef(const std::string& text) {
  if (!text.starts_with("CEF:")) return std::nullopt;
  Cef c;
  size_t i = 0;
  std::string field;
  while (c.header.size() < 7) {
    if (i >= text.size()) return std::nullopt;
    char ch = text[i++];
    if (ch == '\\') {
      if (i >= text.size() || (text[i] != '|' && text[i] != '\\')) return std::nullopt;  // only \| and \\ in the header
      field.push_back(text[i++]);
    } else if (ch == '|') {
      c.header.push_back(field);
      field.clear();
    } else if (ch == '\n' || ch == '\r') {
      return std::nullopt;
    } else {
      field.push_back(ch);
    }
  }
  std::string ext = text.substr(i);
  // key=value, the value running to the next " key=" whose '=' is not escaped.
  static const std::regex pair(R"(([A-Za-z0-9_.]+)=((?:[^=\\]|\\[=\\nr])*?)(?= [A-Za-z0-9_.]+=|$))");
  size_t consumed = 0;
  for (std::sregex_iterator it(ext.begin(), ext.end(), pair), end; it != end; ++it) {
    if (static_cast<size_t>(it->position()) != consumed + (consumed ? 1 : 0)) return std::nullopt;  // junk between pairs
    std::string v = (*it)[2], out;
    for (size_t k = 0; k < v.size(); ++k) {
      if (v[k] == '\\' && k + 1 < v.size()) {
        char n = v[++k];
        out.push_back(n == 'n' ? '\n' : n == 'r' ? '\r' : n);
      } else {
        out.push_back(v[k]);
      }
    }
    if (c.ext.count((*it)[1])) return std::nullopt;  // a key given twice: an injected pair
    c.ext[(*it)[1]] = out;
    consumed = static_cast<size_t>(it->position() + it->length());
  }
  if (consumed != ext.size()) return std::nullopt;
  return c;
}

}  // namespace kata_sentry::test_support
