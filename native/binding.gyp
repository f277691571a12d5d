{
  "targets": [
    {
      "target_name": "effbench_native",
      "sources": ["src/addon.cc", "src/sampler.cc", "src/proc.cc", "src/perf.cc", "src/rapl.cc", "src/nvml.cc", "src/libstdcxx-compat.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fexceptions", "-include", "../src/glibc-compat.h"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
