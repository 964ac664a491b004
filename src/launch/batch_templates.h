#pragma once
// Private: the batch templates of cluster/, compiled in by CMake (batch_templates.cpp.in).
namespace mmaux::launch::detail {
const char* batch_template_cpu();
const char* batch_template_gpu();
const char* batch_template_body();
}  // namespace mmaux::launch::detail
