// The path and comm conditions on their way to the kernels: through SetWantedTypes (the guest's
// peer may be hostile, so bad input is refused naming the type) and laid out as the maps'
// entries (identical sets shared; what does not fit is left unconstrained, never dropped).
#include <gtest/gtest.h>

#include "proto/wanted_types_convert.h"
#include "syscall-probes/field_filter_writer.h"

namespace kata_sentry {
namespace {

FieldFilters sample() {
  FieldFilters f;
  f[EventType::openat].path = std::set<StringMatch>{{"/etc/", true}, {"/root/x", false}};
  f[EventType::openat].comm = std::set<StringMatch>{{"sshd", false}};
  f[EventType::unlinkat].path = std::set<StringMatch>{{"/etc/", true}, {"/root/x", false}};
  return f;
}

TEST(FieldFiltersWire, RoundTrip) {
  v1::SetWantedTypesRequest msg;
  field_filters_to_proto(sample(), msg);
  auto back = field_filters_from_proto(msg);
  ASSERT_TRUE(back.has_value()) << back.error().describe();
  EXPECT_EQ(*back, sample());
  // An older host sends none: no condition.
  auto none = field_filters_from_proto(v1::SetWantedTypesRequest{});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(FieldFiltersWire, RefusesWhatTheKernelCannotTakeNamingTheType) {
  auto refused = [](auto&& edit) {
    v1::SetWantedTypesRequest msg;
    field_filters_to_proto(sample(), msg);
    edit(msg);
    auto r = field_filters_from_proto(msg);
    return r.has_value() ? std::string() : r.error().message;
  };
  EXPECT_NE(refused([](auto& m) { m.mutable_field_filters(0)->set_type(200); }).find("event type 200: out of range"),
            std::string::npos);
  EXPECT_NE(refused([](auto& m) { m.mutable_field_filters(1)->set_type(m.field_filters(0).type()); }).find("listed twice"),
            std::string::npos);
  EXPECT_NE(refused([](auto& m) { m.mutable_field_filters(0)->mutable_path(0)->set_text(std::string(65, 'a')); }).find("too long"),
            std::string::npos);
  EXPECT_NE(refused([](auto& m) {
              auto* c = m.mutable_field_filters(0)->mutable_comm(0);
              c->set_text("fifteen-chars-x");
              c->set_prefix(false);
            }).find("comm entry of 15 bytes"),
            std::string::npos);
  EXPECT_NE(refused([](auto& m) {
              for (int i = 0; i < 40; ++i) m.mutable_field_filters(0)->add_path()->set_text("/p" + std::to_string(i));
            }).find("at most 32"),
            std::string::npos);
}

TEST(FieldFiltersLayout, IdenticalSetsShareEntries) {
  auto t = probes::lay_out_field_filters(sample());
  EXPECT_EQ(t.entries.size(), 3u);  // /etc/ and /root/x once, sshd
  const auto& open = t.by_type[static_cast<size_t>(EventType::openat)];
  const auto& unlink = t.by_type[static_cast<size_t>(EventType::unlinkat)];
  EXPECT_EQ(open.path_count, 2);
  EXPECT_EQ(open.path_start, unlink.path_start);
  EXPECT_EQ(open.comm_count, 1);
  EXPECT_EQ(unlink.comm_count, 0);  // unconstrained
  const auto& e = t.entries[open.path_start];
  EXPECT_EQ(std::string(e.text, e.len), "/etc/");
  EXPECT_EQ(e.exact, 0);
  EXPECT_EQ(t.dropped_types, 0u);
}

TEST(FieldFiltersLayout, WhatDoesNotFitIsLeftUnconstrained) {
  FieldFilters f;
  for (size_t i = 1; i < kEventTypeSlots; ++i) {
    std::set<StringMatch> m;
    for (size_t k = 0; k < kFilterMaxPerField; ++k) m.insert({"/t" + std::to_string(i) + "/" + std::to_string(k), true});
    f[static_cast<EventType>(i)].path = m;
  }
  auto t = probes::lay_out_field_filters(f);
  EXPECT_LE(t.entries.size(), static_cast<size_t>(KS_FILTER_MAX_ENTRIES));
  EXPECT_GT(t.dropped_types, 0u);
  size_t constrained = 0;
  for (const auto& d : t.by_type) constrained += d.path_count ? 1 : 0;
  EXPECT_EQ(constrained + t.dropped_types, kEventTypeSlots - 1);
}

}  // namespace
}  // namespace kata_sentry
