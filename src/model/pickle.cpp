#include "model/pickle.h"

#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>

#include "mmaux/core/error.h"

namespace mmaux::model {

namespace {

enum class Kind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};
enum class Callable : uint8_t { kOrderedDict, kRebuildTensor, kRebuildParameter, kStorageType };

/// One object. `ref` indexes strings_ (kString), containers_ (kTuple, kList, kDict: a dict holds
/// key, value, key, value...), storages (kStorage) or tensors (kTensor); for kGlobal `i` is the
/// Callable and `ref` the storage dtype.
struct Value {
  Kind kind = Kind::kNone;
  int64_t i = 0;
  uint32_t ref = 0;
};

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat},       {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong},     {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},       {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool}};

const char* kind_name(Kind k) {
  static const char* const names[] = {"None", "bool", "int",    "float",   "str",   "tuple",
                                      "list", "dict", "global", "storage", "tensor"};
  return names[static_cast<int>(k)];
}

class Unpickler {
 public:
  Unpickler(std::string_view data, const std::string& origin) : data_(data), origin_(origin) {}
  PickledStateDict run();

 private:
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    MMAUX_THROW(DataError, "{}: data.pkl byte {}: {}", origin_, op_pos_,
                fmt::format(f, std::forward<Args>(args)...));
  }
  std::string_view take(uint64_t n);
  uint64_t le(int bytes);
  uint32_t make(Value v);
  uint32_t make_container(Kind kind, std::vector<uint32_t> items);
  void push(uint32_t v) { stack_.push_back(v); }
  uint32_t pop();
  uint32_t top() const;
  std::vector<uint32_t> pop_mark();
  const Value& at(uint32_t v) const { return values_[v]; }
  const Value& expect(uint32_t v, Kind kind, const char* what) const;
  int64_t expect_int(uint32_t v, const char* what) const;
  const std::string& expect_string(uint32_t v, const char* what) const;
  std::vector<int64_t> int_tuple(uint32_t v, const char* what) const;

  bool step(uint8_t op);
  bool step_container(uint8_t op);
  bool step_fill(uint8_t op);
  /// Opcodes that push one new scalar: its index, or -1 when `op` is not one of them.
  int64_t scalar(uint8_t op);
  uint32_t string_of(uint64_t n);
  uint32_t long1();
  bool step_memo(uint8_t op);
  void global(const std::string& module, const std::string& name);
  void reduce();
  void build();
  void persistent_id();
  uint32_t rebuild_tensor(const std::vector<uint32_t>& args);
  PickledStateDict result(uint32_t dict) const;

  std::string_view data_;
  const std::string& origin_;
  uint64_t pos_ = 0, op_pos_ = 0;
  std::vector<Value> values_;
  std::vector<std::string> strings_;
  std::vector<std::vector<uint32_t>> containers_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  std::map<std::string, uint32_t> storage_by_key_;
  PickledStateDict out_;
};

std::string_view Unpickler::take(uint64_t n) {
  if (n > data_.size() - pos_) fail("needs {} more bytes but the pickle ends", n);
  std::string_view s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

uint64_t Unpickler::le(int bytes) {
  std::string_view s = take(static_cast<uint64_t>(bytes));
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

uint32_t Unpickler::make(Value v) {
  if (values_.size() >= kMaxPickleObjects) fail("more than {} objects", kMaxPickleObjects);
  values_.push_back(v);
  return static_cast<uint32_t>(values_.size() - 1);
}

uint32_t Unpickler::make_container(Kind kind, std::vector<uint32_t> items) {
  containers_.push_back(std::move(items));
  return make({kind, 0, static_cast<uint32_t>(containers_.size() - 1)});
}

uint32_t Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) {
    fail("stack underflow");
  }
  uint32_t v = stack_.back();
  stack_.pop_back();
  return v;
}

uint32_t Unpickler::top() const {
  if (stack_.empty()) fail("stack underflow");
  return stack_.back();
}

std::vector<uint32_t> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  const size_t m = marks_.back();
  marks_.pop_back();
  std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return items;
}

const Value& Unpickler::expect(uint32_t v, Kind kind, const char* what) const {
  if (at(v).kind != kind)
    fail("{} must be a {}, got a {}", what, kind_name(kind), kind_name(at(v).kind));
  return at(v);
}

int64_t Unpickler::expect_int(uint32_t v, const char* what) const {
  return expect(v, Kind::kInt, what).i;
}

const std::string& Unpickler::expect_string(uint32_t v, const char* what) const {
  return strings_[expect(v, Kind::kString, what).ref];
}

std::vector<int64_t> Unpickler::int_tuple(uint32_t v, const char* what) const {
  std::vector<int64_t> out;
  for (uint32_t item : containers_[expect(v, Kind::kTuple, what).ref]) {
    out.push_back(expect_int(item, what));
  }
  return out;
}

bool Unpickler::step_container(uint8_t op) {
  switch (op) {
    case '(':
      marks_.push_back(stack_.size());
      return true;
    case '}':
    case ']':
    case ')': {
      const Kind kind = op == '}' ? Kind::kDict : op == ']' ? Kind::kList : Kind::kTuple;
      push(make_container(kind, {}));
      return true;
    }
    case 't':
    case 'l':
    case 'd': {
      std::vector<uint32_t> items = pop_mark();
      if (op == 'd' && items.size() % 2 != 0) fail("odd number of dict items");
      const Kind kind = op == 'd' ? Kind::kDict : op == 'l' ? Kind::kList : Kind::kTuple;
      push(make_container(kind, std::move(items)));
      return true;
    }
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      std::vector<uint32_t> items(static_cast<size_t>(op - 0x84));
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      push(make_container(Kind::kTuple, std::move(items)));
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::step_fill(uint8_t op) {
  if (op != 's' && op != 'u' && op != 'a' && op != 'e') return false;
  std::vector<uint32_t> items;
  if (op == 's' || op == 'a') {
    items.push_back(pop());
    if (op == 's') items.insert(items.begin(), pop());
  } else {
    items = pop_mark();
  }
  const bool dict = op == 's' || op == 'u';
  if (dict && items.size() % 2 != 0) fail("odd number of dict items");
  auto& target = containers_[expect(top(), dict ? Kind::kDict : Kind::kList,
                                    dict ? "SETITEM target" : "APPEND target")
                                 .ref];
  target.insert(target.end(), items.begin(), items.end());
  return true;
}

uint32_t Unpickler::string_of(uint64_t n) {
  strings_.emplace_back(take(n));
  return make({Kind::kString, 0, static_cast<uint32_t>(strings_.size() - 1)});
}

uint32_t Unpickler::long1() {  // little-endian two's complement of n bytes
  const uint64_t n = le(1);
  if (n > 8) fail("integer of {} bytes is out of range", n);
  uint64_t v = n == 0 ? 0 : le(static_cast<int>(n));
  if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~0ull << (8 * n);  // sign-extend
  return make({Kind::kInt, static_cast<int64_t>(v)});
}

int64_t Unpickler::scalar(uint8_t op) {
  switch (op) {
    case 'X':
      return string_of(le(4));
    case 0x8c:  // SHORT_BINUNICODE
      return string_of(le(1));
    case 0x8d:  // BINUNICODE8
      return string_of(le(8));
    case 'J':
      return make({Kind::kInt, static_cast<int32_t>(le(4))});
    case 'K':
      return make({Kind::kInt, static_cast<int64_t>(le(1))});
    case 'M':
      return make({Kind::kInt, static_cast<int64_t>(le(2))});
    case 0x8a:
      return long1();
    case 'N':
      return make({Kind::kNone});
    case 0x88:
      return make({Kind::kBool, 1});
    case 0x89:
      return make({Kind::kBool, 0});
    case 'G':  // BINFLOAT: big-endian IEEE double; only its presence matters here
      take(8);
      return make({Kind::kFloat});
    default:
      return -1;
  }
}

bool Unpickler::step_memo(uint8_t op) {
  auto get = [&](uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key {} was never stored", key);
    push(it->second);
  };
  switch (op) {
    case 'q':
      memo_[le(1)] = top();
      return true;
    case 'r':
      memo_[le(4)] = top();
      return true;
    case 0x94:
      memo_[memo_.size()] = top();
      return true;  // MEMOIZE
    case 'h':
      get(le(1));
      return true;
    case 'j':
      get(le(4));
      return true;
    default:
      return false;
  }
}

bool Unpickler::step(uint8_t op) {
  if (step_container(op) || step_fill(op) || step_memo(op)) return true;
  if (const int64_t v = scalar(op); v >= 0) {
    push(static_cast<uint32_t>(v));
    return true;
  }
  switch (op) {
    case 0x80:
      if (le(1) > 5) fail("unknown pickle protocol");
      return true;
    case 0x95:
      take(8);
      return true;  // FRAME: only a length hint
    case 'c': {
      auto line = [&] {
        const size_t end = data_.find('\n', pos_);
        if (end == std::string_view::npos || end - pos_ > 256) fail("malformed GLOBAL");
        std::string s(take(end - pos_));
        take(1);
        return s;
      };
      const std::string module = line();
      global(module, line());
      return true;
    }
    case 0x93: {  // STACK_GLOBAL
      const uint32_t name = pop(), module = pop();
      global(expect_string(module, "STACK_GLOBAL module"),
             expect_string(name, "STACK_GLOBAL name"));
      return true;
    }
    case 'R':
      reduce();
      return true;
    case 'b':
      build();
      return true;
    case 'Q':
      persistent_id();
      return true;
    case '.':
      return false;
    default:
      fail("opcode 0x{:02x} ('{}') never occurs in a state dict; refusing to interpret it", op,
           op >= 0x20 && op < 0x7f ? static_cast<char>(op) : '?');
  }
}

void Unpickler::global(const std::string& module, const std::string& name) {
  Value v{Kind::kGlobal};
  if (module == "collections" && name == "OrderedDict") {
    v.i = static_cast<int64_t>(Callable::kOrderedDict);
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    v.i = static_cast<int64_t>(Callable::kRebuildTensor);
  } else if (module == "torch._utils" && name == "_rebuild_parameter") {
    v.i = static_cast<int64_t>(Callable::kRebuildParameter);
  } else {
    const StorageType* type = nullptr;
    for (const auto& t : kStorageTypes) {
      if (module == "torch" && name == t.name) type = &t;
    }
    if (type == nullptr) {
      fail(
          "the pickle references the Python global '{}.{}', which a state dict never contains; "
          "mmaux never executes pickled code and accepts only tensors, dicts and OrderedDicts. "
          "Re-save the weights with torch.save(model.state_dict(), ...) or convert them to "
          "safetensors",
          module, name);
    }
    v.i = static_cast<int64_t>(Callable::kStorageType);
    v.ref = static_cast<uint32_t>(type->dtype);
  }
  push(make(v));
}

void Unpickler::reduce() {
  const uint32_t args_v = pop(), callable_v = pop();
  const Value& callable = expect(callable_v, Kind::kGlobal, "REDUCE callable");
  const std::vector<uint32_t> args = containers_[expect(args_v, Kind::kTuple, "REDUCE args").ref];
  switch (static_cast<Callable>(callable.i)) {
    case Callable::kOrderedDict:
      if (!args.empty())
        fail("OrderedDict is called with {} arguments, expected none", args.size());
      push(make_container(Kind::kDict, {}));
      return;
    case Callable::kRebuildTensor:
      push(rebuild_tensor(args));
      return;
    case Callable::kRebuildParameter:
      if (args.size() < 2 || args.size() > 3) fail("_rebuild_parameter takes 2 or 3 arguments");
      expect(args[0], Kind::kTensor, "_rebuild_parameter data");
      push(args[0]);
      return;
    case Callable::kStorageType:
      fail("a storage type may only appear in a persistent id");
  }
}

uint32_t Unpickler::rebuild_tensor(const std::vector<uint32_t>& args) {
  if (args.size() < 6 || args.size() > 7) {
    fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.size());
  }
  PickledTensor t;
  t.storage = expect(args[0], Kind::kStorage, "tensor storage").ref;
  t.offset = expect_int(args[1], "storage offset");
  t.sizes = int_tuple(args[2], "tensor size");
  t.strides = int_tuple(args[3], "tensor stride");
  expect(args[4], Kind::kBool, "requires_grad");
  expect(args[5], Kind::kDict, "backward hooks");
  const PickledStorage& s = out_.storages[t.storage];
  if (t.sizes.size() != t.strides.size() || t.sizes.size() > 64) {
    fail("tensor has {} sizes and {} strides", t.sizes.size(), t.strides.size());
  }
  // The element count and the last element reached, both checked against the storage without
  // overflow; an empty view only needs its offset inside the storage.
  int64_t numel = 1, last = t.offset;
  bool ok = t.offset >= 0;
  for (size_t d = 0; d < t.sizes.size() && ok; ++d) {
    ok = t.sizes[d] >= 0 && t.strides[d] >= 0 &&
         (t.sizes[d] == 0 || numel <= std::numeric_limits<int64_t>::max() / t.sizes[d]);
    if (ok) numel *= t.sizes[d];
  }
  for (size_t d = 0; d < t.sizes.size() && ok && numel > 0; ++d) {
    ok = t.strides[d] == 0 || t.sizes[d] - 1 <= (s.numel - last) / t.strides[d];
    if (ok) last += (t.sizes[d] - 1) * t.strides[d];
  }
  ok = ok && (numel == 0 ? t.offset <= s.numel : last < s.numel && numel <= s.numel);
  if (!ok) {
    fail(
        "tensor view (offset {}, size [{}], stride [{}]) lies outside its storage '{}' of {} "
        "elements",
        t.offset, fmt::join(t.sizes, ", "), fmt::join(t.strides, ", "), s.key, s.numel);
  }
  out_.tensors.push_back(std::move(t));
  return make({Kind::kTensor, 0, static_cast<uint32_t>(out_.tensors.size() - 1)});
}

void Unpickler::build() {
  const uint32_t state = pop();
  expect(top(), Kind::kDict, "BUILD target (only an OrderedDict's attributes are accepted)");
  if (at(state).kind != Kind::kDict && at(state).kind != Kind::kNone) {
    fail("BUILD state must be a dict, got a {}", kind_name(at(state).kind));
  }
}

void Unpickler::persistent_id() {
  const std::vector<uint32_t>& pid = containers_[expect(pop(), Kind::kTuple, "persistent id").ref];
  if (pid.size() != 5 || expect_string(pid[0], "persistent id tag") != "storage") {
    fail("persistent id must be ('storage', type, key, location, numel)");
  }
  const Value& type = expect(pid[1], Kind::kGlobal, "storage type");
  if (static_cast<Callable>(type.i) != Callable::kStorageType) fail("not a storage type");
  PickledStorage s;
  s.dtype = static_cast<at::ScalarType>(type.ref);
  s.key = expect_string(pid[2], "storage key");
  expect_string(pid[3], "storage location");
  s.numel = expect_int(pid[4], "storage size");
  if (s.numel < 0 || s.numel > (int64_t{1} << 56)) fail("storage size {} is out of range", s.numel);
  auto [it, fresh] = storage_by_key_.emplace(s.key, static_cast<uint32_t>(out_.storages.size()));
  if (fresh) {
    out_.storages.push_back(s);
  } else {
    const PickledStorage& seen = out_.storages[it->second];
    if (seen.dtype != s.dtype || seen.numel != s.numel) {
      fail("storage '{}' appears with two types or sizes", s.key);
    }
  }
  push(make({Kind::kStorage, 0, it->second}));
}

PickledStateDict Unpickler::result(uint32_t dict) const {
  if (at(dict).kind == Kind::kTensor) {  // torch.save(tensor, ...): one unnamed tensor
    PickledStateDict out;
    out.storages = out_.storages;
    out.tensors.push_back(out_.tensors[at(dict).ref]);
    out.bare_tensor = true;
    return out;
  }
  const auto& items = containers_[expect(dict, Kind::kDict, "the pickled object").ref];
  PickledStateDict out;
  out.storages = out_.storages;
  std::map<std::string, size_t> position;
  for (size_t k = 0; k < items.size(); k += 2) {
    const std::string& name = expect_string(items[k], "state dict key");
    const Value& v = at(items[k + 1]);
    if (v.kind != Kind::kTensor) {
      fail(
          "state dict entry '{}' is a {}, not a tensor; mmaux reads flat state dicts "
          "(torch.save(model.state_dict(), ...))",
          name, kind_name(v.kind));
    }
    PickledTensor t = out_.tensors[v.ref];
    t.name = name;
    auto [it, fresh] = position.emplace(name, out.tensors.size());
    if (fresh) {
      out.tensors.push_back(std::move(t));
    } else {
      out.tensors[it->second] = std::move(t);  // a later SETITEM replaces, as in Python
    }
  }
  return out;
}

PickledStateDict Unpickler::run() {
  if (data_.size() > kMaxPickleBytes) {
    MMAUX_THROW(DataError, "{}: data.pkl is {} bytes, beyond the limit of {} for a state dict",
                origin_, data_.size(), kMaxPickleBytes);
  }
  while (true) {
    op_pos_ = pos_;
    if (!step(static_cast<uint8_t>(take(1)[0]))) break;
  }
  return result(pop());
}

}  // namespace

PickledStateDict unpickle_state_dict(std::string_view bytes, const std::string& origin) {
  return Unpickler(bytes, origin).run();
}

}  // namespace mmaux::model
