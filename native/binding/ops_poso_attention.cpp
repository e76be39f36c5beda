// gatewise binding — POSO multi-head attention (native/ops/poso_attention). The caller
// (lib/ops/poso-attention.ts) has validated everything and allocates every output; here only
// shapes, dtypes, devices and overlaps are re-checked, naming the bad argument.
#include <string>

#include "../ops/poso_attention/poso_attention.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

namespace {

/// The inputs shared by both calls, from argument index i: q, k, v, gk|null, gv|null,
/// lengths|null, mask|null; then heads, scale and softmaxScale from index is.
struct Inputs {
  const Tensor *q, *k, *v, *gk, *gv, *lengths, *mask;
  PosoAttentionArgs a;
};

Inputs inputs(const Napi::CallbackInfo& info, size_t i, size_t is) {
  Inputs in{};
  in.q = &arg_tensor(info, i, "q");
  in.k = &arg_tensor(info, i + 1, "k");
  in.v = &arg_tensor(info, i + 2, "v");
  in.gk = arg_opt_tensor(info, i + 3, "keyGate");
  in.gv = arg_opt_tensor(info, i + 4, "valueGate");
  in.lengths = arg_opt_tensor(info, i + 5, "lengths");
  in.mask = arg_opt_tensor(info, i + 6, "mask");
  PosoAttentionArgs& a = in.a;
  a.heads = arg_int(info, is, "heads");
  a.scale = static_cast<float>(arg_number(info, is + 1, "scale"));
  a.softmax_scale = static_cast<float>(arg_number(info, is + 2, "softmaxScale"));
  const Tensor& q = *in.q;
  check_dtype(q, DType::kF32, "q");
  GW_CHECK(q.dim() == 3, kShape, "Expected a 3-D tensor (batch, queries, dim) for q but received ",
           shape_str(q.shape()));
  GW_CHECK(a.heads >= 1 && q.size(2) % a.heads == 0, kShape, "Expected heads to divide q's last dim ",
           q.size(2), " but received ", a.heads);
  const int64_t D = q.size(2);
  a.batch = q.size(0), a.queries = q.size(1), a.head_dim = D / a.heads;
  check_dtype(*in.k, DType::kF32, "k");
  GW_CHECK(in.k->dim() == 3, kShape, "Expected a 3-D tensor (batch, keys, dim) for k but received ",
           shape_str(in.k->shape()));
  a.keys = in.k->size(1);
  check_operand(*in.k, {a.batch, a.keys, D}, q, "k", "q");
  check_dtype(*in.v, DType::kF32, "v");
  GW_CHECK(in.v->dim() == 3 && in.v->size(2) % (D ? D : 1) == 0 && (D || in.v->size(2) == 0), kShape,
           "Expected shape [", a.batch, ", ", a.keys, ", folds·", D, "] for v but received ", shape_str(in.v->shape()));
  a.folds = D ? in.v->size(2) / D : 1;
  check_operand(*in.v, {a.batch, a.keys, a.folds * D}, q, "v", "q");
  if (in.gk) check_operand(*in.gk, {a.batch, D}, q, "keyGate", "q");
  if (in.gv) {
    GW_CHECK(in.gv->dim() == 3, kShape, "Expected a 3-D tensor (batch, folds, 1 or heads) for valueGate but received ",
             shape_str(in.gv->shape()));
    a.gate_heads = in.gv->size(2);
    check_operand(*in.gv, {a.batch, a.folds, a.gate_heads}, q, "valueGate", "q");
  }
  if (in.lengths) check_operand(*in.lengths, {a.batch}, q, "lengths", "q", DType::kI32);
  if (in.mask) check_operand(*in.mask, {a.batch, a.keys}, q, "mask", "q", DType::kU8);
  a.q = q.data<float>(), a.k = in.k->data<float>(), a.v = in.v->data<float>();
  a.gk = in.gk ? in.gk->data<float>() : nullptr;
  a.gv = in.gv ? in.gv->data<float>() : nullptr;
  a.lengths = in.lengths ? in.lengths->data<int32_t>() : nullptr;
  a.mask = in.mask ? in.mask->data<uint8_t>() : nullptr;
  return in;
}

}  // namespace

// posoAttention(q, k, v, keyGate|null, valueGate|null, lengths|null, mask|null, out, lse|null,
//               heads, scale, softmaxScale):
//   out = scale · softmax(softmaxScale · q·(keyGate⊙k)ᵀ, valid keys) · Σ_i valueGate_i·v⁽ⁱ⁾
// q (B, Lq, D), k (B, L, D), v (B, L, N·D), keyGate (B, D), valueGate (B, N, 1 | heads),
// lengths (B) int32, mask (B, L) uint8; out (B, Lq, D) and lse (B, heads, Lq) written.
GW_BINDING(poso_attention) {
  const Inputs in = inputs(info, 0, 9);
  const Tensor& q = *in.q;
  const Tensor& out = arg_tensor(info, 7, "out");
  const Tensor* lse = arg_opt_tensor(info, 8, "lse");
  check_operand(out, q.shape(), q, "out", "q");
  if (lse) check_operand(*lse, {in.a.batch, in.a.heads, in.a.queries}, q, "lse", "q");
  check_disjoint({{&out, "out"}, {lse, "lse"}}, {{&q, "q"}, {in.k, "k"}, {in.v, "v"}, {in.gk, "keyGate"},
                                                 {in.gv, "valueGate"}, {in.lengths, "lengths"}, {in.mask, "mask"}});
  PosoAttentionOut o;
  o.out = out.data<float>();
  o.lse = lse ? lse->data<float>() : nullptr;
  GW_DISPATCH(q.device(), poso_attention_forward, in.a, o);
  return info.Env().Undefined();
}

// posoAttentionBackward(dout, out, lse, q, k, v, keyGate|null, valueGate|null, lengths|null,
//                       mask|null, dq|null, dk|null, dv|null, dkeyGate|null, dvalueGate|null,
//                       heads, scale, softmaxScale):
// out and lse as the forward wrote them; every gradient is overwritten, null = not computed.
GW_BINDING(poso_attention_backward) {
  const Inputs in = inputs(info, 3, 15);
  const Tensor& q = *in.q;
  const Tensor& dout = arg_tensor(info, 0, "dout");
  const Tensor& out = arg_tensor(info, 1, "out");
  const Tensor& lse = arg_tensor(info, 2, "lse");
  const Tensor* dq = arg_opt_tensor(info, 10, "dq");
  const Tensor* dk = arg_opt_tensor(info, 11, "dk");
  const Tensor* dv = arg_opt_tensor(info, 12, "dv");
  const Tensor* dgk = arg_opt_tensor(info, 13, "dkeyGate");
  const Tensor* dgv = arg_opt_tensor(info, 14, "dvalueGate");
  check_operand(dout, q.shape(), q, "dout", "q");
  check_operand(out, q.shape(), q, "out", "q");
  check_operand(lse, {in.a.batch, in.a.heads, in.a.queries}, q, "lse", "q");
  if (dq) check_operand(*dq, q.shape(), q, "dq", "q");
  if (dk) check_operand(*dk, in.k->shape(), q, "dk", "q");
  if (dv) check_operand(*dv, in.v->shape(), q, "dv", "q");
  GW_CHECK(!dgk || in.gk, kArgument, "Expected keyGate for dkeyGate but received null");
  GW_CHECK(!dgv || in.gv, kArgument, "Expected valueGate for dvalueGate but received null");
  if (dgk) check_operand(*dgk, in.gk->shape(), q, "dkeyGate", "q");
  if (dgv) check_operand(*dgv, in.gv->shape(), q, "dvalueGate", "q");
  check_disjoint({{dq, "dq"}, {dk, "dk"}, {dv, "dv"}, {dgk, "dkeyGate"}, {dgv, "dvalueGate"}},
                 {{&dout, "dout"}, {&out, "out"}, {&lse, "lse"}, {&q, "q"}, {in.k, "k"}, {in.v, "v"},
                  {in.gk, "keyGate"}, {in.gv, "valueGate"}, {in.lengths, "lengths"}, {in.mask, "mask"}});
  PosoAttentionGrads g;
  g.dout = dout.data<float>(), g.out = out.data<float>(), g.lse = lse.data<float>();
  g.dq = dq ? dq->data<float>() : nullptr;
  g.dk = dk ? dk->data<float>() : nullptr;
  g.dv = dv ? dv->data<float>() : nullptr;
  g.dgk = dgk ? dgk->data<float>() : nullptr;
  g.dgv = dgv ? dgv->data<float>() : nullptr;
  GW_DISPATCH(q.device(), poso_attention_backward, in.a, g);
  return info.Env().Undefined();
}

void register_poso_attention(Napi::Env env, Napi::Object exports) {
  def(env, exports, "posoAttention", poso_attention);
  def(env, exports, "posoAttentionBackward", poso_attention_backward);
}

static const Registration reg(register_poso_attention);

}  // namespace gw::binding
