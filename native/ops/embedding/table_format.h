// table_format — the versioned binary format of an exported embedding table (all rows, or
// the rows changed since a step), host side. Little-endian throughout.
//
//   offset  bytes  field
//        0      8  magic "GWEMBTAB"
//        8      4  version (u32) = 1
//       12      4  header size (u32) = 64
//       16      4  dim (u32)
//       20      4  state_width (u32): optimizer floats per row (0 sgd, dim adagrad, 2·dim adam)
//       24      4  optimizer (u32): 0 sgd, 1 adagrad, 2 adam
//       28      4  flags (u32): bit 0 = incremental (only rows changed since `since_step`)
//       32      8  rows n (u64)
//       40      8  the table's step when exported (i64)
//       48      8  since_step (i64; −1 for a full export)
//       56      4  reserved, 0
//       60      4  CRC-32 (IEEE, as zlib) of bytes 0..59
//       64         payload, arrays of n entries, rows in ascending key order:
//                  key i64 · last_step i64 · changed_step i64 · last_time f64 (s) ·
//                  update_count i32 · freq f32 · score f32 · weight f32 (n·dim) ·
//                  state f32 (n·state_width)
//      end      4  CRC-32 of the payload
//
// decode_snapshot checks every field and throws ERR_GATEWISE_FORMAT naming `what` and the
// first thing wrong: magic, version, header CRC, sizes against the byte length, payload
// CRC, keys not strictly ascending, non-finite weights or state, negative counters.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gw {

constexpr uint32_t kTableFormatVersion = 1;

struct TableSnapshot {
  uint32_t dim = 0;
  uint32_t state_width = 0;
  uint32_t optimizer = 0;
  int64_t step = 0;
  int64_t since_step = -1;  ///< −1: a full export
  std::vector<int64_t> keys, last_step, changed_step;
  std::vector<double> last_time;
  std::vector<int32_t> update_count;
  std::vector<float> freq, score;
  std::vector<float> weight;  ///< n · dim
  std::vector<float> state;   ///< n · state_width
  size_t rows() const { return keys.size(); }
  void resize(size_t n);  ///< every array sized for n rows
};

std::vector<uint8_t> encode_snapshot(const TableSnapshot& s);
TableSnapshot decode_snapshot(const uint8_t* data, size_t size, const std::string& what);

/// CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's crc32).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

}  // namespace gw
