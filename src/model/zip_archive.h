#pragma once
// Private: a read-only zip reader for the archives torch.save writes (stored entries, optional
// zip64 records), hardened for untrusted files. Every offset and size is checked against the
// file before anything is read, so a hostile archive gives a DataError naming the file, never a
// read outside it; memory is bounded by the central directory's size, which lies in the file.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace mmaux::model {

/// Random-access bytes: a file on disk or a buffer in memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  /// Copies `n` bytes at `offset` to `dst`. Precondition: offset + n <= size(). Throws DataError
  /// when the bytes cannot be read (the file shrank, an I/O error).
  virtual void read(uint64_t offset, uint64_t n, void* dst) const = 0;
  /// The name used in error messages.
  virtual const std::string& origin() const = 0;
};

/// `size` bytes at `data` (not copied: they must outlive the source).
std::unique_ptr<ByteSource> memory_source(const char* data, uint64_t size, std::string origin);
/// A file, read with pread. Throws DataError when it cannot be opened.
std::unique_ptr<ByteSource> file_source(const std::string& path);

/// One stored member of an archive.
struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  ///< where the member's bytes start in the file
  uint64_t size = 0;
  uint32_t crc32 = 0;
  bool stored = true;  ///< false: compressed or encrypted (read() refuses it)
};

class ZipArchive {
 public:
  /// Reads and validates the central directory and every local header. Throws DataError for a
  /// file that is not a zip archive, a truncated one, duplicate names or members that overlap
  /// the directory.
  explicit ZipArchive(const ByteSource& source);

  const ZipEntry* find(const std::string& name) const;
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  /// Copies the member's bytes to `dst` (entry.size bytes) and, when `verify_crc`, checks them
  /// against the CRC-32 of the directory. Throws DataError, also for a compressed or encrypted
  /// member.
  void read(const ZipEntry& entry, void* dst, bool verify_crc) const;
  std::string read_string(const ZipEntry& entry, bool verify_crc) const;

 private:
  void read_directory(uint64_t offset, uint64_t size, uint64_t count);
  uint64_t member_data_offset(const ZipEntry& entry, uint64_t local_offset) const;

  const ByteSource& source_;
  std::map<std::string, ZipEntry> entries_;
  uint64_t directory_offset_ = 0;
};

}  // namespace mmaux::model
