// table_format — encoder and validating decoder of the exported-table format (layout in
// table_format.h).
#include "table_format.h"

#include <cmath>
#include <cstring>

#include "../../core/error.h"

namespace gw {
namespace {

constexpr char kMagic[8] = {'G', 'W', 'E', 'M', 'B', 'T', 'A', 'B'};
constexpr size_t kHeaderSize = 64;

size_t row_bytes(uint32_t dim, uint32_t state_width) {
  return 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4ull * dim + 4ull * state_width;
}

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void put(const T& v) {
    put_bytes(&v, sizeof(T));
  }
  template <typename T>
  void put_all(const std::vector<T>& v) {
    put_bytes(v.data(), v.size() * sizeof(T));
  }

 private:
  void put_bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(const uint8_t* p) : p_(p) {}
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  template <typename T>
  void get_all(std::vector<T>& v) {
    std::memcpy(v.data(), p_, v.size() * sizeof(T));
    p_ += v.size() * sizeof(T);
  }

 private:
  const uint8_t* p_;
};

uint32_t crc_table_entry(uint32_t i) {
  uint32_t c = i;
  for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  return c;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) t[i] = crc_table_entry(i);
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void TableSnapshot::resize(size_t n) {
  keys.resize(n);
  last_step.resize(n);
  changed_step.resize(n);
  last_time.resize(n);
  update_count.resize(n);
  freq.resize(n);
  score.resize(n);
  weight.resize(n * dim);
  state.resize(n * state_width);
}

std::vector<uint8_t> encode_snapshot(const TableSnapshot& s) {
  const size_t n = s.rows();
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + n * row_bytes(s.dim, s.state_width) + 4);
  Writer w(out);
  for (char c : kMagic) w.put(c);
  w.put(kTableFormatVersion);
  w.put(static_cast<uint32_t>(kHeaderSize));
  w.put(s.dim);
  w.put(s.state_width);
  w.put(s.optimizer);
  w.put(static_cast<uint32_t>(s.since_step >= 0 ? 1 : 0));
  w.put(static_cast<uint64_t>(n));
  w.put(s.step);
  w.put(s.since_step);
  w.put(uint32_t{0});
  w.put(crc32(out.data(), out.size()));
  w.put_all(s.keys);
  w.put_all(s.last_step);
  w.put_all(s.changed_step);
  w.put_all(s.last_time);
  w.put_all(s.update_count);
  w.put_all(s.freq);
  w.put_all(s.score);
  w.put_all(s.weight);
  w.put_all(s.state);
  w.put(crc32(out.data() + kHeaderSize, out.size() - kHeaderSize));
  return out;
}

TableSnapshot decode_snapshot(const uint8_t* data, size_t size, const std::string& what) {
  GW_CHECK(size >= kHeaderSize + 4, kFormat, what, " is not an exported embedding table: ", size,
           " bytes is shorter than the ", kHeaderSize + 4, "-byte minimum");
  GW_CHECK(std::memcmp(data, kMagic, 8) == 0, kFormat, what,
           " is not an exported embedding table: it does not start with the magic \"GWEMBTAB\"");
  Reader r(data + 8);
  const uint32_t version = r.get<uint32_t>();
  GW_CHECK(version >= 1 && version <= kTableFormatVersion, kFormat, what, " has format version ", version,
           "; this gatewise reads version 1 to ", kTableFormatVersion);
  const uint32_t header = r.get<uint32_t>();
  GW_CHECK(header == kHeaderSize, kFormat, what, " has a header of ", header, " bytes, expected ", kHeaderSize);
  uint32_t header_crc;
  std::memcpy(&header_crc, data + 60, 4);
  GW_CHECK(crc32(data, 60) == header_crc, kFormat, what, " is corrupt: its header checksum does not match");
  TableSnapshot s;
  s.dim = r.get<uint32_t>();
  s.state_width = r.get<uint32_t>();
  s.optimizer = r.get<uint32_t>();
  r.get<uint32_t>();  // flags: incremental iff since_step ≥ 0
  const uint64_t n = r.get<uint64_t>();
  s.step = r.get<int64_t>();
  s.since_step = r.get<int64_t>();
  GW_CHECK(s.dim > 0 && s.optimizer <= 2 && (s.state_width == 0 || s.state_width == s.dim || s.state_width == 2 * s.dim),
           kFormat, what, " has an invalid shape: dim ", s.dim, ", state_width ", s.state_width, ", optimizer ",
           s.optimizer);
  const size_t per_row = row_bytes(s.dim, s.state_width);
  GW_CHECK(n <= (size - kHeaderSize - 4) / per_row && kHeaderSize + n * per_row + 4 == size, kFormat, what,
           " is truncated or padded: ", n, " rows of dim ", s.dim, " need ", kHeaderSize + n * per_row + 4,
           " bytes but it has ", size);
  uint32_t payload_crc;
  std::memcpy(&payload_crc, data + size - 4, 4);
  GW_CHECK(crc32(data + kHeaderSize, size - kHeaderSize - 4) == payload_crc, kFormat, what,
           " is corrupt: its payload checksum does not match");
  s.resize(static_cast<size_t>(n));
  Reader p(data + kHeaderSize);
  p.get_all(s.keys);
  p.get_all(s.last_step);
  p.get_all(s.changed_step);
  p.get_all(s.last_time);
  p.get_all(s.update_count);
  p.get_all(s.freq);
  p.get_all(s.score);
  p.get_all(s.weight);
  p.get_all(s.state);
  for (size_t i = 0; i < n; ++i) {
    GW_CHECK(i == 0 || s.keys[i] > s.keys[i - 1], kFormat, what, " is invalid: keys are not strictly ascending at row ",
             i, " (key ", s.keys[i], ")");
    GW_CHECK(s.last_step[i] >= 0 && s.changed_step[i] >= 0 && s.update_count[i] >= 0 && s.freq[i] >= 0 &&
                 s.score[i] >= 0 && std::isfinite(s.last_time[i]),
             kFormat, what, " is invalid: row ", i, " (key ", s.keys[i], ") has negative or non-finite metadata");
  }
  for (size_t i = 0; i < s.weight.size(); ++i)
    GW_CHECK(std::isfinite(s.weight[i]), kFormat, what, " is invalid: weight of row ", i / s.dim, " (key ",
             s.keys[i / s.dim], ") is not finite");
  for (size_t i = 0; i < s.state.size(); ++i)
    GW_CHECK(std::isfinite(s.state[i]), kFormat, what, " is invalid: optimizer state of row ", i / s.state_width,
             " (key ", s.keys[i / s.state_width], ") is not finite");
  return s;
}

}  // namespace gw
