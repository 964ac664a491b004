#include "model/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "mmaux/core/error.h"

namespace mmaux::model {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22, kLocatorSize = 20, kZip64EndSize = 56, kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;
// A directory entry per tensor takes about 100 bytes: 64 MiB is far beyond any real checkpoint
// and bounds what a hostile end record can make us allocate.
constexpr uint64_t kMaxDirectory = 64ull << 20;

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// CRC-32 (IEEE, reflected, as zip uses), eight bytes per step.
class Crc32 {
 public:
  Crc32() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table_[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int t = 1; t < 8; ++t) {
        table_[t][i] = (table_[t - 1][i] >> 8) ^ table_[0][table_[t - 1][i] & 0xFF];
      }
    }
  }
  uint32_t update(uint32_t crc, const unsigned char* p, uint64_t n) const {
    crc = ~crc;
    while (n >= 8) {
      const uint32_t lo = crc ^ static_cast<uint32_t>(le(p, 4));
      const uint32_t hi = static_cast<uint32_t>(le(p + 4, 4));
      crc = table_[7][lo & 0xFF] ^ table_[6][(lo >> 8) & 0xFF] ^ table_[5][(lo >> 16) & 0xFF] ^
            table_[4][lo >> 24] ^ table_[3][hi & 0xFF] ^ table_[2][(hi >> 8) & 0xFF] ^
            table_[1][(hi >> 16) & 0xFF] ^ table_[0][hi >> 24];
      p += 8;
      n -= 8;
    }
    while (n-- > 0) crc = table_[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
  }

 private:
  std::array<std::array<uint32_t, 256>, 8> table_{};
};

const Crc32& crc32_table() {
  static const Crc32 table;
  return table;
}

class MemorySource : public ByteSource {
 public:
  MemorySource(const char* data, uint64_t size, std::string origin)
      : data_(data), size_(size), origin_(std::move(origin)) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, uint64_t n, void* dst) const override {
    MMAUX_ASSERT(offset <= size_ && n <= size_ - offset, "read [{}, +{}) beyond {} bytes", offset,
                 n, size_);
    if (n > 0) std::memcpy(dst, data_ + offset, n);
  }
  const std::string& origin() const override { return origin_; }

 private:
  const char* data_;
  uint64_t size_;
  std::string origin_;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : origin_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    MMAUX_CHECK_DATA(fd_ >= 0, "cannot open '{}': {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      MMAUX_THROW(DataError, "'{}' is not a regular file", path);
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, uint64_t n, void* dst) const override {
    MMAUX_ASSERT(offset <= size_ && n <= size_ - offset, "read [{}, +{}) beyond {} bytes", offset,
                 n, size_);
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1u << 30));
      const ssize_t got = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      MMAUX_CHECK_DATA(got > 0,
                       "'{}': reading {} bytes at offset {} failed ({}); the file changed "
                       "or is unreadable",
                       origin_, n, offset, got < 0 ? std::strerror(errno) : "end of file");
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
  }
  const std::string& origin() const override { return origin_; }

 private:
  std::string origin_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

std::vector<unsigned char> read_bytes(const ByteSource& src, uint64_t offset, uint64_t n) {
  std::vector<unsigned char> out(static_cast<size_t>(n));
  src.read(offset, n, out.data());
  return out;
}

}  // namespace

std::unique_ptr<ByteSource> memory_source(const char* data, uint64_t size, std::string origin) {
  return std::make_unique<MemorySource>(data, size, std::move(origin));
}

std::unique_ptr<ByteSource> file_source(const std::string& path) {
  return std::make_unique<FileSource>(path);
}

namespace {

/// Where the central directory is, from the end record (and its zip64 version when present).
struct DirectoryLocation {
  uint64_t offset = 0, size = 0, count = 0;
  uint64_t limit = 0;  ///< the directory must end before the record that describes it
};

void apply_zip64(const ByteSource& source, uint64_t end_offset, DirectoryLocation& d) {
  if (end_offset < kLocatorSize) return;
  const auto loc = read_bytes(source, end_offset - kLocatorSize, kLocatorSize);
  if (le(loc.data(), 4) != kZip64LocatorSig) return;
  const uint64_t z64 = le(loc.data() + 8, 8);
  MMAUX_CHECK_DATA(
      z64 <= end_offset - kLocatorSize && end_offset - kLocatorSize - z64 >= kZip64EndSize,
      "{}: zip64 end record offset {} lies outside the file", source.origin(), z64);
  const auto rec = read_bytes(source, z64, kZip64EndSize);
  MMAUX_CHECK_DATA(le(rec.data(), 4) == kZip64EndSig, "{}: bad zip64 end record at {}",
                   source.origin(), z64);
  d.count = le(rec.data() + 32, 8);
  d.size = le(rec.data() + 40, 8);
  d.offset = le(rec.data() + 48, 8);
  d.limit = z64;
}

DirectoryLocation locate_directory(const ByteSource& source) {
  const std::string& origin = source.origin();
  const uint64_t size = source.size();
  MMAUX_CHECK_DATA(size >= kEndSize, "{}: {} bytes is too short for a zip archive", origin, size);
  // The end record sits in the last 22 + 65535 bytes (its comment is at most 65535 bytes).
  const uint64_t tail_size = std::min<uint64_t>(size, kEndSize + 0xFFFF);
  const std::vector<unsigned char> tail = read_bytes(source, size - tail_size, tail_size);
  int64_t end = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndSize); i >= 0 && end < 0; --i) {
    const unsigned char* p = tail.data() + i;
    if (le(p, 4) == kEndSig && static_cast<uint64_t>(i) + kEndSize + le(p + 20, 2) == tail_size) {
      end = i;
    }
  }
  MMAUX_CHECK_DATA(end >= 0, "{}: no zip end-of-directory record: not a zip archive, or truncated",
                   origin);
  const unsigned char* e = tail.data() + end;
  MMAUX_CHECK_DATA(le(e + 4, 2) == 0 || le(e + 4, 2) == 0xFFFF,
                   "{}: multi-disk zip archives are not supported", origin);
  DirectoryLocation d;
  d.count = le(e + 10, 2);
  d.size = le(e + 12, 4);
  d.offset = le(e + 16, 4);
  d.limit = size - tail_size + static_cast<uint64_t>(end);
  if (d.count == 0xFFFF || d.size == 0xFFFFFFFF || d.offset == 0xFFFFFFFF) {
    apply_zip64(source, d.limit, d);
  }
  return d;
}

}  // namespace

ZipArchive::ZipArchive(const ByteSource& source) : source_(source) {
  const std::string& origin = source.origin();
  const DirectoryLocation d = locate_directory(source);
  MMAUX_CHECK_DATA(d.offset <= d.limit && d.size <= d.limit - d.offset,
                   "{}: zip central directory [{}, +{}) lies outside the file ({} bytes); the file "
                   "is truncated",
                   origin, d.offset, d.size, source.size());
  MMAUX_CHECK_DATA(d.size <= kMaxDirectory,
                   "{}: zip central directory of {} bytes exceeds the limit of {} bytes", origin,
                   d.size, kMaxDirectory);
  MMAUX_CHECK_DATA(d.count <= d.size / kCentralSize,
                   "{}: zip directory claims {} entries but holds {} bytes", origin, d.count,
                   d.size);
  directory_offset_ = d.offset;
  read_directory(d.offset, d.size, d.count);
}

void ZipArchive::read_directory(uint64_t offset, uint64_t size, uint64_t count) {
  const std::string& origin = source_.origin();
  const std::vector<unsigned char> dir = read_bytes(source_, offset, size);
  uint64_t pos = 0;
  for (uint64_t k = 0; k < count; ++k) {
    MMAUX_CHECK_DATA(size - pos >= kCentralSize && le(dir.data() + pos, 4) == kCentralSig,
                     "{}: zip directory entry {} is malformed", origin, k);
    const unsigned char* c = dir.data() + pos;
    const uint64_t flags = le(c + 8, 2), method = le(c + 10, 2);
    const uint64_t name_len = le(c + 28, 2), extra_len = le(c + 30, 2), comment_len = le(c + 32, 2);
    MMAUX_CHECK_DATA(size - pos - kCentralSize >= name_len + extra_len + comment_len,
                     "{}: zip directory entry {} runs past the directory", origin, k);
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    entry.crc32 = static_cast<uint32_t>(le(c + 16, 4));
    uint64_t packed = le(c + 20, 4), unpacked = le(c + 24, 4), local = le(c + 42, 4);
    // Zip64 extended information: the fields whose 32-bit value is 0xFFFFFFFF, in this order.
    const unsigned char* x = c + kCentralSize + name_len;
    for (uint64_t i = 0; i + 4 <= extra_len;) {
      const uint64_t id = le(x + i, 2), len = le(x + i + 2, 2);
      MMAUX_CHECK_DATA(i + 4 + len <= extra_len, "{}: '{}': bad zip extra field", origin,
                       entry.name);
      if (id == 0x0001) {
        uint64_t at = i + 4;
        for (uint64_t* field : {&unpacked, &packed, &local}) {
          if (*field != 0xFFFFFFFF) continue;
          MMAUX_CHECK_DATA(at + 8 <= i + 4 + len, "{}: '{}': short zip64 extra field", origin,
                           entry.name);
          *field = le(x + at, 8);
          at += 8;
        }
      }
      i += 4 + len;
    }
    entry.stored = (flags & 1) == 0 && method == 0 && packed == unpacked;
    entry.size = packed;  // the bytes in the file, whatever they hold
    entry.data_offset = member_data_offset(entry, local);
    MMAUX_CHECK_DATA(entries_.emplace(entry.name, entry).second,
                     "{}: zip member '{}' appears twice", origin, entry.name);
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
}

uint64_t ZipArchive::member_data_offset(const ZipEntry& entry, uint64_t local) const {
  const std::string& origin = source_.origin();
  MMAUX_CHECK_DATA(local <= directory_offset_ && directory_offset_ - local >= kLocalSize,
                   "{}: local header of '{}' at {} lies outside the member area", origin,
                   entry.name, local);
  const auto h = read_bytes(source_, local, kLocalSize);
  MMAUX_CHECK_DATA(le(h.data(), 4) == kLocalSig, "{}: no local header for '{}' at offset {}",
                   origin, entry.name, local);
  const uint64_t name_len = le(h.data() + 26, 2), extra_len = le(h.data() + 28, 2);
  const uint64_t start = local + kLocalSize + name_len + extra_len;
  MMAUX_CHECK_DATA(start <= directory_offset_ && entry.size <= directory_offset_ - start,
                   "{}: member '{}' ({} bytes at {}) runs past the member area; the file is "
                   "truncated or corrupt",
                   origin, entry.name, entry.size, start);
  const auto name = read_bytes(source_, local + kLocalSize, name_len);
  MMAUX_CHECK_DATA(std::string(name.begin(), name.end()) == entry.name,
                   "{}: local header at {} names '{}', the directory '{}'", origin, local,
                   std::string(name.begin(), name.end()), entry.name);
  return start;
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

void ZipArchive::read(const ZipEntry& entry, void* dst, bool verify_crc) const {
  MMAUX_CHECK_DATA(entry.stored,
                   "{}: member '{}' is compressed or encrypted; torch.save stores members "
                   "uncompressed: re-save the file with torch.save",
                   source_.origin(), entry.name);
  source_.read(entry.data_offset, entry.size, dst);
  if (!verify_crc) return;
  const uint32_t crc = crc32_table().update(0, static_cast<const unsigned char*>(dst), entry.size);
  MMAUX_CHECK_DATA(crc == entry.crc32,
                   "{}: member '{}' fails its CRC-32 check (0x{:08x}, directory says 0x{:08x}); "
                   "the file is corrupt",
                   source_.origin(), entry.name, crc, entry.crc32);
}

std::string ZipArchive::read_string(const ZipEntry& entry, bool verify_crc) const {
  std::string s(static_cast<size_t>(entry.size), '\0');
  read(entry, s.data(), verify_crc);
  return s;
}

}  // namespace mmaux::model
