// gatewise binding — the mixture-of-experts gates and combination (native/ops/moe). The caller
// (lib/ops/moe.ts) has validated everything and allocates every output; here only shapes,
// dtypes, devices and overlaps are re-checked, naming the bad argument.
#include "../ops/moe/moe.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

namespace {

/// x (E, B, H) — or (B, E, H) when batch_major — gates (B, T, E), personalGate (B, E) | null from
/// argument index i, then scale.
MoeCombineArgs combine_args(const Napi::CallbackInfo& info, size_t i, bool batch_major, const Tensor*& x,
                            const Tensor*& g, const Tensor*& pg) {
  x = &arg_tensor(info, i, "experts");
  g = &arg_tensor(info, i + 1, "gates");
  pg = arg_opt_tensor(info, i + 2, "personalGate");
  check_dtype(*x, DType::kF32, "experts");
  GW_CHECK(x->dim() == 3, kShape, "Expected a 3-D tensor (", batch_major ? "batch, experts" : "experts, batch",
           ", hidden) for experts but received ", shape_str(x->shape()));
  check_dtype(*g, DType::kF32, "gates");
  GW_CHECK(g->dim() == 3, kShape, "Expected a 3-D tensor (batch, tasks, experts) for gates but received ",
           shape_str(g->shape()));
  MoeCombineArgs a;
  a.batch_major = batch_major;
  a.experts = x->size(batch_major ? 1 : 0), a.batch = x->size(batch_major ? 0 : 1), a.hidden = x->size(2);
  a.tasks = g->size(1);
  check_operand(*g, {a.batch, a.tasks, a.experts}, *x, "gates", "experts");
  if (pg) check_operand(*pg, {a.batch, a.experts}, *x, "personalGate", "experts");
  a.scale = static_cast<float>(arg_number(info, i + 3, "scale"));
  a.x = x->data<float>(), a.g = g->data<float>(), a.pg = pg ? pg->data<float>() : nullptr;
  return a;
}

}  // namespace

// moeGate(logits, tasks, p, shared, seed, offset, gates, keep|null):
//   gates = softmax over the experts that survive gate dropout (moe.h); keep uint8 1 = survived.
// logits (B·T, E) float32 (sample-major rows); gates like logits; keep (B·T, E) uint8.
GW_BINDING(moe_gate) {
  const Tensor& z = arg_tensor(info, 0, "logits");
  MoeGateArgs a;
  a.tasks = arg_int(info, 1, "tasks");
  const double p = arg_number(info, 2, "p");
  a.shared = arg_bool(info, 3, "shared");
  a.seed = arg_u64(info, 4, "seed"), a.offset = arg_u64(info, 5, "offset");
  const Tensor& gates = arg_tensor(info, 6, "gates");
  const Tensor* keep = arg_opt_tensor(info, 7, "keep");
  check_dtype(z, DType::kF32, "logits");
  GW_CHECK(z.dim() == 2, kShape, "Expected a 2-D tensor (batch·tasks, experts) for logits but received ",
           shape_str(z.shape()));
  GW_CHECK(p >= 0 && p < 1, kArgument, "Expected a probability in [0, 1) for p but received ", p);
  a.p = static_cast<float>(p);
  a.rows = z.size(0), a.experts = z.size(1);
  check_operand(gates, z.shape(), z, "gates", "logits");
  if (keep) check_operand(*keep, z.shape(), z, "keep", "logits", DType::kU8);
  check_disjoint({{&gates, "gates"}, {keep, "keep"}}, {{&z, "logits"}});
  a.logits = z.data<float>(), a.gates = gates.data<float>(), a.keep = keep ? keep->data<uint8_t>() : nullptr;
  GW_DISPATCH(z.device(), moe_gate_forward, a);
  return info.Env().Undefined();
}

// moeCombine(experts, gates, personalGate|null, scale, out, batchMajor):
//   out[t, b, :] = scale · Σ_e gates[b, t, e] · personalGate[b, e] · experts[e, b, :]
// experts (E, B, H), or (B, E, H) when batchMajor; gates (B, T, E), personalGate (B, E); out
// (T, B, H) written.
GW_BINDING(moe_combine) {
  const Tensor *x, *g, *pg;
  const MoeCombineArgs a = combine_args(info, 0, arg_bool(info, 5, "batchMajor"), x, g, pg);
  const Tensor& out = arg_tensor(info, 4, "out");
  check_operand(out, {a.tasks, a.batch, a.hidden}, *x, "out", "experts");
  check_disjoint({{&out, "out"}}, {{x, "experts"}, {g, "gates"}, {pg, "personalGate"}});
  GW_DISPATCH(x->device(), moe_combine_forward, a, out.data<float>());
  return info.Env().Undefined();
}

// moeCombineBackward(experts, gates, personalGate|null, scale, dout, dExperts|null, dGates|null,
//                    dPersonalGate|null, batchMajor): every gradient overwritten (moe.h).
GW_BINDING(moe_combine_backward) {
  const Tensor *x, *g, *pg;
  const MoeCombineArgs a = combine_args(info, 0, arg_bool(info, 8, "batchMajor"), x, g, pg);
  const Tensor& dout = arg_tensor(info, 4, "dout");
  const Tensor* dx = arg_opt_tensor(info, 5, "dExperts");
  const Tensor* dg = arg_opt_tensor(info, 6, "dGates");
  const Tensor* dpg = arg_opt_tensor(info, 7, "dPersonalGate");
  check_operand(dout, {a.tasks, a.batch, a.hidden}, *x, "dout", "experts");
  if (dx) check_operand(*dx, x->shape(), *x, "dExperts", "experts");
  if (dg) check_operand(*dg, g->shape(), *x, "dGates", "experts");
  GW_CHECK(!dpg || pg, kArgument, "dPersonalGate needs personalGate");
  if (dpg) check_operand(*dpg, pg->shape(), *x, "dPersonalGate", "experts");
  check_disjoint({{dx, "dExperts"}, {dg, "dGates"}, {dpg, "dPersonalGate"}},
                 {{x, "experts"}, {g, "gates"}, {pg, "personalGate"}, {&dout, "dout"}});
  MoeCombineGrads grads;
  grads.dout = dout.data<float>();
  grads.dx = dx ? dx->data<float>() : nullptr;
  grads.dg = dg ? dg->data<float>() : nullptr;
  grads.dpg = dpg ? dpg->data<float>() : nullptr;
  GW_DISPATCH(x->device(), moe_combine_backward, a, grads);
  return info.Env().Undefined();
}

void register_moe(Napi::Env env, Napi::Object exports) {
  def(env, exports, "moeGate", moe_gate);
  def(env, exports, "moeCombine", moe_combine);
  def(env, exports, "moeCombineBackward", moe_combine_backward);
}

static const Registration reg(register_moe);

}  // namespace gw::binding
