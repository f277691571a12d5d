// Force-included into every file (binding.gyp): binds the few libc symbols whose default version is newer
// than glibc 2.17 to their original versions, so the .node built here (glibc 2.36) also loads on the GPU
// machines it is carried to. `objdump -T` on the addon must show no GLIBC_2.18+ (scripts/build-native.sh checks).
#pragma once
#include <features.h>
#if defined(__x86_64__) && defined(__GLIBC__)
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5");
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_join,pthread_join@GLIBC_2.2.5");
__asm__(".symver pthread_detach,pthread_detach@GLIBC_2.2.5");
#endif
