#include "policy-engine/event_filter.h"

namespace kata_sentry::policy {

Result<EventFilter> EventFilter::compile(std::string_view text, std::string_view origin) {
  auto src = std::make_shared<SourceText>();
  src->text = std::string(text);
  for (size_t i = 0; i < text.size(); ++i) src->positions.push_back({std::string(origin), 1, int(i) + 1});
  if (src->positions.empty()) src->positions.push_back({std::string(origin), 1, 1});

  auto located = [&](size_t offset, const std::string& message) {
    SourcePos p = src->at(offset);
    return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + message;
  };
  if (text.find_first_not_of(" \t") == std::string_view::npos) return fail(ErrorCode::invalid_argument, located(0, "the filter is empty"));

  ParseContext ctx;
  ctx.source = src.get();
  ctx.find_list = [](std::string_view) -> const std::vector<std::string>* { return nullptr; };
  ctx.find_macro = [](std::string_view) -> AstPtr { return nullptr; };
  auto parsed = parse_condition(src->text, ctx);
  if (!parsed.errors.empty() || !parsed.ast) {
    std::string all;
    for (const auto& e : parsed.errors) all += (all.empty() ? "" : "\n") + located(e.offset, e.message);
    if (all.empty()) all = located(0, "the filter does not parse");
    return fail(ErrorCode::invalid_argument, all);
  }
  EventFilter f;
  f.types_ = condition_types(*parsed.ast);
  auto node = compile_condition(*parsed.ast, f.types_);
  if (!node) return fail(ErrorCode::invalid_argument, located(node.error().offset, node.error().message));
  f.source_ = std::move(src);
  f.ast_ = std::move(parsed.ast);
  f.node_ = std::move(*node);
  return f;
}

bool EventFilter::matches(const Event& event) const noexcept {
  size_t t = static_cast<size_t>(event.type);
  if (t < types_.size() && !types_.test(t)) return false;  // the evt.type index, as rules use it
  EvalInput in{&event, nullptr};
  return node_->eval(in);
}

}  // namespace kata_sentry::policy
