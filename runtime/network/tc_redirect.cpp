#include "runtime/network/tc_redirect.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>

#include <cstring>
#include <vector>

namespace kata_sentry::network {
namespace {

constexpr uint32_t kIngressHandle = 0xffff0000;  // "ffff:", the handle tc gives the ingress qdisc
constexpr uint16_t kFilterPrio = 1;

Status add_ingress(netlink::Socket& nl, const netlink::Link& link) {
  netlink::Message m(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL);
  auto& tc = m.header<tcmsg>();
  tc.tcm_family = AF_UNSPEC;
  tc.tcm_ifindex = link.index;
  tc.tcm_handle = kIngressHandle;
  tc.tcm_parent = TC_H_INGRESS;
  m.put_string(TCA_KIND, "ingress");
  m.end_nested(m.begin_nested(TCA_OPTIONS));
  auto st = nl.request(m, "add ingress qdisc on " + link.name);
  if (!st && st.error().sys_errno == EEXIST) return {};
  return st;
}

}  // namespace

Status add_redirect(netlink::Socket& nl, const netlink::Link& from, const netlink::Link& to) {
  if (auto st = add_ingress(nl, from); !st) return st;
  netlink::Message m(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
  auto& tc = m.header<tcmsg>();
  tc.tcm_family = AF_UNSPEC;
  tc.tcm_ifindex = from.index;
  tc.tcm_parent = kIngressHandle;
  tc.tcm_info = TC_H_MAKE(uint32_t(kFilterPrio) << 16, htons(ETH_P_ALL));
  m.put_string(TCA_KIND, "u32");
  size_t options = m.begin_nested(TCA_OPTIONS);
  {
    // One key with mask 0 matches every packet ("match u8 0 0"); terminal: stop at this node.
    std::vector<uint8_t> sel(sizeof(tc_u32_sel) + sizeof(tc_u32_key), 0);
    auto* s = reinterpret_cast<tc_u32_sel*>(sel.data());
    s->flags = TC_U32_TERMINAL;
    s->nkeys = 1;
    m.put(TCA_U32_SEL, sel.data(), sel.size());
    size_t acts = m.begin_nested(TCA_U32_ACT);
    size_t first = m.begin_nested(1);  // action slot 1
    m.put_string(TCA_ACT_KIND, "mirred");
    size_t act_options = m.begin_nested(TCA_ACT_OPTIONS);
    tc_mirred parms{};
    parms.action = TC_ACT_STOLEN;
    parms.eaction = TCA_EGRESS_REDIR;
    parms.ifindex = uint32_t(to.index);
    m.put(TCA_MIRRED_PARMS, &parms, sizeof parms);
    m.end_nested(act_options);
    m.end_nested(first);
    m.end_nested(acts);
  }
  m.end_nested(options);
  return nl.request(m, "add redirect filter " + from.name + " -> " + to.name);
}

Status remove_ingress(netlink::Socket& nl, const netlink::Link& link) {
  netlink::Message m(RTM_DELQDISC, 0);
  auto& tc = m.header<tcmsg>();
  tc.tcm_family = AF_UNSPEC;
  tc.tcm_ifindex = link.index;
  tc.tcm_handle = kIngressHandle;
  tc.tcm_parent = TC_H_INGRESS;
  auto st = nl.request(m, "delete ingress qdisc on " + link.name);
  // Gone already (no qdisc, or the device itself went with its namespace).
  if (!st && (st.error().sys_errno == ENOENT || st.error().sys_errno == EINVAL || st.error().sys_errno == ENODEV)) return {};
  return st;
}

Result<bool> has_ingress(netlink::Socket& nl, int ifindex) {
  auto all = nl.qdiscs(ifindex);
  if (!all) return std::unexpected(all.error());
  for (const auto& q : *all)
    if (q.kind == "ingress") return true;
  return false;
}

}  // namespace kata_sentry::network
