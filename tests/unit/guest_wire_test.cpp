// The guest batch decoder: what a hostile guest's bytes may become on the host.
#include <gtest/gtest.h>

#include "guest_wire.h"
#include "tests/support/event_builder.h"

namespace kata_sentry {
namespace {

using testing::EventBuilder;

TEST(GuestWire, AnyFileNameSurvivesTheTripByteForByte) {
  GuestEventBatch b;
  b.first_seq = 7;
  b.events = {EventBuilder().open(std::string("/tmp/\xff\xfe\x80x", 9)).guest().container("c1").name("c\xc3\x28t")};
  auto d = decode_guest_batch(encode_guest_batch(b));
  ASSERT_TRUE(d) << d.error().detail;
  ASSERT_EQ(d->events.size(), 1u);
  EXPECT_EQ(d->events[0].path, std::string("/tmp/\xff\xfe\x80x", 9));
  EXPECT_EQ(d->events[0].proc.name, "c\xc3\x28t");
  EXPECT_EQ(d->first_seq, 7u);
}

TEST(GuestWire, WhatOnlyTheHostMaySetIsCleared) {
  GuestEventBatch b;
  Event e = EventBuilder().open("/x").sandbox("forged", "forged-name").build();
  e.view = View::host;
  e.vmm_pid = 1;
  e.host_time_ns = 42;
  e.pod_name = "forged-pod";
  e.pod_namespace = "forged-ns";
  e.pod_uid = "forged-uid";
  b.events = {e};
  auto d = decode_guest_batch(encode_guest_batch(b));
  ASSERT_TRUE(d);
  const Event& got = d->events[0];
  EXPECT_EQ(got.view, View::guest);
  EXPECT_TRUE(got.sandbox_id.empty() && got.sandbox_name.empty() && got.pod_name.empty());
  EXPECT_TRUE(got.pod_namespace.empty() && got.pod_uid.empty());
  EXPECT_EQ(got.vmm_pid, 0u);
  EXPECT_EQ(got.host_time_ns, 0u);
}

TEST(GuestWire, RefusalsNameTheirReason) {
  GuestBatchLimits limits;
  limits.max_wire_bytes = 64;
  EXPECT_EQ(decode_guest_batch(std::string(65, '\0'), limits).error().reason, GuestDropReason::oversized);
  EXPECT_EQ(decode_guest_batch(std::string("\x12\xff\xff\xff\x0f", 5)).error().reason, GuestDropReason::malformed);
  EXPECT_EQ(decode_guest_batch(std::string("\x0a", 1)).error().reason, GuestDropReason::malformed) << "a truncated tag";

  GuestEventBatch unknown;
  unknown.events = {EventBuilder().open("/x").build()};
  unknown.events[0].type = static_cast<EventType>(999);
  EXPECT_EQ(decode_guest_batch(encode_guest_batch(unknown)).error().reason, GuestDropReason::invalid_event);

  GuestEventBatch many;
  many.events.resize(4097, EventBuilder().build());
  EXPECT_EQ(decode_guest_batch(encode_guest_batch(many)).error().reason, GuestDropReason::too_many_events);
}

TEST(GuestWire, PerEventListsAreBounded) {
  GuestEventBatch args;
  args.events = {EventBuilder().exec("/bin/x").build()};
  args.events[0].proc.args.assign(1025, "a");
  auto d = decode_guest_batch(encode_guest_batch(args));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, GuestDropReason::too_many_events);
  EXPECT_NE(d.error().detail.find("more than 1024 arguments"), std::string::npos) << d.error().detail;

  GuestEventBatch env;
  env.events = {EventBuilder().exec("/bin/x").build()};
  env.events[0].proc.env.assign(1024, "A=b");
  EXPECT_TRUE(decode_guest_batch(encode_guest_batch(env))) << "1024 environment strings is the limit, not past it";
  env.events[0].proc.env.push_back("A=b");
  auto de = decode_guest_batch(encode_guest_batch(env));
  ASSERT_FALSE(de);
  EXPECT_NE(de.error().detail.find("more than 1024 environment strings"), std::string::npos) << de.error().detail;

  GuestEventBatch ancestors;
  ancestors.events = {EventBuilder().exec("/bin/x").build()};
  ancestors.events[0].proc.ancestors.assign(33, Ancestor{1, "", "", ""});
  EXPECT_EQ(decode_guest_batch(encode_guest_batch(ancestors)).error().reason, GuestDropReason::too_many_events);

  GuestEventBatch numbers;
  numbers.events = {EventBuilder().open("/x").build()};
  numbers.events[0].arg.assign(17, 1);
  EXPECT_EQ(decode_guest_batch(encode_guest_batch(numbers)).error().reason, GuestDropReason::too_many_events);
}

// An empty string costs 2 bytes on the wire and ~32 in memory: a batch within every count
// limit can still be refused for what it would become, before anything is allocated for it.
TEST(GuestWire, AmplificationIsRefusedOnTheEstimateBeforeDecoding) {
  GuestEventBatch wide;
  Event e = EventBuilder().exec("/bin/x").build();
  e.proc.args.assign(250, "");
  wide.events.assign(4096, e);
  std::string wire = encode_guest_batch(wide);
  ASSERT_LT(wire.size(), 4u << 20) << "within the wire limit";
  auto d = decode_guest_batch(wire);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, GuestDropReason::oversized);
  EXPECT_NE(d.error().detail.find("would decode into"), std::string::npos) << d.error().detail;
}

// Each process's image (exepath, argv, cwd, ancestors) goes once per batch; every event comes
// back whole, and an exec in the middle of the batch gives the process a second image.
TEST(GuestWire, ProcessImagesAreSentOncePerBatchAndEveryEventComesBackWhole) {
  auto opener = [](uint32_t pid, std::string exe, std::vector<std::string> args) {
    Event e = EventBuilder().open("/dev/null").guest().container("c1").build();
    e.proc.pid = e.proc.tid = pid;
    e.proc.exepath = std::move(exe);
    e.proc.args = std::move(args);
    e.proc.cwd = "/work";
    e.proc.pname = "sh";
    e.proc.ancestors = {{1, "sh", "/bin/sh", "sh -c x"}, {0, "init", "/sbin/init", "init"}};
    return e;
  };
  GuestEventBatch b;
  b.first_seq = 100;
  for (int i = 0; i < 3; ++i) {
    b.events.push_back(opener(10, "/bin/cat", {"a.txt"}));
    b.events.push_back(opener(11, "/bin/grep", {"-r", "x"}));
  }
  Event exec = EventBuilder().exec("/bin/ls").guest().container("c1").build();
  exec.proc.pid = 10;
  exec.proc.env = {"HOME=/root"};
  b.events.push_back(exec);
  b.events.push_back(opener(10, "/bin/ls", {"-l"}));

  std::string wire = encode_guest_batch(b);
  v1::EventBatch msg;
  ASSERT_TRUE(msg.ParseFromString(wire));
  EXPECT_EQ(msg.processes_size(), 4) << "cat, grep, the exec's ls and the ls image that follows it";
  EXPECT_EQ(msg.events(0).proc().args_size(), 0) << "the image is not repeated in the event";

  auto d = decode_guest_batch(wire);
  ASSERT_TRUE(d) << d.error().detail;
  ASSERT_EQ(d->events.size(), b.events.size());
  for (size_t i = 0; i < b.events.size(); ++i) EXPECT_EQ(d->events[i], b.events[i]) << "event " << i;
}

// What a hostile guest can do with references: point past the images, or send one image and
// refer to it from every event, so that each copy costs memory the wire size does not show.
TEST(GuestWire, ProcessImageReferencesAreCheckedAndCountedPerCopy) {
  v1::EventBatch dangling;
  auto* e = dangling.add_events();
  e->set_type(uint32_t(EventType::openat));
  e->set_view(v1::VIEW_GUEST);
  e->set_proc_ref(2);
  dangling.add_processes()->set_exepath("/bin/x");
  auto d = decode_guest_batch(dangling.SerializeAsString());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, GuestDropReason::invalid_event);
  EXPECT_NE(d.error().detail.find("process image 2 of 1"), std::string::npos) << d.error().detail;

  v1::EventBatch amplifying;
  auto* image = amplifying.add_processes();
  for (int i = 0; i < 64; ++i) image->add_args(std::string(1024, 'a'));  // 64 KiB, once
  for (int i = 0; i < 4096; ++i) {
    auto* ev = amplifying.add_events();
    ev->set_type(uint32_t(EventType::openat));
    ev->set_proc_ref(1);
  }
  std::string wire = amplifying.SerializeAsString();
  ASSERT_LT(wire.size(), 200u << 10) << "small on the wire";
  auto a = decode_guest_batch(wire);
  ASSERT_FALSE(a) << "4096 copies of 64 KiB";
  EXPECT_EQ(a.error().reason, GuestDropReason::oversized);
  EXPECT_NE(a.error().detail.find("would decode into"), std::string::npos) << a.error().detail;

  v1::EventBatch images;
  for (int i = 0; i < 4097; ++i) images.add_processes()->set_pid(uint32_t(i));
  auto m = decode_guest_batch(images.SerializeAsString());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().reason, GuestDropReason::too_many_events);

  v1::EventBatch many_args;
  many_args.add_events()->set_proc_ref(1);
  auto* wide = many_args.add_processes();
  for (int i = 0; i < 1025; ++i) wide->add_args("a");
  auto w = decode_guest_batch(many_args.SerializeAsString());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().detail.find("more than 1024 arguments"), std::string::npos) << w.error().detail;
}

}  // namespace
}  // namespace kata_sentry
