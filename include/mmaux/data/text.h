#pragma once
/// Text cleaning before tokenisation: UTF-8 validation/repair, Latin-1 decoding and the tweet
/// normalisation of METHOD.md §2. Unicode properties come from utf8proc.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux::data {

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD; `repaired` counts replacements.
std::string repair_utf8(std::string_view text, int* repaired = nullptr);

/// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

/// Decodes ISO-8859-1 bytes into UTF-8.
std::string latin1_to_utf8(std::string_view bytes);

/// Unicode NFC normalisation of valid UTF-8 (embedded NUL characters are kept).
std::string nfc(std::string_view utf8);

/// Decodes valid UTF-8 into code points.
std::vector<int32_t> to_codepoints(std::string_view utf8);
/// Encodes code points as UTF-8.
std::string from_codepoints(const std::vector<int32_t>& cps);

/// HTML entities (&amp; &lt; &gt; &quot; &apos; &nbsp; &#NN; &#xHH;) replaced by their characters.
std::string unescape_html(std::string_view text);

/// Tweet normalisation: HTML entities unescaped, user mentions → "@USER", links (http://,
/// https://, www.) → "HTTPURL", runs of 4 or more identical punctuation characters cut to 3,
/// whitespace runs collapsed to one space and trimmed. Input must be valid UTF-8.
std::string normalize_tweet(std::string_view utf8);

}  // namespace mmaux::data
