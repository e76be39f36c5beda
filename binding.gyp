# binding.gyp — the fallback source build, CPU-only.
# The main build is CMake (CMakeLists.txt, driven by cmake-js): it compiles the CUDA kernels
# and makes the prebuilt binaries that ship in the package. This file exists for machines
# with a C++ compiler but no cmake (node-gyp ships with npm): native/scripts/install.js uses
# it when no prebuilt binary loads and cmake-js cannot run. Same CPU sources, no CUDA.
{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math"]
  },
  "targets": [
    {
      "target_name": "gatewise_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/scripts/sources.js').avx2().join(' ')\")"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "gatewise_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/scripts/sources.js').avx512().join(' ')\")"],
      "cflags_cc": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "gatewise",
      "dependencies": ["gatewise_avx2", "gatewise_avx512"],
      "sources": ["<!@(node -p \"require('./native/scripts/sources.js').gyp().join(' ')\")"],
      "ldflags": ["-static-libstdc++", "-static-libgcc", "-pthread"]
    }
  ]
}
