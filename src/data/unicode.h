#pragma once
// Private: character classes shared by the text normaliser and the tokenizers, from utf8proc's
// Unicode tables (the same classes as Hugging Face's BasicTokenizer).
#include <utf8proc.h>

#include <cstdint>
#include <string>

namespace mmaux::data {

inline void append_utf8(std::string& out, int32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<char*>(buf), size_t(n));
}

/// BERT's _is_whitespace: space, tab, newline, carriage return and category Zs.
inline bool is_whitespace(int32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/// BERT's _is_control: every category starting with C (Cc, Cf, Cs, Co and unassigned Cn) except
/// tab, newline and carriage return. Unassigned depends on the Unicode version: utf8proc's (15.0
/// for utf8proc 2.8) against the Python that ran transformers (3.11: 14.0).
inline bool is_control(int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return true;
    default:
      return false;
  }
}

/// Python's str.isspace(), which str.split() and str.strip() use: bidirectional class WS, B or S,
/// or category Zs. Besides BERT's whitespace this is U+000B, U+000C, U+001C..U+001F, U+0085,
/// U+2028 and U+2029.
inline bool is_python_space(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 || cp == 0x2028 ||
         cp == 0x2029 || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/// Unicode's White_Space property: the `\s` of the `regex` module in GPT-2's pattern. Python's
/// isspace() without U+001C..U+001F.
inline bool is_white_space(int32_t cp) {
  return is_python_space(cp) && !(cp >= 0x1C && cp <= 0x1F);
}

/// Python's str.lower() of one character: the simple lower-case mapping, except U+0130 (capital
/// I with dot above), whose full mapping is "i" + U+0307. Appends to `out`.
inline void append_python_lower(std::string& out, int32_t cp) {
  if (cp == 0x130) {
    append_utf8(out, 'i');
    append_utf8(out, 0x307);
    return;
  }
  append_utf8(out, utf8proc_tolower(cp));
}

/// ASCII symbols count as punctuation (as in BERT) besides Unicode's P* categories.
inline bool is_punctuation(int32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

inline bool is_cjk(int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace mmaux::data
