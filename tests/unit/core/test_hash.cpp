// The hash values are part of file formats (splits, synthetic data, orders, checkpoints) and of
// cross-rank checks: these pins were printed by the implementations this header replaced
// (src/dist/hash.h and src/data/random.h at a88be23), so a change to any of them fails here.
#include <gtest/gtest.h>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

TEST(Hash, Mix64IsSplitMix64) {
  // 0xe220a8397b1dcdaf is splitmix64's first output for seed 0 in the reference implementation.
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(mix64(42), 0xbdd732262feb6e95ULL);
}

TEST(Hash, HashBytesAndCombineArePinned) {
  const std::string fox = "The quick brown fox";  // two 8-byte words and a 3-byte tail
  EXPECT_EQ(hash_bytes(0, fox.data(), fox.size()), 0xa13f295d39ff93a5ULL);
  EXPECT_EQ(hash_bytes(7, "", 0), 0x63cb883918a4e0e9ULL);
  EXPECT_EQ(hash_combine(1, 2), 0xe06dd043328bd285ULL);
  // Every byte counts, the tail included.
  std::string other = fox;
  other.back() = 'y';
  EXPECT_NE(hash_bytes(0, other.data(), other.size()), hash_bytes(0, fox.data(), fox.size()));
}

TEST(Hash, Fnv1aIsPinned) {
  EXPECT_EQ(fnv1a64(""), 1469598103934665603ULL);  // the FNV offset basis
  EXPECT_EQ(fnv1a64("post-17"), 0x1a13c9b83f3de054ULL);
}

TEST(Hash, SplitMix64SequenceIsPinned) {
  SplitMix64 r(12345);
  EXPECT_EQ(r.next(), 0x22118258a9d111a0ULL);
  EXPECT_EQ(r.next(), 0x346edce5f713f8edULL);
  EXPECT_EQ(r.next(), 0x1e9a57bc80e6721dULL);
  SplitMix64 b(7);
  std::vector<uint64_t> below;
  for (int i = 0; i < 8; ++i) below.push_back(b.below(10));
  EXPECT_EQ(below, (std::vector<uint64_t>{7, 4, 6, 3, 4, 5, 8, 2}));
  EXPECT_DOUBLE_EQ(SplitMix64(7).uniform(), 0.38982974839127149);
  EXPECT_EQ(mix_seed(1, 2, 3), 0x30736aac478e72f0ULL);
  EXPECT_EQ(mix_seed(1, 2), 0x1c8858d120440605ULL);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 chunked;  // the same bytes fed in uneven pieces
  std::string a(1000, 'a');
  for (size_t i = 0; i < a.size(); i += 7) chunked.update(a.substr(i, 7));
  EXPECT_EQ(chunked.hex_digest(), sha256_hex(a));
}

TEST(Sha256, FileDigestAndMissingFile) {
  testing::TempDir dir;
  const auto path = dir.path() / "abc.txt";
  testing::write_file(path, "abc");
  EXPECT_EQ(sha256_file(path.string()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(sha256_file((dir.path() / "missing").string()), DataError);
}

}  // namespace
}  // namespace mmaux
