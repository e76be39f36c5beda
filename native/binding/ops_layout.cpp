// gatewise binding — layout ops: permute, concat, sliceAxis (+ backward), indexSelect,
// indexAddRows. The caller allocates every output; shapes are checked here and the bad
// argument named. See native/ops/layout/layout.h for the math.
#include <string>
#include <vector>

#include "../ops/layout/layout.h"
#include "addon_data.h"
#include "napi_util.h"
#include "registry.h"
#include "tensor_wrap.h"

namespace gw::binding {

namespace {

/// axis in [-dim, dim) → [0, dim).
int64_t normalize_axis(int64_t axis, int64_t dim, const char* name) {
  GW_CHECK(axis >= -dim && axis < dim, kArgument, "Expected an axis in [", -dim, ", ", dim, ") for ", name,
           " but received ", axis);
  return axis < 0 ? axis + dim : axis;
}

int64_t prod(const Shape& s, size_t lo, size_t hi) {
  int64_t p = 1;
  for (size_t i = lo; i < hi; ++i) p *= s[i];
  return p;
}

/// `s` with dimension `axis` replaced by `len`.
Shape with_dim(Shape s, int64_t axis, int64_t len) {
  s[axis] = len;
  return s;
}

void check_index_dtype(const Tensor& idx, const char* name) {
  GW_CHECK(idx.dtype() == DType::kI64 || idx.dtype() == DType::kI32, kDType, "Expected int64 or int32 for ", name,
           " but received ", dtype_name(idx.dtype()));
}

/// idx.shape ++ table.shape[1:]
Shape gathered_shape(const Tensor& idx, const Tensor& table) {
  Shape s = idx.shape();
  s.insert(s.end(), table.shape().begin() + 1, table.shape().end());
  return s;
}

}  // namespace

// permute(x, perm: number[], out): out = x with dims reordered (any dtype; out same dtype).
GW_BINDING(permute) {
  const Tensor& x = arg_tensor(info, 0, "x");
  Shape perm_s = arg_shape(info, 1, "perm");
  const Tensor& out = arg_tensor(info, 2, "out");
  GW_CHECK(static_cast<int64_t>(perm_s.size()) == x.dim(), kArgument, "Expected ", x.dim(),
           " entries in perm but received ", perm_s.size());
  GW_CHECK(x.dim() <= kMaxPermuteDims, kShape, "permute supports up to ", kMaxPermuteDims, " dims but x has ", x.dim());
  std::vector<int> perm(perm_s.begin(), perm_s.end());
  Shape want(x.dim());
  for (int64_t k = 0; k < x.dim(); ++k) {
    GW_CHECK(perm_s[k] < x.dim(), kArgument, "Expected a permutation of 0..", x.dim() - 1, " for perm but entry ", k,
             " is ", perm_s[k]);
    want[k] = x.shape()[perm[k]];
  }
  check_dtype(out, x.dtype(), "out");
  check_shape(out, want, "out");
  check_same_device(x, out, "x", "out");
  GW_DISPATCH(x.device(), permute, x.raw(), out.raw(), x.shape().data(), perm.data(), static_cast<int>(x.dim()),
              dtype_size(x.dtype()));
  return info.Env().Undefined();
}

// concat(inputs: Tensor[], axis, out): out = inputs joined along axis (any dtype).
GW_BINDING(concat) {
  Napi::Env env = info.Env();
  GW_CHECK(info.Length() > 0 && info[0].IsArray(), kArgument, "Expected an array of Tensors for inputs");
  Napi::Array arr = info[0].As<Napi::Array>();
  GW_CHECK(arr.Length() > 0, kArgument, "Expected at least one Tensor in inputs");
  const Tensor& out = arg_tensor(info, 2, "out");
  const int64_t axis = normalize_axis(arg_int(info, 1, "axis"), out.dim(), "axis");
  std::vector<const void*> ptrs;
  std::vector<int64_t> lens;
  int64_t total = 0;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    const std::string name = "inputs[" + std::to_string(k) + "]";
    const Tensor& t = value_tensor(env, arr.Get(k), name);
    check_dtype(t, out.dtype(), name.c_str());
    check_same_device(t, out, name.c_str(), "out");
    GW_CHECK(t.dim() == out.dim(), kShape, "Expected ", out.dim(), " dims for ", name, " but received shape ",
             shape_str(t.shape()));
    check_shape(t, with_dim(out.shape(), axis, t.shape()[axis]), name.c_str());
    ptrs.push_back(t.raw());
    lens.push_back(t.shape()[axis]);
    total += t.shape()[axis];
  }
  check_shape(out, with_dim(out.shape(), axis, total), "out");
  GW_DISPATCH(out.device(), concat, ptrs.data(), lens.data(), static_cast<int>(ptrs.size()), out.raw(),
              prod(out.shape(), 0, axis), prod(out.shape(), axis + 1, out.shape().size()), dtype_size(out.dtype()));
  return env.Undefined();
}

// sliceAxis(x, axis, start, out): out = x[..., start : start + out.shape[axis], ...].
GW_BINDING(slice_axis) {
  const Tensor& x = arg_tensor(info, 0, "x");
  const int64_t axis = normalize_axis(arg_int(info, 1, "axis"), x.dim(), "axis");
  const int64_t start = arg_int(info, 2, "start");
  const Tensor& out = arg_tensor(info, 3, "out");
  check_dtype(out, x.dtype(), "out");
  check_same_device(x, out, "x", "out");
  GW_CHECK(out.dim() == x.dim(), kShape, "Expected ", x.dim(), " dims for out but received shape ",
           shape_str(out.shape()));
  const int64_t len = out.shape()[axis];
  check_shape(out, with_dim(x.shape(), axis, len), "out");
  GW_CHECK(start >= 0 && start + len <= x.shape()[axis], kArgument, "Expected start in [0, ", x.shape()[axis] - len,
           "] for start but received ", start);
  GW_DISPATCH(x.device(), slice_axis, x.raw(), out.raw(), prod(x.shape(), 0, axis), x.shape()[axis],
              prod(x.shape(), axis + 1, x.shape().size()), start, len, dtype_size(x.dtype()));
  return info.Env().Undefined();
}

// sliceAxisBackward(gout, axis, start, gx): gx[..., start : start + len, ...] += gout (float32).
GW_BINDING(slice_axis_backward) {
  const Tensor& gout = arg_tensor(info, 0, "gout");
  const Tensor& gx = arg_tensor(info, 3, "gx");
  const int64_t axis = normalize_axis(arg_int(info, 1, "axis"), gx.dim(), "axis");
  const int64_t start = arg_int(info, 2, "start");
  check_dtype(gout, DType::kF32, "gout");
  check_dtype(gx, DType::kF32, "gx");
  check_same_device(gout, gx, "gout", "gx");
  GW_CHECK(gout.dim() == gx.dim(), kShape, "Expected ", gx.dim(), " dims for gout but received shape ",
           shape_str(gout.shape()));
  const int64_t len = gout.shape()[axis];
  check_shape(gout, with_dim(gx.shape(), axis, len), "gout");
  GW_CHECK(start >= 0 && start + len <= gx.shape()[axis], kArgument, "Expected start in [0, ",
           gx.shape()[axis] - len, "] for start but received ", start);
  GW_DISPATCH(gx.device(), slice_axis_backward, gout.data<float>(), gx.data<float>(), prod(gx.shape(), 0, axis),
              gx.shape()[axis], prod(gx.shape(), axis + 1, gx.shape().size()), start, len);
  return info.Env().Undefined();
}

// indexSelect(table, idx, out): out[i, ...] = table[idx[i], ...]; idx int64|int32 of any
// shape, out shape idx.shape ++ table.shape[1:], out dtype = table dtype.
GW_BINDING(index_select) {
  const Tensor& table = arg_tensor(info, 0, "table");
  const Tensor& idx = arg_tensor(info, 1, "idx");
  const Tensor& out = arg_tensor(info, 2, "out");
  GW_CHECK(table.dim() >= 1, kShape, "Expected at least 1 dim for table but received shape ", shape_str(table.shape()));
  check_index_dtype(idx, "idx");
  check_dtype(out, table.dtype(), "out");
  check_shape(out, gathered_shape(idx, table), "out");
  check_same_device(table, idx, "table", "idx");
  check_same_device(table, out, "table", "out");
  const int64_t rows = table.shape()[0], cols = prod(table.shape(), 1, table.shape().size());
  const bool i64 = idx.dtype() == DType::kI64;
  GW_DISPATCH(table.device(), index_select_rows, table.raw(), rows, cols, i64 ? idx.data<int64_t>() : nullptr,
              i64 ? nullptr : idx.data<int32_t>(), idx.numel(), out.raw(), dtype_size(table.dtype()));
  return info.Env().Undefined();
}

// indexAddRows(gout, idx, gtable): gtable[idx[i], ...] += gout[i, ...] (float32; accumulates).
GW_BINDING(index_add_rows) {
  const Tensor& gout = arg_tensor(info, 0, "gout");
  const Tensor& idx = arg_tensor(info, 1, "idx");
  const Tensor& gtable = arg_tensor(info, 2, "gtable");
  GW_CHECK(gtable.dim() >= 1, kShape, "Expected at least 1 dim for gtable but received shape ",
           shape_str(gtable.shape()));
  check_index_dtype(idx, "idx");
  check_dtype(gout, DType::kF32, "gout");
  check_dtype(gtable, DType::kF32, "gtable");
  check_shape(gout, gathered_shape(idx, gtable), "gout");
  check_same_device(gtable, idx, "gtable", "idx");
  check_same_device(gtable, gout, "gtable", "gout");
  const int64_t rows = gtable.shape()[0], cols = prod(gtable.shape(), 1, gtable.shape().size());
  const bool i64 = idx.dtype() == DType::kI64;
  GW_DISPATCH(gtable.device(), index_add_rows, gout.data<float>(), idx.numel(), cols,
              i64 ? idx.data<int64_t>() : nullptr, i64 ? nullptr : idx.data<int32_t>(), gtable.data<float>(), rows);
  return info.Env().Undefined();
}

void register_layout(Napi::Env env, Napi::Object exports) {
  def(env, exports, "permute", permute);
  def(env, exports, "concat", concat);
  def(env, exports, "sliceAxis", slice_axis);
  def(env, exports, "sliceAxisBackward", slice_axis_backward);
  def(env, exports, "indexSelect", index_select);
  def(env, exports, "indexAddRows", index_add_rows);
}

static const Registration reg(register_layout);

}  // namespace gw::binding
