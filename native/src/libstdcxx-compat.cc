// GCC 11+ headers call std::__throw_bad_array_new_length (GLIBCXX_3.4.29) from inlined allocator code. A
// local definition keeps the addon loadable with the older libstdc++ of the GPU machines it is carried to.
#include <new>

namespace std {
__attribute__((visibility("hidden"))) void __throw_bad_array_new_length() { throw std::bad_array_new_length(); }
}  // namespace std
