// libFuzzer's entry for programs that have a main of their own (compiler-rt's FuzzerInterface.h
// declares it; Swift cannot import that C++ header). SwiftPM gives every executable target a
// main, so the fuzz targets call this from theirs instead of relying on libFuzzer's main.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
