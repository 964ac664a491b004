#include "mmaux/data/text.h"

#include <utf8proc.h>

#include <cctype>
#include <cstdlib>

#include "data/unicode.h"
#include "mmaux/core/error.h"

namespace mmaux::data {

std::string repair_utf8(std::string_view text, int* repaired) {
  std::string out;
  out.reserve(text.size());
  int bad = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n < 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++bad;
      ++p;
      --left;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), size_t(n));
    p += n;
    left -= n;
  }
  if (repaired != nullptr) *repaired = bad;
  return out;
}

bool is_valid_utf8(std::string_view text) {
  int bad = 0;
  repair_utf8(text, &bad);
  return bad == 0;
}

std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(char(c));
    } else {
      out.push_back(char(0xC0 | (c >> 6)));
      out.push_back(char(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string nfc(std::string_view utf8) {
  // utf8proc_map with an explicit length: an embedded NUL is a character like any other (the
  // NUL-terminated utf8proc_NFC would cut the text there).
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                   static_cast<utf8proc_ssize_t>(utf8.size()), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    std::free(out);
    MMAUX_THROW(DataError, "NFC normalisation failed ({}) for invalid UTF-8 '{}'",
                utf8proc_errmsg(n), repair_utf8(utf8));
  }
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::vector<int32_t> to_codepoints(std::string_view utf8) {
  std::vector<int32_t> cps;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(utf8.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n < 0) {
      cp = 0xFFFD;
      n = 1;
    }
    cps.push_back(cp);
    p += n;
    left -= n;
  }
  return cps;
}

std::string from_codepoints(const std::vector<int32_t>& cps) {
  std::string out;
  for (int32_t cp : cps) append_utf8(out, cp);
  return out;
}

std::string unescape_html(std::string_view s) {
  static const std::pair<const char*, int32_t> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      size_t semi = s.find(';', i + 1);
      if (semi != std::string_view::npos && semi - i <= 10) {
        std::string_view name = s.substr(i + 1, semi - i - 1);
        int32_t cp = -1;
        if (name.size() > 1 && name[0] == '#') {
          bool hex = name[1] == 'x' || name[1] == 'X';
          std::string digits(name.substr(hex ? 2 : 1));
          char* end = nullptr;
          long v = digits.empty() ? -1 : std::strtol(digits.c_str(), &end, hex ? 16 : 10);
          if (end != nullptr && *end == '\0' && v > 0 && v <= 0x10FFFF &&
              utf8proc_codepoint_valid(utf8proc_int32_t(v))) {
            cp = int32_t(v);
          }
        } else {
          for (const auto& [n, c] : kNamed) {
            if (name == n) cp = c;
          }
        }
        if (cp >= 0) {
          append_utf8(out, cp);
          i = semi + 1;
          continue;
        }
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

namespace {

bool is_word_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool starts_with_nocase(std::string_view s, size_t i, std::string_view prefix) {
  if (s.size() - i < prefix.size()) return false;
  for (size_t k = 0; k < prefix.size(); ++k) {
    char c = s[i + k];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != prefix[k]) return false;
  }
  return true;
}

/// Mentions and links, on bytes (both are ASCII patterns).
std::string replace_mentions_and_links(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool boundary = i == 0 || !is_word_byte(s[i - 1]);
    if (boundary && (starts_with_nocase(s, i, "http://") || starts_with_nocase(s, i, "https://") ||
                     starts_with_nocase(s, i, "www."))) {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      out += "HTTPURL";
      continue;
    }
    if (s[i] == '@' && boundary && i + 1 < s.size() && is_word_byte(s[i + 1])) {
      ++i;
      while (i < s.size() && is_word_byte(s[i])) ++i;
      out += "@USER";
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

std::string normalize_tweet(std::string_view utf8) {
  std::string text = replace_mentions_and_links(unescape_html(utf8));
  std::vector<int32_t> cps = to_codepoints(text);
  std::vector<int32_t> out;
  out.reserve(cps.size());
  size_t run = 0;
  bool pending_space = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    int32_t cp = cps[i];
    if (is_whitespace(cp)) {
      pending_space = !out.empty();
      run = 0;
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    run = (!out.empty() && out.back() == cp) ? run + 1 : 1;
    if (run > 3 && is_punctuation(cp)) continue;
    out.push_back(cp);
  }
  return from_codepoints(out);
}

}  // namespace mmaux::data
