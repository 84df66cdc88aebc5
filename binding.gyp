{
  "targets": [
    {
      "target_name": "hardsync",
      "sources": ["native/binding.cc", "native/engine.cc", "native/errors.cc", "native/bench.cc", "native/bench_spec.cc", "native/crc32c.cc", "native/log_frames.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", {"sources": ["native/platform/posix.cc", "native/platform/linux.cc", "native/platform/linux_uring.cc"]}],
        ["OS=='mac'", {
          "sources": ["native/platform/posix.cc", "native/platform/darwin.cc", "native/platform/no_kernel_queue.cc"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15",
            "GCC_ENABLE_CPP_EXCEPTIONS": "NO"
          }
        }],
        ["OS=='freebsd'", {"sources": ["native/platform/posix.cc", "native/platform/freebsd.cc", "native/platform/no_kernel_queue.cc"]}],
        ["OS=='win'", {
          "sources": ["native/platform/win32.cc", "native/platform/no_kernel_queue.cc"],
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17"]}}
        }]
      ]
    }
  ]
}
