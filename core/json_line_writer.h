// A flat JSON object written straight into a string: the hot path of every event line
// (`kata-sentry trace`, the alert and audit outputs), where building a DOM first cost more
// than the rest of the pipeline. Strings are escaped as RFC 8259 requires; bytes that are not
// well-formed UTF-8 (a guest's file name can hold anything) become U+FFFD, one per byte.
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace kata_sentry {

class JsonLineWriter {
 public:
  explicit JsonLineWriter(std::string& out) : out_(out) { out_ += '{'; }
  // Closes the object; nothing may be written after.
  void finish() { out_ += '}'; }

  void field(std::string_view key, std::string_view value) {
    write_key(key);
    write_string(value);
  }
  void field(std::string_view key, const char* value) { field(key, std::string_view(value)); }
  void field(std::string_view key, const std::string& value) { field(key, std::string_view(value)); }
  void field(std::string_view key, bool value) {
    write_key(key);
    out_ += value ? "true" : "false";
  }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  void field(std::string_view key, T value) {
    write_key(key);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
  }
  void field(std::string_view key, const std::vector<std::string>& values);

  // A key written as prefix "[" index "]" (Falco's indexed fields: proc.aname[1]).
  template <typename T>
  void indexed_field(std::string_view prefix, size_t index, const T& value) {
    key_.assign(prefix);
    key_ += '[';
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, index);
    key_.append(buf, r.ptr);
    key_ += ']';
    field(key_, value);
  }

  // `s` as a JSON string (quotes included), appended to `out`.
  static void append_string(std::string& out, std::string_view s);

 private:
  void write_key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;  // our own field names: nothing to escape
    out_ += "\":";
  }
  void write_string(std::string_view s) { append_string(out_, s); }

  std::string& out_;
  std::string key_;
  bool first_ = true;
};

}  // namespace kata_sentry
